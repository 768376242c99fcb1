"""The independent checker: verifies a certificate against a run directory through a separate,
deliberately simple code path — numpy, one input at a time, no batching and none of the
prover's torch kernels — and rejects it when the weights, the statement or a number differ.

The arithmetic is the same mathematics as :mod:`nerve.proofs.intervals` written again plainly:
each dot product of length n in float64 is within γ_n Σ|x_i y_i| of the exact one, bounds are
inflated by a relative 2⁻⁴⁰ and an absolute 2⁻¹⁰⁰⁰, and endpoints move one ulp outwards. An entry
whose centre or error overflows, or that meets inf − inf, is unbounded on the side it cannot bound.

A compact certificate is checked by its own method's path, at that method's cost: for ``rho_sets``,
:mod:`nerve.proofs._check_rho_sets` rebuilds the idealised model the certificate carries and every
input's bound, vectorised (its cost is the compact proof's, not the exhaustive check's).

A file that is not a certificate (not UTF-8, not JSON, a field missing or of the wrong type) is a
:class:`~nerve.errors.ProofError` naming the file and the field; a certificate that reads but says
what the check does not find (including a number that is NaN) is rejected in the report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nerve.errors import ProofError
from nerve.proofs.prove import FORMAT, METHODS, Certificate, sha256_file
from nerve.proofs.statements import Accuracy, Margin, Robust, TopK, statement_from_dict

__all__ = ["CheckReport", "check"]

U, SLACK, TINY = 2.0**-53, 2.0**-40, 2.0**-1000


@dataclass(frozen=True)
class CheckReport:
    """``ok`` when every check passed; otherwise ``problems`` says what differed."""

    ok: bool
    problems: tuple[str, ...]
    checked_inputs: int


def check(
    certificate: str | Path | Certificate | Any, run_dir: str | Path, *, prompts: str | Path | None = None
) -> CheckReport:
    """Verify `certificate` (a path to its JSON, or the object) against the run in `run_dir`; a
    language-model certificate (:mod:`nerve.proofs.language`) against the model folder `run_dir`
    and the prompt family file `prompts`, through :mod:`nerve.proofs._check_lm`.

    Raises :class:`~nerve.errors.ProofError` when the file cannot be read as a certificate.
    """
    from nerve.proofs.language import LMCertificate
    from nerve.training import load

    if isinstance(certificate, (str, Path)):
        certificate = _read_certificate(Path(certificate))
    if isinstance(certificate, LMCertificate):
        from nerve.proofs._check_lm import check_lm

        if prompts is None:
            raise ProofError(
                "a language-model certificate is checked against its prompt family: pass `prompts`."
            )
        problems = _not_numbers(certificate)
        if problems:
            return CheckReport(False, tuple(problems), 0)
        return check_lm(certificate, run_dir, prompts)
    cert = certificate
    problems = _not_numbers(cert)
    if problems:
        return CheckReport(False, tuple(problems), 0)
    if cert.format != FORMAT:
        problems.append(f"format {cert.format!r} is not {FORMAT!r}")
    run = load(run_dir)
    expected = run.dir.relative(run.dir.checkpoint(cert.step))
    if cert.weights != expected:
        return CheckReport(
            False, (*problems, f"weights {cert.weights!r} is not step {cert.step}'s file {expected!r}"), 0
        )
    weights = run.dir.checkpoint(cert.step)  # the file the certificate names, as checked above
    if not weights.is_file():
        return CheckReport(False, (*problems, f"the weights file {weights} does not exist"), 0)
    if sha256_file(weights) != cert.weights_sha256:
        return CheckReport(
            False, (*problems, f"the weights file {weights} is not the one certified (SHA-256 differs)"), 0
        )
    statement = statement_from_dict(cert.statement)
    if cert.task != run.task.name:
        problems.append(f"task {cert.task!r} is not the run's {run.task.name!r}")
    if cert.statement_text != statement.text(run.task.name):
        problems.append("the statement's text does not say what its data says")
    model = run.model_at(cert.step)
    if cert.model != type(model).__name__:
        problems.append(f"model {cert.model!r} is not the run's {type(model).__name__!r}")
    inputs, targets = (t.numpy() for t in run.task.enumerate())
    params = {k: v.detach().double().numpy() for k, v in model.state_dict().items()}
    method = cert.method_name
    if method not in METHODS or cert.method != METHODS[method]:
        return CheckReport(False, (*problems, f"method {cert.method!r} is not one nerve checks"), 0)
    if (method == "exhaustive") != (cert.compact is None):
        say = "carries no" if cert.compact is None else "carries a compact proof's"
        return CheckReport(False, (*problems, f"the {method} certificate {say} `compact` record"), 0)
    if method == "rho_sets":
        return _check_rho_sets(cert, statement, run, model, params, inputs, targets, problems)
    forward = _mlp if type(model).__name__ == "MLP" else _transformer
    radius = statement.radius if isinstance(statement, Robust) else 0.0
    rank = statement.k if isinstance(statement, TopK) else 1
    n_classes = len(params["unembed.weight"])  # the logits' count
    if rank >= n_classes:
        return CheckReport(
            False, (*problems, f"top_k k={rank} leaves no other class of {n_classes} to compare"), 0
        )
    lower, upper = np.empty(len(targets)), np.empty(len(targets))
    with np.errstate(over="ignore", invalid="ignore"):  # overflow and inf − inf are handled below
        for i in range(len(targets)):  # one input at a time, on purpose
            lo, hi = forward(params, model.config, inputs[i], radius)
            t = targets[i]
            # the k-th largest other logit (k = 1 but for TopK): sorted, plainly
            others_hi = sorted((hi[j] for j in range(len(hi)) if j != t), reverse=True)[rank - 1]
            others_lo = sorted((lo[j] for j in range(len(lo)) if j != t), reverse=True)[rank - 1]
            low, high = lo[t] - others_hi, hi[t] - others_lo
            lower[i] = -math.inf if math.isnan(low) else math.nextafter(low, -math.inf)
            upper[i] = math.inf if math.isnan(high) else math.nextafter(high, math.inf)
    problems += _compare(cert, statement, inputs, lower, upper)
    return CheckReport(not problems, tuple(problems), len(targets))


def _check_rho_sets(cert, statement, run, model, params, inputs, targets, problems) -> CheckReport:
    """The ρ-set certificate's bounds rebuilt by the checker's own path, then compared."""
    from nerve.proofs._check_rho_sets import compare_terms, rho_set_margins

    group = getattr(run.task, "group", None)
    if type(model).__name__ != "MLP" or group is None or isinstance(statement, Robust):
        why = "a Robust statement" if isinstance(statement, Robust) else "not an MLP on a group task"
        return CheckReport(False, (*problems, f"a rho_sets certificate cannot be about {why}"), 0)
    ideal = cert.compact.get("idealisation")
    lower, upper, terms, bad = rho_set_margins(params, model.config, group, inputs, targets, ideal or {})
    if bad:
        return CheckReport(False, (*problems, *bad), 0)
    problems += _compare(cert, statement, inputs, lower, upper)
    problems += compare_terms(cert.compact, terms)
    return CheckReport(not problems, tuple(problems), len(targets))


def _read_certificate(path: Path) -> Any:
    """The certificate in the file `path`, or a ProofError naming the file and what is wrong."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ProofError(f"certificate {path} cannot be read: {err.strerror or err}.") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ProofError(
            f"certificate {path} is not text (byte {err.start} is not UTF-8); a certificate is the JSON "
            "file `nerve prove` writes."
        ) from None
    from nerve.proofs.language import LM_FORMAT, LMCertificate

    if f'"format": "{LM_FORMAT}"' in text:
        return LMCertificate.from_json(text, source=f"certificate {path}")
    return Certificate.from_json(text, source=f"certificate {path}")


