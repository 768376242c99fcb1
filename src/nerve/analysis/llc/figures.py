"""How the local learning coefficient is drawn: its trajectory through training and its
calibration grid (plotly)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from nerve.analysis.registry import Drawing

if TYPE_CHECKING:
    from nerve.analysis.llc.calibration import LLCCalibrationResult
    from nerve.analysis.llc.trajectory import LLCTrajectoryResult

__all__ = ["llc_calibration_figure", "llc_figure"]


def llc_figure(curve: LLCTrajectoryResult, drawing: Drawing) -> go.Figure:
    """λ̂ at each checkpoint (± its spread over chains) beside the training loss, with the stage
    boundaries of λ̂ (dotted) and the report's step markers (the phases of grokking, dashed); a
    checkpoint whose estimate has not converged is an open marker, so a transient is not read as a
    value."""
    metrics = drawing.run.metrics()
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    converged = curve.converged or (False,) * len(curve.steps)
    fig.add_trace(
        go.Scatter(
            x=list(curve.steps), y=list(curve.llc_mean), name="LLC λ̂ (open: not converged)",
            mode="lines+markers",
            marker={"symbol": ["circle" if ok else "circle-open" for ok in converged], "size": 8},
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
    drawing.mark(fig)
    fig.update_yaxes(title_text="λ̂", secondary_y=False)
    fig.update_yaxes(title_text="train loss", type="log", exponentformat="e", secondary_y=True)
    fig.update_xaxes(title_text="step")
    said = (
        f"converged at {sum(converged)} of {len(curve.steps)} checkpoints" if curve.converged
        else "convergence not diagnosed"
    )  # fmt: skip
    title = f"Local learning coefficient through training (dotted: its stage boundaries); {said}"
    fig.update_layout(title=title, height=420)
    return fig


def llc_calibration_figure(cal: LLCCalibrationResult) -> go.Figure:
    """λ̂ against the SGLD step ε, a line per row (its nβ, and γ and sampler when the sweep varied
    them; ± spread over chains), beside the MALA acceptance; filled markers: healthy cells,
    crosses: the rest, a star: the recommended ε."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("λ̂ against ε", "MALA acceptance"))
    colours = ("#2ca02c", "#9467bd", "#ff7f0e", "#1f77b4", "#d62728")
    eps = list(cal.epsilons)
    for i in range(len(cal.nbetas)):
        colour = colours[i % len(colours)]
        name = label = cal.row_label(i)
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
        best = cal.recommended[i]
        if best is not None:
            j = eps.index(best)
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
