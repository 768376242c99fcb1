"""Sweeps: train and analyse a grid of runs (task x model x seed ...), in a local process pool,
with every result in an SQLite table that survives a kill.

A spec is a JSON file::

    {"base": "demo",                                  # a preset name, or a TrainConfig dict
     "grid": {"seed": [0, 1, 2], "task.p": [31, 59]}, # dotted config fields and their values
     "analyses": ["train", "fourier"]}                # optional; "train" is always recorded

Analyses: ``train`` (the last logged metrics) and any registered analysis
(:mod:`nerve.analysis.registry`; ``nerve analyses`` lists them), e.g. ``fourier`` (the irreps of
the last checkpoint) or ``learning_order`` (the Fourier analysis at every checkpoint: when each
irrep is learned). Each row holds the analysis' result as its JSON (``Result.to_dict``), or
``{"skipped": why}`` where the analysis does not apply to the run.

``run_sweep(..., ray_address=...)`` (``nerve sweep SPEC --ray ADDRESS``; ``local`` starts a Ray
cluster on this machine) runs the grid points as Ray tasks instead of a local pool.

Each grid point is a run directory ``OUT/runs/<id>`` (id: a hash of its whole config) and one row
per analysis in ``OUT/sweep.sqlite`` (table ``results``: run_id, analysis, config JSON, result
JSON, finished). A run counts as done when all its analyses have rows; a restarted sweep skips
those, resumes a run whose training was interrupted from its last checkpoint, and starts the rest.
Only the main process writes the table.
"""

from __future__ import annotations

import hashlib
import importlib
import itertools
import json
import multiprocessing
import os
import socket
import sqlite3
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from nerve._estimator import Progress
from nerve._io import exclusive, strict_json

# the universality statistics of a sweep's rows live with the analyses; importable from here too
from nerve.analysis.fourier.universality import LOGIT_KEY, key_irrep_counts, learning_orders, logit_key_counts
from nerve.analysis.registry import Result, fit_all, get, registered
from nerve.training import PRESETS, RunDir, TrainConfig
from nerve.training.config import ConfigError
from nerve.training.run import CheckpointError

__all__ = [
    "LOGIT_KEY",
    "SweepSpec",
    "analysis_names",
    "key_irrep_counts",
    "learning_orders",
    "load_spec",
    "logit_key_counts",
    "run_sweep",
    "summary",
]

DB = "sweep.sqlite"
#: The universality page `nerve sweep summary` writes beside the table.
PAGE = "universality.html"


def analysis_names() -> tuple[str, ...]:
    """What a spec's ``analyses`` may name: ``train`` and every registered analysis."""
    return ("train", *(a.name for a in registered()))


@dataclass(frozen=True)
class SweepSpec:
    """The configs of a sweep (one per grid point, in grid order) and the analyses of each."""

    configs: tuple[TrainConfig, ...]
    grid_keys: tuple[str, ...]
    analyses: tuple[str, ...]


def _read_spec(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(
            f"the sweep spec {path} must be a JSON file; it "
            f"{'is a directory' if path.is_dir() else 'does not exist'}."
        )
    try:
        spec = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"the sweep spec {path} is not JSON: {err}.") from None
    if not isinstance(spec, dict):
        raise ConfigError(f"the sweep spec {path} must be a JSON object with base, grid, analyses.")
    return spec


def load_spec(source: str | os.PathLike | dict[str, Any]) -> SweepSpec:
    """Read a spec (a JSON file or its dict) and expand its grid into configs, each validated
    (a dict `base` takes :class:`TrainConfig`'s defaults for the fields it leaves out; every run
    directory stores its whole config)."""
    spec = _read_spec(Path(source)) if not isinstance(source, dict) else source
    unknown = set(spec) - {"base", "grid", "analyses"}
    if unknown:
        raise ConfigError(
            f"the sweep spec has unknown keys {sorted(unknown)}; it takes base, grid, analyses."
        )
    base = spec.get("base", "demo")
    if isinstance(base, str):
        if base not in PRESETS:
            raise ConfigError(
                f"`base` (={base!r}) must be a preset, one of {sorted(PRESETS)}, or a config dict."
            )
        base_dict = PRESETS[base].to_dict()
    else:
        base_dict = TrainConfig.from_dict(base).to_dict()
    grid = spec.get("grid", {})
    if not isinstance(grid, dict) or any(not isinstance(v, list) or not v for v in grid.values()):
        raise ConfigError(f"`grid` (={grid!r}) must map config fields to non-empty lists of values.")
    analyses = spec.get("analyses", ["train"])
    if not isinstance(analyses, list) or not all(isinstance(a, str) for a in analyses):
        raise ConfigError(
            f"`analyses` (={analyses!r}) must be a list of names from {list(analysis_names())}."
        )
    analyses = tuple(dict.fromkeys(analyses))
    bad = [a for a in analyses if a not in analysis_names()]
    if bad:
        raise ConfigError(f"`analyses` names {bad}; the sweep knows {list(analysis_names())}.")
    if "train" not in analyses:
        analyses = ("train", *analyses)
    configs = []
    for values in itertools.product(*grid.values()):
        data = json.loads(json.dumps(base_dict))
        for key, value in zip(grid, values):
            *path, last = key.split(".")
            node = data
            for part in path:
                if not isinstance(node.get(part), dict):
                    raise ConfigError(f"grid key {key!r} is not a config field (no section {part!r}).")
                node = node[part]
            if last not in node:
                raise ConfigError(f"grid key {key!r} is not a config field; {'.'.join(path) or 'the config'} "
                                  f"has {sorted(node)}.")  # fmt: skip
            node[last] = value
        configs.append(TrainConfig.from_dict(data, complete=True))
    return SweepSpec(tuple(configs), tuple(grid), analyses)


