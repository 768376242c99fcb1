"""Compact Lie groups of rotations and reflections: SO(2), O(2), SO(3), O(3), their real irreps,
characters, Haar measure and quadrature rules exact for band-limited functions.

Elements are orthogonal matrices ``[..., n, n]`` (n = 2 or 3) in float64, the form users hold
(rotations of an image's plane, of a point cloud); products are matrix products.

>>> G = so3()
>>> [rho.label for rho in G.irreps(2)], [rho.dim for rho in G.irreps(2)]
(['l=0', 'l=1', 'l=2'], [1, 3, 5])
>>> g, w = G.quadrature(4)  # exact for every function of degree ≤ 4
>>> float(torch.einsum("n,nij->ij", w, G.irrep("l=2")(g)).abs().max()) < 1e-12  # ∫ ρ = 0 for ρ ≠ 1
True
"""

from __future__ import annotations

import functools
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch
from torch import Tensor

from nerve.errors import GroupError, RepresentationError
from nerve.groups._irreps import DIVISOR, IrrepType
from nerve.groups._rotations import (
    L_DEFINING,
    euler_zyz,
    gauss_legendre,
    quaternion_of,
    real_generators,
    rotation_of_quaternion,
    wigner_d,
)

__all__ = ["CompactGroup", "CompactIrrep", "o2", "o3", "so2", "so3"]

#: Elements are accepted when ``‖gᵀg − I‖_max`` and their determinant's distance to ±1 are below this.
MEMBERSHIP_TOLERANCE = 1e-6
#: The homomorphism and orthogonality checks of an irrep at construction, on seeded Haar samples.
TOLERANCE = 1e-9

_J = torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=torch.float64)  # so(2): exp(θJ) rotates by θ
_F = torch.tensor([[1.0, 0.0], [0.0, -1.0]], dtype=torch.float64)  # the reflection of O(2) in the x-axis


def _rotation2(theta: Tensor) -> Tensor:
    c, s = torch.cos(theta), torch.sin(theta)
    return torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)


@dataclass(frozen=True, eq=False)
class CompactIrrep:
    """A real irreducible representation ρ: G → O(d) of a compact group, evaluated on batches.

    Checked when built: ``ρ(g)`` orthogonal and ``ρ(g)ρ(h) = ρ(gh)`` on 16 seeded Haar pairs, and
    the Lie algebra's generators antisymmetric, all to ``TOLERANCE`` (1e-9) in float64.

    **Arguments:**

    - `group`: the group it represents.
    - `label`: ``"k=2"`` (SO(2), O(2)), ``"det"`` (O(2)), ``"l=2"`` (SO(3)), ``"l=2e"``/``"l=1o"``
      (O(3): even or odd under −I; the defining representation is ``"l=1o"``).
    - `degree`: the frequency k or the degree ℓ; the quadrature of degree ≥ 2·degree integrates
      products of its matrix coefficients exactly.
    - `dim`, `type`: the real dimension and ``"real"`` or ``"complex"`` (the type of End_G(ρ)).
    - `parity`: for O(2) and O(3), the power of det g in ρ(g) (0 or 1).

    >>> rho = so2().irrep("k=3")
    >>> rho.type, rho(so2().element(torch.tensor(torch.pi / 6))).round(decimals=6).tolist()
    ('complex', [[0.0, -1.0], [1.0, 0.0]])
    """

    group: CompactGroup
    label: str
    degree: int
    dim: int
    type: IrrepType
    parity: int = 0

    def __post_init__(self) -> None:
        g = self.group.sample(32, seed=0)
        a, b = g[:16], g[16:]
        ra, rb, rab = self(a), self(b), self(a @ b)
        eye = torch.eye(self.dim, dtype=torch.float64)
        orth = float((ra @ ra.mT - eye).abs().amax())
        hom = float((ra @ rb - rab).abs().amax())
        gen = self.generators
        anti = float((gen + gen.mT).abs().amax()) if gen.numel() else 0.0
        worst = max(orth, hom, anti)
        if not worst <= TOLERANCE:
            raise RepresentationError(
                f"{self.group.name} {self.label!r}: max|ρρᵀ − I| = {orth:.2e}, max|ρ(g)ρ(h) − ρ(gh)| = "
                f"{hom:.2e}, max|A + Aᵀ| = {anti:.2e} on Haar samples; each must be at most {TOLERANCE}."
            )

    @property
    def divisor(self) -> int:
        """``dim_R End_G(ρ)``: 1 or 2 for real or complex type."""
        return DIVISOR[self.type]

    def __call__(self, g: Tensor) -> Tensor:
        """``[..., d, d]`` float64: ρ(g) for elements ``g [..., n, n]``."""
        return self.group._represent(self, self.group.check(g))

    def character(self, g: Tensor) -> Tensor:
        """``[...]`` float64: ``χ_ρ(g) = tr ρ(g)`` by its closed form (not by building ρ(g))."""
        return self.group._character(self, self.group.check(g))

    @functools.cached_property
    def generators(self) -> Tensor:
        """``[dim 𝔤, d, d]``: dρ of the group's Lie algebra basis (:attr:`CompactGroup.lie_algebra`),
        so that ``ρ(exp(Σ tᵢ Xᵢ)) = exp(Σ tᵢ dρ(Xᵢ))``."""
        return self.group._generators(self)

    def __repr__(self) -> str:
        return f"CompactIrrep({self.group.name}, {self.label}, dim={self.dim}, type={self.type})"


