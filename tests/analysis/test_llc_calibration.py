"""The calibration sweep: on a model whose LLC is known, cells that are unsettled or diverge are
rejected by its rules, and the recommended ε gives the known value."""

import json
import math

import pytest
import torch
from test_llc import half_mse, least_squares
from torch import nn

from nerve import AnalysisError
from nerve.analysis import MemoryBudgetError
from nerve.analysis.llc.calibration import LLCCalibrationResult, calibrate_llc
from nerve.analysis.llc.estimator import LLCEstimator


def test_the_sweep_rejects_unsettled_and_divergent_cells_and_recommends_the_plateau():
    # d = 6, full batch: E[nβ (L − L*)] = Σ_i nβ h_i / (2 (nβ h_i + γ)) in the continuous limit
    model, X, y = least_squares()
    nbeta, gamma = 50.0, 5.0
    h = torch.linalg.eigvalsh(X.T @ X / len(X)).repeat(2)
    exact = float((nbeta * h / (2 * (nbeta * h + gamma))).sum())
    # 4000 draws: at 2000 only ε = 3e-3 converges (ε = 1e-3: R̂ 1.014, bulk ESS 494 of 800), so no
    # cell has a converged neighbour; fewest_draws() says 1e-3 needs 3238 draws, 3e-3 1059
    est = LLCEstimator(gamma=gamma, n_chains=8, n_draws=4000, batch_size=len(X), seed=0)
    epsilons = [1e-5, 1e-3, 3e-3, 0.5]  # 0.5: ε(nβh + γ) >> 4, but εγ < 4 is allowed
    cal = calibrate_llc(model, (X, y), epsilons=epsilons, nbetas=[nbeta], estimator=est, loss_fn=half_mse)
    # ε = 1e-5: the relaxation time 2/(ε(nβh + γ)) is thousands of steps; the trace still rises
    assert not cal.healthy[0][0] and cal.drift[0][0] > 2 * cal.drift_se[0][0]
    assert cal.divergent_chains[0][-1] == 8 and not cal.healthy[0][-1]
    assert all(a >= 0.9 for a, ok in zip(cal.mala_acceptance[0], cal.healthy[0]) if ok)
    eps, chosen_nbeta = cal.recommendation()
    assert chosen_nbeta == nbeta and cal.stable[0][epsilons.index(eps)]
    assert cal.llc_mean[0][epsilons.index(eps)] == pytest.approx(exact, rel=0.10)


@pytest.mark.parametrize("sampler", ["sgld", "rmsprop_sgld"])
def test_cells_share_one_run_and_each_keeps_its_own_hyperparameters(sampler):
    model, X, y = least_squares()
    est = LLCEstimator(gamma=1.0, n_chains=2, n_draws=30, batch_size=100, seed=3, sampler=sampler)
    cal = calibrate_llc(model, (X, y), epsilons=[1e-4, 1e-3], nbetas=["batch", 20.0], estimator=est,
                        loss_fn=half_mse)  # fmt: skip
    assert cal.nbetas == (pytest.approx(100 / math.log(100)), 20.0)
    assert cal.nbeta_labels == ("batch", "20.0")
    assert len(cal.llc_mean) == 2 and all(len(row) == 2 for row in cal.llc_mean)
    # a larger step moves the chains further from w* in the same number of draws
    for row in cal.llc_mean:
        assert row[1] > row[0]
    assert cal.estimator["n_chains"] == 2 and cal.estimator["seed"] == 3
    assert LLCCalibrationResult.from_json(cal.to_json()) == cal


def test_the_sweep_crosses_gamma_and_sampler_and_recommends_the_cheapest_converged_cell():
    """Rows are (sampler, γ, nβ); each chain keeps its own γ, so a row of the product is the same
    as a sweep run alone at that γ and sampler, and best() is the stable cell of fewest draws."""
    model, X, y = least_squares()
    est = LLCEstimator(n_chains=4, n_draws=3000, batch_size=len(X), seed=0)
    grid = dict(epsilons=[1e-3, 3e-3, 6e-3], nbetas=[50.0], estimator=est, loss_fn=half_mse)
    cal = calibrate_llc(model, (X, y), gammas=[1.0, 5.0], samplers=["sgld", "rmsprop_sgld"], **grid)
    assert cal.samplers == ("sgld", "sgld", "rmsprop_sgld", "rmsprop_sgld") and cal.gammas == (1.0, 5.0) * 2
    assert cal.row_label(3) == "nβ = 50.0, γ = 5, rmsprop_sgld" and len(cal.llc_mean) == 4
    # each chain kept its row's γ: a stronger localisation gives a lower λ̂ (exact 2.94 at γ = 1, 2.72
    # at γ = 5), in both samplers at every ε (measured: 2.90 > 2.63, 3.11 > 2.71, 3.17 > 2.91 for SGLD)
    for low, high in ((0, 1), (2, 3)):
        assert all(a > b for a, b in zip(cal.llc_mean[low], cal.llc_mean[high]))
    best = cal.best()
    assert best is not None
    row = next(
        i for i in range(4) if (cal.row_gamma(i), cal.row_sampler(i)) == (best["gamma"], best["sampler"])
    )
    j = cal.epsilons.index(best["epsilon"])
    assert cal.stable[row][j] and best["draws_needed"] == min(
        cal.draws_needed[i][cal.epsilons.index(e)] for i, e in enumerate(cal.recommended) if e is not None
    )
    assert cal.recommendation() == (best["epsilon"], best["nbeta"])
    # the soonest to converge names its row's γ and sampler, and needs no more draws than the best
    soon = cal.fewest_draws()
    i = next(
        i for i in range(4) if (cal.row_gamma(i), cal.row_sampler(i)) == (soon["gamma"], soon["sampler"])
    )
    assert cal.draws_needed[i][cal.epsilons.index(soon["epsilon"])] == soon["draws_needed"]
    assert soon["draws_needed"] <= best["draws_needed"] and soon["nbeta"] == 50.0
    assert LLCCalibrationResult.from_json(cal.to_json()) == cal
    with pytest.raises(
        AnalysisError, match=r"`gammas` \(=\[1.0, 1.0\]\) must be a non-empty list of distinct"
    ):
        calibrate_llc(model, (X, y), gammas=[1.0, 1.0], **grid)
    with pytest.raises(AnalysisError, match=r"`sampler` \(='adam'\)"):
        calibrate_llc(model, (X, y), samplers=["adam"], **grid)


