"""The local learning coefficient through training: λ̂ at every checkpoint of a run, and the steps
where its trend changes (the stage boundaries of Hoogland et al. 2024, "The developmental
landscape of in-context learning": stages end at critical points of λ̂(t))."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from nerve._estimator import Estimator, Progress
from nerve._results import Result
from nerve.analysis.llc.diagnostics import RULE
from nerve.analysis.llc.estimator import (
    LLCEstimator,
    _chain_memory,
    _check_memory,
    _memory_budget,
    _run_chains,
    _Setup,
    _summarise,
    overrides,
)
from nerve.analysis.registry import Analysis, Drawing, checkpoint_steps, register
from nerve.errors import AnalysisError, NerveWarning
from nerve.tasks import LieCompositionTask, SuperpositionData, split_indices

__all__ = [
    "LLCTrajectory",
    "LLCTrajectoryResult",
    "cross_entropy64",
    "no_fixed_dataset",
    "training_data",
    "trend_changes",
]


@dataclass(frozen=True)
class LLCTrajectoryResult(Result):
    """λ̂ at each checkpoint, its spread over chains, and the stage boundaries.

    **Attributes:**

    - `steps`, `llc_mean`, `llc_std`: per checkpoint (std over chains).
    - `divergent_chains`: per checkpoint, the chains that diverged there (kept in the mean).
    - `mala_acceptance`: per checkpoint.
    - `rhat`, `ess_bulk`, `converged`, `verdict`: per checkpoint, each estimate's diagnostics and
      verdict (:class:`~nerve.analysis.LLCResult`); empty in a file written before nerve
      diagnosed estimates.
    - `boundaries`: the checkpoint steps where the trend of λ̂ changes; `rule` says how.
    - `estimator`: the hyperparameters of the :class:`~nerve.analysis.LLCEstimator` used.
    - `step_params`: those that differed at some checkpoints, by step (empty: none did).
    - `batched`: whether the checkpoints' chains were sampled in batched runs or one checkpoint at
      a time (they draw other random numbers: the mode is part of what reproduces the values);
      None in a file written before the mode was recorded.
    """

    FORMAT = "nerve-llc-trajectory/1"
    FORMERLY = ("nerve-llc-curve/1",)

    steps: tuple[int, ...]
    llc_mean: tuple[float, ...]
    llc_std: tuple[float, ...]
    divergent_chains: tuple[tuple[int, ...], ...]
    mala_acceptance: tuple[float, ...]
    boundaries: tuple[int, ...]
    rule: str
    estimator: dict[str, float | int | str | None]
    rhat: tuple[float, ...] = ()
    ess_bulk: tuple[float, ...] = ()
    converged: tuple[bool, ...] = ()
    verdict: tuple[str, ...] = ()
    batched: bool | None = None
    step_params: dict[int, dict[str, float | int | str | None]] = field(default_factory=dict)

    @property
    def all_converged(self) -> bool:
        """Every checkpoint's estimate converged (False when not diagnosed)."""
        return bool(self.converged) and all(self.converged)


def trend_changes(values: Sequence[float], *, tolerance: float = 0.05) -> tuple[int, ...]:
    """Indices where a curve turns: a local maximum or minimum of ``values`` (smoothed by a
    three-point moving average) from which the curve moves by more than `tolerance` × its range
    on both sides before turning again. Plateaus and wiggles smaller than that are not stages.

    >>> trend_changes([0, 1, 2, 3, 2, 1, 1.5, 2.5, 4])   # up, down, up again
    (3, 5)
    >>> trend_changes([0, 1, 2, 2.02, 2.01, 3, 4])        # a wiggle, not a stage
    ()
    """
    x = torch.tensor(list(values), dtype=torch.float64)
    if len(x) < 3 or not torch.isfinite(x).all():
        return ()
    padded = torch.cat([x[:1], x, x[-1:]])
    smooth = (padded[:-2] + padded[1:-1] + padded[2:]) / 3
    smooth[0], smooth[-1] = x[0], x[-1]
    gap = tolerance * float(smooth.max() - smooth.min())
    if gap == 0:
        return ()
    # walk the curve keeping the last extreme; a turn counts once the curve has left it by > gap
    turns, anchor, direction = [], 0, 0
    for i in range(1, len(smooth)):
        move = float(smooth[i] - smooth[anchor])
        if direction == 0:
            if abs(move) > gap:
                direction = 1 if move > 0 else -1
                anchor = i
            continue
        if move * direction > 0:
            anchor = i  # still going the same way: a new extreme
        elif abs(move) > gap:
            turns.append(anchor)
            direction, anchor = -direction, i
    return tuple(turns)