class CompactGroup(ABC):
    """A compact matrix group G ⊂ O(n): Haar measure, quadrature and real irreps.

    - :meth:`irreps` ``(max_degree)``: every irrep of degree ≤ max_degree, in order of degree.
    - :meth:`quadrature` ``(degree)``: nodes and weights with ``Σ wᵢ f(gᵢ) = ∫ f dg`` (Haar
      probability) exactly for every f in the span of the matrix coefficients of the irreps of
      degree ≤ `degree`; a product of two functions of degree ≤ L has degree ≤ 2L.
    - :meth:`sample` ``(num, seed=)``: Haar-distributed elements.
    """

    name: str
    n: int  # the defining representation's size
    #: Whether it holds elements of determinant −1 (O(2)'s reflections, O(3)'s −I).
    improper: bool
    #: ``[dim 𝔤, n, n]``: a basis of the Lie algebra in the defining representation.
    lie_algebra: Tensor

    @property
    def identity(self) -> Tensor:
        return torch.eye(self.n, dtype=torch.float64)

    def check(self, g: Tensor) -> Tensor:
        """`g` as float64 ``[..., n, n]``, or a :class:`GroupError` naming what is wrong."""
        g = torch.as_tensor(g)
        if g.ndim < 2 or g.shape[-2:] != (self.n, self.n):
            raise GroupError(
                f"elements of {self.name} are [..., {self.n}, {self.n}] matrices, got shape {tuple(g.shape)}."
            )
        g = g.to(torch.float64)
        if g.numel() == 0:
            return g
        orth = float((g.mT @ g - self.identity).abs().amax())
        det = torch.linalg.det(g)
        allowed = torch.where(det < 0, -1.0, 1.0).to(det.dtype) if self.improper else torch.ones_like(det)
        off = float((det - allowed).abs().amax())
        if not max(orth, off) <= MEMBERSHIP_TOLERANCE:
            raise GroupError(
                f"`g` is not in {self.name}: max|gᵀg − I| = {orth:.2e}, and det g is {off:.2e} from "
                f"{'±1' if self.improper else '1'}; both must be at most {MEMBERSHIP_TOLERANCE}."
            )
        return g

    def irreps(self, max_degree: int) -> tuple[CompactIrrep, ...]:
        """The real irreps of degree at most `max_degree` (k or ℓ), each built once."""
        if not isinstance(max_degree, int) or isinstance(max_degree, bool) or max_degree < 0:
            raise RepresentationError(f"`max_degree` (={max_degree!r}) must be a non-negative integer.")
        return tuple(self._irrep(label) for label in self._labels(max_degree))

    def irrep(self, label: str) -> CompactIrrep:
        """The irrep called `label` (see :class:`CompactIrrep`)."""
        if not isinstance(label, str) or self._parse(label) is None:
            rule = self._label_rule
            raise RepresentationError(f"`label` (={label!r}) is not an irrep of {self.name}: {rule}.")
        return self._irrep(label)

    @functools.cache  # noqa: B019 - the groups are four immutable singletons
    def _irrep(self, label: str) -> CompactIrrep:
        degree, dim, kind, parity = self._parse(label)  # type: ignore[misc]
        return CompactIrrep(self, label, degree, dim, kind, parity)

    def sample(self, num: int, *, seed: int = 0) -> Tensor:
        """``[num, n, n]``: `num` Haar-random elements, from ``torch.Generator().manual_seed(seed)``."""
        if not isinstance(num, int) or isinstance(num, bool) or num < 0:
            raise GroupError(f"`num` (={num!r}) must be a non-negative integer.")
        return self._sample(num, torch.Generator().manual_seed(seed))

    def quadrature(self, degree: int) -> tuple[Tensor, Tensor]:
        """``(g [N, n, n], w [N])``: a rule exact for functions of degree ≤ `degree` (see the class)."""
        if not isinstance(degree, int) or isinstance(degree, bool) or degree < 0:
            raise GroupError(f"`degree` (={degree!r}) must be a non-negative integer.")
        return self._quadrature(degree)

    def __repr__(self) -> str:
        return self.name

    # --- what each group says -------------------------------------------------------------

    _label_rule: str

    @abstractmethod
    def _labels(self, max_degree: int) -> list[str]: ...

    @abstractmethod
    def _parse(self, label: str) -> tuple[int, int, IrrepType, int] | None: ...

    @abstractmethod
    def _represent(self, rho: CompactIrrep, g: Tensor) -> Tensor: ...

    @abstractmethod
    def _character(self, rho: CompactIrrep, g: Tensor) -> Tensor: ...

    @abstractmethod
    def _generators(self, rho: CompactIrrep) -> Tensor: ...

    @abstractmethod
    def _sample(self, num: int, gen: torch.Generator) -> Tensor: ...

    @abstractmethod
    def _quadrature(self, degree: int) -> tuple[Tensor, Tensor]: ...