def _not_numbers(cert: Any) -> list[str]:
    """A problem for each number of the result that is NaN (``null`` in the file): no proof
    yields one, so the certificate cannot say what was proved."""
    r = cert.result
    numbers = {"margin_lower": r.margin_lower, "accuracy_bounds[0]": r.accuracy_bounds[0],
               "accuracy_bounds[1]": r.accuracy_bounds[1], "seconds": r.seconds}  # fmt: skip
    return [
        f"result.{name}: the certificate says null (NaN), which is no bound; a certificate's numbers "
        "are finite or ±Infinity"
        for name, value in numbers.items() if isinstance(value, float) and math.isnan(value)
    ]  # fmt: skip


def _compare(cert, statement, inputs, lower, upper) -> list[str]:
    n = len(lower)
    correct, wrong = lower > 0, upper <= 0
    if isinstance(statement, Margin):
        holds, fails = lower >= statement.at_least, upper < statement.at_least
    else:
        holds, fails = correct, wrong
    accuracy = (int(correct.sum()) / n, (n - int(wrong.sum())) / n)
    if isinstance(statement, Accuracy):
        q = statement.at_least
        verdict = "proved" if accuracy[0] >= q else "refuted" if accuracy[1] < q else "undecided"
    else:
        verdict = "proved" if holds.all() else "refuted" if fails.any() else "undecided"
    undecided = ~holds & ~fails
    r = cert.result
    found = {
        "verdict": (r.verdict, verdict),
        "n_inputs": (r.n_inputs, n),
        "n_hold": (r.n_hold, int(holds.sum())),
        "failing": (set(r.failing), {tuple(int(v) for v in inputs[i]) for i in np.flatnonzero(fails)}),
        "undecided": (
            set(r.undecided),
            {tuple(int(v) for v in inputs[i]) for i in np.flatnonzero(undecided)},
        ),
        "accuracy_bounds": (tuple(r.accuracy_bounds), accuracy),
    }
    problems = [f"{name}: the certificate says {a!r}, the check finds {b!r}"[:400]
                for name, (a, b) in found.items() if a != b]  # fmt: skip
    m = float(lower.min())
    close = math.isfinite(m) and abs(r.margin_lower - m) <= 1e-6 * max(1.0, abs(m))
    if not (r.margin_lower == m or close):  # an infinite bound must be equal, not close
        problems.append(f"margin_lower: the certificate says {r.margin_lower!r}, the check finds {m!r}")
    return problems


