"""When each irrep is learned: the Fourier analysis at every checkpoint of a group run.

Chughtai, Chan & Nanda (2023) found the *set* of representations a network uses close to
universal across seeds of one task, and the *order* in which it learns them not. This module
reads that order off one run: at each checkpoint, the fraction of the logits' variance along
each irrep's character (:attr:`FourierResult.logit_fractions`) and the irreps that are key by
the neuron rule (:attr:`FourierResult.key_irreps`). An irrep counts as learned at the first
checkpoint where its logit fraction reaches half of its largest value over the run, provided
that largest value is at least `min_peak` (an irrep that never carries that much is never
learned); :meth:`LearningOrderResult.order` sorts the final key irreps by that step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from nerve._estimator import Estimator, Progress
from nerve._results import Result
from nerve.analysis.fourier._pairs import not_a_group_task
from nerve.analysis.fourier.irreps import FourierAnalysis
from nerve.analysis.registry import Analysis, Drawing, checkpoint_steps, register
from nerve.errors import AnalysisError
from nerve.training import Run

__all__ = ["LearningOrder", "LearningOrderResult", "irrep_trajectory"]


@dataclass(frozen=True)
class LearningOrderResult(Result):
    """Per-irrep logit fractions and key irreps of one run, checkpoint by checkpoint.

    `logit_fractions[t][i]` is irrep ``irreps[i]``'s fraction at ``steps[t]``; `key_irreps[t]`
    the labels that are key there; `generalised_at` the first logged step at which the run's
    test accuracy reached 0.99 (None if it never did, or for a result built by hand), to set the
    learning order beside.

    >>> t = LearningOrderResult("C3", ("k=0", "k=1"), (1, 2), (0, 10, 20),
    ...                     ((0.0, 0.01), (0.0, 0.5), (0.0, 0.9)), ((), ("k=1",), ("k=1",)))
    >>> t.learned_at()
    {'k=1': 10}
    >>> t.order()
    ('k=1',)
    """

    group: str
    irreps: tuple[str, ...]
    dims: tuple[int, ...]
    steps: tuple[int, ...]
    logit_fractions: tuple[tuple[float, ...], ...]
    key_irreps: tuple[tuple[str, ...], ...]
    generalised_at: int | None = None

    FORMAT: ClassVar[str] = "nerve-learning-order/1"
    #: What :meth:`to_dict` adds from the fields' own rules, for a reader without nerve.
    DERIVED: ClassVar[tuple[str, ...]] = ("learned_at", "key_from", "order")

    @property
    def final_key(self) -> tuple[str, ...]:
        """The key irreps at the last checkpoint."""
        return self.key_irreps[-1]

    def learned_at(self, min_peak: float = 0.05) -> dict[str, int]:
        """Each learned irrep → the first step where its logit fraction reaches half its peak;
        irreps whose peak stays below `min_peak` are left out."""
        if not 0 < min_peak <= 1:
            raise AnalysisError(f"`min_peak` (={min_peak!r}) must be in (0, 1].")
        out: dict[str, int] = {}
        for i, label in enumerate(self.irreps):
            series = [row[i] for row in self.logit_fractions]
            peak = max(series)
            if peak >= min_peak:
                out[label] = next(s for s, f in zip(self.steps, series) if f >= peak / 2)
        return out

    def key_from(self) -> dict[str, int | None]:
        """Each final key irrep → the first step from which it is key at every later checkpoint."""
        out: dict[str, int | None] = {}
        for label in self.final_key:
            since = None
            for step, key in zip(self.steps, self.key_irreps):
                since = (since if since is not None else step) if label in key else None
            out[label] = since
        return out

    def order(self, min_peak: float = 0.05) -> tuple[str, ...]:
        """The final key irreps in the order they were learned (ties by label; an irrep below
        `min_peak` last)."""
        at = self.learned_at(min_peak)
        never = self.steps[-1] + 1
        return tuple(sorted(self.final_key, key=lambda label: (at.get(label, never), label)))

    def to_dict(self) -> dict[str, Any]:
        """The fields (what a sweep row stores), with `learned_at`, `key_from` and `order`."""
        return {**super().to_dict(), "learned_at": self.learned_at(), "key_from": self.key_from(),
                "order": list(self.order())}  # fmt: skip

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "the data") -> LearningOrderResult:
        """The result from :meth:`to_dict`'s output; the derived keys are recomputed, not read."""
        if isinstance(data, dict):
            data = {k: v for k, v in data.items() if k not in cls.DERIVED}
        return super().from_dict(data, source=source)


class LearningOrder(Estimator):
    """The Fourier analysis of a run at each of `steps` (default: every checkpoint), reduced to
    per-irrep logit fractions and key irreps: ``LearningOrder().fit(run).result_`` is an
    :class:`LearningOrderResult`, whose ``learned_at``, ``key_from`` and ``order`` read it."""

    def __init__(self, *, steps: Sequence[int] | None = None) -> None:
        self.steps = steps

    def fit(self, run: Run, *, progress: Progress | None = None) -> LearningOrder:
        if getattr(run.task, "group", None) is None:
            raise AnalysisError(
                f"`run` ({run.path}) is a {run.task.name} run; the learning order needs a group task."
            )
        steps = checkpoint_steps(run, self.steps)
        results = []
        # the first logged step with test accuracy >= 0.99: when the run generalised, for comparison
        generalised = next((m["step"] for m in run.metrics() if (m.get("test_acc") or 0.0) >= 0.99), None)
        for i, step in enumerate(steps):
            results.append(FourierAnalysis().fit(run.model_at(step), run.task).result_)
            if progress is not None:
                progress("learning order", i + 1, len(steps))
        last = results[-1]
        self.result_ = LearningOrderResult(
            last.group, last.irreps, last.dims, steps, tuple(r.logit_fractions for r in results),
            tuple(r.key_labels for r in results), generalised,
        )  # fmt: skip
        return self


def irrep_trajectory(run: Run, *, steps: Sequence[int] | None = None) -> LearningOrderResult:
    """Shorthand for ``LearningOrder(steps=steps).fit(run).result_``."""
    return LearningOrder(steps=steps).fit(run).result_


def _rows(result: LearningOrderResult, drawing: Drawing) -> list[tuple[str, str]]:
    at = result.learned_at()
    order = ", ".join(f"{label} (step {at[label]})" if label in at else label for label in result.order())
    generalised = "never" if result.generalised_at is None else f"step {result.generalised_at}"
    return [
        ("final key irreps in the order learned", order or "none"),
        ("test accuracy reached 0.99", generalised),
        (
            "rule for learned",
            "the first checkpoint where the irrep's logit share reaches half its peak (peak ≥ 5%)",
        ),
    ]


def _figures(result: LearningOrderResult, drawing: Drawing) -> list[tuple[str, Any]]:
    from nerve.analysis.fourier.figures import learning_order_figure

    return [("learning-order", learning_order_figure(result, drawing))]


LEARNING_ORDER = register(Analysis(
    name="learning_order",
    title="When each irrep is learned (Chughtai, Chan & Nanda 2023)",
    result=LearningOrderResult,
    fit=lambda run, fitted, progress: LearningOrder().fit(run, progress=progress).result_,
    applies=not_a_group_task,
    figures=_figures,
    rows=_rows,
    default=False,  # the Fourier analysis at every checkpoint: `nerve analyze --analysis learning_order`
    order=40,
))  # fmt: skip
