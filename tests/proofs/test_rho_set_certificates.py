"""Certificates of ρ-set proofs (issue 16, item 4): written by `certify(method="rho_sets")`, verified
by the checker's own numpy path, rejected when the idealisation, a term of the bound, a count or the
statement is altered; and an input whose real margin is below the rounding error is never proved."""

import json
from dataclasses import replace
from fractions import Fraction

import pytest
import torch
from test_rho_sets import planted

import nerve
from nerve.models import MLP, MLPConfig
from nerve.proofs import Accuracy, Correct, certify, check, prove
from nerve.proofs.prove import Certificate
from nerve.proofs.rho_sets import Idealisation, prove_rho_sets
from nerve.tasks import group_composition
from nerve.training import TrainConfig, train
from nerve.training.config import ModelConfig, TaskConfig
from nerve.training.run import save_tensors


def run_with(model: MLP, path):
    """A run of S4 composition whose last checkpoint holds `model`'s weights (one step of training
    makes the directory; the weights are then replaced)."""
    c = model.config
    config = TrainConfig(
        task=TaskConfig(kind="group", group="S4"),
        model=ModelConfig(kind="mlp", d_embed=c.d_embed, d_hidden=c.d_hidden),
        steps=1, eval_every=1, checkpoint_every=1, checkpoint_log_points=0,
    )  # fmt: skip
    run = train(config, path)
    save_tensors(run.dir.checkpoint(run.checkpoints[-1]), model.state_dict())
    return nerve.load(path)


@pytest.fixture(scope="module")
def noisy(tmp_path_factory):
    """The planted S4 mechanism with weight noise 0.003: every input proved, the bound's terms
    nonzero; its run and ρ-set certificate."""
    run = run_with(planted(0.003, seed=3), tmp_path_factory.mktemp("rho") / "noisy")
    return run, certify(run, Correct(), method="rho_sets")


def test_a_rho_set_certificate_is_what_the_prover_proved_and_the_checker_verifies_it(noisy, tmp_path):
    run, cert = noisy
    proof = prove_rho_sets(run.model, run.task)
    assert cert.method_name == "rho_sets" and cert.result.n_hold == proof.result.n_hold == 576
    assert cert.compact["units"] == proof.units and cert.compact["neuron_error"] == proof.neuron_error > 0
    assert cert.compact["brute_force_flops"] == prove(run.model, run.task, Correct()).flops
    # the recorded idealisation is the one the proof went through: proving through it again agrees
    ideal = Idealisation.from_dict(json.loads(cert.to_json())["compact"]["idealisation"])
    again = prove_rho_sets(run.model, run.task, ideal=ideal)
    assert again.result.n_hold == 576 and again.neuron_error == proof.neuron_error
    path = tmp_path / "cert.json"
    path.write_text(cert.to_json())
    assert Certificate.from_json(path.read_text()) == cert
    report = check(path, run.path)
    assert report.ok and report.checked_inputs == 576, report.problems
    # a weaker statement through the same idealisation verifies too
    assert check(certify(run, Accuracy(at_least=0.9), method="rho_sets"), run.path).ok


def _ideal(change):
    def alter(cert):
        data = json.loads(json.dumps(cert.compact))
        change(data["idealisation"])
        return replace(cert, compact=data)

    return alter


def _term(name, factor):
    return lambda c: replace(c, compact={**c.compact, name: c.compact[name] * factor})