def _int_after(label: str, prefix: str, suffixes: str = "") -> tuple[int, str] | None:
    """``("l=2e", "l=", "eo") → (2, "e")``; None unless `label` is prefix, digits and one suffix."""
    if not label.startswith(prefix):
        return None
    body = label[len(prefix) :]
    tail = body[-1:] if suffixes and body[-1:] in suffixes else ""
    digits = body[: len(body) - len(tail)]
    if (suffixes and not tail) or not digits.isdigit() or digits != str(int(digits)):
        return None
    return int(digits), tail


class _Planar(CompactGroup):
    """SO(2) and O(2): an element is R(θ) or R(θ)F, with θ = atan2(g₁₀, g₀₀) either way."""

    n = 2
    lie_algebra = _J[None]

    def element(self, theta: Tensor, *, reflect: Tensor | bool = False) -> Tensor:
        """``[..., 2, 2]``: the rotation by θ, times the reflection F = diag(1, −1) where `reflect`."""
        theta = torch.as_tensor(theta, dtype=torch.float64)
        g = _rotation2(theta)
        if isinstance(reflect, bool) and not reflect:
            return g
        if not self.improper:
            raise GroupError(f"`reflect` (={reflect!r}): {self.name} has no reflections.")
        flip = torch.as_tensor(reflect, dtype=torch.bool).expand(theta.shape)
        return torch.where(flip[..., None, None], g @ _F, g)

    def _labels(self, max_degree: int) -> list[str]:
        ks = [f"k={k}" for k in range(max_degree + 1)]
        return [ks[0], "det", *ks[1:]] if self.improper else ks

    def _parse(self, label: str) -> tuple[int, int, IrrepType, int] | None:
        if self.improper and label == "det":
            return 0, 1, "real", 1
        found = _int_after(label, "k=")
        if found is None:
            return None
        k = found[0]
        # with reflections the 2-dim irreps are of real type (F swaps e^{ikθ} and e^{-ikθ})
        return (0, 1, "real", 0) if k == 0 else (k, 2, "real" if self.improper else "complex", 0)

    @staticmethod
    def _angle(g: Tensor) -> Tensor:
        return torch.atan2(g[..., 1, 0], g[..., 0, 0])

    def _represent(self, rho: CompactIrrep, g: Tensor) -> Tensor:
        det = torch.linalg.det(g).round()
        if rho.dim == 1:
            return (det if rho.parity else torch.ones_like(det))[..., None, None]
        r = _rotation2(rho.degree * self._angle(g))
        return torch.where((det < 0)[..., None, None], r @ _F, r)

    def _character(self, rho: CompactIrrep, g: Tensor) -> Tensor:
        det = torch.linalg.det(g).round()
        if rho.dim == 1:
            return det if rho.parity else torch.ones_like(det)
        return torch.where(det > 0, 2 * torch.cos(rho.degree * self._angle(g)), 0.0)

    def _generators(self, rho: CompactIrrep) -> Tensor:
        return (rho.degree * _J if rho.dim == 2 else torch.zeros(1, 1, dtype=torch.float64))[None]

    def _sample(self, num: int, gen: torch.Generator) -> Tensor:
        theta = 2 * math.pi * torch.rand(num, generator=gen, dtype=torch.float64)
        if not self.improper:
            return self.element(theta)
        return self.element(theta, reflect=torch.rand(num, generator=gen) < 0.5)

    def _quadrature(self, degree: int) -> tuple[Tensor, Tensor]:
        # degree + 1 equally spaced angles sum e^{ikθ} to zero for 0 < |k| ≤ degree
        theta = 2 * math.pi * torch.arange(degree + 1, dtype=torch.float64) / (degree + 1)
        g = self.element(theta)
        if self.improper:
            g = torch.cat([g, g @ _F])
        return g, torch.full((len(g),), 1 / len(g), dtype=torch.float64)


