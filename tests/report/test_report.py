"""`analyze` writes the results and a self-contained report whose figures render offline."""

import json
import math
import re
import shutil
import subprocess
from html.parser import HTMLParser

import pytest
import torch

from nerve import NerveError
from nerve.analysis import FourierResult
from nerve.analysis.fourier.circles import CirclesResult
from nerve.analysis.fourier.progress import ProgressResult
from nerve.report import analyze, render
from nerve.training import ModelConfig, TaskConfig, TrainConfig, train

TINY = TrainConfig(
    task=TaskConfig(kind="modular", p=11),
    model=ModelConfig(kind="mlp", d_embed=16, d_hidden=32),
    steps=200,
    lr=3e-3,
    train_fraction=0.5,
    eval_every=10,
    checkpoint_every=50,
)


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "tiny"
    train(TINY, run_dir)
    return analyze(run_dir)


def test_analyze_writes_results_that_read_back(analysed):
    folder = analysed.run.path / "analysis"
    fourier, progress, circles = (analysed.results[n] for n in ("fourier", "progress", "circles"))
    assert list(analysed.results) == ["fourier", "progress", "circles"]
    assert set(analysed.skipped) == {"symmetry", "lie_fourier"}  # for images and compact groups
    assert FourierResult.from_json((folder / "fourier.json").read_text()) == fourier
    assert ProgressResult.from_json((folder / "progress.json").read_text()) == progress
    assert progress.steps == analysed.run.checkpoints
    assert progress.key_irreps == fourier.key_labels
    assert CirclesResult.from_json((folder / "circles.json").read_text()) == circles
    assert len(circles.circles) == 2 * len(fourier.key_irreps) > 0  # W_a and W_b
    json.loads((folder / "fourier.json").read_text())  # strict JSON: no NaN


class _Figures(HTMLParser):
    """Collects the figure divs and, for each, whether plotly drew an svg inside it."""

    def __init__(self):
        super().__init__()
        self.stack, self.drawn = [], {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        figure = (attrs.get("id") or "").startswith("figure-")
        if figure:
            self.drawn[attrs["id"]] = False
        if tag not in ("br", "img", "input", "meta", "link", "path", "rect", "line", "circle", "stop"):
            self.stack.append(attrs.get("id") if figure else None)
        if "main-svg" in (attrs.get("class") or ""):
            for owner in reversed(self.stack):
                if owner:
                    self.drawn[owner] = True
                    break

    def handle_endtag(self, tag):
        if self.stack and tag not in ("path", "rect", "line", "circle", "stop"):
            self.stack.pop()


def test_report_is_self_contained(analysed):
    page = analysed.report.read_text()
    assert not re.search(r"<script[^>]+src=", page)  # plotly.js is inline, not fetched
    assert not re.search(r"<link[^>]+href=\"https?:", page)
    ids = re.findall(r'id="(figure-[a-z]+)"', page)
    assert ids == [
        "figure-curves",
        "figure-spectrum",
        "figure-neurons",
        "figure-logits",
        "figure-progress",
        "figure-circles",
        "figure-diagrams",
        "figure-barcode",
    ]
    assert "a+b mod 11" in page and "key irreps" in page


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (.ci/run installs Debian's)")
def test_report_figures_render_in_headless_chromium_offline(analysed, tmp_path):
    # no network: every request would go to a dead proxy, and background networking is off
    cmd = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
        f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=15000", "--dump-dom",
        analysed.report.resolve().as_uri(),
    ]  # fmt: skip
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout
    figures = _Figures()
    figures.feed(dom)
    assert len(figures.drawn) == 8
    assert all(figures.drawn.values()), figures.drawn


def test_barcode_draws_every_bar_and_colours_the_features():
    from nerve.analysis.topology.figures import barcode_figure
    from nerve.analysis.topology.homology import PersistentHomology

    t = torch.linspace(0, 2 * math.pi, 61)[:-1]
    r = PersistentHomology().fit(torch.stack([t.cos(), t.sin()], 1)).result_
    fig = barcode_figure(r)
    assert len(fig.data) == sum(len(d) for d in r.diagrams)  # one segment per bar
    wide = [trace for trace in fig.data if trace.line.width == 3]
    assert len(wide) == sum(r.betti)  # the features, and only they, drawn in colour


def test_analyze_refuses_a_task_without_a_group(tmp_path):
    run_dir = tmp_path / "mul"
    config = TINY.replace(task__op="mul", steps=10, checkpoint_every=10)
    train(config, run_dir)
    with pytest.raises(
        NerveError, match=r"none of the analyses .* trains 'modular' \(a\*b mod 11\), which has no group"
    ):
        analyze(run_dir)
    assert not (run_dir / "analysis").exists() and not (run_dir / "report.html").exists()


def test_a_stray_file_that_does_not_read_is_left_out_of_the_report_not_fatal(analysed):
    import nerve

    proofs = analysed.run.path / "proofs"
    proofs.mkdir(exist_ok=True)
    (proofs / "broken.json").write_bytes(b'{"format": "nerve-cert')
    (analysed.run.path / "analysis" / "llc.json").write_bytes(bytes(range(256)))
    analysed.report.unlink()
    try:
        with pytest.warns(nerve.NerveWarning) as caught:
            again = analyze(analysed.run.path)
        said = sorted(str(w.message).split(" is left out")[0].rsplit("/", 1)[-1] for w in caught)
        assert said == ["broken.json", "llc.json"]
        assert again.report.is_file() and "Irreps of the weights" in again.report.read_text()
    finally:
        (proofs / "broken.json").unlink()
        (analysed.run.path / "analysis" / "llc.json").unlink()


def test_the_report_is_rebuilt_from_the_saved_results_alone(analysed, tmp_path):
    # a copy whose weights are garbage: rendering must read none of them, and refit nothing
    copy = tmp_path / "copy"
    shutil.copytree(analysed.run.path, copy)
    for checkpoint in (copy / "checkpoints").iterdir():
        checkpoint.write_bytes(b"not weights")
    (copy / "report.html").unlink()
    assert render(copy) == copy / "report.html"
    assert (copy / "report.html").read_text() == analysed.report.read_text().replace(
        f"nerve report: {analysed.run.path.name}", "nerve report: copy"
    )
    shutil.rmtree(copy / "analysis")
    with pytest.raises(NerveError, match=r"holds no analysis result or proof that reads: run `nerve analyze"):
        render(copy)
