"""``nerve demo``: the small grokking run (a+b mod 59), trained or resumed, analysed and reported."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from nerve.cli._common import analyze_with_bar, clean_errors, train_with_bar
from nerve.cli._views import print_summary
from nerve.errors import NerveError


def demo_command(
    out: Path = typer.Option(Path("runs/demo"), help="Run directory for the demo."),
) -> None:
    """Train the small modular-addition model (a+b mod 59), analyse it and write the report.

    An existing demo run in OUT is reused (and resumed if it was interrupted)."""
    from nerve.training import PRESETS, RunDir, resume, train
    from nerve.training.run import read_config

    console = Console()
    config = PRESETS["demo"]
    with clean_errors(console, interrupted=f"run `nerve demo --out {out}` again to continue"):
        if RunDir(out).holds_run:
            if read_config(out) != config:
                raise NerveError(f"`--out` ({out}) holds a run that is not the demo; choose another --out.")
            console.print(f"reusing the demo run in {out}")
            train_with_bar(console, lambda callback: resume(out, callback=callback))
        else:
            train_with_bar(console, lambda callback: train(config, out, callback=callback))
        analysed = analyze_with_bar(console, out)
    print_summary(console, analysed)
