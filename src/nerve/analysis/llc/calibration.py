"""Choosing the LLC's hyperparameters: a sweep over the SGLD step ε and nβ, every cell of the grid
sampled in one batched run, with each cell judged by stated rules and the stable region named.

The estimate λ̂ is only meaningful where it does not depend on ε: too small a step and the
chains have not left w* within the draws (the trace is still rising); too large and they
diverge, or the discretisation is so coarse that a Metropolis test would reject most steps.
Between the two, λ̂ is flat in ε (Lau et al. 2025, Appendix on hyperparameter selection; the
devinterp calibration guide). This module measures that plateau instead of guessing it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from nerve._estimator import Estimator
from nerve._results import Result
from nerve.analysis.llc.diagnostics import ESS_PER_CHAIN, RHAT_MAX
from nerve.analysis.llc.estimator import (
    LLCEstimator,
    LLCResult,
    LossFn,
    _check_memory,
    _check_step,
    _is_finite_number,
    _run_chains,
    _Setup,
    _summarise,
)
from nerve.analysis.registry import Analysis, Drawing, register
from nerve.errors import AnalysisError

__all__ = ["DEFAULT_EPSILONS", "DEFAULT_NBETAS", "LLCCalibrationResult", "LLCCalibrator", "calibrate_llc"]

# at γ = 100 the localisation alone pulls a chain back in about 2/(εγ) steps: 20 at ε = 1e-3, 20,000 at
# 1e-6; a smaller ε cannot settle within the draws of a usual run
DEFAULT_EPSILONS = (1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3)
DEFAULT_NBETAS = ("batch", "dataset")


@dataclass(frozen=True)
class LLCCalibrationResult(Result):
    """λ̂ over a grid of ε × nβ (× γ × sampler), each cell's diagnostics, and the recommended ε
    for each row.

    Grids are indexed ``[row][epsilon]``; a row is one (sampler, γ, nβ), in that nesting order.

    **Attributes:**

    - `epsilons`; per row, `nbetas` (the numbers), `nbeta_labels` (how each was asked for),
      `gammas` and `samplers` (empty in files written before the sweep had those axes: then
      every row used the estimator's).
    - `llc_mean`, `llc_std`: λ̂ over each cell's chains.
    - `mala_acceptance`, `divergent_chains` (how many), `drift`: the mean over chains of (mean of
      the second half of the draws − mean of the first half), in λ̂'s units; `drift_se` its standard error.
    - `rhat`, `ess_bulk`, `converged`: each cell's convergence diagnostics and verdict
      (:class:`~nerve.analysis.LLCResult`); `draws_needed`: the draws per chain at which the cell's
      bulk ESS would reach the verdict's 100 per chain, at its measured ESS per draw.
    - `healthy`: the cell passes every rule in `rule`; `stable`: healthy and within `tolerance`
      of a healthy neighbour in ε.
    - `recommended`: for each row, the stable ε that needs the fewest draws, or ``None``; the
      cheapest of all: :meth:`best`.
    - `estimator`: the other hyperparameters (chains per cell, draws, γ, batch size, seed).
    """

    FORMAT = "nerve-llc-calibration/1"

    epsilons: tuple[float, ...]
    nbetas: tuple[float, ...]
    nbeta_labels: tuple[str, ...]
    llc_mean: tuple[tuple[float, ...], ...]
    llc_std: tuple[tuple[float, ...], ...]
    mala_acceptance: tuple[tuple[float, ...], ...]
    divergent_chains: tuple[tuple[int, ...], ...]
    drift: tuple[tuple[float, ...], ...]
    drift_se: tuple[tuple[float, ...], ...]
    healthy: tuple[tuple[bool, ...], ...]
    stable: tuple[tuple[bool, ...], ...]
    recommended: tuple[float | None, ...]
    rule: str
    estimator: dict[str, Any]
    rhat: tuple[tuple[float, ...], ...] = ()
    ess_bulk: tuple[tuple[float, ...], ...] = ()
    converged: tuple[tuple[bool, ...], ...] = ()
    draws_needed: tuple[tuple[float, ...], ...] = ()
    gammas: tuple[float, ...] = ()
    samplers: tuple[str, ...] = ()

    def row_gamma(self, i: int) -> float:
        """The localisation γ of row i."""
        return self.gammas[i] if self.gammas else float(self.estimator["gamma"])

    def row_sampler(self, i: int) -> str:
        """The sampler of row i."""
        return self.samplers[i] if self.samplers else str(self.estimator.get("sampler", "sgld"))

    def row_label(self, i: int) -> str:
        """How row i is named in tables and figures: its nβ, and its γ and sampler when the sweep
        varied them."""
        label = f"nβ = {self.nbeta_labels[i]}"
        if self.nbeta_labels[i] != f"{self.nbetas[i]}":
            label += f" ({self.nbetas[i]:.4g})"
        if len(set(self.gammas)) > 1:
            label += f", γ = {self.row_gamma(i):g}"
        if len(set(self.samplers)) > 1:
            label += f", {self.row_sampler(i)}"
        return label

    def best(self) -> dict[str, Any] | None:
        """The cheapest recommendation over every row: ``{"epsilon", "nbeta", "gamma", "sampler",
        "draws_needed"}`` of the stable cell that needs the fewest draws, or ``None``."""
        options = []
        for i, eps in enumerate(self.recommended):
            if eps is not None:
                j = self.epsilons.index(eps)
                need = self.draws_needed[i][j] if self.draws_needed else math.inf
                options.append((need, i, eps))
        if not options:
            return None
        need, i, eps = min(options)
        return {"epsilon": eps, "nbeta": self.nbetas[i], "gamma": self.row_gamma(i),
                "sampler": self.row_sampler(i), "draws_needed": need}  # fmt: skip

    def fewest_draws(self, min_acceptance: float = 0.9) -> dict[str, Any] | None:
        """The cell that would converge soonest among those with no divergent chain, MALA
        acceptance at least `min_acceptance` and λ̂ > 0, whatever their R̂ and ESS now: what to run
        when no cell has converged. ``{"epsilon", "nbeta", "gamma", "sampler", "draws_needed"}``
        as :meth:`best` gives them, ``draws_needed`` per chain; None when no cell qualifies (or the
        file predates the diagnostics)."""
        options = [
            (self.draws_needed[i][j], i, j)
            for i in range(len(self.nbetas))
            for j in range(len(self.epsilons))
            if self.draws_needed
            and not self.divergent_chains[i][j]
            and self.llc_mean[i][j] > 0
            and self.mala_acceptance[i][j] >= min_acceptance
        ]
        if not options:
            return None
        need, i, j = min(options)
        return {"epsilon": self.epsilons[j], "nbeta": self.nbetas[i], "gamma": self.row_gamma(i),
                "sampler": self.row_sampler(i), "draws_needed": need}  # fmt: skip

    def recommendation(self) -> tuple[float, float] | None:
        """``(epsilon, nbeta)`` of :meth:`best`, or ``None``."""
        best = self.best()
        return None if best is None else (best["epsilon"], best["nbeta"])


def calibrate_llc(
    model: torch.nn.Module,
    dataset: Any,
    *,
    epsilons: Sequence[float] = DEFAULT_EPSILONS,
    nbetas: Sequence[float | str] = DEFAULT_NBETAS,
    estimator: LLCEstimator | None = None,
    loss_fn: LossFn | None = None,
    min_acceptance: float = 0.9,
    tolerance: float = 0.1,
    gammas: Sequence[float] | None = None,
    samplers: Sequence[str] | None = None,
) -> LLCCalibrationResult:
    """Sample every (ε, nβ) of the grid, for each of `gammas` and `samplers` (default: the
    estimator's γ and sampler), with `estimator`'s other hyperparameters (its `n_chains` chains
    per cell; all cells of one sampler advance together in one batched run, each chain its own ε,
    nβ and γ, so the sweep costs ``len(samplers)`` runs of ``len(epsilons) · len(nbetas) ·
    len(gammas) · n_chains`` chains, whose memory is estimated first: more than is available is a
    :class:`~nerve.analysis.MemoryBudgetError`) and judge each cell. Each ε must be finite and
    > 0 with εγ < 4 for every γ (see :class:`LLCEstimator`).

    A cell is **healthy** when its estimate has converged (the verdict of
    :data:`~nerve.analysis.llc.diagnostics.RULE`: no divergent chain, rank-normalised split-R̂
    below 1.01, bulk ESS at least 100 per chain), its MALA acceptance is at least
    `min_acceptance` and λ̂ > 0. A healthy cell is **stable** when a neighbouring ε (same nβ) is
    healthy with λ̂ within `tolerance` (relative) or within two standard errors. The recommended
    ε for each row (sampler, γ, nβ) is the stable one that needs the fewest draws (its bulk ESS
    per draw is the highest), and :meth:`LLCCalibrationResult.best` the cheapest over all rows;
    when none is stable, :meth:`LLCCalibrationResult.fewest_draws` says which cell would
    converge soonest and after how many draws.

    >>> torch.manual_seed(0) and None
    >>> X = torch.randn(1000, 4); y = X @ torch.ones(4, 1) + torch.randn(1000, 1)
    >>> model = torch.nn.Linear(4, 1, bias=False)
    >>> model.weight.data = torch.linalg.lstsq(X, y).solution.T
    >>> est = LLCEstimator(gamma=1.0, n_chains=8, n_draws=2000, n_burnin=100, batch_size=1000)
    >>> cal = calibrate_llc(model, (X, y), epsilons=[1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 1.0], nbetas=[50.0],
    ...                     estimator=est, loss_fn=torch.nn.functional.mse_loss)
    >>> cal.divergent_chains[0][-1], cal.healthy[0][-2:]   # ε = 1: all 8 diverge; 1e-2: MALA 0.83
    (8, (False, False))
    >>> eps, nbeta = cal.recommendation()
    >>> j = cal.epsilons.index(eps)
    >>> eps in (1e-3, 3e-3), 1.8 < cal.llc_mean[0][j] < 2.3   # exact: 4·50/(2·50 + 1) = 1.98
    (True, True)
    """
    est = estimator if estimator is not None else LLCEstimator()
    est._check_params()
    epsilons = list(epsilons)
    if not epsilons or any(not _is_finite_number(e) or not e > 0 for e in epsilons):
        raise AnalysisError(
            f"`epsilons` (={epsilons!r}) must be a non-empty list of positive numbers (finite, not NaN)."
        )
    epsilons = [float(e) for e in epsilons]
    if epsilons != sorted(set(epsilons)):
        raise AnalysisError(f"`epsilons` (={epsilons!r}) must be increasing, without repeats.")
    gammas = [float(est.gamma)] if gammas is None else list(gammas)
    if not gammas or any(not _is_finite_number(g) or g < 0 for g in gammas) or len(set(gammas)) < len(gammas):
        raise AnalysisError(f"`gammas` (={gammas!r}) must be a non-empty list of distinct numbers >= 0.")
    gammas = [float(g) for g in gammas]
    samplers = [est.sampler] if samplers is None else list(samplers)
    if not samplers or len(set(samplers)) < len(samplers):
        raise AnalysisError(f"`samplers` (={samplers!r}) must be a non-empty list of distinct samplers.")
    for sampler in samplers:
        LLCEstimator(sampler=sampler)._check_params()
    for g in gammas:  # the largest ε is the one at risk
        _check_step(epsilons[-1], g, name="epsilons")
    if not nbetas:
        raise AnalysisError("`nbetas` must name at least one nβ (a number, 'batch' or 'dataset').")
    for name, value, low, high in (("min_acceptance", min_acceptance, 0, 1), ("tolerance", tolerance, 0, 1)):
        if not _is_finite_number(value) or not low <= value <= high:
            raise AnalysisError(f"`{name}` (={value!r}) must be between {low} and {high}.")
    setup = _Setup(est, model, dataset, loss_fn)
    values = []
    for rule in nbetas:
        LLCEstimator(nbeta=rule)._check_params()
        values.append(setup.nbeta(rule))
    C = est.n_chains
    # a row is one (sampler, γ, nβ); its cells are the ε values
    rows = [(s, g, i) for s in samplers for g in gammas for i in range(len(values))]
    per_run = len(gammas) * len(values) * len(epsilons)
    _check_memory(setup, est, C * per_run, what=f"`n_chains` (={C}) × {per_run} cells")
    grid: dict[tuple[int, int], tuple[LLCResult, float, float]] = {}
    for sampler in samplers:
        mine = [r for r, row in enumerate(rows) if row[0] == sampler]
        cells = [(r, j) for r in mine for j in range(len(epsilons))]
        eps = torch.tensor([epsilons[j] for _, j in cells for _ in range(C)], dtype=torch.float64)
        nbeta = torch.tensor([values[rows[r][2]] for r, _ in cells for _ in range(C)], dtype=torch.float64)
        gamma = torch.tensor([rows[r][1] for r, _ in cells for _ in range(C)], dtype=torch.float64)
        run_est = est if sampler == est.sampler else LLCEstimator(**{**est.get_params(), "sampler": sampler})
        sampled = _run_chains(run_est, setup, eps, nbeta, gamma=gamma)
        for k, (r, j) in enumerate(cells):
            chains = range(k * C, (k + 1) * C)
            nb = values[rows[r][2]]
            result = _summarise(run_est, sampled, chains, nbeta=nb, epsilon=epsilons[j], gamma=rows[r][1])
            grid[r, j] = (result, *_drift(sampled.losses[list(chains), est.n_burnin :], nb))

    def healthy(i: int, j: int) -> bool:
        r = grid[i, j][0]
        return r.converged and r.mala_acceptance >= min_acceptance and r.llc_mean > 0

    def draws_needed(i: int, j: int) -> float:
        r = grid[i, j][0]
        per_draw = r.ess_bulk / est.n_draws
        return float(math.ceil(ESS_PER_CHAIN * C / per_draw)) if per_draw > 0 else math.inf

    def table(f) -> tuple[tuple, ...]:
        return tuple(tuple(f(i, j) for j in range(len(epsilons))) for i in range(len(rows)))

    ok = table(healthy)

    def agree(a: LLCResult, b: LLCResult) -> bool:
        gap = abs(a.llc_mean - b.llc_mean)
        se = math.hypot(a.llc_std, b.llc_std) / math.sqrt(C)
        return gap <= tolerance * max(abs(a.llc_mean), abs(b.llc_mean)) or gap <= 2 * se

    def stable(i: int, j: int) -> bool:
        near = [k for k in (j - 1, j + 1) if 0 <= k < len(epsilons) and ok[i][k]]
        return ok[i][j] and any(agree(grid[i, j][0], grid[i, k][0]) for k in near)

    steady = table(stable)
    needed = table(draws_needed)

    def recommend(i: int) -> float | None:
        """The stable cell that needs the fewest draws; of equals, the largest ε."""
        options = [(needed[i][j], -e, e) for j, e in enumerate(epsilons) if steady[i][j]]
        return min(options)[2] if options else None

    recommended = tuple(recommend(i) for i in range(len(rows)))
    return LLCCalibrationResult(
        epsilons=tuple(epsilons),
        nbetas=tuple(values[i] for _, _, i in rows),
        nbeta_labels=tuple(str(nbetas[i]) for _, _, i in rows),
        llc_mean=table(lambda i, j: grid[i, j][0].llc_mean),
        llc_std=table(lambda i, j: grid[i, j][0].llc_std),
        mala_acceptance=table(lambda i, j: grid[i, j][0].mala_acceptance),
        divergent_chains=table(lambda i, j: len(grid[i, j][0].divergent_chains)),
        drift=table(lambda i, j: grid[i, j][1]),
        drift_se=table(lambda i, j: grid[i, j][2]),
        healthy=ok,
        stable=steady,
        recommended=recommended,
        rule=(
            f"healthy: converged (no divergent chain, R̂ < {RHAT_MAX}, bulk ESS >= {ESS_PER_CHAIN:g} per "
            f"chain), MALA acceptance >= {min_acceptance:g} and λ̂ > 0; stable: healthy with a healthy "
            f"neighbouring ε within {tolerance:g} (relative) or 2 standard errors; recommended: the stable "
            "ε that needs the fewest draws"
        ),
        rhat=table(lambda i, j: grid[i, j][0].rhat),
        ess_bulk=table(lambda i, j: grid[i, j][0].ess_bulk),
        converged=table(lambda i, j: grid[i, j][0].converged),
        draws_needed=needed,
        gammas=tuple(g for _, g, _ in rows),
        samplers=tuple(s for s, _, _ in rows),
        estimator={
            "n_chains": C, "n_draws": est.n_draws, "n_burnin": est.n_burnin,
            "gamma": float(est.gamma), "sampler": est.sampler, "batch_size": est.batch_size, "seed": est.seed,
            "n_samples": setup.n, "init_loss": setup.init_loss,
        },
    )  # fmt: skip


def _drift(draws: torch.Tensor, nbeta: float) -> tuple[float, float]:
    """Mean over chains of nβ (second-half mean − first-half mean) of ``draws [C, T]``, and its
    standard error over chains (NaN for one chain, where it is unknown)."""
    half = draws.shape[1] // 2
    if half == 0:
        return 0.0, float("nan")
    d = nbeta * (draws[:, half:].mean(1) - draws[:, :half].mean(1))
    if not torch.isfinite(d).all():
        return float("nan"), float("nan")
    se = float(d.std() / len(d) ** 0.5) if len(d) > 1 else float("nan")
    return float(d.mean()), se


class LLCCalibrator(Estimator):
    """:func:`calibrate_llc` as an estimator: ``LLCCalibrator(epsilons=..., nbetas=...,
    estimator=...).fit(model, dataset, loss_fn=...).result_`` is its :class:`LLCCalibrationResult`
    (same arguments, same rules, same result)."""

    def __init__(
        self,
        *,
        epsilons: Sequence[float] = DEFAULT_EPSILONS,
        nbetas: Sequence[float | str] = DEFAULT_NBETAS,
        estimator: LLCEstimator | None = None,
        min_acceptance: float = 0.9,
        tolerance: float = 0.1,
        gammas: Sequence[float] | None = None,
        samplers: Sequence[str] | None = None,
    ) -> None:
        self.epsilons = epsilons
        self.nbetas = nbetas
        self.estimator = estimator
        self.min_acceptance = min_acceptance
        self.tolerance = tolerance
        self.gammas = gammas
        self.samplers = samplers

    def fit(self, model: torch.nn.Module, dataset: Any, *, loss_fn: LossFn | None = None) -> LLCCalibrator:
        self.result_ = calibrate_llc(model, dataset, loss_fn=loss_fn, **self.get_params())
        return self


def _fit(run: Any, fitted: Any, progress: Any) -> LLCCalibrationResult:
    from nerve.analysis.llc.trajectory import cross_entropy64, training_data

    return calibrate_llc(run.last_model, training_data(run), loss_fn=cross_entropy64)


def _rows(result: LLCCalibrationResult, drawing: Drawing) -> list[tuple[str, str]]:
    best = result.best()
    verdict = "no stable region: no ε to trust" if best is None else (
        f"ε = {best['epsilon']:g} at nβ = {best['nbeta']:.4g}, γ = {best['gamma']:g}, {best['sampler']}"
    )  # fmt: skip
    return [("LLC calibration: recommended", verdict), ("rule for LLC calibration", result.rule)]


def _figures(result: LLCCalibrationResult, drawing: Drawing) -> list[tuple[str, Any]]:
    from nerve.analysis.llc.figures import llc_calibration_figure

    return [("llc-calibration", llc_calibration_figure(result))]


def _no_fixed_dataset(run: Any) -> str | None:
    from nerve.analysis.llc.trajectory import no_fixed_dataset

    return no_fixed_dataset(run)


LLC_CALIBRATION = register(Analysis(
    name="llc_calibration",
    title="LLC calibration: λ̂ over the SGLD step ε and the inverse temperature nβ",
    result=LLCCalibrationResult,
    fit=_fit,
    applies=_no_fixed_dataset,
    figures=_figures,
    rows=_rows,
    default=False,  # a grid of chains: `nerve llc --calibrate`, whose flags set the grid
    order=60,
))  # fmt: skip
