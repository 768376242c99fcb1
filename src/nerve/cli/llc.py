"""``nerve llc RUN``: the local learning coefficient at every checkpoint, or, with ``--calibrate``,
the ε × nβ sweep that says which ε to use. Every default is the library's: the flags default to
the attributes of a default :class:`~nerve.analysis.LLCEstimator` and to the grid of
:func:`~nerve.analysis.llc.calibration.calibrate_llc`."""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from nerve.analysis.llc.calibration import DEFAULT_EPSILONS, DEFAULT_NBETAS
from nerve.analysis.llc.diagnostics import RULE
from nerve.analysis.llc.estimator import LLCEstimator
from nerve.analysis.registry import save
from nerve.cli._common import bar_columns, clean_errors, rerender_report
from nerve.errors import NerveError, NerveWarning

#: the estimator the flags describe when none is given: its attributes are the flags' defaults
DEFAULT = LLCEstimator()


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


def llc_command(
    run_dir: Path = typer.Argument(..., help="A run directory of a finite task (made by `nerve train`)."),
    chains: int = typer.Option(
        DEFAULT.n_chains, help="SGLD chains, advanced together (per cell with --calibrate)."
    ),
    draws: int = typer.Option(DEFAULT.n_draws, help="Draws per chain."),
    burnin: int = typer.Option(DEFAULT.n_burnin, help="Steps discarded before the draws."),
    epsilon: float = typer.Option(DEFAULT.epsilon, help="SGLD step size ε."),
    gamma: float = typer.Option(DEFAULT.gamma, help="Localisation strength γ."),
    nbeta: str = typer.Option(
        str(DEFAULT.nbeta), help="nβ: a number, 'batch' (m/log m) or 'dataset' (n/log n)."
    ),
    batch_size: int = typer.Option(DEFAULT.batch_size, help="Minibatch per chain and step."),
    seed: int = typer.Option(DEFAULT.seed, help="Seed of the chains."),
    sampler: str = typer.Option(
        DEFAULT.sampler, help="'sgld' or 'rmsprop_sgld' (preconditioned: mixes flat directions faster)."
    ),
    batched: bool = typer.Option(
        True,
        "--batched/--no-batched",
        help="Sample every checkpoint's chains in one batched run (default), or one checkpoint at a time.",
    ),
    steps: str = typer.Option(
        None, help="The checkpoints to estimate at, comma-separated (default: every one)."
    ),
    by_irrep: bool = typer.Option(
        False,
        "--by-irrep",
        help="Instead: the LLC in each key irrep's Fourier subspace of the embeddings and unembedding, "
        "and in the rest (analysis/llc_irreps.json); group tasks.",
    ),
    row: list[str] = typer.Option(
        None,
        "--row",
        help="With --by-irrep: other flags for one row, as ROW:FLAG=VALUE,... (for instance "
        "'complement:epsilon=2e-6,draws=4000'; FLAG one of epsilon, gamma, nbeta, draws, burnin, chains, "
        "sampler, seed); repeatable.",
    ),
    at_step: list[str] = typer.Option(
        None,
        "--at",
        help="Other flags at one checkpoint of the curve, as STEP:FLAG=VALUE,... (for instance "
        "'151:sampler=sgld,epsilon=1e-5,burnin=6000'; the FLAGs of --row); repeatable. That checkpoint "
        "is sampled on its own.",
    ),
    calibrate: bool = typer.Option(
        False, "--calibrate", help="Sweep ε x nβ at one checkpoint instead, and recommend the stable ε."
    ),
    step: int = typer.Option(None, help="With --calibrate: the checkpoint (default: the last)."),
    epsilons: str = typer.Option(
        ",".join(map("{:g}".format, DEFAULT_EPSILONS)),
        help="With --calibrate: the ε values, comma-separated.",
    ),
    nbetas: str = typer.Option(
        ",".join(map(str, DEFAULT_NBETAS)), help="With --calibrate: the nβ values, comma-separated."
    ),
    gammas: str = typer.Option(
        None, help="With --calibrate: the γ values, comma-separated (default: --gamma)."
    ),
    samplers: str = typer.Option(
        None, help="With --calibrate: the samplers, comma-separated (default: --sampler)."
    ),
) -> None:
    """Estimate the local learning coefficient at every checkpoint: analysis/llc.json, the stage
    boundaries where its trend changes, and (for a group task) the report with its curve. With
    --calibrate: a sweep over ε and nβ at one checkpoint, analysis/llc_calibration.json, and
    the ε to use."""
    from nerve.analysis.llc.trajectory import LLCTrajectory
    from nerve.training import load

    console = Console()
    with clean_errors(console):
        run = load(run_dir)
        estimator = LLCEstimator(
            epsilon=epsilon, gamma=gamma, nbeta=_nbeta(nbeta), n_chains=chains, n_draws=draws,
            n_burnin=burnin, batch_size=batch_size, seed=seed, sampler=sampler,
        )  # fmt: skip
        if at_step and (by_irrep or calibrate):
            raise NerveError(
                f"`--at` (={at_step[0]!r}) changes a checkpoint of the curve: it does not apply with "
                "--by-irrep or --calibrate."
            )
        step_params = _at(at_step or [])
        if calibrate:
            _calibrate(console, run, estimator, step, epsilons, nbetas, gammas, samplers)
            return
        at = None if steps is None else [int(x) for x in _numbers("steps", steps)]
        if row and not by_irrep:
            raise NerveError(f"`--row` (={row[0]!r}) changes a row of --by-irrep; add --by-irrep.")
        if by_irrep:
            _by_irrep(console, run, estimator, at, _rows(row or []))
            return
        for where, values in step_params.items():
            console.print(f"at step {where}: " + ", ".join(f"{k} {v}" for k, v in values.items()))
        with Progress(*bar_columns(), console=console) as bar:
            handle = bar.add_task("LLC", total=len(at or run.checkpoints))
            with warnings.catch_warnings():  # divergent chains are in the table below
                warnings.simplefilter("ignore", NerveWarning)
                trajectory = LLCTrajectory(
                    estimator=estimator, steps=at, batched=batched, step_params=step_params
                ).fit(run, progress=lambda _, done, total: bar.update(handle, completed=done, total=total))
        curve = trajectory.result_
        path = save(run, "llc", curve)
        table = Table(title=f"{run.path}: local learning coefficient", show_header=True)
        for name in ("step", "λ̂", "± (over chains)", "diverged chains", "MALA acceptance", "R̂", "bulk ESS",
                     "converged"):  # fmt: skip
            table.add_column(name)
        for at, m, sd, div, acc, rhat, ess, ok in zip(
            curve.steps, curve.llc_mean, curve.llc_std, curve.divergent_chains, curve.mala_acceptance,
            curve.rhat, curve.ess_bulk, curve.converged,
        ):  # fmt: skip
            table.add_row(str(at), f"{m:.3g}", f"{sd:.2g}", ", ".join(map(str, div)) or "–", f"{acc:.2f}",
                          f"{rhat:.3f}", f"{ess:.0f}", "yes" if ok else "[yellow]no[/yellow]")  # fmt: skip
        console.print(table)
        bad = [(at, v) for at, ok, v in zip(curve.steps, curve.converged, curve.verdict) if not ok]
        if bad:
            console.print(
                f"[yellow]warning[/yellow]: the estimate is not converged at {len(bad)} of "
                f"{len(curve.steps)} checkpoints ({RULE}); at step {bad[0][0]}: {bad[0][1]}. Calibrate "
                f"with `nerve llc {run.path} --calibrate` to find a step size, nβ and draws that converge."
            )
        console.print(f"stage boundaries (trend changes): {list(curve.boundaries) or 'none'}; {curve.rule}")
        console.print(f"wrote {path}")
        rerender_report(console, run)


