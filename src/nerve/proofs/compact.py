"""Compact proofs for the one-hidden-layer MLP on a group task, with their cost beside brute force's.

The MLP's hidden pre-activation is a sum of a part of a and a part of b,
``h(a, b) = u(a) + v(b)`` with ``u = W_h[:, :d] W_a`` and ``v = W_h[:, d:] W_b``, so the first layer
costs |G| products per operand instead of |G|² (Wu, Jaburi, Drori & Gross 2024 start from the
same split). Two provers build on it, both sound in floating point (:mod:`nerve.proofs.intervals`):

- ``"factored"``: every input's logits from ``ReLU(u(a) + v(b))``; as tight as the exhaustive
  proof, at the cost of the unembedding alone per input (one float product and a bound on its
  error from row sums and column maxima, :meth:`Interval.matmul_narrow`).
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

For the one-layer transformer, ``"factored"`` uses the attention's structure: the query is read
at '=' (the same token at the same position in every input), so each head's score for position 0
is a function of a alone, for position 1 of b alone, and each position's value through W_O a
function of its token: all of these are computed once per token (|G| of them, not |G|²), and per
input only the three-way softmax, the weighted sum of the heads' outputs, the MLP at '=' and the
unembedding remain (the exhaustive proof runs attention and the MLP at all three positions).

FLOPs: matrix products as torch's counter counts them (2mnk) plus one per elementwise operation
of the per-input work, written out below; brute force is the exhaustive prover's count.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch.utils.flop_counter import FlopCounterMode

from nerve.errors import AnalysisError
from nerve.models import MLP, Transformer
from nerve.proofs.bounds import logit_bounds
from nerve.proofs.intervals import Interval, gamma, up
from nerve.proofs.prove import ProofResult, exhaustive_flops, margin_bounds, result_from_margins
from nerve.proofs.statements import Correct, Robust, Statement, TopK

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
    if isinstance(statement, TopK):
        raise AnalysisError(
            f"`statement` ({statement!r}): compact proofs bound the top-1 margin; prove TopK with `prove`."
        )
    if isinstance(model, Transformer) and method == "factored" and not isinstance(statement, Robust):
        return _transformer_factored(model, task, statement, brute_force_flops)
    if not isinstance(model, MLP) or model.config.n_inputs != 2:
        raise AnalysisError(
            f"`model` (a {type(model).__name__}) must be nerve's MLP on pairs (a, b) (or, for "
            "method='factored', nerve's Transformer)."
        )
    if isinstance(statement, Robust):
        raise AnalysisError(
            f"`statement` ({statement!r}) is about boxes of embeddings; compact proofs take Correct, "
            "Accuracy or Margin (prove Robust with `prove`)."
        )
    if method not in ("orbits", "factored"):
        raise AnalysisError(f"`method` (={method!r}) must be 'orbits' or 'factored'.")
    if brute_force_flops is None:
        brute_force_flops = exhaustive_flops(model, task)
    inputs, targets = task.enumerate()
    start = time.perf_counter()
    d = model.config.d_embed
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        W_h = model.hidden.weight
        u = Interval.point(model.embeddings[0]).linear(W_h[:, :d])  # [n_vocab, d_hidden]
        v = Interval.point(model.embeddings[1]).linear(W_h[:, d:])
        act = (u.map(lambda t: t[inputs[:, 0]]) + v.map(lambda t: t[inputs[:, 1]])).relu()  # [N, d_hidden]
        if method == "factored":
            # the activations' widths are rounding-sized: one product and a cheap error bound
            logits = act.matmul_narrow(Interval.point(model.unembed.weight.detach().double().T))
            # per input, besides the product: u + v, its rounding and the ReLU (~8 per neuron),
            # the error bound's sums and maxima (~6 per neuron and per class)
            H, classes = model.config.d_hidden, model.config.n_classes
            extra, reps = len(inputs) * (8 * H + 6 * (H + classes)), None
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


def _transformer_factored(
    model: Transformer, task: Any, statement: Statement, brute_force_flops: int | None, batch_size: int = 2048
) -> CompactProof:
    """The transformer's factored proof (see the module). Per token and position: each head's score
    and its output through W_O, and what that output becomes through the MLP's input layer and
    through the unembedding (``W_in W_O v_h``, ``W_U W_O v_h``: [|G|, heads, ·] tables). Per input:
    the three-way softmax of each head, the hidden layer as the pattern-weighted sum of those
    tables, and ``W_U W_out ReLU(hidden)`` in one narrow interval product."""
    if brute_force_flops is None:
        brute_force_flops = exhaustive_flops(model, task)
    inputs, targets = task.enumerate()
    c, attn, mlp = model.config, model.attn, model.mlp
    H, dh = c.n_heads, c.d_head
    start = time.perf_counter()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        E, P = model.embed.weight, model.pos_embed.weight
        tokens = torch.arange(c.n_vocab)
        resid = [Interval.point(E[tokens]) + Interval.point(P[i][None]) for i in range(2)]  # [|G|, d]
        resid.append(Interval.point(E[c.n_vocab][None]) + Interval.point(P[2][None]))  # '=': [1, d]
        heads = lambda t: t.view(t.shape[0], H, dh)  # noqa: E731
        q = resid[2].linear(attn.W_Q.weight).map(heads)  # [1, H, dh]
        scale = 1 / math.sqrt(dh)
        bounds = (math.nextafter(scale, 0.0), math.nextafter(scale, math.inf))
        W_O = [attn.W_O.weight[:, h * dh : (h + 1) * dh] for h in range(H)]
        scores, to_hidden, to_logits = [], [], []
        for r in resid:  # per position, per token: scores [m, H]; tables [m, H, d_mlp], [m, H, classes]
            k, v = (r.linear(W.weight).map(heads) for W in (attn.W_K, attn.W_V))
            scores.append((k * q).sum(-1).scale(bounds))
            out = Interval.stack([v.map(lambda t, h=h: t[:, h]).linear(W_O[h]) for h in range(H)], 1)
            to_hidden.append(out.linear(mlp.hidden.weight))
            to_logits.append(out.linear(model.unembed.weight))
        hidden_e = resid[2].linear(mlp.hidden.weight, mlp.hidden.bias)  # [1, d_mlp]: r_= and the bias
        logits_e = resid[2].linear(model.unembed.weight) + Interval.point(mlp.out.bias[None]).linear(
            model.unembed.weight
        )  # [1, classes]: W_U r_= + W_U b_out
        W_UO = Interval.point(mlp.out.weight.T).linear(model.unembed.weight)  # [d_mlp, classes]
        # the inputs as a grid (a, b) ∈ L × R, so that a position's tables are weighted by one
        # batched product per token instead of being gathered per input
        L, a_at = torch.unique(inputs[:, 0], return_inverse=True)
        R, b_at = torch.unique(inputs[:, 1], return_inverse=True)
        rows = []
        for i in range(0, len(L), max(1, batch_size // len(R))):
            a = L[i : i + max(1, batch_size // len(R))]
            s = Interval.stack(
                [scores[0].map(lambda t, a=a: t[a][:, None].expand(-1, len(R), -1)),
                 scores[1].map(lambda t, a=a: t[R][None].expand(len(a), -1, -1)),
                 scores[2].map(lambda t, a=a: t[None].expand(len(a), len(R), -1))], -1,
            ).softmax()  # [a, b, H, 3]  # fmt: skip

            def weighted(tables: list[Interval], s: Interval = s, a: Tensor = a) -> Interval:
                """``Σ_pos Σ_h pattern_h(pos) · table_pos[token at pos, h]`` ``[a, b, ·]``: for
                position 0 one product per a, for position 1 one per b, for '=' one in all."""
                w = [s.map(lambda t, pos=pos: t[..., pos]) for pos in range(3)]  # [a, b, H]
                at_a = w[0].matmul(tables[0].map(lambda t: t[a]))  # [a, H] @ [H, ·] per a
                at_b = w[1].map(lambda t: t.transpose(0, 1)).matmul(tables[1].map(lambda t: t[R]))
                at_e = w[2].matmul(tables[2].map(lambda t: t[0]))
                return at_a + at_b.map(lambda t: t.transpose(0, 1)) + at_e

            act = (hidden_e + weighted(to_hidden)).relu()  # [a, b, d_mlp]
            flat = act.map(lambda t: t.reshape(-1, t.shape[-1]))
            out = logits_e + weighted(to_logits).map(lambda t: t.reshape(-1, t.shape[-1]))
            rows.append(out + flat.matmul_narrow(W_UO))  # [a·b, classes]
        grid = Interval(torch.cat([r.lo for r in rows]), torch.cat([r.hi for r in rows]))
        logits = grid.map(lambda t: t[a_at * len(R) + b_at])
    lower, upper = margin_bounds(logits, targets)
    # per input, outside the products the counter sees: the softmax over 3 positions per head
    # (~40 operations), the narrow product's error bound (~6 per entry of d_mlp and of classes)
    # and the additions of the three positions' sums, the constant and the ReLU (~4 per entry, 4 times)
    width = c.d_mlp + c.n_classes
    extra = len(inputs) * (H * 40 + 6 * width + 4 * 4 * width)
    flops = int(counter.get_total_flops()) + extra
    result = result_from_margins(statement, inputs, lower, upper, flops=flops, start=start)
    return CompactProof(result, "factored", int(brute_force_flops), vacuous=result.n_hold == 0)


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
