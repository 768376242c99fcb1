"""The nanda2023 transformer (a+b mod 113) proved by the exhaustive prover and by the compact
`factored` proof through its attention's structure (nerve.proofs.compact): accuracy bound, least
margin, FLOPs as a fraction of the exhaustive proof's, wall time.

    python benchmarks/bench_transformer_proof.py
"""

from __future__ import annotations

import time
from pathlib import Path

import nerve
from nerve.proofs import Correct, prove, prove_compact

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    run = nerve.load(ROOT / "fixtures" / "nanda2023")
    start = time.perf_counter()
    exhaustive = prove(run.model, run.task, Correct())
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    p = prove_compact(run.model, run.task, method="factored", brute_force_flops=exhaustive.flops)
    compact = time.perf_counter() - start
    print("| proof | inputs proved | least margin ≥ | FLOPs | FLOPs / exhaustive | wall (s) |")
    print("|---|---:|---:|---:|---:|---:|")
    print(f"| exhaustive | {exhaustive.n_hold}/{exhaustive.n_inputs} | {exhaustive.margin_lower:.9g} | "
          f"{exhaustive.flops:.4g} | 1 | {seconds:.1f} |")  # fmt: skip
    r = p.result
    print(f"| factored (attention per token) | {r.n_hold}/{r.n_inputs} | {r.margin_lower:.9g} | "
          f"{r.flops:.4g} | {p.flops_ratio:.4f} | {compact:.1f} |")  # fmt: skip


if __name__ == "__main__":
    main()
