"""A Hugging Face GPT-2 (:mod:`transformers`) trained by nerve on a finite task.

The tokens of an input, then an '=' token (id `n_vocab`), go through a ``GPT2LMHeadModel`` whose
vocabulary is the task's tokens plus '='; the logits are those of the next token after '=' over
the whole vocabulary (``n_vocab + 1`` of them, '=' included). The trained model is an ordinary
Hugging Face model (:meth:`GPT2Task.save_pretrained` writes its folder), so a claim about its
argmax, proved on the task's prompts, is a claim about the model any user of transformers loads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from nerve.errors import NerveError

__all__ = ["GPT2Task", "GPT2TaskConfig"]


@dataclass(frozen=True)
class GPT2TaskConfig:
    """Sizes: the task's `n_vocab` tokens and `n_inputs` per example; the GPT-2's `d_model`
    (n_embd), `n_heads`, `d_mlp` (n_inner) and `n_layers`."""

    n_vocab: int
    n_inputs: int = 2
    d_model: int = 64
    n_heads: int = 4
    d_mlp: int = 256
    n_layers: int = 2


class GPT2Task(nn.Module):
    """``x [B, n_inputs]`` tokens -> next-token logits ``[B, n_vocab + 1]`` after '='.

    Dropout is off (the proof reads the deterministic network). Sites are the transformers
    module paths (``lm.transformer.h.0.mlp``, ...).

    >>> model = GPT2Task(GPT2TaskConfig(n_vocab=5, d_model=8, n_heads=2, d_mlp=16, n_layers=1))
    >>> model(torch.tensor([[1, 2], [3, 4]])).shape
    torch.Size([2, 6])
    """

    def __init__(self, config: GPT2TaskConfig, *, seed: int = 0) -> None:
        super().__init__()
        try:
            import transformers
        except ImportError:
            raise NerveError("the 'gpt2' model needs transformers: pip install 'nerve[hf]'.") from None
        self.config = c = config
        hf = transformers.GPT2Config(
            vocab_size=c.n_vocab + 1, n_positions=c.n_inputs + 1, n_embd=c.d_model, n_layer=c.n_layers,
            n_head=c.n_heads, n_inner=c.d_mlp, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
            bos_token_id=None, eos_token_id=None, tie_word_embeddings=False,
        )  # fmt: skip
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)  # transformers initialises from the global generator
            self.lm = transformers.GPT2LMHeadModel(hf)

    def forward(self, x: Tensor) -> Tensor:
        equals = torch.full_like(x[:, :1], self.config.n_vocab)
        return self.lm(input_ids=torch.cat([x, equals], 1), use_cache=False).logits[:, -1]

    def save_pretrained(self, folder: str | Path) -> None:
        """Write the Hugging Face model folder (config.json, model.safetensors)."""
        self.lm.save_pretrained(folder, safe_serialization=True)
