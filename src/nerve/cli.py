"""The `nerve` command. It only parses flags and renders results; the mathematics is in the library."""

from __future__ import annotations

import contextlib
import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
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


@contextlib.contextmanager
def _clean_errors(console: Console, *, interrupted: str | None = None) -> Iterator[None]:
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


@groups_app.command("show")
def groups_show(
    name: str = typer.Argument(..., help="A group name: C113, D5, S5, A5, Q8, C2xS3, ..."),
    irreps: bool = typer.Option(False, "--irreps", help="Also list the real irreps with their check."),
) -> None:
    """Print a group's character table (and, with --irreps, its real irreducible representations)."""
    console = Console()
    with _clean_errors(console):
        group = parse_group(name)
        table = group.character_table()
        console.print(character_table_view(table))
        console.print(classes_view(table))
        if irreps:
            console.print(irreps_view(group))


def _metrics_text(metrics: dict[str, Any]) -> str:
    parts = []
    for split in ("train", "test"):
        if f"{split}_loss" in metrics:
            acc = metrics.get(f"{split}_acc")
            parts.append(
                f"{split} {metrics[f'{split}_loss']:.3g}" + (f" / {acc:.1%}" if acc is not None else "")
            )
    return "  ".join(parts)


def _train_with_bar(console: Console, fit) -> Any:
    columns = [TextColumn("[bold]training"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, TextColumn("{task.fields[metrics]}"), console=console) as bar:
        handle = bar.add_task("train", total=None, metrics="")

        def update(step: int, total: int, metrics: dict[str, Any]) -> None:
            bar.update(handle, completed=step, total=total, metrics=_metrics_text(metrics))

        return fit(update)


def _analyze_with_bar(console: Console, run_dir: Path) -> Any:
    from nerve.report import analyze

    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=console) as bar:
        handles: dict[str, Any] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in handles:
                handles[stage] = bar.add_task(stage, total=total)
            bar.update(handles[stage], completed=done, total=total)

        return analyze(run_dir, progress=update)


