"""One self-contained HTML page for a run: plotly figures with plotly.js inlined, no CDN."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from nerve._io import write_text_atomic
from nerve._version import __version__
from nerve.analysis.registry import Drawing, Result, registered
from nerve.proofs.prove import Certificate
from nerve.training import Run

__all__ = ["curves_figure", "key_numbers", "render_report", "write_report"]

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
table.numbers { border-collapse: collapse; } table.numbers td, table.numbers th {
  border: 1px solid #ccc; padding: 4px 10px; text-align: left; }
.note { color: #555; font-size: 0.9em; }
"""


def _figure_html(fig: go.Figure, name: str) -> str:
    fig.update_layout(template="plotly_white", margin={"l": 60, "r": 20, "t": 50, "b": 50})
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"figure-{name}")


def curves_figure(metrics: Sequence[dict], drawing: Drawing) -> go.Figure:
    """Loss (log scale) and accuracy against step, the analyses' step markers drawn."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss", "accuracy"))
    steps = [m["step"] for m in metrics]
    for col, key in ((1, "loss"), (2, "acc")):
        for split, colour in (("train", "#1f77b4"), ("test", "#ff7f0e")):
            values = [m.get(f"{split}_{key}") for m in metrics]
            if any(v is not None for v in values):
                fig.add_trace(
                    go.Scatter(x=steps, y=values, name=f"{split} {key}", line={"color": colour}),
                    row=1,
                    col=col,
                )
    fig.update_yaxes(type="log", row=1, col=1)
    fig.update_xaxes(title_text="step")
    drawing.mark(fig)
    fig.update_layout(title="Training", height=420)
    return fig


def key_numbers(run: Run, results: Mapping[str, Result]) -> list[tuple[str, str]]:
    """The report's plain table: (quantity, value) rows, the run's own and then each analysis'
    (in the registry's order)."""
    rows = [
        ("task", run.task.name),
        ("model", run.config.model.kind),
        ("steps trained", f"{run.config.steps}"),
    ]
    drawing = _drawing(run, results)
    for analysis in registered():
        if analysis.name in results:
            rows += analysis.rows(results[analysis.name], drawing)
    return rows


def _drawing(run: Run, results: Mapping[str, Result]) -> Drawing:
    markers = [m for a in registered() if a.name in results for m in a.markers(results[a.name])]
    return Drawing(run, dict(results), tuple(markers))


def render_report(run: Run, results: Mapping[str, Result], proofs: Sequence[Certificate] = ()) -> str:
    """The whole page as a string, drawn from `results` (analysis name → its saved result) by the
    registered analyses: works offline, plotly.js is inside it."""
    drawing = _drawing(run, results)
    sections = [f"<section>{_figure_html(curves_figure(run.metrics(), drawing), 'curves')}</section>"]
    for analysis in registered():
        if analysis.name not in results:
            continue
        figures = analysis.figures(results[analysis.name], drawing)
        if figures:
            sections.append(f'<h3 id="analysis-{analysis.name}">{html.escape(analysis.title)}</h3>')
            sections += [f"<section>{_figure_html(fig, name)}</section>" for name, fig in figures]
    table = "\n".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in key_numbers(run, results)
    )
    body = "\n".join(sections)
    proved = _proofs_html(proofs)
    title = f"nerve report: {run.path.name}"
    analysed = ", ".join(a.name for a in registered() if a.name in results)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{_STYLE}</style>
<script type="text/javascript">{get_plotlyjs()}</script>
</head><body>
<h1>{html.escape(title)}</h1>
<p class="note">{html.escape(run.task.name)} · nerve {html.escape(__version__)} ·
analyses: {html.escape(analysed)}.</p>
<h2>Key numbers</h2>
<table class="numbers">{table}</table>
{proved}
<h2>Figures</h2>
{body}
</body></html>
"""


def _proofs_html(proofs: Sequence[Certificate]) -> str:
    """A table of what is proved about the run (``nerve prove``), by which method, at what cost."""
    if not proofs:
        return ""
    from nerve.proofs.figures import exhaustive_share, frontier_figure

    rows = []
    for c in proofs:
        r = c.result
        share = "" if c.compact is None else f" ({exhaustive_share(c):.1%} of the exhaustive proof's)"
        cells = (
            c.statement_text, f"step {c.step}", r.verdict,
            f"{r.n_hold} of {r.n_inputs} hold; {len(r.failing)} fail; {len(r.undecided)} undecided",
            f"least margin ≥ {r.margin_lower:.4g}", c.method,
            f"{r.flops:.3g} FLOPs{share}, {r.seconds:.2f} s",
        )  # fmt: skip
        rows.append("<tr>" + "".join(f"<td>{html.escape(x)}</td>" for x in cells) + "</tr>")
    head = "".join(
        f"<th>{h}</th>" for h in ("statement", "weights", "verdict", "inputs", "bound", "method", "cost")
    )
    fig = frontier_figure(proofs)
    return (
        '<h2 id="proofs">Proofs</h2>\n<p class="note">About the real-number network defined by the stored '
        "weights; check a certificate with <code>nerve check</code>.</p>\n"
        f'<table class="numbers"><tr>{head}</tr>{"".join(rows)}</table>'
    ) + ("" if fig is None else _figure_html(fig, "proofs-frontier"))


def write_report(run: Run, results: Mapping[str, Result], proofs: Sequence[Certificate] = ()) -> Path:
    """Write ``report.html`` into the run directory and return its path."""
    return write_text_atomic(run.dir.report, render_report(run, results, proofs))
