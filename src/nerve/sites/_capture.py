"""Reading named activation sites out of a forward pass with forward hooks.

A site is a module path of ``model.named_modules()`` (``"transformer.h.3.mlp"``), optionally with
``":input"`` for the module's first positional input instead of its output. A module that returns
a tuple or a model output object (Hugging Face blocks return ``(hidden_states, ...)``) gives its
first tensor. Hooks live only inside :func:`read_sites` and are removed on every exit, exceptions
included; the forward pass stops as soon as every asked-for site has been read, so the rest of
the network is not run, and only the asked-for tensors (after `select`) are kept.
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from nerve.errors import AnalysisError

__all__ = ["Site", "read_sites", "resolve_sites"]


@dataclass(frozen=True)
class Site:
    """A module path and which side of it: ``"output"`` (default) or ``"input"``."""

    module: str
    kind: str = "output"

    def __post_init__(self) -> None:
        if self.kind not in ("output", "input"):
            raise AnalysisError(
                f"`kind` (={self.kind!r}) of site {self.module!r} must be 'output' or 'input'."
            )

    @classmethod
    def parse(cls, text: str | Site) -> Site:
        """``"path"`` or ``"path:input"`` / ``"path:output"``."""
        if isinstance(text, Site):
            return text
        if not isinstance(text, str):
            raise AnalysisError(f"a site (={text!r}) must be a module path string or a Site.")
        path, _, kind = text.partition(":")
        return cls(path, kind or "output")

    @property
    def name(self) -> str:
        return self.module if self.kind == "output" else f"{self.module}:{self.kind}"


def resolve_sites(model: nn.Module, sites: Sequence[str | Site]) -> list[tuple[Site, nn.Module]]:
    """The modules of `sites`, or an error that names the unknown path and the nearest ones."""
    if not isinstance(model, nn.Module):
        raise AnalysisError(f"`model` (a {type(model).__name__}) must be a torch.nn.Module.")
    modules = dict(model.named_modules())
    found = []
    for raw in sites:
        site = Site.parse(raw)
        if site.module not in modules:
            near = difflib.get_close_matches(site.module, list(modules), n=3)
            hint = f"; nearest: {near}" if near else ""
            raise AnalysisError(f"site {site.name!r} is not a module path of the model{hint}.")
        found.append((site, modules[site.module]))
    names = [s.name for s, _ in found]
    if len(set(names)) != len(names):
        raise AnalysisError(f"`sites` (={names}) name a site twice.")
    if not found:
        raise AnalysisError("`sites` is empty: name at least one module path.")
    return found


class _DoneError(Exception):
    """Raised by the last hook to end the forward pass once every site is read."""


def _first_tensor(value: Any) -> Tensor:
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (tuple, list)):
        for item in value:
            if isinstance(item, Tensor):
                return item
    if hasattr(value, "values") and callable(value.values):  # ModelOutput and dicts
        for item in value.values():
            if isinstance(item, Tensor):
                return item
    raise AnalysisError(f"a site's value (a {type(value).__name__}) holds no tensor to read.")


def read_sites(
    model: nn.Module,
    inputs: Any,
    sites: Sequence[str | Site],
    *,
    to: str | torch.device | None = "cpu",
    dtype: torch.dtype | None = None,
    select: Callable[[Tensor], Tensor] | None = None,
    stop_early: bool = True,
    **forward_kwargs: Any,
) -> dict[str, Tensor]:
    """Run ``model(inputs, **forward_kwargs)`` under ``torch.no_grad()`` and return the activation
    of each site by name.

    - `to`: the device the activations are moved to (``None``: leave them where they are).
    - `dtype`: cast them (e.g. ``torch.float16`` to halve what is kept).
    - `select`: applied to each activation before it is kept (``lambda t: t[:, -1]`` keeps the
      last position), so nothing else is held.
    - `stop_early`: end the forward pass once every site has been read.
    """
    found = resolve_sites(model, sites)
    kept: dict[str, Tensor] = {}
    handles = []

    def keep(site: Site, value: Any) -> None:
        t = _first_tensor(value).detach()
        if select is not None:
            t = select(t)
        if dtype is not None:
            t = t.to(dtype)
        if to is not None:
            t = t.to(to)
        kept[site.name] = t
        if stop_early and len(kept) == len(found):
            raise _DoneError

    try:
        for site, module in found:
            if site.kind == "output":
                handles.append(module.register_forward_hook(lambda m, a, out, s=site: keep(s, out)))
            else:
                handles.append(module.register_forward_pre_hook(lambda m, a, s=site: keep(s, a)))
        with torch.no_grad(), contextlib.suppress(_DoneError):
            model(inputs, **forward_kwargs)
    finally:
        for h in handles:
            h.remove()
    missing = [s.name for s, _ in found if s.name not in kept]
    if missing:
        raise AnalysisError(f"sites {missing} were not reached by the forward pass (is the module used?).")
    return {s.name: kept[s.name] for s, _ in found}
