"""Points in a plane of frequency k and the loop they make: the one step that the circles of a
group task's embeddings (:class:`~nerve.analysis.fourier.FrequencyCircles`) and of a language
model's cyclically ordered tokens (:class:`~nerve.analysis.topology.TokenCircles`) share.

The plane of frequency k of n ordered points is spanned by their k-th Fourier coefficients;
projected onto it, points that carry the order as ``cos, sin(2πka/n)`` go round a circle in the
order k·a mod n. :func:`plane_loop` asks that of any points in the plane without assuming a
circle: the persistent homology of the points, its significant loops, and the agreement of the
longest one's circular coordinate with the expected phases.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from nerve.analysis.topology.homology import (
    PersistentHomology,
    TopologyResult,
    circular_agreement,
    longest_loop_coordinate,
)

__all__ = ["PlaneLoop", "frequency_basis", "frequency_plane", "plane_loop"]


def frequency_basis(W: Tensor, k: int) -> Tensor:
    """``[d, 2]``: an orthonormal basis of the plane of frequency k of the rows of ``W [p, d]``
    (for 0 < k < p/2; the mean of the rows does not enter it)."""
    p = W.shape[0]
    a = torch.arange(p, dtype=torch.float64)
    W = W.double()
    basis = torch.stack([torch.cos(2 * math.pi * k * a / p) @ W, torch.sin(2 * math.pi * k * a / p) @ W], 1)
    return torch.linalg.qr(basis)[0]


def frequency_plane(W: Tensor, k: int) -> Tensor:
    """``[p, 2]``: the rows of ``W [p, d]`` projected onto the plane of frequency k, the span of
    ``Σ_a cos(2πka/p) W[a]`` and ``Σ_a sin(2πka/p) W[a]`` (orthonormalised), in its coordinates.

    >>> p, k = 7, 2
    >>> a = torch.arange(p).double()
    >>> circle = torch.stack([torch.cos(2 * torch.pi * k * a / p), torch.sin(2 * torch.pi * k * a / p)], 1)
    >>> isometry = torch.linalg.qr(torch.randn(5, 2, generator=torch.Generator().manual_seed(0)))[0]
    >>> frequency_plane(circle @ isometry.T.double(), k).norm(dim=1)  # the unit circle, recovered
    tensor([1.0000, 1.0000, 1.0000, 1.0000, 1.0000, 1.0000, 1.0000], dtype=torch.float64)
    """
    return W.double() @ frequency_basis(W, k)


@dataclass(frozen=True)
class PlaneLoop:
    """The loop of points in a plane: their persistent homology `topology`, its H1 bar lengths
    `persistence` (longest first), the circular coordinate `coordinate` of the longest significant
    loop (``[n]`` in turns; None without one) and its `agreement` with the expected phases."""

    topology: TopologyResult
    persistence: tuple[float, ...]
    coordinate: Tensor | None
    agreement: float | None


def plane_loop(points: Tensor, phases: Tensor, *, field: int = 47, significance: float = 1.5) -> PlaneLoop:
    """The significant loops of ``points [n, 2]`` and how well the longest one's circular
    coordinate agrees with ``phases [n]`` (in turns) up to rotation and reflection.

    >>> a = torch.arange(12).double()
    >>> ring = torch.stack([torch.cos(2 * torch.pi * 5 * a / 12), torch.sin(2 * torch.pi * 5 * a / 12)], 1)
    >>> loop = plane_loop(ring, (5 * a / 12) % 1)
    >>> loop.topology.betti[:2], round(loop.agreement, 6)
    ((1, 1), 1.0)
    """
    ph = PersistentHomology(field=field, significance=significance, circular=True).fit(points)
    r = ph.result_
    theta = longest_loop_coordinate(ph)
    return PlaneLoop(
        topology=r,
        persistence=tuple(sorted((d - b for b, d in r.diagrams[1]), reverse=True)),
        coordinate=theta,
        agreement=None if theta is None else circular_agreement(theta, phases),
    )
