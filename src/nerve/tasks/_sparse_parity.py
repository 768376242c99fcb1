"""Sparse parity: n random bits, the label is the parity of k of them (Barak et al. 2022)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from nerve.tasks._base import TaskError

__all__ = ["SparseParity", "sparse_parity"]

# 2**MAX_BITS examples are enumerated at once.
MAX_BITS = 20


@dataclass(frozen=True)
class SparseParity:
    """Inputs are all ``2^n`` bit strings (tokens 0/1, ``[N, n]``); the label is the XOR of the
    bits in `relevant` (k of them, drawn with the seed)."""

    n_bits: int
    relevant: tuple[int, ...]
    n_vocab: int = 2
    n_classes: int = 2

    @property
    def name(self) -> str:
        return f"parity of bits {list(self.relevant)} of {self.n_bits}"

    @property
    def size(self) -> int:
        return 2**self.n_bits

    def enumerate(self) -> tuple[Tensor, Tensor]:
        """``(inputs [2^n, n] long, targets [2^n] long)``; row i holds the binary digits of i."""
        i = torch.arange(self.size)
        bits = (i[:, None] >> torch.arange(self.n_bits)) & 1
        return bits, bits[:, list(self.relevant)].sum(1) % 2


def sparse_parity(n: int, k: int, *, seed: int = 0) -> SparseParity:
    """The (n, k) sparse parity task with its k relevant bits drawn by `seed`.

    >>> task = sparse_parity(10, 3, seed=0)
    >>> task.size, len(task.relevant)
    (1024, 3)
    """
    if not isinstance(n, int) or not 1 <= n <= MAX_BITS:
        raise TaskError(
            f"`n` (={n!r}) must be an integer between 1 and {MAX_BITS} (all 2^n inputs are enumerated)."
        )
    if not isinstance(k, int) or not 1 <= k <= n:
        raise TaskError(f"`k` (={k!r}) must be an integer between 1 and n (={n}).")
    relevant = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:k].sort().values
    return SparseParity(n, tuple(relevant.tolist()))
