"""Exhaustive proofs on a grokked model, certificates, and the checker that rejects tampering."""

import copy
import json
import math
import shutil
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import nerve
from nerve.errors import ProofError
from nerve.models import MLP, MLPConfig
from nerve.proofs import Accuracy, Certificate, Correct, Margin, Robust, certify, check, prove
from nerve.training import PRESETS, ModelConfig, RunDir, TaskConfig, TrainConfig, train

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def certified_copy(tmp_path_factory, name):
    path = tmp_path_factory.mktemp("runs") / name
    shutil.copytree(FIXTURES / name, path)
    run = nerve.load(path)
    return run, certify(run, Correct())


@pytest.fixture(scope="module")
def nanda(tmp_path_factory):
    """A copy of the grokked nanda2023 run (a+b mod 113) and its certificate of correctness."""
    return certified_copy(tmp_path_factory, "nanda2023")


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    """An MLP trained on every pair of a+b mod 11 to 100% accuracy (a second), and its
    certificate of correctness: the small sibling of `nanda` for the fast tests."""
    config = TrainConfig(
        task=TaskConfig(kind="modular", p=11), model=ModelConfig(kind="mlp", d_embed=16, d_hidden=64),
        steps=300, lr=1e-2, weight_decay=0.1, train_fraction=1.0, eval_every=50, checkpoint_every=100,
        checkpoint_log_points=0,
    )  # fmt: skip
    run = train(config, tmp_path_factory.mktemp("runs") / "solved")
    return run, certify(run, Correct())


def test_a_trained_model_is_proved_correct_on_all_inputs_and_the_checker_agrees(solved):
    run, cert = solved
    r = cert.result
    assert r.verdict == "proved" and r.n_inputs == r.n_hold == 11**2
    assert r.failing == () and r.undecided == () and r.margin_lower > 0 and r.accuracy_bounds == (1.0, 1.0)
    assert cert.weights == "checkpoints/step_300.safetensors" and cert.nerve_version == nerve.__version__
    report = check(cert, run.path)
    assert report.ok and report.checked_inputs == 11**2, report.problems


@pytest.mark.slow
def test_a_grokked_model_is_proved_correct_on_all_inputs_and_the_checker_agrees(nanda):
    run, cert = nanda
    r = cert.result
    assert r.verdict == "proved" and r.n_inputs == r.n_hold == 113**2
    assert r.failing == () and r.undecided == () and r.margin_lower > 0
    assert r.accuracy_bounds == (1.0, 1.0) and r.flops > 0
    assert cert.weights == "checkpoints/step_40000.safetensors" and cert.nerve_version == nerve.__version__
    report = check(cert, run.path)
    assert report.ok, report.problems
    assert report.checked_inputs == 113**2


def test_an_edited_weight_makes_inputs_fail_and_the_prover_names_them(solved, tmp_path):
    run, cert = solved
    edited = tmp_path / "edited"
    shutil.copytree(run.path, edited)
    step = run.checkpoints[-1]
    model = run.model_at(step)  # a fresh copy: the fixture's run.model is shared
    with torch.no_grad():
        model.unembed.weight[0, :] -= 200.0  # the logit of class 0 along every neuron
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, RunDir(edited).checkpoint(step))
    broken = nerve.load(edited)
    result = certify(broken, Correct()).result
    assert result.verdict == "refuted" and result.failing
    inputs, targets = broken.task.enumerate()
    with torch.no_grad():
        wrong = broken.model.double()(inputs).argmax(1) != targets
    named = {tuple(x) for x in inputs[wrong].tolist()}
    assert set(result.failing) <= named and len(result.failing) + len(result.undecided) >= len(named)
    # the old certificate does not fit the edited weights
    report = check(cert, edited)
    assert not report.ok and "SHA-256 differs" in report.problems[0]


@pytest.fixture(scope="module")
def chughtai(tmp_path_factory):
    """The S5 MLP of the chughtai2023 fixture (a cheaper check) and its certificate."""
    return certified_copy(tmp_path_factory, "chughtai2023")


@pytest.mark.parametrize(
    "alter, says",
    [
        (lambda c: replace(c, result=replace(c.result, n_hold=c.result.n_hold - 1)), "n_hold"),
        (
            lambda c: replace(c, result=replace(c.result, margin_lower=c.result.margin_lower * 2)),
            "margin_lower",
        ),
        (lambda c: replace(c, statement={"kind": "margin", "at_least": 1000.0}), "statement"),
        (lambda c: replace(c, result=replace(c.result, failing=((1, 2),))), "failing"),
        (lambda c: replace(c, step=0), "is not step 0's file"),
        (lambda c: replace(c, model="Transformer"), "model 'Transformer'"),
    ],
)
def test_the_checker_rejects_an_altered_certificate(solved, tmp_path, alter, says):
    run, cert = solved
    assert cert.result.verdict == "proved" and check(cert, run.path).ok
    path = tmp_path / "cert.json"
    path.write_text(alter(cert).to_json())
    report = check(path, run.path)
    assert not report.ok and any(says in p for p in report.problems), report.problems


