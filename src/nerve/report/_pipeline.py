"""`nerve analyze`: every analysis of a run, its JSON results, and the report."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from nerve._estimator import Progress
from nerve.analysis.fourier.circles import CirclesResult, FrequencyCircles
from nerve.analysis.fourier.irreps import FourierAnalysis, FourierResult
from nerve.analysis.fourier.progress import ProgressMeasures, ProgressResult
from nerve.analysis.llc.calibration import LLCCalibrationResult
from nerve.analysis.llc.trajectory import LLCTrajectoryResult
from nerve.errors import AnalysisError, NerveError, NerveWarning
from nerve.proofs.prove import Certificate
from nerve.report._html import write_report
from nerve.training import Run, load

__all__ = ["Analysed", "analyze", "render"]

T = TypeVar("T")


@dataclass(frozen=True)
class Analysed:
    """What :func:`analyze` wrote: the results and the paths of the files."""

    run: Run
    fourier: FourierResult
    progress: ProgressResult
    shape: CirclesResult | None
    files: tuple[Path, ...]

    @property
    def report(self) -> Path:
        return self.run.dir.report


def analyze(run_dir: str | os.PathLike, *, progress: Progress | None = None) -> Analysed:
    """Analyse a run of a group task: the Fourier analysis of its last checkpoint, the progress
    measures over all its checkpoints and, for a cyclic group, the circles of its key
    frequencies; ``analysis/fourier.json``, ``analysis/progress.json``, ``analysis/shape.json``,
    then ``report.html`` rendered from them (:func:`render`).
    """
    run = load(run_dir)
    if getattr(run.task, "group", None) is None:
        raise AnalysisError(
            f"run {run.path} trains {run.config.task.kind!r} ({run.task.name}), which has no group: "
            "`nerve analyze` reads group tasks (group composition, a+b or a-b mod p)."
        )
    report = progress or (lambda stage, done, total: None)
    report("fourier", 0, 1)
    fourier = FourierAnalysis().fit(run.model, run.task).result_
    report("fourier", 1, 1)
    measures = ProgressMeasures(key_irreps=fourier.key_labels).fit(run, progress=report)
    files = [
        run.dir.write_analysis("fourier", fourier.to_json()),
        run.dir.write_analysis("progress", measures.result_.to_json()),
    ]
    shape = None
    if (run.task.group.family or ("",))[0] == "cyclic" and fourier.key_irreps:
        report("shape", 0, 1)
        keys = [int(label.removeprefix("k=")) for label in fourier.key_labels]
        shape = FrequencyCircles(frequencies=keys).fit(run.model, run.task).result_
        files.append(run.dir.write_analysis("shape", shape.to_json()))
        report("shape", 1, 1)
    elif run.dir.analysis("shape").exists():  # from an earlier checkpoint's key frequencies
        run.dir.analysis("shape").unlink()
    files.append(render(run.path))
    return Analysed(run, fourier, measures.result_, shape, tuple(files))


def render(run_dir: str | os.PathLike) -> Path:
    """Write ``report.html`` from the results saved in the run (``analysis/*.json``,
    ``proofs/*.json``), the config and the metrics: nothing is refitted and no weights are
    read, so ``nerve prove`` and ``nerve llc`` refresh the page in a moment. A saved result that
    does not read is left out with a warning; the Fourier result is required.
    """
    run = load(run_dir, weights=False)
    fourier = _saved(run.dir.analysis("fourier"), FourierResult)
    if fourier is None:
        raise AnalysisError(
            f"{run.dir.analysis('fourier')} is missing or unreadable: run `nerve analyze {run.path}` first."
        )
    progress = _saved(run.dir.analysis("progress"), ProgressResult)
    shape = _saved(run.dir.analysis("shape"), CirclesResult)
    llc = _saved(run.dir.analysis("llc"), LLCTrajectoryResult)
    calibration = _saved(run.dir.analysis("llc_calibration"), LLCCalibrationResult)
    proofs = [c for c in (_saved(p, Certificate) for p in run.dir.proofs()) if c is not None]
    return write_report(run, fourier, progress, shape, llc, calibration, proofs)


def _saved(path: Path, kind: type[T]) -> T | None:
    """A result another command saved in the run, or None (with a warning naming the file) when
    it is not there or does not read: a stray file must not cost the user the whole report."""
    if not path.is_file():
        return None
    try:
        return kind.from_json(path.read_bytes().decode("utf-8"))  # type: ignore[attr-defined]
    except (ValueError, KeyError, TypeError, AttributeError, NerveError) as err:
        warnings.warn(f"{path} is left out of the report: it is not a {kind.__name__} ({err}).",
                      NerveWarning, stacklevel=2)  # fmt: skip
        return None