def run_id(config: TrainConfig) -> str:
    return hashlib.sha256(json.dumps(config.to_dict(), sort_keys=True).encode()).hexdigest()[:12]


_COLUMNS = ["run_id", "analysis", "config", "result", "finished"]


def _connect(out: Path, *, create: bool = True) -> sqlite3.Connection:
    """The sweep's table; a file that is not a nerve sweep database is refused, not overwritten."""
    path = out / DB
    try:
        db = sqlite3.connect(path if create else path.absolute().as_uri() + "?mode=ro", uri=not create)
        if create:
            db.execute(
                "CREATE TABLE IF NOT EXISTS results (run_id TEXT, analysis TEXT, config TEXT, "
                "result TEXT, finished TEXT, PRIMARY KEY (run_id, analysis))"
            )
        columns = [row[1] for row in db.execute("PRAGMA table_info(results)")]
    except sqlite3.DatabaseError as err:
        raise ConfigError(f"{path} is not a nerve sweep database: {err}.") from None
    if columns != _COLUMNS:
        db.close()
        raise ConfigError(
            f"{path} is not a nerve sweep database: its results table has {columns}, not {_COLUMNS}."
        )
    return db


def _done(db: sqlite3.Connection, rid: str, analyses: Sequence[str]) -> bool:
    rows = {a for (a,) in db.execute("SELECT analysis FROM results WHERE run_id = ?", (rid,))}
    return set(analyses) <= rows