def test_certificate_round_trips_and_a_broken_file_is_refused_by_name(chughtai, tmp_path):
    run, cert = chughtai
    assert Certificate.from_json(cert.to_json()) == cert
    path = tmp_path / "cert.json"
    data = json.loads(cert.to_json())
    del data["weights_sha256"]
    path.write_text(json.dumps(data))
    with pytest.raises(ProofError, match=r"cert.json: field `weights_sha256` is missing"):
        check(path, run.path)


class OneInput:
    """A finite task of one input, (0, 0) with target 1."""

    name = "a near tie"

    def enumerate(self):
        return torch.tensor([[0, 0]]), torch.tensor([1])


def near_tie() -> MLP:
    """Real logits: class 0 = (1 + 2⁻¹¹) + 2⁻²⁴; class 1 = x² + 2⁻⁶⁰ with x = 1 + 2⁻¹², that is
    class 0 + 2⁻⁶⁰: class 1 wins by 2⁻⁶⁰. In float32 both round to 1 + 2⁻¹¹ (ties to even) and
    argmax picks class 0."""
    model = MLP(MLPConfig(n_vocab=1, n_classes=2, d_embed=1, d_hidden=4))
    x = 1 + 2.0**-12
    with torch.no_grad():
        model.embed[0].weight[:] = x
        model.embed[1].weight[:] = 1.0
        model.hidden.weight[:] = torch.tensor(
            [[x, 0.0], [0.0, 2.0**-60], [0.0, 1 + 2.0**-11], [0.0, 2.0**-24]]
        )
        model.unembed.weight[:] = torch.tensor([[0.0, 0.0, 1.0, 1.0], [1.0, 1.0, 0.0, 0.0]])
    return model


def test_an_argmax_that_float32_flips_near_a_tie_is_undecided_not_proved():
    model = near_tie()
    with torch.no_grad():
        assert model(torch.tensor([[0, 0]])).argmax(1).item() == 0  # float32: the wrong class
    x = Fraction(1) + Fraction(1, 2**12)
    real = [Fraction(1) + Fraction(1, 2**11) + Fraction(1, 2**24), x * x + Fraction(1, 2**60)]
    assert real[1] - real[0] == Fraction(1, 2**60)  # the real network is right, by 2^-60
    result = prove(model, OneInput(), Correct())
    assert result.verdict == "undecided" and result.undecided == ((0, 0),) and result.n_hold == 0
    assert result.margin_lower < 0 < result.margin_lower + 1e-12


@pytest.mark.parametrize("fixture", ["solved", pytest.param("nanda", marks=pytest.mark.slow)])
def test_accuracy_and_margin_statements(fixture, request):
    run, cert = request.getfixturevalue(fixture)
    model = run.model_at(run.checkpoints[-1])
    assert prove(model, run.task, Accuracy(at_least=0.99)).verdict == "proved"
    assert prove(model, run.task, Margin(at_least=cert.result.margin_lower / 2)).verdict == "proved"
    refuted = prove(model, run.task, Margin(at_least=1e6))
    assert refuted.verdict == "refuted" and len(refuted.failing) == run.task.size


def test_robustness_on_a_box_of_embeddings_is_proved_small_undecided_large_and_sound(chughtai):
    run, _ = chughtai
    model = run.model_at(run.checkpoints[-1])
    cert = certify(run, Robust(1e-3))
    assert cert.result.verdict == "proved" and cert.result.n_hold == 120**2
    assert check(cert, run.path).ok
    wide = prove(model, run.task, Robust(0.05))
    assert wide.verdict == "undecided" and wide.failing == () and len(wide.undecided) == 120**2
    # sound: random embeddings in the boxes of a few inputs keep margins above the proved bound
    g = torch.Generator().manual_seed(0)
    inputs, targets = run.task.enumerate()
    m = copy.deepcopy(model).double()
    for i in torch.randint(len(targets), (5,), generator=g):
        a, b = inputs[i]
        centre = torch.cat([m.embed[0].weight[a], m.embed[1].weight[b]]).detach()
        points = centre + 1e-3 * (2 * torch.rand(10_000, len(centre), generator=g, dtype=torch.float64) - 1)
        with torch.no_grad():
            logits = m.unembed(m.act(m.hidden(points)))
        t = int(targets[i])
        margin = logits[:, t] - logits.scatter(1, torch.full((10_000, 1), t), -torch.inf).max(1).values
        assert float(margin.min()) >= cert.result.margin_lower


