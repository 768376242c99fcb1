"""Rigorous bounds on the logits of nerve's models, sound for the real-number network defined by
the stored weights: the models' own forward, exported and run by the interval interpreter
(:mod:`nerve.proofs.interpreter`), the one way nerve bounds a network.

With point inputs (token indices) the intervals hold only the rounding error of float64, a few
ulps wide: the exhaustive prover. With a box of embeddings they are interval bound propagation:
the same forward with its embeddings replaced by the box (a hook on the model's own site).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from nerve.errors import AnalysisError
from nerve.models import MLP, Transformer
from nerve.proofs.interpreter import IntervalProgram
from nerve.proofs.intervals import Interval

__all__ = ["embed", "logit_bounds", "logits_from_embeddings"]


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


class _FromEmbeddings(nn.Module):
    """`model`'s own forward with its embeddings (as :func:`embed` returns them) replaced by the
    input: the MLP's hidden layer reads it, the transformer's residual stream starts from it."""

    def __init__(self, model: MLP | Transformer) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        m = self.model
        tokens = torch.zeros(x.shape[0], m.config.n_inputs, dtype=torch.long, device=x.device)
        if isinstance(m, MLP):
            handle = m.hidden.register_forward_pre_hook(lambda module, args: (x,))
        else:
            handle = m.hook_resid_pre.register_forward_hook(lambda module, args, out: x)
        try:
            return m(tokens)
        finally:
            handle.remove()


def logits_from_embeddings(model: nn.Module, x: Interval) -> Interval:
    """Logit intervals ``[B, n_classes]`` for every embedding in the box `x` (shaped as
    :func:`embed` returns)."""
    return IntervalProgram(_FromEmbeddings(_checked(model)))(x)


def logit_bounds(
    model: nn.Module, tokens: Tensor, *, radius: float = 0.0, batch_size: int = 1024
) -> Interval:
    """Logit intervals of the real-number network on each input of `tokens` ``[N, n_inputs]``, in
    batches: float64 with every rounding accounted for; with `radius` > 0, over every embedding
    within L∞ distance `radius` of each input's."""
    model = _checked(model)
    program = IntervalProgram(model if radius == 0 else _FromEmbeddings(model))
    batches = tokens.split(batch_size)
    if radius == 0:
        return Interval.cat([program(batch) for batch in batches])
    return Interval.cat([program(embed(model, batch).widen(radius)) for batch in batches])
