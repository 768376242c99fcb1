"""The standard families of finite groups, and group names as users write them."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence

import numpy as np
import torch

from nerve.errors import GroupError
from nerve.groups._group import FiniteGroup
from nerve.groups._permutations import cayley_table, closure, format_cycles, parse_cycles

__all__ = [
    "alternating",
    "cyclic",
    "dihedral",
    "direct_product",
    "from_permutations",
    "from_table",
    "parse_group",
    "quaternion",
    "symmetric",
]

# Cayley tables are [n, n]; beyond this they stop fitting comfortably in memory.
MAX_ORDER = 10_000


def _check_int(name: str, value: object, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise GroupError(f"`{name}` (={value!r}) must be an integer.")
    v = int(value)
    if v < lo or (hi is not None and v > hi):
        rule = f">= {lo}" if hi is None else f"between {lo} and {hi}"
        raise GroupError(f"`{name}` (={v}) must be {rule}.")
    return v


def from_table(
    table: Sequence[Sequence[int]] | torch.Tensor, labels: Sequence[str] | None = None, *, name: str = "G"
) -> FiniteGroup:
    """The group with Cayley table ``table[a, b] = a·b``, validated (see :class:`FiniteGroup`).

    >>> from_table([[0, 1, 2], [1, 2, 0], [2, 0, 1]]).is_abelian
    True
    """
    return FiniteGroup(torch.as_tensor(table), tuple(labels or ()), name=name)


def cyclic(n: int) -> FiniteGroup:
    """C_n = Z/nZ, elements ``0 .. n-1`` with ``a·b = a + b mod n``.

    >>> cyclic(5).mul(3, 4)
    2
    """
    n = _check_int("n", n, 1, MAX_ORDER)
    ids = torch.arange(n)
    return FiniteGroup((ids[:, None] + ids[None, :]) % n, name=f"C{n}", family=("cyclic", n))


def dihedral(n: int) -> FiniteGroup:
    """D_n, the symmetries of a regular n-gon, of order 2n: ``r^a s^e`` is element ``a + n·e``.

    Relations ``r^n = s² = e``, ``s r s = r⁻¹``, so ``(r^a s^e)(r^b s^f) = r^(a + (-1)^e b) s^(e+f)``.

    >>> G = dihedral(4)
    >>> G.order, G.labels[:5]
    (8, ('e', 'r', 'r2', 'r3', 's'))
    """
    n = _check_int("n", n, 1, MAX_ORDER // 2)
    a = torch.arange(2 * n) % n
    e = torch.arange(2 * n) // n
    sign = 1 - 2 * e[:, None]
    rot = (a[:, None] + sign * a[None, :]) % n
    table = rot + n * ((e[:, None] + e[None, :]) % 2)
    power = ["e", "r", *(f"r{k}" for k in range(2, n))][:n]
    labels = power + [("" if k == 0 else p) + "s" for k, p in enumerate(power)]
    return FiniteGroup(table, tuple(labels), name=f"D{n}", family=("dihedral", n))


def _permutation_group(elements: np.ndarray, name: str, family: tuple | None) -> FiniteGroup:
    labels = tuple(format_cycles(p) for p in elements.tolist())
    return FiniteGroup(torch.from_numpy(cayley_table(elements)), labels, name=name, family=family)


def symmetric(n: int) -> FiniteGroup:
    """S_n, all permutations of ``{0, ..., n-1}`` (n <= 7), composed as functions (right first).

    Elements are sorted lexicographically by their images and labelled in cycle notation.

    >>> G = symmetric(3)
    >>> G.labels
    ('()', '(1 2)', '(0 1)', '(0 1 2)', '(0 2 1)', '(0 2)')
    """
    n = _check_int("n", n, 1, 7)
    elements = np.array(list(itertools.permutations(range(n))), dtype=np.int64)
    return _permutation_group(elements, f"S{n}", ("symmetric", n))


def alternating(n: int) -> FiniteGroup:
    """A_n, the even permutations of ``{0, ..., n-1}`` (n <= 7), a subgroup of :func:`symmetric`.

    >>> alternating(5).order
    60
    """
    n = _check_int("n", n, 1, 7)
    parent = symmetric(n)
    elements = np.array(list(itertools.permutations(range(n))), dtype=np.int64)
    even = np.array([_parity(p) == 0 for p in elements.tolist()])
    indices = tuple(np.nonzero(even)[0].tolist())
    return _permutation_group(elements[even], f"A{n}", ("restriction", parent, indices))


def _parity(p: Sequence[int]) -> int:
    return sum(1 for i, j in itertools.combinations(range(len(p)), 2) if p[i] > p[j]) % 2


def quaternion() -> FiniteGroup:
    """Q8 = {±1, ±i, ±j, ±k} with ``i² = j² = k² = ijk = -1``.

    >>> G = quaternion()
    >>> G.labels[G.mul("i", "j")], G.labels[G.mul("j", "i")]
    ('k', '-k')
    """
    units = ["1", "i", "j", "k"]
    # i·j = k, j·k = i, k·i = j and their reverses with a sign; x·x = -1 for x in i, j, k.
    unit_mul = {
        ("i", "j"): (1, "k"),
        ("j", "k"): (1, "i"),
        ("k", "i"): (1, "j"),
        ("j", "i"): (-1, "k"),
        ("k", "j"): (-1, "i"),
        ("i", "k"): (-1, "j"),
    }
    labels = [s + u for u in units for s in ("", "-")]
    index = {lab: i for i, lab in enumerate(labels)}
    table = np.empty((8, 8), dtype=np.int64)
    for a, b in itertools.product(labels, repeat=2):
        sa, ua = (-1, a[1:]) if a.startswith("-") else (1, a)
        sb, ub = (-1, b[1:]) if b.startswith("-") else (1, b)
        if ua == "1" or ub == "1":
            s, u = 1, ub if ua == "1" else ua
        elif ua == ub:
            s, u = -1, "1"
        else:
            s, u = unit_mul[(ua, ub)]
        sign = sa * sb * s
        table[index[a], index[b]] = index[("" if sign > 0 else "-") + u]
    return FiniteGroup(torch.from_numpy(table), tuple(labels), name="Q8")


def direct_product(*groups: FiniteGroup) -> FiniteGroup:
    """G₁ × ... × G_k, componentwise: element ``(g₁, ..., g_k)`` has index ``((g₁·|G₂| + g₂)·|G₃| + ...)``.

    >>> G = direct_product(cyclic(2), symmetric(3))
    >>> G.name, G.order, G.labels[1]
    ('C2xS3', 12, '(0, (1 2))')
    """
    if not groups or not all(isinstance(g, FiniteGroup) for g in groups):
        raise GroupError(f"`groups` must be one or more FiniteGroup, got {groups!r}.")
    if len(groups) == 1:
        return groups[0]
    order = math.prod(g.order for g in groups)
    if order > MAX_ORDER:
        raise GroupError(f"the product has order {order}, above the limit of {MAX_ORDER}.")
    left, right = groups[0], direct_product(*groups[1:])
    m = right.order
    a = torch.arange(left.order * m) // m
    b = torch.arange(left.order * m) % m
    table = left.table[a[:, None], a[None, :]] * m + right.table[b[:, None], b[None, :]]
    parts = [[""] * order for _ in groups]
    stride = order
    for k, g in enumerate(groups):  # mixed radix: the last factor varies fastest
        stride //= g.order
        parts[k] = [g.labels[(i // stride) % g.order] for i in range(order)]
    labels = tuple("(" + ", ".join(p) + ")" for p in zip(*parts))
    name = "x".join(g.name for g in groups)
    return FiniteGroup(table, labels, name=name, family=("product", (left, right)))


def from_permutations(
    generators: Sequence[str | Sequence[int]], *, degree: int | None = None, name: str = "G"
) -> FiniteGroup:
    """The permutation group generated by `generators`: cycle notation or image lists.

    Elements are sorted by their images (the identity first) and labelled in cycle notation.

    >>> G = from_permutations(["(0 1 2 3 4 5 6)", "(1 2)(3 6)"])
    >>> G.order
    168
    """
    if isinstance(generators, str) or not generators:
        raise GroupError(f"`generators` must be a non-empty list of permutations, got {generators!r}.")
    if degree is None:
        degree = max(
            (max(map(int, re.findall(r"\d+", g)), default=-1) + 1 if isinstance(g, str) else len(g))
            for g in generators
        )
    perms = []
    for g in generators:
        p = parse_cycles(g, degree) if isinstance(g, str) else tuple(int(x) for x in g)
        if sorted(p) != list(range(degree)):
            raise GroupError(f"generator {g!r} is not a permutation of range({degree}).")
        perms.append(p)
    elements = closure(np.array(perms, dtype=np.int64), limit=MAX_ORDER)
    return _permutation_group(elements, name, None)


_ATOM = re.compile(r"([CZDSAQ])(\d+)")


def parse_group(name: str) -> FiniteGroup:
    """A group from its usual name: ``C113``, ``Z7``, ``D5`` (order 10), ``S5``, ``A5``,
    ``Q8``, and products such as ``C2xS3`` or ``C2×C2``.

    >>> parse_group("C2xS3").order
    12
    """
    if not isinstance(name, str) or not name.strip():
        raise GroupError(f"`name` (={name!r}) must be a group name such as 'C113', 'D5', 'S5' or 'C2xS3'.")
    parts = re.split(r"\s*[x×*]\s*", name.strip())
    groups = []
    for part in parts:
        m = _ATOM.fullmatch(part)
        if m is None:
            raise GroupError(
                f"cannot parse group name {name!r} at {part!r}: expected Cn, Zn, Dn, Sn, An or Q8, "
                f"joined by 'x' for direct products."
            )
        kind, k = m.group(1), int(m.group(2))
        if kind in "CZ":
            groups.append(cyclic(k))
        elif kind == "D":
            groups.append(dihedral(k))
        elif kind == "S":
            groups.append(symmetric(k))
        elif kind == "A":
            groups.append(alternating(k))
        elif k == 8:
            groups.append(quaternion())
        else:
            raise GroupError(f"`name` (={name!r}): the only quaternion group nerve builds is Q8.")
    return direct_product(*groups)
