"""The run directory: config, metrics and safetensors checkpoints, read back without unpickling.

```
runs/<name>/
  config.json               {"nerve_version": ..., "threads": ..., "config": TrainConfig.to_dict()}
  metrics.jsonl             one line per evaluated step
  checkpoints/              step_<N>.safetensors: the weights after N optimiser steps
  state.safetensors         optimiser moments of the latest checkpoint, for --resume
  state.previous.safetensors  those of the checkpoint before it (a corrupt latest one is not fatal)
  .nerve.lock               held while a process trains into the directory
```

A file found corrupt on resume is set aside as ``<name>.corrupt`` (never deleted) and the run
resumes from the latest checkpoint that is good.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import Tensor, nn

from nerve._io import strict_json, write_text_atomic
from nerve._version import __version__
from nerve.errors import CheckpointError, NerveWarning
from nerve.training.config import ConfigError, TrainConfig, make_model, make_task

__all__ = ["CheckpointError", "Run", "load", "thin"]

CONFIG, METRICS, CHECKPOINTS, STATE = "config.json", "metrics.jsonl", "checkpoints", "state.safetensors"
STATE_PREVIOUS = "state.previous.safetensors"
_STEP = re.compile(r"step_(\d+)\.safetensors")


def save_tensors(path: Path, tensors: dict[str, Tensor], metadata: dict[str, str] | None = None) -> None:
    """Write atomically: a kill mid-write leaves the previous file, never a truncated one."""
    tmp = path.with_name(path.name + ".tmp")
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp), metadata=metadata)
    os.replace(tmp, path)


def load_tensors(path: Path) -> tuple[dict[str, Tensor], dict[str, str]]:
    """Tensors and metadata of a safetensors file; a bad file raises naming the file."""
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist.")
    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata() or {})  # noqa: SIM118
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise CheckpointError(f"checkpoint {path} is corrupt or truncated: {err}") from None


def load_weights(model: nn.Module, path: Path) -> None:
    """Load a weights file into `model`, checking every name and shape first."""
    tensors, _ = load_tensors(path)
    expected = model.state_dict()
    missing, extra = sorted(set(expected) - set(tensors)), sorted(set(tensors) - set(expected))
    if missing or extra:
        raise CheckpointError(
            f"checkpoint {path} does not match the model: missing {missing}, unexpected {extra}."
        )
    for name, value in tensors.items():
        if value.shape != expected[name].shape:
            raise CheckpointError(
                f"checkpoint {path} does not match the model: {name} has shape {tuple(value.shape)}, "
                f"the config gives {tuple(expected[name].shape)}."
            )
        # load_state_dict would cast silently: a float64 file, or integer bytes under a float name
        if value.dtype != expected[name].dtype:
            raise CheckpointError(
                f"checkpoint {path} does not match the model: {name} is {value.dtype}, the model "
                f"holds {expected[name].dtype}."
            )
        if value.is_floating_point() and not bool(value.isfinite().all()):
            raise CheckpointError(f"checkpoint {path}: {name} holds NaN or infinite weights.")
    model.load_state_dict(tensors)


def set_aside(path: Path) -> Path:
    """Rename a corrupt file to ``<name>.corrupt`` (``.corrupt.1`` ... if taken): out of the run's
    way, kept for whoever wants to look at it. Nothing a user may need is deleted."""
    target = path.with_name(path.name + ".corrupt")
    n = 0
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.corrupt.{n}")
    os.replace(path, target)
    warnings.warn(f"{path} is corrupt; set aside as {target.name}.", NerveWarning, stacklevel=3)
    return target


def resume_point(run_dir: Path, model: nn.Module) -> tuple[int, dict[str, Tensor]] | None:
    """The latest saved state whose checkpoint reads: its step and optimiser tensors, with its
    weights loaded into `model`; None when there is none (the run starts again from step 0,
    which rewrites the same files bit for bit).

    The latest state and the one before it are tried in turn; a file that does not read is set
    aside (:func:`set_aside`), and a state whose checkpoint was set aside is dropped with it.
    """
    run_dir = Path(run_dir)
    for name in (STATE, STATE_PREVIOUS):
        path = run_dir / name
        if not path.exists():
            continue
        try:
            tensors, meta = load_tensors(path)
        except CheckpointError:
            set_aside(path)
            continue
        step = int(meta["step"]) if str(meta.get("step", "")).isdigit() else None
        if step is None:  # no step: it cannot say which checkpoint it goes with
            set_aside(path)
            continue
        checkpoint = checkpoint_path(run_dir, step)
        try:
            load_weights(model, checkpoint)
        except CheckpointError:
            if checkpoint.exists():
                set_aside(checkpoint)
            path.unlink()  # a state without its weights resumes nothing; it is remade on replay
            continue
        if name == STATE_PREVIOUS:
            os.replace(path, run_dir / STATE)
        return step, tensors
    return None


def checkpoint_path(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / CHECKPOINTS / f"step_{step}.safetensors"


def checkpoint_steps(run_dir: Path) -> tuple[int, ...]:
    folder = Path(run_dir) / CHECKPOINTS
    if not folder.is_dir():
        return ()
    return tuple(sorted(int(m.group(1)) for p in folder.iterdir() if (m := _STEP.fullmatch(p.name))))


def write_config(run_dir: Path, config: TrainConfig, *, threads: int) -> None:
    """The exact config of a run, with the torch threads it trains with (the order in which
    its sums are taken: a resume uses the same number, or its bits differ)."""
    data = {"nerve_version": __version__, "threads": threads, "config": config.to_dict()}
    write_text_atomic(Path(run_dir) / CONFIG, strict_json(data, indent=2))


def _read_config_file(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / CONFIG
    if not path.is_file():
        raise CheckpointError(f"{run_dir} is not a run directory: {path} does not exist.")
    try:
        data = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError, OSError) as err:
        raise CheckpointError(f"{path} is not a valid nerve config: not JSON ({err}).") from None
    if not isinstance(data, dict) or not isinstance(data.get("config"), dict):
        raise CheckpointError(f'{path} is not a valid nerve config: it must be an object with a "config".')
    return data


def read_config(run_dir: Path) -> TrainConfig:
    """The config a run was made with; every field must be there (a missing one is an error,
    not a default: a run resumed toward the default 40,000 steps is not the run that was made)."""
    path = Path(run_dir) / CONFIG
    try:
        return TrainConfig.from_dict(_read_config_file(run_dir)["config"], complete=True)
    except ConfigError as err:
        raise CheckpointError(f"{path} is not a valid nerve config: {err}") from None


def read_threads(run_dir: Path) -> int | None:
    """The torch threads a run was trained with, or None for a run that did not record them."""
    path = Path(run_dir) / CONFIG
    threads = _read_config_file(run_dir).get("threads")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise CheckpointError(f"{path}: `threads` (={threads!r}) must be a positive integer.")
    return threads


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    path = Path(run_dir) / METRICS
    if not path.is_file():
        return []
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            raise CheckpointError(f"{path} line {number} is not JSON: {line[:80]!r}") from None
    return rows


@dataclass(frozen=True, eq=False)
class Run:
    """A run directory read back: its config, checkpoint steps, metrics and the latest model."""

    path: Path
    config: TrainConfig
    checkpoints: tuple[int, ...]
    model: nn.Module

    @property
    def task(self):
        return make_task(self.config.task, seed=self.config.seed)

    def model_at(self, step: int) -> nn.Module:
        """The model after `step` optimiser steps, from its checkpoint."""
        if step not in self.checkpoints:
            raise CheckpointError(
                f"{self.path} has no checkpoint at step {step}; it has {list(self.checkpoints)}."
            )
        model = make_model(self.config.model, self.task, seed=self.config.seed)
        load_weights(model, checkpoint_path(self.path, step))
        return model.eval()

    def metrics(self) -> list[dict[str, Any]]:
        """The lines of ``metrics.jsonl``, one dict per evaluated step."""
        return read_metrics(self.path)


def load(run_dir: str | os.PathLike) -> Run:
    """Read a run directory: config, the list of checkpoints, and the model at the latest one.

    Only JSON and safetensors are read, so nothing in the directory can run code.
    """
    path = Path(run_dir)
    config = read_config(path)
    steps = checkpoint_steps(path)
    if not steps:
        raise CheckpointError(f"{path} has no checkpoints in {path / CHECKPOINTS}.")
    task = make_task(config.task, seed=config.seed)
    model = make_model(config.model, task, seed=config.seed)
    load_weights(model, checkpoint_path(path, steps[-1]))
    return Run(path, config, steps, model.eval())


def thin(run_dir: str | os.PathLike, out_dir: str | os.PathLike, *, n_checkpoints: int) -> Run:
    """Copy a run keeping about `n_checkpoints` checkpoints that sample every phase of training.

    A third go to log-spaced steps (the fast early phases), a third to evenly spaced steps, and
    a third to the steps where the logged test loss first falls below levels evenly spaced in
    its log range (so a sudden transition such as grokking gets checkpoints of its own); the
    first and last are always kept. The copy has no optimiser state: it is for analysis, not
    for resuming.
    """
    src, dst = Path(run_dir), Path(out_dir)
    steps = checkpoint_steps(src)
    if not steps:
        raise CheckpointError(f"{src} has no checkpoints in {src / CHECKPOINTS}.")
    if n_checkpoints < 2:
        raise CheckpointError(
            f"`n_checkpoints` (={n_checkpoints}) must be at least 2: the first and the last."
        )
    last, k = steps[-1], max(1, n_checkpoints // 3)
    targets = [last * i / k for i in range(k + 1)]
    targets += [math.exp(math.log(max(last, 1)) * i / k) for i in range(k + 1)]
    losses = [(m["step"], m["test_loss"]) for m in read_metrics(src) if m.get("test_loss", 0) > 0]
    if losses:
        logs = [math.log(loss) for _, loss in losses]
        for i in range(1, k + 1):
            level = max(logs) - (max(logs) - min(logs)) * i / (k + 1)
            targets.append(next(step for (step, _), lg in zip(losses, logs) if lg <= level))
    keep = sorted({min(steps, key=lambda s, t=t: abs(s - t)) for t in targets} | {steps[0], last})
    (dst / CHECKPOINTS).mkdir(parents=True, exist_ok=True)
    for name in (CONFIG, METRICS):
        if (src / name).exists():
            shutil.copyfile(src / name, dst / name)
    for step in keep:
        shutil.copyfile(checkpoint_path(src, step), checkpoint_path(dst, step))
    return load(dst)
