"""The page of a sweep of one group task: universality across its runs (Chughtai et al. 2023).

Which irreps are key in how many runs, beside what the paper reports where it reports that
group, and in what order each run learned its key irreps, as tables and figures.
"""

from __future__ import annotations

import html
import math
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from nerve._io import write_text_atomic
from nerve._version import __version__
from nerve.analysis import FourierAnalysis
from nerve.analysis.fourier.universality import LOGIT_KEY, logit_key_counts
from nerve.report._html import _STYLE, _figure_html
from nerve.sweep import PAGE

__all__ = ["PUBLISHED", "render_universality", "write_universality"]

#: What Chughtai, Chan & Nanda (2023) report of the key irreps of their MLP on each group.
PUBLISHED: dict[str, str] = {
    "S5": (
        "Chughtai, Chan & Nanda (2023), the MLP on S5 over 50 seeds: the sign [1,1,1,1,1] and the "
        "standard [4,1] irreps are key in nearly every seed; the 6-dimensional irrep [3,1,1] is never key."
    ),
}


_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
            "#7f7f7f", "#bcbd22", "#17becf")  # fmt: skip


def _trajectories(table: Sequence[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(a name for the run, its learning_order result) by seed; the name says the seed and run id."""
    rows = [r for r in table if r["analysis"] == "learning_order" and "order" in r["result"]]
    rows.sort(key=lambda r: (r["config"].get("seed") is None, r["config"].get("seed"), r["run_id"]))
    return [(f"seed {r['config'].get('seed')} ({r['run_id']})", r["result"]) for r in rows]


def learning_order_figure(table: Sequence[dict[str, Any]]) -> go.Figure:
    """For each run, the step at which each irrep was learned: filled if key at the end, hollow
    if learned and later dropped."""
    fig = go.Figure()
    trajectories = _trajectories(table)
    irreps = trajectories[0][1]["irreps"] if trajectories else []
    dims = dict(zip(irreps, trajectories[0][1]["dims"])) if trajectories else {}
    for i, label in enumerate(irreps):
        for key, symbol in ((True, "circle"), (False, "circle-open")):
            points = [
                (res["learned_at"][label], name)
                for name, res in trajectories
                if label in res["learned_at"] and (label in res["key_irreps"][-1]) == key
            ]
            if points:
                fig.add_trace(go.Scatter(
                    x=[p[0] for p in points], y=[p[1] for p in points], mode="markers",
                    marker={"symbol": symbol, "size": 11, "color": _PALETTE[i % len(_PALETTE)]},
                    legendgroup=label,
                    name=f"{label} (dim {dims[label]}){'' if key else ', not key at the end'}",
                ))  # fmt: skip
    generalised = [
        (res["generalised_at"], name) for name, res in trajectories if res.get("generalised_at") is not None
    ]
    if generalised:
        fig.add_trace(go.Scatter(
            x=[g[0] for g in generalised], y=[g[1] for g in generalised], mode="markers",
            marker={"symbol": "x-thin", "size": 14, "line": {"width": 2, "color": "#333"}},
            name="test accuracy reaches 0.99",
        ))  # fmt: skip
    names = [name for name, _ in trajectories]
    fig.update_layout(
        title="When each run learned each irrep (its logit fraction first reaches half its peak)",
        xaxis_title="step", height=140 + 36 * max(len(trajectories), 1),
        yaxis={"categoryorder": "array", "categoryarray": names[::-1]},  # seed 0 on top
    )  # fmt: skip
    return fig


def trajectories_figure(table: Sequence[dict[str, Any]]) -> go.Figure:
    """Each run's fraction of logit variance along each irrep's character, against step."""
    trajectories = _trajectories(table)
    cols = 2
    rows = max(math.ceil(len(trajectories) / cols), 1)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[n for n, _ in trajectories] or [""])
    for k, (_, res) in enumerate(trajectories):
        for i, label in enumerate(res["irreps"]):
            fig.add_trace(go.Scatter(
                x=res["steps"], y=[f[i] for f in res["logit_fractions"]], mode="lines",
                line={"color": _PALETTE[i % len(_PALETTE)]}, name=label, legendgroup=label, showlegend=k == 0,
            ), row=k // cols + 1, col=k % cols + 1)  # fmt: skip
    fig.update_layout(title="Fraction of logit variance along each irrep", height=220 * rows + 80)
    return fig


def _summary_rows(trajectories: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, ...]]:
    if not trajectories:
        return []
    logit_counts = logit_key_counts(
        [{"analysis": "learning_order", "result": res} for _, res in trajectories]
    )
    n = len(trajectories)
    res0 = trajectories[0][1]
    out: list[tuple[str, ...]] = []
    for label, dim in zip(res0["irreps"], res0["dims"]):
        key = sum(label in res["key_irreps"][-1] for _, res in trajectories)
        by_logits = logit_counts.get(label, 0)
        first = sum(bool(res["order"]) and res["order"][0] == label for _, res in trajectories)
        # among every irrep learned (key at the end or not), the first, ties by label as in order()
        first_any = sum(
            bool(at := res["learned_at"]) and min(at, key=lambda x: (at[x], x)) == label
            for _, res in trajectories
        )
        steps = [res["learned_at"][label] for _, res in trajectories if label in res["key_irreps"][-1]
                 and label in res["learned_at"]]  # fmt: skip
        median = f"{statistics.median(steps):,.0f}" if steps else "–"
        out.append(
            (label, str(dim), f"{key}/{n}", f"{by_logits}/{n}", f"{first}/{n}", f"{first_any}/{n}", median)
        )
    return out


_SUMMARY_HEAD = ("irrep", "dim", "key in", f"final logit fraction ≥ {LOGIT_KEY:g} in",
                 "learned first of the key irreps in", "learned first of all irreps in",
                 "median step learned (key runs)")  # fmt: skip
_RUN_HEAD = (
    "run",
    "test accuracy",
    "test accuracy ≥ 0.99 at step",
    "key irreps at the end",
    "order learned (step)",
)


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="numbers"><tr>{th}</tr>{body}</table>'


#: The sweep's Fourier rows use FourierAnalysis' defaults: its key rule in words.
_NEURON_RULE = FourierAnalysis().key_rule


def render_universality(table: Sequence[dict[str, Any]], *, title: str = "sweep") -> str:
    """The page as a string (self-contained, plotly.js inside), from a sweep's rows."""
    trajectories = _trajectories(table)
    group = trajectories[0][1]["group"] if trajectories else None
    acc = {f"({r['run_id']})": r["result"].get("test_acc") for r in table if r["analysis"] == "train"}
    per_run = []
    for name, res in trajectories:
        test_acc = next((a for rid, a in acc.items() if name.endswith(rid)), None)
        at = res["learned_at"]
        order = " → ".join(
            f"{label} ({at[label]:,})" if label in at else f"{label} (–)" for label in res["order"]
        )
        keys = ", ".join(res["key_irreps"][-1]) or "none"
        gen = res.get("generalised_at")
        acc_text = "–" if test_acc is None else f"{test_acc:.4f}"
        per_run.append((name, acc_text, "never" if gen is None else f"{gen:,}", keys, order))
    published = PUBLISHED.get(group or "", "")
    figures = [("learning-order", learning_order_figure(table)), ("trajectories", trajectories_figure(table))]
    body = "\n".join(f"<section>{_figure_html(fig, name)}</section>" for name, fig in figures)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{_STYLE}</style>
<script type="text/javascript">{get_plotlyjs()}</script>
</head><body>
<h1>Universality across {len(trajectories)} runs{f" of {html.escape(group)}" if group else ""}</h1>
<p class="note">nerve {html.escape(__version__)} · {html.escape(title)} · key irreps by the neuron
rule of the Fourier analysis at the last checkpoint (with its defaults: {html.escape(_NEURON_RULE)}),
and, as a second rule, the irreps that carry at least {LOGIT_KEY:g} of the
final logits' variance along their character; an irrep is learned at the first checkpoint where
its fraction of the logit variance reaches half its peak over the run (peak at least 0.05).</p>
<h2>Key irreps across runs</h2>
{_table(_SUMMARY_HEAD, _summary_rows(trajectories))}
<p>{html.escape(published) if published else "No published table for this group."}</p>
<h2>Each run</h2>
{_table(_RUN_HEAD, per_run)}
<h2>Figures</h2>
{body}
</body></html>
"""


def write_universality(out: str | Path, table: Sequence[dict[str, Any]]) -> Path:
    """Write ``universality.html`` into the sweep directory `out` and return its path."""
    page = render_universality(table, title=f"nerve sweep {Path(out).name}")
    return write_text_atomic(Path(out) / PAGE, page)
