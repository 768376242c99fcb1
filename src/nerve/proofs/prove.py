"""The exhaustive prover and certificates.

:func:`prove` bounds the logits of the real-number network on every input of a finite task (one
batched interval forward pass, :mod:`nerve.proofs.bounds`) and sorts the inputs into those where
the statement's requirement holds (the margin's lower bound clears it), fails (its upper bound
does not reach it) and undecided (the rounding error straddles it; never counted as proved).
:func:`certify` does it for a checkpoint of a run and returns a :class:`Certificate` that names
the weights by their SHA-256, for :func:`nerve.proofs.check` to verify independently; with
``method="rho_sets"`` the proof goes through the mechanism (:mod:`nerve.proofs.rho_sets`) and the
certificate carries the idealised model, which the checker rebuilds at the compact proof's cost.

A certificate is strict JSON: a bound of ±inf (a box so large that float64 overflows) is written
as the string ``"Infinity"`` or ``"-Infinity"`` (what ``Number()`` in JavaScript and ``float()`` in
Python read as ±inf), and NaN, which no proof produces, as ``null``, which the checker rejects.
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

from nerve._version import __version__
from nerve.errors import ProofError
from nerve.proofs.bounds import logit_bounds
from nerve.proofs.intervals import Interval
from nerve.proofs.statements import (
    Accuracy,
    Margin,
    Robust,
    Statement,
    TopK,
    statement_dict,
    statement_from_dict,
)  # fmt: skip

__all__ = [
    "METHODS", "Certificate", "ProofResult", "certify", "exhaustive_flops", "margin_bounds", "prove",
    "sha256_file",
]  # fmt: skip

FORMAT = "nerve-certificate/1"
#: what :func:`certify` can prove by, and the `method` line its certificates begin with
METHODS = {
    "exhaustive": "exhaustive: float64 interval forward pass over every input, every rounding bounded",
    "rho_sets": "rho_sets: every input against an exactly bi-equivariant idealised model (its margin "
    "proved once) plus a rounding-sound bound on the real model's distance from it",
}


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


def margin_bounds(logits: Interval, targets: Tensor, k: int = 1) -> tuple[Tensor, Tensor]:
    """Lower and upper bounds of ``logit[target] − (the k-th largest other logit)`` for each row:
    the margin (``k = 1``: over the largest other), positive exactly where fewer than `k` other
    logits reach the target's (:class:`~nerve.proofs.TopK`)."""
    t = targets[:, None]
    if not 1 <= k < logits.shape[1]:
        raise ProofError(f"`k` (={k}) must be from 1 to the number of other classes ({logits.shape[1] - 1}).")
    others_hi = logits.hi.scatter(1, t, -math.inf).topk(k, 1).values[:, -1]
    others_lo = logits.lo.scatter(1, t, -math.inf).topk(k, 1).values[:, -1]
    lo = logits.lo.gather(1, t)[:, 0] - others_hi
    hi = logits.hi.gather(1, t)[:, 0] - others_lo
    inf = torch.tensor(math.inf, dtype=lo.dtype)
    # an unbounded logit gives an unbounded margin: never NaN, even where inf − inf is formed
    lo, hi = torch.nextafter(lo, -inf), torch.nextafter(hi, inf)
    return lo.masked_fill(lo.isnan(), -math.inf), hi.masked_fill(hi.isnan(), math.inf)


def judge(
    statement: Statement, lower: Tensor, upper: Tensor
) -> tuple[Tensor, Tensor, str, tuple[float, float]]:
    """Per input: holds, fails; and the verdict and accuracy range, from the margin bounds (for
    :class:`~nerve.proofs.TopK`, of the margin over the k-th largest other logit; its accuracy is
    the top-k accuracy)."""
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


def prove(model: nn.Module, task: Any, statement: Statement, *, batch_size: int = 1024) -> ProofResult:
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
    lower, upper = margin_bounds(logits, targets, statement.k if isinstance(statement, TopK) else 1)
    return result_from_margins(
        statement, inputs, lower, upper, flops=int(counter.get_total_flops()), start=start
    )


def exhaustive_flops(model: nn.Module, task: Any) -> int:
    """The FLOPs :func:`prove` spends on `task`, counted without running it: every product of the
    interval forward pass is per input (nothing is shared across a batch), so the count is one
    input's times the number of inputs.

    >>> from nerve.models import MLP, MLPConfig
    >>> from nerve.proofs import Correct
    >>> from nerve.tasks import modular_arithmetic
    >>> task = modular_arithmetic(5)
    >>> model = MLP(MLPConfig(n_vocab=5, n_classes=5, d_embed=8, d_hidden=16), seed=0)
    >>> exhaustive_flops(model, task) == prove(model, task, Correct()).flops
    True
    """
    inputs, _ = task.enumerate()
    with FlopCounterMode(display=False) as counter:
        logit_bounds(model, inputs[:1])
    return int(counter.get_total_flops()) * len(inputs)


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
    hash; `about` says which function the statement is about. `method` begins with the method's
    name (a key of :data:`METHODS`); `compact` is what a compact method's checker needs (for
    ``rho_sets``: the idealised model, the exhaustive proof's FLOPs and the terms of the bound), and
    None for the exhaustive proof.
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
    compact: dict[str, Any] | None = None

    @property
    def method_name(self) -> str:
        """The method's key in :data:`METHODS` (the `method` line up to its colon)."""
        return self.method.split(":", 1)[0]

    def to_json(self) -> str:
        """Strict JSON (see the module): ±inf as ``"Infinity"``/``"-Infinity"``, NaN as ``null``."""
        return json.dumps(_encode(asdict(self)), indent=1, allow_nan=False)

    @classmethod
    def from_json(cls, text: str, *, source: str = "the certificate") -> Certificate:
        """Read what :meth:`to_json` wrote; anything else is a :class:`ProofError` that names
        `source` (e.g. the file) and the field. A ``null`` number reads as NaN, for the checker to
        reject by name."""
        return cls(**parse_certificate(text, _CERTIFICATE, source, optional=("compact",)))


