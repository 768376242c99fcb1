"""What can be proved about a network on a finite task, as data.

Every statement is about the real-number network defined by the stored weights (float32 numbers
are exact reals), on every input of the task's domain (train and test split alike). The margin of
an input is ``logit[target] − max over other classes of logit``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from nerve.errors import AnalysisError

__all__ = ["Accuracy", "Correct", "Margin", "Robust", "Statement", "statement_from_dict"]


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
        if isinstance(self.at_least, bool) or not 0 <= self.at_least <= 1:
            raise AnalysisError(f"`at_least` (={self.at_least!r}) must be a fraction from 0 to 1.")

    def text(self, task: str) -> str:
        share = f"{self.at_least:.6g}"
        return f"on at least {share} of the inputs of {task}, the target's logit exceeds every other"


@dataclass(frozen=True)
class Margin:
    """Every margin is at least `at_least` (a logit gap)."""

    at_least: float
    kind: str = "margin"

    def __post_init__(self) -> None:
        if isinstance(self.at_least, bool) or not isinstance(self.at_least, (int, float)):
            raise AnalysisError(f"`at_least` (={self.at_least!r}) must be a number.")

    def text(self, task: str) -> str:
        gap = f"{self.at_least:g}"
        return f"on every input of {task}, the target's logit exceeds every other by at least {gap}"


@dataclass(frozen=True)
class Robust:
    """On every input, every embedding within L∞ distance `radius` of the input's embedding (the
    MLP's concatenated embeddings; the transformer's residual stream before attention) gives the
    target as the argmax: a box of embeddings per input, bounded by interval propagation."""

    radius: float
    kind: str = "robust"

    def __post_init__(self) -> None:
        if isinstance(self.radius, bool) or not isinstance(self.radius, (int, float)) or not self.radius >= 0:
            raise AnalysisError(f"`radius` (={self.radius!r}) must be a number >= 0.")

    def text(self, task: str) -> str:
        r = f"{self.radius:g}"
        return (
            f"on every input of {task}, every embedding within L∞ distance {r} gives the target the top logit"
        )


Statement = Correct | Accuracy | Margin | Robust


def statement_from_dict(data: dict[str, Any]) -> Statement:
    kinds = {"correct": Correct, "accuracy": Accuracy, "margin": Margin, "robust": Robust}
    kind = data.get("kind")
    if kind not in kinds:
        raise AnalysisError(f"statement kind {kind!r} must be one of {sorted(kinds)}.")
    return kinds[kind](**data)


def statement_dict(statement: Statement) -> dict[str, Any]:
    return asdict(statement)
