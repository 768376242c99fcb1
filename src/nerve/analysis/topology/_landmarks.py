"""Greedy max–min landmarks: a subsample whose covering radius bounds the error it makes.

For Vietoris–Rips persistence the stability theorem (Chazal, de Silva & Oudot 2014) gives
``d_B(Dgm R(X), Dgm R(L)) ≤ 2 d_GH(X, L) ≤ 2 ε`` for landmarks L ⊆ X with covering radius
``ε = max_x min_l ‖x − l‖``: every bar of the landmarks' diagram is within 2ε of a bar of the
full cloud's (or of the diagonal), in birth and in death.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["Landmarks", "maxmin_landmarks"]


@dataclass(frozen=True)
class Landmarks:
    """Indices of the landmarks in the cloud, in the order chosen, the covering radius ε, and
    each landmark's insertion radius λ (its distance to those chosen before it; ∞ for the first),
    which the sparse filtration needs."""

    indices: Tensor
    covering_radius: float
    insertion_radii: Tensor


def maxmin_landmarks(X: Tensor, n: int, *, seed: int = 0, chunk: int = 1 << 16) -> Landmarks:
    """``n`` landmarks of ``X [N, D]`` by farthest-point sampling: each new landmark is the point
    farthest from those chosen so far (Gonzalez 1985: ε within a factor 2 of the best n-point
    cover). The first is drawn with `seed`. Runs on X's device; O(N·D) memory and time per
    landmark.

    >>> X = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [10.0, 0.0]])
    >>> lm = maxmin_landmarks(X, 2, seed=0)
    >>> sorted(lm.indices.tolist()), round(lm.covering_radius, 4)
    ([0, 3], 1.0)
    """
    N = X.shape[0]
    n = min(n, N)
    first = int(torch.randint(N, (1,), generator=torch.Generator().manual_seed(seed)))
    nearest = torch.full((N,), float("inf"), dtype=X.dtype, device=X.device)
    chosen, radii = [first], [float("inf")]
    for _ in range(n):
        new = X[chosen[-1]]
        for start in range(0, N, chunk):  # bounded memory for large clouds
            block = X[start : start + chunk]
            d = torch.linalg.vector_norm(block - new, dim=1)
            torch.minimum(nearest[start : start + chunk], d, out=nearest[start : start + chunk])
        if len(chosen) == n:
            break
        far = int(nearest.argmax())
        chosen.append(far)
        radii.append(float(nearest[far]))
    return Landmarks(torch.tensor(chosen), float(nearest.max()), torch.tensor(radii, dtype=torch.float64))