#: the flags `--row` and `--at` may set, and the estimator's hyperparameter each one is
ROW_FLAGS = {"epsilon": "epsilon", "gamma": "gamma", "nbeta": "nbeta", "draws": "n_draws",
             "burnin": "n_burnin", "chains": "n_chains", "sampler": "sampler", "seed": "seed"}  # fmt: skip


def _rows(texts: list[str]) -> dict[str, dict[str, Any]]:
    """``--row ROW:FLAG=VALUE,...`` → ``{ROW: {hyperparameter: value}}``."""
    return _flag_sets("row", "ROW", "complement:epsilon=2e-6", texts)


def _at(texts: list[str]) -> dict[int, dict[str, Any]]:
    """``--at STEP:FLAG=VALUE,...`` → ``{STEP: {hyperparameter: value}}``."""
    sets = _flag_sets("at", "STEP", "151:sampler=sgld,epsilon=1e-5", texts)
    at: dict[int, dict[str, Any]] = {}
    for key, values in sets.items():
        if not key.isdigit():
            raise NerveError(f"`--at` (={key!r}:...) must name a checkpoint by its step, a whole number.")
        at.setdefault(int(key), {}).update(values)
    return at


def _flag_sets(option: str, what: str, example: str, texts: list[str]) -> dict[str, dict[str, Any]]:
    """``--OPTION KEY:FLAG=VALUE,...`` (repeatable) → ``{KEY: {hyperparameter: value}}``."""
    sets: dict[str, dict[str, Any]] = {}
    for text in texts:
        label, colon, rest = text.partition(":")
        pairs = [p.partition("=") for p in rest.split(",") if p.strip()]
        if not colon or not label.strip() or not pairs or any(not eq for _, eq, _ in pairs):
            raise NerveError(f"`--{option}` (={text!r}) must read {what}:FLAG=VALUE,..., e.g. {example!r}.")
        values: dict[str, Any] = {}
        for flag, _, value in pairs:
            flag, value = flag.strip(), value.strip()
            if flag not in ROW_FLAGS:
                raise NerveError(f"`--{option}` (={text!r}) sets {flag!r}; it may set {sorted(ROW_FLAGS)}.")
            if flag in ("sampler", "nbeta"):
                values[ROW_FLAGS[flag]] = value if flag == "sampler" else _nbeta(value)
                continue
            integer = flag in ("draws", "burnin", "chains", "seed")
            try:
                number = float(value)
            except ValueError:
                number = math.nan
            if not math.isfinite(number) or (integer and not number.is_integer()):
                kind = "a whole number" if integer else "a finite number"
                raise NerveError(f"`--{option}` (={text!r}): {flag} must be {kind}, not {value!r}.")
            values[ROW_FLAGS[flag]] = int(number) if integer else number
        sets.setdefault(label.strip(), {}).update(values)
    return sets


