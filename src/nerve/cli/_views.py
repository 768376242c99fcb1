"""Rich renderings of the library's results: character tables, irreps, a run's key numbers."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from nerve.groups import CharacterTable, FiniteGroup


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
    """The real irreps: label, dimension, Frobenius–Schur type and max_{g,h} ‖ρ(g)ρ(h) − ρ(gh)‖_F."""
    view = Table(title=f"Real irreducible representations of {group.name}", title_justify="left")
    for name in ("label", "dim", "type", "hom. error"):
        view.add_column(name, justify="left" if name in ("label", "type") else "right")
    for rho in group.irreps():
        view.add_row(rho.label, str(rho.dim), rho.type, f"{rho.homomorphism_error():.1e}")
    return view


def print_summary(console: Console, analysed: Any) -> None:
    """What `nerve analyze` found, as the report's key numbers, and where the report is."""
    from nerve.report import key_numbers

    table = Table(title=f"{analysed.run.path}: what the network learned", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    for name, value in key_numbers(analysed.run, analysed.results):
        table.add_row(name, value)
    console.print(table)
    for name, why in analysed.skipped.items():
        console.print(f"[dim]{name}: not run, {why}.[/dim]")
    console.print(f"report: [bold]{analysed.report}[/bold]  (open it in a browser; it works offline)")
