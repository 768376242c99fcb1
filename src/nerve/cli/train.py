"""``nerve train``: a model trained into a run directory, or a run resumed. The flags map onto
the fields of a :class:`~nerve.training.TrainConfig`; every default is the config's or the preset's."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from nerve.cli._common import clean_errors, metrics_text, train_with_bar
from nerve.errors import NerveError


def train_command(
    preset: str = typer.Option(None, help="A setup: demo, nanda2023, chughtai2023, digits, digits_rotated."),
    task: str = typer.Option(
        None, help="modadd (a+b mod p), modular, group, parity, superposition, digits or digits_rotated."
    ),
    p: int = typer.Option(None, help="The prime of a modular task."),
    op: str = typer.Option(None, help="The operation of a modular task: add, sub, mul, div, x2+y2, ..."),
    group: str = typer.Option(None, help="The group of a group task, e.g. S5 or C2xS3."),
    model: str = typer.Option(None, help="mlp, transformer, superposition or cnn (for the digits)."),
    steps: int = typer.Option(None, help="Optimiser steps (with --resume: extend the run to this many)."),
    lr: float = typer.Option(None, help="AdamW learning rate."),
    weight_decay: float = typer.Option(None, help="AdamW weight decay."),
    train_fraction: float = typer.Option(None, help="Fraction of the domain to train on."),
    batch_size: int = typer.Option(None, help="Minibatch size (default: the full training set)."),
    seed: int = typer.Option(None, help="Seed of the split, the initialisation and the batches."),
    out: Path = typer.Option(None, help="Run directory (default runs/<preset or task>-seed<seed>)."),
    resume: Path = typer.Option(None, help="Continue the run in this directory from its last checkpoint."),
) -> None:
    """Train a model into a run directory (config, metrics, safetensors checkpoints)."""
    from nerve.training import PRESETS, RunDir, TrainConfig, make_task, train
    from nerve.training import resume as resume_run

    console = Console()
    with clean_errors(console):
        if resume is not None:
            fixed = {
                "--preset": preset, "--task": task, "--p": p, "--op": op, "--group": group, "--model": model,
                "--lr": lr, "--weight-decay": weight_decay, "--train-fraction": train_fraction,
                "--batch-size": batch_size, "--seed": seed, "--out": out,
            }  # fmt: skip
            given = [flag for flag, value in fixed.items() if value is not None]
            if given:
                raise NerveError(
                    f"`--resume` continues the run in {resume} with its saved config; it takes only "
                    f"--steps (to extend it), not {', '.join(given)}. Start a new run with --out instead."
                )
            run_dir = resume
            console.print(f"resuming {run_dir}")
            fit = lambda callback: resume_run(run_dir, steps=steps, callback=callback)  # noqa: E731
        else:
            if preset is not None and preset not in PRESETS:
                raise NerveError(f"`--preset` (={preset!r}) must be one of {sorted(PRESETS)}.")
            config = PRESETS[preset] if preset else TrainConfig()
            if task == "modadd" and op not in (None, "add"):
                raise NerveError(
                    f"`--task modadd` is a+b mod p, so `--op` (={op!r}) contradicts it; for another "
                    f"operation use --task modular --op {op}."
                )
            changes = {
                "task__kind": {"modadd": "modular"}.get(task, task),
                "task__p": p,
                "task__op": "add" if task == "modadd" else op,
                "task__group": group,
                "model__kind": model,
                "steps": steps,
                "lr": lr,
                "weight_decay": weight_decay,
                "train_fraction": train_fraction,
                "batch_size": batch_size,
                "seed": seed,
            }
            config = config.replace(**{k: v for k, v in changes.items() if v is not None})
            make_task(config.task, seed=config.seed)  # a bad task fails here, before the progress bar
            run_dir = out or Path("runs") / f"{preset or config.task.kind}-seed{config.seed}"
            if RunDir(run_dir).holds_run:
                raise NerveError(
                    f"run directory {run_dir} already holds a run; resume it or choose another --out."
                )
            fit = lambda callback: train(config, run_dir, callback=callback)  # noqa: E731
    with clean_errors(console, interrupted=f"continue with: nerve train --resume {run_dir}"):
        run = train_with_bar(console, fit)
    last = run.metrics()[-1] if run.metrics() else {}
    console.print(f"done: {run.path} ({len(run.checkpoints)} checkpoints)  {metrics_text(last)}")