def _by_irrep(
    console: Console, run: Any, estimator: LLCEstimator, steps: list[int] | None,
    rows: dict[str, dict[str, Any]],
) -> None:  # fmt: skip
    """``nerve llc --by-irrep``: the key irreps (the Fourier analysis of the last checkpoint), an LLC
    per irrep and checkpoint with the flags' estimator, its table, the JSON and the report."""
    from nerve.analysis.llc.irreps import IrrepLLC
    from nerve.analysis.registry import fit_all, get

    why = get("llc_irreps").applies(run)
    if why is not None:
        raise NerveError(f"`--by-irrep` does not apply to {run.path}: {why}.")
    fourier: Any = fit_all(run, ["fourier"])["fourier"]
    if isinstance(fourier, str):  # the Fourier analysis does not apply, and says why
        raise NerveError(f"`--by-irrep` needs the key irreps of {run.path}, but {fourier}.")
    labels = [fourier.irreps[i] for i in fourier.key_irreps]
    n_steps = len(steps or run.checkpoints)
    console.print(f"key irreps {labels} and the rest: {len(labels) + 1} subspaces x {n_steps} checkpoints")
    for label, values in rows.items():
        console.print(f"row {label}: " + ", ".join(f"{k} {v}" for k, v in values.items()))
    with Progress(*bar_columns(), console=console) as bar:
        handle = bar.add_task("LLC by irrep", total=n_steps)
        with warnings.catch_warnings():  # the table says which estimates are not converged
            warnings.simplefilter("ignore", NerveWarning)
            fitted = IrrepLLC(estimator=estimator, steps=steps, row_params=rows).fit(
                run, fourier=fourier, progress=lambda _, done, total: bar.update(handle, completed=done)
            )
    result = fitted.result_
    path = save(run, "llc_irreps", result)
    table = Table(title=f"{run.path}: LLC by irrep (λ̂ ± over chains; ✗ not converged)")
    table.add_column("step")
    for label, dim in zip(result.irreps, result.dims):
        table.add_column(f"{label} (dim {dim})")
    for j, at in enumerate(result.steps):
        cells = (f"{m[j]:.3g} ± {sd[j]:.2g}" + ("" if ok[j] else " ✗")
                 for m, sd, ok in zip(result.llc_mean, result.llc_std, result.converged))  # fmt: skip
        table.add_row(str(at), *cells)
    console.print(table)
    bad = [(at, label, v) for label, row, oks in zip(result.irreps, result.verdict, result.converged)
           for at, v, ok in zip(result.steps, row, oks) if not ok]  # fmt: skip
    if bad:
        at, label, verdict = bad[0]
        console.print(
            f"[yellow]warning[/yellow]: {len(bad)} of {len(result.irreps) * len(result.steps)} estimates are "
            f"not converged ({RULE}); at step {at}, {label}: {verdict}. Calibrate with `nerve llc {run.path} "
            "--calibrate` and give them more draws."
        )
    console.print(f"wrote {path}")
    rerender_report(console, run)


