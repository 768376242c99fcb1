"""The embed–concat–MLP–unembed network of Chughtai, Chan & Nanda 2023, "A toy model of universality".

Each input position has its own embedding (for a group task, W_a and W_b); the embeddings
are concatenated, go through one ReLU layer, and are unembedded. No biases anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

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

    @property
    def embeddings(self) -> list[Tensor]:
        """Each input's embedding matrix ``[n_vocab, d_embed]``, in input order."""
        return [cast(nn.Embedding, emb).weight for emb in self.embed]

    def forward(self, x: Tensor) -> Tensor:
        """``x [B, n_inputs]`` long tokens -> logits ``[B, n_classes]``."""
        e = torch.cat([emb(x[:, i]) for i, emb in enumerate(self.embed)], dim=-1)  # (B, n_inputs·d_embed)
        return self.unembed(self.act(self.hidden(e)))

    def forward_factored(self, x: Tensor) -> Tensor:
        """The same function as :meth:`forward`, computed as the trainer does.

        Up to the ReLU the network is linear in each input's one-hot token, so the first layer
        is applied once per vocabulary entry and gathered: ``W_h [W_a a; W_b b] = (W_h^a W_a)[a]
        + (W_h^b W_b)[b]``. For a full batch much larger than the vocabulary (5,760 pairs of
        S5 against 120 tokens) a training step runs about twice as fast (benchmarks/RESULTS.md).
        Equal to :meth:`forward` up to float rounding; the submodules' forward hooks do not fire
        (no ``embed.i`` or ``hidden`` activations exist on this path), so analyses use
        :meth:`forward`.

        >>> model = MLP(MLPConfig(n_vocab=7, n_classes=7), seed=0)
        >>> x = torch.tensor([[1, 2], [3, 4], [6, 6]])
        >>> torch.allclose(model.forward_factored(x), model(x), atol=1e-6)
        True
        """
        d = self.config.d_embed
        W = self.hidden.weight  # [d_hidden, n_inputs·d_embed]
        # index_select, not t[x]: the backward of advanced indexing accumulates with atomic adds
        # across threads on the CPU (index_put_(accumulate=True)), so its gradients change in the
        # last bits from one call to the next; index_select's backward (index_add_) sums in order.
        h = sum(
            (E @ W[:, i * d : (i + 1) * d].T).index_select(0, x[:, i])  # (V, d_hid) -> (B, d_hid)
            for i, E in enumerate(self.embeddings)
        )
        return self.unembed(self.act(h))
