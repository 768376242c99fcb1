"""One self-contained HTML page for a run: plotly figures with plotly.js inlined, no CDN."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from nerve._io import write_text_atomic
from nerve._version import __version__
from nerve.analysis.fourier.circles import CirclesResult
from nerve.analysis.fourier.irreps import FourierResult
from nerve.analysis.fourier.progress import ProgressResult
from nerve.analysis.llc.calibration import LLCCalibrationResult
from nerve.analysis.llc.trajectory import LLCTrajectoryResult
from nerve.analysis.topology.homology import TopologyResult
from nerve.proofs.prove import Certificate
from nerve.training import Run

__all__ = ["render_report", "write_report"]

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
table.numbers { border-collapse: collapse; } table.numbers td, table.numbers th {
  border: 1px solid #ccc; padding: 4px 10px; text-align: left; }
.note { color: #555; font-size: 0.9em; }
"""

PHASE_COLOURS = {"memorisation_end": "#888", "cleanup_start": "#d62728", "cleanup_end": "#2ca02c"}


def _figure_html(fig: go.Figure, name: str) -> str:
    fig.update_layout(template="plotly_white", margin={"l": 60, "r": 20, "t": 50, "b": 50})
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"figure-{name}")


def _add_phases(fig: go.Figure, progress: ProgressResult | None, **where: Any) -> None:
    if progress is None:
        return
    for name, colour in PHASE_COLOURS.items():
        step = getattr(progress.phases, name)
        if step is not None:
            fig.add_vline(x=step, line_dash="dash", line_color=colour, **where)
            fig.add_annotation(
                x=step, y=1, yref="paper", text=name.replace("_", " "), showarrow=False,
                font={"size": 10, "color": colour}, textangle=-90, xanchor="right", yanchor="top",
            )  # fmt: skip


def curves_figure(metrics: Sequence[dict], progress: ProgressResult | None) -> go.Figure:
    """Loss (log scale) and accuracy against step, the phase boundaries marked."""
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
    _add_phases(fig, progress)
    fig.update_layout(title="Training", height=420)
    return fig


def llc_figure(
    curve: LLCTrajectoryResult, metrics: Sequence[dict], progress: ProgressResult | None
) -> go.Figure:
    """λ̂ at each checkpoint (± its spread over chains) beside the training loss, with the stage
    boundaries of λ̂ (dotted) and the loss-based phases (dashed)."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(
        go.Scatter(
            x=list(curve.steps), y=list(curve.llc_mean), name="LLC λ̂", mode="lines+markers",
            error_y={"type": "data", "array": list(curve.llc_std), "visible": True},
            line={"color": "#2ca02c"},
        ),
        secondary_y=False,
    )  # fmt: skip
    steps = [m["step"] for m in metrics if m.get("train_loss") is not None]
    losses = [m["train_loss"] for m in metrics if m.get("train_loss") is not None]
    loss_line = go.Scatter(x=steps, y=losses, name="train loss", line={"color": "#1f77b4", "width": 1})
    fig.add_trace(loss_line, secondary_y=True)
    for step in curve.boundaries:
        fig.add_vline(x=step, line_dash="dot", line_color="#2ca02c")
    _add_phases(fig, progress)
    fig.update_yaxes(title_text="λ̂", secondary_y=False)
    fig.update_yaxes(title_text="train loss", type="log", exponentformat="e", secondary_y=True)
    fig.update_xaxes(title_text="step")
    title = "Local learning coefficient through training (dotted: its stage boundaries)"
    fig.update_layout(title=title, height=420)
    return fig


def llc_calibration_figure(cal: LLCCalibrationResult) -> go.Figure:
    """λ̂ against the SGLD step ε, a line per nβ (± spread over chains), beside the MALA
    acceptance; filled markers: healthy cells, crosses: the rest, a star: the recommended ε."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("λ̂ against ε", "MALA acceptance"))
    colours = ("#2ca02c", "#9467bd", "#ff7f0e", "#1f77b4", "#d62728")
    eps = list(cal.epsilons)
    for i, label in enumerate(cal.nbeta_labels):
        colour = colours[i % len(colours)]
        name = f"nβ = {label}" + ("" if label == f"{cal.nbetas[i]}" else f" ({cal.nbetas[i]:.4g})")
        symbols = ["circle" if ok else "x-thin-open" for ok in cal.healthy[i]]
        means = [m if math.isfinite(m) else None for m in cal.llc_mean[i]]
        fig.add_trace(
            go.Scatter(
                x=eps, y=means, name=name, mode="lines+markers", legendgroup=label,
                marker={"symbol": symbols, "size": 9, "color": colour, "line": {"color": colour, "width": 2}},
                error_y={"type": "data", "array": list(cal.llc_std[i]), "visible": True},
                line={"color": colour},
            ),
            row=1, col=1,
        )  # fmt: skip
        fig.add_trace(
            go.Scatter(
                x=eps, y=list(cal.mala_acceptance[i]), name=name, mode="lines+markers", legendgroup=label,
                showlegend=False, line={"color": colour},
            ),
            row=1, col=2,
        )  # fmt: skip
        if cal.recommended[i] is not None:
            j = eps.index(cal.recommended[i])
            fig.add_trace(
                go.Scatter(
                    x=[eps[j]], y=[cal.llc_mean[i][j]], mode="markers", name=f"recommended, {name}",
                    marker={"symbol": "star", "size": 18, "color": colour}, legendgroup=label,
                ),
                row=1, col=1,
            )  # fmt: skip
    fig.update_xaxes(type="log", title_text="ε (SGLD step)")
    fig.update_yaxes(title_text="λ̂", row=1, col=1)
    fig.update_yaxes(title_text="acceptance", range=[0, 1.05], row=1, col=2)
    fig.update_layout(title="LLC calibration (crosses fail a rule of the sweep)", height=420)
    return fig


