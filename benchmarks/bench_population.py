"""Every compact prover against the exhaustive one on the population of benchmarks/population.py (65
one-hidden-layer MLPs on group tasks): per model, the true accuracy (the exhaustive proof), and per
method the certified accuracy bound, its FLOPs as a fraction of the exhaustive proof's and its wall
time; for the ρ-set method also the fit's time, the ideal margin and the dominant term; and the
checker's time on each certificate, the ρ-set one against the exhaustive one. Prints markdown (a
summary per group, then every model) and writes the rows to runs/population/results.json and the
bound-vs-FLOPs frontier to runs/population/frontier.html (interactive) and benchmarks/frontier.svg
(static, for RESULTS.md). With --from-results, only the tables and figures are made again from
runs/population/results.json.

    python benchmarks/bench_population.py            # trains what runs/population lacks first
"""

from __future__ import annotations

import json
import math
import statistics
import sys
import time
from collections import defaultdict

import plotly.graph_objects as go
from population import CACHE, ROOT, population

from nerve.proofs import Correct, certify, check, prove, prove_compact
from nerve.proofs.rho_sets import fit_rho_sets, prove_rho_sets

GOAL_BOUND, GOAL_FLOPS = 0.95, 0.20
METHODS = ("factored", "orbits", "rho_sets")


def measure(group: str, name: str, run) -> dict:
    model, task = run.model, run.task
    row: dict = {"group": group, "model": name}
    start = time.perf_counter()
    exhaustive = prove(model, task, Correct())
    row["exhaustive"] = {"bound": exhaustive.n_hold / exhaustive.n_inputs, "flops": 1.0,
                         "seconds": time.perf_counter() - start}  # fmt: skip
    row["accuracy"] = row["exhaustive"]["bound"]
    row["undecided"] = len(exhaustive.undecided)
    for method in ("factored", "orbits"):
        start = time.perf_counter()
        p = prove_compact(model, task, method=method, brute_force_flops=exhaustive.flops)
        row[method] = {"bound": p.result.n_hold / p.result.n_inputs, "flops": p.flops_ratio,
                       "seconds": time.perf_counter() - start}  # fmt: skip
        assert p.result.n_hold <= exhaustive.n_hold, (name, method)
    start = time.perf_counter()
    ideal = fit_rho_sets(model, task)
    fit = time.perf_counter() - start
    p = prove_rho_sets(model, task, ideal=ideal, brute_force_flops=exhaustive.flops)
    seconds = time.perf_counter() - start
    assert p.result.n_hold <= exhaustive.n_hold and p.result.margin_lower <= exhaustive.margin_lower, name
    row["rho_sets"] = {
        "bound": p.result.n_hold / p.result.n_inputs, "flops": p.flops_ratio, "seconds": seconds, "fit": fit,
        "ideal_margin": p.ideal_margin, "dominant": p.dominant, "units": f"{p.covered_units}/{p.units}",
        "partitions": len(ideal.templates), "outside": int((ideal.partition < 0).sum()),
    }  # fmt: skip
    # the checker on both certificates (certify proves again; only the checks are timed)
    for method in ("exhaustive", "rho_sets"):
        cert = certify(run, Correct(), method=method)
        start = time.perf_counter()
        report = check(cert, run.path)
        row[method]["check_seconds"] = time.perf_counter() - start
        assert report.ok, (name, method, report.problems)
    return row


def meets(entry: dict) -> bool:
    return entry["bound"] >= GOAL_BOUND and entry["flops"] <= GOAL_FLOPS


def summary(rows: list[dict]) -> None:
    by_group: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_group[r["group"]].append(r)
    print("| group | models | accuracy (median) | " + " | ".join(
        f"{m}: bound ≥ {GOAL_BOUND} at ≤ {GOAL_FLOPS:.0%} FLOPs | {m}: median FLOPs" for m in METHODS
    ) + " | ρ-set check / exhaustive check (median time) |")  # fmt: skip
    print("|---|---:|---:|" + "---:|---:|" * len(METHODS) + "---:|")
    for group, rs in [*by_group.items(), ("all", rows)]:
        cells = [group, str(len(rs)), f"{statistics.median(r['accuracy'] for r in rs):.4f}"]
        for m in METHODS:
            share = sum(meets(r[m]) for r in rs)
            median = statistics.median(r[m]["flops"] for r in rs)
            cells += [f"{share}/{len(rs)} ({share / len(rs):.0%})", f"{median:.3f}"]
        ratio = statistics.median(r["rho_sets"]["check_seconds"] / r["exhaustive"]["check_seconds"]
                                  for r in rs)  # fmt: skip
        cells.append(f"{ratio:.2f}")
        print("| " + " | ".join(cells) + " |")


