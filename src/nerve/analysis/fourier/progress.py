"""Progress measures through training (Nanda et al. 2023, §5), for any group task.

Given the key irreps of the final model, each checkpoint gets:

- the *restricted loss*: the loss on every pair when the logits keep only the parts that
  are functions of ``t(a, b)`` in the key irreps (and the trivial one), i.e. the terms
  ``cos(ω_k(a+b))``, ``sin(ω_k(a+b))`` of the key frequencies for a+b mod p;
- the *excluded loss*: the training loss when exactly those key parts are removed;
- the Gini coefficient of the per-irrep Fourier norms of each embedding and of W_U;
- the total sum of squared weights.

The phases are read from these: memorisation while the training loss falls, circuit
formation while the excluded loss rises and the restricted loss falls with the test loss
still high, clean-up while the test loss falls with the weight norm (see :func:`phases`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from nerve._estimator import Estimator, Progress
from nerve._results import Result
from nerve.analysis.fourier._pairs import GroupTask, cross_entropy, not_a_group_task
from nerve.analysis.fourier._views import view
from nerve.analysis.fourier.irreps import FourierAnalysis
from nerve.analysis.registry import Analysis, Drawing, Marker, register
from nerve.errors import AnalysisError
from nerve.tasks import split_indices
from nerve.training import Run

__all__ = ["Phases", "ProgressMeasures", "ProgressResult", "gini", "phases"]


def gini(x: Tensor) -> float:
    """The Gini coefficient ``Σ_ij |x_i − x_j| / (2 n Σ_i x_i)`` of non-negative values: 0 when
    all are equal, ``1 − 1/n`` when one holds everything.

    >>> gini(torch.tensor([1.0, 1.0, 1.0, 1.0])), gini(torch.tensor([0.0, 0.0, 0.0, 4.0]))
    (0.0, 0.75)
    """
    x = x.double().flatten()
    n, total = len(x), float(x.sum())
    if n == 0 or total <= 0:
        return math.nan
    return float((x[:, None] - x[None, :]).abs().sum() / (2 * n * total))


@dataclass(frozen=True)
class Phases:
    """The boundaries of the phases of grokking, in optimiser steps (None where not reached).

    Read off the logged test loss, which falls from its peak after memorisation to its final
    value in a steep descent (Nanda et al. 2023, Fig. 7; they place the end of memorisation
    at the test loss's peak and the clean-up in its fall):

    - `memorisation_end`: the step of the highest test loss after the train accuracy
      first reaches 99% (and before `cleanup_start`);
    - `cleanup_start`: the first step after it at which the log test loss has fallen 10% of
      the way from its peak to its final value;
    - `cleanup_end`: the first step at which it has fallen 90% of the way.

    Between them lies circuit formation. The clean-up is located only when the test loss
    ends at least 100 times below its peak, i.e. the run generalised after memorising.
    """

    memorisation_end: int | None
    cleanup_start: int | None
    cleanup_end: int | None
    rule: str = "memorisation ends at the test loss's peak; clean-up spans 10%-90% of its log fall"


@dataclass(frozen=True)
class ProgressResult(Result):
    """Progress measures at each checkpoint, ``steps[i]`` for entry i of every sequence."""

    FORMAT = "nerve-progress/1"

    steps: tuple[int, ...]
    key_irreps: tuple[str, ...]
    train_loss: tuple[float, ...]
    train_accuracy: tuple[float, ...]
    test_loss: tuple[float, ...]
    test_accuracy: tuple[float, ...]
    restricted_loss: tuple[float, ...]
    excluded_loss: tuple[float, ...]
    gini: dict[str, tuple[float, ...]]
    weight_norm: tuple[float, ...]
    phases: Phases


class ProgressMeasures(Estimator):
    """Nanda et al.'s progress measures over a run's checkpoints, for a group task.

    **Arguments:**

    - `key_irreps`: labels of the irreps to restrict to; by default the key irreps that
      :class:`~nerve.analysis.FourierAnalysis` finds at the last checkpoint.
    - `steps`: which checkpoints (default: all of the run's).

    ``fit(run)`` returns ``self`` with ``result_`` (a :class:`ProgressResult`).
    """

    def __init__(
        self, *, key_irreps: Sequence[str] | None = None, steps: Sequence[int] | None = None
    ) -> None:
        self.key_irreps = key_irreps
        self.steps = steps

    def fit(self, run: Run, *, progress: Progress | None = None) -> ProgressMeasures:
        """Measure every checkpoint of `run`; ``progress("progress measures", done, total)`` is
        called after each."""
        task = run.task
        gt = GroupTask(task)
        labels = [r.label for r in gt.irreps]
        steps = list(run.checkpoints if self.steps is None else self.steps)
        if not steps:
            raise AnalysisError(f"`steps` (={self.steps!r}) must name at least one checkpoint of {run.path}.")
        if self.key_irreps is None:
            key = list(FourierAnalysis().fit(run.model_at(steps[-1]), task).result_.key_irreps)
        else:
            unknown = [k for k in self.key_irreps if k not in labels]
            if unknown:
                raise AnalysisError(f"`key_irreps` names {unknown}, not irreps of {gt.group.name}: {labels}.")
            key = [labels.index(k) for k in self.key_irreps]
        split = split_indices(task.size, run.config.train_fraction, seed=run.config.seed)
        rows = []
        for i, step in enumerate(steps):
            rows.append(_measure(run.model_at(step), gt, key, split))
            if progress is not None:
                progress("progress measures", i + 1, len(steps))
        columns = {name: tuple(r[name] for r in rows) for name in rows[0] if name != "gini"}
        gini_columns = {name: tuple(r["gini"][name] for r in rows) for name in rows[0]["gini"]}
        metrics = [m for m in run.metrics() if "test_loss" in m]
        self.result_ = ProgressResult(
            steps=tuple(steps),
            key_irreps=tuple(labels[k] for k in key),
            gini=gini_columns,
            phases=phases(metrics or _as_metrics(steps, columns)),
            **columns,
        )
        return self


@torch.no_grad()
def _measure(model: nn.Module, gt: GroupTask, key: list[int], split) -> dict:
    v = view(model, n_vocab=gt.task.n_vocab)
    logits, _ = v.run(gt.pairs)
    n = gt.order
    L = logits.reshape(n, n, n)
    targets = gt.targets
    key_part = gt.through_law(L, key)
    restricted = key_part + gt.through_law(L, [gt.ft.trivial])
    excluded = (L - key_part).reshape(n * n, n)
    flat = L.reshape(n * n, n)
    test = split.test if len(split.test) else split.train
    ft = gt.ft
    norms = {name: ft.power(W.double()).sum(-1).sqrt() for name, W in v.embeddings.items()}
    norms["W_U"] = ft.power(v.unembedding.double()).sum(-1).sqrt()
    return {
        "train_loss": cross_entropy(flat[split.train], targets[split.train]),
        "train_accuracy": float((flat[split.train].argmax(-1) == targets[split.train]).double().mean()),
        "test_loss": cross_entropy(flat[test], targets[test]),
        "test_accuracy": float((flat[test].argmax(-1) == targets[test]).double().mean()),
        "restricted_loss": cross_entropy(restricted.reshape(n * n, n), targets),
        "excluded_loss": cross_entropy(excluded[split.train], targets[split.train]),
        "gini": {name: gini(x) for name, x in norms.items()},
        "weight_norm": float(sum((p.double() ** 2).sum() for p in model.parameters())),
    }


def phases(metrics: Sequence[dict]) -> Phases:
    """Locate the phases of grokking (rules in :class:`Phases`) from a run's logged `metrics`,
    one dict per logged step with ``step``, ``train_acc`` and ``test_loss``.

    >>> logged = [(0, 0.0, 4.0), (10, 1.0, 9.0), (20, 1.0, 8.0), (30, 1.0, 0.5), (40, 1.0, 1e-3)]
    >>> p = phases([{"step": s, "train_acc": a, "test_loss": t} for s, a, t in logged])
    >>> p.memorisation_end, p.cleanup_start, p.cleanup_end
    (10, 30, 40)
    """
    rows = [m for m in metrics if m.get("test_loss", 0) > 0 and "train_acc" in m]
    first = next((i for i, m in enumerate(rows) if m["train_acc"] >= 0.99), None)
    if first is None:
        return Phases(None, None, None)
    log = [math.log(m["test_loss"]) for m in rows]
    peak = max(range(first, len(rows)), key=lambda i: log[i])
    drop = log[peak] - log[-1]
    if drop < math.log(100):
        return Phases(rows[peak]["step"], None, None)
    start = next(i for i in range(peak, len(rows)) if log[i] <= log[peak] - 0.1 * drop)
    end = next(i for i in range(start, len(rows)) if log[i] <= log[peak] - 0.9 * drop)
    return Phases(rows[peak]["step"], rows[start]["step"], rows[end]["step"])


def _as_metrics(steps: Sequence[int], columns: Mapping[str, Sequence[float]]) -> list[dict]:
    """The measures at checkpoints as logged rows, for a run without a metrics log."""
    return [
        {"step": s, "train_acc": a, "test_loss": t}
        for s, a, t in zip(steps, columns["train_accuracy"], columns["test_loss"])
    ]


#: The colours of the phase boundaries on every figure against steps.
PHASE_COLOURS = {"memorisation_end": "#888", "cleanup_start": "#d62728", "cleanup_end": "#2ca02c"}


def _markers(result: ProgressResult) -> list[Marker]:
    steps = {name: getattr(result.phases, name) for name in PHASE_COLOURS}
    return [
        Marker(s, name.replace("_", " "), PHASE_COLOURS[name]) for name, s in steps.items() if s is not None
    ]


def _rows(result: ProgressResult, drawing: Drawing) -> list[tuple[str, str]]:
    def step(s: int | None) -> str:
        return "–" if s is None else f"{s:d}"

    p = result.phases
    return [
        ("restricted loss (final)", f"{result.restricted_loss[-1]:.3g}"),
        ("excluded loss (final)", f"{result.excluded_loss[-1]:.3g}"),
        ("end of memorisation", step(p.memorisation_end)),
        ("clean-up", f"steps {step(p.cleanup_start)} to {step(p.cleanup_end)}"),
        ("rule for phases", p.rule),
    ]


def _fit(run: Run, fitted: Mapping[str, Any], progress: Progress) -> ProgressResult:
    return ProgressMeasures(key_irreps=fitted["fourier"].key_labels).fit(run, progress=progress).result_


def _figures(result: ProgressResult, drawing: Drawing) -> list[tuple[str, Any]]:
    from nerve.analysis.fourier.figures import progress_figure

    return [("progress", progress_figure(result, drawing))]


PROGRESS = register(Analysis(
    name="progress",
    title="Progress measures and the phases of grokking (Nanda et al. 2023)",
    result=ProgressResult,
    fit=_fit,
    applies=not_a_group_task,
    needs=("fourier",),
    figures=_figures,
    rows=_rows,
    markers=_markers,
    order=20,
))  # fmt: skip