def spectrum_figure(result: FourierResult) -> go.Figure:
    """Fraction of variance of each embedding and of W_U in each irrep."""
    fig = go.Figure()
    labels = list(result.irreps)
    for name, fractions in [*result.embeddings.items(), ("W_U", result.unembedding)]:
        fig.add_trace(go.Bar(x=labels, y=list(fractions), name=name))
    fig.update_layout(
        title="Irrep spectrum of the embeddings",
        barmode="group",
        yaxis_title="fraction of variance",
        height=400,
    )
    return fig


def neurons_figure(result: FourierResult) -> go.Figure:
    """Neurons grouped by their dominant irrep: how many, and how cleanly."""
    labels = list(result.irreps)
    live = [(i, f) for i, f in zip(result.neuron_irrep, result.neuron_fraction) if i >= 0]
    order = sorted(range(len(live)), key=lambda k: (live[k][0], -live[k][1]))
    fig = make_subplots(
        rows=1, cols=2, column_widths=[0.45, 0.55],
        subplot_titles=("live neurons by dominant irrep", "each neuron's fraction in its irrep"),
    )  # fmt: skip
    counts = [sum(1 for i, _ in live if i == r) for r in range(len(labels))]
    used = [r for r in range(len(labels)) if counts[r]]
    fig.add_trace(
        go.Bar(x=[labels[r] for r in used], y=[counts[r] for r in used], name="neurons"), row=1, col=1
    )
    fig.add_trace(
        go.Scatter(
            x=list(range(len(order))),
            y=[live[k][1] for k in order],
            mode="markers",
            marker={"color": [live[k][0] for k in order], "colorscale": "Turbo", "size": 4},
            text=[labels[live[k][0]] for k in order],
            name="fraction",
        ),
        row=1,
        col=2,
    )
    fig.update_xaxes(title_text="neurons, grouped by irrep", row=1, col=2)
    fig.update_yaxes(range=[0, 1.02], row=1, col=2)
    dead = len(result.neuron_irrep) - len(live)
    fig.update_layout(title=f"Neurons ({len(live)} live, {dead} dead)", showlegend=False, height=400)
    return fig


