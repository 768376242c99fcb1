"""A small convolutional network for small images (the 8×8 handwritten digits): two 3×3
convolutions, an average pool, one hidden layer and the logits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import torch
from torch import Tensor, nn

__all__ = ["CNN", "CNNConfig"]


@dataclass(frozen=True)
class CNNConfig:
    """Sizes of :class:`CNN`: `channels` in the first convolution (twice that in the second),
    `d_hidden` units in the hidden layer, square images of side `image` with `in_channels`."""

    n_classes: int = 10
    channels: int = 16
    d_hidden: int = 64
    image: int = 8
    in_channels: int = 1


class CNN(nn.Module):
    """``logits = W_U ReLU(W_h pool(ReLU(conv₂ ReLU(conv₁ x))))``, 3×3 convolutions padded to keep
    the image size, a 2×2 average pool.

    Activation sites: ``conv1``, ``conv2`` (pre-activation maps), ``act1``, ``act2`` (post-ReLU),
    ``pool`` (``[B, 2c, image/2, image/2]``), ``hidden``, ``act`` (the hidden units, post-ReLU) and
    ``unembed`` (logits).

    >>> model = CNN(CNNConfig(), seed=0)
    >>> model(torch.zeros(2, 1, 8, 8)).shape
    torch.Size([2, 10])
    """

    def __init__(self, config: CNNConfig, *, seed: int = 0) -> None:
        super().__init__()
        self.config = c = config
        gen = torch.Generator().manual_seed(seed)
        self.conv1 = nn.Conv2d(c.in_channels, c.channels, 3, padding=1)
        self.act1 = nn.ReLU()
        self.conv2 = nn.Conv2d(c.channels, 2 * c.channels, 3, padding=1)
        self.act2 = nn.ReLU()
        self.pool = nn.AvgPool2d(2)
        self.hidden = nn.Linear(2 * c.channels * (c.image // 2) ** 2, c.d_hidden)
        self.act = nn.ReLU()
        self.unembed = nn.Linear(c.d_hidden, c.n_classes)
        for module in (self.conv1, self.conv2, self.hidden, self.unembed):
            fan_in = module.weight[0].numel()
            bound = 1 / fan_in**0.5  # PyTorch's default uniform initialisation, from `seed`
            with torch.no_grad():
                module.weight.uniform_(-bound, bound, generator=gen)
                cast(Tensor, module.bias).uniform_(-bound, bound, generator=gen)

    def forward(self, x: Tensor) -> Tensor:
        x = self.act2(self.conv2(self.act1(self.conv1(x))))
        x = self.pool(x).flatten(1)
        return self.unembed(self.act(self.hidden(x)))
