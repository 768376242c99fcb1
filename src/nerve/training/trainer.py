"""Deterministic, resumable training: AdamW with linear warm-up, full batch or minibatch.

Every random choice is a function of the config's seed and the step (the split, the
initialisation, the minibatch order, superposition samples), and the optimiser moments are
saved with each checkpoint, so a run resumed from checkpoint N ends with exactly the weights
of an uninterrupted run on the same machine.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nerve._io import exclusive, strict_json
from nerve.errors import TrainingError
from nerve.models import MLP
from nerve.tasks import DigitsTask, LieCompositionTask, SuperpositionData, split_indices
from nerve.training._resources import check_resources
from nerve.training.config import ConfigError, TrainConfig, make_model, make_task
from nerve.training.run import (
    Run,
    RunDir,
    load,
    read_config,
    read_threads,
    resume_point,
    save_tensors,
    write_config,
)

__all__ = ["Callback", "resume", "schedule", "torch_threads", "train"]

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
            x, y = self.train
        else:
            per_epoch = math.ceil(n / self.batch)
            epoch, i = divmod(step, per_epoch)
            perm = torch.randperm(n, generator=_seed(self.config, epoch))[
                i * self.batch : (i + 1) * self.batch
            ]
            perm = perm.to(self.device)
            x, y = self.train[0][perm], self.train[1][perm]
        if isinstance(self.task, DigitsTask):  # the step's own seed for its augmentation
            x = self.task.augment(x, generator=_seed(self.config, -2 - step))
        return x, y

    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        if isinstance(self.task, SuperpositionData | LieCompositionTask):  # regressions
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
                if not isinstance(self.task, SuperpositionData | LieCompositionTask):
                    correct += int((logits.argmax(-1) == yb).sum())
            out[f"{name}_loss"] = total / len(x)
            if not isinstance(self.task, SuperpositionData | LieCompositionTask):
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
    threads: int | None = None,
) -> Run:
    """Train the run `config` describes into `run_dir` (or continue it with ``resume=True``).

    A new run refuses an existing run directory that holds a config; a resumed one restarts
    from the latest saved state that reads, losing at most the steps since its checkpoint (a
    corrupt file is set aside, never deleted). The directory is locked while it trains: a
    second writer is refused with :class:`~nerve.errors.LockedError`.

    The run trains with `threads` torch threads (default: torch's current number), recorded in
    ``config.json`` and used again on resume: the same config, seed and thread count give the
    same bits. A loss that becomes NaN or infinite stops training with
    :class:`~nerve.errors.TrainingError`; the checkpoints before it are kept.
    """
    d = RunDir.of(run_dir)
    device = torch.device(device)
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ConfigError(f"`threads` (={threads!r}) must be a positive integer or None.")
    extends = False
    if resume:
        saved = read_config(d)
        # the one change a resume may make: more steps (the schedule is constant after warm-up)
        extends = config.steps > saved.steps and saved.replace(steps=config.steps) == config
        if saved != config and not extends:
            raise ConfigError(
                f"`config` differs from the one saved in {run_dir}; resume with the saved config "
                f"(or the same config with more `steps`, to extend the run)."
            )
        recorded = read_threads(d)
        if threads is not None and recorded is not None and threads != recorded:
            raise ConfigError(
                f"`threads` (={threads}) differs from the {recorded} the run in {run_dir} was trained "
                f"with; resuming with another count changes its bits. Leave it out to use {recorded}."
            )
        threads = threads or recorded
    elif d.path.is_file():
        raise ConfigError(f"`run_dir` ({run_dir}) is a file; a run directory must be a directory.")
    elif d.holds_run:
        raise ConfigError(
            f"run directory {run_dir} already holds a run; resume it or choose another directory."
        )
    threads = threads or torch.get_num_threads()
    check_resources(config, run_dir)  # before anything is allocated or written
    with exclusive(d.path, "run directory"), torch_threads(threads), _deterministic(device):
        if not resume:
            if d.holds_run:  # made by a writer that raced this one to the lock
                raise ConfigError(f"run directory {run_dir} already holds a run; resume it.")
            d.checkpoints.mkdir(parents=True, exist_ok=True)
            write_config(d, config, threads=threads)
        elif extends or read_threads(d) is None:  # longer, or from before threads were recorded
            write_config(d, config, threads=threads)
        _fit(config, d, resume, callback, device)
    return load(d)


def _fit(config: TrainConfig, d: RunDir, resume: bool, callback: Callback | None, device) -> None:
    data = _Data(config, device)
    model = make_model(config.model, data.task, seed=config.seed).to(device)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, betas=config.betas, weight_decay=config.weight_decay
    )
    start = 0
    point = resume_point(d, model) if resume else None
    if point is not None:
        start, tensors = point
        model.to(device)
        _restore_optimizer(model, optimizer, {k: v.to(device) for k, v in tensors.items()})
    d.checkpoints.mkdir(parents=True, exist_ok=True)
    elapsed = _truncate_metrics(d.metrics, before=start)
    checkpoints = set(schedule(config))
    metrics: dict[str, Any] = {}
    t0 = time.perf_counter() - elapsed  # "seconds" counts the whole run across resumes
    model.train()
    # the MLP's factored path: the same function, a full-batch S5 step about twice as fast
    forward = model.forward_factored if isinstance(model, MLP) else model
    for step in range(start, config.steps + 1):
        if step in checkpoints:
            save_tensors(d.checkpoint(step), model.state_dict())
            if d.state.exists():  # the state before stays until the new one is written
                os.replace(d.state, d.state_previous)
            save_tensors(d.state, _optimizer_tensors(model, optimizer), {"step": str(step)})
        if step % config.eval_every == 0 or step == config.steps:
            metrics = {"step": step, **data.evaluate(model), "lr": _lr(config, step)}
            bad = sorted(k for k, v in metrics.items() if not math.isfinite(v))
            if bad:
                raise TrainingError(
                    f"training diverged by step {step}: {', '.join(bad)} not finite; "
                    f"{_kept(d)} Lower `lr` (={config.lr:g})."
                )
            with open(d.metrics, "a") as f:
                f.write(strict_json({**metrics, "seconds": round(time.perf_counter() - t0, 3)}) + "\n")
        if step == config.steps:
            break
        for group in optimizer.param_groups:
            group["lr"] = _lr(config, step)
        x, y = data.batch_at(step)
        loss = data.loss(forward(x), y)
        if not bool(torch.isfinite(loss)):
            raise TrainingError(
                f"training diverged at step {step}: the training loss is {float(loss.detach())}; "
                f"{_kept(d)} Lower `lr` (={config.lr:g})."
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if callback is not None:
            callback(step + 1, config.steps, metrics)


def _kept(d: RunDir) -> str:
    steps = d.checkpoint_steps()
    return f"the checkpoints up to step {steps[-1]} are kept." if steps else "no checkpoint was written."


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Torch's intra-op threads set to `n` inside the ``with`` block, as they were after (the
    order in which torch sums depends on it: the same count gives the same bits)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextlib.contextmanager
def _deterministic(device: torch.device) -> Iterator[None]:
    """Torch's deterministic kernels inside (as the setting was, after). On the CPU an op with no
    deterministic kernel then raises instead of changing the last bits from run to run; on CUDA
    it warns (cuBLAS needs an environment variable set before CUDA starts, not ours to set)."""
    previous, warn_only = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    torch.use_deterministic_algorithms(True, warn_only=device.type != "cpu")
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous, warn_only=warn_only)


def resume(
    run_dir: str | Path,
    *,
    steps: int | None = None,
    callback: Callback | None = None,
    device: str | torch.device = "cpu",
    threads: int | None = None,
) -> Run:
    """Continue the run in `run_dir` from its latest saved state, with its saved config and the
    torch threads it recorded.

    With `steps` larger than the config's, a run is extended: the learning rate is constant
    after warm-up, so nothing before the old last step depends on `steps`, and the extended
    run ends with the weights of a run configured with `steps` from the start.
    """
    run_dir = Path(run_dir)
    config = read_config(run_dir)
    if steps is not None and steps != config.steps:
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < config.steps:
            raise ConfigError(
                f"`steps` (={steps!r}) cannot shorten the run in {run_dir} ({config.steps} steps)."
            )
        config = config.replace(steps=steps)  # written by train, under the run's lock
    return train(config, run_dir, resume=True, callback=callback, device=device, threads=threads)


def _truncate_metrics(path: Path, *, before: int) -> float:
    """Drop the lines of steps that will be replayed; return the last kept line's seconds."""
    if not path.exists():
        return 0.0
    keep = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line)["step"] < before:
                keep.append(line)
        except (json.JSONDecodeError, KeyError, TypeError):
            continue  # a line torn by the kill
    path.write_text("".join(line + "\n" for line in keep))
    return float(json.loads(keep[-1]).get("seconds", 0.0)) if keep else 0.0