def logits_figure(result: FourierResult) -> go.Figure:
    """Fraction of logit variance along each character χ_ρ(t(a,b)·c⁻¹)."""
    key = set(result.key_irreps)
    colours = ["#d62728" if i in key else "#7f7f7f" for i in range(len(result.irreps))]
    fig = go.Figure(go.Bar(x=list(result.irreps), y=list(result.logit_fractions), marker_color=colours))
    fig.update_layout(
        title="Logit variance by irrep (key irreps in red)",
        yaxis_title="fraction of logit variance",
        height=380,
    )
    return fig


def progress_figure(progress: ProgressResult) -> go.Figure:
    """Nanda et al.'s progress measures at each checkpoint."""
    fig = make_subplots(
        rows=1, cols=3, subplot_titles=("losses", "Gini of Fourier norms", "sum of squared weights")
    )
    s = list(progress.steps)
    for name in ("train_loss", "test_loss", "restricted_loss", "excluded_loss"):
        fig.add_trace(
            go.Scatter(x=s, y=list(getattr(progress, name)), name=name.replace("_", " ")), row=1, col=1
        )
    for name, values in progress.gini.items():
        fig.add_trace(go.Scatter(x=s, y=list(values), name=f"Gini {name}"), row=1, col=2)
    fig.add_trace(go.Scatter(x=s, y=list(progress.weight_norm), name="‖θ‖²"), row=1, col=3)
    fig.update_yaxes(type="log", row=1, col=1)
    fig.update_xaxes(title_text="step")
    _add_phases(fig, progress)
    fig.update_layout(title=f"Progress measures (key irreps {', '.join(progress.key_irreps)})", height=420)
    return fig


def shape_figure(shape: CirclesResult) -> go.Figure:
    """Each key frequency's plane of the embeddings (colour: k·a mod p), and the circular
    coordinate of its circle against k·a mod p: drawn from the points the result stores."""
    drawn = {(c.embedding, c.frequency): c for c in shape.circles if c.points}
    keys = list(drawn)
    fig = make_subplots(
        rows=2, cols=len(keys), vertical_spacing=0.15,
        subplot_titles=[f"{name}, k={k}" for name, k in keys] + ["" for _ in keys],
    )  # fmt: skip
    for col, (name, k) in enumerate(keys, start=1):
        points = drawn[(name, k)].points
        p = len(points)
        order = [(k * a) % p for a in range(p)]
        fig.add_trace(
            go.Scatter(
                x=[x for x, _ in points], y=[y for _, y in points], mode="markers",
                marker={"color": order, "colorscale": "HSV", "size": 5}, text=[f"a={a}" for a in range(p)],
                showlegend=False,
            ),
            row=1, col=col,
        )  # fmt: skip
        fig.update_yaxes(scaleanchor=f"x{col}", row=1, col=col)
        theta = drawn[(name, k)].coordinate
        if theta is not None:
            fig.add_trace(
                go.Scatter(x=order, y=list(theta), mode="markers", marker={"size": 4}, showlegend=False),
                row=2, col=col,
            )  # fmt: skip
        fig.update_xaxes(title_text="k·a mod p", row=2, col=col)
    fig.update_yaxes(title_text="circular coordinate", row=2, col=1)
    fig.update_layout(title="Shape of the representation: one circle per key frequency", height=560)
    return fig


def diagrams_figure(topology: dict[tuple[str, int], TopologyResult]) -> go.Figure:
    """Persistence diagrams (H0, H1) of each plane, with the line above which a bar is a feature."""
    keys = list(topology)
    fig = make_subplots(rows=1, cols=len(keys), subplot_titles=[f"{name}, k={k}" for name, k in keys])
    for col, key in enumerate(keys, start=1):
        r = topology[key]
        top = max((d for dgm in r.diagrams for _, d in dgm if math.isfinite(d)), default=1.0) * 1.1
        for dim, colour in ((0, "#1f77b4"), (1, "#d62728")):
            bars = r.diagrams[dim]
            deaths = [d if math.isfinite(d) else top for _, d in bars]
            fig.add_trace(
                go.Scatter(
                    x=[b for b, _ in bars], y=deaths, mode="markers",
                    marker={"color": colour, "size": 6}, name=f"H{dim}", showlegend=col == 1,
                ),
                row=1, col=col,
            )  # fmt: skip
        cut = r.significance * r.noise_scale
        fig.add_trace(
            go.Scatter(x=[0, top], y=[cut, top + cut], mode="lines", line={"dash": "dot", "color": "#999"},
                       name="feature threshold", showlegend=col == 1),
            row=1, col=col,
        )  # fmt: skip
        fig.add_trace(
            go.Scatter(x=[0, top], y=[0, top], mode="lines", line={"color": "#ccc"}, showlegend=False),
            row=1, col=col,
        )  # fmt: skip
        fig.update_xaxes(title_text="birth", row=1, col=col)
    fig.update_yaxes(title_text="death (top edge: never)", row=1, col=1)
    fig.update_layout(title="Persistence diagrams of the frequency planes", height=380)
    return fig


