"""The `nerve` command: one module per command, each only parsing flags and rendering results; the
mathematics, and every default, is the library's.

- :mod:`nerve.cli.groups`: ``nerve groups show NAME``
- :mod:`nerve.cli.train`, :mod:`nerve.cli.demo`: runs trained into run directories
- :mod:`nerve.cli.analyze`: the registered analyses of a run and its report; ``nerve analyses``
- :mod:`nerve.cli.prove`, :mod:`nerve.cli.check`: certificates, written and checked
- :mod:`nerve.cli.sweep`: ``nerve sweep [run] SPEC --out DIR`` and ``nerve sweep summary DIR``
- :mod:`nerve.cli.llc`: the local learning coefficient and its calibration
"""

from __future__ import annotations

import typer

from nerve._version import __version__
from nerve.cli import analyze, check, demo, groups, llc, prove, sweep, train

__all__ = ["app"]

app = typer.Typer(
    help="nerve: the mathematics of interpretability, computational.",
    no_args_is_help=True,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"nerve {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """nerve: the mathematics of interpretability, computational."""


app.command("analyze")(analyze.analyze_command)
app.command("analyses")(analyze.analyses_command)
app.command("demo")(demo.demo_command)
app.command("train")(train.train_command)
app.command("prove")(prove.prove_command)
app.command("check")(check.check_command)
app.command("export-hf")(prove.export_hf_command)
app.command("llc")(llc.llc_command)
app.add_typer(sweep.app, name="sweep")
app.add_typer(groups.app, name="groups")
