"""The ρ-set idealisation of a one-hidden-layer MLP on a group task, and the compact proof through
it (Wu, Jaburi, Drori & Gross 2024, "Unifying and verifying mechanistic interpretations").

The network computes ``ℓ_z(a, b) = Σ_i u_i(z) ReLU(l_i(a) + r_i(b))`` with tables over the group
(``l_i(a) = (W_h[:, :d] W_a[a])_i``, ``r_i(b)`` likewise, ``u_i(z) = W_U[z, i]``). Wu et al. read each
irrep's neurons as a ρ-set: ``l_i(a) = b_iᵀ ρ(a) x`` with the ``b_i`` permuted by ``ρ(G)``. In tables,
without matrices: the neurons of one irrep are *translates* of three templates λ, μ, ν on G,

    ``l_i(a) ≈ s_i λ(h_i⁻¹ a)``,   ``r_i(b) ≈ s_i μ(b k_i)``,   ``u_i(z) ≈ α_i ν(h_i⁻¹ z k_i)``,

and the **ideal** model is the average over *every* pair of translates:

    ``ℓ'_z(a, b) = Σ_p W_p / |G|² Σ_{h, k ∈ G} ν_p(h⁻¹ z k) ReLU(λ_p(h⁻¹ a) + μ_p(b k))``.

It is exactly bi-equivariant, ``ℓ'_{gz}(ga, b) = ℓ'_{zg}(a, bg) = ℓ'_z(a, b)``: substituting h → a h,
k → b⁻¹ k gives ``ℓ'_z(a, b) = F(a⁻¹ z b⁻¹)`` with ``F(y) = ℓ'_y(e, e)``, so on every input (a, b) with
target ab the ideal margin is the same number ``F(e) − max_{y≠e} F(y)``: one evaluation, of |G|
logits, proves the ideal model's margin on all |G|² inputs. This uses only the group's table (exact
integer indexing); no floating-point representation matrix enters the symmetry.

The real model is compared with the ideal neuron by neuron. Translates that coincide (a template
with a stabiliser) make one *unit*; real neuron i is matched to the unit of ``(h_i, k_i)`` and takes
a share ``t_i`` of it (shares summing to 1 per unit), so that in real numbers the ideal is
``Σ_i u'_i ReLU(l'_i + r'_i) + Σ_{units no neuron covers} (their terms)`` with ``l'_i = s_i λ_U``,
``r'_i = s_i μ_U`` and ``u'_i = t_i c_U ν_U / s_i`` (ReLU is positively homogeneous). Writing
``Δ = real − ideal``, every logit is

    ``ℓ_z(a, b) = F(a⁻¹ z b⁻¹) + R_z(a, b) + e_z(a, b)``,   ``|e_z| ≤ E(a, b)``,

where ``R_z = Σ_U D_U(z) f_U(a, b) + Σ_{i outside} u_i(z) ReLU(l_i(a) + r_i(b))`` is computed as it
stands (``f_U = ReLU(λ_U(a) + μ_U(b))``, ``D_U = Σ_{i∈U} s_i Δu_i``: the neurons of a unit share its
activation, so their deviations cancel inside it; a neuron outside every ρ-set enters whole), and

    ``E = max_z Σ_i |u_i(z)| |Δl_i(a)| + max_z Σ_i |u_i(z)| |Δr_i(b)|``   (the neurons in the ideal)
    ``  + Σ_{uncovered U} |c_U| max_z|ν_U| (ReLU(λ_U(a)) + ReLU(μ_U(b)))``

bounds ``|Σ_i u_i(z) (ReLU(l_i + r_i) − ReLU(l'_i + r'_i))|`` and the uncovered units. The margin of
``F(a⁻¹ z b⁻¹) + R_z`` less 2E is then a lower bound of the real margin (and plus 2E an upper one).
E is a sum of a function of a and one of b (|G|² H work in all, a |G|-th of the exhaustive proof's
unembedding); R costs (units + neurons outside) · |G| per input, where the exhaustive proof pays
H · |G| for the unembedding alone: fewer units than neurons is the saving. Every bound is computed
in nerve's rounding-sound interval arithmetic, so a proved input is proved about the real-number
network the stored weights define.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch.utils.flop_counter import FlopCounterMode

from nerve.errors import ProofError
from nerve.models import MLP
from nerve.proofs.intervals import Interval, gamma, up
from nerve.proofs.prove import ProofResult, margin_bounds, result_from_margins
from nerve.proofs.statements import Correct, Robust, Statement, TopK

__all__ = ["Idealisation", "RhoSetProof", "fit_rho_sets", "prove_rho_sets"]

# elementwise operations per unit per input in the activation term besides its product (counted by
# torch): λ+μ as an interval (2 adds, 2 roundings), the ReLU (2), the midpoint and radius (4), the
# row sum and maximum of the error bound (2)
ELEMENTWISE_PER_UNIT = 12


@dataclass(frozen=True)
class Idealisation:
    """The ideal model and each real neuron's place in it.

    - `templates`: per partition p, ``(λ_p, μ_p, ν_p)``, each ``[|G|]`` float64; `weights`: ``W_p``.
    - `partition`, `left`, `right`: per real neuron, its partition (-1: not in the ideal model,
      all of it counted as error) and its translates ``h_i``, ``k_i`` (element indices).
    - `scale` ``s_i`` (> 0) and `weight` ``w_i`` (> 0): neuron i's share of its unit U is
      ``t_i = w_i / Σ_{j∈U} w_j`` (computed in interval arithmetic, so the shares sum to 1 exactly).
    - `rule`: how neurons were assigned and fitted, in words.
    """

    templates: tuple[tuple[Tensor, Tensor, Tensor], ...]
    weights: tuple[float, ...]
    partition: Tensor
    left: Tensor
    right: Tensor
    scale: Tensor
    weight: Tensor
    rule: str

    def to_dict(self) -> dict[str, Any]:
        """Plain lists and numbers (float64 values round-trip exactly through JSON)."""
        return {
            "templates": [[t.tolist() for t in triple] for triple in self.templates],
            "weights": list(self.weights),
            **{k: getattr(self, k).tolist() for k in ("partition", "left", "right", "scale", "weight")},
            "rule": self.rule,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Idealisation:
        """What :meth:`to_dict` wrote (its structure is the checker's to validate)."""
        f64 = lambda x: torch.tensor(x, dtype=torch.float64)  # noqa: E731
        index = lambda k: torch.tensor(data[k], dtype=torch.long)  # noqa: E731
        templates = tuple((f64(lam), f64(mu), f64(nu)) for lam, mu, nu in data["templates"])
        return cls(
            templates, tuple(float(w) for w in data["weights"]), index("partition"), index("left"),
            index("right"), f64(data["scale"]), f64(data["weight"]), str(data["rule"]),
        )  # fmt: skip


@dataclass(frozen=True)
class RhoSetProof:
    """A ρ-set proof's result beside the exhaustive prover's cost, and its terms.

    - `ideal_margin`: the ideal model's margin, the same on every input.
    - The real model's distance from the ideal, in three parts (means over inputs, each doubled as
      it enters a margin): `neuron_error` and `uncovered_error`, the bounded terms 2E, and
      `exact_deviation`, ``2 max_z |R_z(x)|`` for the part computed as it stands (the unembedding's
      deviation per unit, and every neuron outside the ideal); `dominant` names the largest.
    - `units`, `covered_units`: the ideal model's distinct units, and how many a real neuron covers.
    - `ideal`: the idealisation the proof went through.
    """

    result: ProofResult
    brute_force_flops: int
    ideal_margin: float
    neuron_error: float
    exact_deviation: float
    uncovered_error: float
    units: int
    covered_units: int
    ideal: Idealisation

    def to_dict(self) -> dict[str, Any]:
        """What a certificate records beside the result: the idealisation, the exhaustive proof's
        FLOPs and the terms of the bound (which the checker recomputes)."""
        names = ("brute_force_flops", "ideal_margin", "neuron_error", "exact_deviation", "uncovered_error",
                 "units", "covered_units")  # fmt: skip
        return {"idealisation": self.ideal.to_dict(), **{k: getattr(self, k) for k in names}}

    @property
    def flops_ratio(self) -> float:
        return self.result.flops / self.brute_force_flops

    @property
    def dominant(self) -> str:
        terms = {
            "neuron": self.neuron_error,
            "exact": self.exact_deviation,
            "uncovered": self.uncovered_error,
        }
        return max(terms, key=lambda k: terms[k])

    @property
    def vacuous(self) -> bool:
        return self.result.n_hold == 0


def _tables(model: MLP) -> tuple[Tensor, Tensor, Tensor]:
    """``l [|G|, H]``, ``r [|G|, H]``, ``u [|G|, H]`` in float64 (the products as floats: the fit only)."""
    d = model.config.d_embed
    W_h = model.hidden.weight.detach().double()
    E_a, E_b = (E.detach().double() for E in model.embeddings)
    return E_a @ W_h[:, :d].T, E_b @ W_h[:, d:].T, model.unembed.weight.detach().double()


def _check(model: Any, task: Any) -> Any:
    if not isinstance(model, MLP) or model.config.n_inputs != 2:
        raise ProofError(f"`model` (a {type(model).__name__}) must be nerve's MLP on pairs (a, b).")
    G = getattr(task, "group", None)
    if G is None or not torch.equal(task.table, G.table):
        raise ProofError(
            f"`task` ({getattr(task, 'name', task)!r}) must be a group's composition t(a, b) = ab (group "
            "composition or a+b mod p): the ideal model's symmetry is that law's."
        )
    return G


def fit_rho_sets(
    model: MLP,
    task: Any,
    *,
    clean: float = 0.5,
    similarity: float = 0.9,
    iterations: int = 5,
    tol: float = 0.1,
) -> Idealisation:
    """Fit the idealisation. Among the neurons whose dominant irrep (nerve's Fourier analysis)
    holds more than `clean` of their variance, a partition is the strongest neuron left and every
    neuron of its irrep whose left and right tables each correlate at least `similarity` with a
    translate of that neuron's. A partition's templates are the aligned mean of its neurons (the
    reference neuron's tables to start, then `iterations` rounds of aligning every neuron to its
    best translates and averaging), then averaged over their stabilisers (the elements s with
    ``‖λ(s ·) − λ‖ ≤ tol ‖λ‖``, and ``μ(· s)`` likewise, closed to a subgroup), so that each template
    is exactly, bitwise, invariant under it. A partition with a unit that no neuron covers is left
    out; its neurons count as error."""
    from nerve.analysis.fourier import FourierAnalysis

    G = _check(model, task)
    for name, value in (("clean", clean), ("similarity", similarity), ("tol", tol)):
        if not (isinstance(value, float | int) and 0 < value < 1):
            raise ProofError(f"`{name}` (={value!r}) must be a number in (0, 1).")
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise ProofError(f"`iterations` (={iterations!r}) must be a positive integer.")
    n, table = G.order, G.table
    inv = G.inverses
    lt, rt, ut = _tables(model)
    result = FourierAnalysis().fit(model, task).result_
    irrep = torch.tensor(result.neuron_irrep)
    fraction = torch.tensor(result.neuron_fraction).nan_to_num(0.0)
    # left[h, a] = h⁻¹a and right[k, b] = bk, as element indices: translating a table is indexing
    left_of = table[inv]  # [h, a] -> h⁻¹ a
    right_of = table.T  # [k, b] -> b k
    H = lt.shape[1]
    partition = torch.full((H,), -1)
    hs, ks = torch.zeros(H, dtype=torch.long), torch.zeros(H, dtype=torch.long)
    scale, alpha = torch.ones(H, dtype=torch.float64), torch.zeros(H, dtype=torch.float64)
    templates: list[tuple[Tensor, Tensor, Tensor]] = []
    weights: list[float] = []
    for members in _groups(lt, rt, irrep, fraction, left_of, right_of, clean, similarity):
        p = len(templates)
        ref = members[0]
        lam, mu = lt[:, ref].clone(), rt[:, ref].clone()
        for _ in range(iterations):
            h = (lt[:, members].T @ lam[left_of].T).argmax(1)  # ⟨l_i, λ(h⁻¹ ·)⟩ over h
            k = (rt[:, members].T @ mu[right_of].T).argmax(1)
            # align each neuron to the template's frame: l_i(h a) ≈ s λ(a), r_i(b k⁻¹) ≈ s μ(b)
            l_al, r_al = lt[table[h], members[:, None]], rt[table.T[inv[k]], members[:, None]]  # [m, |G|]
            lam, mu = l_al.mean(0), r_al.mean(0)
        both = torch.cat([lam, mu])
        # least squares in the template's frame: l_i(h_i y) ≈ s λ(y) and r_i(y k_i⁻¹) ≈ s μ(y)
        s = torch.cat([l_al, r_al], 1) @ both / (both @ both)
        keep = s > 0
        members, h, k, s = members[keep], h[keep], k[keep], s[keep]
        # ν in the template frame: u_i(h z k⁻¹) ≈ α_i ν(z)
        aligned = ut[table[table[h], inv[k][:, None]], members[:, None]].T  # [|G|, m]
        nu = aligned.mean(1)
        # a ρ-set's vectors have stabilisers: make the templates exactly invariant under theirs, so
        # that translates by one coset are bitwise the same unit
        S_L = _stabiliser(lam, G, left=True, tol=tol)
        S_R = _stabiliser(mu, G, left=False, tol=tol)
        lam = _average_over(lam, _cosets(G, S_L, ()))
        mu = _average_over(mu, _cosets(G, (), S_R))
        nu = _average_over(nu, _cosets(G, S_L, S_R))
        nu = nu / nu.norm()
        a_i = aligned.T @ nu
        live = a_i > 0  # a neuron that reads ν backwards stays outside the ideal, all of it error
        members, h, k, s, a_i = members[live], h[live], k[live], s[live], a_i[live]
        partition[members], hs[members], ks[members] = p, h, k
        scale[members], alpha[members] = s, a_i
        templates.append((lam, mu, nu))
        weights.append(0.0)  # set below, once the units are known
    effective = alpha * scale  # > 0 for every neuron in the ideal
    ideal = Idealisation(tuple(templates), tuple(weights), partition, hs, ks, scale, effective, "")
    units = _units(ideal, G)
    kept: list[int] = []
    for p in range(len(templates)):
        members = (partition == p).nonzero()[:, 0]
        ids = units[p].of(hs[members], ks[members], n)
        totals = torch.zeros(units[p].count, dtype=torch.float64).index_add_(0, ids, effective[members])
        if not bool((totals > 0).all()):
            # a unit no neuron covers would be all error in every input: the partition's neurons
            # leave the ideal instead, and count as error themselves (Wu et al. drop such sets too)
            partition[members] = -1
            continue
        # W_p: the mean weight of a unit per pair of translates (any value gives an ideal model;
        # this one is the neurons' own)
        partition[members] = len(kept)
        weights[p] = float((totals / units[p].multiplicity).mean() * n * n)
        kept.append(p)
    templates = [templates[p] for p in kept]
    weights = [weights[p] for p in kept]
    rule = (f"neurons whose dominant irrep holds more than {clean:g} of their variance, one partition per "
            f"irrep; templates: the mean of the neurons aligned to their best translates ({iterations} "
            "rounds), averaged over their stabilisers; a partition with a unit no neuron covers is "
            "left out; W_p: the mean weight of its units")  # fmt: skip
    return Idealisation(tuple(templates), tuple(weights), partition, hs, ks, scale, effective, rule)


def _groups(lt, rt, irrep, fraction, left_of, right_of, clean: float, similarity: float):
    """The neuron indices of each partition, the strongest neuron first (see :func:`fit_rho_sets`)."""
    norm_l, norm_r = lt.norm(dim=0).clamp_min(1e-300), rt.norm(dim=0).clamp_min(1e-300)
    left = set(((fraction > clean) & (irrep >= 0)).nonzero()[:, 0].tolist())
    while left:
        pool = torch.tensor(sorted(left))
        ref = int(pool[(norm_l[pool] + norm_r[pool]).argmax()])
        same = pool[irrep[pool] == irrep[ref]]
        corr_l = (lt[:, same].T @ lt[:, ref][left_of].T).max(1).values / (norm_l[same] * norm_l[ref])
        corr_r = (rt[:, same].T @ rt[:, ref][right_of].T).max(1).values / (norm_r[same] * norm_r[ref])
        members = same[(corr_l >= similarity) & (corr_r >= similarity)]
        members = torch.cat([torch.tensor([ref]), members[members != ref]])
        left -= set(members.tolist())
        yield members


def _stabiliser(f: Tensor, G: Any, *, left: bool, tol: float) -> tuple[int, ...]:
    """The subgroup generated by the s with ``‖f(s ·) − f‖ ≤ tol ‖f‖`` (``f(· s)`` if not `left`)."""
    table = G.table
    shifted = f[table] if left else f[table.T]  # [s, y]: f(s y) or f(y s)
    close = ((shifted - f).norm(dim=1) <= tol * f.norm()).nonzero()[:, 0].tolist()
    group = {int(G.identity), *close}
    while True:  # close under the product
        more = {int(table[x, y]) for x in group for y in group} - group
        if not more:
            return tuple(sorted(group))
        group |= more


def _cosets(G: Any, S_left: tuple[int, ...], S_right: tuple[int, ...]) -> list[list[int]]:
    """The double cosets ``S_left · y · S_right`` (a one-sided coset when the other side is ())."""
    table, e = G.table, int(G.identity)
    S_left, S_right = S_left or (e,), S_right or (e,)
    seen: set[int] = set()
    out = []
    for y in range(G.order):
        if y in seen:
            continue
        coset = sorted({int(table[table[s, y], r]) for s in S_left for r in S_right})
        seen.update(coset)
        out.append(coset)
    return out


def _average_over(f: Tensor, classes: list[list[int]]) -> Tensor:
    """`f` made constant on each class: one mean per class, written to all of its elements, so
    the values are bitwise equal within a class."""
    out = torch.empty_like(f)
    for members in classes:
        out[members] = f[members].mean()
    return out


@dataclass(frozen=True)
class _Units:
    """The distinct translate pairs of one partition: `unit[h·|G| + k]` is the unit of (h, k),
    `count` units, each unit's `multiplicity` (how many pairs give it) and one pair `rep` per unit
    ``[count, 2]``."""

    unit: Tensor
    count: int
    multiplicity: Tensor
    rep: Tensor

    def of(self, h: Tensor, k: Tensor, n: int) -> Tensor:
        """The units of the pairs ``(h_j, k_j)``."""
        return self.unit[h * n + k]


def _units(ideal: Idealisation, G: Any) -> list[_Units]:
    """Pairs (h, k) whose translated tables are equal (as real numbers, value by value) are one unit.

    ``λ(h⁻¹ ·) = λ(h'⁻¹ ·)``, ``μ(· k) = μ(· k')`` and ``ν(h⁻¹ · k) = ν(h'⁻¹ · k')`` hold exactly when
    ``(g, r) = (h'⁻¹h, k⁻¹k')`` lies in the group K of pairs with ``λ(g x) = λ(x)``, ``μ(x r) = μ(x)``
    and ``ν(g x r) = ν(x)`` for every x; so the units are the orbits of (h, k) ↦ (h g⁻¹, k r) over
    K, each of |K| pairs: K is found with |S_λ|·|S_μ|·|G| comparisons and the orbits by propagating
    the least pair index along a generating set of K, instead of sorting |G|² tables."""
    n, table, inv = G.order, G.table, G.inverses
    h, k = torch.arange(n).repeat_interleave(n), torch.arange(n).repeat(n)  # every pair, h-major
    out = []
    for lam, mu, nu in ideal.templates:
        S_l = (lam[table] == lam).all(1).nonzero()[:, 0]  # g: λ(g x) = λ(x)
        S_r = (mu[table.T] == mu).all(1).nonzero()[:, 0]  # r: μ(x r) = μ(x)
        g, r = S_l.repeat_interleave(len(S_r)), S_r.repeat(len(S_l))
        keep = (nu[table[table[g], r[:, None]]] == nu).all(1)  # ν(g x r) = ν(x)
        g, r = g[keep], r[keep]
        moves = [table[h, inv[g[j]]] * n + table[k, r[j]] for j in _generators(G, g, r)]  # (h g⁻¹, k r)
        least = torch.arange(n * n)
        while True:  # each pair takes the least index it reaches: its orbit's least, at the end
            new = torch.stack([least, *(least[m] for m in moves)]).min(0).values
            if torch.equal(new, least):
                break
            least = new
        reps, unit = torch.unique(least, return_inverse=True)
        count = len(reps)
        out.append(_Units(unit, count, torch.full((count,), float(len(g)), dtype=torch.float64),
                          torch.stack([reps // n, reps % n], 1)))  # fmt: skip
    return out


def _generators(G: Any, g: Tensor, r: Tensor) -> list[int]:
    """Indices j of a generating set of the group of pairs ``(g_j, r_j)`` (the product
    ``(g, r)(g', r') = (g g', r' r)``): each next pair that the ones before do not generate."""
    n, table, e = G.order, G.table, int(G.identity)
    inside = torch.zeros(n * n, dtype=torch.bool)
    inside[e * n + e] = True
    chosen: list[int] = []
    for j in range(len(g)):
        if inside[g[j] * n + r[j]]:
            continue
        chosen.append(j)
        while True:  # close under multiplying by the chosen pairs
            codes = inside.nonzero()[:, 0]
            cg, cr = codes // n, codes % n
            for i in chosen:
                inside[table[cg, g[i]] * n + table[r[i], cr]] = True
            if int(inside.sum()) == len(codes):
                break
    return chosen


def prove_rho_sets(
    model: MLP,
    task: Any,
    statement: Statement | None = None,
    *,
    ideal: Idealisation | None = None,
    brute_force_flops: int | None = None,
) -> RhoSetProof:
    """Prove `statement` (default :class:`Correct`) about `model` on the group task `task` through
    the ρ-set idealisation `ideal` (default: :func:`fit_rho_sets`); see the module for the bound.
    `brute_force_flops` defaults to the exhaustive prover's count (:func:`exhaustive_flops`)."""
    from nerve.proofs.prove import exhaustive_flops

    statement = Correct() if statement is None else statement
    G = _check(model, task)
    if isinstance(statement, (Robust, TopK)):
        raise ProofError(
            f"`statement` ({statement!r}) is not about the top-1 margin on points; prove it with `prove`."
        )
    ideal = fit_rho_sets(model, task) if ideal is None else ideal
    if brute_force_flops is None:
        brute_force_flops = exhaustive_flops(model, task)
    units = _units(ideal, G)
    inputs, targets = task.enumerate()
    start = time.perf_counter()
    d = model.config.d_embed
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        W_h = model.hidden.weight
        left = Interval.point(model.embeddings[0]).linear(W_h[:, :d])  # [|G|, H], sound
        right = Interval.point(model.embeddings[1]).linear(W_h[:, d:])
        U = model.unembed.weight.detach().double()  # [|G|, H], exact
        margin, F, uncovered_a, uncovered_b, n_units, n_covered = _ideal_margin(ideal, units, G)
        l_id, r_id, u_id = _ideal_neurons(ideal, units, G, U.shape[1])
        H = U.shape[1]
        outside = ideal.partition < 0
        # the neuron term, for the neurons in the ideal (the others enter the logits exactly, below)
        dl, dr = (left - l_id).magnitude(), (right - r_id).magnitude()  # ≥ |Δl_i(a)|, |Δr_i(b)|
        dl[:, outside], dr[:, outside] = 0.0, 0.0
        # max_z Σ_i |u_i(z)| |Δl_i(a)|: |G|·H per a (the max over z inside the sum's bound)
        term_a = up((dl @ U.abs().T).max(1).values / (1 - gamma(H)))  # [|G|]
        term_b = up((dr @ U.abs().T).max(1).values / (1 - gamma(H)))
        R, n_terms = _exact_part(ideal, units, G, Interval.point(U) - u_id, inputs, left, right, U)
        neuron = up(term_a[inputs[:, 0]] + term_b[inputs[:, 1]])
        uncovered = up(uncovered_a[inputs[:, 0]] + uncovered_b[inputs[:, 1]])
        E = up(neuron + uncovered)
        # every logit: the ideal's F(a⁻¹ z b⁻¹) plus the part computed exactly, within ±E
        table, inv = G.table, G.inverses
        q = table[table[inv[inputs[:, 0]]], inv[inputs[:, 1]][:, None]]  # [N, |G|]: a⁻¹ z b⁻¹
        logits = Interval(F.lo[q], F.hi[q]) + R
        lo, hi = margin_bounds(logits, targets)
    # torch's counter counts the matrix products; the elementwise work is written out: per input,
    # the exact part's terms; per table entry, the ideal tables (3 tables, ~6 operations each)
    # and the deviations (2 tables, ~4 each); per unit and class, the ideal margin's F (~10)
    per_table = G.order * H * (3 * 6 + 2 * 4)
    flops = int(counter.get_total_flops()) + len(inputs) * n_terms * ELEMENTWISE_PER_UNIT + per_table
    flops += (
        len(inputs) * G.order * 12
    )  # per (x, z): the product's error bound, F's lookup and add, the margin
    flops += n_units * G.order * 10
    inf = torch.tensor(math.inf, dtype=torch.float64)
    lower = torch.nextafter(lo - up(2 * E), -inf)
    upper = torch.nextafter(hi + up(2 * E), inf)
    result = result_from_margins(statement, inputs, lower, upper, flops=flops, start=start)
    exact = R.magnitude().max(1).values
    return RhoSetProof(
        result, int(brute_force_flops), float(margin), float(2 * neuron.mean()), float(2 * exact.mean()),
        float(2 * uncovered.mean()), n_units, n_covered, ideal,
    )  # fmt: skip


def _exact_part(
    ideal: Idealisation,
    units: list[_Units],
    G: Any,
    du: Interval,
    inputs: Tensor,
    left: Interval,
    right: Interval,
    U: Tensor,
) -> tuple[Interval, int]:
    """``R_z(x)`` ``[inputs, |G|]``, the part of the logits between the ideal model and the neuron term
    that is computed as it stands: for the neurons in the ideal, ``Σ_i Δu_i(z) ReLU(l'_i + r'_i)``,
    which is ``Σ_U D_U(z) f_U(x)`` with ``D_U = Σ_{i∈U} s_i Δu_i`` because the neurons of a unit share
    the activation ``s_i f_U(x)`` (so their deviations cancel inside it); and the whole contribution
    ``u_i(z) ReLU(l_i(a) + r_i(b))`` of every neuron outside it. One product of
    ``[inputs, units + outside]`` activations with ``[units + outside, |G|]`` weights, in interval
    arithmetic: units + outside multiply–adds per input and class, against the exhaustive proof's H."""
    n = G.order
    acts, weights = [], []
    for p, (lam, mu, _) in enumerate(ideal.templates):
        members = (ideal.partition == p).nonzero()[:, 0]
        ids = units[p].of(ideal.left[members], ideal.right[members], n)
        onehot = torch.zeros(units[p].count, len(members), dtype=torch.float64)
        onehot[ids, torch.arange(len(members))] = 1.0
        scaled = Interval(du.lo[:, members].T, du.hi[:, members].T) * Interval.point(
            ideal.scale[members, None]
        )
        weights.append(Interval.point(onehot).matmul(scaled))  # [units, |G|]: D_U(z)
        reps = units[p].rep
        at_a, at_b, _ = _translates(G, reps[:, 0], reps[:, 1])
        acts.append(
            (Interval.point(lam[at_a].T[inputs[:, 0]]) + Interval.point(mu[at_b].T[inputs[:, 1]])).relu()
        )
    out = (ideal.partition < 0).nonzero()[:, 0]
    if len(out):
        acts.append(
            (
                left.map(lambda t: t[inputs[:, 0]][:, out]) + right.map(lambda t: t[inputs[:, 1]][:, out])
            ).relu()
        )
        weights.append(Interval.point(U[:, out].T))
    if not acts:
        return Interval.point(torch.zeros(len(inputs), n, dtype=torch.float64)), 0
    f = Interval(torch.cat([x.lo for x in acts], 1), torch.cat([x.hi for x in acts], 1))
    D = Interval(torch.cat([x.lo for x in weights], 0), torch.cat([x.hi for x in weights], 0))
    return f.matmul_narrow(D), f.shape[1]


def _translates(G: Any, h: Tensor, k: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """For translate pairs ``(h_j, k_j)``: the indices ``h_j⁻¹ a`` ``[m, |G|]`` (over a), ``b k_j``
    (over b) and ``h_j⁻¹ z k_j`` (over z)."""
    table, inv = G.table, G.inverses
    left = table[inv[h]]  # [m, |G|]
    return left, table.T[k], table[left, k[:, None]]


def _ideal_neurons(ideal: Idealisation, units: list[_Units], G: Any, H: int) -> tuple[Interval, ...]:
    """Each real neuron's ideal tables ``l'_i = s_i λ_U``, ``r'_i = s_i μ_U``,
    ``u'_i = t_i c_U ν_U / s_i`` ``[|G|, H]``, enclosed (zero for a neuron outside the ideal)."""
    n = G.order
    lo = [torch.zeros(n, H, dtype=torch.float64) for _ in range(3)]
    hi = [torch.zeros(n, H, dtype=torch.float64) for _ in range(3)]
    for p, (lam, mu, nu) in enumerate(ideal.templates):
        members = (ideal.partition == p).nonzero()[:, 0]
        if len(members) == 0:
            continue
        h, k = ideal.left[members], ideal.right[members]
        at_a, at_b, at_z = _translates(G, h, k)
        ids = units[p].of(h, k, n)
        s = Interval.point(ideal.scale[members])  # [m]
        c = _unit_weights(ideal, units, p, n)
        w = ideal.weight[members]
        total = torch.zeros(units[p].count, dtype=torch.float64).index_add_(0, ids, w)  # Σ_{j∈U} w_j
        g = gamma(max(len(members), 2))
        totals = Interval(
            torch.nextafter(total * (1 - 2 * g), torch.zeros_like(total)), up(total / (1 - 2 * g))
        )
        coef = (
            Interval(c.lo[ids], c.hi[ids]) * Interval.point(w) / Interval(totals.lo[ids], totals.hi[ids]) / s
        )
        tables = (Interval.point(lam[at_a]) * s.map(lambda t: t[:, None]),
                  Interval.point(mu[at_b]) * s.map(lambda t: t[:, None]),
                  Interval.point(nu[at_z]) * coef.map(lambda t: t[:, None]))  # fmt: skip
        for j, x in enumerate(tables):  # [m, |G|] -> columns of [|G|, H]
            lo[j][:, members], hi[j][:, members] = x.lo.T, x.hi.T
    return tuple(Interval(a, b) for a, b in zip(lo, hi))


def _unit_weights(ideal: Idealisation, units: list[_Units], p: int, n: int) -> Interval:
    """``c_U = W_p · multiplicity(U) / |G|²`` for every unit of partition p, enclosed."""
    W = Interval.point(torch.tensor(ideal.weights[p], dtype=torch.float64))
    return Interval.point(units[p].multiplicity) * W / Interval.point(torch.tensor(float(n * n)))


def _ideal_margin(
    ideal: Idealisation, units: list[_Units], G: Any
) -> tuple[Tensor, Interval, Tensor, Tensor, int, int]:
    """The ideal margin ``F(e) − max_{y≠e} F(y)`` rounded down, and the uncovered units' bounds
    ``Σ_U |c_U| max|ν_U| ReLU(λ_U(a))`` ``[|G|]`` (and ReLU(μ_U(b))) rounded up; F itself (enclosed);
    the unit counts."""
    n, e = G.order, int(G.identity)
    F = Interval.point(torch.zeros(n, dtype=torch.float64))
    unc_a = torch.zeros(n, dtype=torch.float64)
    unc_b = torch.zeros(n, dtype=torch.float64)
    total_units = total_covered = 0
    for p, (lam, mu, nu) in enumerate(ideal.templates):
        members = (ideal.partition == p).nonzero()[:, 0]
        covered = set(units[p].of(ideal.left[members], ideal.right[members], n).tolist())
        reps = units[p].rep  # [units, 2]
        at_a, at_b, at_z = _translates(G, reps[:, 0], reps[:, 1])
        c = _unit_weights(ideal, units, p, n)  # [units]
        at_e = (Interval.point(lam[at_a[:, e]]) + Interval.point(mu[at_b[:, e]])).relu()  # [units]
        F = F + (Interval.point(nu[at_z]) * (c * at_e).map(lambda t: t[:, None])).sum(0)
        mask = torch.ones(units[p].count, dtype=torch.bool)
        mask[sorted(covered)] = False
        if mask.any():
            weight = up(c.magnitude()[mask] * nu[at_z[mask]].abs().max(1).values)  # ≥ |c_U| max|ν_U|
            g = gamma(int(mask.sum()))
            unc_a = up(unc_a + up((lam[at_a[mask]].clamp_min(0) * weight[:, None]).sum(0) / (1 - g)))
            unc_b = up(unc_b + up((mu[at_b[mask]].clamp_min(0) * weight[:, None]).sum(0) / (1 - g)))
        total_units += units[p].count
        total_covered += len(covered)
    others = torch.cat([F.hi[:e], F.hi[e + 1 :]]).max()
    margin = torch.nextafter(F.lo[e] - others, torch.tensor(-math.inf, dtype=torch.float64))
    if total_units == 0:  # no ρ-set: the ideal model is zero, its margin exactly 0 (not a rounding)
        margin = torch.tensor(0.0, dtype=torch.float64)
    return margin, F, unc_a, unc_b, total_units, total_covered
