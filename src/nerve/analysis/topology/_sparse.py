"""The sparse Rips filtration of Cavanna, Jahanseir & Sheehy (2015), "A geometric perspective on
sparse filtrations" (CCCG): a weighted graph whose clique filtration approximates the Rips
filtration within a factor 1 + ε, with far fewer edges.

Points come in greedy (max–min) order with insertion radii λ_p. Around each point grows a ball
of radius α until α = E₀λ_p, with E₀ = (1+ε)/ε; it then stops growing, and the point leaves
the filtration after α = E₁λ_p, E₁ = (1+ε)²/ε, when nearby points of the net cover it. The
edge pq (λ_p ≤ λ_q) enters when the two balls meet while both exist, in Rips units (2α):

- at d(p, q), if d ≤ 2E₀λ_p (both balls still growing);
- at 2(d − E₀λ_p), if d ≤ min((E₀+E₁)λ_p, E₀(λ_p+λ_q)) (p's ball frozen, q's still growing);
- never otherwise.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["sparse_rips_graph"]


#: Elements of one [chunk, m] block of distances; the construction holds about 8 such blocks.
BLOCK = 1 << 22


def sparse_rips_graph(
    X: Tensor, radii: Tensor, eps: float, *, chunk: int | None = None
) -> tuple[Tensor, Tensor, Tensor, float]:
    """``(rows, cols, weights, spacing)``: the edges ``rows[k] < cols[k]`` of the sparse Rips graph
    of ``X [m, D]`` (in greedy order, insertion radii ``radii [m]``, ∞ for the first point), their
    filtration values, and the largest distance from a point to its second-nearest neighbour.

    Memory: about 8 blocks of ``chunk · m`` distances (by default ``chunk · m ≤`` `BLOCK`, 32 MiB
    each in float64), plus the edges kept.

    >>> X = torch.tensor([[0.0, 0.0], [4.0, 0.0], [2.0, 0.0], [1.0, 0.0]], dtype=torch.float64)
    >>> rows, cols, w, _ = sparse_rips_graph(X, torch.tensor([float("inf"), 4.0, 2.0, 1.0]), 0.5)
    >>> sorted(zip(rows.tolist(), cols.tolist(), w.tolist()))   # all short enough: Rips itself
    [(0, 1, 4.0), (0, 2, 2.0), (0, 3, 1.0), (1, 2, 2.0), (1, 3, 3.0), (2, 3, 1.0)]
    """
    m = X.shape[0]
    chunk = chunk or max(1, BLOCK // max(m, 1))
    e0 = (1 + eps) / eps
    e1 = (1 + eps) ** 2 / eps
    lam = radii.to(X.dtype)
    rows, cols, weights, second = [], [], [], []
    for start in range(0, m, chunk):
        d = torch.cdist(X[start : start + chunk], X)  # [c, m]
        i = torch.arange(start, min(start + chunk, m))
        lo = torch.minimum(lam[i][:, None], lam[None, :])  # the point that leaves first
        hi = torch.maximum(lam[i][:, None], lam[None, :])
        keep = (d <= torch.minimum((e0 + e1) * lo, e0 * (lo + hi))) & (i[:, None] < torch.arange(m)[None, :])
        r, c = torch.nonzero(keep, as_tuple=True)
        dist, low = d[r, c], lo[r, c]
        weights.append(torch.where(dist <= 2 * e0 * low, dist, 2 * (dist - e0 * low)))
        rows.append(i[r])
        cols.append(c)
        d[torch.arange(len(i)), i] = torch.inf  # the edges are read: mask each point's distance to itself
        second.append(d.topk(min(2, m - 1), dim=1, largest=False).values[:, -1])
    spacing = float(torch.cat(second).max()) if m > 1 else 0.0
    return torch.cat(rows), torch.cat(cols), torch.cat(weights), spacing
