"""Circular coordinates from a persistent cohomology class (de Silva, Morozov &
Vejdemo-Johansson 2011, "Persistent cohomology and circular coordinates"; with landmarks and a
partition of unity as in Perea 2018, "Sparse circular coordinates via principal Z-bundles").

Given an integer 1-cocycle z on the edges of the Rips complex of the landmarks at scale t,
the harmonic representative ``ζ = z + δf`` (f minimising ‖z + δf‖² with each edge weighted by
``1/(deg_j deg_k)``, ``(δf)(j, k) = f(k) − f(j)``) integrates to a map onto the circle: for
a point x in the ball of landmark j,

    θ(x) = f(j) + Σ_k φ_k(x) ζ(j, k)  mod 1,

with φ a partition of unity subordinate to the balls of radius t/2 around the landmarks. The
value does not depend on j because ζ is a cocycle on every triangle that x's balls span.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.sparse import coo_matrix
from scipy.sparse.linalg import lsqr
from torch import Tensor

from nerve.errors import AnalysisError

__all__ = ["circular_coordinate", "lift_cocycle"]


def lift_cocycle(cocycle: np.ndarray, prime: int) -> dict[tuple[int, int], int]:
    """A Z/p cocycle ``[[i, j, v], ...]`` lifted to integers in ``(−p/2, p/2]``, keyed by the
    edge (i, j) with i < j (the value negated when the edge is flipped)."""
    out: dict[tuple[int, int], int] = {}
    for i, j, v in np.asarray(cocycle, dtype=np.int64):
        v = int(v) % prime
        v = v - prime if v > prime // 2 else v
        if i > j:
            i, j, v = j, i, -v
        out[(int(i), int(j))] = v
    return out


def circular_coordinate(
    X: Tensor,
    landmarks: Tensor,
    distances: Tensor,
    cocycle: np.ndarray,
    *,
    prime: int,
    scale: float,
    chunk: int = 8192,
) -> Tensor:
    """``θ [N]`` in [0, 1): the circular coordinate of every point of ``X [N, D]``.

    **Arguments:**

    - `landmarks`: ``[L]`` indices into X; `distances`: ``[L, L]`` between them.
    - `cocycle`: rows ``[i, j, value]`` over Z/`prime`, i and j indices into the landmarks.
    - `scale`: the Rips scale t at which the class is alive (birth ≤ t < death); every point
      must lie within t/2 of a landmark.
    """
    L = len(landmarks)
    iu, ju = torch.triu_indices(L, L, offset=1)
    inside = distances[iu, ju] < scale
    edges = torch.stack([iu[inside], ju[inside]], dim=1).numpy()
    lifted = lift_cocycle(cocycle, prime)
    z = np.array([lifted.get((int(i), int(j)), 0) for i, j in edges], dtype=np.float64)
    # least squares δf ≈ −z over the edges of the complex at this scale, each edge weighted by
    # 1/(deg_j deg_k): unweighted, the graph Laplacian sees the sampling density squared and the
    # coordinate speeds up across sparse stretches; dividing by the degrees (the α = 1
    # normalisation of Coifman & Lafon's diffusion maps) leaves the geometry alone
    rows = np.repeat(np.arange(len(edges)), 2)
    D = coo_matrix(
        (np.tile([-1.0, 1.0], len(edges)), (rows, edges.reshape(-1))), shape=(len(edges), L)
    ).tocsr()
    degree = np.bincount(edges.reshape(-1), minlength=L).astype(np.float64)
    w = (degree[edges[:, 0]] * degree[edges[:, 1]]) ** -0.5 if len(edges) else np.zeros(0)
    f = lsqr(D.multiply(w[:, None]).tocsr(), -z * w, atol=1e-12, btol=1e-12)[0] if len(edges) else np.zeros(L)
    zeta = np.zeros((L, L))
    zeta[edges[:, 0], edges[:, 1]] = z + D @ f
    zeta[edges[:, 1], edges[:, 0]] = -(z + D @ f)
    zeta_t, f_t = torch.from_numpy(zeta), torch.from_numpy(f)
    radius = scale / 2
    points = X[landmarks]
    theta = torch.empty(X.shape[0], dtype=torch.float64)
    for start in range(0, X.shape[0], chunk):
        d = torch.cdist(X[start : start + chunk].double(), points.double())  # [B, L]
        phi = (radius - d).clamp_min(0) ** 2
        weight = phi.sum(1, keepdim=True)
        if bool((weight == 0).any()):
            worst = float(d.min(1).values.max())
            raise AnalysisError(
                f"`scale` (={scale:.4g}) leaves points {worst:.4g} from every landmark: balls of radius "
                "scale/2 must cover the cloud; use more landmarks or a class that lives longer."
            )
        phi = phi / weight
        j = d.argmin(1)  # the nearest landmark's ball always holds x
        theta[start : start + chunk] = f_t[j] + (phi * zeta_t[j]).sum(1)
    return theta.remainder(1.0)
