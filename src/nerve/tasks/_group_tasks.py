"""Tasks defined by a group or an operation on pairs: inputs (a, b), target a ∘ b."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

from nerve.groups import MAX_ORDER, FiniteGroup, cyclic, parse_group
from nerve.tasks._base import TaskError

__all__ = ["OPERATIONS", "BinaryOperationTask", "group_composition", "modular_arithmetic"]


def _is_prime(p: int) -> bool:
    return p >= 2 and all(p % q for q in range(2, int(p**0.5) + 1))


@dataclass(frozen=True, eq=False)
class BinaryOperationTask:
    """Every pair ``(a, b)`` of a finite domain with its label ``a ∘ b``.

    The enumeration is row-major: example ``i`` is ``(a, b) = (left[i // m], right[i % m])``
    for ``m`` right operands, so a function of the examples reshapes to ``[|A|, |B|, ...]``.

    **Attributes:**

    - `name`: e.g. ``"S5 composition"`` or ``"a+b mod 113"``.
    - `n_vocab`: input tokens are ``0 .. n_vocab-1``; `n_classes`: labels ``0 .. n_classes-1``.
    - `table`: ``[|A|, |B|]`` long, the label of each pair (values of b outside the domain, such
      as b = 0 for division, are absent: the domain of b is `right`).
    - `group`: the group whose law the task is, so analyses can use its irreps; None if none.
    """

    name: str
    table: Tensor
    n_vocab: int
    n_classes: int
    left: Tensor
    right: Tensor
    group: FiniteGroup | None = field(default=None, repr=False)

    @property
    def size(self) -> int:
        return len(self.left) * len(self.right)

    def enumerate(self) -> tuple[Tensor, Tensor]:
        """``(inputs [N, 2] long, targets [N] long)`` over the whole domain, row-major."""
        a = self.left.repeat_interleave(len(self.right))
        b = self.right.repeat(len(self.left))
        return torch.stack([a, b], dim=1), self.table.flatten()


def group_composition(group: FiniteGroup | str) -> BinaryOperationTask:
    """Inputs ``(a, b)`` for every pair of elements, target ``a·b``: the task of Chughtai et al. 2023.

    >>> task = group_composition("S3")
    >>> task.size, task.n_vocab, task.n_classes
    (36, 6, 6)
    """
    G = parse_group(group) if isinstance(group, str) else group
    ids = torch.arange(G.order)
    return BinaryOperationTask(f"{G.name} composition", G.table, G.order, G.order, ids, ids, G)


OPERATIONS: dict[str, Callable[[Tensor, Tensor, int], Tensor]] = {
    "add": lambda a, b, p: (a + b) % p,
    "sub": lambda a, b, p: (a - b) % p,
    "mul": lambda a, b, p: (a * b) % p,
    "div": lambda a, b, p: (
        (a * torch.tensor([pow(int(x), p - 2, p) for x in b.flatten()]).reshape(b.shape)) % p
    ),
    "x2+y2": lambda a, b, p: (a * a + b * b) % p,
    "x2+xy+y2": lambda a, b, p: (a * a + a * b + b * b) % p,
    "x3+xy": lambda a, b, p: (a**3 + a * b) % p,
}
_SYMBOLS = {"add": "a+b", "sub": "a-b", "mul": "a*b", "div": "a/b", "x2+y2": "a^2+b^2",
            "x2+xy+y2": "a^2+ab+b^2", "x3+xy": "a^3+ab"}  # fmt: skip


def modular_arithmetic(p: int, op: str = "add") -> BinaryOperationTask:
    """``a ∘ b mod p`` for a prime p: ``op`` one of :data:`OPERATIONS`.

    Addition is composition in C_p, and its `group` is ``cyclic(p)``; subtraction ``a - b = a·b⁻¹``
    is read with the same group. Division runs over ``b ≠ 0``.

    >>> task = modular_arithmetic(113)
    >>> task.name, task.size, task.group.name
    ('a+b mod 113', 12769, 'C113')
    """
    if isinstance(p, bool) or not isinstance(p, int):
        raise TaskError(f"`p` (={p!r}) must be a prime.")
    if p > MAX_ORDER:  # before the p x p table is allocated: p = 10^6 would be 8 TB
        raise TaskError(
            f"`p` (={p}) must be at most {MAX_ORDER}: the task's table has p^2 entries "
            f"({p * p:,} here), and C_p is limited to that order like every group nerve builds."
        )
    if not _is_prime(p):
        raise TaskError(f"`p` (={p!r}) must be a prime.")
    if op not in OPERATIONS:
        raise TaskError(f"`op` (={op!r}) must be one of {sorted(OPERATIONS)}.")
    ids = torch.arange(p)
    right = ids[1:] if op == "div" else ids
    table = OPERATIONS[op](ids[:, None], right[None, :], p)
    group = cyclic(p) if op in ("add", "sub") else None
    return BinaryOperationTask(f"{_SYMBOLS[op]} mod {p}", table, p, p, ids, right, group)
