"""Hugging Face causal language models as sources of activations.

- :func:`load_pretrained`: a thin path from a checkpoint you have (a local folder or a Hub name
  already in the cache) to ``(model, tokenizer)``, in eval mode. Weights are read from
  safetensors only and no remote code runs: nothing pickled is unpickled.
- :func:`decoder_layers`: the module paths of a model's decoder blocks (``transformer.h.i`` for
  GPT-2, ``model.layers.i`` for Llama, Mistral, Qwen ...), whose outputs are the residual stream.
- :func:`token_activations`: the activation at the last token of each chosen word in each of
  a few contexts (Engels et al. 2024 read days, months and numbers this way), batched, one
  forward pass per batch, stopped after the site.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from nerve.errors import AnalysisError, NerveError
from nerve.sites._capture import read_sites, resolve_sites

__all__ = ["decoder_layers", "load_pretrained", "token_activations"]


def _transformers():
    try:
        import transformers
    except ImportError:
        raise NerveError("Hugging Face models need transformers: pip install 'nerve[hf]'.") from None
    return transformers


def load_pretrained(
    name_or_path: str | os.PathLike,
    *,
    device: str | torch.device = "cpu",
    dtype: torch.dtype | None = None,
    revision: str | None = None,
    local_files_only: bool = True,
) -> tuple[nn.Module, Any]:
    """``(model, tokenizer)`` of a causal LM checkpoint, the model in eval mode on `device`.

    `name_or_path` is a folder written by ``save_pretrained`` or a Hub name. By default nothing
    is downloaded (``local_files_only``): a Hub name must already be in the local cache; pass
    ``local_files_only=False`` to fetch it. The weights must be safetensors: a checkpoint that
    has only pickled ``.bin`` weights is refused, and no code from the checkpoint is run.
    """
    transformers = _transformers()
    where = str(name_or_path)
    kwargs: dict[str, Any] = {"revision": revision, "local_files_only": local_files_only}
    # transformers 4.56 renamed torch_dtype to dtype
    dtype_kw = (
        "torch_dtype" if tuple(int(x) for x in transformers.__version__.split(".")[:2]) < (4, 56) else "dtype"
    )
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(where, trust_remote_code=False, **kwargs)
        model = transformers.AutoModelForCausalLM.from_pretrained(
            where, use_safetensors=True, trust_remote_code=False, **{dtype_kw: dtype}, **kwargs
        )
    except (OSError, ValueError) as e:
        raise NerveError(
            f"`name_or_path` (={where!r}) could not be loaded as a causal LM with safetensors weights "
            f"(nerve never unpickles .bin weights or runs a checkpoint's code; "
            f"local_files_only={local_files_only}): {e}"
        ) from e
    return model.to(device).eval(), tokenizer


def decoder_layers(model: nn.Module) -> list[str]:
    """The module paths of `model`'s decoder blocks, first to last: the longest ``ModuleList``
    whose length is the config's number of layers (the first such, by module order).

    >>> from torch import nn
    >>> class Toy(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.blocks = nn.ModuleList(nn.Linear(2, 2) for _ in range(3))
    >>> decoder_layers(Toy())
    ['blocks.0', 'blocks.1', 'blocks.2']
    """
    config = getattr(model, "config", None)
    n = getattr(config, "num_hidden_layers", None) or getattr(config, "n_layer", None)
    lists = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.ModuleList) and len(m)]
    if n is not None:
        lists = [(name, m) for name, m in lists if len(m) == n]
    if not lists:
        raise AnalysisError(
            f"`model` ({type(model).__name__}) has no ModuleList of {n if n is not None else 'any'} blocks; "
            "name its sites by module path instead."
        )
    name, blocks = max(lists, key=lambda nm: len(nm[1]))
    return [f"{name}.{i}" for i in range(len(blocks))]


def token_activations(
    model: nn.Module,
    tokenizer: Any,
    words: Sequence[str],
    site: str,
    *,
    templates: Sequence[str] = ("{}",),
    batch_size: int = 64,
    device: str | torch.device | None = None,
) -> Tensor:
    """``[len(words), len(templates), d]``: the activation at `site` of the last token of each
    word, written into each template (``"Let's meet on {}"``), float32 on the CPU.

    Each context is the template's text up to and including the word (what follows cannot
    change a causal model's activations there). Contexts are right-padded into batches with an
    attention mask, which leaves a causal model's earlier positions as they are alone. `device`:
    where the inputs go (default: the model's). A word of several tokens is read at its last
    token; a tokenizer that appends an end-of-text token to every text is not supported.
    """
    if not words:
        raise AnalysisError("`words` is empty: name the tokens to read.")
    bad = [t for t in templates if t.count("{}") != 1]
    if not templates or bad:
        raise AnalysisError(f"`templates` ({list(templates)!r}) must each hold one '{{}}' for the word.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise AnalysisError(f"`batch_size` (={batch_size!r}) must be an integer >= 1.")
    resolve_sites(model, [site])  # a bad site fails before any forward pass
    if device is None:
        device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if pad is None:
        pad = 0  # masked out: any id will do
    contexts = [t[: t.index("{}")] + w for w in words for t in templates]
    ids = [tokenizer(text, add_special_tokens=True)["input_ids"] for text in contexts]
    empty = [contexts[i] for i, x in enumerate(ids) if not x]
    if empty:
        raise AnalysisError(f"the tokenizer gives no tokens for {empty!r}.")
    rows: list[Tensor] = []
    for start in range(0, len(ids), batch_size):
        chunk = ids[start : start + batch_size]
        width = max(len(x) for x in chunk)
        input_ids = torch.tensor([x + [pad] * (width - len(x)) for x in chunk], device=device)
        mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in chunk], device=device)
        last = torch.tensor([len(x) - 1 for x in chunk], device=device)
        rows_of = torch.arange(len(chunk), device=device)

        def at_last(t: Tensor, rows: Tensor = rows_of, cols: Tensor = last) -> Tensor:
            return t[rows.to(t.device), cols.to(t.device)]

        acts = read_sites(model, input_ids, [site], select=at_last, dtype=torch.float32, attention_mask=mask)[
            site
        ]
        rows.append(acts)
    return torch.cat(rows).reshape(len(words), len(templates), -1)
