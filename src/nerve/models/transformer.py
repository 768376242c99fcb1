"""The one-layer transformer of Nanda et al. 2023, "Progress measures for grokking via
mechanistic interpretability": no LayerNorm, untied embed and unembed, learned positions,
a ReLU MLP, read at the last position (the '=' token).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from nerve.models._init import init_normal

__all__ = ["Transformer", "TransformerConfig"]


@dataclass(frozen=True)
class TransformerConfig:
    """Sizes of :class:`Transformer`; the defaults are Nanda et al.'s (d_model 128, 4 heads of
    32, d_mlp 512). Inputs are ``n_inputs`` tokens below `n_vocab`, followed by an '=' token
    (index `n_vocab`), so the embedding has ``n_vocab + 1`` rows."""

    n_vocab: int
    n_classes: int
    n_inputs: int = 2
    d_model: int = 128
    n_heads: int = 4
    d_head: int = 32
    d_mlp: int = 512


class Attention(nn.Module):
    """Causal multi-head attention without biases; sites ``hook_pattern`` ``[B, h, T, T]`` and
    ``hook_z`` ``[B, T, h, d_head]``."""

    def __init__(self, c: TransformerConfig) -> None:
        super().__init__()
        self.n_heads, self.d_head = c.n_heads, c.d_head
        self.W_Q = nn.Linear(c.d_model, c.n_heads * c.d_head, bias=False)
        self.W_K = nn.Linear(c.d_model, c.n_heads * c.d_head, bias=False)
        self.W_V = nn.Linear(c.d_model, c.n_heads * c.d_head, bias=False)
        self.W_O = nn.Linear(c.n_heads * c.d_head, c.d_model, bias=False)
        self.hook_pattern = nn.Identity()
        self.hook_z = nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        B, T, _ = x.shape
        q, k, v = (
            W(x).view(B, T, self.n_heads, self.d_head).transpose(1, 2) for W in (self.W_Q, self.W_K, self.W_V)
        )
        scores = (
            q @ k.transpose(-1, -2) / math.sqrt(self.d_head)
        )  # (B, h, T, d) x (B, h, d, T) -> (B, h, T, T)
        causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        pattern = self.hook_pattern(scores.masked_fill(~causal, float("-inf")).softmax(-1))
        z = self.hook_z((pattern @ v).transpose(1, 2))  # (B, h, T, T) x (B, h, T, d) -> (B, T, h, d)
        return self.W_O(z.reshape(B, T, -1))


class MLPBlock(nn.Module):
    """``W_out ReLU(W_in x + b_in) + b_out``; sites ``hidden``, ``act`` (the neurons), ``out``."""

    def __init__(self, c: TransformerConfig) -> None:
        super().__init__()
        self.hidden = nn.Linear(c.d_model, c.d_mlp)
        self.act = nn.ReLU()
        self.out = nn.Linear(c.d_mlp, c.d_model)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.act(self.hidden(x)))


class Transformer(nn.Module):
    """One attention layer and one MLP on the residual stream; logits at the last position.

    Sites: ``embed``, ``pos_embed``, ``hook_resid_pre``, ``attn`` (with ``attn.hook_pattern``,
    ``attn.hook_z``), ``hook_resid_mid``, ``mlp`` (``mlp.hidden``, ``mlp.act``, ``mlp.out``),
    ``hook_resid_post`` and ``unembed``.

    >>> config = TransformerConfig(n_vocab=7, n_classes=7, d_model=16, n_heads=2, d_head=8, d_mlp=32)
    >>> Transformer(config)(torch.tensor([[1, 2], [3, 4]])).shape
    torch.Size([2, 7])
    """

    def __init__(self, config: TransformerConfig, *, seed: int = 0) -> None:
        super().__init__()
        self.config = c = config
        n_ctx = c.n_inputs + 1
        self.embed = nn.Embedding(c.n_vocab + 1, c.d_model)
        self.pos_embed = nn.Embedding(n_ctx, c.d_model)
        self.hook_resid_pre = nn.Identity()
        self.attn = Attention(c)
        self.hook_resid_mid = nn.Identity()
        self.mlp = MLPBlock(c)
        self.hook_resid_post = nn.Identity()
        self.unembed = nn.Linear(c.d_model, c.n_classes, bias=False)
        # Nanda et al.: every weight N(0, 1/d_model), the unembedding N(0, 1/d_vocab)
        std = {name: c.d_model**-0.5 for name, _ in self.named_parameters()}
        std["unembed.weight"] = (c.n_vocab + 1) ** -0.5
        init_normal(self, seed=seed, std=std)
        self.register_buffer("positions", torch.arange(n_ctx), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        """``x [B, n_inputs]`` long tokens -> logits ``[B, n_classes]`` read at '='."""
        equals = torch.full_like(x[:, :1], self.config.n_vocab)
        tokens = torch.cat([x, equals], dim=1)  # (B, T)
        resid = self.hook_resid_pre(self.embed(tokens) + self.pos_embed(self.positions))  # (B, T, d_model)
        resid = self.hook_resid_mid(resid + self.attn(resid))
        resid = self.hook_resid_post(resid + self.mlp(resid))
        return self.unembed(resid[:, -1])
