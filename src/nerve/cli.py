"""The `nerve` command. It only parses flags and renders results; the mathematics is in the library."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

import nerve
from nerve.errors import NerveError
from nerve.groups import CharacterTable, FiniteGroup, parse_group

app = typer.Typer(
    help="nerve: the mathematics of interpretability, computational.",
    no_args_is_help=True,
    add_completion=False,
)
groups_app = typer.Typer(help="Finite groups: irreps and character tables.", no_args_is_help=True)
app.add_typer(groups_app, name="groups")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"nerve {nerve.__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """nerve: the mathematics of interpretability, computational."""


def format_value(z: complex, digits: int = 3) -> str:
    """A character value as people write it: ``2``, ``-0.618``, ``-0.5+0.866i``.

    >>> format_value(complex(-0.5, 0.8660254)), format_value(complex(2.0, 1e-16))
    ('-0.5+0.866i', '2')
    """

    def real(x: float) -> str:
        x = round(x, digits)
        return str(int(x)) if x == int(x) else f"{x:.{digits}f}".rstrip("0")

    re, im = round(z.real, digits) + 0.0, round(z.imag, digits) + 0.0
    if im == 0:
        return real(re)
    sign = "+" if im > 0 else "-"
    imag = "" if abs(im) == 1 else real(abs(im))
    return f"{real(re)}{sign}{imag}i" if re != 0 else f"{'-' if im < 0 else ''}{imag}i"


def character_table_view(table: CharacterTable) -> Table:
    """A rich table: one row per complex irrep, one column per conjugacy class."""
    group = table.group
    view = Table(title=f"Character table of {group.name} (order {group.order})", title_justify="left")
    view.add_column("irrep", style="bold")
    view.add_column("FS", justify="right")
    for name in table.class_names:
        view.add_column(name, justify="right")
    for label, fs, row in zip(table.labels, table.indicators, table.values.tolist()):
        view.add_row(label, f"{fs:+d}" if fs else "0", *(format_value(complex(v)) for v in row))
    return view


def classes_view(table: CharacterTable) -> Table:
    """The conjugacy classes: name, a representative, size and element order."""
    view = Table(title=f"Conjugacy classes of {table.group.name}", title_justify="left")
    for name in ("class", "representative", "size", "order"):
        view.add_column(name, justify="right" if name in ("size", "order") else "left")
    for name, rep, size, order in zip(
        table.class_names, table.representatives, table.class_sizes, table.class_orders
    ):
        view.add_row(name, table.group.labels[rep], str(size), str(order))
    return view


def irreps_view(group: FiniteGroup) -> Table:
    view = Table(title=f"Real irreducible representations of {group.name}", title_justify="left")
    for name in ("label", "dim", "type", "hom. error"):
        view.add_column(name, justify="left" if name in ("label", "type") else "right")
    for rho in group.irreps():
        view.add_row(rho.label, str(rho.dim), rho.type, f"{rho.homomorphism_error():.1e}")
    return view


@groups_app.command("show")
def groups_show(
    name: str = typer.Argument(..., help="A group name: C113, D5, S5, A5, Q8, C2xS3, ..."),
    irreps: bool = typer.Option(False, "--irreps", help="Also list the real irreps with their check."),
) -> None:
    """Print a group's character table (and, with --irreps, its real irreducible representations)."""
    console = Console()
    try:
        group = parse_group(name)
        table = group.character_table()
        console.print(character_table_view(table))
        console.print(classes_view(table))
        if irreps:
            console.print(irreps_view(group))
    except NerveError as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(2) from None
