"""A finite group as its Cayley table: validated once, then immutable."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

import torch
from torch import Tensor

from nerve.errors import GroupError

if TYPE_CHECKING:
    from nerve.groups._characters import CharacterTable
    from nerve.groups._irreps import Irrep

__all__ = ["Element", "FiniteGroup"]

# Work on at most this many table entries at once in the vectorised checks.
_CHUNK = 1 << 22

ElementLike = Union[int, str, "Element"]


@dataclass(frozen=True, eq=False)
class FiniteGroup:
    """A finite group given by its Cayley table, ``table[a, b] = a·b``.

    The table is checked when the group is built: square, entries in range, a Latin
    square, a two-sided identity, two-sided inverses and associativity (Light's test:
    ``(x·y)·z = x·(y·z)`` for all ``x, z`` and ``y`` in a generating set, which implies
    it for every ``y``). A failure raises :class:`~nerve.GroupError` naming the elements.

    The stored tensors are shared, not copied: treat them as read-only.

    **Arguments:**

    - `table`: integer tensor ``[n, n]``, entries in ``range(n)``.
    - `labels`: ``n`` distinct names of the elements; ``"0" .. "n-1"`` when omitted.
    - `name`: how the group is shown, e.g. ``"S5"``.

    >>> G = FiniteGroup(torch.tensor([[0, 1], [1, 0]]), name="C2")
    >>> G.order, int(G.identity), G.inverses.tolist()
    (2, 0, [0, 1])
    """

    table: Tensor
    labels: tuple[str, ...] = ()
    name: str = "G"
    # How the group was built, for exact irreps: ("cyclic", n), ("dihedral", n),
    # ("symmetric", n), ("product", (G, H, ...)), ("restriction", parent, indices).
    family: tuple[Any, ...] | None = field(default=None, repr=False)
    #: ``[n]`` long: the index of each element's inverse.
    inverses: Tensor = field(init=False, repr=False)
    #: A small generating set, found greedily.
    generators: tuple[int, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        table = torch.as_tensor(self.table)
        if table.is_floating_point() or table.is_complex() or table.dtype == torch.bool:
            raise GroupError(f"`table` must hold integers, got dtype {table.dtype}.")
        table = table.to(torch.long).contiguous()
        object.__setattr__(self, "table", table)
        n = _validate_square(table)
        labels = tuple(str(s) for s in self.labels) if self.labels else tuple(map(str, range(n)))
        if len(labels) != n:
            raise GroupError(f"`labels` has {len(labels)} entries but the table has {n} rows.")
        if len(set(labels)) != n:
            dup = next(s for s in labels if labels.count(s) > 1)
            raise GroupError(f"`labels` must be distinct: {dup!r} appears more than once.")
        object.__setattr__(self, "labels", labels)
        _validate_latin(table, labels)
        e = _find_identity(table, labels)
        inv = _find_inverses(table, e, labels)
        gens = _generating_set(table)
        _validate_associative(table, gens, labels)
        object.__setattr__(self, "_identity", e)
        object.__setattr__(self, "inverses", inv)
        object.__setattr__(self, "generators", tuple(gens))

    # --- elements -------------------------------------------------------------------

    @property
    def order(self) -> int:
        """|G|, the number of elements."""
        return self.table.shape[0]

    def __len__(self) -> int:
        return self.order

    @property
    def identity(self) -> Element:
        """The identity element ``e``."""
        return Element(self, self._identity)  # type: ignore[attr-defined]

    def __getitem__(self, key: ElementLike) -> Element:
        """The element with index ``key`` (an int) or label ``key`` (a str)."""
        return Element(self, self.index(key))

    def __iter__(self):
        return (Element(self, i) for i in range(self.order))

    def index(self, g: ElementLike) -> int:
        """The index of an element given by index, label or :class:`Element`."""
        if isinstance(g, Element):
            if g.group is not self:
                raise GroupError(f"element {g.label!r} belongs to {g.group.name}, not {self.name}.")
            return g.index
        if isinstance(g, str):
            try:
                return self._label_index[g]
            except KeyError:
                raise GroupError(f"{self.name} has no element labelled {g!r}.") from None
        i = int(g)
        if not 0 <= i < self.order:
            raise GroupError(f"element index {i} is out of range for {self.name} of order {self.order}.")
        return i

    @functools.cached_property
    def _label_index(self) -> dict[str, int]:
        return {s: i for i, s in enumerate(self.labels)}

    def mul(self, a: ElementLike, b: ElementLike) -> int:
        """The index of ``a·b``."""
        return int(self.table[self.index(a), self.index(b)])

    def inv(self, a: ElementLike) -> int:
        """The index of ``a⁻¹``."""
        return int(self.inverses[self.index(a)])

    @functools.cached_property
    def element_orders(self) -> Tensor:
        """``[n]`` long: the order of each element, the least ``k >= 1`` with ``g^k = e``."""
        n, e = self.order, self._identity  # type: ignore[attr-defined]
        ids = torch.arange(n)
        power, orders = ids.clone(), torch.zeros(n, dtype=torch.long)
        for k in range(1, n + 1):
            orders[(power == e) & (orders == 0)] = k
            if bool((orders > 0).all()):
                break
            power = self.table[power, ids]
        return orders

    @property
    def exponent(self) -> int:
        """The least common multiple of the element orders."""
        out = 1
        for k in torch.unique(self.element_orders).tolist():
            out = out * k // _gcd(out, k)
        return out

    @functools.cached_property
    def is_abelian(self) -> bool:
        """Whether ``a·b = b·a`` for all ``a, b``."""
        return bool((self.table == self.table.T).all())

    @functools.cached_property
    def squares(self) -> Tensor:
        """``[n]`` long: the index of ``g²`` for each ``g`` (used by Frobenius–Schur indicators)."""
        ids = torch.arange(self.order)
        return self.table[ids, ids]

    # --- conjugacy, subgroups, cosets -------------------------------------------------

    @functools.cached_property
    def class_of(self) -> Tensor:
        """``[n]`` long: the index of each element's conjugacy class in :attr:`conjugacy_classes`."""
        n = self.order
        smallest = torch.empty(n, dtype=torch.long)
        rows = max(1, _CHUNK // n)
        inv = self.inverses
        for start in range(0, n, rows):
            g = torch.arange(start, min(n, start + rows))
            xg = self.table[:, g].T  # (chunk, n): x·g for every x
            conj = self.table[xg, inv.expand_as(xg)]  # x·g·x⁻¹
            smallest[g] = conj.min(dim=1).values
        # Classes ordered by element order, then by their smallest element.
        reps = torch.unique(smallest)
        key = self.element_orders[reps] * n + reps
        reps = reps[torch.argsort(key)]
        rank = torch.empty(n, dtype=torch.long)
        rank[reps] = torch.arange(len(reps))
        return rank[smallest]

    @functools.cached_property
    def conjugacy_classes(self) -> tuple[tuple[int, ...], ...]:
        """The conjugacy classes ``{x g x⁻¹}``, identity first, then by element order."""
        k = int(self.class_of.max()) + 1
        members: list[list[int]] = [[] for _ in range(k)]
        for g, c in enumerate(self.class_of.tolist()):
            members[c].append(g)
        return tuple(tuple(m) for m in members)

    def subgroup(self, generators: Iterable[ElementLike]) -> tuple[int, ...]:
        """The sorted indices of the subgroup ``⟨generators⟩``.

        >>> from nerve.groups import symmetric
        >>> len(symmetric(4).subgroup(["(0 1 2 3)"]))
        4
        """
        gens = torch.tensor([self.index(g) for g in generators], dtype=torch.long)
        mask = _closure(self.table, gens)
        mask[self._identity] = True  # type: ignore[attr-defined]
        return tuple(torch.nonzero(mask).flatten().tolist())

    def cosets(self, subgroup: Iterable[ElementLike], side: str = "left") -> tuple[tuple[int, ...], ...]:
        """The cosets ``gH`` (``side="left"``) or ``Hg`` (``side="right"``) of a subgroup H.

        Each coset is sorted; cosets are ordered by their smallest element.
        `subgroup` must be closed (use :meth:`subgroup` to generate one).

        >>> from nerve.groups import cyclic
        >>> cyclic(6).cosets([0, 3])
        ((0, 3), (1, 4), (2, 5))
        """
        if side not in ("left", "right"):
            raise GroupError(f"`side` (={side!r}) must be 'left' or 'right'.")
        h = torch.tensor(sorted({self.index(g) for g in subgroup}), dtype=torch.long)
        if tuple(h.tolist()) != self.subgroup(h.tolist()):
            raise GroupError(f"`subgroup` {tuple(h.tolist())} is not closed under the group law.")
        ids = torch.arange(self.order)
        members = (
            self.table[ids[:, None], h[None, :]] if side == "left" else self.table[h[None, :], ids[:, None]]
        )
        members = torch.sort(members, dim=1).values
        return tuple(sorted({tuple(row) for row in members.tolist()}))

    # --- representations --------------------------------------------------------------

    def irreps(self) -> tuple[Irrep, ...]:
        """Every irreducible representation over the reals, each verified when built.

        Exact for cyclic, dihedral and symmetric groups and their direct products;
        numerical (splitting the regular representation) for any other table.
        """
        return self._irreps

    @functools.cached_property
    def _irreps(self) -> tuple[Irrep, ...]:
        from nerve.groups._build_irreps import build_irreps

        return build_irreps(self)

    def character_table(self) -> CharacterTable:
        """The complex character table, its Frobenius–Schur indicators and class data."""
        return self._character_table

    @functools.cached_property
    def _character_table(self) -> CharacterTable:
        from nerve.groups._characters import character_table

        return character_table(self)

    def __repr__(self) -> str:
        return f"FiniteGroup({self.name}, order={self.order})"


@dataclass(frozen=True)
class Element:
    """An element of a :class:`FiniteGroup`: ``g @ h`` multiplies, ``~g`` inverts.

    >>> from nerve.groups import symmetric
    >>> G = symmetric(3)
    >>> g, h = G["(0 1)"], G["(1 2)"]
    >>> g @ h, ~(g @ h), (g @ h).order
    ((0 1 2), (0 2 1), 3)
    """

    group: FiniteGroup
    index: int

    def __matmul__(self, other: Element) -> Element:
        return Element(self.group, self.group.mul(self, other))

    def __invert__(self) -> Element:
        return Element(self.group, self.group.inv(self))

    def __pow__(self, k: int) -> Element:
        out, base = self.group.identity.index, self.index if k >= 0 else self.group.inv(self)
        for _ in range(abs(k) % self.order):
            out = self.group.mul(out, base)
        return Element(self.group, out)

    def __index__(self) -> int:
        return self.index

    @property
    def label(self) -> str:
        return self.group.labels[self.index]

    @property
    def order(self) -> int:
        return int(self.group.element_orders[self.index])

    def __repr__(self) -> str:
        return self.label


# --- validation, each failure naming the elements -------------------------------------


def _validate_square(table: Tensor) -> int:
    if table.ndim != 2 or table.shape[0] != table.shape[1]:
        raise GroupError(f"`table` must be square [n, n], got shape {tuple(table.shape)}.")
    n = table.shape[0]
    if n == 0:
        raise GroupError("`table` is empty; a group has at least its identity.")
    bad = (table < 0) | (table >= n)
    if bool(bad.any()):
        a, b = (int(i) for i in torch.nonzero(bad)[0])
        raise GroupError(f"`table` entries must lie in range({n}): table[{a}, {b}] = {int(table[a, b])}.")
    return n


def _validate_latin(table: Tensor, labels: Sequence[str]) -> None:
    n = table.shape[0]
    for what, t in (("row", table), ("column", table.T)):
        seen = torch.zeros(n, n, dtype=torch.bool).scatter_(1, t, True)
        ok = seen.all(dim=1)  # every element appears in the row, so none twice
        if not bool(ok.all()):
            r = int(torch.nonzero(~ok)[0])
            row = t[r].tolist()
            v = next(x for x in row if row.count(x) > 1)
            i, j = [k for k, x in enumerate(row) if x == v][:2]
            if what == "row":
                prod = f"{labels[r]}*{labels[i]} = {labels[r]}*{labels[j]}"
            else:
                prod = f"{labels[i]}*{labels[r]} = {labels[j]}*{labels[r]}"
            raise GroupError(
                f"table is not a Latin square: {what} {labels[r]!r} repeats {labels[v]!r} "
                f"({prod} = {labels[v]}), so division is not unique."
            )


def _find_identity(table: Tensor, labels: Sequence[str]) -> int:
    n = table.shape[0]
    ids = torch.arange(n)
    left = (table == ids).all(dim=1)  # e·x = x for all x
    right = (table.T == ids).all(dim=1)  # x·e = x for all x
    both = torch.nonzero(left & right).flatten()
    if len(both):
        return int(both[0])
    if bool(left.any()):
        e = int(torch.nonzero(left)[0])
        x = int(torch.nonzero(table[:, e] != ids)[0])
        raise GroupError(
            f"table has no identity: {labels[e]!r} is a left identity but "
            f"{labels[x]}*{labels[e]} = {labels[int(table[x, e])]}, not {labels[x]}."
        )
    raise GroupError("table has no identity: no element e with e*x = x*e = x for every x.")


def _find_inverses(table: Tensor, e: int, labels: Sequence[str]) -> Tensor:
    right = torch.argmax((table == e).to(torch.int8), dim=1)  # x·right[x] = e
    left = torch.argmax((table.T == e).to(torch.int8), dim=1)  # left[x]·x = e
    bad = torch.nonzero(right != left).flatten()
    if len(bad):
        x = int(bad[0])
        raise GroupError(
            f"table has no two-sided inverses: {labels[x]}*{labels[int(right[x])]} = {labels[e]} but "
            f"{labels[int(left[x])]}*{labels[x]} = {labels[e]}; a group needs one inverse on both sides."
        )
    return right


def _closure(table: Tensor, gens: Tensor) -> Tensor:
    """Boolean mask of everything reached from `gens` by multiplying on the right by `gens`."""
    mask = torch.zeros(table.shape[0], dtype=torch.bool)
    if gens.numel() == 0:
        return mask
    mask[gens] = True
    frontier = torch.unique(gens)
    while frontier.numel():
        reached = torch.unique(table[frontier[:, None], gens[None, :]])
        frontier = reached[~mask[reached]]
        mask[frontier] = True
    return mask


def _generating_set(table: Tensor) -> list[int]:
    """A small generating set, greedily: add the first element not yet generated."""
    n = table.shape[0]
    gens: list[int] = []
    mask = torch.zeros(n, dtype=torch.bool)
    while not bool(mask.all()):
        gens.append(int(torch.nonzero(~mask)[0]))
        mask = _closure(table, torch.tensor(gens))
    return gens


def _validate_associative(table: Tensor, gens: Sequence[int], labels: Sequence[str]) -> None:
    # Light's test: {y : (x·y)·z = x·(y·z) for all x, z} is closed under products, so it
    # is everything once it holds for a generating set.
    for y in gens:
        xy = table[:, y]  # (n,)
        yz = table[y, :]  # (n,)
        lhs = table[xy, :]  # (x·y)·z, rows x, columns z
        rhs = table[:, yz]  # x·(y·z)
        bad = torch.nonzero(lhs != rhs)
        if len(bad):
            x, z = (int(i) for i in bad[0])
            lx, ly, lz = labels[x], labels[y], labels[z]
            raise GroupError(
                f"table is not associative: ({lx}*{ly})*{lz} = {labels[int(lhs[x, z])]} but "
                f"{lx}*({ly}*{lz}) = {labels[int(rhs[x, z])]}."
            )


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a
