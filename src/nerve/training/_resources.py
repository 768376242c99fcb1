"""What a run will need, estimated before anything is allocated or written: memory and disk.

A run that cannot fit is refused with a :class:`~nerve.training.config.ConfigError` naming the
field to change, instead of a ``MemoryError`` halfway (or the kernel's OOM killer) leaving a
directory that can be neither resumed nor reused.
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

from nerve._memory import available_memory
from nerve.training.config import ConfigError, TrainConfig

__all__ = ["check_resources", "estimate_run"]


def _task_shape(config: TrainConfig) -> tuple[int, int, int]:
    """(examples, inputs per example, classes) of the task, from its config alone (no table is
    built: a group's order is read off its name, a modular task's from p)."""
    t = config.task
    if t.kind == "modular":
        return t.p * t.p, 2, t.p
    if t.kind == "group":
        from nerve.groups import parse_group

        n = parse_group(t.group).order  # groups refuse orders above MAX_ORDER before a table exists
        return n * n, 2, n
    if t.kind == "parity":
        return 2**t.n_bits, t.n_bits, 2
    if t.kind in ("digits", "digits_rotated"):
        return 1797, 64, 10  # 8×8 images, ten digits
    if t.kind in ("so2_addition", "so3_composition"):
        n2 = 4 if t.kind == "so2_addition" else 9
        return 4096, 2 * n2, n2  # pairs of flattened matrices in, their product out
    return 4 * 1024, 1, t.n_features  # superposition: sampled batches of its features


def estimate_run(config: TrainConfig) -> tuple[int, int]:
    """``(memory, disk)`` in bytes, upper estimates: the dataset and its split (int64), the
    parameters with their gradients and AdamW's two moments (float32), the activations of one
    full batch kept for the backward pass, the float64 logits of the loss; and the checkpoints
    the schedule writes plus two optimiser states.

    >>> from nerve.training import PRESETS
    >>> memory, disk = estimate_run(PRESETS["demo"])
    >>> memory < 2**30, disk < 2**30
    (True, True)
    """
    m = config.model
    n, n_inputs, n_classes = _task_shape(config)
    if m.kind == "mlp":
        params = n_classes * m.d_embed * n_inputs + n_inputs * m.d_embed * m.d_hidden + m.d_hidden * n_classes
        per_example = n_inputs * m.d_embed + 3 * m.d_hidden + n_classes
    elif m.kind == "transformer":
        ctx, d = n_inputs + 1, m.d_model
        attn = 4 * d * m.n_heads * m.d_head
        params = (n_classes + ctx) * d + attn + 2 * d * m.d_mlp + d * n_classes
        per_example = ctx * (6 * d + 3 * m.n_heads * m.d_head + 2 * m.d_mlp + 2 * m.n_heads * ctx) + n_classes
    elif m.kind == "gpt2":  # the layers' attention and MLP, two LayerNorms each, the tied embedding
        ctx, d, v = n_inputs + 1, m.d_model, n_classes + 1
        params = v * d + ctx * d + m.n_layers * (4 * d * d + 2 * d * m.d_mlp + 13 * d + m.d_mlp) + 2 * d
        per_example = ctx * m.n_layers * (12 * d + 2 * m.d_mlp + 2 * m.n_heads * ctx) + ctx * v
    elif m.kind == "cnn":  # 3×3 convolutions of c and 2c channels on the image, a 2×2 pool, d_hidden units
        c = m.d_embed
        params = (
            10 * c
            + 9 * c * 2 * c
            + 2 * c
            + 2 * c * (n_inputs // 4) * m.d_hidden
            + (m.d_hidden + 1) * (n_classes + 1)
        )
        per_example = n_inputs * (4 * c + 4 * 2 * c) + 3 * m.d_hidden + n_classes
    else:
        params = 2 * n_classes * m.n_hidden + n_classes
        per_example = 2 * n_classes + m.n_hidden
    batch = config.batch_size or max(1, math.ceil(n * config.train_fraction))
    batch = min(batch, n)
    memory = (
        n * (n_inputs + 1) * 8 * 2  # the enumerated examples and the split's copies
        + params * 4 * 4  # weights, gradients, AdamW's two moments
        + batch * per_example * 4 * 2  # activations kept for backward, and their gradients
        + batch * n_classes * 8 * 3  # float64 logits, log-softmax and its gradient
    )
    checkpoints = config.steps // config.checkpoint_every + config.checkpoint_log_points + 2
    disk = params * 4 * (checkpoints + 4)
    return memory, disk


def check_resources(config: TrainConfig, run_dir: str | os.PathLike) -> None:
    """Refuse a run whose estimated memory exceeds what is available, or whose checkpoints would
    not fit on the disk of `run_dir`."""
    memory, disk = estimate_run(config)
    budget = available_memory()
    if memory > budget:
        raise ConfigError(
            f"the run needs about {memory / 2**30:.1f} GiB of memory (task {config.task.kind}, model "
            f"{config.model.kind}, batch {config.batch_size or 'full'}), more than the "
            f"{budget / 2**30:.1f} GiB available; use a smaller task or model, or set `batch_size`."
        )
    where = Path(run_dir).absolute()
    while not where.exists() and where != where.parent:
        where = where.parent
    free = shutil.disk_usage(where).free
    if disk > free:
        raise ConfigError(
            f"the run's checkpoints need about {disk / 2**30:.1f} GiB, more than the "
            f"{free / 2**30:.1f} GiB free under {where}; raise `checkpoint_every` "
            f"(={config.checkpoint_every})."
        )
