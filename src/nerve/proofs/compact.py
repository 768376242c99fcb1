"""Compact proofs for the one-hidden-layer MLP on a group task, with their cost beside brute force's.

The MLP's hidden pre-activation is a sum of a part of a and a part of b,
``h(a, b) = u(a) + v(b)`` with ``u = W_h[:, :d] W_a`` and ``v = W_h[:, d:] W_b``, so the first layer
costs |G| products per operand instead of |G|² (Wu, Jaburi, Drori & Gross 2024 start from the
same split). Two provers build on it, both sound in floating point (:mod:`nerve.proofs.intervals`):

- ``"factored"``: every input's logits from ``ReLU(u(a) + v(b))``; as tight as the exhaustive
  proof, at the cost of the unembedding alone per input.
- ``"orbits"``: the symmetry the mechanism respects. For a group law, the pairs with one product
  t form one orbit of (a, b) ↦ (ak, k⁻¹b), and a network that computes ab through characters
  χ_ρ(abc⁻¹) gives every pair of an orbit the same logits. The proof evaluates one representative
  per orbit exhaustively and bounds every other input's distance from it without unembedding it:
  ``|ℓ_c(x) − ℓ_c(rep)| ≤ Σ_j |W_U[c, j]| |ReLU h_j(x) − ReLU h_j(rep)| ≤ D(x)`` with
  ``D(x) = Σ_j max_c |W_U[c, j]| · |ReLU h_j(x) − ReLU h_j(rep)|``, so
  ``margin(x) ≥ margin(rep) − 2 D(x)``: a few operations per neuron per input instead of a
  matrix–vector product. It is vacuous when the network is invariant only after summing over
  neurons (each neuron's activation moving within the orbit); :class:`CompactProof` reports
  the share of D that each neuron group carries, so the report says what dominated.

FLOPs: matrix products as torch's counter counts them (2mnk) plus one per elementwise operation
of the per-input work, written out below; brute force is the exhaustive prover's count.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from nerve.errors import AnalysisError
from nerve.models import MLP
from nerve.proofs.bounds import logit_bounds
from nerve.proofs.intervals import Interval, gamma, up
from nerve.proofs.prove import ProofResult, margin_bounds, prove, result_from_margins
from nerve.proofs.statements import Correct, Robust, Statement

__all__ = ["CompactProof", "prove_compact"]

# elementwise operations per neuron per input: u+v as an interval (2 adds, 2 roundings), ReLU on
# both ends (2), the distance to the representative (2 subtractions, a max), its weighting and
# sum (2): 11, rounded up to 12 with the ulp moves
ELEMENTWISE_PER_NEURON = 12


@dataclass(frozen=True)
class CompactProof:
    """A compact proof's result, its cost beside the exhaustive proof's, and what dominated.

    - `result`: the :class:`ProofResult` (verdict, counts, least margin; its `flops` are the
      compact proof's).
    - `method`: ``"factored"`` or ``"orbits"``; `brute_force_flops`: the exhaustive prover's.
    - `vacuous`: the bound proves nothing beyond what it evaluated exhaustively (for
      ``"orbits"``: only the representatives; for ``"factored"``: no input).
    - `mean_margin_rep`, `mean_deviation`: for ``"orbits"``, the mean margin of the
      representatives and the mean of 2 D(x) over the other inputs; `top_neurons_share`: the share
      of Σ D carried by the 10% of neurons that carry most of it.
    """

    result: ProofResult
    method: str
    brute_force_flops: int
    vacuous: bool
    mean_margin_rep: float | None = None
    mean_deviation: float | None = None
    top_neurons_share: float | None = None

    @property
    def flops_ratio(self) -> float:
        return self.result.flops / self.brute_force_flops


def prove_compact(model: MLP, task: Any, statement: Statement | None = None, *, method: str = "orbits",
                  brute_force_flops: int | None = None) -> CompactProof:  # fmt: skip
    """Prove `statement` (default :class:`Correct`) about the MLP `model` on the group task `task`
    by `method` (``"orbits"`` or ``"factored"``); `brute_force_flops` defaults to running the
    exhaustive prover to count its cost.

    >>> from nerve.models import MLPConfig
    >>> from nerve.tasks import modular_arithmetic
    >>> model = MLP(MLPConfig(n_vocab=7, n_classes=7, d_embed=8, d_hidden=16), seed=0)
    >>> p = prove_compact(model, modular_arithmetic(7), method="factored")
    >>> p.result.verdict, p.flops_ratio < 1
    ('refuted', True)
    """
    statement = Correct() if statement is None else statement
    if not isinstance(model, MLP) or model.config.n_inputs != 2:
        raise AnalysisError(f"`model` (a {type(model).__name__}) must be nerve's MLP on pairs (a, b).")
    if isinstance(statement, Robust):
        raise AnalysisError(
            f"`statement` ({statement!r}) is about boxes of embeddings; compact proofs take Correct, "
            "Accuracy or Margin (prove Robust with `prove`)."
        )
    if method not in ("orbits", "factored"):
        raise AnalysisError(f"`method` (={method!r}) must be 'orbits' or 'factored'.")
    if brute_force_flops is None:
        brute_force_flops = prove(model, task, statement).flops
    inputs, targets = task.enumerate()
    start = time.perf_counter()
    d = model.config.d_embed
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        W_h = model.hidden.weight
        u = Interval.point(model.embeddings[0]).linear(W_h[:, :d])  # [n_vocab, d_hidden]
        v = Interval.point(model.embeddings[1]).linear(W_h[:, d:])
        act = (u.map(lambda t: t[inputs[:, 0]]) + v.map(lambda t: t[inputs[:, 1]])).relu()  # [N, d_hidden]
        if method == "factored":
            logits = act.linear(model.unembed.weight)
            extra, reps = 0, None
        else:
            reps, rep_of = _representatives(targets)
            rep_logits = logit_bounds(model, inputs[reps])
            extra = len(inputs) * model.config.d_hidden * ELEMENTWISE_PER_NEURON
    if method == "factored":
        lower, upper = margin_bounds(logits, targets)
        report: dict[str, float | None] = {}
    else:
        lower, upper, report = _orbit_bounds(model, act, reps, rep_of, rep_logits, targets)
    flops = int(counter.get_total_flops()) + extra
    result = result_from_margins(statement, inputs, lower, upper, flops=flops, start=start)
    checked = 0 if reps is None else len(reps)
    return CompactProof(result, method, int(brute_force_flops), vacuous=result.n_hold <= checked, **report)


def _representatives(targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The first input of each target class, and for every input the index of its class's one."""
    classes, rep_of = torch.unique(targets, return_inverse=True)
    index = torch.arange(len(targets))
    first = torch.full((len(classes),), len(targets)).scatter_reduce(0, rep_of, index, "amin")
    return first, rep_of


def _orbit_bounds(model, act: Interval, reps, rep_of, rep_logits: Interval, targets):
    """Margin bounds of every input from its representative's and the deviation D (see module)."""
    rep_lo, rep_hi = margin_bounds(rep_logits, targets[reps])
    a_rep = act.map(lambda t: t[reps][rep_of])  # the representative's activations, per input
    # |ReLU h(x) − ReLU h(rep)| ≤ max(hi_x − lo_rep, hi_rep − lo_x), rounded up
    dist = up(torch.maximum(act.hi - a_rep.lo, a_rep.hi - act.lo).clamp_min(0))
    w = model.unembed.weight.detach().double().abs().max(0).values  # max_c |W_U[c, j]|
    n = len(w)
    per_neuron = dist * w
    D = up(per_neuron.sum(1) / (1 - gamma(n)))
    inf = torch.tensor(math.inf, dtype=torch.float64)
    lower = torch.nextafter(rep_lo[rep_of] - up(2 * D), -inf)
    upper = torch.nextafter(rep_hi[rep_of] + up(2 * D), inf)
    totals = per_neuron.sum(0)
    top = max(1, n // 10)
    report = {
        "mean_margin_rep": float(rep_lo.mean()),
        "mean_deviation": float(2 * D.mean()),
        "top_neurons_share": float(totals.topk(top).values.sum() / totals.sum()) if totals.sum() > 0 else 0.0,
    }
    return lower, upper, report
