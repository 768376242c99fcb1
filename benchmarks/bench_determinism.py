"""What bit-for-bit training costs: the trainer's steps per second with its deterministic path
(the factored MLP gathered with ``index_select``, torch's deterministic kernels switched on)
against the path it replaced (``t[x]`` gathered, whose backward adds atomically across threads,
and torch's default kernels), and whether each gives the same bits twice.

Both are the real ``nerve.training.train`` on the same config; the old path is put back by
swapping ``MLP.forward_factored`` and the trainer's ``_deterministic`` context for the run. The
two are timed in alternating rounds so that load on the machine hits both.

Run: ``python benchmarks/bench_determinism.py [--preset demo|chughtai2023] [--steps N] [--threads T]``.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from pathlib import Path

import torch

from nerve.models import MLP
from nerve.training import PRESETS, train
from nerve.training import trainer as trainer_module


def _old_forward_factored(self, x):
    d = self.config.d_embed
    W = self.hidden.weight
    h = sum((emb.weight @ W[:, i * d : (i + 1) * d].T)[x[:, i]] for i, emb in enumerate(self.embed))
    return self.unembed(self.act(h))


@contextlib.contextmanager
def _old_path():
    new_forward, new_context = MLP.forward_factored, trainer_module._deterministic
    MLP.forward_factored = _old_forward_factored
    trainer_module._deterministic = lambda device: contextlib.nullcontext()
    try:
        yield
    finally:
        MLP.forward_factored, trainer_module._deterministic = new_forward, new_context


def _run(config, threads: int, folder: Path, old: bool) -> tuple[float, bytes]:
    with _old_path() if old else contextlib.nullcontext():
        start = time.perf_counter()
        run = train(config, folder, threads=threads)
        seconds = time.perf_counter() - start
    last = run.dir.checkpoint(run.checkpoints[-1]).read_bytes()
    return config.steps / seconds, last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    config = PRESETS[args.preset].replace(steps=args.steps)
    rates: dict[str, list[float]] = {"deterministic": [], "before": []}
    bits: dict[str, set[bytes]] = {"deterministic": set(), "before": set()}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for name in ("before", "deterministic"):
                rate, last = _run(config, args.threads, Path(tmp) / f"{name}-{r}", old=name == "before")
                rates[name].append(rate)
                bits[name].add(last)
    print(f"{args.preset}, {args.steps} steps, {args.threads} threads, {args.rounds} rounds, "
          f"torch {torch.__version__}")  # fmt: skip
    print("| path | steps/s (median) | runs | distinct final checkpoints |")
    print("|---|---:|---:|---:|")
    for name in ("before", "deterministic"):
        print(f"| {name} | {statistics.median(rates[name]):.1f} | {args.rounds} | {len(bits[name])} |")
    ratio = statistics.median(rates["deterministic"]) / statistics.median(rates["before"])
    print(f"deterministic / before: {ratio:.3f}x the steps per second")


if __name__ == "__main__":
    main()
