"""The Fourier transform on a compact group, and on the sphere S² = SO(3)/SO(2), of batches of
functions sampled at an exact quadrature's nodes."""

from __future__ import annotations

import math
from typing import cast

import torch
from torch import Tensor

from nerve.errors import RepresentationError, ShapeError
from nerve.groups._compact import CompactGroup, CompactIrrep
from nerve.groups._irreps import Irrep
from nerve.groups._rotations import euler_zyz, gauss_legendre, wigner_d
from nerve.groups._subgroups import FiniteSubgroup

__all__ = ["CompactFourierTransform", "sphere_harmonics", "sphere_quadrature"]


class CompactFourierTransform:
    r"""``f̂(ρ) = ∫ f(g) ρ(g) dg`` (Haar probability) for every irrep of degree ≤ `max_degree`.

    With ``w_ρ = d_ρ / c_ρ`` (c = 1 for real type, 2 for the complex-type rotations of SO(2)):

    - inverse: ``f(g) = Σ_ρ w_ρ tr(ρ(g)ᵀ f̂(ρ))`` for f of degree ≤ `max_degree`;
    - Plancherel: ``∫ f² = Σ_ρ w_ρ ‖f̂(ρ)‖²_F``, the terms being :meth:`power`.

    f is sampled at :attr:`nodes`, the group's quadrature of degree `resolution` ≥ 2·max_degree,
    which makes both exact for f of degree ≤ `max_degree`. A function of higher degree (a network's
    activation along an orbit) has a part the kept irreps do not carry: :meth:`power` reports it as
    a last row, the residual ``∫ f² − Σ_ρ power``, so that the fractions are of the whole. The
    residual sees degrees up to about `resolution` − `max_degree`; higher ones alias into the
    coefficients, as in any sampled transform.

    **Arguments:**

    - `group`: a :class:`~nerve.groups.CompactGroup` (``so2()``, ``o2()``, ``so3()``, ``o3()``), or
      a :class:`~nerve.groups.FiniteSubgroup` of one (``finite_subgroup(o2(), "D4")``): then the
      nodes are its elements, the weights 1/|H|, the irreps its own, and nothing is left over.
    - `max_degree`: the largest frequency k or degree ℓ kept (compact groups only).
    - `resolution`: the quadrature's degree; default ``4·max_degree`` (at least 1).

    Functions are tensors ``[N, *batch]`` of their values at the N nodes.

    >>> from nerve.groups import so2
    >>> ft = CompactFourierTransform(so2(), 4)
    >>> theta = torch.atan2(ft.nodes[:, 1, 0], ft.nodes[:, 0, 0])
    >>> f = 1 + torch.cos(3 * theta)
    >>> [round(float(p), 6) for p in ft.power(f)]  # k = 0 … 4, then the residual
    [1.0, 0.0, 0.0, 0.5, 0.0, 0.0]
    """

    def __init__(
        self,
        group: CompactGroup | FiniteSubgroup,
        max_degree: int | None = None,
        *,
        resolution: int | None = None,
    ) -> None:
        self.group = group
        self.max_degree = max_degree
        if isinstance(group, FiniteSubgroup):
            if max_degree is not None or resolution is not None:
                raise ShapeError(
                    f"`max_degree` (={max_degree!r}) and `resolution` (={resolution!r}) are for compact "
                    f"groups; {group!r} is summed over all its elements."
                )
            self.irreps: tuple[CompactIrrep | Irrep, ...] = group.group.irreps()
            self.nodes = group.elements
            self.weights = torch.full((group.group.order,), 1 / group.group.order, dtype=torch.float64)
            self._values = [rho.matrices for rho in group.group.irreps()]
            self.plancherel = torch.tensor(
                [rho.dim / rho.divisor for rho in self.irreps], dtype=torch.float64
            )
            return
        if not isinstance(max_degree, int) or isinstance(max_degree, bool) or max_degree < 0:
            raise ShapeError(f"`max_degree` (={max_degree!r}) must be a non-negative integer for {group!r}.")
        compact = group.irreps(max_degree)
        self.irreps = compact
        self.resolution = max(1, 4 * max_degree) if resolution is None else resolution
        if not isinstance(self.resolution, int) or self.resolution < 2 * max_degree:
            raise ShapeError(
                f"`resolution` (={resolution!r}) must be an integer of at least 2·max_degree "
                f"(={2 * max_degree}): below it the transform is not exact on degree ≤ max_degree."
            )
        #: ``[N, n, n]`` and ``[N]``: where to sample f, and the quadrature weights.
        self.nodes, self.weights = group.quadrature(self.resolution)
        self._values = [rho(self.nodes) for rho in compact]  # each [N, d, d]
        #: w_ρ = d_ρ / c_ρ, the Plancherel weight of each irrep.
        self.plancherel = torch.tensor([rho.dim / rho.divisor for rho in self.irreps], dtype=torch.float64)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(rho.label for rho in self.irreps)

    def _check(self, f: Tensor) -> Tensor:
        f = torch.as_tensor(f)
        if f.ndim == 0 or f.shape[0] != len(self.nodes):
            raise ShapeError(
                f"`f` must be [N={len(self.nodes)}, ...], its values at the transform's nodes, got shape "
                f"{tuple(f.shape)}."
            )
        return f.to(torch.float64)

    def transform(self, f: Tensor) -> list[Tensor]:
        """One ``[*batch, d, d]`` coefficient per irrep: ``Σ_i wᵢ f(gᵢ) ρ(gᵢ)``."""
        f = self._check(f)
        wf = f * self.weights.reshape(-1, *([1] * (f.ndim - 1)))
        return [torch.einsum("n...,nij->...ij", wf, r) for r in self._values]

    def inverse(self, coefficients: list[Tensor], g: Tensor) -> Tensor:
        """``[M, *batch]``: ``Σ_ρ w_ρ tr(ρ(g)ᵀ f̂(ρ))`` at elements ``g [M, n, n]``."""
        if len(coefficients) != len(self.irreps):
            raise RepresentationError(
                f"`coefficients` has {len(coefficients)} entries, one per irrep is {len(self.irreps)}."
            )
        values = self.irrep_values(g)
        return sum(
            w * torch.einsum("mij,...ij->m...", r, c)
            for w, r, c in zip(self.plancherel.tolist(), values, coefficients, strict=True)
        )

    def irrep_values(self, g: Tensor) -> list[Tensor]:
        """``ρ(g) [M, d, d]`` for each irrep, at elements ``g [M, n, n]`` (of a finite subgroup: its own)."""
        if not isinstance(self.group, FiniteSubgroup):
            return [rho(g) for rho in self.group.irreps(cast(int, self.max_degree))]
        g = self.group.ambient.check(g)
        gap = torch.cdist(g.flatten(1), self.nodes.flatten(1))
        index = gap.argmin(1)
        if len(g) and float(gap.min(1).values.max()) > 1e-6:
            raise RepresentationError(f"`g` has elements outside {self.group!r}.")
        return [m[index] for m in self._values]

    def power(self, f: Tensor) -> Tensor:
        """``[len(irreps) + 1, *batch]``: ``w_ρ ‖f̂(ρ)‖²_F`` per irrep, then the residual ``∫ f² − Σ``
        (zero up to rounding when f has degree ≤ `max_degree`)."""
        f = self._check(f)
        parts = torch.stack(
            [w * c.pow(2).sum((-2, -1)) for w, c in zip(self.plancherel, self.transform(f), strict=True)]
        )
        total = torch.einsum("n,n...->...", self.weights, f * f)
        return torch.cat([parts, (total - parts.sum(0))[None]])

    def variance_fraction(self, f: Tensor) -> Tensor:
        """``[len(irreps) + 1, *batch]``: the share of ``∫ (f − ∫f)²`` in each non-trivial irrep and the
        residual; the trivial irrep's row (the mean) is 0. NaN where f is constant."""
        p = self.power(f)
        p[0] = 0.0  # every group's irrep 0 is the trivial one (finite groups list it first too)
        return p / p.sum(0)


