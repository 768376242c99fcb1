"""``nerve check CERT RUN``: an independent check of a certificate that `nerve prove` wrote."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from nerve.cli._common import clean_errors


def check_command(
    certificate: Path = typer.Argument(..., help="A certificate written by `nerve prove`."),
    run_dir: Path = typer.Argument(..., help="The run directory it is about (or the model folder)."),
    prompts: Path = typer.Option(None, help="A language-model certificate's prompt family file."),
) -> None:
    """Verify a certificate independently: exit 0 when it holds, 1 when it is rejected, 2 when the
    file is not a certificate."""
    from nerve.proofs import check

    console = Console()
    with clean_errors(console):
        report = check(certificate, run_dir, prompts=prompts)
    if report.ok:
        console.print(f"[bold green]certificate verified[/bold green] on {report.checked_inputs} inputs")
        return
    console.print("[bold red]certificate rejected[/bold red]:")
    for problem in report.problems:
        console.print(f"  - {problem}")
    raise typer.Exit(1)