class LLCTrajectory(Estimator):
    """λ̂ at every checkpoint of a run of a finite task, on the run's training split, with its
    training loss (float64 cross-entropy), and the stage boundaries by :func:`trend_changes`.

    **Arguments:**

    - `estimator`: the :class:`~nerve.analysis.LLCEstimator` to run at each checkpoint
      (default: its defaults); the same hyperparameters and seed at every step but those of
      `step_params`.
    - `steps`: which checkpoints (default: all).
    - `tolerance`: for :func:`trend_changes`.
    - `batched`: sample every checkpoint's chains in one batched run, each localised at its own
      w* (as many checkpoints per run as the memory allows; default), instead of one run per
      checkpoint. Runs with `params` (a subset of the weights) or checkpoints whose buffers differ
      are sampled one checkpoint at a time whatever this says. The chains draw other random numbers
      in the two modes, so the values differ by the sampling noise; each is reproducible.
    - `step_params`: ``{step: {hyperparameter: value}}``, other hyperparameters of the estimator
      at some checkpoints (one whose chains a calibration at that checkpoint says need another
      sampler, step size or burn-in). Those checkpoints are sampled one at a time, each as
      ``LLCEstimator(**{**estimator.get_params(), **step_params[step]})`` would alone (with
      ``batched=False``, a curve with them is the curve without them, those values put in).

    ``fit(run, progress=None)`` returns ``self`` with ``result_`` (an :class:`LLCTrajectoryResult`);
    `progress` is called as ``progress("LLC", done, total)``.
    """

    def __init__(
        self,
        *,
        estimator: LLCEstimator | None = None,
        steps: Sequence[int] | None = None,
        tolerance: float = 0.05,
        batched: bool = True,
        step_params: Mapping[int, Mapping[str, Any]] | None = None,
    ) -> None:
        self.estimator = estimator
        self.steps = steps
        self.tolerance = tolerance
        self.batched = batched
        self.step_params = step_params

    def fit(self, run, *, progress: Progress | None = None) -> LLCTrajectory:
        data = training_data(run)
        steps = checkpoint_steps(run, self.steps)
        est = self.estimator if self.estimator is not None else LLCEstimator()
        est._check_params()
        base = {k: v for k, v in est.get_params().items() if k not in ("params", "subspace", "device")}
        changed = overrides("step_params", self.step_params, steps, base, what="checkpoint")
        own = {step: LLCEstimator(**{**est.get_params(), **values}) for step, values in changed.items()}
        for other in own.values():
            other._check_params()
        models = [run.model_at(step) for step in steps]
        shared = [k for k, step in enumerate(steps) if step not in own]
        batched = (
            self.batched and bool(shared) and est.params is None and est.subspace is None
            and _same_buffers([models[k] for k in shared])
        )  # fmt: skip
        results: list[Any] = [None] * len(steps)
        if batched:
            report = None if progress is None else lambda what, done, _: progress(what, done, len(steps))
            for k, r in zip(shared, _batched(est, [models[k] for k in shared], data, report)):
                results[k] = r
        for k, (step, model) in enumerate(zip(steps, models)):
            if results[k] is not None:
                continue  # one run per checkpoint: a subset of the weights keeps the others fixed
            with warnings.catch_warnings():  # one warning for the whole curve, below
                warnings.simplefilter("ignore", NerveWarning)
                results[k] = own.get(step, est).fit(model, data, loss_fn=cross_entropy64).result_
            if progress is not None:
                progress("LLC", sum(r is not None for r in results), len(steps))
        means = [r.llc_mean for r in results]
        bad = [(s, r) for s, r in zip(steps, results) if not r.converged]
        if bad:
            step, first = bad[0]
            warnings.warn(
                f"the LLC estimate is not converged at {len(bad)} of {len(steps)} checkpoints (at step "
                f"{step}: {first.verdict.removeprefix('not converged: ')}).",
                NerveWarning,
                stacklevel=2,
            )
        params = {k: v for k, v in vars(est).items() if not k.endswith("_") and not isinstance(v, Tensor)}
        params["device"] = None if params.get("device") is None else str(params["device"])
        if est.subspace is not None:  # the bases themselves are not JSON: their ranks say which
            params["subspace"] = {k: int(Q.shape[1]) for k, Q in est.subspace.items()}
        self.result_ = LLCTrajectoryResult(
            steps=steps,
            llc_mean=tuple(means),
            llc_std=tuple(r.llc_std for r in results),
            divergent_chains=tuple(r.divergent_chains for r in results),
            mala_acceptance=tuple(r.mala_acceptance for r in results),
            rhat=tuple(r.rhat for r in results),
            ess_bulk=tuple(r.ess_bulk for r in results),
            converged=tuple(r.converged for r in results),
            verdict=tuple(r.verdict for r in results),
            boundaries=tuple(steps[i] for i in trend_changes(means, tolerance=self.tolerance)),
            rule=(
                "a boundary is a checkpoint where λ̂ (3-point moving average) turns, after moving by more "
                f"than {self.tolerance:g} of its range on both sides"
            ),
            estimator=params,
            batched=batched,
            step_params=changed,
        )
        return self


def _same_buffers(models: Sequence[torch.nn.Module]) -> bool:
    """Whether every checkpoint's buffers (not sampled: they enter the forward pass fixed) are the
    first one's."""
    first = dict(models[0].named_buffers())
    return all(
        dict(m.named_buffers()).keys() == first.keys()
        and all(torch.equal(b, first[k]) for k, b in m.named_buffers())
        for m in models[1:]
    )


