"""`nerve analyze`: every analysis of a run, its JSON results, and the report."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from nerve.analysis.fourier import FourierAnalysis, FourierResult
from nerve.analysis.llc_calibration import LLCCalibration
from nerve.analysis.llc_curve import LLCCurve
from nerve.analysis.progress import ProgressMeasures, ProgressResult
from nerve.analysis.shape import FrequencyCircles
from nerve.errors import AnalysisError, NerveError, NerveWarning
from nerve.proofs.prove import Certificate
from nerve.report._html import write_report
from nerve.training import Run, load

__all__ = ["Analysed", "analyze"]

T = TypeVar("T")

#: Called with (stage, done, total) while the analyses run.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Analysed:
    """What :func:`analyze` wrote: the results and the paths of the files."""

    run: Run
    fourier: FourierResult
    progress: ProgressResult
    circles: FrequencyCircles | None
    files: tuple[Path, ...]

    @property
    def report(self) -> Path:
        return self.run.dir.report


def analyze(run_dir: str | os.PathLike, *, progress: Progress | None = None) -> Analysed:
    """Analyse a run of a group task: the Fourier analysis of its last checkpoint, the progress
    measures over all its checkpoints and, for a cyclic group, the circles of its key
    frequencies; ``analysis/fourier.json``, ``analysis/progress.json``, ``analysis/shape.json``
    and ``report.html`` in the run directory. The report plots the LLC through training when
    ``nerve llc`` has written ``analysis/llc.json``, and its calibration sweep when
    ``nerve llc --calibrate`` has written ``analysis/llc_calibration.json``, and lists the
    certificates that ``nerve prove`` has written to ``proofs/``.
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
    measures = ProgressMeasures(key_irreps=fourier.key_labels).fit(
        run, progress=lambda done, total: report("progress measures", done, total)
    )
    files = [
        run.dir.write_analysis("fourier", fourier.to_json()),
        run.dir.write_analysis("progress", measures.result_.to_json()),
    ]
    circles = None
    if (run.task.group.family or ("",))[0] == "cyclic" and fourier.key_irreps:
        report("shape", 0, 1)
        keys = [int(label.removeprefix("k=")) for label in fourier.key_labels]
        circles = FrequencyCircles(frequencies=keys).fit(run.model, run.task)
        files.append(run.dir.write_analysis("shape", circles.result_.to_json()))
        report("shape", 1, 1)
    llc = _saved(run.dir.analysis("llc"), LLCCurve)
    calibration = _saved(run.dir.analysis("llc_calibration"), LLCCalibration)
    proofs = [_saved(p, Certificate) for p in run.dir.proofs()]
    proofs = [c for c in proofs if c is not None]
    files.append(write_report(run, fourier, measures.result_, circles, llc, calibration, proofs))
    return Analysed(run, fourier, measures.result_, circles, tuple(files))


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
