"""Finite subgroups of the compact groups: C_n and D_n in O(2) (and, about the z-axis, in SO(3)),
the rotation groups of the tetrahedron, octahedron and icosahedron (A4, S4, A5) in SO(3); and the
restriction of a compact group's irrep to them, cut into the finite group's irreps."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from nerve.errors import GroupError, RepresentationError
from nerve.groups._compact import CompactGroup, CompactIrrep, _Planar, _Spatial
from nerve.groups._constructors import parse_group
from nerve.groups._group import FiniteGroup

__all__ = ["FiniteSubgroup", "finite_subgroup"]

#: The embedding's homomorphism check, on every pair of elements, in float64.
TOLERANCE = 1e-9


@dataclass(frozen=True, eq=False)
class FiniteSubgroup:
    """A finite group H embedded in a compact group G: ``elements[h]`` is the matrix of H's element h.

    Checked when built: every matrix is in G, ``elements[a] @ elements[b] = elements[a·b]`` for every
    pair (to ``TOLERANCE``, 1e-9), and distinct elements have distinct matrices (the embedding is
    faithful).

    >>> from nerve.groups import so3
    >>> H = finite_subgroup(so3(), "A5")
    >>> H.restrict(so3().irrep("l=6"))  # the icosahedron's first invariant beyond the constant
    {'[5]': 1, '[4,1]': 1, '[3,2]': 1, '[3,1,1]+': 1}
    """

    group: FiniteGroup
    ambient: CompactGroup
    elements: Tensor

    def __post_init__(self) -> None:
        e = self.ambient.check(self.elements)
        object.__setattr__(self, "elements", e)
        if e.shape[0] != self.group.order:
            raise GroupError(
                f"`elements` has {e.shape[0]} matrices for {self.group.name} of order {self.group.order}."
            )
        hom = float((e[:, None] @ e[None] - e[self.group.table]).abs().amax())
        if not hom <= TOLERANCE:
            raise GroupError(
                f"the matrices are not a homomorphism of {self.group.name} into {self.ambient.name}: "
                f"max|E(a)E(b) − E(ab)| = {hom:.2e} > {TOLERANCE}."
            )
        gap = torch.cdist(e.flatten(1), e.flatten(1)) + torch.eye(len(e), dtype=e.dtype)
        if float(gap.min()) < 1e-6:
            raise GroupError(f"the embedding of {self.group.name} into {self.ambient.name} is not faithful.")

    def restrict(self, rho: CompactIrrep, *, tol: float = 1e-8) -> dict[str, int]:
        """The multiplicity of each irrep σ of H in ρ restricted to H (those that occur), from the
        characters: ``m_σ = (1/|H|) Σ_h χ_ρ(h) χ_σ(h) / c_σ`` (c_σ = 1, 2, 4 for real, complex,
        quaternionic type), checked integral to `tol` and to add up to ``dim ρ``."""
        if rho.group is not self.ambient:
            raise RepresentationError(
                f"`rho` ({rho!r}) is an irrep of {rho.group.name}, not of {self.ambient.name}."
            )
        chi = rho.character(self.elements)
        counts: dict[str, int] = {}
        total = 0
        for sigma in self.group.irreps():
            m = float((chi * sigma.character).mean()) / sigma.divisor
            if abs(m - round(m)) > tol:
                raise RepresentationError(
                    f"{rho.label} restricted to {self.group.name}: multiplicity {m} of {sigma.label}."
                )
            if round(m):
                counts[sigma.label] = round(m)
                total += round(m) * sigma.dim
        if total != rho.dim:
            raise RepresentationError(
                f"{rho.label} restricted to {self.group.name}: dimensions add to {total}, not {rho.dim}."
            )
        return counts

    def __repr__(self) -> str:
        return f"FiniteSubgroup({self.group.name} ⊂ {self.ambient.name})"


def _planar(group: FiniteGroup) -> Tensor:
    """``[|H|, 2, 2]``: C_n as the rotations by 2πa/n, D_n's ``r^a s^e`` as R(2πa/n)Fᵉ."""
    kind, n = group.family  # type: ignore[misc]
    a = torch.arange(group.order) % n
    theta = 2 * math.pi * a.to(torch.float64) / n
    c, s = torch.cos(theta), torch.sin(theta)
    e = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)
    if kind == "dihedral":
        flip = torch.arange(group.order) >= n
        e = torch.where(flip[:, None, None], e * torch.tensor([1.0, -1.0], dtype=torch.float64), e)
    return e


def _rotation_irrep(group: FiniteGroup) -> Tensor:
    """``[|H|, 3, 3]``: the first 3-dimensional real irrep of H with det 1 (A4, S4, A5's action on
    the tetrahedron, cube, icosahedron; nerve's irreps are orthogonal matrices)."""
    for rho in group.irreps():
        if rho.dim == 3 and rho.type == "real" and bool((torch.linalg.det(rho.matrices) > 0).all()):
            return rho.matrices
    raise GroupError(f"{group.name} has no 3-dimensional irrep by rotations.")


def finite_subgroup(ambient: CompactGroup, name: str) -> FiniteSubgroup:
    """The finite group called `name` as a subgroup of `ambient`:

    - ``"Cn"`` in SO(2), O(2) (rotations by 2π/n) and SO(3), O(3) (about the z-axis);
    - ``"Dn"`` in O(2) (the symmetries of the n-gon, the reflection F = diag(1, −1)) and SO(3), O(3)
      (the reflection becomes the half-turn about the x-axis);
    - ``"A4"``, ``"S4"``, ``"A5"`` in SO(3), O(3): the rotations of the tetrahedron, the cube and the
      icosahedron, by their 3-dimensional irrep with det 1.

    >>> from nerve.groups import o2
    >>> finite_subgroup(o2(), "D4").restrict(o2().irrep("k=2"))  # k = 2 on the square: two signs
    {'sign(r)': 1, 'sign(r)·sign': 1}
    """
    group = parse_group(name) if isinstance(name, str) and name.strip() else None
    family = group.family[0] if group is not None and group.family else None
    has_reflections = not isinstance(ambient, _Planar) or ambient.improper
    if group is not None and (family == "cyclic" or (family == "dihedral" and has_reflections)):
        e2 = _planar(group)
        if isinstance(ambient, _Planar):
            return FiniteSubgroup(group, ambient, e2)
        e3 = torch.zeros(group.order, 3, 3, dtype=torch.float64)
        e3[:, :2, :2], e3[:, 2, 2] = e2, torch.linalg.det(e2).round()
        return FiniteSubgroup(group, ambient, e3)
    if group is not None and name in ("A4", "S4", "A5") and isinstance(ambient, _Spatial):
        return FiniteSubgroup(group, ambient, _rotation_irrep(group))
    raise GroupError(
        f"`name` (={name!r}) is not a finite subgroup nerve embeds in {ambient.name}: 'Cn' in any of "
        "SO(2), O(2), SO(3), O(3); 'Dn' in O(2), SO(3), O(3); 'A4', 'S4', 'A5' in SO(3), O(3)."
    )
