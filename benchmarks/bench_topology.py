"""Persistent homology (H0 and H1) of the same clouds with nerve, plain ripser.py and giotto-ph.

Clouds: a noisy circle in R^128 and Gaussian noise in R^16, 1k, 2k and 5k points. Each run is
a fresh subprocess, so its peak resident memory (ru_maxrss, less what the process held after
its imports) is its own; each is capped in time (``--timeout``) and address space
(``--max-gib``), so a tool that would exhaust the machine is reported, not left to the kernel.

Per cloud: ripser.py and giotto-ph on every point; nerve as a user calls it, with its memory
guard (on every point where the estimate fits the budget, refused otherwise); and nerve
through 500 max–min landmarks. The script prints time and peak memory, nerve's estimate
beside its peak, the significant features nerve reports, and whether ripser.py's diagram has
the same H1 bars above nerve's threshold (on every point: the same bars; through landmarks:
the same number of bars, each within 2ε of one of ripser.py's, as stability promises).

Then the sparse filtration (``sparse=ε``) against ripser.py's full one on a noisy circle in
R², 1k, 2k and 4k points, where it pays most; its bars must lie within a factor 1 + ε.

Also: 100,000 points in R^64 near a circle through 200 landmarks (the must-show of issue 5),
and the same cloud without landmarks, which the memory guard refuses.

Run: ``python benchmarks/bench_topology.py [--sizes 1000 2000 5000] [--only-sparse]``. giotto-ph is optional
(``pip install giotto-ph``; AGPL): its column is skipped when it is not installed.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys

WORKER = r"""
import json, math, resource, sys, time
import numpy as np, torch
kind, n, tool, max_bytes = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
sparse = float(sys.argv[5]) if len(sys.argv) > 5 else None
resource.setrlimit(resource.RLIMIT_AS, (max_bytes, max_bytes))
g = torch.Generator().manual_seed(0)
if kind == "plane-circle":  # a noisy circle in R²: the cloud where a sparse filtration pays
    t = 2 * math.pi * torch.rand(n, generator=g, dtype=torch.float64)
    X = torch.stack([torch.cos(t), torch.sin(t)], 1)
    X += 0.05 * torch.randn(n, 2, generator=g, dtype=torch.float64)
elif kind == "circle":
    t = 2 * math.pi * torch.rand(n, generator=g)
    X = torch.zeros(n, 128, dtype=torch.float64)
    X[:, 0], X[:, 1] = torch.cos(t), torch.sin(t)
    X += 0.02 * torch.randn(n, 128, generator=g, dtype=torch.float64)
else:
    X = torch.randn(n, 16, generator=g, dtype=torch.float64)
if tool.startswith("nerve"):
    import ripser  # noqa: F401  (nerve imports it on first use; load it before timing, as for ripser.py)
    from nerve.analysis.topology.homology import PersistentHomology, estimate_memory
elif tool == "ripser":
    from ripser import ripser
else:
    from gph import ripser_parallel
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # after the imports
t0 = time.perf_counter()
if tool.startswith("nerve"):
    landmarks = 500 if tool == "nerve-landmarks" else None
    try:
        ph = PersistentHomology(engine="ripser", n_landmarks=landmarks, sparse=sparse, max_memory=max_bytes)
        ph.fit(X)
    except MemoryError as err:  # nerve's guard: MemoryBudgetError, before anything is allocated
        print(json.dumps({"refused": str(err).split(". Options")[0], "estimate": estimate_memory(n, 1)}))
        sys.exit(0)
    dgm1 = ph.result_.diagram(1).tolist()
    extra = {"estimate": ph.result_.memory_estimate, "betti": ph.result_.betti,
             "noise": ph.result_.noise_scale * ph.result_.significance, "eps": ph.result_.covering_radius}
elif tool == "ripser":
    dgm1 = ripser(X.numpy(), maxdim=1)["dgms"][1].tolist()
    extra = {}
else:
    dgm1 = np.asarray(ripser_parallel(X.numpy(), maxdim=1, n_threads=-1)["dgms"][1]).tolist()
    extra = {}
seconds = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base
print(json.dumps({"seconds": seconds, "peak": peak, "h1": [d - b for b, d in dgm1], **extra}))
"""


def run(
    kind: str, n: int, tool: str, *, timeout: float, max_bytes: int, sparse: float | None = None
) -> dict | None:
    """The worker's JSON; ``{"failed": why}`` when it ran out of time or memory; None without gph."""
    args = [sys.executable, "-c", WORKER, kind, str(n), tool, str(max_bytes)] + (
        [str(sparse)] if sparse else []
    )
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"failed": f"not done in {timeout:.0f} s"}
    if out.returncode != 0:
        if "No module named 'gph'" in out.stderr:
            return None
        if "MemoryError" in out.stderr or "bad_alloc" in out.stderr or out.returncode < 0:
            return {"failed": f"out of memory at the {max_bytes / 2**30:.0f} GiB cap"}
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def describe(res: dict | None) -> str:
    if res is None:
        return "not installed"
    if "failed" in res:
        return res["failed"]
    if "refused" in res:
        return f"refused by the guard (estimate {res['estimate'] / 2**30:.1f} GiB)"
    line = f"{res['seconds']:7.2f} s {res['peak'] / 1e6:6.0f} MB"
    if "estimate" in res:
        line += f" (estimate {res['estimate'] / 1e6:.0f} MB) Betti {tuple(res['betti'])}"
    return line


