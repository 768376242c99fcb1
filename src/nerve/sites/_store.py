"""An on-disk activation store: safetensors shards plus a JSON index, written batch by batch and
read lazily (only the shards a request touches are opened, memory-mapped by safetensors).

Layout of a store directory::

    index.json            sites with their per-row shape and dtype, the shards and their rows
    shard_00000.safetensors, shard_00001.safetensors, ...   one tensor per site each

The index is rewritten (atomically) after every shard, so a store whose writing was interrupted
holds every finished shard, and :func:`write_activations` with ``resume=True`` continues it.

The index is not trusted: opening a store checks its types, that every shard is a file named
``shard_<k>.safetensors`` inside the directory (no path is followed out of it), and that every
shard's safetensors header (only the header is read) holds exactly the index's sites with the
index's rows, per-row shape and dtype, so ``len``, ``shape`` and ``read`` cannot disagree.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import Tensor, nn

from nerve.errors import SiteError
from nerve.sites._capture import Site, read_sites

__all__ = ["ActivationStore", "write_activations"]

INDEX = "index.json"
FORMAT = "nerve-activations/1"
SHARD = re.compile(r"shard_\d{5,}\.safetensors", re.ASCII)

# safetensors' header dtype codes (the format's spec) -> torch dtype names as the index stores them
_HEADER_DTYPES = {
    "F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16",
    "I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8",
    "U64": "uint64", "U32": "uint32", "U16": "uint16", "U8": "uint8", "BOOL": "bool",
    "F8_E4M3": "float8_e4m3fn", "F8_E4M3FNUZ": "float8_e4m3fnuz",
    "F8_E5M2": "float8_e5m2", "F8_E5M2FNUZ": "float8_e5m2fnuz", "C64": "complex64",
}  # fmt: skip


class ActivationStore:
    """A store on disk, read lazily: ``store.sites``, ``len(store)`` (rows), ``store.shape(site)``,
    ``store.read(site, rows)`` (a slice of rows, or all), ``store.batches(site)`` (one shard at a
    time)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        index = self.path / INDEX
        if not index.is_file():
            raise SiteError(f"`path` ({self.path}) holds no activation store: {index} does not exist.")
        self._sites, self._shards = _read_index(self.path)
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
            raise SiteError(f"`site` (={site!r}) is not in the store; it has {list(self._sites)}.")
        return self._sites[site]

    def read(self, site: str, rows: slice | None = None) -> Tensor:
        """Rows of `site` (default: all), opening only the shards that hold them."""
        self._info(site)
        start, stop, step = (rows or slice(None)).indices(len(self))
        if step != 1:
            raise SiteError(f"`rows` (={rows!r}) must be a contiguous slice (step 1).")
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
            raise SiteError(
                f"`path` ({out}) already holds an activation store; pass resume=True to continue it."
            )
        info, done = _read_index(out)
        if list(info) != names:
            raise SiteError(f"the store at {out} has sites {list(info)}, not {names}.")
    out.mkdir(parents=True, exist_ok=True)
    for k, batch in enumerate(batches):
        if k < len(done):
            continue
        acts = read_sites(model, batch, sites, to="cpu", dtype=dtype, select=select, **forward_kwargs)
        rows = {t.shape[0] for t in acts.values()}
        if len(rows) != 1:
            raise SiteError(
                f"the sites' activations differ in their first (batch) dimension: {sorted(rows)}."
            )
        for name, t in acts.items():
            entry = {"shape": list(t.shape[1:]), "dtype": str(t.dtype).removeprefix("torch.")}
            if info.setdefault(name, entry) != entry:
                raise SiteError(
                    f"site {name!r} changed shape or dtype at batch {k}: {entry} after {info[name]}."
                )
        file = f"shard_{k:05d}.safetensors"
        save_file({name: t.contiguous() for name, t in acts.items()}, out / file)
        done.append({"file": file, "rows": rows.pop()})
        _write_index(out, info, done)
    if not done:
        raise SiteError("`batches` yielded nothing: there is nothing to store.")
    return ActivationStore(out)


def _write_index(out: Path, sites: dict[str, Any], shards: list[dict[str, Any]]) -> None:
    tmp = out / (INDEX + ".tmp")
    tmp.write_text(json.dumps({"format": FORMAT, "sites": sites, "shards": shards}, indent=1))
    os.replace(tmp, out / INDEX)


