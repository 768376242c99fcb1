"""Rotations of R³ as matrices, and the real irreps of SO(3) from their Lie algebra.

The irrep of degree ℓ is built on the real spherical harmonics ``Y_ℓm`` (m = −ℓ … ℓ, the order
e3nn and most of physics use: for ℓ = 1 the basis is (y, z, x)). Its generators ``A_k`` are the
images of the defining rotation generators ``(L_k)_ij = −ε_kij``, obtained from the angular
momentum matrices ``J_z = diag(m)``, ``J_± |m⟩ = √((ℓ∓m)(ℓ±m+1)) |m±1⟩`` by the unitary change
of basis to real harmonics; then ``D^ℓ(exp ω·L) = exp(ω·A)`` for the rotation vector ω of R,
which is exact in exact arithmetic because ``k ↦ A_k`` is a Lie algebra homomorphism and the
exponential map of SO(3) is onto.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "L_DEFINING",
    "euler_zyz",
    "gauss_legendre",
    "quaternion_of",
    "real_generators",
    "rotation_of_quaternion",
    "rotation_vector",
    "wigner_d",
]

#: ``[3, 3, 3]``: ``(L_k)_ij = −ε_kij``, so that ``exp(θ L_z)`` rotates by θ about z.
L_DEFINING = -torch.tensor(
    [
        [[0, 0, 0], [0, 0, 1], [0, -1, 0]],
        [[0, 0, -1], [0, 0, 0], [1, 0, 0]],
        [[0, 1, 0], [-1, 0, 0], [0, 0, 0]],
    ],
    dtype=torch.float64,
)


@functools.cache
def _real_from_complex(ell: int) -> Tensor:
    """``Q [2ℓ+1, 2ℓ+1]`` complex: row m of Q writes the real harmonic Y_ℓm in the complex ones
    (Condon–Shortley phase): ``(Y^{−|m|} + (−1)^m Y^{|m|})/√2`` for m > 0, ``Y^0`` for m = 0 and
    ``−i(Y^{−|m|} − (−1)^m Y^{|m|})/√2`` for m < 0, the sign that makes ℓ = 1 the basis (y, z, x)
    with the action below."""
    size, s = 2 * ell + 1, 1 / math.sqrt(2)
    q = [[0j] * size for _ in range(size)]
    q[ell][ell] = 1
    for m in range(1, ell + 1):
        sign = (-1) ** m
        q[ell + m][ell - m], q[ell + m][ell + m] = s, sign * s
        q[ell - m][ell - m], q[ell - m][ell + m] = -1j * s, 1j * sign * s
    return torch.tensor(q, dtype=torch.complex128)


@functools.cache
def real_generators(ell: int) -> Tensor:
    """``[3, 2ℓ+1, 2ℓ+1]`` float64: the real antisymmetric ``A_x, A_y, A_z`` of the degree-ℓ irrep
    of so(3), with ``[A_x, A_y] = A_z`` (cyclically) like the defining ``L_k``.

    >>> a = real_generators(1)
    >>> torch.allclose(a, L_DEFINING[:, [1, 2, 0]][:, :, [1, 2, 0]])  # ℓ = 1 is R³ in the order (y, z, x)
    True
    """
    m = torch.arange(-ell, ell + 1, dtype=torch.float64)
    # J+ with ⟨m+1|J+|m⟩ = √((ℓ−m)(ℓ+m+1)) on the subdiagonal
    raise_ = torch.diag(torch.sqrt((ell - m[:-1]) * (ell + m[:-1] + 1)), -1).to(torch.complex128)
    jz = torch.diag(m).to(torch.complex128)
    jx, jy = (raise_ + raise_.T) / 2, (raise_ - raise_.T) / 2j
    q = _real_from_complex(ell)
    # the rotation by θ about axis k acts on the harmonics' coefficients as exp(−iθJ_k); in the
    # real basis its generator −i·Q J_k Q^† is real (real functions rotate to real functions)
    a = torch.stack([-1j * q @ j @ q.conj().T for j in (jx, jy, jz)])
    real = a.real.contiguous()
    real[real.abs() < 1e-14] = 0.0  # structural zeros left as rounding by the change of basis
    return real


def rotation_of_quaternion(q: Tensor) -> Tensor:
    """``[..., 3, 3]``: the rotation of the unit quaternions ``q [..., 4]`` = (w, x, y, z)."""
    w, x, y, z = q.unbind(-1)
    rows = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ]
    return torch.stack([torch.stack(r, -1) for r in rows], -2)


def quaternion_of(r: Tensor) -> Tensor:
    """``[..., 4]``: the unit quaternion (w ≥ 0) of the rotations ``r [..., 3, 3]``, by Shepperd's
    method (each from its largest of 1 + tr R, 1 + 2R_ii − tr R, which is at least 1: stable
    at every angle, π included)."""
    r00, r11, r22 = r[..., 0, 0], r[..., 1, 1], r[..., 2, 2]
    t = r00 + r11 + r22
    big = torch.stack([1 + t, 1 + 2 * r00 - t, 1 + 2 * r11 - t, 1 + 2 * r22 - t], -1)  # 4w², 4x², 4y², 4z²
    which = big.argmax(-1, keepdim=True)
    s = torch.sqrt(big.gather(-1, which).clamp_min(1.0)).squeeze(-1) * 2  # 4·(the largest component)
    d21, d02, d10 = r[..., 2, 1] - r[..., 1, 2], r[..., 0, 2] - r[..., 2, 0], r[..., 1, 0] - r[..., 0, 1]
    s01, s02, s12 = r[..., 0, 1] + r[..., 1, 0], r[..., 0, 2] + r[..., 2, 0], r[..., 1, 2] + r[..., 2, 1]
    candidates = (
        torch.stack(
            [
                torch.stack([s * s / 4, d21, d02, d10], -1),
                torch.stack([d21, s * s / 4, s01, s02], -1),
                torch.stack([d02, s01, s * s / 4, s12], -1),
                torch.stack([d10, s02, s12, s * s / 4], -1),
            ],
            -2,
        )
        / s[..., None, None]
    )
    q = candidates.gather(-2, which[..., None].expand(*which.shape[:-1], 1, 4)).squeeze(-2)
    sign = torch.where(q[..., :1] < 0, -1.0, 1.0).to(q.dtype)
    return q * sign


def rotation_vector(r: Tensor) -> Tensor:
    """``[..., 3]``: ω with ``exp(ω·L) = r`` and ``|ω| ≤ π`` (the logarithm of SO(3))."""
    q = quaternion_of(r)
    w, v = q[..., 0], q[..., 1:]
    s = torch.linalg.vector_norm(v, dim=-1)
    # 2·atan2(s, w)/s → 2/w as s → 0 (w ≥ 0 is then near 1): relative error s²/3 < 1e-16 below 1e-8
    scale = torch.where(s > 1e-8, 2 * torch.atan2(s, w) / torch.where(s > 1e-8, s, 1.0), 2 / w)
    return v * scale[..., None]


def wigner_d(ell: int, r: Tensor) -> Tensor:
    """``[..., 2ℓ+1, 2ℓ+1]`` float64: the real Wigner matrices ``D^ℓ(r)`` of rotations ``r [..., 3, 3]``,
    in the real spherical-harmonic basis.

    >>> r = euler_zyz(torch.tensor([0.3]), torch.tensor([1.1]), torch.tensor([-0.4]))
    >>> torch.allclose(wigner_d(1, r), r[:, [1, 2, 0]][:, :, [1, 2, 0]])
    True
    """
    omega = rotation_vector(r.to(torch.float64))
    return torch.linalg.matrix_exp(torch.einsum("...k,kij->...ij", omega, real_generators(ell)))


def _about(axis: int, angle: Tensor) -> Tensor:
    """``[..., 3, 3]``: rotations by `angle` about the coordinate `axis`."""
    return torch.linalg.matrix_exp(angle[..., None, None] * L_DEFINING[axis])


def euler_zyz(alpha: Tensor, beta: Tensor, gamma: Tensor) -> Tensor:
    """``[..., 3, 3]``: ``R_z(α) R_y(β) R_z(γ)``."""
    a, b, c = (torch.as_tensor(t, dtype=torch.float64) for t in (alpha, beta, gamma))
    return _about(2, a) @ _about(1, b) @ _about(2, c)


def gauss_legendre(k: int) -> tuple[Tensor, Tensor]:
    """The k-point Gauss–Legendre rule on [−1, 1] (exact for polynomials of degree ≤ 2k − 1)."""
    x, w = np.polynomial.legendre.leggauss(k)
    return torch.from_numpy(x), torch.from_numpy(w)
