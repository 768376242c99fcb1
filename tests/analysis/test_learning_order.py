"""The learning order of irreps: the Fourier analysis at every checkpoint, read on the S5 fixture,
and the rules that turn a trajectory into learned-at steps and an order."""

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch

import nerve
from nerve.analysis import FourierAnalysis, LearningOrderResult, irrep_trajectory
from nerve.errors import AnalysisError
from nerve.training import PRESETS, train

FIXTURES = Path(__file__).parents[2] / "fixtures"


@pytest.fixture(scope="module")
def s5():
    run = nerve.load(FIXTURES / "chughtai2023")
    return run, irrep_trajectory(run)


def test_the_trajectory_is_the_fourier_analysis_at_each_checkpoint(s5):
    run, t = s5
    assert t.group == "S5" and t.steps == run.checkpoints == (0, 1, 107_000, 250_000)
    for step, fractions, keys in zip(t.steps, t.logit_fractions, t.key_irreps):
        r = FourierAnalysis().fit(run.model_at(step), run.task).result_
        assert fractions == r.logit_fractions and keys == r.key_labels
    # at initialisation no irrep carries the logits; after grokking the standard and sign do
    assert max(t.logit_fractions[0]) < 0.01
    assert t.final_key == ("[4,1]", "[1,1,1,1,1]")
    assert t.learned_at() == {"[4,1]": 107_000, "[1,1,1,1,1]": 107_000}
    # key by the neuron rule at 107,000 and at 250,000
    assert t.key_from() == {"[4,1]": 107_000, "[1,1,1,1,1]": 107_000}
    assert t.order() == ("[1,1,1,1,1]", "[4,1]")  # a tie at one checkpoint: by label


def test_the_final_logit_shares_agree_with_an_oracle_from_the_permutations(s5):
    # an oracle from the definitions, using none of nerve's irreps or characters: S5's elements are
    # the permutations of 0..4 in itertools order, composed right first; the sign character is
    # sign(a)·sign(b)·sign(c) at a·b·c⁻¹, the standard one (fixed points - 1)
    run, t = s5
    P = np.array(list(itertools.permutations(range(5))))  # [120, 5]
    n = len(P)
    AB = P[np.arange(n)[:, None, None], P[None, :, :]]  # (a·b)(x) = a(b(x)), [n, n, 5]
    assert (run.task.group.table.numpy() == _index(AB, P)).all()  # the same law as the task's
    inverse = np.argsort(P, axis=1)  # c⁻¹
    Q = AB[:, :, inverse]  # (a·b·c⁻¹)(x), [n, n, n, 5]
    parity = np.array([(-1) ** sum(p[i] > p[j] for i in range(5) for j in range(i + 1, 5)) for p in P])
    characters = {
        "[1,1,1,1,1]": np.einsum("a,b,c->abc", parity, parity, parity).astype(float),
        "[4,1]": (Q == np.arange(5)).sum(-1) - 1.0,
    }
    a, b = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    with torch.no_grad():
        logits = run.model_at(t.steps[-1])(torch.tensor(np.stack([a.ravel(), b.ravel()], 1))).double()
    L = logits.numpy().reshape(n, n, n)
    L = L - L.mean(-1, keepdims=True)
    final = dict(zip(t.irreps, t.logit_fractions[-1]))
    for label, X in characters.items():
        share = (L * X).sum() ** 2 / ((X**2).sum() * (L**2).sum())
        assert final[label] == pytest.approx(share, rel=1e-9, abs=1e-12)
    assert final["[4,1]"] > 0.05 and final["[1,1,1,1,1]"] > 0.05  # both carry the logits


def _index(perms, P):
    """The index in P of each permutation in `perms` [..., 5]."""
    lookup = {tuple(p): i for i, p in enumerate(P.tolist())}
    return np.vectorize(lambda *x: lookup[x])(*np.moveaxis(perms, -1, 0))


def test_a_subset_of_checkpoints(s5):
    run, whole = s5
    t = irrep_trajectory(run, steps=[0, 250_000])
    assert t.steps == (0, 250_000) and t.logit_fractions == (
        whole.logit_fractions[0],
        whole.logit_fractions[-1],
    )
    assert t.learned_at() == {"[4,1]": 250_000, "[1,1,1,1,1]": 250_000}


def test_learned_at_key_from_and_order_follow_their_rules():
    t = LearningOrderResult(
        group="G", irreps=("a", "b", "c", "d"), dims=(1, 2, 3, 4), steps=(0, 10, 20, 30, 40),
        logit_fractions=(
            (0.0, 0.00, 0.0, 0.00),
            (0.0, 0.30, 0.0, 0.02),  # b: half its peak (0.6) reached at 10
            (0.0, 0.60, 0.2, 0.04),  # c: a transient, peak 0.3 at 30, half at 20
            (0.0, 0.50, 0.3, 0.04),  # d: peak 0.04 < min_peak: never learned
            (0.2, 0.55, 0.0, 0.04),  # a: learned last, at 40
        ),
        key_irreps=((), ("b",), ("b", "c"), ("c",), ("a", "b", "d")),
    )  # fmt: skip
    assert t.learned_at() == {"a": 40, "b": 10, "c": 20}
    assert t.learned_at(min_peak=0.01) == {"a": 40, "b": 10, "c": 20, "d": 10}
    assert t.key_from() == {"a": 40, "b": 40, "d": 40}  # b dropped out at 30: key only from 40 again
    assert t.order() == ("b", "a", "d")  # d never learned: last
    assert LearningOrderResult.from_dict(t.to_dict()) == t
    with pytest.raises(AnalysisError, match=r"`min_peak` \(=0\) must be in \(0, 1\]"):
        t.learned_at(min_peak=0)


def test_bad_input_is_refused(s5, tmp_path):
    run, _ = s5
    with pytest.raises(
        AnalysisError, match=r"`steps` \(=\[5\]\) must be non-empty checkpoints.*\[5\] are not"
    ):
        irrep_trajectory(run, steps=[5])
    with pytest.raises(AnalysisError, match=r"`steps` \(=\[\]\)"):
        irrep_trajectory(run, steps=[])
    config = PRESETS["demo"].replace(
        task=PRESETS["demo"].task.__class__(kind="superposition"),
        model=PRESETS["demo"].model.__class__(kind="superposition"), steps=2, eval_every=1, checkpoint_every=1,
    )  # fmt: skip
    sup = train(config, tmp_path / "sup")
    with pytest.raises(AnalysisError, match=r"the learning order needs a group task"):
        irrep_trajectory(sup)
