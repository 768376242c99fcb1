"""The LLC of a linear subspace of the weights (issue 17, item 5): on a regular model it is half
the subspace's dimension; the irrep subspaces of a group-task model split each column exactly."""

import functools

import pytest
import torch
from torch import nn

from nerve import AnalysisError
from nerve.analysis import LLCEstimator
from nerve.analysis.llc.subspaces import irrep_basis, irrep_subspace
from nerve.groups import parse_group
from nerve.models import MLP, MLPConfig


def regression():
    """y = W x + noise with W [3, 4], at its least-squares minimum: regular, λ = 12/2 = 6."""
    g = torch.Generator().manual_seed(0)
    X = torch.randn(2000, 4, generator=g)
    y = X @ torch.randn(4, 3, generator=g) + torch.randn(2000, 3, generator=g)
    model = nn.Linear(4, 3, bias=False)
    model.weight.data = torch.linalg.lstsq(X, y).solution.T
    return model, (X, y)


def test_a_subspace_of_a_regular_model_has_half_its_dimension_as_llc():
    model, data = regression()
    Q = torch.linalg.qr(torch.randn(3, 1, generator=torch.Generator().manual_seed(1)))[0]  # one row direction
    est = LLCEstimator(epsilon=2e-2, gamma=1.0, nbeta=20.0, n_chains=8, n_draws=1000, n_burnin=100,
                       batch_size=2000, subspace={"weight": Q})  # fmt: skip
    r = est.fit(model, data, loss_fn=nn.functional.mse_loss).result_
    assert r.converged, r.verdict
    assert r.llc_mean == pytest.approx(2.0, rel=0.1)  # Q ⊗ R⁴: a 4-dimensional subspace
    # the whole space as a subspace is the full model
    full = LLCEstimator(epsilon=2e-2, gamma=1.0, nbeta=20.0, n_chains=4, n_draws=500, n_burnin=100,
                        batch_size=2000, subspace={"weight": torch.eye(3)})  # fmt: skip
    assert full.fit(model, data, loss_fn=nn.functional.mse_loss).result_.llc_mean == pytest.approx(
        6.0, rel=0.1
    )


def test_the_irreps_split_every_column_and_each_subspace_has_its_own_llc():
    G = parse_group("S4")
    bases = [irrep_basis(G, r.label) for r in G.irreps()]
    stacked = torch.cat(bases, 1)
    assert stacked.shape == (24, 24)  # Σ d² = |G|: every function on G, once
    assert torch.allclose(stacked.T @ stacked, torch.eye(24, dtype=torch.float64), atol=1e-10)
    model = MLP(MLPConfig(n_vocab=24, n_classes=24, d_embed=8, d_hidden=16), seed=0)
    sub = irrep_subspace(model, G, "[3,1]")
    assert set(sub) == {"embed.0.weight", "embed.1.weight", "unembed.weight"} and sub[
        "unembed.weight"
    ].shape == (24, 9)
    x = torch.cartesian_prod(torch.arange(24), torch.arange(24))
    est = LLCEstimator(n_chains=2, n_draws=20, batch_size=64, subspace=sub)
    r = est.fit(model, (x, G.table[x[:, 0], x[:, 1]])).result_
    assert r.llc_mean == r.llc_mean and isinstance(r.converged, bool)  # a number, and its verdict


def test_subspace_errors_name_the_argument():
    model, data = regression()
    with pytest.raises(AnalysisError, match=r"`subspace` names 'bias', which is no parameter"):
        LLCEstimator(subspace={"bias": torch.eye(3)}).fit(model, data, loss_fn=nn.functional.mse_loss)
    with pytest.raises(AnalysisError, match=r"`subspace\['weight'\]`'s columns must be orthonormal"):
        LLCEstimator(subspace={"weight": 2 * torch.eye(3)}).fit(model, data, loss_fn=nn.functional.mse_loss)
    with pytest.raises(AnalysisError, match=r"`params` and `subspace` both choose what to sample"):
        LLCEstimator(params=["weight"], subspace={"weight": torch.eye(3)}).fit(model, data)
    with pytest.raises(AnalysisError, match=r"`irrep` \(='\[9\]'\) must be one of S4's irreps"):
        irrep_basis(parse_group("S4"), "[9]")


def test_the_llc_by_irrep_runs_through_the_registry_after_the_fourier_analysis(tmp_path, monkeypatch):
    import nerve.analysis.llc.irreps as irreps_module
    from nerve.analysis.llc.irreps import IrrepLLC, IrrepLLCResult
    from nerve.analysis.registry import fit_all, save
    from nerve.report import render
    from nerve.training import PRESETS, train

    config = PRESETS["demo"].replace(task__kind="group", task__group="S3", steps=20, checkpoint_every=10,
                                     eval_every=10, checkpoint_log_points=0)  # fmt: skip
    run = train(config, tmp_path / "s3")
    # the registered fit uses the estimator's defaults; smaller ones keep the test short
    small = functools.partial(LLCEstimator, n_chains=2, n_draws=12, batch_size=8)
    monkeypatch.setattr(irreps_module, "LLCEstimator", small)
    with pytest.warns(UserWarning, match=r"irrep LLC estimates are not converged"):
        fitted = fit_all(run, ["llc_irreps"])
    r = fitted["llc_irreps"]
    assert isinstance(r, IrrepLLCResult) and r.steps == run.checkpoints
    fourier = fit_all(run, ["fourier"])["fourier"]
    key = tuple(fourier.irreps[i] for i in fourier.key_irreps)
    assert r.irreps == (*key, "complement")
    # the key irreps' subspaces and the complement's together span every function on the group
    assert all(len(row) == len(r.steps) for row in r.llc_mean) and r.dims[:-1] == tuple(
        irrep_basis(run.task.group, label).shape[1] for label in key
    )
    assert sum(r.dims) == run.task.group.order
    # each estimate carries its diagnostics, and the verdict agrees with `converged`
    for field in ("rhat", "ess_bulk", "mala_acceptance", "verdict"):
        assert [len(row) for row in getattr(r, field)] == [len(r.steps)] * len(r.irreps), field
    assert all(
        v.startswith("converged") == ok for vs, oks in zip(r.verdict, r.converged) for v, ok in zip(vs, oks)
    )
    assert all("bulk ESS" in v for row in r.verdict for v in row)  # 12 draws of 2 chains
    assert IrrepLLCResult.from_json(r.to_json()) == r
    save(run, "llc_irreps", r)
    with pytest.raises(
        AnalysisError, match=r"`row_params\['complement'\]` sets \['subspace'\], which are not"
    ):
        IrrepLLC(irreps=key, steps=[0], row_params={"complement": {"subspace": None}}).fit(run)
    render(run.path)
    assert 'id="figure-llc-irreps"' in (run.path / "report.html").read_text()
