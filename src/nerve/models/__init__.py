"""Small PyTorch models with named activation sites, one file each.

>>> from nerve.models import MLP, MLPConfig
>>> [name for name, _ in MLP(MLPConfig(n_vocab=3, n_classes=3)).named_modules()][1:]
['embed', 'embed.0', 'embed.1', 'hidden', 'act', 'unembed']
"""

from nerve.models.cnn import CNN, CNNConfig
from nerve.models.gpt2 import GPT2Task, GPT2TaskConfig
from nerve.models.lie_mlp import LieMLP, LieMLPConfig
from nerve.models.mlp import MLP, MLPConfig
from nerve.models.superposition import SuperpositionConfig, SuperpositionModel
from nerve.models.transformer import Transformer, TransformerConfig

__all__ = [
    "CNN",
    "MLP",
    "CNNConfig",
    "GPT2Task",
    "GPT2TaskConfig",
    "LieMLP",
    "LieMLPConfig",
    "MLPConfig",
    "SuperpositionConfig",
    "SuperpositionModel",
    "Transformer",
    "TransformerConfig",
]
