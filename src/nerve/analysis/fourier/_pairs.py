"""Functions on the pairs of a group task, read through the group: fibres of the task's law,
logits against characters, cross-entropy in float64."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

from nerve.errors import AnalysisError
from nerve.groups import FourierTransform
from nerve.tasks import BinaryOperationTask

__all__ = ["GroupTask", "cross_entropy", "not_a_group_task"]


class GroupTask:
    """A pair task whose law ``t(a, b)`` is a group's, with the tensors the analyses share.

    For composition ``t(a, b) = a·b``; for modular subtraction ``t(a, b) = a·b⁻¹``. Either way
    each value g of t has a fibre ``{(a, b): t(a, b) = g}`` of |G| pairs.

    **Arguments:**

    - `task`: a :class:`~nerve.tasks.BinaryOperationTask` whose `group` is set and whose
      domain is all of G × G.
    """

    def __init__(self, task: BinaryOperationTask) -> None:
        G = task.group
        if G is None:
            raise AnalysisError(
                f"`task` ({task.name!r}) has no group: the Fourier analyses need a task whose law is a "
                "group's (group composition, or a+b or a-b mod p)."
            )
        n = G.order
        if (len(task.left), len(task.right), task.n_classes) != (n, n, n):
            raise AnalysisError(
                f"`task` ({task.name!r}) must have every pair of {G.name} as input and {n} classes."
            )
        self.task, self.group, self.order = task, G, n
        self.pairs, self.targets = task.enumerate()  # [n², 2], [n²], row-major in (a, b)
        #: ``[n, n]``: t(a, b).
        self.law = task.table
        self.fibre_size = torch.bincount(self.law.flatten(), minlength=n).to(torch.float64)
        #: ``[n, n]``: the index of ``g·c⁻¹``.
        self.quotient = G.table[:, G.inverses]
        self.ft = FourierTransform(G)
        self.irreps = G.irreps()
        self.characters = torch.stack([rho.character for rho in self.irreps])  # [r, n]

    def fibre_mean(self, f: Tensor) -> Tensor:
        """``[n, ...]``: the mean of ``f [n, n, ...]`` over each fibre of t, a function of g = t(a, b)."""
        flat = f.reshape(self.order**2, -1)
        total = flat.new_zeros(self.order, flat.shape[1]).index_add_(0, self.law.flatten(), flat)
        return (total / self.fibre_size.to(flat)[:, None]).reshape(self.order, *f.shape[2:])

    def through_law(self, f: Tensor, components: Iterable[int]) -> Tensor:
        """``[n, n, ...]``: the orthogonal projection of ``f [n, n, ...]`` onto the functions
        ``F(t(a, b))`` with F in the isotypic components named (indices of G's irreps).

        For C_p and a+b these are the terms ``cos(ωk(a+b))``, ``sin(ωk(a+b))`` that Nanda et al.
        keep for the restricted loss. Averaging over fibres is the adjoint of pulling back along
        t (up to the fibre size), so the projection is: average, project, pull back.
        """
        components = list(components)
        if not components:
            return torch.zeros_like(f)
        return self.ft.project(self.fibre_mean(f), components)[self.law]

    def law_fraction(self, logits: Tensor) -> float:
        """The fraction of the variance of ``logits [n, n, n]`` (centred over classes c) that is
        a function of ``t(a, b)·c⁻¹`` alone: the part the characters can reach, their class-
        function part (NaN for constant logits)."""
        centred = logits - logits.mean(-1, keepdim=True)
        total = float((centred**2).sum())
        m = self.fibre_mean(centred) * self.fibre_size.to(centred)[:, None]  # Σ over each fibre, [g, c]
        q = self.quotient.flatten()
        sums = m.new_zeros(self.order).index_add_(0, q, m.flatten())
        weights = self.fibre_size.to(m)[:, None].expand_as(m).flatten()
        counts = m.new_zeros(self.order).index_add_(0, q, weights)
        return float((sums**2 / counts).sum() / total) if total > 0 else math.nan

    def character_products(self, logits: Tensor) -> tuple[Tensor, Tensor]:
        """``(⟨L, X_ρ⟩, ‖X_ρ‖²)`` for each irrep ρ, each ``[r]``, where ``X_ρ(a, b, c) = χ_ρ(t(a, b)·c⁻¹)``
        and ``L [n, n, n]`` are logits on every pair (a, b) for every class c."""
        m = self.fibre_mean(logits) * self.fibre_size.to(logits)[:, None]  # Σ over each fibre, [g, c]
        x = self.characters.to(logits)[:, self.quotient]  # [r, g, c]
        inner = (x * m).sum((1, 2))
        norm2 = (x**2 * self.fibre_size.to(logits)[None, :, None]).sum((1, 2))
        return inner, norm2


def cross_entropy(logits: Tensor, targets: Tensor) -> float:
    """Mean cross-entropy ``−log softmax(logits)[target]`` in float64."""
    return float(torch.nn.functional.cross_entropy(logits.double(), targets))


def not_a_group_task(run: Any) -> str | None:
    """Why the Fourier analyses do not read `run` (a :class:`~nerve.training.Run`), or None."""
    if run.config.model.kind == "gpt2":
        return (
            "its model is a Hugging Face GPT-2 (the gpt2 kind), whose embeddings the Fourier views do not "
            "read yet (they read nerve's MLP and one-layer transformer)"
        )
    if getattr(run.task, "group", None) is None:
        return (
            f"it trains {run.config.task.kind!r} ({run.task.name}), which has no group: the Fourier "
            "analyses read group tasks (group composition, a+b or a-b mod p)"
        )
    return None
