"""The registry of analyses: what ``nerve analyze``, ``nerve sweep`` and the report iterate.

An analysis declares, once, its name (the file ``analysis/<name>.json`` and the sweep row it
writes), when it applies to a run, how it is fitted (a typed :class:`Result`),
and how it is drawn (figures, rows of the key-numbers table, and steps it marks on every
figure against training steps). Adding an analysis is one module and one :func:`register`:

>>> import dataclasses
>>> from nerve.analysis.registry import Result
>>> @dataclasses.dataclass(frozen=True)
... class LastLoss(Result):
...     FORMAT = "nerve-last-loss/1"  # not annotated: a class constant, not a field
...     loss: float
>>> last_loss = Analysis(
...     name="last_loss", title="The last training loss", result=LastLoss,
...     fit=lambda run, fitted, progress: LastLoss(run.metrics()[-1]["train_loss"]),
...     rows=lambda result, drawing: [("last training loss", f"{result.loss:.3g}")],
... )
>>> _ = register(last_loss)
>>> "last_loss" in [a.name for a in registered()]
True
>>> unregister("last_loss")

Built-in analyses register when :mod:`nerve.analysis` is imported; ``registered()`` lists them
in their `order` (the order of the report's sections).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nerve._estimator import Progress
from nerve._results import Result
from nerve.errors import AnalysisError

if TYPE_CHECKING:
    from nerve.training import Run

__all__ = [
    "Analysis",
    "Drawing",
    "Marker",
    "Result",
    "checkpoint_steps",
    "fit_all",
    "get",
    "register",
    "registered",
    "save",
    "unregister",
]

#: A figure to draw: (a short id, unique in the report; a plotly ``go.Figure``).
Figure = tuple[str, Any]


@dataclass(frozen=True)
class Marker:
    """A step of training that figures against steps mark with a vertical line (the phases of
    grokking, the stages of the LLC): `step`, its `label`, a CSS `colour` and a plotly `dash`."""

    step: int
    label: str
    colour: str = "#888"
    dash: str = "dash"


@dataclass(frozen=True)
class Drawing:
    """What an analysis draws with besides its own result: the `run` (config and metrics; its
    weights are not read), every saved result by analysis name, and the `markers` they all
    contribute."""

    run: Run
    results: Mapping[str, Result]
    markers: tuple[Marker, ...] = ()

    def mark(self, fig: Any, **where: Any) -> None:
        """Draw the markers on `fig` (a plotly figure whose x axis is the training step)."""
        for m in self.markers:
            fig.add_vline(x=m.step, line_dash=m.dash, line_color=m.colour, **where)
            fig.add_annotation(
                x=m.step, y=1, yref="paper", text=m.label, showarrow=False, textangle=-90,
                font={"size": 10, "color": m.colour}, xanchor="right", yanchor="top",
            )  # fmt: skip


def _always(run: Run) -> str | None:
    return None


def _nothing(result: Any, drawing: Drawing) -> Sequence[Any]:
    return ()


def _no_markers(result: Any) -> Sequence[Marker]:
    return ()


@dataclass(frozen=True)
class Analysis:
    """One analysis, as ``nerve analyze``, ``nerve sweep`` and the report see it.

    - `name`: lower-case identifier; the result is saved as ``analysis/<name>.json`` and a
      sweep records it in rows named so (``"train"`` is the sweep's own).
    - `title`: the report section's heading.
    - `result`: the :class:`Result` subclass that `fit` returns and the saved file reads back as.
    - `fit(run, fitted, progress)`: the result for a run; `fitted` maps the names in `needs` to
      their results, `progress` is nerve's ``progress(stage, done, total)`` callback.
    - `applies(run)`: None when the analysis reads this run, else why not (one sentence).
    - `needs`: analyses fitted first, whose results `fit` reads.
    - `figures(result, drawing)`: ``(id, plotly figure)`` pairs; `rows(result, drawing)`:
      ``(quantity, value)`` rows of the key-numbers table; `markers(result)`: steps to mark.
    - `default`: run by ``nerve analyze`` without being named (False for the costly ones, which
      have their own command, like ``nerve llc``; the report draws their saved results).
    - `order`: the position of its section in the report (ties by registration).
    """

    name: str
    title: str
    result: type[Result]
    fit: Callable[[Run, Mapping[str, Any], Progress], Result]
    applies: Callable[[Run], str | None] = _always
    needs: tuple[str, ...] = ()
    figures: Callable[[Any, Drawing], Sequence[Figure]] = _nothing
    rows: Callable[[Any, Drawing], Sequence[tuple[str, str]]] = _nothing
    markers: Callable[[Any], Sequence[Marker]] = _no_markers
    default: bool = True
    order: float = 100.0
    _registered: int = field(default=0, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", self.name):
            raise AnalysisError(
                f"`name` (={self.name!r}) must be a lower-case identifier (it names analysis/<name>.json)."
            )
        if self.name == "train":
            raise AnalysisError(
                "`name` (='train') is the sweep's row of the training metrics; choose another."
            )
        if not (isinstance(self.result, type) and issubclass(self.result, Result) and self.result.FORMAT):
            raise AnalysisError(
                f"`result` (={self.result!r}) of analysis {self.name!r} must be a Result with a FORMAT."
            )


_REGISTRY: dict[str, Analysis] = {}
_COUNT = [0]


def register(analysis: Analysis, *, replace: bool = False) -> Analysis:
    """Add `analysis` to the registry (a name already there is refused unless `replace`)."""
    if not isinstance(analysis, Analysis):
        raise AnalysisError(f"`analysis` (={analysis!r}) must be an Analysis.")
    if analysis.name in _REGISTRY and not replace:
        raise AnalysisError(
            f"an analysis named {analysis.name!r} is registered already; pass replace=True to replace it."
        )
    missing = [n for n in analysis.needs if n not in _REGISTRY and n != analysis.name]
    if missing:
        raise AnalysisError(f"analysis {analysis.name!r} needs {missing}, which are not registered.")
    _COUNT[0] += 1
    object.__setattr__(analysis, "_registered", _COUNT[0])
    _REGISTRY[analysis.name] = analysis
    return analysis


def unregister(name: str) -> None:
    """Remove the analysis named `name` (one that others need stays)."""
    if name not in _REGISTRY:
        raise AnalysisError(
            f"`name` (={name!r}) is not a registered analysis; there are {sorted(_REGISTRY)}."
        )
    users = [a.name for a in _REGISTRY.values() if name in a.needs]
    if users:
        raise AnalysisError(f"analysis {name!r} is needed by {users}; unregister those first.")
    del _REGISTRY[name]


def get(name: str) -> Analysis:
    """The registered analysis named `name`."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise AnalysisError(
            f"`name` (={name!r}) is not a registered analysis; there are {sorted(_REGISTRY)}."
        ) from None


