"""The ρ-set prover (issue 16, first part) on a planted S4 mechanism that is exactly a ρ-set model,
and on noisy copies of it: what it proves is never more than the exhaustive proof proves."""

import itertools

import pytest
import torch

from nerve.errors import ProofError
from nerve.models import MLP, MLPConfig
from nerve.proofs.prove import prove
from nerve.proofs.rho_sets import fit_rho_sets, prove_rho_sets
from nerve.proofs.statements import Correct
from nerve.tasks import group_composition, modular_arithmetic

PERMS = list(itertools.permutations(range(4)))  # symmetric(4)'s elements, in its order


def planted(noise: float = 0.0, seed: int = 0) -> MLP:
    """The permutation mechanism for ab in S4, one-hot embeddings: neuron (x, i, j) reads
    ``[a(x) = i] + [b(j) = x] − 1/2`` (each indicator centred over the group) and votes
    ``[z(j) = i] − 1/4``; both fire exactly when i = a(x) and j = b⁻¹(x), and then ab(j) = i. For each
    x its 16 neurons' tables are translates of one template each, with stabiliser S3 on either
    side: four exact ρ-sets of the standard irrep [3,1]."""
    n = len(PERMS)
    model = MLP(MLPConfig(n_vocab=n, n_classes=n, n_inputs=2, d_embed=n, d_hidden=64), seed=0)
    W_h = torch.zeros(64, 2 * n, dtype=torch.float64)
    W_U = torch.zeros(n, 64, dtype=torch.float64)
    for unit, (x0, i, j) in enumerate(itertools.product(range(4), range(4), range(4))):
        for e, p in enumerate(PERMS):
            W_h[unit, e] = (p[x0] == i) - 0.25  # l(a)
            W_h[unit, n + e] = (p[j] == x0) - 0.25  # r(b)
            W_U[e, unit] = (p[j] == i) - 0.25  # u(z)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for E in model.embed:
            E.weight.copy_(torch.eye(n))
        model.hidden.weight.copy_(
            (W_h + noise * torch.randn(W_h.shape, generator=g, dtype=torch.float64)).float()
        )
        model.unembed.weight.copy_(
            (W_U + noise * torch.randn(W_U.shape, generator=g, dtype=torch.float64)).float()
        )
    return model


def test_the_planted_mechanism_is_recovered_and_proved_through_its_symmetry():
    task = group_composition("S4")
    model = planted()
    ideal = fit_rho_sets(model, task)
    assert len(ideal.templates) == 4 and sorted(torch.bincount(ideal.partition).tolist()) == [16] * 4
    exhaustive = prove(model, task, Correct())
    assert exhaustive.verdict == "proved"
    proof = prove_rho_sets(model, task, ideal=ideal, brute_force_flops=exhaustive.flops)
    assert proof.units == proof.covered_units == 64  # 4 x 4 translates (S4/S3 on each side), 4 times
    assert proof.result.verdict == "proved" and proof.result.n_hold == exhaustive.n_hold == 576
    # the real model is the ideal one: every deviation from it is rounding
    assert max(proof.neuron_error, proof.exact_deviation, proof.uncovered_error) < 1e-9
    assert proof.ideal_margin == pytest.approx(exhaustive.margin_lower, rel=1e-9)
    assert proof.flops_ratio < 0.5


@pytest.mark.parametrize("noise", [0.001, 0.01, 0.2])
def test_what_the_rho_set_proof_proves_the_exhaustive_proof_proves(noise):
    task = group_composition("S4")
    model = planted(noise, seed=int(noise * 100))
    exhaustive = prove(model, task, Correct())
    proof = prove_rho_sets(model, task, brute_force_flops=exhaustive.flops)
    assert proof.result.n_hold <= exhaustive.n_hold
    assert set(proof.result.undecided) | set(proof.result.failing) >= set(exhaustive.undecided) | set(
        exhaustive.failing
    )
    assert proof.result.margin_lower <= exhaustive.margin_lower
    assert proof.neuron_error > 0  # the perturbation is in the error
    # an input the ρ-set proof refutes, the exhaustive proof does not prove
    assert not set(proof.result.failing) & (
        set(map(tuple, task.enumerate()[0].tolist())) - set(exhaustive.failing) - set(exhaustive.undecided)
    )
    if proof.units == 0:  # at 0.2 the fit finds no ρ-set: every neuron enters exactly, as in "factored"
        assert (fit_rho_sets(model, task).partition == -1).all()
        assert proof.result.n_hold == exhaustive.n_hold and proof.result.failing == exhaustive.failing
    if noise <= 0.001:  # measured: 2E ≈ 0.15 against an ideal margin of 1.0, so every input holds
        assert proof.result.n_hold == 576


def test_a_law_that_is_not_composition_and_bad_arguments_are_refused():
    model = MLP(MLPConfig(n_vocab=7, n_classes=7, d_embed=8, d_hidden=16), seed=0)
    with pytest.raises(ProofError, match=r"must be a group's composition"):
        fit_rho_sets(model, modular_arithmetic(7, "sub"))
    with pytest.raises(ProofError, match=r"`similarity` \(=1.5\) must be a number in \(0, 1\)"):
        fit_rho_sets(model, modular_arithmetic(7), similarity=1.5)
    with pytest.raises(ProofError, match=r"must be nerve's MLP on pairs"):
        prove_rho_sets(torch.nn.Linear(2, 2), modular_arithmetic(7))


@pytest.mark.slow
@pytest.mark.fixture_data
def test_on_the_chughtai_s5_model_the_bound_is_sound_non_vacuous_and_says_what_dominated():
    from pathlib import Path

    import nerve

    run = nerve.load(Path(__file__).resolve().parents[2] / "fixtures" / "chughtai2023")
    exhaustive = prove(run.model, run.task, Correct())
    proof = prove_rho_sets(run.model, run.task, brute_force_flops=exhaustive.flops)
    assert proof.result.n_hold <= exhaustive.n_hold and proof.result.margin_lower <= exhaustive.margin_lower
    assert proof.units == proof.covered_units > 0
    # the bar for one model (measured: every input proved, at 8.5% of the exhaustive FLOPs)
    assert proof.result.n_hold / proof.result.n_inputs >= 0.95 and proof.flops_ratio <= 0.2
    assert proof.dominant in ("neuron", "exact", "uncovered")


def test_a_margin_claimed_just_above_the_true_one_is_never_proved():
    # every weight and activation of the planted mechanism is a dyadic rational, so its real margin
    # is exactly 1 on every input; a claim 2⁻⁴⁰ above it is false, by less than the rounding error
    # of a float32 network, and a sound prover leaves it unproved
    from fractions import Fraction

    from nerve.proofs.statements import Margin

    task = group_composition("S4")
    model = planted()
    a, b = 5, 17  # one input, its real margin computed in exact rationals
    W_h = [[Fraction(float(w)) for w in row] for row in model.hidden.weight.double().tolist()]
    W_U = [[Fraction(float(w)) for w in row] for row in model.unembed.weight.double().tolist()]
    act = [max(Fraction(0), row[a] + row[24 + b]) for row in W_h]
    logits = [sum(w * h for w, h in zip(row, act)) for row in W_U]
    target = int(task.table[a, b])
    assert logits[target] - max(v for z, v in enumerate(logits) if z != target) == 1
    above = prove_rho_sets(model, task, Margin(at_least=1 + 2**-40))
    below = prove_rho_sets(model, task, Margin(at_least=1 - 1e-9))
    assert above.result.n_hold == 0 and below.result.n_hold == 576
