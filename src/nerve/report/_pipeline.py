"""`nerve analyze`: the registered analyses of a run, their JSON results, and the report."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from nerve._estimator import Progress
from nerve.analysis.registry import Result, fit_all, registered, save
from nerve.errors import AnalysisError, NerveError, NerveWarning
from nerve.proofs.prove import Certificate
from nerve.report._html import write_report
from nerve.training import Run, load

R = TypeVar("R", Result, Certificate)

__all__ = ["Analysed", "analyze", "render"]


@dataclass(frozen=True)
class Analysed:
    """What :func:`analyze` wrote: each analysis' result by name, why the others did not apply,
    and the paths of the files."""

    run: Run
    results: Mapping[str, Result]
    skipped: Mapping[str, str]
    files: tuple[Path, ...]

    @property
    def report(self) -> Path:
        return self.run.dir.report


def analyze(
    run_dir: str | os.PathLike, *, analyses: Sequence[str] | None = None, progress: Progress | None = None
) -> Analysed:
    """Fit the registered analyses of a run (`analyses`: their names; default, every analysis
    registered as ``default``: for a group task the Fourier analysis of its last checkpoint, the
    progress measures over all its checkpoints and, for a cyclic group, the circles of its key
    frequencies), each that applies to the run; write ``analysis/<name>.json`` for each, then
    ``report.html`` rendered from the saved results (:func:`render`). An analysis that does not
    apply any more has its earlier file removed; when none applies, nothing is written.
    """
    run = load(run_dir)
    names = [a.name for a in registered() if a.default] if analyses is None else list(analyses)
    fitted = fit_all(run, names, progress=progress)
    results = {name: r for name, r in fitted.items() if isinstance(r, Result)}
    skipped = {name: r for name, r in fitted.items() if isinstance(r, str)}
    if not results:
        reasons = "; ".join(f"{name}: {why}" for name, why in skipped.items())
        raise AnalysisError(f"run {run.path}: none of the analyses {names} applies ({reasons}).")
    files = [save(run, name, result) for name, result in results.items()]
    for name in skipped:  # from an earlier state of the run, which this one contradicts
        run.dir.analysis(name).unlink(missing_ok=True)
    files.append(render(run.path))
    return Analysed(run, results, skipped, tuple(files))


def render(run_dir: str | os.PathLike) -> Path:
    """Write ``report.html`` from the results saved in the run (``analysis/<name>.json`` of every
    registered analysis, ``proofs/*.json``), the config and the metrics: nothing is refitted and
    no weights are read, so ``nerve prove`` and ``nerve llc`` refresh the page in a moment (a run
    no analysis applies to, a sparse-parity run say, gets a page of its proofs). A saved result that
    does not read is left out with a warning.
    """
    run = load(run_dir, weights=False)
    results = {}
    for analysis in registered():
        result = _saved(run.dir.analysis(analysis.name), analysis.result)
        if result is not None:
            results[analysis.name] = result
    proofs = [c for c in (_saved(p, Certificate) for p in run.dir.proofs()) if c is not None]
    if not results and not proofs:  # a page of training curves alone says nothing `nerve train` did not
        raise AnalysisError(
            f"{run.path} holds no analysis result or proof that reads: run `nerve analyze {run.path}` first."
        )
    return write_report(run, results, proofs)


def _saved(path: Path, kind: type[R]) -> R | None:
    """A result another command saved in the run, or None (with a warning naming the file) when
    it is not there or does not read: a stray file must not cost the user the whole report."""
    if not path.is_file():
        return None
    try:
        return kind.from_json(path.read_bytes().decode("utf-8"))
    except (ValueError, KeyError, TypeError, AttributeError, NerveError) as err:
        warnings.warn(f"{path} is left out of the report: it is not a {kind.__name__} ({err}).",
                      NerveWarning, stacklevel=2)  # fmt: skip
        return None
