"""Progress measures and phases of grokking on the nanda2023 fixture (Nanda et al. 2023, §5)."""

from pathlib import Path

import pytest
import torch

import nerve
from nerve import AnalysisError
from nerve.analysis.fourier.progress import ProgressMeasures, ProgressResult, gini, phases

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


@pytest.fixture(scope="module")
def nanda():
    run = nerve.load(FIXTURES / "nanda2023")
    return run, ProgressMeasures().fit(run).result_


def test_restricted_and_excluded_loss_after_grokking(nanda):
    _, r = nanda
    # Nanda et al.: the key frequencies alone do better than the full model; without them the
    # model is worse than chance on the very data it was trained on
    assert r.restricted_loss[-1] < r.test_loss[-1]
    assert r.excluded_loss[-1] > 1.0 > 1e6 * r.test_loss[-1]
    # at initialisation neither ablation matters: all three losses are ~log p
    assert r.restricted_loss[0] == pytest.approx(r.test_loss[0], rel=0.05)


def test_phases_bracket_the_jump_in_test_accuracy(nanda):
    run, r = nanda
    p = r.phases
    memorised = next(m["step"] for m in run.metrics() if m["train_acc"] >= 0.99)
    grokked = next(m["step"] for m in run.metrics() if m["test_acc"] >= 0.99)
    assert memorised <= p.memorisation_end < p.cleanup_start <= grokked <= p.cleanup_end


def test_weights_concentrate_on_key_frequencies_as_the_norm_falls(nanda):
    _, r = nanda
    for name in ("W_E", "W_U"):
        assert r.gini[name][-1] > 5 * r.gini[name][0]  # sparse in the Fourier basis after grokking
    peak = max(range(len(r.steps)), key=lambda i: r.weight_norm[i])
    assert r.weight_norm[-1] < 0.5 * r.weight_norm[peak]  # weight decay cleans up


def test_result_round_trips_and_key_irreps_can_be_given(nanda):
    run, r = nanda
    assert ProgressResult.from_json(r.to_json()) == r
    few = ProgressMeasures(key_irreps=list(r.key_irreps), steps=run.checkpoints[-1:]).fit(run).result_
    assert few.restricted_loss == r.restricted_loss[-1:]
    with pytest.raises(AnalysisError, match=r"`key_irreps` names \['k=200'\], not irreps of C113"):
        ProgressMeasures(key_irreps=["k=200"]).fit(run)
    with pytest.raises(AnalysisError, match=r"`steps` \(=\[\]\) must name at least one checkpoint"):
        ProgressMeasures(steps=[]).fit(run)


def test_gini_closed_forms():
    assert gini(torch.ones(10)) == 0.0
    assert gini(torch.tensor([0.0, 0, 0, 0, 5])) == pytest.approx(0.8)
    assert gini(torch.tensor([1.0, 3.0])) == pytest.approx(0.25)  # |1−3|·2 / (2·2·4)


def test_phases_need_memorisation_and_a_fall():
    rows = [{"step": s, "train_acc": 0.5, "test_loss": 4.0} for s in range(5)]
    assert phases(rows).memorisation_end is None
    rows = [{"step": s, "train_acc": 1.0, "test_loss": 4.0 - 0.1 * s} for s in range(5)]
    p = phases(rows)
    assert (p.memorisation_end, p.cleanup_start, p.cleanup_end) == (0, None, None)
