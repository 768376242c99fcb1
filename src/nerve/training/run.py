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
from collections.abc import Sequence
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

__all__ = ["CheckpointError", "Run", "RunDir", "load", "thin"]

CONFIG, METRICS, CHECKPOINTS, STATE = "config.json", "metrics.jsonl", "checkpoints", "state.safetensors"
STATE_PREVIOUS = "state.previous.safetensors"
ANALYSIS, PROOFS, REPORT = "analysis", "proofs", "report.html"


@dataclass(frozen=True)
class RunDir:
    """Every path of a run directory, spelled here and nowhere else (the layout above).

    >>> d = RunDir(Path("runs/p97"))
    >>> d.checkpoint(500).as_posix(), d.analysis("fourier").as_posix()
    ('runs/p97/checkpoints/step_500.safetensors', 'runs/p97/analysis/fourier.json')
    >>> d.proof("correct").as_posix(), d.report.as_posix()
    ('runs/p97/proofs/correct.json', 'runs/p97/report.html')
    >>> d.relative(d.checkpoint(500))
    'checkpoints/step_500.safetensors'
    """

    path: Path

    @classmethod
    def of(cls, run_dir: str | os.PathLike | RunDir) -> RunDir:
        return run_dir if isinstance(run_dir, RunDir) else cls(Path(run_dir))

    def __str__(self) -> str:  # messages name the directory as the user gave it
        return str(self.path)

    def __fspath__(self) -> str:
        return str(self.path)

    @property
    def config(self) -> Path:
        return self.path / CONFIG

    @property
    def metrics(self) -> Path:
        return self.path / METRICS

    @property
    def checkpoints(self) -> Path:
        return self.path / CHECKPOINTS

    @property
    def state(self) -> Path:
        """Optimiser moments of the latest checkpoint."""
        return self.path / STATE

    @property
    def state_previous(self) -> Path:
        """Optimiser moments of the checkpoint before the latest."""
        return self.path / STATE_PREVIOUS

    @property
    def report(self) -> Path:
        return self.path / REPORT

    @property
    def holds_run(self) -> bool:
        """Whether a run was made here (its config is written first)."""
        return self.config.exists()

    def checkpoint(self, step: int) -> Path:
        """The weights after `step` optimiser steps."""
        return self.checkpoints / f"step_{step}.safetensors"

    def checkpoint_steps(self) -> tuple[int, ...]:
        """The steps that have a checkpoint file, in order."""
        if not self.checkpoints.is_dir():
            return ()
        found = (_STEP.fullmatch(p.name) for p in self.checkpoints.iterdir())
        return tuple(sorted(int(m.group(1)) for m in found if m))

    def analysis(self, name: str) -> Path:
        """The JSON result of the analysis `name`."""
        return self.path / ANALYSIS / f"{name}.json"

    def proof(self, claim: str, method: str = "exhaustive") -> Path:
        """The certificate of the claim `claim` that ``nerve prove`` writes (``CLAIM.json``; by a
        method other than the exhaustive one, ``CLAIM.METHOD.json``, beside it)."""
        return self.path / PROOFS / (f"{claim}.json" if method == "exhaustive" else f"{claim}.{method}.json")

    def proofs(self) -> list[Path]:
        """Every certificate in the run's proofs folder, by name."""
        return sorted((self.path / PROOFS).glob("*.json"))

    def write_analysis(self, name: str, text: str) -> Path:
        """Write the result `name` (whole or not at all) and return its path."""
        path = self.analysis(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_text_atomic(path, text)

    def relative(self, path: Path) -> str:
        """`path` inside the run, as a certificate names it (``checkpoints/step_N.safetensors``)."""
        return path.relative_to(self.path).as_posix()


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


def resume_point(run_dir: Path | RunDir, model: nn.Module) -> tuple[int, dict[str, Tensor]] | None:
    """The latest saved state whose checkpoint reads: its step and optimiser tensors, with its
    weights loaded into `model`; None when there is none (the run starts again from step 0,
    which rewrites the same files bit for bit).

    The latest state and the one before it are tried in turn; a file that does not read is set
    aside (:func:`set_aside`), and a state whose checkpoint was set aside is dropped with it.
    """
    d = RunDir.of(run_dir)
    for path in (d.state, d.state_previous):
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
        checkpoint = d.checkpoint(step)
        try:
            load_weights(model, checkpoint)
        except CheckpointError:
            if checkpoint.exists():
                set_aside(checkpoint)
            path.unlink()  # a state without its weights resumes nothing; it is remade on replay
            continue
        if path == d.state_previous:
            os.replace(path, d.state)
        return step, tensors
    return None


def write_config(run_dir: Path | RunDir, config: TrainConfig, *, threads: int) -> None:
    """The exact config of a run, with the torch threads it trains with (the order in which
    its sums are taken: a resume uses the same number, or its bits differ)."""
    data = {"nerve_version": __version__, "threads": threads, "config": config.to_dict()}
    write_text_atomic(RunDir.of(run_dir).config, strict_json(data, indent=2))


def _read_config_file(run_dir: Path | RunDir) -> dict[str, Any]:
    path = RunDir.of(run_dir).config
    if not path.is_file():
        raise CheckpointError(f"{run_dir} is not a run directory: {path} does not exist.")
    try:
        data = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError, OSError) as err:
        raise CheckpointError(f"{path} is not a valid nerve config: not JSON ({err}).") from None
    if not isinstance(data, dict) or not isinstance(data.get("config"), dict):
        raise CheckpointError(f'{path} is not a valid nerve config: it must be an object with a "config".')
    return data


