"""The data of Toy Models of Superposition (Elhage et al. 2022): sparse features with importances."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from nerve.tasks._base import TaskError

__all__ = ["SuperpositionData"]


@dataclass(frozen=True)
class SuperpositionData:
    """Features ``x_i`` that are 0 with probability `sparsity` and else uniform on [0, 1],
    independently; feature i has importance ``importance_decay^i``.

    The loss of a reconstruction x' is ``Σ_i I_i (x_i − x'_i)²``, averaged over the batch.
    """

    n_features: int
    sparsity: float
    importance_decay: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.n_features, int) or self.n_features < 1:
            raise TaskError(f"`n_features` (={self.n_features!r}) must be a positive integer.")
        if not 0.0 <= self.sparsity < 1.0:
            raise TaskError(f"`sparsity` (={self.sparsity}) must be in [0, 1).")
        if not 0.0 < self.importance_decay <= 1.0:
            raise TaskError(f"`importance_decay` (={self.importance_decay}) must be in (0, 1].")

    @property
    def name(self) -> str:
        return f"superposition of {self.n_features} features, sparsity {self.sparsity}"

    @property
    def importance(self) -> Tensor:
        """``[n_features]``: I_i = decay^i."""
        return self.importance_decay ** torch.arange(self.n_features, dtype=torch.float32)

    def sample(self, batch: int, *, generator: torch.Generator) -> Tensor:
        """``[batch, n_features]`` fresh examples.

        >>> data = SuperpositionData(5, sparsity=0.9)
        >>> x = data.sample(1000, generator=torch.Generator().manual_seed(0))
        >>> x.shape, bool((x == 0).float().mean() > 0.85)
        (torch.Size([1000, 5]), True)
        """
        values = torch.rand(batch, self.n_features, generator=generator)
        present = torch.rand(batch, self.n_features, generator=generator) >= self.sparsity
        return values * present

    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        """Importance-weighted squared error, ``mean_batch Σ_i I_i (x_i − x'_i)²``."""
        return ((output - target) ** 2 * self.importance.to(output)).sum(-1).mean()
