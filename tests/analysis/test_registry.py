"""A new analysis is one module plus one registration: registered here, a toy analysis appears in
`nerve analyze`, in `nerve sweep`'s rows and in the report with no other edit (issue 15)."""

import dataclasses
import json
import re
from typing import ClassVar

import plotly.graph_objects as go
import pytest
from typer.testing import CliRunner

import nerve
from nerve.analysis.registry import Analysis, Marker, Result, fit_all, get, register, registered, unregister
from nerve.cli import app
from nerve.errors import AnalysisError
from nerve.sweep import load_spec, run_sweep
from nerve.training import ModelConfig, TaskConfig, TrainConfig, train

CONFIG = TrainConfig(
    task=TaskConfig(kind="modular", p=7),
    model=ModelConfig(kind="mlp", d_embed=8, d_hidden=16),
    steps=20,
    eval_every=10,
    checkpoint_every=10,
    train_fraction=0.5,
)


@dataclasses.dataclass(frozen=True)
class WeightNormsResult(Result):
    FORMAT: ClassVar[str] = "nerve-test-weight-norms/1"
    step: int
    norms: dict[str, float]


def _norms(run):
    return {name: float(p.detach().double().norm()) for name, p in run.model.named_parameters()}


def _fit(run, fitted, progress):
    progress("weight norms", 1, 1)
    return WeightNormsResult(run.checkpoints[-1], _norms(run))


def _figures(result, drawing):
    fig = go.Figure(go.Bar(x=list(result.norms), y=list(result.norms.values())))
    return [("weight-norms", fig)]


TOY = Analysis(
    name="weight_norms",
    title="Weight norms (a toy analysis registered by a test)",
    result=WeightNormsResult,
    fit=_fit,
    figures=_figures,
    rows=lambda result, drawing: [("largest weight norm", f"{max(result.norms.values()):.6g}")],
    markers=lambda result: [Marker(result.step, "weights measured", "#9467bd")],
)


@pytest.fixture
def toy():
    register(TOY)
    yield TOY
    unregister(TOY.name)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("registry") / "run"
    train(CONFIG, path)
    return path


def test_a_registered_analysis_appears_in_nerve_analyze_and_in_the_report(toy, run_dir):
    out = CliRunner().invoke(app, ["analyze", str(run_dir)])
    assert out.exit_code == 0, out.output
    saved = WeightNormsResult.from_json((run_dir / "analysis" / "weight_norms.json").read_text())
    run = nerve.load(run_dir)
    assert saved == WeightNormsResult(run.checkpoints[-1], _norms(run))
    page = (run_dir / "report.html").read_text()
    ids = re.findall(r'id="figure-([a-z-]+)"', page)
    assert ids[-1] == "weight-norms" and "fourier" not in ids  # its section, after the built-ins
    assert "Weight norms (a toy analysis registered by a test)" in page
    largest = max(saved.norms.values())
    assert f"<tr><th>largest weight norm</th><td>{largest:.6g}</td></tr>" in page
    assert "weights measured" in page  # its marker, drawn on the training curves
    assert "largest weight norm" in out.output  # and in the command's summary


def test_a_registered_analysis_is_a_sweep_row_holding_its_result_json(toy, tmp_path):
    spec = {"base": CONFIG.to_dict(), "grid": {"seed": [0, 1]}, "analyses": ["weight_norms"]}
    table = run_sweep(load_spec(spec), tmp_path)
    rows = [r for r in table if r["analysis"] == "weight_norms"]
    assert len(rows) == 2
    for row in rows:
        run = nerve.load(tmp_path / "runs" / row["run_id"])
        expected = json.loads(WeightNormsResult(run.checkpoints[-1], _norms(run)).to_json())
        assert row["result"] == expected and row["result"]["format"] == "nerve-test-weight-norms/1"


def test_an_analysis_that_does_not_apply_is_skipped_with_its_reason(tmp_path):
    product = tmp_path / "product"
    train(CONFIG.replace(task__op="mul"), product)  # a*b mod 7: no group law on all of Z/7
    run = nerve.load(product)
    fitted = fit_all(run, ["fourier", "progress"])
    assert "which has no group" in fitted["fourier"]
    assert fitted["progress"] == fitted["fourier"]  # progress does not apply for the same reason


def test_registration_refuses_what_it_cannot_keep(toy):
    with pytest.raises(AnalysisError, match=r"'weight_norms' is registered already"):
        register(TOY)
    with pytest.raises(AnalysisError, match=r"`name` \(='Weight Norms'\) must be a lower-case identifier"):
        dataclasses.replace(TOY, name="Weight Norms")
    with pytest.raises(AnalysisError, match=r"needs \['absent'\], which are not registered"):
        register(dataclasses.replace(TOY, name="other", needs=("absent",)))
    with pytest.raises(
        AnalysisError, match=r"'fourier' is needed by \['circles', 'progress', 'llc_irreps'\]"
    ):
        unregister("fourier")
    with pytest.raises(AnalysisError, match=r"`name` \(='nope'\) is not a registered analysis"):
        get("nope")


def test_a_fit_that_returns_another_type_is_refused(run_dir):
    wrong = register(dataclasses.replace(TOY, name="wrong", fit=lambda run, fitted, progress: "a string"))
    try:
        with pytest.raises(
            AnalysisError, match=r"analysis 'wrong' returned a str, not its WeightNormsResult"
        ):
            fit_all(nerve.load(run_dir), ["wrong"])
    finally:
        unregister(wrong.name)


def test_the_built_in_analyses_are_registered_in_report_order():
    names = [a.name for a in registered()]
    assert names[:7] == [
        "fourier",
        "progress",
        "circles",
        "learning_order",
        "llc",
        "llc_irreps",
        "llc_calibration",
    ]
    assert [a.name for a in registered() if a.default] == [
        "fourier",
        "progress",
        "circles",
        "symmetry",
        "lie_fourier",
    ]