def run_sweep(
    spec: SweepSpec,
    out: str | os.PathLike,
    *,
    workers: int = 1,
    ray_address: str | None = None,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Run every grid point of `spec` not yet done in `out` (train, then its analyses), `workers`
    at a time in a process pool (1: in this process), or as Ray tasks on the cluster at
    `ray_address` (``"local"`` starts one on this machine; `out` must be on a file system the
    cluster's workers share), and return all rows of the table."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"`workers` (={workers!r}) must be an integer >= 1.")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"`out` ({out}) is a file; a sweep directory must be a directory.")
    if ray_address is not None:
        _check_ray_address(ray_address)
    with exclusive(out, "sweep directory"):
        (out / "runs").mkdir(parents=True, exist_ok=True)
        db = _connect(out)
        try:
            return _run_grid(spec, out, db, workers, ray_address, progress)
        finally:
            db.close()


def _check_ray_address(address: str, timeout: float = 5.0) -> None:
    """Refuse a cluster address nothing answers at, instead of waiting on it for ever."""
    if address in ("local", "auto"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"`ray_address` (={address!r}) must be 'local', 'auto' or HOST:PORT.")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as err:
        raise ConfigError(
            f"`ray_address` (={address!r}): no Ray cluster answers there ({err}); start one with "
            f"`ray start --head` or use --ray local."
        ) from None


def _run_grid(spec, out: Path, db, workers: int, ray_address: str | None, progress) -> list[dict[str, Any]]:
    # a grid that names one point twice is one run: two workers must not train one directory
    points = {run_id(c): c for c in spec.configs}
    todo = [(c, rid) for rid, c in points.items() if not _done(db, rid, spec.analyses)]
    total, finished = len(points), len(points) - len(todo)
    if ray_address is not None:
        for run_rows in _ray_map(ray_address, todo, out, spec.analyses):
            finished += 1
            _record(db, run_rows, progress, finished, total)
    elif workers == 1:
        results = (_run_one(c.to_dict(), str(out / "runs" / rid), spec.analyses) for c, rid in todo)
        for rid_rows in results:
            finished += 1
            _record(db, rid_rows, progress, finished, total)
    else:
        # spawn, not fork: a forked child of a process whose torch thread pool has started can deadlock
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn")
        ) as pool:
            threads, modules = torch.get_num_threads(), _modules(spec.analyses)
            jobs = [
                pool.submit(_run_one, c.to_dict(), str(out / "runs" / rid), spec.analyses, threads, modules)
                for c, rid in todo
            ]
            for job in as_completed(jobs):
                finished += 1
                _record(db, job.result(), progress, finished, total)
    return rows(db)


def _ray_map(address: str, todo, out: Path, analyses):
    """Each run as a Ray task; results in the order they finish."""
    try:
        import ray
    except ImportError:
        raise ConfigError("`ray_address` needs Ray: pip install 'ray>=2.9'.") from None
    started = not ray.is_initialized()
    if started:
        ray.init(
            address=None if address == "local" else address, include_dashboard=False, log_to_driver=False
        )
    try:
        task = ray.remote(num_cpus=1)(_run_one)
        threads = torch.get_num_threads()
        pending = [
            task.remote(c.to_dict(), str(out.resolve() / "runs" / rid), analyses, threads, _modules(analyses))
            for c, rid in todo
        ]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            yield ray.get(done[0])
    finally:
        if started:
            ray.shutdown()


def _record(db, run_rows: list[dict[str, Any]], progress, finished: int, total: int) -> None:
    with db:  # one transaction per run: all its rows or none
        for r in run_rows:
            db.execute(
                "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?)",
                (
                    r["run_id"],
                    r["analysis"],
                    strict_json(r["config"]),
                    strict_json(r["result"]),
                    r["finished"],
                ),
            )
    if progress is not None:
        progress("sweep", finished, total)


def _modules(analyses: Sequence[str]) -> tuple[str, ...]:
    """The modules that register `analyses` (and what they need): a worker process imports them,
    so that an analysis registered outside nerve runs there too."""
    found, todo = set(), [a for a in analyses if a != "train"]
    while todo:
        analysis = get(todo.pop())
        found.add(analysis.fit.__module__)
        todo += [n for n in analysis.needs if get(n).fit.__module__ not in found]
    return tuple(sorted(m for m in found if m != "__main__"))


def _run_one(
    config_dict: dict[str, Any],
    run_dir: str,
    analyses: Sequence[str],
    threads: int | None = None,
    modules: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Train one grid point (resuming an interrupted run) and analyse it: its rows, each
    analysis' result as its JSON. `threads`: torch's intra-op threads, the driver's by default, so
    that every executor sums in the same order (Ray sets one thread per CPU it grants, which
    changes the last bits of the results); `modules`: imported first, for their registrations."""

    from nerve.training import load, train

    if threads is not None:
        torch.set_num_threads(threads)
    for module in modules:
        importlib.import_module(module)

    config = TrainConfig.from_dict(config_dict)
    path = Path(run_dir)
    run = None
    if RunDir(path).holds_run:
        try:
            run = load(path)
        except CheckpointError:  # killed before its first checkpoint, or a corrupt last one
            run = None
        if run is None or run.checkpoints[-1] != config.steps:
            # from the last checkpoint that reads; a corrupt file is set aside, nothing deleted
            run = train(config, path, resume=True)
    else:
        run = train(config, path)
    last = run.metrics()[-1]
    out = [{"analysis": "train", "result": {k: last[k] for k in sorted(last) if k != "seconds"}}]
    fitted = fit_all(run, [a for a in analyses if a != "train"])
    for name, result in fitted.items():
        row = result.to_dict() if isinstance(result, Result) else {"skipped": result}
        out.append({"analysis": name, "result": row})
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    return [{**r, "run_id": path.name, "config": config_dict, "finished": stamp} for r in out]


def rows(db: sqlite3.Connection) -> list[dict[str, Any]]:
    cursor = db.execute(
        "SELECT run_id, analysis, config, result, finished FROM results ORDER BY run_id, analysis"
    )
    return [
        {"run_id": a, "analysis": b, "config": json.loads(c), "result": json.loads(d), "finished": e}
        for a, b, c, d, e in cursor
    ]


def summary(out: str | os.PathLike) -> list[dict[str, Any]]:
    """The table of a sweep directory, a dict per row."""
    path = Path(out) / DB
    if not path.is_file():
        raise ConfigError(f"`out` ({out}) holds no sweep: {path} does not exist.")
    db = _connect(Path(out), create=False)
    try:
        return rows(db)
    finally:
        db.close()
