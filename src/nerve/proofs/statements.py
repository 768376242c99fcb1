"""What can be proved about a network on a finite task, as data.

Every statement is about the real-number network defined by the stored weights (float32 numbers
are exact reals), on every input of the task's domain (train and test split alike). The margin of
an input is ``logit[target] − max over other classes of logit``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from nerve.errors import ProofError

__all__ = ["Accuracy", "Correct", "Margin", "Robust", "Statement", "TopK", "statement_from_dict"]


def _is_finite_number(value: Any) -> bool:
    """A real number a statement can hold: an int or float (not a bool), neither NaN nor ±inf."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class Correct:
    """The argmax of the logits is the target on every input (every margin > 0)."""

    kind: str = "correct"

    def text(self, task: str) -> str:
        return f"on every input of {task}, the target's logit exceeds every other logit"


@dataclass(frozen=True)
class Accuracy:
    """The argmax is the target on at least a fraction `at_least` of the inputs."""

    at_least: float
    kind: str = "accuracy"

    def __post_init__(self) -> None:
        if not _is_finite_number(self.at_least) or not 0 <= self.at_least <= 1:
            raise ProofError(f"`at_least` (={self.at_least!r}) must be a fraction from 0 to 1.")

    def text(self, task: str) -> str:
        share = f"{self.at_least:.6g}"
        return f"on at least {share} of the inputs of {task}, the target's logit exceeds every other"


@dataclass(frozen=True)
class Margin:
    """Every margin is at least `at_least` (a logit gap)."""

    at_least: float
    kind: str = "margin"

    def __post_init__(self) -> None:
        if not _is_finite_number(self.at_least):
            raise ProofError(f"`at_least` (={self.at_least!r}) must be a finite number (a logit gap).")

    def text(self, task: str) -> str:
        gap = f"{self.at_least:g}"
        return f"on every input of {task}, the target's logit exceeds every other by at least {gap}"


@dataclass(frozen=True)
class Robust:
    """On every input, every embedding within L∞ distance `radius` of the input's embedding (the
    MLP's concatenated embeddings; the transformer's residual stream before attention) gives the
    target as the argmax: a box of embeddings per input, bounded by interval propagation.

    `radius` is a finite number >= 0. A radius so large that float64 overflows inside the network
    is not refused: the bounds become unbounded there (:mod:`nerve.proofs.intervals`), the least
    margin's bound is −inf, and the verdict is ``"undecided"``, which is what is known."""

    radius: float
    kind: str = "robust"

    def __post_init__(self) -> None:
        if not _is_finite_number(self.radius) or not self.radius >= 0:
            raise ProofError(f"`radius` (={self.radius!r}) must be a finite number >= 0.")

    def text(self, task: str) -> str:
        r = f"{self.radius:g}"
        return (
            f"on every input of {task}, every embedding within L∞ distance {r} gives the target the top logit"
        )


@dataclass(frozen=True)
class TopK:
    """The target is among the `k` largest logits on every input: fewer than `k` other logits
    reach it (``k = 1`` is :class:`Correct`; a tie counts against the target, as there)."""

    k: int
    kind: str = "top_k"

    def __post_init__(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise ProofError(f"`k` (={self.k!r}) must be a whole number >= 1.")

    def text(self, task: str) -> str:
        top = f"among the {self.k} largest"
        return f"on every input of {task}, the target's logit is {top} (a tie counts against it)"


Statement = Correct | Accuracy | Margin | Robust | TopK


def statement_from_dict(data: dict[str, Any]) -> Statement:
    """The statement that :func:`statement_dict` wrote as `data`; a malformed one is refused by name."""
    kinds = {"correct": Correct, "accuracy": Accuracy, "margin": Margin, "robust": Robust, "top_k": TopK}
    if not isinstance(data, dict):
        raise ProofError(f"a statement (a {type(data).__name__}) must be an object with a `kind`.")
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in kinds:
        raise ProofError(f"statement kind {kind!r} must be one of {sorted(kinds)}.")
    names = {f.name for f in fields(kinds[kind])}
    if set(data) != names:
        raise ProofError(f"a {kind!r} statement has the fields {sorted(names)}; got {sorted(data)}.")
    return kinds[kind](**data)


def statement_dict(statement: Statement) -> dict[str, Any]:
    return asdict(statement)
