"""Permutations as image arrays: cycle notation, closure of generators, Cayley tables.

A permutation of ``{0, ..., m-1}`` is the tuple of images ``p[x]``. Products compose as
functions, ``(g·h)(x) = g(h(x))``: ``h`` acts first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from nerve.errors import GroupError

__all__ = ["cayley_table", "closure", "format_cycles", "parse_cycles"]

_CYCLE = re.compile(r"\(([^()]*)\)")


def parse_cycles(text: str, degree: int | None = None) -> tuple[int, ...]:
    """Images of the permutation written in cycle notation, e.g. ``"(1 2)(3 6)"``.

    >>> parse_cycles("(0 2)(1 3)", degree=5)
    (2, 3, 0, 1, 4)
    """
    stripped = text.replace(" ", "").replace(",", "")
    if stripped and not re.fullmatch(r"(\([0-9]*\))+", stripped) and stripped != "()":
        raise GroupError(f"{text!r} is not a permutation in cycle notation, like '(0 1 2)(3 4)'.")
    cycles = [[int(x) for x in re.split(r"[\s,]+", c.strip())] for c in _CYCLE.findall(text) if c.strip()]
    points = [x for c in cycles for x in c]
    if len(points) != len(set(points)):
        raise GroupError(f"cycles in {text!r} must be disjoint: a point appears twice.")
    m = max(points, default=-1) + 1 if degree is None else degree
    if points and max(points) >= m:
        raise GroupError(f"{text!r} moves point {max(points)}, outside range({m}).")
    images = list(range(m))
    for c in cycles:
        for a, b in zip(c, c[1:] + c[:1]):
            images[a] = b
    return tuple(images)


def format_cycles(p: Sequence[int]) -> str:
    """Cycle notation of a permutation, fixed points omitted; ``"()"`` for the identity.

    >>> format_cycles((2, 3, 0, 1, 4))
    '(0 2)(1 3)'
    """
    seen, out = set(), []
    for start in range(len(p)):
        if start in seen or p[start] == start:
            continue
        cycle, x = [], start
        while x not in seen:
            seen.add(x)
            cycle.append(x)
            x = p[x]
        out.append("(" + " ".join(map(str, cycle)) + ")")
    return "".join(out) or "()"


def closure(generators: np.ndarray, *, limit: int) -> np.ndarray:
    """Every product of the generators ``[k, m]``, sorted lexicographically: ``[N, m]``.

    Raises if the group would have more than `limit` elements.
    """
    m = generators.shape[1]
    found = {tuple(range(m))}
    frontier = np.arange(m)[None, :]
    while len(frontier):
        # (g·s)(x) = g(s(x)) for every g in the frontier and generator s
        prods = frontier[:, generators].reshape(-1, m)
        new = {tuple(r) for r in prods.tolist()} - found
        found |= new
        if len(found) > limit:
            raise GroupError(
                f"the generated group has more than {limit} elements; nerve stores groups as "
                f"Cayley tables, so it refuses groups this large."
            )
        frontier = np.array(sorted(new), dtype=np.int64).reshape(-1, m)
    return np.array(sorted(found), dtype=np.int64)


def cayley_table(elements: np.ndarray) -> np.ndarray:
    """``[N, N]`` table of ``g·h = g∘h`` for sorted permutations ``[N, m]``."""
    n, m = elements.shape
    radix = np.int64(m) ** np.arange(m, dtype=np.int64)
    keys = elements @ radix
    dense = m**m <= 1 << 24  # a direct lookup table of all keys is small enough
    if dense:
        lookup = np.full(m**m, -1, dtype=np.int64)
        lookup[keys] = np.arange(n)
    else:
        order = np.argsort(keys)
    table = np.empty((n, n), dtype=np.int64)
    rows = max(1, (1 << 22) // (n * m))
    for start in range(0, n, rows):
        g = elements[start : start + rows]  # (r, m)
        prod = np.take_along_axis(g[:, None, :], elements[None, :, :], axis=2) @ radix  # g(h(x))
        table[start : start + rows] = (
            lookup[prod] if dense else order[np.searchsorted(keys, prod, sorter=order)]
        )
    return table
