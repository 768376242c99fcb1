"""How topology's results are drawn: persistence diagrams and barcodes (plotly)."""

from __future__ import annotations

import math

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from nerve.analysis.topology.homology import TopologyResult

__all__ = ["barcode_figure", "diagrams_figure"]


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
