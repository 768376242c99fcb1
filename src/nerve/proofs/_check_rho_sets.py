"""The checker's own path for a ρ-set certificate (:mod:`nerve.proofs.rho_sets`): the margin bounds
of every input rebuilt from the stored weights and the idealised model the certificate carries, in
numpy, written again from the mathematics rather than shared with the prover.

Nothing the certificate says about the idealisation is trusted for soundness. The bound holds for
*any* templates, translates, scales and shares: the units (pairs of translates whose three tables
are equal, value by value) are found here from the group's table, each neuron's share of its unit
is its weight over the unit's total, so the shares sum to one whatever the weights are, and the
terms of the bound are recomputed. A tampered idealisation therefore cannot make the check prove
more than is true; it changes the counts, which the checker compares with the certificate's.

Enclosures are centre and radius. Radii of a few operations are inflated by :func:`_bound`'s
relative 2⁻⁴⁰, far above their rounding; sums of many terms are divided by ``1 − γ_n`` as well.
Cost: the product of ``[inputs, units + outside neurons]`` activations with their
``[units + outside, |G|]`` weights dominates, four float products of that shape (the prover's
one plus the error bound's three), against the exhaustive checker's |G|² forward passes one by one.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from nerve.proofs.check import U, _bound, _centre, _gamma, _linear, _product

__all__ = ["rho_set_margins"]

TERMS = ("ideal_margin", "neuron_error", "exact_deviation", "uncovered_error")


def _malformed(ideal: Any, n: int, H: int) -> list[str]:
    """What makes `ideal` (the certificate's idealisation) not one for n elements and H neurons."""
    try:
        templates = [[np.asarray(t, dtype=np.float64) for t in triple] for triple in ideal["templates"]]
        weights = np.asarray(ideal["weights"], dtype=np.float64)
        per_neuron = {k: np.asarray(ideal[k]) for k in ("partition", "left", "right")}
        per_neuron |= {k: np.asarray(ideal[k], dtype=np.float64) for k in ("scale", "weight")}
    except (KeyError, TypeError, ValueError) as err:
        return [f"compact.idealisation is not an idealisation ({type(err).__name__}: {err})"]
    P = len(templates)
    problems = []
    if any(len(triple) != 3 or any(t.shape != (n,) for t in triple) for triple in templates):
        problems.append(f"compact.idealisation.templates: each must be three tables of {n} numbers")
    elif not all(np.isfinite(t).all() for triple in templates for t in triple):
        problems.append("compact.idealisation.templates: a value is not finite")
    if weights.shape != (P,) or not np.isfinite(weights).all():
        problems.append(f"compact.idealisation.weights: must be {P} finite numbers")
    for k, v in per_neuron.items():
        if v.shape != (H,):
            problems.append(f"compact.idealisation.{k}: must have one entry per neuron ({H})")
    if problems:
        return problems
    part = per_neuron["partition"]
    inside = part >= 0
    checks = {
        "partition": np.issubdtype(part.dtype, np.integer) and bool((part < P).all() and (part >= -1).all()),
        "left": np.issubdtype(per_neuron["left"].dtype, np.integer)
        and bool(((per_neuron["left"] >= 0) & (per_neuron["left"] < n)).all()),
        "right": np.issubdtype(per_neuron["right"].dtype, np.integer)
        and bool(((per_neuron["right"] >= 0) & (per_neuron["right"] < n)).all()),
        "scale": bool(np.isfinite(per_neuron["scale"]).all() and (per_neuron["scale"][inside] > 0).all()),
        "weight": bool(np.isfinite(per_neuron["weight"]).all() and (per_neuron["weight"][inside] > 0).all()),
    }
    rules = {"partition": f"integers in [-1, {P})", "left": f"element indices in [0, {n})",
             "right": f"element indices in [0, {n})", "scale": "finite, > 0 for a neuron in the ideal",
             "weight": "finite, > 0 for a neuron in the ideal"}  # fmt: skip
    return [f"compact.idealisation.{k}: must be {rules[k]}" for k, ok in checks.items() if not ok]


def _units(table: np.ndarray, inv: np.ndarray, e: int, lam, mu, nu):
    """Unit id of every pair (h, k) (index h·n + k), each unit's multiplicity, one pair per unit.

    Two pairs' translated tables are equal exactly when (h'⁻¹h, k⁻¹k') lies in the group K of the
    (g, r) that fix λ on the left (λ(g x) = λ(x)), μ on the right and ν on both sides (ν(g x r) =
    ν(x)), every x; a unit is an orbit (h g⁻¹, k r) over K, named by its least pair index, which
    every pair reaches by moves along the elements of K that generate it."""
    n = len(table)
    S_l = np.flatnonzero((lam[table] == lam).all(1))
    S_r = np.flatnonzero((mu[table.T] == mu).all(1))
    g, r = np.repeat(S_l, len(S_r)), np.tile(S_r, len(S_l))
    both = (nu[table[table[g], r[:, None]]] == nu).all(1)
    g, r = g[both], r[both]
    # a generating set: each element of K outside the subgroup its predecessors generate
    member = np.zeros(n * n, dtype=bool)
    member[e * n + e] = True
    gens: list[int] = []
    for j in range(len(g)):
        if member[g[j] * n + r[j]]:
            continue
        gens.append(j)
        size = -1
        while size != member.sum():
            size = member.sum()
            codes = np.flatnonzero(member)
            for i in gens:
                member[table[codes // n, g[i]] * n + table[r[i], codes % n]] = True
    h, k = np.divmod(np.arange(n * n), n)
    moves = [table[h, inv[g[i]]] * n + table[k, r[i]] for i in gens]
    least, previous = np.arange(n * n), None
    while previous is None or not np.array_equal(least, previous):
        previous = least
        least = np.min([least, *(least[m] for m in moves)], axis=0)
    first, unit = np.unique(least, return_inverse=True)
    return unit.ravel(), np.full(len(first), float(len(g))), first


def rho_set_margins(
    params: dict[str, np.ndarray],
    config: Any,
    group: Any,
    inputs: np.ndarray,
    targets: np.ndarray,
    ideal: Any,
) -> tuple[np.ndarray, np.ndarray, dict[str, float], list[str]]:
    """Lower and upper margin bounds of every input, the bound's terms (named as the certificate
    names them) and the problems that make `ideal` unusable (then no bounds: empty arrays)."""
    table, inv, e = np.asarray(group.table), np.asarray(group.inverses), int(group.identity)
    n, d = len(table), config.d_embed
    W_h, W_U = params["hidden.weight"], params["unembed.weight"]  # [H, 2d], [|G|, H]
    H = W_h.shape[0]
    problems = _malformed(ideal, n, H)
    if problems:
        return np.empty(0), np.empty(0), {}, problems
    part = np.asarray(ideal["partition"])
    h_i, k_i = np.asarray(ideal["left"]), np.asarray(ideal["right"])
    s_i, w_i = np.asarray(ideal["scale"], dtype=np.float64), np.asarray(ideal["weight"], dtype=np.float64)
    # the real first layer's tables, enclosed: l_i(a), r_i(b)
    E_a, E_b = params["embed.0.weight"], params["embed.1.weight"]
    l_c, l_r = _centre(*_linear(E_a, E_a, W_h[:, :d]))
    r_c, r_r = _centre(*_linear(E_b, E_b, W_h[:, d:]))
    dl, dr = np.zeros((n, H)), np.zeros((n, H))  # ≥ |l_i − l'_i|, |r_i − r'_i|
    F_c, F_r = np.zeros(n), np.zeros(n)  # the ideal model's F(y)
    unc_a, unc_b = np.zeros(n), np.zeros(n)  # the uncovered units' bounds
    acts_lo, acts_hi, D_lo, D_hi = [], [], [], []  # the exact part's activations and weights
    n_units = n_covered = 0
    for p, (lam, mu, nu) in enumerate(ideal["templates"]):
        lam, mu, nu = (np.asarray(t, dtype=np.float64) for t in (lam, mu, nu))
        unit, mult, first = _units(table, inv, e, lam, mu, nu)
        count = len(mult)
        members = np.flatnonzero(part == p)
        ids = unit[h_i[members] * n + k_i[members]]
        rep_h, rep_k = np.divmod(first, n)
        lam_U, mu_U = lam[table[inv[rep_h]]], mu[table.T[rep_k]]  # [units, |G|]: λ_U(a), μ_U(b)
        nu_U = nu[table[table[inv[rep_h]], rep_k[:, None]]]  # [units, |G|]: ν_U(z) = ν(h⁻¹ z k)
        c_U = ideal["weights"][p] * mult / (n * n)  # within 3u relative
        # neuron i's ideal tables: l' = s λ_U, r' = s μ_U, u' = (w_i / Σ_U w) c_U ν_U / s
        s = s_i[members]
        lp_c, rp_c = s[:, None] * lam_U[ids], s[:, None] * mu_U[ids]
        dl[:, members] = _bound(np.abs(l_c[:, members] - lp_c.T) + l_r[:, members] + np.abs(lp_c.T) * U)
        dr[:, members] = _bound(np.abs(r_c[:, members] - rp_c.T) + r_r[:, members] + np.abs(rp_c.T) * U)
        total = np.bincount(ids, weights=w_i[members], minlength=count)  # Σ_{j∈U} w_j > 0 where covered
        coef = w_i[members] / total[ids] * c_U[ids] / s
        coef_r = np.abs(coef) * _gamma(len(members) + 8)  # the sum's γ_m and six more operations
        up_c = coef[:, None] * nu_U[ids]  # [m, |G|]
        up_r = _bound(coef_r[:, None] * np.abs(nu_U[ids]) + np.abs(up_c) * U)
        # D_U(z) = Σ_{i∈U} s_i (u_i(z) − u'_i(z))
        term = s[:, None] * (W_U[:, members].T - up_c)
        onehot = np.zeros((count, len(members)))
        onehot[ids, np.arange(len(members))] = 1.0
        g = _gamma(len(members) + 3)
        D_c = onehot @ term
        D_r = _bound((onehot @ (s[:, None] * up_r) + g * (onehot @ np.abs(term))) / (1 - g))
        D_lo.append(D_c - D_r)
        D_hi.append(D_c + D_r)
        # the activation each unit shares: f_U(a, b) = ReLU(λ_U(a) + μ_U(b)), exact values summed once
        v = lam_U.T[inputs[:, 0]] + mu_U.T[inputs[:, 1]]  # [N, units], one rounding: one ulp out
        acts_lo.append(np.maximum(np.nextafter(v, -np.inf), 0.0))
        acts_hi.append(np.maximum(np.nextafter(v, np.inf), 0.0))
        # F(y) = Σ_U c_U ReLU(λ_U(e) + μ_U(e)) ν_U(y)
        v_e = lam_U[:, e] + mu_U[:, e]
        k_c = c_U * np.maximum(v_e, 0.0)
        k_r = np.abs(k_c) * _gamma(6)
        g = _gamma(count)
        F_c = F_c + k_c @ nu_U
        F_r = _bound(
            F_r + (k_r @ np.abs(nu_U) + g * (np.abs(k_c) @ np.abs(nu_U))) / (1 - g) + np.abs(F_c) * U
        )
        # the units no neuron covers: |c_U| max|ν_U| (ReLU λ_U(a) + ReLU μ_U(b)), bounded above
        uncovered = np.ones(count, dtype=bool)
        uncovered[ids] = False
        if uncovered.any():
            weight = _bound(np.abs(c_U[uncovered]) * np.abs(nu_U[uncovered]).max(1) * (1 + _gamma(4)))
            g = _gamma(int(uncovered.sum()) + 1)
            unc_a = _bound(unc_a + weight @ np.maximum(lam_U[uncovered], 0.0) / (1 - g))
            unc_b = _bound(unc_b + weight @ np.maximum(mu_U[uncovered], 0.0) / (1 - g))
        n_units += count
        n_covered += count - int(uncovered.sum())
    # every neuron outside the ideal enters the exact part whole: u_i(z) ReLU(l_i(a) + r_i(b))
    out = np.flatnonzero(part < 0)
    if len(out):
        a, b = inputs[:, 0], inputs[:, 1]
        c = l_c[a][:, out] + r_c[b][:, out]
        rad = _bound(l_r[a][:, out] + r_r[b][:, out])
        acts_lo.append(np.maximum(np.nextafter(np.nextafter(c, -np.inf) - rad, -np.inf), 0.0))
        acts_hi.append(np.maximum(np.nextafter(np.nextafter(c, np.inf) + rad, np.inf), 0.0))
        D_lo.append(W_U[:, out].T)
        D_hi.append(W_U[:, out].T)
    if acts_lo:
        R_lo, R_hi = _product(np.hstack(acts_lo), np.hstack(acts_hi), np.vstack(D_lo), np.vstack(D_hi))
    else:
        R_lo = R_hi = np.zeros((len(inputs), n))
    # the neuron term: max_z Σ_i |u_i(z)| |Δl_i(a)|, and the same for b
    g = _gamma(H)
    term_a = _bound((dl @ np.abs(W_U).T).max(1) / (1 - g))
    term_b = _bound((dr @ np.abs(W_U).T).max(1) / (1 - g))
    neuron = _bound(term_a[inputs[:, 0]] + term_b[inputs[:, 1]])
    unc = _bound(unc_a[inputs[:, 0]] + unc_b[inputs[:, 1]])
    E = _bound(neuron + unc)
    # every logit: F(a⁻¹ z b⁻¹) + R_z(a, b), within ±E
    q = table[table[inv[inputs[:, 0]]], inv[inputs[:, 1]][:, None]]  # [N, |G|]
    lo = np.nextafter(np.nextafter(F_c[q] + R_lo, -np.inf) - F_r[q], -np.inf)
    hi = np.nextafter(np.nextafter(F_c[q] + R_hi, np.inf) + F_r[q], np.inf)
    rows = np.arange(len(targets))
    others_lo, others_hi = lo.copy(), hi.copy()
    others_lo[rows, targets], others_hi[rows, targets] = -np.inf, -np.inf
    E2 = _bound(2 * E)
    lower = np.nextafter(np.nextafter(lo[rows, targets] - others_hi.max(1), -np.inf) - E2, -np.inf)
    upper = np.nextafter(np.nextafter(hi[rows, targets] - others_lo.max(1), np.inf) + E2, np.inf)
    lower, upper = np.where(np.isnan(lower), -np.inf, lower), np.where(np.isnan(upper), np.inf, upper)
    F_lo, F_hi = F_c - F_r, F_c + F_r
    terms = {
        "ideal_margin": float(F_lo[e] - np.delete(F_hi, e).max()),
        "neuron_error": float(2 * neuron.mean()),
        "exact_deviation": float(2 * np.maximum(np.abs(R_lo), np.abs(R_hi)).max(1).mean()),
        "uncovered_error": float(2 * unc.mean()),
        "units": n_units,
        "covered_units": n_covered,
    }
    return lower, upper, terms, []


def compare_terms(claimed: dict[str, Any], found: dict[str, float]) -> list[str]:
    """A problem for each term of the bound the certificate states and the check does not find
    (counts equal; numbers within a relative 1e-6, the two code paths' rounding differing)."""
    problems = []
    for name, value in found.items():
        said = claimed.get(name)
        if name in ("units", "covered_units"):
            ok = said == value
        else:
            ok = isinstance(said, int | float) and math.isclose(said, value, rel_tol=1e-6, abs_tol=1e-12)
        if not ok:
            problems.append(f"compact.{name}: the certificate says {said!r}, the check finds {value!r}")
    return problems