def read_config(run_dir: Path | RunDir) -> TrainConfig:
    """The config a run was made with; every field must be there (a missing one is an error,
    not a default: a run resumed toward the default 40,000 steps is not the run that was made)."""
    path = RunDir.of(run_dir).config
    try:
        return TrainConfig.from_dict(_read_config_file(run_dir)["config"], complete=True)
    except ConfigError as err:
        raise CheckpointError(f"{path} is not a valid nerve config: {err}") from None


def read_threads(run_dir: Path | RunDir) -> int | None:
    """The torch threads a run was trained with, or None for a run that did not record them."""
    path = RunDir.of(run_dir).config
    threads = _read_config_file(run_dir).get("threads")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise CheckpointError(f"{path}: `threads` (={threads!r}) must be a positive integer.")
    return threads


def read_metrics(run_dir: Path | RunDir) -> list[dict[str, Any]]:
    path = RunDir.of(run_dir).metrics
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
    """A run directory read back: its config, checkpoint steps, metrics and the latest model
    (None when read with ``load(..., weights=False)``)."""

    path: Path
    config: TrainConfig
    checkpoints: tuple[int, ...]
    model: nn.Module | None

    @property
    def dir(self) -> RunDir:
        """The paths of this run's files."""
        return RunDir(self.path)

    @property
    def task(self):
        return make_task(self.config.task, seed=self.config.seed)

    @property
    def last_model(self) -> nn.Module:
        """The model at the last checkpoint (`model`), which a run read with ``weights=False`` lacks."""
        if self.model is None:
            raise CheckpointError(f"{self.path} was read with weights=False: its model was not loaded.")
        return self.model

    def model_at(self, step: int) -> nn.Module:
        """The model after `step` optimiser steps, from its checkpoint."""
        if step not in self.checkpoints:
            raise CheckpointError(
                f"{self.path} has no checkpoint at step {step}; it has {list(self.checkpoints)}."
            )
        model = make_model(self.config.model, self.task, seed=self.config.seed)
        load_weights(model, self.dir.checkpoint(step))
        return model.eval()

    def metrics(self) -> list[dict[str, Any]]:
        """The lines of ``metrics.jsonl``, one dict per evaluated step."""
        return read_metrics(self.path)


def load(run_dir: str | os.PathLike | RunDir, *, weights: bool = True) -> Run:
    """Read a run directory: config, the list of checkpoints, and the model at the latest one
    (with ``weights=False``, no weights are read: for what renders saved results).

    Only JSON and safetensors are read, so nothing in the directory can run code.
    """
    d = RunDir.of(run_dir)
    config = read_config(d)
    steps = d.checkpoint_steps()
    if not steps:
        raise CheckpointError(f"{d.path} has no checkpoints in {d.checkpoints}.")
    if not weights:
        return Run(d.path, config, steps, None)
    task = make_task(config.task, seed=config.seed)
    model = make_model(config.model, task, seed=config.seed)
    load_weights(model, d.checkpoint(steps[-1]))
    return Run(d.path, config, steps, model.eval())


def thin(run_dir: str | os.PathLike, out_dir: str | os.PathLike, *, n_checkpoints: int) -> Run:
    """Copy a run keeping about `n_checkpoints` checkpoints that sample every phase of training.

    A third go to log-spaced steps (the fast early phases), a third to evenly spaced steps, and
    a third to the steps where the logged test loss first falls below levels evenly spaced in
    its log range (so a sudden transition such as grokking gets checkpoints of its own); the
    first and last are always kept. The copy has no optimiser state: it is for analysis, not
    for resuming.
    """
    src, dst = RunDir.of(run_dir), RunDir.of(out_dir)
    steps = src.checkpoint_steps()
    if not steps:
        raise CheckpointError(f"{src.path} has no checkpoints in {src.checkpoints}.")
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
    keep = sorted({_nearest(steps, t) for t in targets} | {steps[0], last})
    dst.checkpoints.mkdir(parents=True, exist_ok=True)
    for source, target in ((src.config, dst.config), (src.metrics, dst.metrics)):
        if source.exists():
            shutil.copyfile(source, target)
    for step in keep:
        shutil.copyfile(src.checkpoint(step), dst.checkpoint(step))
    return load(dst)


def _nearest(steps: Sequence[int], target: float) -> int:
    return min(steps, key=lambda s: abs(s - target))