def test_no_stable_region_is_said_plainly():
    model, X, y = least_squares()
    est = LLCEstimator(gamma=0.5, n_chains=2, n_draws=20, batch_size=len(X))
    cal = calibrate_llc(model, (X, y), epsilons=[5.0], nbetas=[50.0], estimator=est, loss_fn=half_mse)
    assert cal.recommended == (None,) and cal.recommendation() is None
    assert cal.fewest_draws() is None  # its one cell diverged: no number of draws would do


def test_errors_name_the_argument():
    model, X, y = least_squares()
    with pytest.raises(AnalysisError, match=r"`epsilons` \(=\[0.001, 0.0001\]\) must be increasing"):
        calibrate_llc(model, (X, y), epsilons=[1e-3, 1e-4])
    with pytest.raises(AnalysisError, match=r"`epsilons` \(=\[\]\) must be a non-empty list of positive"):
        calibrate_llc(model, (X, y), epsilons=[])
    with pytest.raises(AnalysisError, match=r"`nbeta` \(='lots'\) must be a positive number"):
        calibrate_llc(model, (X, y), nbetas=["lots"])
    with pytest.raises(AnalysisError, match=r"`min_acceptance` \(=1.5\) must be between 0 and 1"):
        calibrate_llc(model, (X, y), min_acceptance=1.5)


def test_grid_steps_that_must_diverge_and_grids_too_big_for_memory_are_refused():
    model, X, y = least_squares()
    with pytest.raises(AnalysisError, match=r"`epsilons` \(=1\) with `gamma` \(=100\) gives εγ = 100 >= 4"):
        calibrate_llc(model, (X, y), epsilons=[1e-3, 1.0])
    with pytest.raises(
        AnalysisError, match=r"`epsilons` \(=\[0.001, inf\]\) must be a non-empty list of positive"
    ):
        calibrate_llc(model, (X, y), epsilons=[1e-3, math.inf])
    with pytest.raises(AnalysisError, match=r"`tolerance` \(=nan\) must be between 0 and 1"):
        calibrate_llc(model, (X, y), tolerance=math.nan)
    big, Xb = nn.Linear(100, 100), torch.randn(64, 100)
    est = LLCEstimator(n_chains=1_000_000, batch_size=64)
    with pytest.raises(MemoryBudgetError, match=r"`n_chains` \(=1000000\) × 14 cells: 14000000 SGLD chains"):
        calibrate_llc(big, (Xb, Xb), nbetas=["batch", 2.0], estimator=est, loss_fn=half_mse)


def test_the_json_is_strict_where_a_standard_error_is_unknown():
    model, X, y = least_squares()
    est = LLCEstimator(gamma=1.0, n_chains=1, n_draws=10, batch_size=100)
    cal = calibrate_llc(model, (X, y), epsilons=[1e-4], nbetas=[20.0], estimator=est, loss_fn=half_mse)
    assert math.isnan(cal.drift_se[0][0])  # one chain: no standard error
    text = cal.to_json()
    data = json.loads(text, parse_constant=lambda token: pytest.fail(f"bare {token} in JSON"))
    assert data["drift_se"] == [[None]]
    back = LLCCalibrationResult.from_json(text)
    assert math.isnan(back.drift_se[0][0]) and back.to_json() == text


def test_the_calibrator_estimator_is_calibrate_llc():
    from nerve.analysis.llc.calibration import LLCCalibrator

    torch.manual_seed(0)
    X = torch.randn(200, 2)
    y = X @ torch.ones(2, 1) + torch.randn(200, 1)
    model = torch.nn.Linear(2, 1, bias=False)
    model.weight.data = torch.linalg.lstsq(X, y).solution.T
    est = LLCEstimator(gamma=1.0, n_chains=2, n_draws=50, batch_size=200)
    kwargs = {"epsilons": [1e-3, 3e-3], "nbetas": [20.0], "estimator": est}
    by_function = calibrate_llc(model, (X, y), loss_fn=torch.nn.functional.mse_loss, **kwargs)
    by_estimator = LLCCalibrator(**kwargs).fit(model, (X, y), loss_fn=torch.nn.functional.mse_loss).result_
    assert (
        by_estimator == by_function and repr(LLCCalibrator(tolerance=0.2)) == "LLCCalibrator(tolerance=0.2)"
    )
