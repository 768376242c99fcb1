"""The law of SO(2) and SO(3) as tasks, and LieFourier: the exact product is all ρ₁ ⊗ ρ₁, a planted
function of one input lands in ρ ⊗ 1, and a briefly trained network's output is read by the
registered analysis."""

import pytest
import torch
from torch import nn

from nerve.analysis.registry import get
from nerve.analysis.symmetry import LieFourier, LieFourierResult
from nerve.groups import so3
from nerve.tasks import LieCompositionTask, TaskError
from nerve.training import PRESETS, load, train


class Product(nn.Module):
    def forward(self, x):
        n = int(x.shape[-1] ** 0.5)
        return (x[:, 0].reshape(-1, n, n) @ x[:, 1].reshape(-1, n, n)).flatten(1)


class FirstTrace(nn.Module):
    """tr(g₁)² : a function of the first input alone, of degree 2 (χ₁² = χ₂ + χ₁ + χ₀ on SO(3))."""

    def forward(self, x):
        n = int(x.shape[-1] ** 0.5)
        return (torch.diagonal(x[:, 0].reshape(-1, n, n), dim1=-2, dim2=-1).sum(-1) ** 2)[:, None]


def test_the_exact_product_of_so3_is_all_in_l1_tensor_l1():
    r = LieFourier(so3(), sites=["0"], max_degree=2).fit(nn.Sequential(Product()).double()).result_
    assert r.top == ("l=1 ⊗ l=1",) and r.fractions[0][r.pairs.index("l=1 ⊗ l=1")] == pytest.approx(
        1.0, abs=1e-10
    )


def test_a_function_of_the_first_input_lies_in_rho_tensor_trivial():
    r = LieFourier(so3(), sites=["0"], max_degree=2).fit(nn.Sequential(FirstTrace()).double()).result_
    shares = dict(zip(r.pairs, r.fractions[0], strict=True))
    assert shares["l=1 ⊗ l=0"] + shares["l=2 ⊗ l=0"] == pytest.approx(1.0, abs=1e-10)
    assert shares["l=1 ⊗ l=0"] > 0.1 and shares["l=2 ⊗ l=0"] > 0.1


def test_the_tasks_are_seeded_pairs_and_their_products():
    task = LieCompositionTask("SO(3)", size=16, seed=1)
    x, y = task.enumerate()
    assert x.shape == (16, 2, 9) and y.shape == (16, 9)
    torch.testing.assert_close(Product()(x), y, atol=1e-6, rtol=0)
    assert torch.equal(task.enumerate()[0], x) and not torch.equal(
        LieCompositionTask("SO(3)", size=16).enumerate()[0], x
    )
    with pytest.raises(
        TaskError, match=r"`lie_group` \(='SO\(4\)'\) must be one of \['SO\(2\)', 'SO\(3\)'\]"
    ):
        LieCompositionTask("SO(4)")


def test_a_trained_so2_network_is_read_by_the_registered_analysis(tmp_path):
    train(PRESETS["so2_addition"].replace(steps=300, checkpoint_every=300, eval_every=100), tmp_path / "so2")
    run = load(tmp_path / "so2")
    assert run.metrics()[-1]["test_loss"] < 0.5  # of a target with mean square 2
    analysis = get("lie_fourier")
    assert analysis.applies(run) is None
    result = analysis.fit(run, {}, None)
    assert isinstance(result, LieFourierResult) and result.sites == ("act", "unembed")
    assert result.top[1] == "k=1 ⊗ k=1"
    assert LieFourierResult.from_json(result.to_json()) == result
    # the run's LLC is a cross-entropy's: a regression is refused, not read as soft labels
    from nerve.analysis.llc.trajectory import training_data
    from nerve.errors import AnalysisError

    assert "it trains a regression" in get("llc").applies(run)
    with pytest.raises(
        AnalysisError, match=r"it trains a regression, not the cross-entropy the run's LLC uses"
    ):
        training_data(run)