def sphere_quadrature(degree: int) -> tuple[Tensor, Tensor]:
    """``(x [N, 3], w [N])``: points of the unit sphere and weights with ``Σ wᵢ f(xᵢ) = ∫ f`` (uniform
    probability) exactly for polynomials of degree ≤ `degree`: Gauss–Legendre in cos β times
    degree + 1 equally spaced longitudes.

    >>> x, w = sphere_quadrature(2)
    >>> float((w * x[:, 2] ** 2).sum())  # E[z²] = 1/3
    0.3333333333333333
    """
    if not isinstance(degree, int) or isinstance(degree, bool) or degree < 0:
        raise ShapeError(f"`degree` (={degree!r}) must be a non-negative integer.")
    m = degree + 1
    z, wz = gauss_legendre(max(1, math.ceil(m / 2)))
    phi = 2 * math.pi * torch.arange(m, dtype=torch.float64) / m
    zz, pp = torch.meshgrid(z, phi, indexing="ij")
    rho = torch.sqrt(1 - zz**2)
    x = torch.stack([rho * torch.cos(pp), rho * torch.sin(pp), zz], -1).reshape(-1, 3)
    return x, (wz[:, None] / (2 * m)).expand(-1, m).reshape(-1).contiguous()


def sphere_harmonics(x: Tensor, max_degree: int) -> list[Tensor]:
    """The real spherical harmonics at unit vectors ``x [..., 3]``, one ``[..., 2ℓ+1]`` per ℓ ≤
    `max_degree`, orthonormal for the uniform probability on the sphere (``∫ Y_ℓm² = 1``) and in
    the basis of :func:`~nerve.groups.so3`'s irreps: ``Y_ℓ(R x) = D^ℓ(R) Y_ℓ(x)``.

    ``Y_ℓ(x) = √(2ℓ+1) · D^ℓ(R_x) e₀`` with ``R_x = R_z(φ) R_y(β)`` the rotation taking the north pole
    to x (e₀ the m = 0 basis vector, which the rotations about z fix).

    >>> [y.shape[-1] for y in sphere_harmonics(torch.tensor([[0.0, 0.0, 1.0]]), 2)]
    [1, 3, 5]
    """
    x = torch.as_tensor(x, dtype=torch.float64)
    if x.ndim == 0 or x.shape[-1] != 3:
        raise ShapeError(f"`x` must be unit vectors [..., 3], got shape {tuple(x.shape)}.")
    norm = torch.linalg.vector_norm(x, dim=-1)
    if x.numel() and float((norm - 1).abs().max()) > 1e-6:
        raise ShapeError(
            f"`x` must be unit vectors: |x| ranges over [{float(norm.min()):.3g}, {float(norm.max()):.3g}]."
        )
    beta = torch.atan2(torch.linalg.vector_norm(x[..., :2], dim=-1), x[..., 2])
    r = euler_zyz(torch.atan2(x[..., 1], x[..., 0]), beta, torch.zeros_like(beta))
    return [math.sqrt(2 * ell + 1) * wigner_d(ell, r)[..., :, ell] for ell in range(max_degree + 1)]
