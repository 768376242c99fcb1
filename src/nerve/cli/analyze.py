"""``nerve analyze RUN``: the registered analyses of a run, their results and its report."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from nerve.cli._common import analyze_with_bar, clean_errors
from nerve.cli._views import print_summary


def analyze_command(
    run_dir: Path = typer.Argument(..., help="A run directory (made by `nerve train`)."),
    analysis: list[str] = typer.Option(
        None,
        "--analysis",
        "-a",
        help="An analysis to run, by name (repeat for several); default: every default analysis that "
        "applies. `nerve analyses` lists them.",
    ),
) -> None:
    """Read the algorithm off a run: irreps of its weights, neurons and logits, progress measures,
    analysis/*.json and a self-contained report.html."""
    console = Console()
    with clean_errors(console):
        analysed = analyze_with_bar(console, run_dir, analysis or None)
    print_summary(console, analysed)


def analyses_command() -> None:
    """List the registered analyses: name, whether `nerve analyze` runs it by default, and title."""
    from rich.table import Table

    from nerve.analysis.registry import registered

    table = Table(title="Registered analyses (nerve analyze RUN --analysis NAME)", title_justify="left")
    for column in ("name", "default", "needs", "what it reads"):
        table.add_column(column)
    for a in registered():
        table.add_row(a.name, "yes" if a.default else "no", ", ".join(a.needs) or "–", a.title)
    Console().print(table)