def barcode_figure(result: TopologyResult, *, title: str = "Barcode") -> go.Figure:
    """The bars of each dimension as horizontal segments from birth to death (a bar that never
    dies runs to the right edge), longest first; features (longer than the threshold) in
    colour, the rest grey."""
    top = max((d for dgm in result.diagrams for _, d in dgm if math.isfinite(d)), default=1.0) * 1.1
    fig = go.Figure()
    row = 0
    for dim, colour in zip(range(len(result.diagrams)), ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")):
        features = set(result.significant[dim])
        order = sorted(
            range(len(result.diagrams[dim])),
            key=lambda i: result.diagrams[dim][i][0] - result.diagrams[dim][i][1],
        )
        for i in order:  # longest first
            birth, death = result.diagrams[dim][i]
            end = death if math.isfinite(death) else top
            feature = i in features
            fig.add_trace(
                go.Scatter(
                    x=[birth, end], y=[row, row], mode="lines", showlegend=False,
                    line={"color": colour if feature else "#bbb", "width": 3 if feature else 1},
                    hovertext=f"H{dim}: [{birth:.3g}, {death:.3g})",
                )
            )  # fmt: skip
            row += 1
        row += 2  # a gap between dimensions
    fig.update_yaxes(showticklabels=False, autorange="reversed")
    fig.update_xaxes(title_text="scale")
    fig.update_layout(
        title=f"{title} (H0 blue, H1 red, H2 green; grey: below the feature threshold)", height=380
    )
    return fig


def _number(x: float | None, fmt: str = ".3g") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return format(x, fmt)


def key_numbers(
    run: Run, result: FourierResult, progress: ProgressResult | None, shape: CirclesResult | None = None
) -> list[tuple[str, str]]:
    """The report's plain table: (quantity, value) rows."""
    rows = [
        ("task", result.task),
        ("group", f"{result.group} ({len(result.irreps)} real irreps)"),
        ("model", run.config.model.kind),
        ("checkpoint analysed", f"step {run.checkpoints[-1]}"),
        ("accuracy on every pair", _number(result.accuracy, ".2%")),
        ("loss on every pair", _number(result.loss)),
        ("key irreps", ", ".join(result.key_labels) or "none"),
        ("rule for key irreps", result.key_rule),
        ("logit variance along the key characters χ(t(a,b)·c⁻¹)", _number(result.key_logit_fraction, ".1%")),
        ("logit variance that is a function of t(a,b)·c⁻¹", _number(result.logit_law_fraction, ".1%")),
        ("neurons with > 85% of their variance in one irrep", _number(result.clean_neuron_fraction(), ".1%")),
    ]
    for name, fractions in [*result.embeddings.items(), ("W_U", result.unembedding)]:
        share = sum(fractions[i] for i in result.key_irreps)
        rows.append((f"{name} variance in the key irreps", _number(share, ".1%")))
    rows.append(("neuron variance in the key irreps", _number(result.key_neuron_fraction, ".1%")))
    if result.clock_pizza is not None:
        rows.append(
            ("gradient symmetricity (Zhong et al.)", _number(result.clock_pizza.gradient_symmetricity))
        )
        rows.append(("distance irrelevance (Zhong et al.)", _number(result.clock_pizza.distance_irrelevance)))
    if progress is not None:
        rows.append(("restricted loss (final)", _number(progress.restricted_loss[-1])))
        rows.append(("excluded loss (final)", _number(progress.excluded_loss[-1])))
        p = progress.phases
        rows.append(("end of memorisation", _number(p.memorisation_end, "d")))
        rows.append(("clean-up", f"steps {_number(p.cleanup_start, 'd')} to {_number(p.cleanup_end, 'd')}"))
        rows.append(("rule for phases", p.rule))
    for c in shape.circles if shape is not None else ():
        agreement = (
            "no significant circle" if c.agreement is None else f"coordinate vs k·a: {c.agreement:.3f}"
        )
        rows.append((f"{c.embedding} in the plane of k={c.frequency}", f"Betti {c.betti}, {agreement}"))
    return rows


def render_report(
    run: Run,
    result: FourierResult,
    progress: ProgressResult | None = None,
    shape: CirclesResult | None = None,
    llc: LLCTrajectoryResult | None = None,
    calibration: LLCCalibrationResult | None = None,
    proofs: Sequence[Certificate] = (),
) -> str:
    """The whole page as a string: works offline, plotly.js is inside it."""
    figures = [("curves", curves_figure(run.metrics(), progress))]
    if llc is not None:
        figures.append(("llc", llc_figure(llc, run.metrics(), progress)))
    if calibration is not None:
        figures.append(("llc-calibration", llc_calibration_figure(calibration)))
    figures += [
        ("spectrum", spectrum_figure(result)),
        ("neurons", neurons_figure(result)),
        ("logits", logits_figure(result)),
    ]
    if progress is not None:
        figures.append(("progress", progress_figure(progress)))
    topology = {(c.embedding, c.frequency): c.topology for c in shape.circles} if shape is not None else {}
    topology = {key: r for key, r in topology.items() if r is not None}
    if topology:
        figures.append(("shape", shape_figure(shape)))
        figures.append(("diagrams", diagrams_figure(topology)))
        (name, k), first = next(iter(topology.items()))
        figures.append(("barcode", barcode_figure(first, title=f"Barcode of {name} in the plane of k={k}")))
    table = "\n".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
        for k, v in key_numbers(run, result, progress, shape)
    )
    body = "\n".join(f"<section>{_figure_html(fig, name)}</section>" for name, fig in figures)
    proved = _proofs_html(proofs)
    title = f"nerve report: {run.path.name}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{_STYLE}</style>