def strict(text: str):
    """`text` parsed as strict JSON: a bare NaN or Infinity fails the test."""
    return json.loads(text, parse_constant=lambda token: pytest.fail(f"bare {token} in JSON"))


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """An MLP on a+b mod 7 trained for 20 steps, and its certificate of correctness (refuted)."""
    config = PRESETS["demo"].replace(task__p=7, steps=20, checkpoint_every=10, eval_every=10)
    run = train(config, tmp_path_factory.mktemp("proofs") / "run")
    return run, certify(run, Correct())


@pytest.mark.parametrize(
    "build, says",
    [
        (lambda: Robust(radius=float("nan")), r"`radius` \(=nan\) must be a finite number >= 0"),
        (lambda: Robust(radius=float("inf")), r"`radius` \(=inf\) must be a finite number >= 0"),
        (lambda: Robust(radius=-1.0), r"`radius` \(=-1.0\) must be a finite number >= 0"),
        (lambda: Margin(at_least=float("nan")), r"`at_least` \(=nan\) must be a finite number"),
        (lambda: Margin(at_least=-float("inf")), r"`at_least` \(=-inf\) must be a finite number"),
        (lambda: Accuracy(at_least=float("nan")), r"`at_least` \(=nan\) must be a fraction from 0 to 1"),
        (lambda: Accuracy(at_least="0.9"), r"`at_least` \(='0.9'\) must be a fraction from 0 to 1"),
    ],
)
def test_statements_are_checked_when_built(build, says):
    with pytest.raises(ProofError, match=says):
        build()


def test_a_radius_that_overflows_float64_is_undecided_with_an_unbounded_margin(small, tmp_path):
    # 1e308 overflows the hidden layer's bounds: inf − inf used to make the margin NaN
    run, _ = small
    cert = certify(run, Robust(1e308))
    r = cert.result
    assert r.verdict == "undecided" and r.margin_lower == -math.inf and r.n_hold == 0
    assert r.failing == () and len(r.undecided) == 7**2
    text = cert.to_json()
    assert strict(text)["result"]["margin_lower"] == "-Infinity"
    assert Certificate.from_json(text) == cert
    path = tmp_path / "robust.json"
    path.write_text(text)
    report = check(path, run.path)
    assert report.ok, report.problems
    # an unbounded bound must be matched exactly, not within a relative tolerance
    finite = tmp_path / "finite.json"
    finite.write_text(replace(cert, result=replace(r, margin_lower=-1.7e308)).to_json())
    assert any("margin_lower" in p for p in check(finite, run.path).problems)


def test_a_null_number_in_a_certificate_is_rejected_by_name(small, tmp_path):
    run, cert = small
    assert check(cert, run.path).ok
    data = strict(cert.to_json())
    data["result"]["margin_lower"] = None  # what to_json writes for NaN
    path = tmp_path / "nan.json"
    path.write_text(json.dumps(data))
    assert math.isnan(Certificate.from_json(path.read_text()).result.margin_lower)
    report = check(path, run.path)
    assert not report.ok
    assert report.problems == (
        "result.margin_lower: the certificate says null (NaN), which is no bound; a certificate's "
        "numbers are finite or ±Infinity",
    )


def _edit(cert, change):
    data = json.loads(cert.to_json())
    change(data)
    return json.dumps(data)


@pytest.mark.parametrize(
    "content, says",
    [
        (b"\x89PNG\r\n\x1a\n\x00\xff\xfe", r"bad.json is not text \(byte 0 is not UTF-8\)"),
        (lambda c: c.to_json()[:200], r"bad.json is not JSON \(.*line \d+ column \d+"),
        (lambda c: "[1, 2]", r"bad.json: the top level \(a list\) must be an object"),
        (
            lambda c: _edit(c, lambda d: d["result"].update(n_hold="12")),
            r"bad.json: field `result.n_hold` \(=\"12\"\) must be an integer",
        ),
        (
            lambda c: _edit(c, lambda d: d["result"].update(margin_lower="-inf")),
            r"field `result.margin_lower` \(=\"-inf\"\) must be a number \(or \"Infinity\", \"-Infinity\"\)",
        ),
        (lambda c: _edit(c, lambda d: d.pop("step")), r"bad.json: field `step` is missing"),
        (
            lambda c: _edit(c, lambda d: d.update(result=[])),
            r"bad.json: field `result` \(=\[\]\) must be an object",
        ),
        (
            lambda c: _edit(c, lambda d: d.update(statement={"kind": "robust", "radius": None})),
            r"field `statement`: `radius` \(=None\) must be a finite number >= 0",
        ),
    ],
)
def test_a_file_that_is_not_a_certificate_is_a_proof_error_naming_file_and_field(
    small, tmp_path, content, says
):
    run, cert = small
    path = tmp_path / "bad.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content(cert))
    with pytest.raises(ProofError, match=says):
        check(path, run.path)


def test_a_missing_certificate_file_is_a_proof_error(small, tmp_path):
    run, _ = small
    with pytest.raises(ProofError, match=r"certificate .*absent.json cannot be read: No such file"):
        check(tmp_path / "absent.json", run.path)
