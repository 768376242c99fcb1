"""``nerve prove RUN --claim C``: a claim proved on every input of a finite task, as a certificate;
``nerve prove MODEL_DIR --prompts FILE``: the same about a Hugging Face causal LM's next token on a
family of prompts. Its exit status is the verdict (:data:`PROVE_EXIT`)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from nerve.cli._common import clean_errors, rerender_report
from nerve.errors import NerveError

#: `nerve prove`'s exit status by verdict (2 is a usage error, as for every command).
PROVE_EXIT = {"proved": 0, "refuted": 1, "undecided": 3}

#: each claim, and the flag that carries its one number (None: it takes none)
_NEEDS = {"correct": None, "accuracy": "at_least", "margin": "at_least", "robust": "radius", "top_k": "k"}


def _statement(claim: str, at_least: float | None, radius: float | None, k: int | None = None):
    """The library's statement for the flags, or a NerveError naming the flag that is missing or extra."""
    from nerve.proofs import Accuracy, Correct, Margin, Robust, TopK

    if claim not in _NEEDS:
        raise NerveError(f"`--claim` (={claim!r}) must be one of {sorted(_NEEDS)}.")
    given = {"at_least": at_least, "radius": radius, "k": k}
    for name, value in given.items():
        flag = "--" + name.replace("_", "-")
        if value is None and _NEEDS[claim] == name:
            raise NerveError(f"`--claim` (={claim!r}) needs {flag}.")
        if value is not None and _NEEDS[claim] != name:
            raise NerveError(f"`--claim` (={claim!r}) takes no {flag}.")
    kinds = {"correct": Correct, "accuracy": Accuracy, "margin": Margin, "robust": Robust, "top_k": TopK}
    arg = _NEEDS[claim]
    return kinds[claim]() if arg is None else kinds[claim](**{arg: given[arg]})


def prove_command(
    run_dir: Path = typer.Argument(
        ..., help="A run directory of a finite task, or with --prompts a Hugging Face model folder."
    ),
    claim: str = typer.Option("correct", help="'correct', 'accuracy', 'margin', 'robust' or 'top_k'."),
    at_least: float = typer.Option(None, help="For accuracy: the fraction; for margin: the logit gap."),
    radius: float = typer.Option(None, help="For robust: the L∞ radius of the box of embeddings."),
    k: int = typer.Option(None, help="For top_k: the target is among the k largest logits."),
    prompts: Path = typer.Option(
        None, help="A prompt family file (JSON, nerve.proofs.language): RUN_DIR is then a model folder."
    ),
    step: int = typer.Option(None, help="The checkpoint (default: the last)."),
    method: str = typer.Option(
        "exhaustive",
        help="'exhaustive' (every input through the network) or 'rho_sets' (an MLP on a group task, "
        "through its idealised mechanism: a compact proof).",
    ),
    out: Path = typer.Option(
        None, help="Where to write the certificate (default: RUN/proofs/CLAIM.json, CLAIM.METHOD.json)."
    ),
) -> None:
    """Prove a claim about a checkpoint on every input of its task and write a certificate.
    Exit status: 0 proved, 1 refuted, 3 undecided (2: the command could not run)."""
    from nerve._io import write_text_atomic
    from nerve.proofs import certify
    from nerve.training import load

    console = Console()
    if prompts is not None:
        with clean_errors(console):
            if step is not None or method != "exhaustive":
                raise NerveError(
                    "`--prompts` proves a model folder exhaustively: it takes no --step or --method."
                )
            verdict = _prove_prompts(console, run_dir, prompts, _statement(claim, at_least, radius, k), out)
        raise typer.Exit(PROVE_EXIT[verdict])
    with clean_errors(console):
        statement = _statement(claim, at_least, radius, k)
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
        cert = certify(run, statement, step=step, method=method)
        path = out if out is not None else run.dir.proof(claim, method)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, cert.to_json())
        r = cert.result
        _print_verdict(console, r, f"{cert.statement_text} (step {cert.step})", "inputs")
        if r.failing:
            console.print(f"failing inputs (first 20): {list(r.failing[:20])}")
        if cert.compact is not None:
            c = cert.compact
            share = r.flops / c["brute_force_flops"]
            console.print(
                f"{cert.method_name}: {share:.1%} of the exhaustive proof's FLOPs; "
                f"ideal margin {c['ideal_margin']:.4g}, distance from the ideal (means, doubled): "
                f"neuron {c['neuron_error']:.3g}, exact part {c['exact_deviation']:.3g}, uncovered units "
                f"{c['uncovered_error']:.3g}; {c['covered_units']} of {c['units']} units covered"
            )
        console.print(f"wrote {path}; verify with: nerve check {path} {run.path}")
        if out is None:
            rerender_report(console, run)
    raise typer.Exit(PROVE_EXIT[r.verdict])


def _prove_prompts(console: Console, model_dir: Path, prompts: Path, statement, out: Path | None) -> str:
    from nerve._io import write_text_atomic
    from nerve.proofs.language import certify_prompts

    if out is not None and out.is_dir():
        raise NerveError(f"`--out` ({out}) is a directory; it must name the certificate file to write.")
    cert = certify_prompts(model_dir, prompts, statement)
    path = out if out is not None else prompts.with_name(f"{prompts.stem}.{statement.kind}.certificate.json")
    write_text_atomic(path, cert.to_json())
    r = cert.result
    _print_verdict(console, r, f"{cert.statement_text} ({cert.model})", "prompts")
    if r.failing:
        console.print(f"failing prompts (token ids, first 20): {[list(x) for x in r.failing[:20]]}")
    console.print(f"wrote {path}; verify with: nerve check {path} {model_dir} --prompts {prompts}")
    return r.verdict


def export_hf_command(
    run_dir: Path = typer.Argument(..., help="A run directory of the gpt2 model on a finite task."),
    out: Path = typer.Argument(..., help="The Hugging Face model folder to write."),
    step: int = typer.Option(None, help="The checkpoint (default: the last)."),
) -> None:
    """Write a gpt2 run's checkpoint as a Hugging Face model folder, with prompts.json: its task's
    every input as a prompt family, for `nerve prove FOLDER --prompts FOLDER/prompts.json`."""
    from nerve.proofs.language import export_hf
    from nerve.training import load

    console = Console()
    with clean_errors(console):
        run = load(run_dir)
        if step is not None and step not in run.checkpoints:
            raise NerveError(
                f"`--step` (={step}) must be a checkpoint of {run.path}: {list(run.checkpoints)}."
            )
        folder, family = export_hf(run, out, step=step)
    console.print(f"wrote {folder} and {family}; prove with: nerve prove {folder} --prompts {family}")


def _print_verdict(console: Console, r, what: str, inputs: str) -> None:
    colour = {"proved": "green", "refuted": "red", "undecided": "yellow"}[r.verdict]
    console.print(f"[bold {colour}]{r.verdict}[/bold {colour}]: {what}")
    console.print(
        f"{inputs} {r.n_inputs}: {r.n_hold} hold, {len(r.failing)} fail, {len(r.undecided)} undecided; "
        f"least margin >= {r.margin_lower:.6g}; accuracy in [{r.accuracy_bounds[0]:.6g}, "
        f"{r.accuracy_bounds[1]:.6g}]; {r.flops:.3g} FLOPs in {r.seconds:.2f} s"
    )
