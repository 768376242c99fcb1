"""Seeded initialisation, so that a model's weights are a function of its config and seed."""

from __future__ import annotations

import math

import torch
from torch import nn


@torch.no_grad()
def init_normal(module: nn.Module, *, seed: int, std: dict[str, float] | None = None) -> None:
    """Fill every parameter in registration order from one seeded generator.

    Weights get N(0, s²) with ``s = std[name]`` when given, else ``1/sqrt(fan_in)``; biases get 0.
    """
    gen = torch.Generator().manual_seed(seed)
    std = std or {}
    for name, p in module.named_parameters():
        if name.endswith("bias"):
            p.zero_()
            continue
        fan_in = p.shape[-1] if p.ndim > 1 else p.shape[0]
        s = std.get(name, 1.0 / math.sqrt(fan_in))
        p.copy_(torch.randn(p.shape, generator=gen) * s)