def parse_certificate(text: str, spec: dict[str, str], source: str, optional: tuple[str, ...] = ()) -> dict:
    """The fields of a certificate's JSON `text` typed by `spec`, its `result` a :class:`ProofResult`
    and its `statement` checked; anything else is a ProofError naming `source` and the field."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        what = "a certificate is the file `nerve prove` writes"
        raise ProofError(f"{source} is not JSON ({err}); {what}.") from None
    data = _fields(data, spec, source, "", optional=optional)
    data["result"] = ProofResult(**_fields(data["result"], _RESULT, source, "result."))
    try:
        statement_from_dict(data["statement"])
    except ProofError as err:
        raise ProofError(f"{source}: field `statement`: {err}") from None
    return data


def _encode(value: Any) -> Any:
    """`value` with NaN as None and ±inf as "Infinity"/"-Infinity", through dicts, lists, tuples."""
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value


_INFINITIES = {"Infinity": math.inf, "-Infinity": -math.inf}


def _read(kind: str, value: Any) -> Any:
    """`value` as the certificate field of type `kind`, or None when it is not one."""
    if kind == "int":
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if kind == "number":
        if value is None:
            return math.nan  # what to_json wrote for NaN; the checker rejects it by name
        if isinstance(value, str):
            return _INFINITIES.get(value)
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if kind == "str":
        return value if isinstance(value, str) else None
    if kind == "object":
        return value if isinstance(value, dict) else None
    if kind == "object or null":
        # Ellipsis stands for a valid null (None means "not of this kind" here)
        return value if isinstance(value, dict) else ... if value is None else None
    if kind == "inputs":  # a list of inputs, each a list of token indices
        if not isinstance(value, list) or not all(isinstance(x, list) for x in value):
            return None
        if not all(_read("int", v) is not None for x in value for v in x):
            return None
        return tuple(tuple(x) for x in value)
    if kind == "range":  # [low, high]
        if not isinstance(value, list) or len(value) != 2:
            return None
        pair = tuple(_read("number", v) for v in value)
        return None if None in pair else pair
    raise AssertionError(kind)


_DESCRIBE = {
    "int": "an integer", "number": 'a number (or "Infinity", "-Infinity")', "str": "a string",
    "object": "an object", "object or null": "an object or null", "inputs": "a list of lists of integers",
    "range": "a pair of numbers [low, high]",
}  # fmt: skip
_CERTIFICATE = {
    "format": "str", "statement": "object", "statement_text": "str", "about": "str", "task": "str",
    "model": "str", "step": "int", "weights": "str", "weights_sha256": "str", "method": "str",
    "nerve_version": "str", "result": "object", "compact": "object or null",
}  # fmt: skip
_RESULT = {
    "verdict": "str", "n_inputs": "int", "n_hold": "int", "failing": "inputs", "undecided": "inputs",
    "margin_lower": "number", "accuracy_bounds": "range", "flops": "int", "seconds": "number",
}  # fmt: skip


def _fields(
    data: Any, spec: dict[str, str], source: str, prefix: str, optional: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The fields of `data` typed by `spec`, or a ProofError naming `source` and the field; a
    field in `optional` may be absent (a certificate written before it existed)."""
    if not isinstance(data, dict):
        what = f"field `{prefix[:-1]}`" if prefix else "the top level"
        raise ProofError(f"{source}: {what} (a {_json_type(data)}) must be an object.")
    missing = [k for k in spec if k not in data and k not in optional]
    if missing:
        raise ProofError(f"{source}: field `{prefix}{missing[0]}` is missing.")
    extra = sorted(k for k in data if k not in spec)
    if extra:
        raise ProofError(f"{source}: field `{prefix}{extra[0]}` is not a field of a certificate.")
    out = {}
    for key, kind in spec.items():
        if key not in data:
            continue
        value = _read(kind, data[key])
        if value is None:
            raise ProofError(
                f"{source}: field `{prefix}{key}` (={_short(data[key])}) must be {_DESCRIBE[kind]}."
            )
        out[key] = None if value is ... else value
    return out


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def certify(
    run: Any, statement: Statement, *, step: int | None = None, method: str = "exhaustive"
) -> Certificate:
    """Prove `statement` about the checkpoint `step` (default: the last) of `run` by `method` (a key
    of :data:`METHODS`: ``"exhaustive"``, or ``"rho_sets"`` for an MLP on a group task) and return
    its certificate."""
    if method not in METHODS:
        raise ProofError(f"`method` (={method!r}) must be one of {sorted(METHODS)}.")
    step = run.checkpoints[-1] if step is None else step
    model = run.model_at(step)
    path = run.dir.checkpoint(step)
    compact = None
    if method == "exhaustive":
        result = prove(model, run.task, statement)
    else:
        from nerve.proofs.rho_sets import prove_rho_sets

        proof = prove_rho_sets(model, run.task, statement)
        result, compact = proof.result, proof.to_dict()
    return Certificate(
        format=FORMAT,
        statement=statement_dict(statement),
        statement_text=statement.text(run.task.name),
        about="the real-number network defined by the stored weights (float32 values are exact reals)",
        task=run.task.name,
        model=type(model).__name__,
        step=step,
        weights=run.dir.relative(path),
        weights_sha256=sha256_file(path),
        method=METHODS[method],
        nerve_version=__version__,
        result=result,
        compact=compact,
    )