<script type="text/javascript">{get_plotlyjs()}</script>
</head><body>
<h1>{html.escape(title)}</h1>
<p class="note">{html.escape(result.task)} · nerve {html.escape(__version__)} ·
the algorithm read in the irreducible representations of {html.escape(result.group)}
(Nanda et al. 2023; Chughtai, Chan &amp; Nanda 2023).</p>
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
    rows = []
    for c in proofs:
        r = c.result
        cells = (
            c.statement_text, f"step {c.step}", r.verdict,
            f"{r.n_hold} of {r.n_inputs} hold; {len(r.failing)} fail; {len(r.undecided)} undecided",
            f"least margin ≥ {r.margin_lower:.4g}", c.method, f"{r.flops:.3g} FLOPs, {r.seconds:.2f} s",
        )  # fmt: skip
        rows.append("<tr>" + "".join(f"<td>{html.escape(x)}</td>" for x in cells) + "</tr>")
    head = "".join(
        f"<th>{h}</th>" for h in ("statement", "weights", "verdict", "inputs", "bound", "method", "cost")
    )
    return (
        '<h2 id="proofs">Proofs</h2>\n<p class="note">About the real-number network defined by the stored '
        "weights; check a certificate with <code>nerve check</code>.</p>\n"
        f'<table class="numbers"><tr>{head}</tr>{"".join(rows)}</table>'
    )


def write_report(
    run: Run,
    result: FourierResult,
    progress: ProgressResult | None = None,
    shape: CirclesResult | None = None,
    llc: LLCTrajectoryResult | None = None,
    calibration: LLCCalibrationResult | None = None,
    proofs: Sequence[Certificate] = (),
) -> Path:
    """Write ``report.html`` into the run directory and return its path."""
    html_text = render_report(run, result, progress, shape, llc, calibration, proofs)
    return write_text_atomic(run.dir.report, html_text)
