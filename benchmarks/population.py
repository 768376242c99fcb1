"""The population of trained one-hidden-layer MLPs on group tasks that the compact provers are
measured on (benchmarks/bench_population.py): 16 seeds each of S4, D12 (order 24), A5 and C31,
trained here in minutes, and the chughtai2023 S5 fixture. Runs are cached under
``runs/population/`` (ignored by git) and resumed if a session stops mid-way.

    python benchmarks/population.py      # train what is missing (about 20 minutes on 2 cores)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import nerve
from nerve.training import TrainConfig, train
from nerve.training.config import ModelConfig, TaskConfig

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "runs" / "population"
SEEDS = range(16)
#: per group: the share of pairs trained on (A5's 3,600 pairs need less; 0.6 of S4's 576 generalises
#: within 10,000 steps at lr 1e-2, 0.5 did not within 3,000 at 3e-3)
GROUPS = {"S4": 0.6, "D12": 0.6, "A5": 0.5, "C31": 0.6}


def config(group: str, seed: int) -> TrainConfig:
    steps = 10_000
    return TrainConfig(
        task=TaskConfig(kind="group", group=group),
        model=ModelConfig(kind="mlp", d_embed=128, d_hidden=128),
        steps=steps, lr=1e-2, train_fraction=GROUPS[group], seed=seed,
        eval_every=500, checkpoint_every=steps, checkpoint_log_points=0,
    )  # fmt: skip


def population(cache: Path = CACHE) -> Iterator[tuple[str, str, nerve.Run]]:
    """``(group, name, run)`` for every model, training (or finishing) what the cache lacks."""
    yield "S5", "chughtai2023", nerve.load(ROOT / "fixtures" / "chughtai2023")
    for group in GROUPS:
        for seed in SEEDS:
            cfg, path = config(group, seed), cache / f"{group}-s{seed}"
            done = (path / "config.json").exists() and nerve.load(path).checkpoints[-1] == cfg.steps
            run = nerve.load(path) if done else train(cfg, path, resume=(path / "config.json").exists())
            yield group, f"{group} seed {seed}", run


if __name__ == "__main__":
    for _, name, run in population():
        print(name, run.path, flush=True)
