"""``nerve analyze RUN``: every analysis of a run, its results and its report."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from nerve.cli._common import analyze_with_bar, clean_errors
from nerve.cli._views import print_summary


def analyze_command(
    run_dir: Path = typer.Argument(..., help="A run directory of a group task (made by `nerve train`)."),
) -> None:
    """Read the algorithm off a run: irreps of its weights, neurons and logits, progress measures,
    analysis/*.json and a self-contained report.html."""
    console = Console()
    with clean_errors(console):
        analysed = analyze_with_bar(console, run_dir)
    print_summary(console, analysed)