def registered() -> tuple[Analysis, ...]:
    """Every registered analysis, in report order."""
    return tuple(sorted(_REGISTRY.values(), key=lambda a: (a.order, a._registered)))


def fit_all(run: Run, names: Sequence[str], *, progress: Progress | None = None) -> dict[str, Result | str]:
    """Fit the analyses named in `names` on `run`, each after those it needs: name → its result,
    or the sentence saying why it does not apply (an analysis whose needs do not apply does not
    either). Analyses fitted only because another needs them are not returned. `progress` hears
    ``(name, 0, 1)`` and ``(name, 1, 1)`` around each fit, and whatever stages the fit reports."""
    report = progress or (lambda stage, done, total: None)
    wanted = [get(n) for n in dict.fromkeys(names)]
    out: dict[str, Result | str] = {}

    def visit(analysis: Analysis, chain: tuple[str, ...]) -> Result | str:
        if analysis.name in out:
            return out[analysis.name]
        if analysis.name in chain:
            raise AnalysisError(f"the analyses {[*chain, analysis.name]} need each other in a cycle.")
        reason = analysis.applies(run)
        fitted: dict[str, Result] = {}
        for need in analysis.needs:
            got = visit(get(need), (*chain, analysis.name))
            if isinstance(got, str):
                reason = reason or f"it needs {need!r}, which does not apply: {got}"
            else:
                fitted[need] = got
        if reason is None:
            report(analysis.name, 0, 1)
            result = analysis.fit(run, fitted, report)
            report(analysis.name, 1, 1)
            if not isinstance(result, analysis.result):
                raise AnalysisError(
                    f"analysis {analysis.name!r} returned a {type(result).__name__}, "
                    f"not its {analysis.result.__name__}."
                )
            out[analysis.name] = result
        else:
            out[analysis.name] = reason
        return out[analysis.name]

    for analysis in wanted:
        visit(analysis, ())
    return {a.name: out[a.name] for a in wanted}


def checkpoint_steps(run: Run, steps: Sequence[int] | None) -> tuple[int, ...]:
    """`steps` (default: every checkpoint of `run`) as a tuple, refused by name when it is empty or
    asks for a step that `run` has no checkpoint of: what an analysis through training reads."""
    chosen = tuple(run.checkpoints if steps is None else steps)
    missing = sorted(set(chosen) - set(run.checkpoints))
    if not chosen or missing:
        raise AnalysisError(
            f"`steps` (={list(chosen)!r}) must be non-empty checkpoints of {run.path}; "
            f"{missing} are not among {list(run.checkpoints)}."
        )
    return chosen


def save(run: Run, name: str, result: Result) -> Path:
    """Write `result` as the run's ``analysis/<name>.json`` (checked to be the registered
    analysis' result type) and return the path."""
    analysis = get(name)
    if not isinstance(result, analysis.result):
        raise AnalysisError(
            f"`result` (a {type(result).__name__}) is not a {analysis.result.__name__}, "
            f"the result of analysis {name!r}."
        )
    return run.dir.write_analysis(name, result.to_json())
