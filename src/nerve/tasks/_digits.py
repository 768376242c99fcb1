"""Handwritten digits (scikit-learn's bundled copy of the UCI 8×8 set: real data, no download), and
rotations of images about their centre, exact where they permute the pixel grid."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F

from nerve.tasks._base import TaskError

__all__ = ["DigitsTask", "rotate_images"]


def rotate_images(images: Tensor, g: Tensor) -> Tensor:
    """``(g·x)(p) = x(g⁻¹p)`` for pixel positions p about the centre (x to the right, y up), for
    images ``[B, C, H, W]`` (or ``[B, H, W]``) and one orthogonal ``g [2, 2]`` or one per image
    ``[B, 2, 2]``.

    When every g permutes the pixel grid (D4 on a square image, to 1e-4 of a pixel) the pixels are
    moved exactly; otherwise the images are sampled bilinearly, with zeros outside them.

    >>> x = torch.arange(4.0).reshape(1, 2, 2)
    >>> rotate_images(x, torch.tensor([[0.0, -1.0], [1.0, 0.0]])).tolist()  # a quarter turn
    [[[1.0, 3.0], [0.0, 2.0]]]
    """
    if images.ndim not in (3, 4):
        raise TaskError(f"`images` must be [B, C, H, W] or [B, H, W], got shape {tuple(images.shape)}.")
    g = torch.as_tensor(g, dtype=torch.float64)
    if g.shape not in ((2, 2), (len(images), 2, 2)):
        raise TaskError(f"`g` must be [2, 2] or [B={len(images)}, 2, 2], got shape {tuple(g.shape)}.")
    h, w = images.shape[-2:]
    rows, cols = torch.meshgrid(
        torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij"
    )
    p = torch.stack([cols - (w - 1) / 2, (h - 1) / 2 - rows], -1)  # [H, W, 2]: (x, y) about the centre
    q = p @ g if g.ndim == 2 else torch.einsum("hwi,bij->bhwj", p, g)  # g⁻¹p = gᵀp, as rows
    src_col, src_row = q[..., 0] + (w - 1) / 2, (h - 1) / 2 - q[..., 1]
    col, row = torch.round(src_col), torch.round(src_row)
    on_grid = max(float((src_col - col).abs().max()), float((src_row - row).abs().max())) < 1e-4
    if on_grid and bool(((col >= 0) & (col < w) & (row >= 0) & (row < h)).all()):
        index = (row * w + col).long().flatten(-2).to(images.device)  # [H·W] or [B, H·W]
        flat = images.flatten(-2)
        if index.ndim == 2 and images.ndim == 4:
            index = index[:, None].expand(-1, images.shape[1], -1)
        return flat.gather(-1, index.expand_as(flat) if index.ndim == 1 else index).reshape(images.shape)
    grid = torch.stack([2 * src_col / max(w - 1, 1) - 1, 2 * src_row / max(h - 1, 1) - 1], -1)
    batch = images if images.ndim == 4 else images[:, None]
    grid = grid.to(device=batch.device, dtype=batch.dtype)
    grid = grid[None].expand(len(batch), -1, -1, -1) if grid.ndim == 3 else grid
    out = F.grid_sample(batch, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    return out if images.ndim == 4 else out[:, 0]


@dataclass(frozen=True)
class DigitsTask:
    """Classify the 1,797 handwritten digits of scikit-learn's ``load_digits`` (8×8, grey levels
    0–16, scaled to [0, 1]); with `rotate`, every training batch is rotated by angles drawn
    uniformly from the circle (bilinear, about the centre): SO(2) augmentation.

    >>> task = DigitsTask()
    >>> x, y = task.enumerate()
    >>> tuple(x.shape), tuple(y.shape), task.n_classes
    ((1797, 1, 8, 8), (1797,), 10)
    """

    rotate: bool = False

    @property
    def name(self) -> str:
        return "handwritten digits" + (", rotated" if self.rotate else "")

    @property
    def n_classes(self) -> int:
        return 10

    @property
    def size(self) -> int:
        return 1797

    def enumerate(self) -> tuple[Tensor, Tensor]:
        """``(images [1797, 1, 8, 8] float32, labels [1797] int64)``, in the data set's order."""
        from sklearn.datasets import load_digits  # bundled with scikit-learn: read from its package

        data = load_digits()
        images = torch.tensor(data.images, dtype=torch.float32)[:, None] / 16
        return images, torch.tensor(data.target, dtype=torch.int64)

    def augment(self, images: Tensor, *, generator: torch.Generator) -> Tensor:
        """The training batch as the trainer sees it: rotated by uniform angles when `rotate`."""
        if not self.rotate:
            return images
        theta = 2 * math.pi * torch.rand(len(images), generator=generator, dtype=torch.float64)
        c, s = torch.cos(theta), torch.sin(theta)
        g = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)
        return rotate_images(images, g)
