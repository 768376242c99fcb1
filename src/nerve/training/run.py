"""The run directory: config, metrics and safetensors checkpoints, read back without unpickling.

```
runs/<name>/
  config.json            {"nerve_version": ..., "config": TrainConfig.to_dict()}
  metrics.jsonl          one line per evaluated step
  checkpoints/           step_<N>.safetensors: the weights after N optimiser steps
  state.safetensors      optimiser moments of the latest checkpoint, for --resume
```
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import Tensor, nn

import nerve
from nerve.errors import NerveError
from nerve.training.config import ConfigError, TrainConfig, make_model, make_task

__all__ = ["CheckpointError", "Run", "load", "thin"]

CONFIG, METRICS, CHECKPOINTS, STATE = "config.json", "metrics.jsonl", "checkpoints", "state.safetensors"
_STEP = re.compile(r"step_(\d+)\.safetensors")


class CheckpointError(NerveError, ValueError):
    """A run directory or checkpoint file that is missing, corrupt, truncated or mismatched."""


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
    model.load_state_dict(tensors)


def checkpoint_path(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / CHECKPOINTS / f"step_{step}.safetensors"


def checkpoint_steps(run_dir: Path) -> tuple[int, ...]:
    folder = Path(run_dir) / CHECKPOINTS
    if not folder.is_dir():
        return ()
    return tuple(sorted(int(m.group(1)) for p in folder.iterdir() if (m := _STEP.fullmatch(p.name))))


def write_config(run_dir: Path, config: TrainConfig) -> None:
    path = Path(run_dir) / CONFIG
    path.write_text(json.dumps({"nerve_version": nerve.__version__, "config": config.to_dict()}, indent=2))


def read_config(run_dir: Path) -> TrainConfig:
    path = Path(run_dir) / CONFIG
    if not path.is_file():
        raise CheckpointError(f"{run_dir} is not a run directory: {path} does not exist.")
    try:
        return TrainConfig.from_dict(json.loads(path.read_text())["config"])
    except (json.JSONDecodeError, KeyError, TypeError, ConfigError) as err:
        raise CheckpointError(f"{path} is not a valid nerve config: {err}") from None


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