def same_features(ours: dict, theirs: dict | None, *, factor: float = 1.0) -> str:
    """Whether ripser.py's H1 bars above nerve's threshold match nerve's: within 2ε in birth and
    death through landmarks; within `factor` = 1 + ε in both for a sparse filtration."""
    if theirs is None or "h1" not in theirs or "h1" not in ours:
        return "–"
    cut = ours["noise"]
    a = sorted(x for x in ours["h1"] if x > cut)
    b = sorted(x for x in theirs["h1"] if x > cut)
    tol = 4 * ours["eps"] + 1e-9  # birth and death each move by at most 2ε
    close = all(abs(x - y) <= tol or y / factor - 1e-9 <= x <= y * factor + 1e-9 for x, y in zip(a, b))
    return str(len(a) == len(b) and close)


def sparse_circles(sizes: list[int], cap: dict) -> None:
    """The noisy circle in R², where ripser.py's full filtration is at its worst (a long-lived loop
    keeps O(n³) bytes in its reduction) and the sparse filtration at its best."""
    print("\nsparse filtration: a noisy circle in R² (noise 0.05)")
    for n in sizes:
        theirs = run("plane-circle", n, "ripser", **cap)
        print(f"  n = {n:5}  ripser.py              {describe(theirs)}", flush=True)
        for eps in (0.1, 0.3):
            ours = run("plane-circle", n, "nerve", sparse=eps, **cap)
            same = same_features(ours, theirs, factor=1 + eps) if ours and "h1" in ours else "–"
            line = f"  n = {n:5}  nerve, sparse ε = {eps}  {describe(ours)}  same H1 features: {same}"
            if ours and theirs and "seconds" in ours and "seconds" in theirs:
                line += (f"  time {ours['seconds'] / theirs['seconds']:.3f}, "
                         f"memory {ours['peak'] / theirs['peak']:.3f} of ripser.py's")  # fmt: skip
            print(line, flush=True)


def large_circle() -> None:
    import time

    import torch

    from nerve.analysis.topology.homology import MemoryBudgetError, PersistentHomology, circular_agreement

    g = torch.Generator().manual_seed(0)
    t = torch.rand(100_000, generator=g)
    X = torch.zeros(100_000, 64)
    X[:, 0], X[:, 1] = torch.cos(2 * math.pi * t), torch.sin(2 * math.pi * t)
    X += 0.02 * torch.randn(100_000, 64, generator=g)
    t0 = time.perf_counter()
    ph = PersistentHomology(n_landmarks=200, field=47, circular=True).fit(X)
    seconds = time.perf_counter() - t0
    agreement = circular_agreement(ph.circular_coordinates_[0], t)
    print(f"\n100,000 points in R^64 near a circle, 200 landmarks: Betti {ph.result_.betti}, "
          f"covering radius {ph.result_.covering_radius:.3f}, {seconds:.1f} s with the circular coordinate "
          f"(agreement with the angle {agreement:.4f})")  # fmt: skip
    try:
        PersistentHomology().fit(X)
    except MemoryBudgetError as err:
        print(f"without landmarks: refused: {err}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 5000])
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per run")
    parser.add_argument("--max-gib", type=float, default=16.0, help="address space per run")
    parser.add_argument("--only-sparse", action="store_true", help="only the sparse filtration's part")
    args = parser.parse_args()
    cap = dict(timeout=args.timeout, max_bytes=int(args.max_gib * 2**30))
    if args.only_sparse:
        sparse_circles([1000, 2000, 4000], cap)
        return
    print(f"time (s) and peak memory (MB above the process after its imports); each run capped at "
          f"{args.timeout:.0f} s and {args.max_gib:g} GiB of address space")  # fmt: skip
    for kind in ("circle", "noise"):
        for n in args.sizes:
            res = {
                tool: run(kind, n, tool, **cap)
                for tool in ("ripser", "giotto-ph", "nerve", "nerve-landmarks")
            }
            print(f"\n{kind} in R^{128 if kind == 'circle' else 16}, n = {n}")
            for tool, r in res.items():
                name = {"nerve-landmarks": "nerve, 500 landmarks"}.get(tool, tool)
                extra = (
                    f"  same H1 features as ripser.py: {same_features(r, res['ripser'])}"
                    if tool.startswith("nerve") and r and "h1" in r
                    else ""
                )
                print(f"  {name:22} {describe(r)}{extra}", flush=True)
            ours, theirs = res["nerve"], res["ripser"]
            if ours and theirs and "seconds" in ours and "seconds" in theirs:
                print(f"  nerve / ripser.py: time {ours['seconds'] / theirs['seconds']:.2f}, "
                      f"memory {ours['peak'] / theirs['peak']:.2f}")  # fmt: skip
            fast = res["nerve-landmarks"]
            if fast and theirs and "seconds" in fast and "seconds" in theirs:
                print(f"  nerve with landmarks / ripser.py: time {fast['seconds'] / theirs['seconds']:.3f}, "
                      f"memory {fast['peak'] / theirs['peak']:.3f}")  # fmt: skip
    sparse_circles([1000, 2000, 4000], cap)
    large_circle()


if __name__ == "__main__":
    main()