def _batched(est: LLCEstimator, models: Sequence[torch.nn.Module], data, progress: Progress | None) -> list:
    """Every checkpoint's :class:`LLCResult` from batched runs over (checkpoint × chain): chain
    c·k of checkpoint k is localised at that checkpoint's weights, its λ̂ taken against that
    checkpoint's L_n(w*). As many checkpoints go into one run as fit the memory available."""
    setup = _Setup(est, models[0], data, cross_entropy64)
    names = setup.flat.names
    stars = []
    for model in models:
        params = dict(model.named_parameters())
        stars.append(torch.cat([params[k].detach().reshape(-1) for k in names]).to(setup.device))
    C, nbeta = est.n_chains, setup.nbeta(est.nbeta)
    per_checkpoint = _chain_memory(setup, est, C)
    group = max(1, min(len(models), _memory_budget(setup.device) // max(per_checkpoint, 1)))
    _check_memory(setup, est, C * group, what=f"`n_chains` (={C}) × {group} checkpoints")
    results = []
    for first in range(0, len(models), group):
        ks = range(first, min(first + group, len(models)))
        centre = torch.stack([stars[k] for k in ks]).repeat_interleave(C, 0)  # [K·C, P]
        eps = torch.full((len(centre),), float(est.epsilon), dtype=torch.float64)
        sampled = _run_chains(est, setup, eps, torch.full_like(eps, nbeta), centre=centre)
        for i, k in enumerate(ks):
            mine = replace(sampled, init_loss=setup.full_loss(stars[k]))
            chains = range(i * C, (i + 1) * C)
            results.append(_summarise(est, mine, chains, nbeta=nbeta, epsilon=float(est.epsilon)))
        if progress is not None:
            progress("LLC", ks[-1] + 1, len(models))
    return results


def training_data(run) -> tuple[Tensor, Tensor]:
    """``(inputs, targets)`` of the training split of a run of a finite task: the data its LLC is
    estimated on (the loss the network was trained to minimise)."""
    task = run.task
    why = no_fixed_dataset(run)
    if why is not None:
        raise AnalysisError(f"`run` ({run.path}): {why}.")
    inputs, targets = task.enumerate()
    split = split_indices(len(targets), run.config.train_fraction, seed=run.config.seed)
    return inputs[split.train], targets[split.train]


def cross_entropy64(output: Tensor, target: Tensor) -> Tensor:
    """The trainer's loss: float64 cross-entropy (float32 rounds a loss of 1e-7 to 0)."""
    return F.cross_entropy(output.double(), target)


def no_fixed_dataset(run: Any) -> str | None:
    """Why the LLC of `run` has no dataset to be estimated on with the trainer's cross-entropy, or None."""
    if isinstance(run.task, SuperpositionData):
        return (
            "it trains on sampled superposition data, which has no fixed dataset to estimate the LLC on; "
            "use LLCEstimator on a sample of your own"
        )
    if isinstance(run.task, LieCompositionTask):
        return (
            "it trains a regression, not the cross-entropy the run's LLC uses; estimate it with "
            "LLCEstimator().fit(model, data, loss_fn=run.task.loss)"
        )
    return None


def _rows(result: LLCTrajectoryResult, drawing: Drawing) -> list[tuple[str, str]]:
    return [
        (
            "LLC λ̂ at the last checkpoint",
            f"{result.llc_mean[-1]:.3g} ± {result.llc_std[-1]:.2g} (over chains)",
        ),
        ("stage boundaries of λ̂", ", ".join(map(str, result.boundaries)) or "none"),
        ("LLC estimates converged", _converged_row(result)),
        *(
            (f"LLC at step {step}: other hyperparameters", ", ".join(f"{k} {v}" for k, v in values.items()))
            for step, values in result.step_params.items()
        ),
    ]


def _converged_row(result: LLCTrajectoryResult) -> str:
    """How many checkpoints' estimates converged, and the first failure's reasons."""
    if not result.converged:
        return "not diagnosed (an llc.json written before nerve diagnosed estimates)"
    bad = [(s, v) for s, ok, v in zip(result.steps, result.converged, result.verdict) if not ok]
    n = len(result.steps)
    if not bad:
        return f"all {n} checkpoints ({RULE})"
    return f"{n - len(bad)} of {n} checkpoints; at step {bad[0][0]}: {bad[0][1]}"


def _figures(result: LLCTrajectoryResult, drawing: Drawing) -> list[tuple[str, Any]]:
    from nerve.analysis.llc.figures import llc_figure

    return [("llc", llc_figure(result, drawing))]


LLC = register(Analysis(
    name="llc",
    title="Local learning coefficient through training (Lau et al. 2024)",
    result=LLCTrajectoryResult,
    fit=lambda run, fitted, progress: LLCTrajectory().fit(run, progress=progress).result_,
    applies=no_fixed_dataset,
    figures=_figures,
    rows=_rows,
    default=False,  # SGLD chains at every checkpoint: `nerve llc`, whose flags set the estimator
    order=50,
))  # fmt: skip
