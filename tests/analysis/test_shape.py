"""The circles of nanda2023's embeddings, found by topology and read by circular coordinates."""

from pathlib import Path

import pytest

import nerve
from nerve import AnalysisError
from nerve.analysis.fourier.circles import CirclesResult, FrequencyCircles
from nerve.models import MLP, MLPConfig
from nerve.tasks import group_composition

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


@pytest.fixture(scope="module")
def nanda():
    run = nerve.load(FIXTURES / "nanda2023")
    return FrequencyCircles().fit(run.model, run.task)


def test_one_significant_circle_per_key_frequency_read_as_k_a_mod_p(nanda):
    circles = nanda.result_.circles
    assert 3 <= len(circles) <= 7  # one per key frequency of W_E
    for c in circles:
        assert c.betti[1] == 1, c
        assert c.agreement >= 0.99, c  # the coordinate is k·a mod p up to rotation and reflection
        assert c.persistence[0] > 5 * max(c.persistence[1:], default=0)  # nothing else comes close
    assert CirclesResult.from_json(nanda.result_.to_json()) == nanda.result_


def test_a_frequency_that_is_not_key_has_no_circle(nanda):
    run = nerve.load(FIXTURES / "nanda2023")
    key = {c.frequency for c in nanda.result_.circles}
    other = next(k for k in range(1, 57) if k not in key and k != 10)  # 10 carries a little of W_E
    c = FrequencyCircles(frequencies=[other]).fit(run.model, run.task).result_.circles[0]
    assert c.betti[1] == 0 or c.agreement < 0.5


def test_frequency_circles_need_a_cyclic_task():
    model = MLP(MLPConfig(n_vocab=6, n_classes=6), seed=0)
    with pytest.raises(AnalysisError, match=r"`task` \('S3 composition'\) is not a cyclic group task"):
        FrequencyCircles().fit(model, group_composition("S3"))
    with pytest.raises(AnalysisError, match=r"`frequencies` \(\[9\]\) must lie in 1..3 for C7"):
        FrequencyCircles(frequencies=[9]).fit(MLP(MLPConfig(n_vocab=7, n_classes=7)), group_composition("C7"))
