"""The LLC through training, batched over (checkpoint × chain) against one run per checkpoint (the
loop users would otherwise write, and what nerve did before): wall time of each and the ratio, and
the largest gap between the two curves in units of their combined spread over chains.

Runs: the demo preset (a+b mod 59, the MLP, trained here in about 20 s) and, with --nanda, the
nanda2023 fixture's transformer at its checkpoints. Same estimator both ways (4 chains, the draws
given, batch 64, γ 100, nβ = m/log m, the sampler and ε given: default SGLD at 1e-4; the fixture's
converged curve is ``--sampler rmsprop_sgld --epsilon 1e-5``). With --devinterp (and --nanda), also
devinterp 2.x run checkpoint by checkpoint at the same hyperparameters on the transformer (the tool
users would otherwise pick; benchmark-only: ``pip install -c <(echo torch==2.13.0) devinterp==2.0.1``).

    python benchmarks/bench_llc_trajectory.py [--draws 200] [--nanda [--devinterp]] [--no-demo]
        [--sampler sgld|rmsprop_sgld] [--epsilon 1e-4]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import torch

import nerve
from nerve.analysis.llc.estimator import LLCEstimator
from nerve.analysis.llc.trajectory import LLCTrajectory
from nerve.training import PRESETS, train

ROOT = Path(__file__).resolve().parents[1]


def compare(name: str, run, draws: int, sampler: str, epsilon: float) -> float:
    est = LLCEstimator(n_chains=4, n_draws=draws, batch_size=64, sampler=sampler, epsilon=epsilon)
    times, curves = {}, {}
    for batched in (True, False):
        start = time.perf_counter()
        curves[batched] = LLCTrajectory(estimator=est, batched=batched).fit(run).result_
        times[batched] = time.perf_counter() - start
    b, lo = curves[True], curves[False]
    gap = max(abs(x - y) / max(math.hypot(sx, sy) / 2, 1e-12)
              for x, sx, y, sy in zip(b.llc_mean, b.llc_std, lo.llc_mean, lo.llc_std))  # fmt: skip
    print(f"| {name} | {len(b.steps)} | {draws} | {times[True]:.1f} | {times[False]:.1f} | "
          f"{times[False] / times[True]:.2f} | {gap:.2f} |")  # fmt: skip
    return times[True]


def devinterp_curve(run, draws: int, sampler: str, epsilon: float) -> float:
    """Seconds for devinterp's LLC at every checkpoint of the transformer run, one call each."""
    from bench_llc import devinterp_llc, token_loss

    from nerve.analysis.llc.trajectory import training_data

    X, y = training_data(run)
    rows = torch.cat([X, y[:, None]], 1)
    start = time.perf_counter()
    for step in run.checkpoints:
        devinterp_llc(run.model_at(step), rows, chains=4, draws=draws, batch=64, eps=epsilon, gamma=100.0,
                      nbeta=64 / math.log(64), device="cpu", loss_fn=token_loss,
                      sampling_method="sgmcmc_sgld" if sampler == "sgld" else sampler)  # fmt: skip
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--nanda", action="store_true")
    parser.add_argument("--devinterp", action="store_true")
    parser.add_argument("--no-demo", action="store_true")
    parser.add_argument("--sampler", default="sgld")
    parser.add_argument("--epsilon", type=float, default=1e-4)
    args = parser.parse_args()
    how = (args.sampler, args.epsilon)
    print("| run | checkpoints | draws | batched (s) | one run per checkpoint (s) | speed-up | "
          "largest gap (combined SE) |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|")
    if not args.no_demo:
        with tempfile.TemporaryDirectory() as tmp:
            compare(
                "demo preset (MLP, a+b mod 59)", train(PRESETS["demo"], Path(tmp) / "demo"), args.draws, *how
            )
    if args.nanda:
        run = nerve.load(ROOT / "fixtures" / "nanda2023")
        batched = compare("nanda2023 (transformer)", run, args.draws, *how)
        if args.devinterp:
            seconds = devinterp_curve(run, args.draws, *how)
            print(f"\ndevinterp 2.x, one call per checkpoint: {seconds:.1f} s; devinterp / nerve batched: "
                  f"{seconds / batched:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
