"""An on-disk activation store: safetensors shards plus a JSON index, written batch by batch and
read lazily (only the shards a request touches are opened, memory-mapped by safetensors).

Layout of a store directory::

    index.json            sites with their per-row shape and dtype, the shards and their rows
    shard_00000.safetensors, shard_00001.safetensors, ...   one tensor per site each

The index is rewritten (atomically) after every shard, so a store whose writing was interrupted
holds every finished shard, and :func:`write_activations` with ``resume=True`` continues it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor, nn

from nerve.errors import AnalysisError
from nerve.sites._capture import Site, read_sites

__all__ = ["ActivationStore", "write_activations"]

INDEX = "index.json"
FORMAT = "nerve-activations/1"


class ActivationStore:
    """A store on disk, read lazily: ``store.sites``, ``len(store)`` (rows), ``store.shape(site)``,
    ``store.read(site, rows)`` (a slice of rows, or all), ``store.batches(site)`` (one shard at a
    time)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        index = self.path / INDEX
        if not index.is_file():
            raise AnalysisError(f"`path` ({self.path}) holds no activation store: {index} does not exist.")
        data = json.loads(index.read_text())
        if data.get("format") != FORMAT:
            raise AnalysisError(f"{index} has format {data.get('format')!r}, not {FORMAT!r}.")
        self._sites: dict[str, dict[str, Any]] = data["sites"]
        self._shards: list[dict[str, Any]] = data["shards"]
        self._starts = [0]
        for shard in self._shards:
            self._starts.append(self._starts[-1] + shard["rows"])

    @property
    def sites(self) -> tuple[str, ...]:
        return tuple(self._sites)

    def __len__(self) -> int:
        return self._starts[-1]

    def shape(self, site: str) -> tuple[int, ...]:
        """``(rows, *per_row_shape)`` of `site`."""
        return (len(self), *self._info(site)["shape"])

    def _info(self, site: str) -> dict[str, Any]:
        if site not in self._sites:
            raise AnalysisError(f"`site` (={site!r}) is not in the store; it has {list(self._sites)}.")
        return self._sites[site]

    def read(self, site: str, rows: slice | None = None) -> Tensor:
        """Rows of `site` (default: all), opening only the shards that hold them."""
        self._info(site)
        start, stop, step = (rows or slice(None)).indices(len(self))
        if step != 1:
            raise AnalysisError(f"`rows` (={rows!r}) must be a contiguous slice (step 1).")
        parts = []
        for k, shard in enumerate(self._shards):
            lo, hi = self._starts[k], self._starts[k + 1]
            if hi <= start or lo >= stop:
                continue
            with safe_open(self.path / shard["file"], framework="pt") as f:
                view = f.get_slice(site)
                parts.append(view[max(start, lo) - lo : min(stop, hi) - lo])
        if not parts:
            info = self._sites[site]
            return torch.empty((0, *info["shape"]), dtype=getattr(torch, info["dtype"]))
        return torch.cat(parts)

    def batches(self, site: str) -> Iterator[Tensor]:
        """The rows of `site` shard by shard: one shard in memory at a time."""
        self._info(site)
        for shard in self._shards:
            with safe_open(self.path / shard["file"], framework="pt") as f:
                yield f.get_tensor(site)


def write_activations(
    model: nn.Module,
    batches: Iterable[Any],
    sites: Sequence[str | Site],
    path: str | os.PathLike,
    *,
    dtype: torch.dtype | None = None,
    select: Callable[[Tensor], Tensor] | None = None,
    resume: bool = False,
    **forward_kwargs: Any,
) -> ActivationStore:
    """Run `model` over `batches` (each a model input, e.g. token ids ``[B, T]``) and write the
    activations of `sites` to a store at `path`, one shard per batch, on the CPU. Memory holds
    one batch's activations at a time. With `resume`, the batches already in an interrupted store
    at `path` are skipped (the iterable must yield the same batches in the same order).
    """
    out = Path(path)
    names = [Site.parse(s).name for s in sites]
    done: list[dict[str, Any]] = []
    info: dict[str, dict[str, Any]] = {}
    if (out / INDEX).is_file():
        if not resume:
            raise AnalysisError(
                f"`path` ({out}) already holds an activation store; pass resume=True to continue it."
            )
        old = json.loads((out / INDEX).read_text())
        if list(old["sites"]) != names:
            raise AnalysisError(f"the store at {out} has sites {list(old['sites'])}, not {names}.")
        done, info = old["shards"], old["sites"]
    out.mkdir(parents=True, exist_ok=True)
    for k, batch in enumerate(batches):
        if k < len(done):
            continue
        acts = read_sites(model, batch, sites, to="cpu", dtype=dtype, select=select, **forward_kwargs)
        rows = {t.shape[0] for t in acts.values()}
        if len(rows) != 1:
            raise AnalysisError(
                f"the sites' activations differ in their first (batch) dimension: {sorted(rows)}."
            )
        for name, t in acts.items():
            entry = {"shape": list(t.shape[1:]), "dtype": str(t.dtype).removeprefix("torch.")}
            if info.setdefault(name, entry) != entry:
                raise AnalysisError(
                    f"site {name!r} changed shape or dtype at batch {k}: {entry} after {info[name]}."
                )
        file = f"shard_{k:05d}.safetensors"
        save_file({name: t.contiguous() for name, t in acts.items()}, out / file)
        done.append({"file": file, "rows": rows.pop()})
        _write_index(out, info, done)
    if not done:
        raise AnalysisError("`batches` yielded nothing: there is nothing to store.")
    return ActivationStore(out)


def _write_index(out: Path, sites: dict[str, Any], shards: list[dict[str, Any]]) -> None:
    tmp = out / (INDEX + ".tmp")
    tmp.write_text(json.dumps({"format": FORMAT, "sites": sites, "shards": shards}, indent=1))
    os.replace(tmp, out / INDEX)
