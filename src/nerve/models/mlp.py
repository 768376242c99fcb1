"""The embed–concat–MLP–unembed network of Chughtai, Chan & Nanda 2023, "A toy model of universality".

Each input position has its own embedding (for a group task, W_a and W_b); the embeddings
are concatenated, go through one ReLU layer, and are unembedded. No biases anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from nerve.models._init import init_normal

__all__ = ["MLP", "MLPConfig"]


@dataclass(frozen=True)
class MLPConfig:
    """Sizes of :class:`MLP`; the defaults are Chughtai et al.'s (d_embed 256, d_hidden 128)."""

    n_vocab: int
    n_classes: int
    n_inputs: int = 2
    d_embed: int = 256
    d_hidden: int = 128


class MLP(nn.Module):
    """``logits = W_U ReLU(W_h [W_a a ; W_b b])``.

    Activation sites (forward hooks): ``embed.0``, ``embed.1`` (one per input), ``hidden``
    (pre-activation, ``[B, d_hidden]``), ``act`` (the neurons, post-ReLU) and ``unembed``
    (logits, ``[B, n_classes]``).

    >>> model = MLP(MLPConfig(n_vocab=5, n_classes=5), seed=0)
    >>> model(torch.tensor([[1, 2], [3, 4]])).shape
    torch.Size([2, 5])
    """

    def __init__(self, config: MLPConfig, *, seed: int = 0) -> None:
        super().__init__()
        self.config = config
        c = config
        self.embed = nn.ModuleList(nn.Embedding(c.n_vocab, c.d_embed) for _ in range(c.n_inputs))
        self.hidden = nn.Linear(c.n_inputs * c.d_embed, c.d_hidden, bias=False)
        self.act = nn.ReLU()
        self.unembed = nn.Linear(c.d_hidden, c.n_classes, bias=False)
        # one-hot inputs through a linear map: fan-in is the vocabulary
        init_normal(self, seed=seed, std={f"embed.{i}.weight": c.n_vocab**-0.5 for i in range(c.n_inputs)})

    def forward(self, x: Tensor) -> Tensor:
        """``x [B, n_inputs]`` long tokens -> logits ``[B, n_classes]``."""
        e = torch.cat([emb(x[:, i]) for i, emb in enumerate(self.embed)], dim=-1)  # (B, n_inputs·d_embed)
        return self.unembed(self.act(self.hidden(e)))
