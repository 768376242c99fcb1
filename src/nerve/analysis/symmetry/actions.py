"""Groups acting on a model's inputs: ``action(g, x)`` is g·x for one group element g (a matrix of
the group's defining representation) and a batch of inputs x.

- :class:`RotateImage`: images ``[B, C, H, W]`` (or ``[B, H, W]``) rotated and reflected about
  their centre; exact for D4 on a square grid (the pixels are permuted), bilinear otherwise.
- :class:`ShiftSequence`: C_n acting on sequences of length n by cyclic shifts.
- :class:`RotatePoints`: SO(3), O(3) (or SO(2), O(2)) acting on points ``[..., 3]`` (``[..., 2]``).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import torch
from torch import Tensor

from nerve.errors import AnalysisError
from nerve.groups import CompactGroup, FiniteSubgroup, finite_subgroup, o2, so2, so3
from nerve.tasks import rotate_images

__all__ = ["Action", "RotateImage", "RotatePoints", "ShiftSequence"]


class Action(ABC):
    """A group of n×n matrices acting on inputs. `group` is what the action's elements come from:
    a compact group (sampled at its quadrature) or a finite subgroup of one (all its elements)."""

    group: CompactGroup | FiniteSubgroup

    @property
    def ambient(self) -> CompactGroup:
        """The compact group whose matrices the action takes."""
        return self.group.ambient if isinstance(self.group, FiniteSubgroup) else self.group

    @abstractmethod
    def __call__(self, g: Tensor, x: Tensor) -> Tensor:
        """g·x for one element ``g [n, n]`` and a batch ``x``."""

    def _element(self, g: Tensor) -> Tensor:
        g = torch.as_tensor(g)
        if g.shape != (self.ambient.n, self.ambient.n):
            raise AnalysisError(
                f"`g` must be one [{self.ambient.n}, {self.ambient.n}] matrix, got shape {tuple(g.shape)}."
            )
        return self.ambient.check(g)


class RotateImage(Action):
    """``(g·x)(p) = x(g⁻¹p)`` for pixel positions p about the image's centre (x to the right, y up),
    by :func:`~nerve.tasks.rotate_images`: exact when g permutes the pixel grid (the elements of D4
    on a square image; to 1e-4 of a pixel, so a quarter turn given in float32 counts), bilinear
    otherwise, with zeros outside the image (the corners of a rotated square). `group`: ``so2()``
    (default), ``o2()`` or a finite subgroup such as ``finite_subgroup(o2(), "D4")``.

    >>> x = torch.arange(4.0).reshape(1, 2, 2)
    >>> RotateImage(finite_subgroup(o2(), "C4"))(so2().element(torch.tensor(math.pi / 2)), x).tolist()
    [[[1.0, 3.0], [0.0, 2.0]]]
    """

    def __init__(self, group: CompactGroup | FiniteSubgroup | None = None) -> None:
        self.group = so2() if group is None else group
        if self.ambient not in (so2(), o2()):
            raise AnalysisError(
                f"`group` (={self.group!r}) must act on the plane: SO(2), O(2) or a subgroup."
            )

    def __call__(self, g: Tensor, x: Tensor) -> Tensor:
        g = self._element(g)
        if x.ndim not in (3, 4):
            raise AnalysisError(f"`x` must be images [B, C, H, W] or [B, H, W], got shape {tuple(x.shape)}.")
        return rotate_images(x, g)


class ShiftSequence(Action):
    """C_n acting on sequences ``[B, n, ...]`` along `dim`: the rotation by 2πa/n shifts by a,
    ``(g·x)[i] = x[i − a]``.

    >>> ShiftSequence(4)(so2().element(torch.tensor(math.pi / 2)), torch.tensor([[0, 1, 2, 3]])).tolist()
    [[3, 0, 1, 2]]
    """

    def __init__(self, n: int, *, dim: int = 1) -> None:
        self.n, self.dim = n, dim
        self.group = finite_subgroup(so2(), f"C{n}")

    def __call__(self, g: Tensor, x: Tensor) -> Tensor:
        g = self._element(g)
        if x.ndim <= self.dim or x.shape[self.dim] != self.n:
            raise AnalysisError(
                f"`x` must have length {self.n} along dim {self.dim}, got shape {tuple(x.shape)}."
            )
        turns = math.atan2(float(g[1, 0]), float(g[0, 0])) * self.n / (2 * math.pi)
        if abs(turns - round(turns)) > 1e-6:
            raise AnalysisError(
                f"`g` rotates by {turns:.4f} / {self.n} of a turn: not an element of C{self.n}."
            )
        return torch.roll(x, round(turns) % self.n, dims=self.dim)


class RotatePoints(Action):
    """A group of n×n matrices acting on points, the last axis of ``x [..., n]``: x ↦ g x. `group`:
    ``so3()`` (default; point clouds ``[B, P, 3]``), ``o3()``, ``so2()``, ``o2()`` or a finite subgroup."""

    def __init__(self, group: CompactGroup | FiniteSubgroup | None = None) -> None:
        self.group = so3() if group is None else group

    def __call__(self, g: Tensor, x: Tensor) -> Tensor:
        g = self._element(g)
        n = self.ambient.n
        if x.shape[-1:] != (n,):
            raise AnalysisError(
                f"`x` must be points [..., {n}] for {self.group!r}, got shape {tuple(x.shape)}."
            )
        return x @ g.to(x.dtype).T
