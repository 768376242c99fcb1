"""Rigorous bounds on the logits of nerve's models: interval forward passes of the MLP and the
one-layer transformer, sound for the real-number network defined by the stored weights.

With point inputs (token indices) the intervals hold only the rounding error of float64, a few
ulps wide: the exhaustive prover. With a box of embeddings they are interval bound propagation.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from nerve.errors import AnalysisError
from nerve.models import MLP, Transformer
from nerve.proofs.intervals import Interval

__all__ = ["embed", "logit_bounds", "logits_from_embeddings"]

INF = math.inf


def _checked(model: nn.Module) -> MLP | Transformer:
    if not isinstance(model, (MLP, Transformer)):
        raise AnalysisError(
            f"`model` (a {type(model).__name__}) must be a nerve MLP or Transformer: the provers have "
            "interval forward passes for those two."
        )
    return model


def embed(model: nn.Module, tokens: Tensor) -> Interval:
    """The exact embeddings of `tokens` ``[B, n_inputs]``: the MLP's concatenated
    ``[B, n_inputs·d_embed]``, the transformer's residual stream before attention ``[B, T, d_model]``
    (token plus position embeddings, an interval because the sum rounds)."""
    model = _checked(model)
    with torch.no_grad():
        if isinstance(model, MLP):
            return Interval.point(torch.cat([E[tokens[:, i]] for i, E in enumerate(model.embeddings)], -1))
        equals = torch.full_like(tokens[:, :1], model.config.n_vocab)
        full = torch.cat([tokens, equals], 1)
        return Interval.point(model.embed.weight[full]) + Interval.point(model.pos_embed.weight[None])


def logits_from_embeddings(model: nn.Module, x: Interval) -> Interval:
    """Logit intervals ``[B, n_classes]`` for every embedding in the box `x` (shaped as
    :func:`embed` returns)."""
    model = _checked(model)
    with torch.no_grad():
        if isinstance(model, MLP):
            return x.linear(model.hidden.weight).relu().linear(model.unembed.weight)
        return _transformer(model, x)


def logit_bounds(
    model: nn.Module, tokens: Tensor, *, radius: float = 0.0, batch_size: int = 4096
) -> Interval:
    """Logit intervals of the real-number network on each input of `tokens` ``[N, n_inputs]``, in
    batches: float64 with every rounding accounted for; with `radius` > 0, over every embedding
    within L∞ distance `radius` of each input's."""
    parts = [logits_from_embeddings(model, embed(model, tokens[i : i + batch_size]).widen(radius))
             for i in range(0, len(tokens), batch_size)]  # fmt: skip
    return Interval(torch.cat([p.lo for p in parts]), torch.cat([p.hi for p in parts]))


def _transformer(model: Transformer, resid: Interval) -> Interval:
    attn, c = model.attn, model.config
    B, T, _ = resid.shape
    heads = lambda t: t.view(B, T, c.n_heads, c.d_head).transpose(1, 2)  # noqa: E731
    q, k, v = (resid.linear(W.weight).map(heads) for W in (attn.W_Q, attn.W_K, attn.W_V))
    scale = 1 / math.sqrt(c.d_head)  # the real network divides by the exact √d_head
    bounds = (math.nextafter(scale, 0.0), math.nextafter(scale, INF))
    scores = q.matmul(k.map(lambda t: t.transpose(-1, -2))).scale(bounds)
    future = ~torch.ones(T, T, dtype=torch.bool).tril()
    scores = scores.map(lambda t: t.masked_fill(future, -INF))
    z = scores.softmax().matmul(v).map(lambda t: t.transpose(1, 2).reshape(B, T, -1))
    resid = resid + z.linear(attn.W_O.weight)
    mlp = model.mlp
    hidden = resid.linear(mlp.hidden.weight, mlp.hidden.bias).relu()
    resid = resid + hidden.linear(mlp.out.weight, mlp.out.bias)
    return resid.map(lambda t: t[:, -1]).linear(model.unembed.weight)