@pytest.mark.parametrize(
    "alter, says",
    [
        # the idealised model: a template value, W_p, one neuron's translate; each changes what the
        # check finds (the bound holds for any idealisation, so none can make it prove more)
        (_ideal(lambda d: d["templates"][0][0].__setitem__(0, d["templates"][0][0][0] + 0.5)), "compact."),
        (_ideal(lambda d: d["weights"].__setitem__(0, d["weights"][0] * 1.01)), "compact."),
        (_ideal(lambda d: d["left"].__setitem__(0, (d["left"][0] + 1) % 24)), "compact."),
        (_ideal(lambda d: d["scale"].__setitem__(0, float("nan"))), "compact.idealisation.scale"),
        (_ideal(lambda d: d["partition"].__setitem__(0, 99)), "compact.idealisation.partition"),
        # the error bound's terms, the counts, the statement
        (_term("neuron_error", 0.5), "compact.neuron_error"),
        (_term("exact_deviation", 0.5), "compact.exact_deviation"),
        (_term("ideal_margin", 1.5), "compact.ideal_margin"),
        (lambda c: replace(c, compact={**c.compact, "units": c.compact["units"] + 1}), "compact.units"),
        (lambda c: replace(c, result=replace(c.result, n_hold=575)), "n_hold"),
        (lambda c: replace(c, statement={"kind": "margin", "at_least": 1.0}), "statement"),
        # the method line and the record must agree
        (lambda c: replace(c, compact=None), "carries no `compact` record"),
        (lambda c: replace(c, method="rho_sets: trust me"), "is not one nerve checks"),
    ],
)
def test_the_checker_rejects_an_altered_rho_set_certificate(noisy, tmp_path, alter, says):
    run, cert = noisy
    path = tmp_path / "altered.json"
    path.write_text(alter(cert).to_json())
    report = check(path, run.path)
    assert not report.ok and any(says in p for p in report.problems), report.problems


def test_an_exhaustive_certificate_carrying_a_compact_record_is_rejected(noisy):
    run, cert = noisy
    exhaustive = certify(run, Correct())
    assert exhaustive.compact is None and check(exhaustive, run.path).ok
    report = check(replace(exhaustive, compact=cert.compact), run.path)
    assert not report.ok and "carries a compact proof's `compact` record" in report.problems[0]


def tie_breaker() -> tuple[MLP, tuple[int, int]]:
    """The exact planted mechanism plus two neurons outside it that move one input's real margin
    from 1 to 2⁻⁶⁰, far below float64's rounding of logits of size ~1: neuron A fires (value 1)
    only at (a₀, b₀) and lowers the target's logit by exactly 1; neuron B fires 2⁻³⁰ whenever
    a = a₀ and raises the target's logit by 2⁻³⁰ · 2⁻³⁰. Every weight is a float32 value."""
    base = planted()
    n, a0, b0 = 24, 5, 17
    task = group_composition("S4")
    t0 = int(task.table[a0, b0])
    model = MLP(MLPConfig(n_vocab=n, n_classes=n, n_inputs=2, d_embed=n, d_hidden=66), seed=0)
    with torch.no_grad():
        for E, F in zip(model.embed, base.embed):
            E.weight.copy_(F.weight)
        W_h, W_U = torch.zeros(66, 2 * n), torch.zeros(n, 66)
        W_h[:64], W_U[:, :64] = base.hidden.weight, base.unembed.weight
        W_h[64, :n], W_h[64, n:] = -0.5, -0.5
        W_h[64, a0], W_h[64, n + b0] = 0.5, 0.5
        W_U[t0, 64] = -1.0
        W_h[65, a0] = 2.0**-30
        W_U[t0, 65] = 2.0**-30
        model.hidden.weight.copy_(W_h)
        model.unembed.weight.copy_(W_U)
    return model, (a0, b0)


def test_an_input_whose_real_margin_is_below_the_rounding_error_is_never_proved(tmp_path):
    model, x = tie_breaker()
    task = group_composition("S4")
    # its real margin, in exact rationals: positive, 2⁻⁶⁰
    W_h = [[Fraction(float(w)) for w in row] for row in model.hidden.weight.double().tolist()]
    W_U = [[Fraction(float(w)) for w in row] for row in model.unembed.weight.double().tolist()]
    act = [max(Fraction(0), row[x[0]] + row[24 + x[1]]) for row in W_h]
    logits = [sum(w * h for w, h in zip(row, act)) for row in W_U]
    t = int(task.table[x])
    assert logits[t] - max(v for z, v in enumerate(logits) if z != t) == Fraction(1, 2**60)
    proof = prove_rho_sets(model, task)
    assert x in proof.result.undecided and x not in proof.result.failing
    assert proof.result.n_hold == 575  # every other input keeps its margin of about 1
    assert x in prove(model, task, Correct()).undecided
    run = run_with(model, tmp_path / "tie")
    cert = certify(run, Correct(), method="rho_sets")
    assert list(cert.result.undecided) == [x] and check(cert, run.path).ok