class _SO2(_Planar):
    name = "SO(2)"
    improper = False
    _label_rule = "'k=K' for a frequency K ≥ 0"


class _O2(_Planar):
    name = "O(2)"
    improper = True
    _label_rule = "'k=0' (trivial), 'det' or 'k=K' for a frequency K ≥ 1"


class _Spatial(CompactGroup):
    """SO(3) and O(3) = SO(3) × {±I}: an element g is (det g)·R with R a rotation."""

    n = 3
    lie_algebra = L_DEFINING  # (L_x, L_y, L_z); their images in an irrep are real_generators(ℓ)

    def _parse(self, label: str) -> tuple[int, int, IrrepType, int] | None:
        found = _int_after(label, "l=", "eo" if self.improper else "")
        if found is None:
            return None
        ell, tail = found
        return ell, 2 * ell + 1, "real", int(tail == "o")

    def _labels(self, max_degree: int) -> list[str]:
        if not self.improper:
            return [f"l={ell}" for ell in range(max_degree + 1)]
        return [f"l={ell}{p}" for ell in range(max_degree + 1) for p in "eo"]

    def _split(self, g: Tensor) -> tuple[Tensor, Tensor]:
        det = torch.linalg.det(g).round()
        return det, g * det[..., None, None]

    def _represent(self, rho: CompactIrrep, g: Tensor) -> Tensor:
        det, r = self._split(g)
        d = wigner_d(rho.degree, r)
        return d * det[..., None, None] if rho.parity else d

    def _character(self, rho: CompactIrrep, g: Tensor) -> Tensor:
        det, r = self._split(g)
        q = quaternion_of(r)
        theta = 2 * torch.atan2(torch.linalg.vector_norm(q[..., 1:], dim=-1), q[..., 0])
        # sin((2ℓ+1)θ/2)/sin(θ/2) written as the Dirichlet kernel 1 + 2Σ cos(kθ): no 0/0 at θ = 0
        k = torch.arange(1, rho.degree + 1, dtype=torch.float64)
        chi = 1 + 2 * torch.cos(theta[..., None] * k).sum(-1)
        return chi * det if rho.parity else chi

    def _generators(self, rho: CompactIrrep) -> Tensor:
        return real_generators(rho.degree)

    def _sample(self, num: int, gen: torch.Generator) -> Tensor:
        q = torch.randn(num, 4, generator=gen, dtype=torch.float64)  # uniform on S³: Haar on SU(2)
        r = rotation_of_quaternion(q / torch.linalg.vector_norm(q, dim=-1, keepdim=True))
        if not self.improper:
            return r
        return r * torch.where(torch.rand(num, generator=gen) < 0.5, -1.0, 1.0).to(r.dtype)[:, None, None]

    def _quadrature(self, degree: int) -> tuple[Tensor, Tensor]:
        # R_z(α)R_y(β)R_z(γ): degree + 1 angles each for α and γ kill every D^ℓ_mn with m or n ≠ 0,
        # and what is left, d^ℓ_00(β) = P_ℓ(cos β), is a polynomial of degree ℓ in cos β, integrated
        # by Gauss–Legendre with ⌈(degree + 1)/2⌉ nodes against the Haar density sin β/2
        m = degree + 1
        angle = 2 * math.pi * torch.arange(m, dtype=torch.float64) / m
        x, wx = gauss_legendre(max(1, math.ceil(m / 2)))
        a, b, c = torch.meshgrid(angle, torch.arccos(x), angle, indexing="ij")
        w = (wx / 2)[None, :, None].expand(m, -1, m) / (m * m)
        g, w = euler_zyz(a, b, c).reshape(-1, 3, 3), w.reshape(-1)
        if self.improper:
            g, w = torch.cat([g, -g]), torch.cat([w, w]) / 2
        return g, w.contiguous()


