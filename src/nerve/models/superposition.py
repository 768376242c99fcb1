"""The model of Toy Models of Superposition (Elhage et al. 2022): ``x' = ReLU(Wᵀ W x + b)``."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from nerve.models._init import init_normal

__all__ = ["SuperpositionConfig", "SuperpositionModel"]


@dataclass(frozen=True)
class SuperpositionConfig:
    n_features: int
    n_hidden: int


class SuperpositionModel(nn.Module):
    """n features squeezed into ``n_hidden`` dimensions and read back: sites ``hidden``
    (``h = W x``, ``[B, n_hidden]``) and ``act`` (the reconstruction, ``[B, n_features]``).

    >>> model = SuperpositionModel(SuperpositionConfig(n_features=5, n_hidden=2), seed=0)
    >>> model.W.shape, model(torch.rand(3, 5)).shape
    (torch.Size([2, 5]), torch.Size([3, 5]))
    """

    def __init__(self, config: SuperpositionConfig, *, seed: int = 0) -> None:
        super().__init__()
        self.config = config
        self.W = nn.Parameter(torch.empty(config.n_hidden, config.n_features))
        self.b = nn.Parameter(torch.empty(config.n_features))
        self.hidden = nn.Identity()
        self.act = nn.ReLU()
        # Xavier-normal W as in Elhage et al.; b starts at 0
        std = (2.0 / (config.n_hidden + config.n_features)) ** 0.5
        init_normal(self, seed=seed, std={"W": std, "b": 0.0})

    def forward(self, x: Tensor) -> Tensor:
        h = self.hidden(x @ self.W.T)  # (B, n_features) x (n_features, n_hidden) -> (B, n_hidden)
        return self.act(h @ self.W + self.b)
