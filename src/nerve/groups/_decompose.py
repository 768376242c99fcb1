"""Splitting a real orthogonal representation into irreducibles with its commutant.

The eigenspaces of a generic symmetric element ``B`` of the commutant ``End_G(V)`` are
G-invariant, and for a generic ``B`` each one is a single irreducible: inside an
isotypic component ``V_ρ^m`` the commutant is ``M_m(F)`` with F = R, C or H, whose generic
self-adjoint element has m distinct eigenvalues, each on one copy of ρ. A subspace whose
character is not irreducible (an accidental near-degeneracy) is split again with a fresh
``B``. Random elements come from a seeded generator, so the result is deterministic.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
from torch import Tensor

from nerve.errors import RepresentationError
from nerve.groups._group import FiniteGroup
from nerve.groups._irreps import IrrepType, frobenius_schur_type

__all__ = ["ExplicitRep", "RegularRep", "distinct_irreducibles"]

_CHUNK = 1 << 23
_MAX_ROUNDS = 50


@dataclass(frozen=True)
class ExplicitRep:
    """A representation given by its matrices ``[|G|, N, N]`` (orthogonal)."""

    matrices: Tensor

    @property
    def dim(self) -> int:
        return self.matrices.shape[1]

    def commutant_sample(self, gen: torch.Generator) -> Tensor:
        x = torch.randn(self.dim, self.dim, generator=gen, dtype=torch.float64)
        x = x + x.T
        return torch.einsum("gij,jk,glk->il", self.matrices, x, self.matrices) / len(self.matrices)

    def diagonal(self, w: Tensor) -> Tensor:
        """``[|G|, m]``: ``(Wᵀ ρ(g) W)_ii`` for each column i of ``w [N, m]``."""
        return torch.einsum("xi,gxy,yi->gi", w, self.matrices, w)

    def restrict(self, q: Tensor) -> Tensor:
        return q.T @ self.matrices @ q


@dataclass(frozen=True)
class RegularRep:
    """The left regular representation ``L(g) e_x = e_{gx}``, never materialised.

    Its commutant is spanned by right multiplications ``R(h) e_x = e_{xh}``, so a random
    commutant element is a random combination of those: built from the table in O(|G|²).
    """

    group: FiniteGroup

    @property
    def dim(self) -> int:
        return self.group.order

    def commutant_sample(self, gen: torch.Generator) -> Tensor:
        n, table = self.dim, self.group.table
        c = torch.randn(n, generator=gen, dtype=torch.float64)
        b = torch.zeros(n, n, dtype=torch.float64)
        b[table, torch.arange(n)[:, None].expand(n, n)] = c.expand(n, n)  # B[x·h, x] = c_h
        return b + b.T

    def _gathered(self, w: Tensor):
        # (L(g) W)[y] = W[g⁻¹y]: yield chunks of g with W gathered to (chunk, N, m)
        n, m = self.dim, w.shape[1]
        rows = max(1, _CHUNK // (n * max(m, 1)))
        inv_rows = self.group.table[self.group.inverses]  # row g: g⁻¹·y for every y
        for start in range(0, n, rows):
            g = torch.arange(start, min(n, start + rows))
            yield g, w[inv_rows[g]]

    def diagonal(self, w: Tensor) -> Tensor:
        out = torch.empty(self.dim, w.shape[1], dtype=torch.float64)
        for g, lw in self._gathered(w):
            out[g] = (lw * w).sum(1)
        return out

    def restrict(self, q: Tensor) -> Tensor:
        out = torch.empty(self.dim, q.shape[1], q.shape[1], dtype=torch.float64)
        for g, lq in self._gathered(q):
            out[g] = q.T @ lq
        return out


def _clusters(values: Tensor) -> list[Tensor]:
    """Runs of sorted eigenvalues closer than a relative 1e-7: exact degeneracies are ~1e-13."""
    tol = 1e-7 * max(1.0, float(values.abs().max()))
    breaks = torch.nonzero(values.diff() > tol).flatten() + 1
    edges = [0, *breaks.tolist(), len(values)]
    return [torch.arange(a, b) for a, b in itertools.pairwise(edges)]


def distinct_irreducibles(
    group: FiniteGroup, rep: ExplicitRep | RegularRep, *, seed: int = 0
) -> list[tuple[Tensor, IrrepType]]:
    """One representative of each isomorphism class of irreducibles inside `rep`.

    Returns ``(matrices [|G|, d, d], type)`` in the order found.
    """
    gen = torch.Generator().manual_seed(seed)
    pending = [torch.eye(rep.dim, dtype=torch.float64)]
    found: list[tuple[Tensor, Tensor, IrrepType]] = []  # (basis, character, type)
    for _ in range(_MAX_ROUNDS):
        if not pending:
            break
        sample = rep.commutant_sample(gen)
        still = []
        for q in pending:
            values, vectors = torch.linalg.eigh(q.T @ sample @ q)
            w = q @ vectors
            diag = rep.diagonal(w)
            for cluster in _clusters(values):
                chi = diag[:, cluster].sum(1)
                kind = frobenius_schur_type(group, chi)
                if kind is None:
                    still.append(w[:, cluster])
                elif not any(float((chi - c).abs().max()) < 1e-6 for _, c, _ in found):
                    found.append((w[:, cluster], chi, kind))
        pending = still
    if pending:
        raise RepresentationError(
            f"could not split a representation of {group.name} into irreducibles in {_MAX_ROUNDS} "
            f"rounds; its commutant samples stay degenerate."
        )
    return [(rep.restrict(q), kind) for q, _, kind in found]
