"""The embed–concat–MLP–unembed network of :mod:`nerve.models.mlp` for inputs that are matrices
of a compact group: each input's defining matrix, flattened, is embedded linearly."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

__all__ = ["LieMLP", "LieMLPConfig"]


@dataclass(frozen=True)
class LieMLPConfig:
    """Sizes of :class:`LieMLP`: `n_in` numbers per input (n² for n×n matrices), `n_out` outputs."""

    n_in: int
    n_out: int
    n_inputs: int = 2
    d_embed: int = 64
    d_hidden: int = 128


class LieMLP(nn.Module):
    """``out = W_U ReLU(W_h [W_a vec(g₁) ; W_b vec(g₂)])``, no biases (so the network is odd in no
    input and every frequency it uses comes from its one nonlinearity).

    Activation sites: ``embed.0``, ``embed.1``, ``hidden`` (pre-activation), ``act`` (the neurons)
    and ``unembed`` (the output).

    >>> model = LieMLP(LieMLPConfig(n_in=4, n_out=4), seed=0)
    >>> model(torch.zeros(3, 2, 4)).shape
    torch.Size([3, 4])
    """

    def __init__(self, config: LieMLPConfig, *, seed: int = 0) -> None:
        super().__init__()
        self.config = c = config
        gen = torch.Generator().manual_seed(seed)
        self.embed = nn.ModuleList(nn.Linear(c.n_in, c.d_embed, bias=False) for _ in range(c.n_inputs))
        self.hidden = nn.Linear(c.n_inputs * c.d_embed, c.d_hidden, bias=False)
        self.act = nn.ReLU()
        self.unembed = nn.Linear(c.d_hidden, c.n_out, bias=False)
        with torch.no_grad():
            for module in (*self.embed, self.hidden, self.unembed):
                bound = 1 / module.weight.shape[1] ** 0.5  # PyTorch's default uniform, from `seed`
                module.weight.uniform_(-bound, bound, generator=gen)

    def forward(self, x: Tensor) -> Tensor:
        parts = [embed(x[:, i]) for i, embed in enumerate(self.embed)]  # n_inputs × [B, d_embed]
        return self.unembed(self.act(self.hidden(torch.cat(parts, -1))))
