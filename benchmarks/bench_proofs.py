"""The exhaustive prover against the forward passes it replaces, on the fixture runs.

Brute force without rigour is one float32 forward pass over every input (what a user checking
"100% accuracy" runs); a float64 pass is the same without the bound on rounding. The prover
does a float64 interval pass (three matrix products per linear map: centre, magnitude, radius).
auto_LiRPA, the bound-propagation library users would otherwise pick, does not install with
torch 2 and numpy 2, so it is not in the comparison. Printed: wall times (best of 3), the
prover / float32 ratio, FLOPs, and the independent checker's time.

Run: ``python benchmarks/bench_proofs.py``.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import torch

import nerve
from nerve.proofs import Correct, certify, check

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def best(f, *args, repeat: int = 3) -> tuple[float, object]:
    """The best wall time of ``f(*args)`` over `repeat` calls, and its last result."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = f(*args)
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    print("run            inputs  float32 (s)  float64 (s)  prover (s)  prover/float32  FLOPs     "
          "verdict  checker (s)")  # fmt: skip
    for name in ("nanda2023", "chughtai2023"):
        run = nerve.load(FIXTURES / name)
        inputs, _ = run.task.enumerate()
        model, model64 = run.model, copy.deepcopy(run.model).double()
        with torch.no_grad():
            t32, _ = best(model, inputs)
            t64, _ = best(model64, inputs)
        tp, cert = best(certify, run, Correct())
        t0 = time.perf_counter()
        ok = check(cert, run.path).ok
        tc = time.perf_counter() - t0
        r = cert.result
        print(f"{name:14s} {r.n_inputs:6d} {t32:12.3f} {t64:12.3f} {tp:11.2f} {tp / t32:15.1f}  "
              f"{r.flops:.2e}  {r.verdict:8s} {tc:8.1f} ({'verified' if ok else 'REJECTED'})")  # fmt: skip


if __name__ == "__main__":
    main()
