"""The exhaustive prover against the forward passes it replaces, on the fixture runs.

Brute force without rigour is one float32 forward pass over every input (what a user checking
"100% accuracy" runs); a float64 pass is the same without the bound on rounding. The prover
does a float64 interval pass (three matrix products per linear map: centre, magnitude, radius).
auto_LiRPA, the bound-propagation library users would otherwise pick, does not install with
torch 2 and numpy 2, so it is not in the comparison. Printed: wall times (best of 3), the
prover / float32 ratio, FLOPs, and the independent checker's time.

Second table (``--seeds N``): compact proofs (:mod:`nerve.proofs.compact`) on the demo
preset's MLP (a+b mod 59, d_embed = d_hidden = 128, 4,000 steps) trained with seeds 0..N-1 and
on the chughtai2023 S5 fixture: for each, the exhaustive verdict, the factored and the orbit
proofs' verdicts, their FLOPs as a fraction of the exhaustive proof's, whether the bound is
vacuous, and for the orbits the mean representative margin against the mean deviation 2D.

Run: ``python benchmarks/bench_proofs.py [--seeds 8]``.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import tempfile
import time
from pathlib import Path

import torch

import nerve
from nerve.proofs import Correct, certify, check, prove, prove_compact
from nerve.training import PRESETS, train

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def best(f, *args, repeat: int = 3) -> tuple[float, object]:
    """The best wall time of ``f(*args)`` over `repeat` calls, and its last result."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = f(*args)
        times.append(time.perf_counter() - t0)
    return min(times), out


def compact_row(name: str, run) -> None:
    exhaustive = prove(run.model, run.task, Correct())
    accuracy = exhaustive.accuracy_bounds[0]
    cells = [f"{name:18s} {accuracy:8.4f} {exhaustive.verdict:9s}"]
    for method in ("factored", "orbits"):
        p = prove_compact(run.model, run.task, method=method, brute_force_flops=exhaustive.flops)
        cells.append(f"{p.result.verdict:9s} {p.flops_ratio:6.3f} {'vacuous' if p.vacuous else 'useful':8s}")
        if method == "orbits":
            cells.append(f"{p.mean_margin_rep:8.2f} {p.mean_deviation:9.1f} {p.top_neurons_share:6.2f}")
    print("  ".join(cells), flush=True)


def compact_table(seeds: int) -> None:
    print("\nrun                proved acc exhaustive  factored  FLOPs  bound     orbits    FLOPs  bound    "
          "margin  dev 2D  top10%")  # fmt: skip
    compact_row("chughtai2023 (S5)", nerve.load(FIXTURES / "chughtai2023"))
    for seed in range(seeds):
        with tempfile.TemporaryDirectory() as tmp:
            run = train(dataclasses.replace(PRESETS["demo"], seed=seed), f"{tmp}/run")
            compact_row(f"demo seed {seed}", run)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=0, help="compact proofs on this many demo seeds")
    args = parser.parse_args()
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
    if args.seeds:
        compact_table(args.seeds)


if __name__ == "__main__":
    main()
