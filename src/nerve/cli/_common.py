"""What every command shares: clean errors, progress bars, and torch's threads for one command."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from nerve.errors import NerveError

#: More threads than this is a typo, not a machine (torch's own limit is an int32).
MAX_THREADS = 1024


@contextlib.contextmanager
def clean_errors(console: Console, *, interrupted: str | None = None) -> Iterator[None]:
    """A NerveError becomes one red line and exit status 2; Ctrl-C says how to continue."""
    try:
        yield
    except KeyboardInterrupt:
        console.print(f"[yellow]interrupted[/yellow]; {interrupted or 'nothing was lost'}")
        raise typer.Exit(130) from None
    except NerveError as err:
        # escaped: a message quoting a list such as [nan, 0.1] is text, not rich markup
        console.print(f"[red]error:[/red] {escape(str(err))}", soft_wrap=True)
        raise typer.Exit(2) from None


@contextlib.contextmanager
def threads(n: int | None) -> Iterator[None]:
    """Torch's intra-op threads set to `n` inside, as they were after (each run records its count;
    a resumed run uses it again)."""
    from nerve.training import torch_threads

    if n is None:
        yield
        return
    if not 1 <= n <= MAX_THREADS:
        raise NerveError(f"`--threads` (={n}) must be an integer from 1 to {MAX_THREADS}.")
    with torch_threads(n):
        yield


def bar_columns() -> list[Any]:
    """A progress bar's columns: the stage, the bar, done / total, the time elapsed."""
    return [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]


@contextlib.contextmanager
def stage_bars(console: Console) -> Iterator[Callable[[str, int, int], None]]:
    """Rich progress bars, one per stage, driven by the library's ``progress(stage, done, total)``."""
    with Progress(*bar_columns(), console=console) as bar:
        handles: dict[str, Any] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in handles:
                handles[stage] = bar.add_task(stage, total=total)
            bar.update(handles[stage], completed=done, total=total)

        yield update


def metrics_text(metrics: dict[str, Any]) -> str:
    """``train 0.012 / 100.0%  test 0.5 / 80.0%``: a metrics line's losses and accuracies.

    >>> metrics_text({"step": 10, "train_loss": 0.0123, "train_acc": 1.0, "test_loss": 0.5})
    'train 0.0123 / 100.0%  test 0.5'
    """
    parts = []
    for split in ("train", "test"):
        if f"{split}_loss" in metrics:
            acc = metrics.get(f"{split}_acc")
            parts.append(
                f"{split} {metrics[f'{split}_loss']:.3g}" + (f" / {acc:.1%}" if acc is not None else "")
            )
    return "  ".join(parts)


def train_with_bar(console: Console, fit: Callable[[Callable[..., None]], Any]) -> Any:
    """``fit(callback)`` under a training bar that shows the last logged losses and accuracies."""
    columns = [TextColumn("[bold]training"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, TextColumn("{task.fields[metrics]}"), console=console) as bar:
        handle = bar.add_task("train", total=None, metrics="")

        def update(step: int, total: int, metrics: dict[str, Any]) -> None:
            bar.update(handle, completed=step, total=total, metrics=metrics_text(metrics))

        return fit(update)


def analyze_with_bar(console: Console, run_dir: Path, analyses: Sequence[str] | None = None) -> Any:
    """The analyses of a run, their results and its report (:func:`nerve.report.analyze`), with bars."""
    from nerve.report import analyze

    with stage_bars(console) as update:
        return analyze(run_dir, analyses=analyses, progress=update)


def rerender_report(console: Console, run: Any) -> None:
    """After a command added a result to a run: the report again, with it, rendered from the
    saved results (the default analyses that apply run first only where none of them was saved)."""
    from nerve.analysis.registry import registered
    from nerve.report import render

    defaults = [a for a in registered() if a.default]
    if not any(run.dir.analysis(a.name).is_file() for a in defaults) and any(
        a.applies(run) is None for a in defaults
    ):
        path = analyze_with_bar(console, run.path).report
    else:
        path = render(run.path)
    console.print(f"report: [bold]{path}[/bold]")