def _summary(console: Console, analysed: Any) -> None:
    from nerve.report._html import key_numbers

    table = Table(title=f"{analysed.run.path}: what the network learned", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    for name, value in key_numbers(analysed.run, analysed.fourier, analysed.progress, analysed.circles):
        table.add_row(name, value)
    console.print(table)
    console.print(f"report: [bold]{analysed.report}[/bold]  (open it in a browser; it works offline)")


@app.command("analyze")
def analyze_command(
    run_dir: Path = typer.Argument(..., help="A run directory of a group task (made by `nerve train`)."),
) -> None:
    """Read the algorithm off a run: irreps of its weights, neurons and logits, progress measures,
    analysis/*.json and a self-contained report.html."""
    console = Console()
    with _clean_errors(console):
        analysed = _analyze_with_bar(console, run_dir)
    _summary(console, analysed)


@app.command("demo")
def demo_command(
    out: Path = typer.Option(Path("runs/demo"), help="Run directory for the demo."),
) -> None:
    """Train the small modular-addition model (a+b mod 59), analyse it and write the report.

    An existing demo run in OUT is reused (and resumed if it was interrupted)."""
    from nerve.training import PRESETS, RunDir, resume, train
    from nerve.training.run import read_config

    console = Console()
    config = PRESETS["demo"]
    with _clean_errors(console, interrupted=f"run `nerve demo --out {out}` again to continue"):
        if RunDir(out).holds_run:
            if read_config(out) != config:
                raise NerveError(f"`--out` ({out}) holds a run that is not the demo; choose another --out.")
            console.print(f"reusing the demo run in {out}")
            _train_with_bar(console, lambda callback: resume(out, callback=callback))
        else:
            _train_with_bar(console, lambda callback: train(config, out, callback=callback))
        analysed = _analyze_with_bar(console, out)
    _summary(console, analysed)


@app.command("train")
def train_command(
    preset: str = typer.Option(None, help="A published setup: nanda2023, chughtai2023."),
    task: str = typer.Option(None, help="modadd (a+b mod p), modular, group, parity or superposition."),
    p: int = typer.Option(None, help="The prime of a modular task."),
    op: str = typer.Option(None, help="The operation of a modular task: add, sub, mul, div, x2+y2, ..."),
    group: str = typer.Option(None, help="The group of a group task, e.g. S5 or C2xS3."),
    model: str = typer.Option(None, help="mlp, transformer or superposition."),
    steps: int = typer.Option(None, help="Optimiser steps (with --resume: extend the run to this many)."),
    lr: float = typer.Option(None, help="AdamW learning rate."),
    weight_decay: float = typer.Option(None, help="AdamW weight decay."),
    train_fraction: float = typer.Option(None, help="Fraction of the domain to train on."),
    batch_size: int = typer.Option(None, help="Minibatch size (default: the full training set)."),
    seed: int = typer.Option(None, help="Seed of the split, the initialisation and the batches."),
    out: Path = typer.Option(None, help="Run directory (default runs/<preset or task>-seed<seed>)."),
    resume: Path = typer.Option(None, help="Continue the run in this directory from its last checkpoint."),
) -> None:
    """Train a model into a run directory (config, metrics, safetensors checkpoints)."""
    from nerve.training import PRESETS, RunDir, TrainConfig, make_task, train
    from nerve.training import resume as resume_run

    console = Console()
    with _clean_errors(console):
        if resume is not None:
            fixed = {
                "--preset": preset, "--task": task, "--p": p, "--op": op, "--group": group, "--model": model,
                "--lr": lr, "--weight-decay": weight_decay, "--train-fraction": train_fraction,
                "--batch-size": batch_size, "--seed": seed, "--out": out,
            }  # fmt: skip
            given = [flag for flag, value in fixed.items() if value is not None]
            if given:
                raise NerveError(
                    f"`--resume` continues the run in {resume} with its saved config; it takes only "
                    f"--steps (to extend it), not {', '.join(given)}. Start a new run with --out instead."
                )
            run_dir = resume
            console.print(f"resuming {run_dir}")
            fit = lambda callback: resume_run(run_dir, steps=steps, callback=callback)  # noqa: E731
        else:
            if preset is not None and preset not in PRESETS:
                raise NerveError(f"`--preset` (={preset!r}) must be one of {sorted(PRESETS)}.")
            config = PRESETS[preset] if preset else TrainConfig()
            if task == "modadd" and op not in (None, "add"):
                raise NerveError(
                    f"`--task modadd` is a+b mod p, so `--op` (={op!r}) contradicts it; for another "
                    f"operation use --task modular --op {op}."
                )
            changes = {
                "task__kind": {"modadd": "modular"}.get(task, task),
                "task__p": p,
                "task__op": "add" if task == "modadd" else op,
                "task__group": group,
                "model__kind": model,
                "steps": steps,
                "lr": lr,
                "weight_decay": weight_decay,
                "train_fraction": train_fraction,
                "batch_size": batch_size,
                "seed": seed,
            }
            config = config.replace(**{k: v for k, v in changes.items() if v is not None})
            make_task(config.task, seed=config.seed)  # a bad task fails here, before the progress bar
            run_dir = out or Path("runs") / f"{preset or config.task.kind}-seed{config.seed}"
            if RunDir(run_dir).holds_run:
                raise NerveError(
                    f"run directory {run_dir} already holds a run; resume it or choose another --out."
                )
            fit = lambda callback: train(config, run_dir, callback=callback)  # noqa: E731
    with _clean_errors(console, interrupted=f"continue with: nerve train --resume {run_dir}"):
        run = _train_with_bar(console, fit)
    last = run.metrics()[-1] if run.metrics() else {}
    console.print(f"done: {run.path} ({len(run.checkpoints)} checkpoints)  {_metrics_text(last)}")


def _nbeta(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text.strip()


def _numbers(name: str, text: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise NerveError(f"`--{name}` (={text!r}) must be numbers separated by commas.") from None


def _calibrate(
    console: Console, run: Any, estimator: Any, step: int | None, epsilons: str, nbetas: str
) -> None:
    """``nerve llc --calibrate``: the sweep, its table, the JSON, and the report when there is one."""
    from nerve.analysis.llc_calibration import calibrate_llc
    from nerve.analysis.llc_curve import cross_entropy64, training_data

    at = run.checkpoints[-1] if step is None else step
    if at not in run.checkpoints:
        raise NerveError(f"`--step` (={at}) must be a checkpoint of {run.path}: {list(run.checkpoints)}.")
    grid, rules = _numbers("epsilons", epsilons), [_nbeta(x) for x in nbetas.split(",") if x.strip()]
    cells = len(grid) * len(rules)
    console.print(
        f"calibrating at step {at}: {cells} cells x {estimator.num_chains} chains x "
        f"{estimator.num_burnin + estimator.num_draws} steps, in one batched run"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        cal = calibrate_llc(
            run.model_at(at), training_data(run), epsilons=grid, nbetas=rules, estimator=estimator,
            loss_fn=cross_entropy64,
        )  # fmt: skip
    path = run.dir.write_analysis("llc_calibration", cal.to_json())
    table = Table(title=f"{run.path} at step {at}: LLC calibration (λ̂ ± spread; MALA acceptance)")
    table.add_column("ε")
    for label, value in zip(cal.nbeta_labels, cal.nbetas):
        table.add_column(f"nβ = {label}" + ("" if label == f"{value}" else f" ({value:.4g})"))
    for j, eps in enumerate(cal.epsilons):
        cells_text = []
        for i in range(len(cal.nbetas)):
            mark = "★" if cal.recommended[i] == eps else ("✓" if cal.healthy[i][j] else "✗")
            diverged = cal.divergent_chains[i][j]
            cells_text.append(
                f"{mark} {cal.llc_mean[i][j]:.3g} ± {cal.llc_std[i][j]:.2g}; {cal.mala_acceptance[i][j]:.2f}"
                + (f"; {diverged} diverged" if diverged else "")
            )
        table.add_row(f"{eps:g}", *cells_text)
    console.print(table)
    console.print(f"✓ healthy, ★ recommended. {cal.rule}.")
    best = cal.recommendation()
    if best is None:
        console.print("[yellow]no stable region[/yellow]: widen the ε grid, add draws, or change γ.")
    else:
        flags = f"--epsilon {best[0]:g} --nbeta {best[1]:.6g} --gamma {estimator.gamma:g}"
        console.print(f"use: nerve llc {run.path} {flags}")
    console.print(f"wrote {path}")
    if getattr(run.task, "group", None) is not None:
        analysed = _analyze_with_bar(console, run.path)
        console.print(f"report: [bold]{analysed.report}[/bold]")


@app.command("prove")
def prove_command(
    run_dir: Path = typer.Argument(..., help="A run directory of a finite task."),
    claim: str = typer.Option("correct", help="'correct', 'accuracy', 'margin' or 'robust'."),
    at_least: float = typer.Option(None, help="For accuracy: the fraction; for margin: the logit gap."),
    radius: float = typer.Option(None, help="For robust: the L∞ radius of the box of embeddings."),
    step: int = typer.Option(None, help="The checkpoint (default: the last)."),
    out: Path = typer.Option(None, help="Where to write the certificate (default: RUN/proofs/CLAIM.json)."),
) -> None:
    """Prove a claim about a checkpoint on every input of its task and write a certificate.
    Exit status: 0 proved, 1 refuted, 3 undecided (2: the command could not run)."""
    from nerve._io import write_text_atomic
    from nerve.proofs import Accuracy, Correct, Margin, Robust, certify
    from nerve.training import load

    console = Console()
    with _clean_errors(console):
        needs = {"correct": None, "accuracy": "at_least", "margin": "at_least", "robust": "radius"}
        if claim not in needs:
            raise NerveError(f"`--claim` (={claim!r}) must be one of {sorted(needs)}.")
        given = {"at_least": at_least, "radius": radius}
        for name, value in given.items():
            flag = "--" + name.replace("_", "-")
            if value is None and needs[claim] == name:
                raise NerveError(f"`--claim` (={claim!r}) needs {flag}.")
            if value is not None and needs[claim] != name:
                raise NerveError(f"`--claim` (={claim!r}) takes no {flag}.")
        kinds = {"correct": Correct, "accuracy": Accuracy, "margin": Margin, "robust": Robust}
        arg = needs[claim]
        statement = kinds[claim]() if arg is None else kinds[claim](**{arg: given[arg]})
        run = load(run_dir)
        if not hasattr(run.task, "enumerate"):
            raise NerveError(
                f"`run_dir` ({run_dir}) trains on {run.task.name!r}, whose inputs are sampled, not a "
                f"finite set: nerve proves claims on finite tasks (modular, group, parity) only."
            )
        if out is not None and out.is_dir():
            raise NerveError(f"`--out` ({out}) is a directory; it must name the certificate file to write.")
        if step is not None and step not in run.checkpoints:
            raise NerveError(
                f"`--step` (={step}) must be a checkpoint of {run.path}: {list(run.checkpoints)}."
            )
        cert = certify(run, statement, step=step)
        path = out if out is not None else run.dir.proof(claim)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, cert.to_json())
        r = cert.result
        colour = {"proved": "green", "refuted": "red", "undecided": "yellow"}[r.verdict]
        console.print(f"[bold {colour}]{r.verdict}[/bold {colour}]: {cert.statement_text} (step {cert.step})")
        console.print(
            f"inputs {r.n_inputs}: {r.n_hold} hold, {len(r.failing)} fail, {len(r.undecided)} undecided; "
            f"least margin >= {r.margin_lower:.6g}; accuracy in [{r.accuracy_bounds[0]:.6g}, "
            f"{r.accuracy_bounds[1]:.6g}]; {r.flops:.3g} FLOPs in {r.seconds:.2f} s"
        )
        if r.failing:
            console.print(f"failing inputs (first 20): {list(r.failing[:20])}")
        console.print(f"wrote {path}; verify with: nerve check {path} {run.path}")
        if out is None and getattr(run.task, "group", None) is not None:
            analysed = _analyze_with_bar(console, run.path)
            console.print(f"report: [bold]{analysed.report}[/bold]")
    raise typer.Exit(PROVE_EXIT[r.verdict])


#: `nerve prove`'s exit status by verdict (2 is a usage error, as for every command).
PROVE_EXIT = {"proved": 0, "refuted": 1, "undecided": 3}


@app.command("check")
def check_command(
    certificate: Path = typer.Argument(..., help="A certificate written by `nerve prove`."),
    run_dir: Path = typer.Argument(..., help="The run directory it is about."),
) -> None:
    """Verify a certificate independently: exit 0 when it holds, 1 when it is rejected, 2 when the
    file is not a certificate."""
    from nerve.proofs import check

    console = Console()
    with _clean_errors(console):
        report = check(certificate, run_dir)
    if report.ok:
        console.print(f"[bold green]certificate verified[/bold green] on {report.checked_inputs} inputs")
        return
    console.print("[bold red]certificate rejected[/bold red]:")
    for problem in report.problems:
        console.print(f"  - {problem}")
    raise typer.Exit(1)


@app.command("sweep")
def sweep_command(
    args: list[str] = typer.Argument(..., help="SPEC (a JSON sweep spec), or: summary DIR."),
    out: Path = typer.Option(None, help="The sweep directory (runs/ and sweep.sqlite)."),
    workers: int = typer.Option(1, help="Processes training at once."),
    ray: str = typer.Option(
        None, "--ray", help="Run on the Ray cluster at this address ('local': start one here)."
    ),
    threads: int = typer.Option(
        None, help="Torch threads of every run (default: torch's); give a restart the same number."
    ),
) -> None:
    """Train and analyse a grid of runs (`nerve sweep SPEC --out DIR`); a restarted sweep skips
    finished runs. `nerve sweep summary DIR` prints its table."""
    from nerve.sweep import (
        LOGIT_KEY,
        key_irrep_counts,
        learning_orders,
        load_spec,
        logit_key_counts,
        run_sweep,
        summary,
    )

    console = Console()
    with _clean_errors(console), _threads(threads):
        if args[0] == "summary":
            if len(args) != 2:
                raise NerveError(f"`nerve sweep summary` takes one sweep directory; got {args[1:]}.")
            table_rows = summary(args[1])
        else:
            if len(args) != 1 or out is None:
                raise NerveError("`nerve sweep SPEC --out DIR` takes one spec file and an --out directory.")
            spec = load_spec(args[0])
            console.print(f"{len(spec.configs)} runs x analyses {list(spec.analyses)} into {out}")
            table_rows = run_sweep(
                spec, out, workers=workers, ray_address=ray,
                progress=lambda _, done, total: console.print(f"  {done}/{total} runs done"),
            )  # fmt: skip
        table = Table(title="sweep results")
        for name in ("run", "analysis", "result"):
            table.add_column(name)
        for r in table_rows:
            table.add_row(r["run_id"], r["analysis"], json.dumps(r["result"])[:160])
        console.print(table)
        runs = len({r["run_id"] for r in table_rows if r["analysis"] == "fourier"})
        if runs:
            counts = key_irrep_counts(table_rows)
            shares = ", ".join(f"{label}: {n}/{runs}" for label, n in counts.items()) or "none in any run"
            console.print(f"key irreps across runs (universality): {shares}")
        orders = learning_orders(table_rows)
        if orders:
            by_logits = logit_key_counts(table_rows)
            shares = ", ".join(f"{label}: {n}/{len(orders)}" for label, n in by_logits.items()) or "none"
            console.print(f"irreps with >= {LOGIT_KEY:g} of the final logit variance: {shares}")
        for o in orders:
            at = o["learned_at"]
            steps = ", ".join(f"{x} at {at[x]:,}" if x in at else x for x in o["order"]) or "-"
            console.print(f"  seed {o['seed']} ({o['run_id']}) learned its key irreps in the order: {steps}")
        if orders:
            from nerve.report import write_universality

            page = write_universality(args[1] if args[0] == "summary" else out, table_rows)
            console.print(f"universality table and learning-order figures: {page}")


#: More threads than this is a typo, not a machine (torch's own limit is an int32).
MAX_THREADS = 1024


@contextlib.contextmanager
def _threads(n: int | None) -> Iterator[None]:
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


@app.command("llc")
def llc_command(
    run_dir: Path = typer.Argument(..., help="A run directory of a finite task (made by `nerve train`)."),
    chains: int = typer.Option(4, help="SGLD chains, advanced together (per cell with --calibrate)."),
    draws: int = typer.Option(200, help="Draws per chain."),
    burnin: int = typer.Option(0, help="Steps discarded before the draws."),
    epsilon: float = typer.Option(1e-4, help="SGLD step size ε."),
    gamma: float = typer.Option(100.0, help="Localisation strength γ."),
    nbeta: str = typer.Option("batch", help="nβ: a number, 'batch' (m/log m) or 'dataset' (n/log n)."),
    batch_size: int = typer.Option(64, help="Minibatch per chain and step."),
    seed: int = typer.Option(0, help="Seed of the chains."),
    calibrate: bool = typer.Option(
        False, "--calibrate", help="Sweep ε x nβ at one checkpoint instead, and recommend the stable ε."
    ),
    step: int = typer.Option(None, help="With --calibrate: the checkpoint (default: the last)."),
    epsilons: str = typer.Option(
        "1e-7,3e-7,1e-6,3e-6,1e-5,3e-5,1e-4,3e-4", help="With --calibrate: the ε values, comma-separated."
    ),
    nbetas: str = typer.Option("batch,dataset", help="With --calibrate: the nβ values, comma-separated."),
) -> None:
    """Estimate the local learning coefficient at every checkpoint: analysis/llc.json, the stage
    boundaries where its trend changes, and (for a group task) the report with its curve. With
    --calibrate: a sweep over ε and nβ at one checkpoint, analysis/llc_calibration.json, and
    the ε to use."""
    from nerve.analysis.llc import LLCEstimator
    from nerve.analysis.llc_curve import LLCTrajectory
    from nerve.training import load

    console = Console()
    with _clean_errors(console):
        run = load(run_dir)
        estimator = LLCEstimator(
            epsilon=epsilon, gamma=gamma, nbeta=_nbeta(nbeta), num_chains=chains, num_draws=draws,
            num_burnin=burnin, batch_size=batch_size, seed=seed,
        )  # fmt: skip
        if calibrate:
            _calibrate(console, run, estimator, step, epsilons, nbetas)
            return
        columns = [
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        ]
        with Progress(*columns, console=console) as bar:
            handle = bar.add_task("LLC", total=len(run.checkpoints))
            with warnings.catch_warnings():  # divergent chains are in the table below
                warnings.simplefilter("ignore", UserWarning)
                trajectory = LLCTrajectory(estimator=estimator).fit(
                    run, progress=lambda _, done, total: bar.update(handle, completed=done, total=total)
                )
        curve = trajectory.result_
        path = run.dir.write_analysis("llc", curve.to_json())
        table = Table(title=f"{run.path}: local learning coefficient", show_header=True)
        for name in ("step", "λ̂", "± (over chains)", "diverged chains", "MALA acceptance"):
            table.add_column(name)
        for at, m, sd, div, acc in zip(
            curve.steps, curve.llc_mean, curve.llc_std, curve.divergent_chains, curve.mala_acceptance
        ):
            table.add_row(str(at), f"{m:.3g}", f"{sd:.2g}", ", ".join(map(str, div)) or "–", f"{acc:.2f}")
        console.print(table)
        console.print(f"stage boundaries (trend changes): {list(curve.boundaries) or 'none'}; {curve.rule}")
        console.print(f"wrote {path}")
        if getattr(run.task, "group", None) is not None:
            analysed = _analyze_with_bar(console, run_dir)
            console.print(f"report: [bold]{analysed.report}[/bold]")