def _calibrate(
    console: Console, run: Any, estimator: LLCEstimator, step: int | None, epsilons: str, nbetas: str,
    gammas: str | None, samplers: str | None,
) -> None:  # fmt: skip
    """``nerve llc --calibrate``: the sweep, its table, the JSON, and the report when there is one."""
    from nerve.analysis.llc.calibration import calibrate_llc
    from nerve.analysis.llc.trajectory import cross_entropy64, training_data

    at = run.checkpoints[-1] if step is None else step
    if at not in run.checkpoints:
        raise NerveError(f"`--step` (={at}) must be a checkpoint of {run.path}: {list(run.checkpoints)}.")
    grid, rules = _numbers("epsilons", epsilons), [_nbeta(x) for x in nbetas.split(",") if x.strip()]
    gamma_list = None if gammas is None else _numbers("gammas", gammas)
    sampler_list = None if samplers is None else [x.strip() for x in samplers.split(",") if x.strip()]
    cells = len(grid) * len(rules) * len(gamma_list or [0]) * len(sampler_list or [0])
    console.print(
        f"calibrating at step {at}: {cells} cells x {estimator.n_chains} chains x "
        f"{estimator.n_burnin + estimator.n_draws} steps, in one batched run per sampler"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NerveWarning)
        cal = calibrate_llc(
            run.model_at(at), training_data(run), epsilons=grid, nbetas=rules, estimator=estimator,
            loss_fn=cross_entropy64, gammas=gamma_list, samplers=sampler_list,
        )  # fmt: skip
    path = save(run, "llc_calibration", cal)
    console.print(_calibration_view(run, at, cal))
    console.print(f"✓ healthy, ★ recommended. {cal.rule}.")
    best = cal.best()
    if best is None:
        soonest = cal.fewest_draws()
        hint = (
            "no cell would converge by more draws alone: widen the ε grid or change γ" if soonest is None
            else f"the soonest to converge would need about {soonest['draws_needed']:.0f} draws per chain "
            f"(now {estimator.n_draws}): nerve llc {run.path} {_flags(soonest)} "
            f"--draws {soonest['draws_needed']:.0f}"
        )  # fmt: skip
        console.print(f"[yellow]no stable region[/yellow]: {hint}.")
    else:
        console.print(f"use: nerve llc {run.path} {_flags(best)}")
    console.print(f"wrote {path}")
    rerender_report(console, run)


def _flags(cell: dict[str, Any]) -> str:
    """The `nerve llc` flags of a cell of :meth:`LLCCalibrationResult.best` or ``fewest_draws``."""
    return (f"--epsilon {cell['epsilon']:g} --nbeta {cell['nbeta']:.6g} --gamma {cell['gamma']:g} "
            f"--sampler {cell['sampler']}")  # fmt: skip


def _calibration_view(run: Any, at: int, cal: Any) -> Table:
    """One row per ε, one column per nβ: ``mark λ̂ ± spread; acceptance[; k diverged]``."""
    table = Table(
        title=f"{run.path} at step {at}: LLC calibration (λ̂ ± spread; MALA acceptance; R̂, bulk ESS)"
    )
    table.add_column("ε")
    for i in range(len(cal.nbetas)):
        table.add_column(cal.row_label(i))
    for j, eps in enumerate(cal.epsilons):
        cells_text = []
        for i in range(len(cal.nbetas)):
            mark = "★" if cal.recommended[i] == eps else ("✓" if cal.healthy[i][j] else "✗")
            diverged = cal.divergent_chains[i][j]
            diagnosed = f"; R̂ {cal.rhat[i][j]:.3f}, ESS {cal.ess_bulk[i][j]:.0f}" if cal.rhat else ""
            cells_text.append(
                f"{mark} {cal.llc_mean[i][j]:.3g} ± {cal.llc_std[i][j]:.2g}; {cal.mala_acceptance[i][j]:.2f}"
                + diagnosed
                + (f"; {diverged} diverged" if diverged else "")
            )
        table.add_row(f"{eps:g}", *cells_text)
    return table
