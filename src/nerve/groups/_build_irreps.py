"""Constructions of the real irreps: exact for the families, numerical for any table."""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch import Tensor

from nerve.groups._decompose import ExplicitRep, RegularRep, distinct_irreducibles
from nerve.groups._group import FiniteGroup
from nerve.groups._irreps import Irrep, IrrepType
from nerve.groups._permutations import format_cycles

__all__ = ["build_irreps", "partitions", "tensor_split"]


def build_irreps(group: FiniteGroup) -> tuple[Irrep, ...]:
    """Dispatch on how the group was built; every result is verified by :class:`Irrep`."""
    family = group.family or ("table",)
    kind = family[0]
    if kind == "cyclic":
        return _cyclic(group, family[1])
    if kind == "dihedral":
        return _dihedral(group, family[1])
    if kind == "symmetric":
        return _symmetric(group, family[1])
    if kind == "product":
        return _product(group, *family[1])
    if kind == "restriction":
        return _restriction(group, family[1], family[2])
    return numerical_irreps(group)


def _rotation(theta: Tensor) -> Tensor:
    c, s = torch.cos(theta), torch.sin(theta)
    return torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)


def _cyclic(group: FiniteGroup, n: int) -> tuple[Irrep, ...]:
    # ρ_k(g) = rotation by 2πkg/n for 0 < k < n/2 (complex type); k = 0 and k = n/2 are ±1.
    g = torch.arange(n, dtype=torch.float64)
    out = []
    for k in range(n // 2 + 1):
        if k == 0 or 2 * k == n:
            mats = torch.cos(math.pi * k * g * 2 / n).reshape(n, 1, 1).round()
            out.append(Irrep(group, mats, f"k={k}", "real"))
        else:
            out.append(Irrep(group, _rotation(2 * math.pi * k * g / n), f"k={k}", "complex"))
    return tuple(out)


def _dihedral(group: FiniteGroup, n: int) -> tuple[Irrep, ...]:
    # ρ_k(r^a s^e) = R(2πka/n) F^e with F = diag(1, -1), for 0 < k < n/2; plus 2 or 4 characters.
    a = torch.arange(2 * n) % n
    e = torch.arange(2 * n) // n
    one = torch.ones(2 * n, dtype=torch.float64)
    sign_s = (1 - 2 * e).to(torch.float64)
    sign_r = (1 - 2 * (a % 2)).to(torch.float64)
    chars = [("trivial", one), ("sign", sign_s)]
    if n % 2 == 0:
        chars += [("sign(r)", sign_r), ("sign(r)·sign", sign_r * sign_s)]
    out = [Irrep(group, c.reshape(-1, 1, 1), label, "real") for label, c in chars]
    flip = torch.diag_embed(torch.stack([one, sign_s], -1))
    for k in range(1, (n - 1) // 2 + 1):
        mats = _rotation(2 * math.pi * k * a.to(torch.float64) / n) @ flip
        out.append(Irrep(group, mats, f"k={k}", "real"))
    return tuple(out)


def partitions(n: int) -> Iterator[tuple[int, ...]]:
    """Partitions of n in reverse lexicographic order: (n), (n-1, 1), ..., (1, ..., 1)."""

    def rec(left: int, largest: int) -> Iterator[tuple[int, ...]]:
        if left == 0:
            yield ()
            return
        for first in range(min(left, largest), 0, -1):
            for rest in rec(left - first, first):
                yield (first, *rest)

    return rec(n, n)


def _standard_tableaux(shape: tuple[int, ...]) -> list[tuple[tuple[int, int], ...]]:
    """Standard Young tableaux of `shape`, each as the (row, column) of entries 0..n-1."""
    n = sum(shape)
    out: list[tuple[tuple[int, int], ...]] = []

    def rec(rows: list[int], cells: list[tuple[int, int]]) -> None:
        if len(cells) == n:
            out.append(tuple(cells))
            return
        for r, length in enumerate(rows):
            if length < shape[r] and (r == 0 or rows[r - 1] > length):
                rows[r] += 1
                cells.append((r, length))
                rec(rows, cells)
                cells.pop()
                rows[r] -= 1

    rec([0] * len(shape), [])
    return out


def _young_generators(shape: tuple[int, ...]) -> Tensor:
    """Young's orthogonal form of the adjacent transpositions s_i = (i i+1): ``[n-1, f, f]``.

    With axial distance a = c(i+1) − c(i), c = column − row:
    ``ρ(s_i) e_T = (1/a) e_T + sqrt(1 − 1/a²) e_{s_i T}`` (James & Kerber 1981, 3.3.1 ff).
    """
    tableaux = _standard_tableaux(shape)
    index = {t: k for k, t in enumerate(tableaux)}
    n, f = sum(shape), len(tableaux)
    mats = torch.zeros(max(n - 1, 0), f, f, dtype=torch.float64)
    for i in range(n - 1):
        for k, t in enumerate(tableaux):
            (r1, c1), (r2, c2) = t[i], t[i + 1]
            a = (c2 - r2) - (c1 - r1)
            mats[i, k, k] = 1.0 / a
            if abs(a) > 1:  # i and i+1 in different rows and columns: s_i T is standard
                swapped = list(t)
                swapped[i], swapped[i + 1] = t[i + 1], t[i]
                mats[i, index[tuple(swapped)], k] = math.sqrt(1 - 1 / a**2)
    return mats


def extend_homomorphism(group: FiniteGroup, gens: list[int], images: Tensor) -> Tensor:
    """``[|G|, d, d]`` from the images of generators, by breadth-first ``ρ(g·s) = ρ(g)ρ(s)``.

    Not checked here: :class:`Irrep` verifies the result is a homomorphism.
    """
    n, d = group.order, images.shape[-1]
    mats = torch.empty(n, d, d, dtype=torch.float64)
    known = torch.zeros(n, dtype=torch.bool)
    e = group.identity.index
    mats[e], known[e] = torch.eye(d, dtype=torch.float64), True
    frontier, g = torch.tensor([e]), torch.tensor(gens, dtype=torch.long)  # S1 has no generators
    while frontier.numel():
        targets = group.table[frontier[:, None], g[None, :]].flatten()
        products = (mats[frontier][:, None] @ images[None]).reshape(-1, d, d)
        new = ~known[targets]
        mats[targets[new]] = products[new]
        known[targets[new]] = True
        frontier = torch.unique(targets[new])
    return mats


def _symmetric(group: FiniteGroup, n: int) -> tuple[Irrep, ...]:
    gens = []
    for i in range(n - 1):
        images = list(range(n))
        images[i], images[i + 1] = i + 1, i
        gens.append(group.index(format_cycles(images)))
    out = []
    for shape in partitions(n):
        mats = extend_homomorphism(group, gens, _young_generators(shape))
        out.append(Irrep(group, mats, "[" + ",".join(map(str, shape)) + "]", "real"))
    return tuple(out)


def tensor_split(rho: Irrep, sigma: Irrep) -> list[tuple[Tensor | None, IrrepType, str]]:
    """The real irreps of G × H inside ``ρ ⊗ σ``: ``(Q, type, suffix)``, ``Q [dρ·dσ, dτ]``.

    ``Q = None`` means ρ ⊗ σ is itself irreducible. Otherwise the copies are cut out by
    symmetric involutions in the commutant built from the imaginary units ``I, J`` of
    ``End(ρ)`` and ``End(σ)``: C ⊗ C = C ⊕ C gives [π⊗τ] (the −1 eigenspace of I⊗I) and
    [π⊗τ̄] (suffix ``*``); C ⊗ H ≅ M₂(C) and H ⊗ H ≅ M₄(R) give one irrep, taken from the
    +1 eigenspaces.
    """
    tr, ts = rho.type, sigma.type
    if tr == "real" or ts == "real":
        return [(None, ts if tr == "real" else tr, "")]
    a, b = rho.commutant_basis, sigma.commutant_basis
    values, vectors = torch.linalg.eigh(torch.kron(a[1], b[1]))
    minus, plus = vectors[:, values < 0], vectors[:, values > 0]
    if tr == ts == "complex":
        return [(minus, "complex", ""), (plus, "complex", "*")]
    if tr == "complex" or ts == "complex":
        return [(plus, "complex", "")]
    values, vectors = torch.linalg.eigh(plus.T @ torch.kron(a[2], b[2]) @ plus)
    return [(plus @ vectors[:, values > 0], "real", "")]


def _product(group: FiniteGroup, left: FiniteGroup, right: FiniteGroup) -> tuple[Irrep, ...]:
    out = []
    for i, rho in enumerate(left.irreps()):
        for j, sigma in enumerate(right.irreps()):
            kron = torch.einsum("aij,bkl->abikjl", rho.matrices, sigma.matrices)
            kron = kron.reshape(group.order, rho.dim * sigma.dim, rho.dim * sigma.dim)
            factors = (rho.factors or (i,)) + (sigma.factors or (j,))
            for q, kind, suffix in tensor_split(rho, sigma):
                mats = kron if q is None else q.T @ kron @ q
                out.append(Irrep(group, mats, f"{rho.label} ⊗ {sigma.label}{suffix}", kind, factors))
    return tuple(out)


def _restriction(group: FiniteGroup, parent: FiniteGroup, indices: tuple[int, ...]) -> tuple[Irrep, ...]:
    # Restrict each irrep of the parent and split it; λ and its conjugate restrict alike.
    idx = torch.tensor(indices)
    out: list[Irrep] = []
    for rho in parent.irreps():
        pieces = distinct_irreducibles(group, ExplicitRep(rho.matrices[idx]))
        for k, (mats, kind) in enumerate(pieces):
            chi = torch.diagonal(mats, dim1=1, dim2=2).sum(-1)
            if any(float((chi - o.character).abs().max()) < 1e-6 for o in out):
                continue
            suffix = "" if len(pieces) == 1 else "+-"[k] if len(pieces) == 2 else str(k)
            out.append(Irrep(group, mats, rho.label + suffix, kind))
    return tuple(out)


def numerical_irreps(group: FiniteGroup, *, seed: int = 0) -> tuple[Irrep, ...]:
    """Every real irrep of any finite group, by splitting its regular representation.

    Sorted by dimension, then by character (the trivial irrep first), and labelled by real
    dimension and a letter: ``1a, 1b, 2a, ...``. Costs one ``|G| × |G|`` symmetric
    eigendecomposition per round, O(|G|³).
    """
    pieces = distinct_irreducibles(group, RegularRep(group), seed=seed)

    def key(piece: tuple[Tensor, IrrepType]) -> tuple:
        chi = torch.diagonal(piece[0], dim1=1, dim2=2).sum(-1)
        return (piece[0].shape[1], *(-round(float(x), 6) for x in chi))

    out: list[Irrep] = []
    letters: dict[int, int] = {}
    for mats, kind in sorted(pieces, key=key):
        d = mats.shape[1]
        letters[d] = letters.get(d, -1) + 1
        out.append(Irrep(group, mats, f"{d}{_letter(letters[d])}", kind))
    return tuple(out)


def _letter(k: int) -> str:
    s = ""
    k += 1
    while k:
        k, r = divmod(k - 1, 26)
        s = chr(ord("a") + r) + s
    return s
