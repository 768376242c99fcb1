"""What every finite task offers: the full enumeration of its domain and a seeded split."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from nerve.errors import TaskError

__all__ = ["Split", "TaskError", "split_indices"]


@dataclass(frozen=True)
class Split:
    """Indices into a task's enumeration: ``train`` and ``test`` partition ``range(N)``."""

    train: Tensor
    test: Tensor


def split_indices(size: int, train_fraction: float, *, seed: int) -> Split:
    """A seeded random split of ``range(size)``: ``round(train_fraction · size)`` go to train.

    >>> s = split_indices(10, 0.3, seed=0)
    >>> len(s.train), len(s.test), sorted(s.train.tolist() + s.test.tolist()) == list(range(10))
    (3, 7, True)
    """
    if not 0.0 < train_fraction <= 1.0:
        raise TaskError(f"`train_fraction` (={train_fraction}) must be in (0, 1].")
    n_train = round(train_fraction * size)
    if n_train == 0:
        raise TaskError(f"`train_fraction` (={train_fraction}) of {size} examples leaves none to train on.")
    perm = torch.randperm(size, generator=torch.Generator().manual_seed(seed))
    return Split(train=perm[:n_train].sort().values, test=perm[n_train:].sort().values)
