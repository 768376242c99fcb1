"""ripser.py's peak memory against nerve's estimate
(:func:`nerve.analysis.topology.estimate_memory`).

Clouds: a noisy circle in R² (noise 0.05), a torus in R³ (radii 2 and 1, noise 0.02) and standard
Gaussian points in R⁴ and R^16, 1k–5k points, seed 0. Each run is a fresh subprocess that builds
its cloud, reads its resident memory (VmRSS), then computes nerve's distance matrix (float64,
zero diagonal) and ripser.py's diagrams from it, as ``PersistentHomology`` does; the peak is
``ru_maxrss`` of that process less the resident memory before the distances, so it holds what
the computation added: nerve's distance matrix and everything ripser.py allocates. Each run is
capped at ``--max-gib`` of address space. After the peak is read, the worker computes the
estimate from the same distances (the edges below ripser's enclosing radius and the largest
cocycle on a 400-point probe) and prints both.

Run: ``python benchmarks/bench_ph_memory.py [--only circle-R2] [--json rows.json]``; about ten
minutes on 2 cores. Prints a markdown table: cloud, n, dim, max_dim, estimate, peak, ratio.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CLOUDS = [  # (kind, n, max_dim)
    ("circle-R2", 1000, 1),
    ("circle-R2", 2000, 1),
    ("torus-R3", 1000, 1),
    ("torus-R3", 2000, 1),
    ("gauss-R4", 2000, 1),
    ("gauss-R4", 4000, 1),
    ("gauss-R16", 2000, 1),
    ("gauss-R16", 5000, 1),
    ("torus-R3", 400, 2),
    ("gauss-R4", 400, 2),
]

WORKER = r"""
import json, math, resource, sys, time
import torch
from ripser import ripser
from nerve.analysis import topology
kind, n, max_dim, max_bytes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
resource.setrlimit(resource.RLIMIT_AS, (max_bytes, max_bytes))
g = torch.Generator().manual_seed(0)
if kind == "circle-R2":
    t = 2 * math.pi * torch.rand(n, generator=g, dtype=torch.float64)
    X = torch.stack([torch.cos(t), torch.sin(t)], 1)
    X += 0.05 * torch.randn(n, 2, generator=g, dtype=torch.float64)
elif kind == "torus-R3":
    u, v = (2 * math.pi * torch.rand(n, generator=g, dtype=torch.float64) for _ in range(2))
    X = torch.stack([(2 + torch.cos(v)) * torch.cos(u), (2 + torch.cos(v)) * torch.sin(u), torch.sin(v)], 1)
    X += 0.02 * torch.randn(n, 3, generator=g, dtype=torch.float64)
else:
    X = torch.randn(n, int(kind.split("-R")[1]), generator=g, dtype=torch.float64)

def resident():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))

base = resident()
t0 = time.perf_counter()
dist = topology._distances(X)
ripser(dist.numpy(), maxdim=max_dim, distance_matrix=True)
seconds = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base
n_edges, cocycle = topology._rips_statistics(dist, None, 0)
estimate = topology.estimate_memory(n, max_dim, n_edges=n_edges, cocycle=cocycle)
print(json.dumps({"kind": kind, "n": n, "dim": X.shape[1], "max_dim": max_dim, "seconds": seconds,
                  "peak": peak, "estimate": estimate, "n_edges": n_edges, "cocycle": cocycle}))
"""


def measure(kind: str, n: int, max_dim: int, *, max_bytes: int, timeout: float) -> dict:
    args = [sys.executable, "-c", WORKER, kind, str(n), str(max_dim), str(max_bytes)]
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"kind": kind, "n": n, "max_dim": max_dim, "failed": f"not done in {timeout:.0f} s"}
    if out.returncode != 0:
        return {"kind": kind, "n": n, "max_dim": max_dim, "failed": out.stderr.strip().splitlines()[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", nargs="+", help="cloud kinds to run (e.g. circle-R2)")
    parser.add_argument("--max-gib", type=float, default=14.0, help="address space per run")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per run")
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args()
    rows = []
    print("| cloud | n | dim | max_dim | estimate (MB) | peak (MB) | estimate / peak | time (s) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for kind, n, max_dim in CLOUDS:
        if args.only and kind not in args.only:
            continue
        r = measure(kind, n, max_dim, max_bytes=int(args.max_gib * 2**30), timeout=args.timeout)
        rows.append(r)
        if "failed" in r:
            print(f"| {kind} | {n} | | {max_dim} | | {r['failed']} | | |", flush=True)
            continue
        print(f"| {kind} | {n:,} | {r['dim']} | {max_dim} | {r['estimate'] / 1e6:,.0f} "
              f"| {r['peak'] / 1e6:,.0f} | {r['estimate'] / r['peak']:.2f} | {r['seconds']:.1f} |",
              flush=True)  # fmt: skip
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
