"""The ρ-set prover (nerve.proofs.rho_sets) beside the exhaustive proof, on the S5 fixture and on the
planted S4 mechanism with noise: the certified accuracy, FLOPs as a fraction of the exhaustive
proof's, the ideal margin, and the three parts of the distance from the ideal (means over inputs):
the bounded neuron and uncovered-unit terms 2E and the part R computed exactly.

    python benchmarks/bench_rho_sets.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import nerve
from nerve.proofs.prove import prove
from nerve.proofs.rho_sets import prove_rho_sets
from nerve.proofs.statements import Correct
from nerve.tasks import group_composition
from nerve.training import PRESETS, train

ROOT = Path(__file__).resolve().parents[1]


def row(name: str, model, task) -> str:
    exhaustive = prove(model, task, Correct())
    start = time.perf_counter()
    p = prove_rho_sets(model, task, brute_force_flops=exhaustive.flops)
    seconds = time.perf_counter() - start
    return (
        f"| {name} | {exhaustive.n_hold / exhaustive.n_inputs:.4f} | "
        f"{p.result.n_hold / p.result.n_inputs:.4f} | "
        f"{p.flops_ratio:.4f} | {p.ideal_margin:.3g} | {p.neuron_error:.3g} | {p.exact_deviation:.3g} | "
        f"{p.uncovered_error:.3g} | {p.dominant} | {p.covered_units}/{p.units} | {seconds:.1f} |"
    )


def main() -> None:
    sys.path.insert(0, str(ROOT / "tests" / "proofs"))
    from test_rho_sets import planted  # the planted mechanism the tests use

    print("| model | exhaustive accuracy | ρ-set bound | FLOPs / exhaustive | ideal margin | 2E neuron | "
          "2 max R (exact) | 2E uncovered | largest | units covered | fit + proof (s) |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|")
    run = nerve.load(ROOT / "fixtures" / "chughtai2023")
    print(row("chughtai2023 (S5)", run.model, run.task))
    with tempfile.TemporaryDirectory() as tmp:  # the demo preset's MLP, a+b mod 59 (trained: ~15 s)
        demo = train(PRESETS["demo"], Path(tmp) / "demo")
        print(row("demo preset (C59)", demo.model, demo.task))
    for noise in (0.0, 1e-3, 3e-3, 1e-2):
        print(row(f"planted S4, noise {noise:g}", planted(noise, seed=1), group_composition("S4")))


if __name__ == "__main__":
    main()
