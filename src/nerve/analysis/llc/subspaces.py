"""Subspaces of a group-task model's weights to refine its LLC by (``LLCEstimator(subspace=...)``):
the Fourier components of one irrep.

A function on G (a column of an embedding indexed by group elements, or of the unembedding indexed
by classes) splits into its irreps' parts: the span of the matrix coefficients ``g ↦ ρ(g)_ij`` of
each real irrep ρ, orthogonal across irreps, together the whole space (Peter–Weyl). The LLC of the
weights restricted to ``w* + (ρ's part of every column)`` says how much of the model's
complexity at w* lives in that irrep. Wang et al. 2024 refine the LLC by weights and by data;
this refines it by representation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from nerve.errors import AnalysisError
from nerve.models import MLP, Transformer

__all__ = ["irrep_basis", "irrep_subspace"]


def irrep_basis(group: Any, irrep: int | str) -> Tensor:
    """An orthonormal basis ``[|G|, r]`` (float64) of the functions on G spanned by the matrix
    coefficients of the real irrep `irrep` (its index in ``group.irreps()`` or its label): r = d²
    for an irrep of real type, fewer for complex and quaternionic ones (their coefficients are
    linearly dependent over the reals).

    >>> from nerve.groups import parse_group
    >>> G = parse_group("S3")
    >>> [(r.label, irrep_basis(G, r.label).shape[1]) for r in G.irreps()]   # 1 + 4 + 1 = |S3|
    [('[3]', 1), ('[2,1]', 4), ('[1,1,1]', 1)]
    """
    irreps = group.irreps()
    labels = [r.label for r in irreps]
    if isinstance(irrep, str):
        if irrep not in labels:
            raise AnalysisError(f"`irrep` (={irrep!r}) must be one of {group.name}'s irreps {labels}.")
        irrep = labels.index(irrep)
    if isinstance(irrep, bool) or not isinstance(irrep, int) or not 0 <= irrep < len(irreps):
        raise AnalysisError(f"`irrep` (={irrep!r}) must be an index from 0 to {len(irreps) - 1} or a label.")
    rho = irreps[irrep]
    coefficients = rho.matrices.double().reshape(group.order, -1)
    U, s, _ = torch.linalg.svd(coefficients, full_matrices=False)
    return U[:, s > 1e-8 * s.max()]


def irrep_subspace(model: nn.Module, group: Any, irrep: int | str | Sequence[int | str]) -> dict[str, Tensor]:
    """``{parameter name: Q}`` for :class:`~nerve.analysis.LLCEstimator`'s `subspace`: irrep ρ's part
    of every column of the embeddings and of the unembedding of nerve's MLP or transformer on a
    task over `group` (the transformer's '=' token's row stays fixed). Given several irreps, the
    sum of their parts (for instance every irrep but the key ones: the complement).

    >>> from nerve.groups import parse_group
    >>> from nerve.models import MLP, MLPConfig
    >>> model = MLP(MLPConfig(n_vocab=6, n_classes=6, d_embed=8, d_hidden=16))
    >>> {k: tuple(Q.shape) for k, Q in irrep_subspace(model, parse_group("S3"), "[2,1]").items()}
    {'embed.0.weight': (6, 4), 'embed.1.weight': (6, 4), 'unembed.weight': (6, 4)}
    >>> irrep_subspace(model, parse_group("S3"), ["[3]", "[1,1,1]"])["unembed.weight"].shape
    torch.Size([6, 2])
    """
    several = irrep if isinstance(irrep, Sequence) and not isinstance(irrep, str) else [irrep]
    if not several:
        raise AnalysisError(f"`irrep` (={irrep!r}) must name at least one irrep.")
    Q = torch.cat([irrep_basis(group, x) for x in several], dim=1)  # orthogonal across irreps
    if not isinstance(model, MLP | Transformer):
        raise AnalysisError(f"`model` (a {type(model).__name__}) must be nerve's MLP or Transformer.")
    vocab, classes = model.config.n_vocab, model.config.n_classes
    if vocab != group.order or classes != group.order:
        raise AnalysisError(
            f"`model` has {vocab} tokens and {classes} classes; {group.name} has {group.order} elements."
        )
    if isinstance(model, MLP):
        names = [f"embed.{i}.weight" for i in range(model.config.n_inputs)] + ["unembed.weight"]
        return {name: Q.clone() for name in names}
    padded = torch.cat([Q, torch.zeros(1, Q.shape[1], dtype=Q.dtype)])  # the '=' token's row stays
    return {"embed.weight": padded, "unembed.weight": Q.clone()}