class _SO3(_Spatial):
    name = "SO(3)"
    improper = False
    _label_rule = "'l=L' for a degree L ≥ 0"


class _O3(_Spatial):
    name = "O(3)"
    improper = True
    _label_rule = "'l=Le' or 'l=Lo' for a degree L ≥ 0 (even or odd under −I)"


@functools.cache
def so2() -> _SO2:
    """SO(2), rotations of the plane; irreps ``k=0`` (trivial) and ``k=K``: θ ↦ R(Kθ), of complex type.

    >>> [float(c) for c in so2().irrep("k=2").character(so2().element(torch.tensor([0.0, math.pi / 4])))]
    [2.0, 0.0]
    """
    return _SO2()


@functools.cache
def o2() -> _O2:
    """O(2), rotations and reflections of the plane; irreps ``k=0``, ``det`` and ``k=K`` (real type:
    R(θ) ↦ R(Kθ), R(θ)F ↦ R(Kθ)F with F = diag(1, −1))."""
    return _O2()


@functools.cache
def so3() -> _SO3:
    """SO(3), rotations of space; irreps ``l=L`` on the real spherical harmonics of degree L."""
    return _SO3()


@functools.cache
def o3() -> _O3:
    """O(3) = SO(3) × {±I}; irreps ``l=Le`` (−I acts as 1) and ``l=Lo`` (−I acts as −1; ``l=1o``
    is the defining representation, a vector; ``l=0o`` the pseudoscalar det)."""
    return _O3()