def table(rows: list[dict]) -> None:
    print("\n| model | accuracy | factored bound / FLOPs | orbits bound / FLOPs | ρ-set bound / FLOPs | "
          "ρ-set units (covered/all), neurons outside | ideal margin | largest term | exhaustive s | "
          "ρ-set fit + proof s | check s: exhaustive / ρ-set |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|")
    for r in rows:
        rho = r["rho_sets"]
        f, o, p = (f"{r[m]['bound']:.4f} / {r[m]['flops']:.3f}" for m in METHODS)
        ideal = "none (no ρ-set)" if rho["units"] == "0/0" else f"{rho['ideal_margin']:.3g}"
        print(
            f"| {r['model']} | {r['accuracy']:.4f} | {f} | {o} | {p} | "
            f"{rho['units']}, {rho['outside']} | {ideal} | {rho['dominant']} | "
            f"{r['exhaustive']['seconds']:.2f} | {rho['fit']:.2f} + {rho['seconds'] - rho['fit']:.2f} | "
            f"{r['exhaustive']['check_seconds']:.2f} / {r['rho_sets']['check_seconds']:.2f} |"
        )


def frontier(rows: list[dict]) -> go.Figure:
    """Certified accuracy against FLOPs (fraction of exhaustive), one point per model and method."""
    fig = go.Figure()
    for m in ("exhaustive", *METHODS):
        fig.add_trace(go.Scatter(
            x=[r[m]["flops"] for r in rows], y=[r[m]["bound"] for r in rows], mode="markers", name=m,
            text=[r["model"] for r in rows],
        ))  # fmt: skip
    fig.add_shape(type="rect", x0=0, x1=GOAL_FLOPS, y0=GOAL_BOUND, y1=1.0, line={"dash": "dot"})
    fig.update_xaxes(type="log", title="FLOPs / exhaustive proof's")
    fig.update_yaxes(title="certified accuracy (lower bound)")
    fig.update_layout(title=f"Compact proofs on {len(rows)} group-task MLPs: bound against cost")
    return fig


COLOURS = {"exhaustive": "#444444", "factored": "#1f77b4", "orbits": "#ff7f0e", "rho_sets": "#2ca02c"}


def frontier_svg(rows: list[dict]) -> str:
    """The same frontier as a small static SVG for RESULTS.md: x = log10 of the FLOPs fraction
    (10⁻² to 1), y = certified accuracy (0 to 1), the goal's box dotted."""
    W, H, pad = 560, 360, 50
    x_of = lambda f: pad + (math.log10(max(f, 1e-2)) + 2) / 2 * (W - 2 * pad)  # noqa: E731
    y_of = lambda b: H - pad - b * (H - 2 * pad)  # noqa: E731
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" '
           'font-size="11">', f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<rect x="{x_of(1e-2)}" y="{y_of(1)}" width="{x_of(GOAL_FLOPS) - x_of(1e-2)}" '
           f'height="{y_of(GOAL_BOUND) - y_of(1)}" fill="#eef7ee" stroke="#2ca02c" '
           'stroke-dasharray="4"/>']  # fmt: skip
    for f in (0.01, 0.03, 0.1, 0.3, 1.0):
        out.append(f'<text x="{x_of(f)}" y="{H - pad + 16}" text-anchor="middle">{f:g}</text>')
    for b in (0, 0.25, 0.5, 0.75, 0.95, 1):
        out.append(f'<text x="{pad - 6}" y="{y_of(b) + 4}" text-anchor="end">{b:g}</text>')
    out.append(f'<line x1="{pad}" y1="{H - pad}" x2="{W - pad}" y2="{H - pad}" stroke="black"/>')
    out.append(f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{H - pad}" stroke="black"/>')
    out.append(f'<text x="{W / 2}" y="{H - 12}" text-anchor="middle">FLOPs / exhaustive proof (log)</text>')
    out.append(f'<text x="14" y="{H / 2}" transform="rotate(-90 14 {H / 2})" text-anchor="middle">'
               "certified accuracy</text>")  # fmt: skip
    for i, m in enumerate(("exhaustive", *METHODS)):
        for r in rows:
            out.append(f'<circle cx="{x_of(r[m]["flops"]):.1f}" cy="{y_of(r[m]["bound"]):.1f}" r="3" '
                       f'fill="{COLOURS[m]}" fill-opacity="0.6"/>')  # fmt: skip
        out.append(f'<text x="{W - pad - 90}" y="{H - pad - 70 + 14 * i}" fill="{COLOURS[m]}">● {m}</text>')
    out.append(f'<text x="{W / 2}" y="20" text-anchor="middle" font-size="13">Compact proofs on {len(rows)} '
               "group-task MLPs: bound against cost</text></svg>")  # fmt: skip
    return "\n".join(out)


def main() -> None:
    if "--from-results" in sys.argv:
        rows = json.loads((CACHE / "results.json").read_text())
    else:
        rows = []
        for group, name, run in population():
            rows.append(measure(group, name, run))
            print(f"<!-- {name}: done -->", flush=True)
        (CACHE / "results.json").write_text(json.dumps(rows, indent=1))
    frontier(rows).write_html(CACHE / "frontier.html", include_plotlyjs="cdn")
    (ROOT / "benchmarks" / "frontier.svg").write_text(frontier_svg(rows))
    summary(rows)
    table(rows)


if __name__ == "__main__":
    main()
