"""``nerve sweep run SPEC --out DIR`` (or ``nerve sweep SPEC --out DIR``): a grid of runs trained
and analysed; ``nerve sweep summary DIR``: its table and the universality statistics."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from nerve.analysis.fourier.universality import LOGIT_KEY, key_irrep_counts, learning_orders, logit_key_counts
from nerve.cli._common import clean_errors, threads
from nerve.errors import NerveError
from nerve.sweep import load_spec, run_sweep, summary


class _RunByDefault(TyperGroup):
    """A group whose first word, when it is not a subcommand, is the `run` command's spec:
    ``nerve sweep SPEC --out DIR`` is ``nerve sweep run SPEC --out DIR``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["run", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_RunByDefault,
    no_args_is_help=True,
    help="Grids of runs: `nerve sweep SPEC --out DIR` (short for `nerve sweep run`) trains and "
    "analyses them; `nerve sweep summary DIR` prints a finished sweep's table.",
)

_WORKERS = inspect.signature(run_sweep).parameters["workers"].default


@app.command("run")
def run_command(
    spec: Path = typer.Argument(None, metavar="SPEC", help="A JSON sweep spec: base config, grid, analyses."),
    out: Path = typer.Option(None, help="The sweep directory (runs/ and sweep.sqlite)."),
    workers: int = typer.Option(_WORKERS, help="Processes training at once."),
    ray: str = typer.Option(
        None, "--ray", help="Run on the Ray cluster at this address ('local': start one here)."
    ),
    threads_: int = typer.Option(
        None,
        "--threads",
        help="Torch threads of every run (default: torch's); each run records them and a restart uses them.",
    ),
) -> None:
    """Train and analyse a grid of runs; a restarted sweep skips finished runs and resumes an
    interrupted one."""
    console = Console()
    with clean_errors(console), threads(threads_):
        if spec is None or out is None:
            raise NerveError("`nerve sweep SPEC --out DIR` takes one spec file and an --out directory.")
        loaded = load_spec(spec)
        console.print(f"{len(loaded.configs)} runs x analyses {list(loaded.analyses)} into {out}")
        rows = run_sweep(
            loaded, out, workers=workers, ray_address=ray,
            progress=lambda _, done, total: console.print(f"  {done}/{total} runs done"),
        )  # fmt: skip
        _print_rows(console, rows, out)


@app.command("summary")
def summary_command(
    sweep_dir: Path = typer.Argument(None, metavar="DIR", help="A sweep directory (made by `nerve sweep`)."),
) -> None:
    """Print a sweep's table, which irreps are key across its runs and the order each run learned
    them in; write DIR/universality.html when it has learning orders."""
    console = Console()
    with clean_errors(console):
        if sweep_dir is None:
            raise NerveError("`nerve sweep summary` takes one sweep directory; none was given.")
        _print_rows(console, summary(sweep_dir), sweep_dir)


def _print_rows(console: Console, rows: list[dict[str, Any]], sweep_dir: Path) -> None:
    """The table of rows, the key-irrep counts across runs, and each run's learning order."""
    table = Table(title="sweep results")
    for name in ("run", "analysis", "result"):
        table.add_column(name)
    for r in rows:
        table.add_row(r["run_id"], r["analysis"], json.dumps(r["result"])[:160])
    console.print(table)
    runs = len({r["run_id"] for r in rows if r["analysis"] == "fourier"})
    if runs:
        counts = key_irrep_counts(rows)
        shares = ", ".join(f"{label}: {n}/{runs}" for label, n in counts.items()) or "none in any run"
        console.print(f"key irreps across runs (universality): {shares}")
    orders = learning_orders(rows)
    if orders:
        by_logits = logit_key_counts(rows)
        shares = ", ".join(f"{label}: {n}/{len(orders)}" for label, n in by_logits.items()) or "none"
        console.print(f"irreps with >= {LOGIT_KEY:g} of the final logit variance: {shares}")
    for o in orders:
        at = o["learned_at"]
        steps = ", ".join(f"{x} at {at[x]:,}" if x in at else x for x in o["order"]) or "-"
        console.print(f"  seed {o['seed']} ({o['run_id']}) learned its key irreps in the order: {steps}")
    if orders:
        from nerve.report import write_universality

        page = write_universality(sweep_dir, rows)
        console.print(f"universality table and learning-order figures: {page}")