def _gamma(n: int) -> float:
    return n * U / (1 - n * U)


def _outward(y: np.ndarray, err: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    bad = ~(np.isfinite(y) & np.isfinite(err))  # an overflow bounds nothing on either side
    lo, hi = np.nextafter(y - err, -np.inf), np.nextafter(y + err, np.inf)
    return np.where(bad, -np.inf, lo), np.where(bad, np.inf, hi)


def _unbounded_where_nan(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.where(np.isnan(lo), -np.inf, lo), np.where(np.isnan(hi), np.inf, hi)


def _bound(x: np.ndarray) -> np.ndarray:
    return np.nextafter(x * (1 + SLACK) + TINY, np.inf)


def _centre(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c = (lo + hi) / 2
    return c, _bound(np.maximum(hi - c, c - lo))


def _linear(lo, hi, W, b=None):
    """Rows of [lo, hi] through x ↦ W x + b."""
    c, r = _centre(lo, hi)
    g = _gamma(W.shape[1] + (b is not None))
    y, mag, rad = c @ W.T, np.abs(c) @ np.abs(W).T, r @ np.abs(W).T
    if b is not None:
        y, mag = y + b, mag + np.abs(b)
    return _outward(y, _bound((rad + g * mag) / (1 - g)))


def _product(alo, ahi, blo, bhi):
    """[A] @ [B] for interval matrices."""
    a, ra = _centre(alo, ahi)
    b, rb = _centre(blo, bhi)
    g = _gamma(a.shape[-1])
    mag = np.abs(a) @ np.abs(b)
    rad = np.abs(a) @ rb + ra @ (np.abs(b) + rb)
    return _outward(a @ b, _bound((rad + g * mag) / (1 - g)))


def _add(alo, ahi, blo, bhi):
    return _unbounded_where_nan(np.nextafter(alo + blo, -np.inf), np.nextafter(ahi + bhi, np.inf))


def _widen(lo, hi, radius):
    if radius == 0:
        return lo, hi
    return np.nextafter(lo - radius, -np.inf), np.nextafter(hi + radius, np.inf)


def _mlp(p, config, tokens, radius):
    e = np.concatenate([p[f"embed.{i}.weight"][tok] for i, tok in enumerate(tokens)])
    lo, hi = _linear(*_widen(e, e, radius), p["hidden.weight"])
    return _linear(np.maximum(lo, 0), np.maximum(hi, 0), p["unembed.weight"])


def _softmax_row(lo, hi, allowed):
    """Bounds of softmax over the allowed entries of one row."""
    n = int(allowed.sum())
    g = _gamma(n)
    out_lo, out_hi = np.zeros(len(lo)), np.zeros(len(lo))
    for i in np.flatnonzero(allowed):
        others = [j for j in np.flatnonzero(allowed) if j != i]
        s_up = sum(_bound(np.exp(np.nextafter(hi[j] - lo[i], np.inf))) for j in others)
        s_lo = sum(np.exp(np.nextafter(lo[j] - hi[i], -np.inf)) * (1 - SLACK) for j in others)
        s_up, s_lo = _bound(s_up / (1 - g)), s_lo * (1 - g)
        low = np.nextafter(1 / np.nextafter(1 + s_up, np.inf), -np.inf)
        high = np.nextafter(1 / np.nextafter(1 + s_lo, -np.inf), np.inf)
        out_lo[i] = 0.0 if np.isnan(low) else max(low, 0.0)  # a weight lies in [0, 1] whatever else
        out_hi[i] = 1.0 if np.isnan(high) else min(high, 1.0)
    return out_lo, out_hi


def _transformer(p, c, tokens, radius):
    seq = [*tokens, c.n_vocab]
    T = len(seq)
    lo, hi = _add(
        p["embed.weight"][seq], p["embed.weight"][seq], p["pos_embed.weight"], p["pos_embed.weight"]
    )
    lo, hi = _widen(lo, hi, radius)
    q, k, v = (_linear(lo, hi, p[f"attn.{W}.weight"]) for W in ("W_Q", "W_K", "W_V"))
    scale = 1 / math.sqrt(c.d_head)
    s_lo, s_hi = math.nextafter(scale, 0.0), math.nextafter(scale, math.inf)
    z_lo, z_hi = np.zeros((T, c.n_heads * c.d_head)), np.zeros((T, c.n_heads * c.d_head))
    for h in range(c.n_heads):
        cols = slice(h * c.d_head, (h + 1) * c.d_head)
        a_lo, a_hi = _product(q[0][:, cols], q[1][:, cols], k[0][:, cols].T, k[1][:, cols].T)
        corners = np.stack([a_lo * s_lo, a_lo * s_hi, a_hi * s_lo, a_hi * s_hi])
        a_lo, a_hi = np.nextafter(corners.min(0), -np.inf), np.nextafter(corners.max(0), np.inf)
        a_lo, a_hi = _unbounded_where_nan(a_lo, a_hi)
        pat_lo, pat_hi = np.zeros((T, T)), np.zeros((T, T))
        for i in range(T):
            pat_lo[i], pat_hi[i] = _softmax_row(a_lo[i], a_hi[i], np.arange(T) <= i)
        z_lo[:, cols], z_hi[:, cols] = _product(pat_lo, pat_hi, v[0][:, cols], v[1][:, cols])
    lo, hi = _add(lo, hi, *_linear(z_lo, z_hi, p["attn.W_O.weight"]))
    h_lo, h_hi = _linear(lo, hi, p["mlp.hidden.weight"], p["mlp.hidden.bias"])
    lo, hi = _add(
        lo, hi, *_linear(np.maximum(h_lo, 0), np.maximum(h_hi, 0), p["mlp.out.weight"], p["mlp.out.bias"])
    )
    return _linear(lo[-1], hi[-1], p["unembed.weight"])
