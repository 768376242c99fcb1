"""``nerve groups show NAME``: a finite group's character table, classes and real irreps."""

from __future__ import annotations

import typer
from rich.console import Console

from nerve.cli._common import clean_errors
from nerve.cli._views import character_table_view, classes_view, irreps_view
from nerve.groups import parse_group

app = typer.Typer(help="Finite groups: irreps and character tables.", no_args_is_help=True)


@app.command("show")
def groups_show(
    name: str = typer.Argument(..., help="A group name: C113, D5, S5, A5, Q8, C2xS3, ..."),
    irreps: bool = typer.Option(False, "--irreps", help="Also list the real irreps with their check."),
) -> None:
    """Print a group's character table (and, with --irreps, its real irreducible representations)."""
    console = Console()
    with clean_errors(console):
        group = parse_group(name)
        table = group.character_table()
        console.print(character_table_view(table))
        console.print(classes_view(table))
        if irreps:
            console.print(irreps_view(group))