def _read_index(path: Path) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """The sites and shards of the index at ``path / INDEX``, checked against the shards on disk;
    raises :class:`SiteError` naming the file and the field at the first disagreement."""
    index = path / INDEX
    try:
        data = json.loads(index.read_bytes())
    except (ValueError, RecursionError) as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise SiteError(f"{index} is not valid JSON ({e}); the store's index is corrupt.") from None
    if not isinstance(data, dict):
        raise SiteError(f"{index} holds a {type(data).__name__}, not a JSON object.")
    if data.get("format") != FORMAT:
        raise SiteError(f"{index} has format {data.get('format')!r}, not {FORMAT!r}.")
    raw_sites, raw_shards = data.get("sites"), data.get("shards")
    if not isinstance(raw_sites, dict):
        raise SiteError(f"{index} field `sites` (={raw_sites!r:.80}) must be an object of site entries.")
    if not isinstance(raw_shards, list):
        raise SiteError(f"{index} field `shards` (={raw_shards!r:.80}) must be a list of shard entries.")

    sites: dict[str, dict[str, Any]] = {}
    for name, entry in raw_sites.items():
        field = f"{index} site {name!r}"
        if not isinstance(entry, dict):
            raise SiteError(f"{field} (={entry!r:.80}) must be an object with `shape` and `dtype`.")
        shape, dtype = entry.get("shape"), entry.get("dtype")
        if not (isinstance(shape, list) and all(_is_count(n) for n in shape)):
            raise SiteError(f"{field} `shape` (={shape!r:.80}) must be a list of non-negative integers.")
        # a fixed list, not getattr(torch, dtype): an untrusted name must not reach torch's lazy imports
        if dtype not in _HEADER_DTYPES.values():
            raise SiteError(
                f"{field} `dtype` (={dtype!r:.80}) must be a torch dtype name that safetensors "
                f"stores: one of {sorted(_HEADER_DTYPES.values())}."
            )
        sites[name] = {"shape": shape, "dtype": dtype}

    root = path.resolve()
    shards: list[dict[str, Any]] = []
    for k, entry in enumerate(raw_shards):
        field = f"{index} shard {k}"
        if not isinstance(entry, dict):
            raise SiteError(f"{field} (={entry!r:.80}) must be an object with `file` and `rows`.")
        file, rows = entry.get("file"), entry.get("rows")  # any JSON: checked below
        rows = cast(int, rows)
        if not (isinstance(file, str) and SHARD.fullmatch(file)):
            raise SiteError(
                f"{field} (`{file}`) must be a file name inside the store directory, "
                "like shard_00000.safetensors."
            )
        if file != f"shard_{k:05d}.safetensors":
            # the writer numbers shards in order; a resumed write relies on it, and it rules out a
            # shard listed twice, whose rows would be read twice
            raise SiteError(
                f"{field} (`{file}`) must be `shard_{k:05d}.safetensors`: shards are numbered in order."
            )
        if not _is_count(rows):
            raise SiteError(f"{field} `rows` (={rows!r:.80}) must be a non-negative integer.")
        target = (path / file).resolve()  # follows a symlink, which must stay in the store too
        if not target.is_relative_to(root) or not target.is_file():
            raise SiteError(f"{field} (`{file}`) is not a file inside the store directory {path}.")
        _check_shard(path / file, rows, sites)
        shards.append({"file": file, "rows": rows})
    return sites, shards


def _check_shard(file: Path, rows: int, sites: dict[str, dict[str, Any]]) -> None:
    """Check from its header alone that `file` holds exactly `sites`, each ``[rows, *shape]``."""
    try:
        with safe_open(file, framework="pt") as f:
            views = {name: f.get_slice(name) for name in f.keys()}  # noqa: SIM118 (safe_open is not iterable)
            held = {name: (v.get_shape(), v.get_dtype()) for name, v in views.items()}
    except (SafetensorError, OSError) as e:
        raise SiteError(f"shard {file} is not a readable safetensors file ({e}).") from None
    if set(held) != set(sites):
        raise SiteError(f"shard {file} holds sites {sorted(held)}, but the index lists {sorted(sites)}.")
    for name, (shape, code) in held.items():
        want_shape, want_dtype = [rows, *sites[name]["shape"]], sites[name]["dtype"]
        dtype = _HEADER_DTYPES.get(code, code)
        if list(shape) != want_shape or dtype != want_dtype:
            raise SiteError(
                f"shard {file} site {name!r} is {list(shape)} {dtype}, but the index says "
                f"{want_shape} {want_dtype} (the shard's `rows` and the site's `shape` and `dtype`)."
            )


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
