"""Characters: the complex character table, class functions and their inner product."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from nerve.errors import RepresentationError
from nerve.groups._group import FiniteGroup

__all__ = ["CharacterTable", "character_table", "class_function", "inner_product"]


def inner_product(group: FiniteGroup, f: Tensor, h: Tensor) -> Tensor:
    """⟨f, h⟩ = (1/|G|) Σ_g f(g) · conj(h(g)) for functions on elements ``[|G|, ...]``.

    >>> from nerve.groups import symmetric
    >>> G = symmetric(3)
    >>> chi = G.irreps()[1].character
    >>> float(inner_product(G, chi, chi))
    1.0
    """
    f, h = torch.as_tensor(f), torch.as_tensor(h)
    for name, x in (("f", f), ("h", h)):
        if x.shape[:1] != (group.order,):
            raise RepresentationError(
                f"`{name}` must have |G|={group.order} values along its first axis, "
                f"got shape {tuple(x.shape)}."
            )
    return (f * h.conj()).sum(0) / group.order


def class_function(group: FiniteGroup, values: Tensor) -> Tensor:
    """The function on elements ``[|G|, ...]`` that takes ``values[c]`` on conjugacy class c."""
    values = torch.as_tensor(values)
    k = len(group.conjugacy_classes)
    if values.shape[:1] != (k,):
        raise RepresentationError(
            f"`values` must have one entry per conjugacy class ({k}), got shape {tuple(values.shape)}."
        )
    return values[group.class_of]


@dataclass(frozen=True, eq=False)
class CharacterTable:
    """The complex irreducible characters of a group, class by class.

    Rows are the complex irreps π (a real irrep of complex type gives π and π̄, labelled
    ``L`` and ``L*``; one of quaternionic type gives the one π with ``ρ ⊗ C = π ⊕ π``);
    columns are conjugacy classes, identity first, then by element order.

    **Attributes:**

    - `values`: complex128 ``[k, k]``, ``values[i, c] = χ_i(g)`` for g in class c.
    - `labels`, `degrees` (χ(e)), `indicators` (Frobenius–Schur: 1, 0, -1).
    - `class_sizes`, `class_orders`, `representatives` (an element index per class).
    - `real_irrep`: for each row, the index of the real irrep it comes from.
    """

    group: FiniteGroup
    values: Tensor
    labels: tuple[str, ...]
    indicators: tuple[int, ...]
    real_irrep: tuple[int, ...]

    @property
    def degrees(self) -> tuple[int, ...]:
        return tuple(round(float(v)) for v in self.values[:, 0].real)

    @property
    def representatives(self) -> tuple[int, ...]:
        return tuple(c[0] for c in self.group.conjugacy_classes)

    @property
    def class_sizes(self) -> tuple[int, ...]:
        return tuple(len(c) for c in self.group.conjugacy_classes)

    @property
    def class_orders(self) -> tuple[int, ...]:
        return tuple(int(self.group.element_orders[r]) for r in self.representatives)

    @property
    def class_names(self) -> tuple[str, ...]:
        """ATLAS-style class names: element order and a letter, ``1a, 2a, 2b, 3a, ...``."""
        seen: dict[int, int] = {}
        names = []
        for o in self.class_orders:
            seen[o] = seen.get(o, -1) + 1
            names.append(f"{o}{chr(ord('a') + seen[o]) if seen[o] < 26 else seen[o]}")
        return tuple(names)

    def inner(self, a: Tensor, b: Tensor) -> Tensor:
        """⟨a, b⟩ = (1/|G|) Σ_c |c| a(c) conj(b(c)) for class functions given per class ``[k, ...]``."""
        sizes = torch.tensor(self.class_sizes, dtype=torch.float64)
        shape = (-1,) + (1,) * (torch.as_tensor(a).ndim - 1)
        return (sizes.reshape(shape) * a * torch.as_tensor(b).conj()).sum(0) / self.group.order

    def gram(self) -> Tensor:
        """``[k, k]``: ⟨χ_i, χ_j⟩, the identity for a correct table (row orthogonality)."""
        sizes = torch.tensor(self.class_sizes, dtype=torch.complex128)
        return (self.values * sizes) @ self.values.conj().T / self.group.order


def character_table(group: FiniteGroup) -> CharacterTable:
    """Complex characters from the real irreps (see :class:`CharacterTable`).

    For a real irrep of complex type with imaginary unit ``I ∈ End_G(ρ)``,
    ``χ_π(g) = (tr ρ(g) − i·tr(I ρ(g)))/2``; for quaternionic type ``χ_π = χ_ρ/2``.
    """
    reps = torch.tensor([c[0] for c in group.conjugacy_classes])
    rows, labels, indicators, origin = [], [], [], []
    for k, rho in enumerate(group.irreps()):
        chi = rho.character[reps].to(torch.complex128)
        if rho.type == "real":
            entries = [(chi, rho.label)]
        elif rho.type == "quaternionic":
            entries = [(chi / 2, rho.label)]
        else:
            unit = rho.commutant_basis[1]
            twisted = torch.einsum("ij,gji->g", unit, rho.matrices[reps]).to(torch.complex128)
            pi = (chi - 1j * twisted) / 2
            entries = [(pi, rho.label), (pi.conj(), rho.label + "*")]
        for row, label in entries:
            rows.append(row)
            labels.append(label)
            indicators.append(rho.indicator)
            origin.append(k)
    return CharacterTable(group, torch.stack(rows), tuple(labels), tuple(indicators), tuple(origin))
