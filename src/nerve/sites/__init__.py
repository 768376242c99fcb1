"""Activation sites on any ``nn.Module``: named by module path, read over a dataset in batches
with bounded memory, and streamed to an on-disk store that analyses read lazily; Hugging Face
causal LMs loaded from safetensors, their decoder blocks found, chosen words' activations read.

>>> import torch
>>> from torch import nn
>>> from nerve.sites import read_sites
>>> model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
>>> acts = read_sites(model, torch.ones(5, 3), ["0", "1", "2:input"])
>>> {k: tuple(v.shape) for k, v in acts.items()}
{'0': (5, 4), '1': (5, 4), '2:input': (5, 4)}
>>> torch.equal(acts["1"], acts["2:input"])
True
"""

from nerve.sites._capture import Site, read_sites, resolve_sites
from nerve.sites._hf import decoder_layers, load_pretrained, token_activations
from nerve.sites._store import ActivationStore, write_activations

__all__ = [
    "ActivationStore",
    "Site",
    "decoder_layers",
    "load_pretrained",
    "read_sites",
    "resolve_sites",
    "token_activations",
    "write_activations",
]
