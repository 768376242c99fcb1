"""Real irreducible representations as stacked orthogonal matrices ``[|G|, d, d]``."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from nerve.errors import RepresentationError
from nerve.groups._group import ElementLike, FiniteGroup

__all__ = ["DIVISOR", "INDICATOR", "Irrep", "IrrepType", "frobenius_schur_type"]

IrrepType = Literal["real", "complex", "quaternionic"]

#: ``dim End_G(V)`` over R: the c in Σ_ρ d_ρ²/c_ρ = |G|.
DIVISOR: dict[str, int] = {"real": 1, "complex": 2, "quaternionic": 4}
#: Frobenius–Schur indicator of the complex irreps inside a real irrep of each type.
INDICATOR: dict[str, int] = {"real": 1, "complex": 0, "quaternionic": -1}

# Bounds for the checks at construction, in float64.
TOLERANCE = 1e-9
_CHUNK = 1 << 22


def frobenius_schur_type(group: FiniteGroup, character: Tensor, *, tol: float = 1e-6) -> IrrepType | None:
    """The type of a real representation with real character χ, or None if it is reducible.

    A real irrep has ``(⟨χ,χ⟩, (1/|G|)Σ χ(g²)) = (1, 1)``, ``(2, 0)`` or ``(4, -2)`` for real,
    complex and quaternionic type; every reducible representation misses all three.
    """
    chi = character.to(torch.float64)
    norm = float((chi * chi).mean())
    fs = float(chi[group.squares].mean())
    for kind, (a, b) in {"real": (1, 1), "complex": (2, 0), "quaternionic": (4, -2)}.items():
        if abs(norm - a) < tol and abs(fs - b) < tol:
            return kind  # type: ignore[return-value]
    return None


@dataclass(frozen=True, eq=False)
class Irrep:
    """A real irreducible representation ρ: G → O(d), stored as ``matrices[g] = ρ(g)``.

    Checked when built: ``ρ(g)ρ(g)ᵀ = I``, ``ρ(g)ρ(s) = ρ(g·s)`` for every g and every s in
    the group's generating set (which makes ρ a homomorphism), and the stated
    Frobenius–Schur type against the character, all to ``TOLERANCE`` (1e-9) in float64.

    A real irrep of *complex* type is the realification of a complex irrep π (d = 2·dim π),
    e.g. the 2×2 rotation blocks of a cyclic group; one of *quaternionic* type has
    ``ρ ⊗ C = π ⊕ π`` (d = 2·dim π). Its commutant ``End_G(ρ)`` is R, C or H.

    **Arguments:**

    - `group`: the group it represents.
    - `matrices`: float64 ``[|G|, d, d]``.
    - `label`: a readable name: frequency for cyclic groups, partition for S_n.
    - `type`: ``"real"``, ``"complex"`` or ``"quaternionic"``.
    - `factors`: for a direct product, the index of each factor's irrep.

    >>> from nerve.groups import cyclic
    >>> rho = cyclic(8).irreps()[1]
    >>> rho.label, rho.dim, rho.type, rho(2).round(decimals=6).tolist()
    ('k=1', 2, 'complex', [[0.0, -1.0], [1.0, 0.0]])
    """

    group: FiniteGroup
    matrices: Tensor
    label: str
    type: IrrepType
    factors: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        m = torch.as_tensor(self.matrices)
        n = self.group.order
        if m.ndim != 3 or m.shape[0] != n or m.shape[1] != m.shape[2]:
            raise RepresentationError(
                f"`matrices` for {self.label!r} must have shape [|G|={n}, d, d], got {tuple(m.shape)}."
            )
        if self.type not in DIVISOR:
            raise RepresentationError(f"`type` (={self.type!r}) must be one of {tuple(DIVISOR)}.")
        m = m.to(torch.float64).contiguous()
        object.__setattr__(self, "matrices", m)
        eye = torch.eye(m.shape[1], dtype=torch.float64)
        orth = float((m @ m.mT - eye).abs().amax())
        if orth > TOLERANCE:
            raise RepresentationError(f"{self.label!r}: ρ(g) is not orthogonal, max|ρρᵀ - I| = {orth:.2e}.")
        gens = torch.tensor(self.group.generators)
        lhs = m[:, None] @ m[gens][None]  # (n, |S|, d, d): ρ(g)ρ(s)
        rhs = m[self.group.table[:, gens]]  # ρ(g·s)
        hom = float((lhs - rhs).abs().amax())
        if hom > TOLERANCE:
            raise RepresentationError(
                f"{self.label!r} is not a homomorphism: max|ρ(g)ρ(s) - ρ(gs)| = {hom:.2e} > {TOLERANCE}."
            )
        found = frobenius_schur_type(self.group, self.character)
        if found is None:
            chi = self.character
            norm, fs = float((chi * chi).mean()), float(chi[self.group.squares].mean())
            raise RepresentationError(
                f"{self.label!r} is reducible: its character has ⟨χ,χ⟩ = {norm:.3f} and "
                f"(1/|G|)Σχ(g²) = {fs:.3f}, not (1, 1), (2, 0) or (4, -2) as an irrep would."
            )
        if found != self.type:
            raise RepresentationError(
                f"{self.label!r} is stated as {self.type} but its character says {found}."
            )

    @property
    def dim(self) -> int:
        """d, the real dimension."""
        return self.matrices.shape[1]

    @property
    def divisor(self) -> int:
        """``dim_R End_G(ρ)``: 1, 2 or 4 for real, complex or quaternionic type."""
        return DIVISOR[self.type]

    @property
    def indicator(self) -> int:
        """The Frobenius–Schur indicator ``(1/|G|) Σ χ_π(g²)`` of the complex irreps in ρ."""
        return INDICATOR[self.type]

    def __call__(self, g: ElementLike) -> Tensor:
        """ρ(g), a ``[d, d]`` orthogonal matrix."""
        return self.matrices[self.group.index(g)]

    @functools.cached_property
    def character(self) -> Tensor:
        """``[|G|]`` float64: χ_ρ(g) = tr ρ(g)."""
        return torch.diagonal(self.matrices, dim1=1, dim2=2).sum(-1)

    def homomorphism_error(self) -> float:
        """``max_{g,h} ‖ρ(g)ρ(h) − ρ(gh)‖_F`` over all |G|² pairs (chunked)."""
        n, d = self.group.order, self.dim
        rows = max(1, _CHUNK // (n * d * d))
        worst = 0.0
        for start in range(0, n, rows):
            g = torch.arange(start, min(n, start + rows))
            lhs = self.matrices[g][:, None] @ self.matrices[None]
            rhs = self.matrices[self.group.table[g]]
            worst = max(worst, float(torch.linalg.matrix_norm(lhs - rhs).amax()))
        return worst

    def project_commutant(self, x: Tensor) -> Tensor:
        """The G-equivariant part of ``x [..., d, d]``: ``(1/|G|) Σ_g ρ(g) x ρ(g)ᵀ``."""
        return torch.einsum("gij,...jk,glk->...il", self.matrices, x, self.matrices) / self.group.order

    @functools.cached_property
    def commutant_basis(self) -> Tensor:
        """``[c, d, d]`` with c = 1, 2, 4: ``1``, then ``I`` (and ``J``, ``K = IJ``) with ``I² = -1``.

        An orthogonal basis of ``End_G(ρ)`` ≅ R, C or H (Schur's lemma over the reals).
        For complex type, ``I`` is oriented so that the complex character
        ``χ(g) = (tr ρ(g) − i·tr(I ρ(g)))/2`` has positive imaginary part at the first
        element where it is not real; this fixes which of π, π̄ is called π.
        """
        d = self.dim
        eye = torch.eye(d, dtype=torch.float64)
        gen = torch.Generator().manual_seed(0)
        basis = [eye]
        units = {"real": 0, "complex": 1, "quaternionic": 2}[self.type]
        for _ in range(units):
            while True:
                a = self.project_commutant(torch.randn(d, d, generator=gen, dtype=torch.float64))
                a = (a - a.T) / 2
                for b in basis[1:]:  # Gram–Schmidt against the imaginary units found so far
                    a = a - (a * b).sum() / d * b
                scale = float((a * a).sum() / d) ** 0.5
                if scale > 1e-6:
                    basis.append(a / scale)
                    break
        if self.type == "quaternionic":
            basis.append(basis[1] @ basis[2])
        if self.type == "complex":
            imag = -torch.einsum("ij,gji->g", basis[1], self.matrices) / 2
            nonreal = torch.nonzero(imag.abs() > 1e-6).flatten()
            if len(nonreal) and imag[nonreal[0]] < 0:
                basis[1] = -basis[1]
        return torch.stack(basis)

    def __repr__(self) -> str:
        return f"Irrep({self.label}, dim={self.dim}, type={self.type})"
