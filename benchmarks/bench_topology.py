"""Persistent homology (H0 and H1) of the same clouds with nerve, plain ripser.py and giotto-ph.

Clouds: a noisy circle in R^128 and Gaussian noise in R^16, 1k, 2k and 5k points. Each run is
a fresh subprocess, so its peak resident memory (ru_maxrss, less what the process held after
its imports) is its own. For each cloud the
script prints the time and peak memory of each tool, the ratios nerve / ripser.py, the
significant features nerve reports, and whether the other tools' diagrams have bars of the
same lengths above nerve's threshold. nerve's memory estimate is printed beside its peak.

Also: 100,000 points in R^64 near a circle through 200 landmarks (the must-show of issue 5),
and the same cloud without landmarks, which the memory guard refuses.

Run: ``python benchmarks/bench_topology.py [--sizes 1000 2000 5000]``. giotto-ph is optional
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
kind, n, tool = sys.argv[1], int(sys.argv[2]), sys.argv[3]
g = torch.Generator().manual_seed(0)
if kind == "circle":
    t = 2 * math.pi * torch.rand(n, generator=g)
    X = torch.zeros(n, 128, dtype=torch.float64)
    X[:, 0], X[:, 1] = torch.cos(t), torch.sin(t)
    X += 0.02 * torch.randn(n, 128, generator=g, dtype=torch.float64)
else:
    X = torch.randn(n, 16, generator=g, dtype=torch.float64)
if tool == "nerve":
    import ripser  # noqa: F401  (nerve imports it on first use; load it before timing, as for ripser.py)
    from nerve.analysis.topology import PersistentHomology, estimate_memory
elif tool == "ripser":
    from ripser import ripser
else:
    from gph import ripser_parallel
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # after the imports
t0 = time.perf_counter()
if tool == "nerve":
    ph = PersistentHomology(engine="ripser", max_memory=1 << 40).fit(X)
    dgm1 = ph.result_.diagram(1).tolist()
    extra = {"estimate": estimate_memory(n, 1), "noise": ph.result_.noise_scale * ph.result_.significance,
             "betti": ph.result_.betti}
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


def run(kind: str, n: int, tool: str) -> dict | None:
    out = subprocess.run([sys.executable, "-c", WORKER, kind, str(n), tool], capture_output=True, text=True)
    if out.returncode != 0:
        if "No module named 'gph'" in out.stderr:
            return None
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def large_circle() -> None:
    import time

    import torch

    from nerve.analysis.topology import MemoryBudgetError, PersistentHomology, circular_agreement

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
    args = parser.parse_args()
    print("times in s; peak memory in MB above the process after its imports; ratios nerve / ripser.py")
    for kind in ("circle", "noise"):
        for n in args.sizes:
            res = {tool: run(kind, n, tool) for tool in ("nerve", "ripser", "giotto-ph")}
            ours, theirs = res["nerve"], res["ripser"]
            cut = ours["noise"]
            same = sorted(x for x in ours["h1"] if x > cut) == sorted(x for x in theirs["h1"] if x > cut)
            line = (
                f"{kind:6} n={n:5}  nerve {ours['seconds']:7.2f} s {ours['peak'] / 1e6:7.0f} MB "
                f"(estimate {ours['estimate'] / 1e6:6.0f} MB)  ripser.py {theirs['seconds']:7.2f} s "
                f"{theirs['peak'] / 1e6:7.0f} MB  time {ours['seconds'] / theirs['seconds']:.2f} "
                f"memory {ours['peak'] / theirs['peak']:.2f}  Betti {tuple(ours['betti'])}  "
                f"same H1 features: {same}"
            )
            gph = res["giotto-ph"]
            if gph is not None:
                line += f"  giotto-ph {gph['seconds']:.2f} s {gph['peak'] / 1e6:.0f} MB"
            print(line, flush=True)
    large_circle()


if __name__ == "__main__":
    main()
