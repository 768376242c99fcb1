"""What the analyses read from a model of a pair task, whatever its architecture.

An analysis of a network trained on ``(a, b) ↦ a ∘ b`` needs five things: the input
embeddings (one matrix per input position, rows indexed by token), the unembedding (rows
indexed by class), the hidden neurons and the logits on every pair, and the embedding
vectors fed to the rest of the network, to take gradients with respect to them. A
:class:`ModelView` gives these for nerve's :class:`~nerve.models.MLP` and
:class:`~nerve.models.Transformer` and for a TransformerLens ``HookedTransformer`` (releases
below 4, tested with 3.9; 4.x replaced it with ``TransformerBridge``, which is not supported).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from nerve.errors import AnalysisError
from nerve.models import MLP, Transformer

__all__ = ["ModelView", "view"]


@dataclass(frozen=True, eq=False)
class ModelView:
    """A model of a pair task read the same way whatever its architecture.

    **Attributes:**

    - `model`: the module.
    - `embeddings`: name → ``[n_vocab, d]``, the embedding of each input position (a model
      with one shared embedding, like Nanda et al.'s transformer, has one entry, ``"W_E"``).
    - `unembedding`: ``[n_classes, d]``, row c the direction read out for class c (``W_Uᵀ``).
    - `neuron_site`: module path of the hidden neurons (post-activation).
    - `embed_sites`: module path and position index of the embedding fed for each input.
    - `tokens`: maps pairs ``[B, 2]`` to the model's input.
    - `read_logits`: maps the model's output to ``[B, n_classes]``.
    - `read_neurons`: maps the neuron site's output to ``[B, d_hidden]``.
    """

    model: nn.Module
    embeddings: dict[str, Tensor]
    unembedding: Tensor
    neuron_site: str
    embed_sites: tuple[tuple[str, int | None], ...]
    tokens: Callable[[Tensor], Tensor]
    read_logits: Callable[[Tensor], Tensor]
    read_neurons: Callable[[Tensor], Tensor]

    def _module(self, path: str) -> nn.Module:
        try:
            return self.model.get_submodule(path)
        except AttributeError:
            raise AnalysisError(f"the model has no submodule {path!r}.") from None

    @contextlib.contextmanager
    def _capture(self, paths: list[str], *, keep_graph: bool = False) -> Iterator[dict[str, Tensor]]:
        """Record the output of each module in `paths`; the hooks are removed on any exit."""
        seen: dict[str, Tensor] = {}
        handles = []

        def hook(path: str):
            def record(_module: nn.Module, _inputs: tuple, output: Tensor) -> Tensor | None:
                if keep_graph and not output.requires_grad:  # frozen weights: make it a leaf
                    output = output.detach().requires_grad_()
                    seen[path] = output
                    return output
                seen[path] = output if keep_graph else output.detach()
                return None

            return record

        try:
            for path in paths:
                handles.append(self._module(path).register_forward_hook(hook(path)))
            yield seen
        finally:
            for handle in handles:
                handle.remove()

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters(), torch.empty(0)).device

    @torch.no_grad()
    def run(self, pairs: Tensor, *, batch_size: int = 4096) -> tuple[Tensor, Tensor]:
        """``(logits [B, n_classes], neurons [B, d_hidden])`` on `pairs` ``[B, 2]``, in float64 on
        the CPU; the forward passes run on the model's device, `batch_size` pairs at a time."""
        logits, neurons = [], []
        with self._capture([self.neuron_site]) as seen:
            for chunk in pairs.split(batch_size):
                out = self.model(self.tokens(chunk.to(self.device)))
                logits.append(self.read_logits(out).double().cpu())
                neurons.append(self.read_neurons(seen[self.neuron_site]).double().cpu())
        return torch.cat(logits), torch.cat(neurons)

    def embedding_gradients(self, pairs: Tensor, classes: Tensor) -> tuple[Tensor, Tensor]:
        """``∂Q/∂E_a`` and ``∂Q/∂E_b``, each ``[B, d]``: gradients of the logit ``Q`` of class
        ``classes[i]`` on pair ``pairs[i]`` with respect to the embedding vector of each input.

        Each example's logit depends only on its own embeddings, so one backward pass of the
        summed logits gives every example's gradients at once. The model's own ``.grad`` are
        left untouched.
        """
        paths = list(dict.fromkeys(path for path, _ in self.embed_sites))
        with torch.enable_grad(), self._capture(paths, keep_graph=True) as seen:
            out = self.read_logits(self.model(self.tokens(pairs.to(self.device))))
            objective = out.gather(1, classes.to(self.device)[:, None]).sum()
            by_path = dict(zip(paths, torch.autograd.grad(objective, [seen[path] for path in paths])))
        grads = []
        for path, position in self.embed_sites:
            g = by_path[path]
            grads.append((g if position is None else g[:, position]).double().cpu())
        return grads[0], grads[1]


def view(model: nn.Module, *, n_vocab: int | None = None) -> ModelView:
    """The :class:`ModelView` of `model`: nerve's MLP or Transformer, or a TransformerLens
    ``HookedTransformer`` (1.x–3.x) whose inputs are ``[a, b, '=']`` with '=' the token
    `n_vocab` (the same layout as nerve's transformer), read at the last position.

    **Arguments:**

    - `model`: the trained network.
    - `n_vocab`: the number of input tokens of the task; needed only for a HookedTransformer.
    """
    if isinstance(model, MLP):
        return _mlp_view(model)
    if isinstance(model, Transformer):
        return _transformer_view(model)
    if type(model).__name__ == "HookedTransformer" and hasattr(model, "W_E"):
        return _hooked_transformer_view(model, n_vocab)
    raise AnalysisError(
        f"`model` (a {type(model).__name__}) is not one nerve can read: give nerve's MLP or "
        "Transformer, or a TransformerLens HookedTransformer (transformer-lens < 4)."
    )


def _mlp_view(model: MLP) -> ModelView:
    c = model.config
    if c.n_inputs != 2:
        raise AnalysisError(
            f"the MLP has `n_inputs` (={c.n_inputs}); the analyses read pair tasks, n_inputs=2."
        )
    W = {f"W_{'ab'[i]}": model.embeddings[i].detach() for i in range(2)}
    return ModelView(
        model=model,
        embeddings=W,
        unembedding=model.unembed.weight.detach(),  # nn.Linear stores W_Uᵀ: [n_classes, d_hidden]
        neuron_site="act",
        embed_sites=(("embed.0", None), ("embed.1", None)),
        tokens=lambda pairs: pairs,
        read_logits=lambda out: out,
        read_neurons=lambda act: act,
    )


def _transformer_view(model: Transformer) -> ModelView:
    c = model.config
    if c.n_inputs != 2:
        raise AnalysisError(
            f"the Transformer has `n_inputs` (={c.n_inputs}); the analyses read pair tasks, n_inputs=2."
        )
    return ModelView(
        model=model,
        embeddings={"W_E": model.embed.weight.detach()[: c.n_vocab]},
        unembedding=model.unembed.weight.detach(),
        neuron_site="mlp.act",
        embed_sites=(("embed", 0), ("embed", 1)),
        tokens=lambda pairs: pairs,
        read_logits=lambda out: out,
        read_neurons=lambda act: act[:, -1],
    )


def _hooked_transformer_view(model: Any, n_vocab: int | None) -> ModelView:  # transformer_lens: untyped
    if n_vocab is None:
        raise AnalysisError(
            "`n_vocab` (=None) must be given for a HookedTransformer: the task's input tokens."
        )
    if model.cfg.n_layers != 1:
        raise AnalysisError(
            f"the HookedTransformer has {model.cfg.n_layers} layers; the analyses read one-layer models."
        )
    n_classes = model.cfg.d_vocab_out

    def tokens(pairs: Tensor) -> Tensor:
        return torch.cat([pairs, torch.full_like(pairs[:, :1], n_vocab)], dim=1)

    return ModelView(
        model=model,
        embeddings={"W_E": model.W_E.detach()[:n_vocab]},
        unembedding=model.W_U.detach().T[:n_classes],
        neuron_site="blocks.0.mlp.hook_post",
        embed_sites=(("embed", 0), ("embed", 1)),
        tokens=tokens,
        read_logits=lambda out: out[:, -1],
        read_neurons=lambda act: act[:, -1],
    )
