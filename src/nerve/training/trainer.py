"""Deterministic, resumable training: AdamW with linear warm-up, full batch or minibatch.

Every random choice is a function of the config's seed and the step (the split, the
initialisation, the minibatch order, superposition samples), and the optimiser moments are
saved with each checkpoint, so a run resumed from checkpoint N ends with exactly the weights
of an uninterrupted run on the same machine.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nerve.models import MLP
from nerve.tasks import SuperpositionData, split_indices
from nerve.training.config import ConfigError, TrainConfig, make_model, make_task
from nerve.training.run import (
    METRICS,
    STATE,
    CheckpointError,
    Run,
    checkpoint_path,
    load,
    load_tensors,
    load_weights,
    read_config,
    save_tensors,
    write_config,
)

__all__ = ["Callback", "resume", "schedule", "train"]

#: Called after every step with (steps done, total steps, the latest evaluated metrics).
Callback = Callable[[int, int, dict[str, Any]], None]

_EVAL_CHUNK = 1 << 14
_SUPERPOSITION_BATCH = 1024


def schedule(config: TrainConfig) -> list[int]:
    """Checkpoint steps: 0, every `checkpoint_every`, log-spaced points, and the last step.

    >>> schedule(TrainConfig(steps=1000, checkpoint_every=500, checkpoint_log_points=4))
    [0, 1, 10, 100, 500, 1000]
    """
    steps = {0, config.steps, *range(0, config.steps, config.checkpoint_every)}
    n = config.checkpoint_log_points
    if n > 1:
        steps |= {round(math.exp(math.log(config.steps) * i / (n - 1))) for i in range(n)}
    return sorted(steps)


def _seed(config: TrainConfig, index: int) -> torch.Generator:
    return torch.Generator().manual_seed(config.seed * 1_000_003 + index)


class _Data:
    """The examples of one run and how each step draws its batch."""

    def __init__(self, config: TrainConfig, device: torch.device) -> None:
        self.config = config
        self.task = make_task(config.task, seed=config.seed)
        self.device = device
        if isinstance(self.task, SuperpositionData):
            self.batch = config.batch_size or _SUPERPOSITION_BATCH
            held_out = self.task.sample(_SUPERPOSITION_BATCH * 4, generator=_seed(config, -1)).to(device)
            self.eval_sets = {"test": (held_out, held_out)}
            return
        inputs, targets = self.task.enumerate()
        split = split_indices(len(targets), config.train_fraction, seed=config.seed)
        self.train = (inputs[split.train].to(device), targets[split.train].to(device))
        self.eval_sets = {"train": self.train}
        if len(split.test):
            self.eval_sets["test"] = (inputs[split.test].to(device), targets[split.test].to(device))
        self.batch = min(config.batch_size or len(split.train), len(split.train))

    def batch_at(self, step: int) -> tuple[Tensor, Tensor]:
        if isinstance(self.task, SuperpositionData):
            x = self.task.sample(self.batch, generator=_seed(self.config, step)).to(self.device)
            return x, x
        n = len(self.train[1])
        if self.batch == n:
            return self.train
        per_epoch = math.ceil(n / self.batch)
        epoch, i = divmod(step, per_epoch)
        perm = torch.randperm(n, generator=_seed(self.config, epoch))[i * self.batch : (i + 1) * self.batch]
        perm = perm.to(self.device)
        return self.train[0][perm], self.train[1][perm]

    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        if isinstance(self.task, SuperpositionData):
            return self.task.loss(output, target)
        # float64 log-softmax: float32 cross-entropy rounds to 0 once train loss is tiny,
        # which stalls the clean-up phase of grokking (Nanda et al. 2023, appendix).
        return F.cross_entropy(output.double(), target)

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> dict[str, float]:
        model.eval()
        out: dict[str, float] = {}
        for name, (x, y) in self.eval_sets.items():
            total, correct = 0.0, 0
            for start in range(0, len(x), _EVAL_CHUNK):
                xb, yb = x[start : start + _EVAL_CHUNK], y[start : start + _EVAL_CHUNK]
                logits = model(xb)
                total += float(self.loss(logits, yb)) * len(xb)
                if not isinstance(self.task, SuperpositionData):
                    correct += int((logits.argmax(-1) == yb).sum())
            out[f"{name}_loss"] = total / len(x)
            if not isinstance(self.task, SuperpositionData):
                out[f"{name}_acc"] = correct / len(x)
        model.train()
        return out


def _optimizer_tensors(model: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Tensor]:
    names = {id(p): n for n, p in model.named_parameters()}
    return {
        f"{names[id(p)]}::{key}": value
        for p, state in optimizer.state.items()
        for key, value in state.items()
    }


def _restore_optimizer(
    model: nn.Module, optimizer: torch.optim.Optimizer, tensors: dict[str, Tensor]
) -> None:
    state: dict[int, dict[str, Tensor]] = {}
    for index, (name, _) in enumerate(model.named_parameters()):
        entries = {k.split("::", 1)[1]: v for k, v in tensors.items() if k.split("::", 1)[0] == name}
        if entries:
            state[index] = entries
    optimizer.load_state_dict({"state": state, "param_groups": optimizer.state_dict()["param_groups"]})


def _lr(config: TrainConfig, step: int) -> float:
    """Linear warm-up from lr/warmup to lr over the first `warmup_steps` steps, then constant."""
    if config.warmup_steps == 0:
        return config.lr
    return config.lr * min(1.0, (step + 1) / config.warmup_steps)


def train(
    config: TrainConfig,
    run_dir: str | Path,
    *,
    resume: bool = False,
    callback: Callback | None = None,
    device: str | torch.device = "cpu",
) -> Run:
    """Train the run `config` describes into `run_dir` (or continue it with ``resume=True``).

    A new run refuses an existing run directory that holds a config; a resumed one restarts
    from the latest saved state, losing at most the steps since its checkpoint.
    """
    run_dir = Path(run_dir)
    device = torch.device(device)
    if resume:
        saved = read_config(run_dir)
        if saved != config:
            raise ConfigError(
                f"`config` differs from the one saved in {run_dir}; resume with the saved config."
            )
    elif (run_dir / "config.json").exists():
        raise ConfigError(
            f"run directory {run_dir} already holds a run; resume it or choose another directory."
        )
    data = _Data(config, device)
    model = make_model(config.model, data.task, seed=config.seed).to(device)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, betas=config.betas, weight_decay=config.weight_decay
    )
    start, elapsed = 0, 0.0
    if resume:
        tensors, meta = load_tensors(run_dir / STATE)
        start = int(meta.get("step", -1))
        if start < 0:
            raise CheckpointError(f"{run_dir / STATE} has no step in its metadata.")
        load_weights(model, checkpoint_path(run_dir, start))
        _restore_optimizer(model, optimizer, {k: v.to(device) for k, v in tensors.items()})
        elapsed = _truncate_metrics(run_dir / METRICS, before=start)
    else:
        (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        write_config(run_dir, config)
    checkpoints = set(schedule(config))
    metrics: dict[str, Any] = {}
    t0 = time.perf_counter() - elapsed  # "seconds" counts the whole run across resumes
    model.train()
    # the MLP's factored path: the same function, a full-batch S5 step about twice as fast
    forward = model.forward_factored if isinstance(model, MLP) else model
    for step in range(start, config.steps + 1):
        if step in checkpoints:
            save_tensors(checkpoint_path(run_dir, step), model.state_dict())
            save_tensors(run_dir / STATE, _optimizer_tensors(model, optimizer), {"step": str(step)})
        if step % config.eval_every == 0 or step == config.steps:
            metrics = {"step": step, **data.evaluate(model), "lr": _lr(config, step)}
            with open(run_dir / METRICS, "a") as f:
                f.write(json.dumps({**metrics, "seconds": round(time.perf_counter() - t0, 3)}) + "\n")
        if step == config.steps:
            break
        for group in optimizer.param_groups:
            group["lr"] = _lr(config, step)
        x, y = data.batch_at(step)
        loss = data.loss(forward(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if callback is not None:
            callback(step + 1, config.steps, metrics)
    return load(run_dir)


def resume(
    run_dir: str | Path,
    *,
    steps: int | None = None,
    callback: Callback | None = None,
    device: str | torch.device = "cpu",
) -> Run:
    """Continue the run in `run_dir` from its latest saved state, with its saved config.

    With `steps` larger than the config's, a run is extended: the learning rate is constant
    after warm-up, so nothing before the old last step depends on `steps`, and the extended
    run ends with the weights of a run configured with `steps` from the start.
    """
    run_dir = Path(run_dir)
    config = read_config(run_dir)
    if steps is not None and steps != config.steps:
        if steps < config.steps:
            raise ConfigError(
                f"`steps` (={steps}) cannot shorten the run in {run_dir} ({config.steps} steps)."
            )
        config = config.replace(steps=steps)
        write_config(run_dir, config)
    return train(config, run_dir, resume=True, callback=callback, device=device)


def _truncate_metrics(path: Path, *, before: int) -> float:
    """Drop the lines of steps that will be replayed; return the last kept line's seconds."""
    if not path.exists():
        return 0.0
    keep = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line)["step"] < before:
                keep.append(line)
        except (json.JSONDecodeError, KeyError):
            continue  # a line torn by the kill
    path.write_text("".join(line + "\n" for line in keep))
    return float(json.loads(keep[-1]).get("seconds", 0.0)) if keep else 0.0
