"""The proofs' figure in a run's report: each certificate's accuracy bound against its cost."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from nerve.proofs.prove import Certificate

__all__ = ["exhaustive_share", "frontier_figure"]


def exhaustive_share(cert: Certificate) -> float:
    """The certificate's FLOPs as a fraction of the exhaustive proof's (1 for that proof itself;
    NaN when a compact record does not say the exhaustive proof's count)."""
    if cert.compact is None:
        return 1.0
    total = cert.compact.get("brute_force_flops")
    if not isinstance(total, int) or isinstance(total, bool) or total <= 0:
        return float("nan")
    return cert.result.flops / total


def frontier_figure(proofs: Sequence[Certificate]) -> go.Figure | None:
    """Certified accuracy (its lower bound) against FLOPs as a fraction of the exhaustive proof's,
    one point per certificate, one colour per method (Gross et al. 2024 plot proofs so); None when
    no certificate is compact, so that there is nothing to compare."""
    if all(c.compact is None for c in proofs):
        return None
    fig = go.Figure()
    for method in sorted({c.method_name for c in proofs}):
        mine = [c for c in proofs if c.method_name == method]
        fig.add_trace(go.Scatter(
            x=[exhaustive_share(c) for c in mine], y=[c.result.accuracy_bounds[0] for c in mine],
            mode="markers", marker={"size": 11}, name=method,
            text=[f"{c.statement_text} (step {c.step})" for c in mine],
        ))  # fmt: skip
    fig.update_xaxes(type="log", title_text="FLOPs / the exhaustive proof's")
    fig.update_yaxes(title_text="certified accuracy (lower bound)", range=[-0.02, 1.02])
    fig.update_layout(title="Proofs: bound against cost", height=380)
    return fig
