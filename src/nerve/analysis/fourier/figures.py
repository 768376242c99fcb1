"""How the Fourier analyses are drawn in the report: plotly figures of their saved results."""

from __future__ import annotations

from typing import TYPE_CHECKING

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from nerve.analysis.registry import Drawing

if TYPE_CHECKING:
    from nerve.analysis.fourier.circles import CirclesResult
    from nerve.analysis.fourier.irreps import FourierResult
    from nerve.analysis.fourier.learning_order import LearningOrderResult
    from nerve.analysis.fourier.progress import ProgressResult

__all__ = [
    "circles_figure",
    "learning_order_figure",
    "logits_figure",
    "neurons_figure",
    "progress_figure",
    "spectrum_figure",
]


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


def progress_figure(progress: ProgressResult, drawing: Drawing | None = None) -> go.Figure:
    """Nanda et al.'s progress measures at each checkpoint, the report's step markers drawn."""
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
    if drawing is not None:
        drawing.mark(fig)
    fig.update_layout(title=f"Progress measures (key irreps {', '.join(progress.key_irreps)})", height=420)
    return fig


def circles_figure(circles: CirclesResult) -> go.Figure:
    """Each key frequency's plane of the embeddings (colour: k·a mod p), and the circular
    coordinate of its circle against k·a mod p: drawn from the points the result stores."""
    drawn = {(c.embedding, c.frequency): c for c in circles.circles if c.points}
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


def learning_order_figure(trajectory: LearningOrderResult, drawing: Drawing | None = None) -> go.Figure:
    """Each irrep's share of the logit variance at every checkpoint; a marker where it is learned."""
    fig = go.Figure()
    learned = trajectory.learned_at()
    steps = list(trajectory.steps)
    for i, label in enumerate(trajectory.irreps):
        series = [row[i] for row in trajectory.logit_fractions]
        if max(series, default=0.0) <= 0:
            continue  # the trivial irrep, and irreps the logits never use
        line = go.Scatter(x=steps, y=series, mode="lines", name=f"{label} (dim {trajectory.dims[i]})")
        fig.add_trace(line)
        if label in learned:
            at = learned[label]
            fig.add_trace(go.Scatter(
                x=[at], y=[series[steps.index(at)]], mode="markers", showlegend=False,
                marker={"symbol": "star", "size": 12, "color": "#333"}, hovertext=f"{label} learned at {at}",
            ))  # fmt: skip
    if drawing is not None:
        drawing.mark(fig)
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(title_text="fraction of logit variance", range=[0, 1.02])
    fig.update_layout(
        title="When each irrep is learned (star: half its peak share of the logits)", height=420
    )
    return fig
