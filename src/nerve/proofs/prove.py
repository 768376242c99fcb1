"""The exhaustive prover and certificates.

:func:`prove` bounds the logits of the real-number network on every input of a finite task (one
batched interval forward pass, :mod:`nerve.proofs.bounds`) and sorts the inputs into those where
the statement's requirement holds (the margin's lower bound clears it), fails (its upper bound
does not reach it) and undecided (the rounding error straddles it; never counted as proved).
:func:`certify` does it for a checkpoint of a run and returns a :class:`Certificate` that names
the weights by their SHA-256, for :func:`nerve.proofs.check` to verify independently.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

import nerve
from nerve.proofs.bounds import logit_bounds
from nerve.proofs.intervals import Interval
from nerve.proofs.statements import Accuracy, Margin, Robust, Statement, statement_dict, statement_from_dict
from nerve.training.run import checkpoint_path

__all__ = ["Certificate", "ProofResult", "certify", "margin_bounds", "prove", "sha256_file"]

FORMAT = "nerve-certificate/1"


@dataclass(frozen=True)
class ProofResult:
    """What the prover established about every input of the domain.

    - `verdict`: ``"proved"``, ``"refuted"`` or ``"undecided"``.
    - `n_inputs`, `n_hold`: inputs, and those where the requirement is proved to hold.
    - `failing`, `undecided`: the inputs (as lists of tokens) proved to fail, and not decided.
    - `margin_lower`: the least lower bound of the margin over all inputs (the bound).
    - `accuracy_bounds`: the accuracy of the real network lies in this range.
    - `flops`: matrix-multiply FLOPs of the proof (torch's counter); `seconds`: its wall time.
    """

    verdict: str
    n_inputs: int
    n_hold: int
    failing: tuple[tuple[int, ...], ...]
    undecided: tuple[tuple[int, ...], ...]
    margin_lower: float
    accuracy_bounds: tuple[float, float]
    flops: int
    seconds: float


def margin_bounds(logits: Interval, targets: Tensor) -> tuple[Tensor, Tensor]:
    """Lower and upper bounds of ``logit[target] − max_{k≠target} logit[k]`` for each row."""
    t = targets[:, None]
    others_hi = logits.hi.scatter(1, t, -math.inf).max(1).values
    others_lo = logits.lo.scatter(1, t, -math.inf).max(1).values
    lo = logits.lo.gather(1, t)[:, 0] - others_hi
    hi = logits.hi.gather(1, t)[:, 0] - others_lo
    inf = torch.tensor(math.inf, dtype=lo.dtype)
    return torch.nextafter(lo, -inf), torch.nextafter(hi, inf)


def judge(
    statement: Statement, lower: Tensor, upper: Tensor
) -> tuple[Tensor, Tensor, str, tuple[float, float]]:
    """Per input: holds, fails; and the verdict and accuracy range, from the margin bounds."""
    n = len(lower)
    correct_lo, correct_fail = lower > 0, upper <= 0
    if isinstance(statement, Margin):
        holds, fails = lower >= statement.at_least, upper < statement.at_least
    else:
        holds, fails = correct_lo, correct_fail
    accuracy = (int(correct_lo.sum()) / n, (n - int(correct_fail.sum())) / n)
    if isinstance(statement, Accuracy):
        verdict = (
            "proved" if accuracy[0] >= statement.at_least
            else "refuted" if accuracy[1] < statement.at_least else "undecided"
        )  # fmt: skip
    else:
        verdict = "proved" if bool(holds.all()) else "refuted" if bool(fails.any()) else "undecided"
    return holds, fails, verdict, accuracy


def prove(model: nn.Module, task: Any, statement: Statement, *, batch_size: int = 4096) -> ProofResult:
    """Prove `statement` about `model` on every input of the finite `task`, exhaustively (for
    :class:`Robust`, over the box of embeddings around each input).

    >>> from nerve.models import MLP, MLPConfig
    >>> from nerve.tasks import modular_arithmetic
    >>> from nerve.proofs import Correct
    >>> task = modular_arithmetic(5)
    >>> model = MLP(MLPConfig(n_vocab=5, n_classes=5, d_embed=8, d_hidden=16), seed=0)
    >>> r = prove(model, task, Correct())
    >>> r.verdict, r.n_inputs, r.n_hold + len(r.failing) + len(r.undecided)
    ('refuted', 25, 25)
    """
    inputs, targets = task.enumerate()
    start = time.perf_counter()
    radius = statement.radius if isinstance(statement, Robust) else 0.0
    with FlopCounterMode(display=False) as counter:
        logits = logit_bounds(model, inputs, radius=radius, batch_size=batch_size)
    lower, upper = margin_bounds(logits, targets)
    return result_from_margins(
        statement, inputs, lower, upper, flops=int(counter.get_total_flops()), start=start
    )


def result_from_margins(
    statement: Statement, inputs: Tensor, lower: Tensor, upper: Tensor, *, flops: int, start: float
) -> ProofResult:
    """The :class:`ProofResult` of margin bounds ``[lower, upper]`` per input; `start` is the
    ``time.perf_counter()`` at which the proof began."""
    holds, fails, verdict, accuracy = judge(statement, lower, upper)
    undecided = ~holds & ~fails
    return ProofResult(
        verdict=verdict,
        n_inputs=len(inputs),
        n_hold=int(holds.sum()),
        failing=tuple(tuple(int(v) for v in inputs[i]) for i in fails.nonzero()[:, 0]),
        undecided=tuple(tuple(int(v) for v in inputs[i]) for i in undecided.nonzero()[:, 0]),
        margin_lower=float(lower.min()),
        accuracy_bounds=accuracy,
        flops=flops,
        seconds=time.perf_counter() - start,
    )


@dataclass(frozen=True)
class Certificate:
    """A proof's record: the statement, what it is about, the method, and the result.

    `weights` is the checkpoint's path relative to the run directory and `weights_sha256` its
    hash; `about` says which function the statement is about.
    """

    format: str
    statement: dict[str, Any]
    statement_text: str
    about: str
    task: str
    model: str
    step: int
    weights: str
    weights_sha256: str
    method: str
    nerve_version: str
    result: ProofResult

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> Certificate:
        data = json.loads(text)
        r = data["result"]
        r["failing"] = tuple(tuple(x) for x in r["failing"])
        r["undecided"] = tuple(tuple(x) for x in r["undecided"])
        r["accuracy_bounds"] = tuple(r["accuracy_bounds"])
        data["result"] = ProofResult(**r)
        statement_from_dict(data["statement"])  # a malformed statement fails here, by name
        return cls(**data)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def certify(run: Any, statement: Statement, *, step: int | None = None) -> Certificate:
    """Prove `statement` about the checkpoint `step` (default: the last) of `run` exhaustively and
    return its certificate."""
    step = run.checkpoints[-1] if step is None else step
    model = run.model_at(step)
    path = checkpoint_path(run.path, step)
    result = prove(model, run.task, statement)
    return Certificate(
        format=FORMAT,
        statement=statement_dict(statement),
        statement_text=statement.text(run.task.name),
        about="the real-number network defined by the stored weights (float32 values are exact reals)",
        task=run.task.name,
        model=type(model).__name__,
        step=step,
        weights=str(path.relative_to(run.path)),
        weights_sha256=sha256_file(path),
        method="exhaustive: float64 interval forward pass over every input, every rounding bounded",
        nerve_version=nerve.__version__,
        result=result,
    )
