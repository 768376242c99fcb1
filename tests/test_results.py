"""The one base of results (issue 15): every typed result writes strict JSON with its format key
and reads back by its field types; another format, a missing field or a wrong type is refused by
name; files written before the format key still read."""

import json
import math

import pytest

import nerve.analysis
from nerve._results import Result
from nerve.analysis.fourier.progress import Phases, ProgressResult
from nerve.errors import AnalysisError


def _all_results():
    seen, todo = set(), list(Result.__subclasses__())
    while todo:
        cls = todo.pop()
        if cls not in seen:
            seen.add(cls)
            todo += cls.__subclasses__()
    return sorted(seen, key=lambda c: c.__name__)


def test_every_analysis_result_is_a_result_with_its_own_format():
    results = [getattr(nerve.analysis, n) for n in dir(nerve.analysis) if n.endswith("Result")]
    assert results and all(issubclass(cls, Result) for cls in results), results
    formats = [cls.FORMAT for cls in _all_results() if cls.__module__.startswith("nerve.")]
    assert all(f.startswith("nerve-") and f.rsplit("/", 1)[-1].isdigit() for f in formats), formats
    assert len(formats) == len(set(formats))


PROGRESS = ProgressResult(
    steps=(0, 10), key_irreps=("k=1",), train_loss=(2.0, 0.5), train_accuracy=(0.1, 1.0),
    test_loss=(2.1, math.nan), test_accuracy=(0.1, 0.9), restricted_loss=(2.0, 1.0),
    excluded_loss=(2.0, math.inf), gini={"W_E": (0.1, 0.5)}, weight_norm=(3.0, 2.0),
    phases=Phases(memorisation_end=10, cleanup_start=None, cleanup_end=None),
)  # fmt: skip


def test_a_result_round_trips_with_nested_results_tuples_and_nan():
    text = PROGRESS.to_json()
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c}"))
    assert data["format"] == "nerve-progress/1" and data["test_loss"] == [2.1, None]
    back = ProgressResult.from_json(text)
    assert back.phases == PROGRESS.phases and back.gini == PROGRESS.gini and back.steps == (0, 10)
    assert math.isnan(back.test_loss[1]) and math.isnan(back.excluded_loss[1])  # inf is not JSON either


def test_a_file_without_the_format_key_still_reads():
    data = json.loads(PROGRESS.to_json())
    del data["format"]
    assert ProgressResult.from_dict(data).steps == (0, 10)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda d: {**d, "format": "nerve-fourier/1"}, r"format 'nerve-fourier/1' is not 'nerve-progress/1'"),
        (
            lambda d: {k: v for k, v in d.items() if k != "steps"},
            r"field `steps` of ProgressResult is missing",
        ),
        (lambda d: {**d, "steps": [0, "ten"]}, r"field `steps`: must be int, not 'ten'"),
        (lambda d: {**d, "phases": {"memorisation_end": 1.5}}, r"field `phases`: field `memorisation_end`"),
        (lambda d: {**d, "stepz": [1]}, r"unknown ProgressResult fields \['stepz'\]"),
        (lambda d: [d], r"must be a JSON object, not list"),
    ],
)
def test_a_wrong_result_is_refused_by_name(change, says):
    data = change(json.loads(PROGRESS.to_json()))
    with pytest.raises(AnalysisError, match=says):
        ProgressResult.from_dict(data, source="progress.json")


def test_not_json_is_refused_by_name():
    with pytest.raises(AnalysisError, match=r"progress.json is not JSON"):
        ProgressResult.from_json(b"\x80 binary", source="progress.json")


def test_the_committed_llc_fixture_written_before_the_format_key_reads():
    from pathlib import Path

    from nerve.analysis.llc.calibration import LLCCalibrationResult
    from nerve.analysis.llc.trajectory import LLCTrajectoryResult

    folder = Path(__file__).resolve().parents[1] / "fixtures" / "nanda2023" / "analysis"
    curve = LLCTrajectoryResult.from_json((folder / "llc.json").read_text(), source="llc.json")
    calibration = LLCCalibrationResult.from_json((folder / "llc_calibration.json").read_text())
    assert len(curve.steps) == len(curve.llc_mean) > 1 and calibration.epsilons
    assert json.loads(curve.to_json())["format"] == "nerve-llc-trajectory/1"
    # written under its name before the LLC subpackage (LLCCurve), it still reads
    former = {**json.loads(curve.to_json()), "format": "nerve-llc-curve/1"}
    assert LLCTrajectoryResult.from_dict(former) == curve
