"""Every compact prover against the exhaustive one on the population of benchmarks/population.py (65
one-hidden-layer MLPs on group tasks): per model, the true accuracy (the exhaustive proof), and per
method the certified accuracy bound, its FLOPs as a fraction of the exhaustive proof's and its wall
time; for the ρ-set method also the fit's time, the ideal margin and the dominant term; and the
checker's time on each certificate, the ρ-set one against the exhaustive one. Prints markdown (a
summary per group, then every model) and writes the rows to runs/population/results.json and the
bound-vs-FLOPs frontier to runs/population/frontier.html.

    python benchmarks/bench_population.py            # trains what runs/population lacks first
"""

from __future__ import annotations

import json
import statistics
import time
from collections import defaultdict

import plotly.graph_objects as go
from population import CACHE, population

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
        print(
            f"| {r['model']} | {r['accuracy']:.4f} | {f} | {o} | {p} | "
            f"{rho['units']}, {rho['outside']} | {rho['ideal_margin']:.3g} | {rho['dominant']} | "
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


def main() -> None:
    rows = []
    for group, name, run in population():
        rows.append(measure(group, name, run))
        print(f"<!-- {name}: done -->", flush=True)
    (CACHE / "results.json").write_text(json.dumps(rows, indent=1))
    frontier(rows).write_html(CACHE / "frontier.html", include_plotlyjs="cdn")
    summary(rows)
    table(rows)


if __name__ == "__main__":
    main()
