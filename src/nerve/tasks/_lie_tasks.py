"""The law of a compact Lie group as a task: pairs of rotations in, their product out. Angle
addition on SO(2) is the continuous cousin of modular addition; composition on SO(3) the
non-abelian one."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from nerve.groups import CompactGroup, so2, so3
from nerve.tasks._base import TaskError

__all__ = ["LieCompositionTask"]

_GROUPS = {"SO(2)": so2, "SO(3)": so3}


@dataclass(frozen=True)
class LieCompositionTask:
    """`size` pairs ``(g₁, g₂)`` of Haar-random elements of `lie_group` (``"SO(2)"`` or ``"SO(3)"``),
    drawn from `seed`; the input is the two defining matrices, each flattened (``[N, 2, n²]``), the
    target their product ``g₁g₂`` flattened (``[N, n²]``); the loss is the squared error summed over
    the n² entries, averaged over the batch.

    >>> x, y = LieCompositionTask("SO(2)", size=3).enumerate()
    >>> tuple(x.shape), tuple(y.shape)
    ((3, 2, 4), (3, 4))
    """

    lie_group: str = "SO(2)"
    size: int = 4096
    seed: int = 0

    def __post_init__(self) -> None:
        if self.lie_group not in _GROUPS:
            raise TaskError(f"`lie_group` (={self.lie_group!r}) must be one of {list(_GROUPS)}.")
        if not isinstance(self.size, int) or self.size < 2:
            raise TaskError(f"`size` (={self.size!r}) must be an integer of at least 2.")

    @property
    def compact_group(self) -> CompactGroup:
        """The compact group (named so, not ``group``, which the finite Fourier analyses read)."""
        return _GROUPS[self.lie_group]()

    @property
    def name(self) -> str:
        return "angle addition on SO(2)" if self.lie_group == "SO(2)" else "composition on SO(3)"

    @property
    def n_out(self) -> int:
        return self.compact_group.n**2

    def enumerate(self) -> tuple[Tensor, Tensor]:
        """``(inputs [N, 2, n²] float32, targets [N, n²] float32)``."""
        g = self.compact_group.sample(2 * self.size, seed=self.seed)
        a, b = g[: self.size], g[self.size :]
        x = torch.stack([a.flatten(1), b.flatten(1)], 1)
        return x.float(), (a @ b).flatten(1).float()

    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        """``mean_batch Σ (output − target)²``."""
        return (output - target).pow(2).sum(-1).mean()
