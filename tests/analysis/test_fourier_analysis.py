"""FourierAnalysis: exact answers on networks built to use known irreps, then the nanda2023 fixture."""

import math
from pathlib import Path

import pytest
import torch
from torch import nn

import nerve
from nerve import AnalysisError
from nerve.analysis import FourierAnalysis, FourierResult, ModelView, view
from nerve.analysis.fourier._pairs import GroupTask
from nerve.analysis.fourier.irreps import (
    _cyclic_neuron_power,
    _group_neuron_power,
    distance_irrelevance,
    gradient_symmetricity,
    neuron_spectrum,
)
from nerve.groups import parse_group
from nerve.models import MLP, MLPConfig
from nerve.tasks import group_composition, modular_arithmetic

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


class Lookup(nn.Module):
    """A 'network' whose logits and neurons on each pair are given tables."""

    def __init__(self, logits, neurons):
        super().__init__()
        self.register_buffer("L", logits)
        self.register_buffer("N", neurons)
        self.act = nn.Identity()

    def forward(self, x):
        self.act(self.N[x[:, 0], x[:, 1]])
        return self.L[x[:, 0], x[:, 1]]


def lookup_view(logits, neurons, embedding, unembedding):
    return ModelView(
        model=Lookup(logits, neurons),
        embeddings={"W_E": embedding},
        unembedding=unembedding,
        neuron_site="act",
        embed_sites=(),
        tokens=lambda x: x,
        read_logits=lambda x: x,
        read_neurons=lambda x: x,
    )


def irrep_index(G, label):
    return [r.label for r in G.irreps()].index(label)


@pytest.fixture(scope="module")
def s4():
    G = parse_group("S4")
    return G, group_composition(G)


def test_logits_that_are_characters_give_their_weights_as_fractions(s4):
    G, task = s4
    std, sign = irrep_index(G, "[3,1]"), irrep_index(G, "[1,1,1,1]")
    chars = torch.stack([r.character for r in G.irreps()])
    q = G.table[G.table][:, :, G.inverses]  # q[a, b, c] = a·b·c⁻¹
    # 2·χ_std − 1·χ_sign, plus a shift per (a, b) that softmax ignores
    logits = 2 * chars[std][q] - chars[sign][q] + torch.randn(24, 24, 1, dtype=torch.float64)
    neurons = torch.randn(24, 24, 4, dtype=torch.float64)
    fa = FourierAnalysis().fit(lookup_view(logits, neurons, torch.randn(24, 3), torch.randn(24, 3)), task)
    r = fa.result_
    # ‖χ_ρ(abc⁻¹)‖² = |G|³ for every real-type ρ, so the fractions are 4/5 and 1/5
    fractions = torch.tensor(r.logit_fractions, dtype=torch.float64)
    expected = torch.zeros(len(G.irreps()), dtype=torch.float64)
    expected[std], expected[sign] = 0.8, 0.2
    torch.testing.assert_close(fractions, expected, atol=1e-12, rtol=0)
    assert r.logit_similarity[std] == pytest.approx(math.sqrt(0.8), abs=1e-12)
    assert r.logit_similarity[sign] == pytest.approx(-math.sqrt(0.2), abs=1e-12)
    assert r.accuracy == 1.0  # χ_ρ(abc⁻¹) peaks at c = ab: it is the clock's readout


def test_law_fraction_is_the_share_of_logit_variance_that_is_a_function_of_abc_inverse():
    G = parse_group("S3")
    gt = GroupTask(group_composition(G))
    n = G.order
    q = G.table[G.table][:, :, G.inverses]  # q[a, b, c] = a·b·c⁻¹
    f = torch.randn(n, dtype=torch.float64)  # not a class function: characters see only part of it
    assert gt.law_fraction(f[q] + torch.randn(n, n, 1, dtype=torch.float64)) == pytest.approx(1.0, abs=1e-12)
    inner, norm2 = gt.character_products(f[q] - f[q].mean(-1, keepdim=True))
    assert float((inner**2 / norm2).sum() / (f[q] - f[q].mean(-1, keepdim=True)).pow(2).sum()) < 1
    # a random table against a plain loop over the triples: group them by h = a·b·c⁻¹
    logits = torch.randn(n, n, n, dtype=torch.float64)
    centred = logits - logits.mean(-1, keepdim=True)
    by_h = {}
    for a in range(n):
        for b in range(n):
            for c in range(n):
                by_h.setdefault(int(q[a, b, c]), []).append(float(centred[a, b, c]))
    explained = sum(len(v) * (sum(v) / len(v)) ** 2 for v in by_h.values())
    expected = explained / float((centred**2).sum())
    assert 0 < expected < 1
    assert gt.law_fraction(logits) == pytest.approx(expected, rel=1e-12)


def test_neuron_spectrum_reads_rho_of_a_b_and_ab(s4):
    G, _ = s4
    std = G.irreps()[irrep_index(G, "[3,1]")].matrices
    sign = G.irreps()[irrep_index(G, "[1,1,1,1]")].character
    two = G.irreps()[irrep_index(G, "[2,2]")].matrices
    ab = G.table
    h_std = std[ab][:, :, 0, 1] + 0.5 * std[:, 0, 0][:, None]  # ρ(ab) and ρ(a): both 'std'
    h_sign = sign[:, None].expand(24, 24)  # sign(a)
    h_mixed = std[:, 0, 0][:, None] * two[:, 0, 0][None, :]  # ρ(a)σ(b), ρ ≠ σ: no single irrep
    h_half = h_std / h_std.std() + h_sign / h_sign.std()  # equal variance in two irreps
    h_dead = torch.full((24, 24), 3.0, dtype=torch.float64)
    neurons = torch.stack([h_std, h_sign, h_mixed, h_half, h_dead], dim=-1)
    spec = neuron_spectrum(neurons, G.irreps(), trivial=irrep_index(G, "[4]"))
    i_std, i_sign = irrep_index(G, "[3,1]"), irrep_index(G, "[1,1,1,1]")
    assert spec[i_std, 0] == pytest.approx(1, abs=1e-12)
    assert spec[i_sign, 1] == pytest.approx(1, abs=1e-12)
    assert float(spec[:, 2].abs().max()) < 1e-12
    assert (spec[i_std, 3], spec[i_sign, 3]) == (pytest.approx(0.5, abs=1e-9), pytest.approx(0.5, abs=1e-9))
    assert torch.isnan(spec[:, 4]).all()


@pytest.mark.parametrize("n", [7, 12])
def test_the_fft_path_for_cyclic_groups_agrees_with_the_group_transform(n):
    G = parse_group(f"C{n}")
    neurons = torch.randn(n, n, 6, dtype=torch.float64) ** 3  # heavy tails: every component present
    fast, general = _cyclic_neuron_power(neurons, G.irreps()), _group_neuron_power(neurons, G.irreps(), 0)
    torch.testing.assert_close(fast[0], general[0], atol=1e-9, rtol=1e-9)
    torch.testing.assert_close(fast[1], general[1], atol=1e-9, rtol=1e-9)


def test_neurons_key_irreps_and_embeddings_from_a_built_network(s4):
    G, task = s4
    i_std, i_sign = irrep_index(G, "[3,1]"), irrep_index(G, "[1,1,1,1]")
    std = G.irreps()[i_std].matrices
    sign = G.irreps()[i_sign].character
    # 9 neurons read the standard irrep of a·b, 1 reads sign(b), 2 are dead
    cols = [std[G.table][:, :, i, j] for i in range(3) for j in range(3)]
    cols += [sign[None, :].expand(24, 24), torch.zeros(24, 24), torch.ones(24, 24)]
    neurons = torch.stack(cols, dim=-1).double()
    embedding = torch.cat([std.reshape(24, 9), 0.5 * sign[:, None]], dim=1)  # variance 24·3 and 24·0.25
    logits = torch.randn(24, 24, 24, dtype=torch.float64)
    r = FourierAnalysis(min_share=0.2).fit(lookup_view(logits, neurons, embedding, embedding), task).result_
    assert r.neuron_irrep == (i_std,) * 9 + (i_sign, -1, -1)
    assert r.neuron_share[i_std] == pytest.approx(0.9) and r.neuron_share[i_sign] == pytest.approx(0.1)
    assert r.key_irreps == (i_std,)  # sign dominates 10% of live neurons, under min_share
    # every live neuron is all in one irrep: clean at any threshold below 1, so the shares agree
    assert r.clean_share() == pytest.approx(r.neuron_share) and sum(r.clean_share(0.999)) == pytest.approx(1)
    assert FourierAnalysis(min_share=0.1).fit(
        lookup_view(logits, neurons, embedding, embedding), task
    ).result_.key_irreps == (i_std, i_sign)  # the rule compares the shares with min_share: 0.1 >= 0.1
    assert "0.2 of the live neurons" in r.key_rule
    assert r.clean_neuron_fraction() == 1.0
    # Schur: Σ_g ρ_ij(g)² = |G|/d, so each std neuron has variance |G|²/3 and sign(b) has |G|²
    assert r.key_neuron_fraction == pytest.approx(3 / 4, abs=1e-12)
    assert r.embeddings["W_E"][i_std] == pytest.approx(3 / 3.25, abs=1e-12)
    assert r.embeddings["W_E"][i_sign] == pytest.approx(0.25 / 3.25, abs=1e-12)


def test_restriction_through_the_law_is_nandas_cos_sin_of_a_plus_b():
    p, k = 7, 2
    gt = GroupTask(modular_arithmetic(p))
    f = torch.randn(p, p, 3, dtype=torch.float64)
    a, b = torch.meshgrid(torch.arange(p).double(), torch.arange(p).double(), indexing="ij")
    w = 2 * math.pi * k / p
    basis = torch.stack([torch.cos(w * (a + b)), torch.sin(w * (a + b))], dim=-1).reshape(p * p, 2).double()
    coef = torch.linalg.lstsq(basis, f.reshape(p * p, 3)).solution
    expected = (basis @ coef).reshape(p, p, 3)
    torch.testing.assert_close(gt.through_law(f, [irrep_index(gt.group, f"k={k}")]), expected)


def test_gradient_symmetricity_of_an_mlp_is_plus_or_minus_one_when_its_halves_agree():
    model = MLP(MLPConfig(n_vocab=11, n_classes=11, d_embed=8, d_hidden=16), seed=0)
    with torch.no_grad():
        half = model.hidden.weight[:, :8].clone()
        model.hidden.weight[:, 8:] = half  # the logits depend on E_a + E_b: a pizza
    assert gradient_symmetricity(view(model), 11, n_triples=200, seed=0) == pytest.approx(1, abs=1e-6)
    with torch.no_grad():
        model.hidden.weight[:, 8:] = -half
    assert gradient_symmetricity(view(model), 11, n_triples=200, seed=0) == pytest.approx(-1, abs=1e-6)
    assert all(p.grad is None for p in model.parameters())  # the analysis leaves no gradients behind
    model.requires_grad_(False)  # frozen weights: the gradients are still there to take
    assert gradient_symmetricity(view(model), 11, n_triples=200, seed=0) == pytest.approx(-1, abs=1e-6)


def test_distance_irrelevance_of_known_logit_patterns():
    p = 13
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    assert distance_irrelevance(torch.cos(2 * math.pi * 3 * ((a - b) % p).double() / p)) == pytest.approx(
        0, abs=1e-12
    )
    assert distance_irrelevance(torch.cos(2 * math.pi * 3 * ((a + b) % p).double() / p)) == pytest.approx(
        1, abs=1e-12
    )


def test_result_round_trips_through_json():
    task = modular_arithmetic(7)
    r = FourierAnalysis(n_triples=10).fit(MLP(MLPConfig(n_vocab=7, n_classes=7), seed=1), task).result_
    assert r.clock_pizza is not None and r.clock_pizza.n_triples == 10
    assert r.clock_pizza.gradient_symmetricity is None  # W_a and W_b: no common space to compare in
    back = FourierResult.from_json(r.to_json())
    assert back.to_json() == r.to_json() and back.key_irreps == r.key_irreps


def test_errors_name_the_argument():
    model = MLP(MLPConfig(n_vocab=7, n_classes=7), seed=0)
    with pytest.raises(AnalysisError, match=r"`task` \('a\*b mod 7'\) has no group"):
        FourierAnalysis().fit(model, modular_arithmetic(7, "mul"))
    with pytest.raises(AnalysisError, match=r"`min_share` \(=1.5\) must be in \[0, 1\)"):
        FourierAnalysis(min_share=1.5).fit(model, modular_arithmetic(7))
    with pytest.raises(AnalysisError, match=r"`n_triples` \(=0\) must be a positive integer"):
        FourierAnalysis(n_triples=0).fit(model, modular_arithmetic(7))
    with pytest.raises(AnalysisError, match=r"`model` \(a Linear\) is not one nerve can read"):
        FourierAnalysis().fit(nn.Linear(2, 2), modular_arithmetic(7))


@pytest.fixture(scope="module")
def nanda():
    run = nerve.load(FIXTURES / "nanda2023")
    return FourierAnalysis().fit(run.model, run.task).result_


def test_nanda2023_reads_as_a_few_key_frequencies(nanda):
    # Nanda et al. 2023: 5 key frequencies, 95% of logit variance, 84.6% of neurons
    assert 3 <= len(nanda.key_irreps) <= 7
    assert all(nanda.types[i] == "complex" for i in nanda.key_irreps)  # rotation planes, k ≠ 0
    assert nanda.key_logit_fraction >= 0.90
    assert nanda.clean_neuron_fraction(0.85) >= 0.80
    assert nanda.accuracy == 1.0
    # the embeddings and unembedding live on the key frequencies too
    assert sum(nanda.embeddings["W_E"][i] for i in nanda.key_irreps) >= 0.9
    assert sum(nanda.unembedding[i] for i in nanda.key_irreps) >= 0.9


@pytest.fixture(scope="module")
def chughtai():
    run = nerve.load(FIXTURES / "chughtai2023")
    return FourierAnalysis().fit(run.model, run.task).result_


def test_chughtai2023_on_s5_reads_as_a_few_key_irreps(chughtai):
    # Chughtai et al. 2023, S5 MLPs: key irreps explain on average 100% of W_a's variance,
    # 94% of W_U's and 89% of the MLP neurons'; thresholds set before the fixture was read
    r = chughtai
    assert r.group == "S5" and r.accuracy == 1.0
    assert 1 <= len(r.key_irreps) <= 4
    for name in ("W_a", "W_b"):
        assert sum(r.embeddings[name][i] for i in r.key_irreps) >= 0.95
    assert sum(r.unembedding[i] for i in r.key_irreps) >= 0.85
    assert r.key_neuron_fraction >= 0.80
    assert r.clock_pizza is None  # not a cyclic group


@pytest.mark.xfail(strict=True, reason="measured 59.5% < 80% pre-registered; see the comment")
def test_chughtai2023_logits_are_mostly_the_key_characters(chughtai):
    # Pre-registered with the test above: ≥ 80% of logit variance along the key characters
    # χ_ρ(abc⁻¹). The fixture gives 59.5%: all of the logit variance that is a function of abc⁻¹
    # at all (59.5%) lies on the two key characters; the other 40.5% varies with (a, b, c)
    # otherwise, among the wrong classes (the correct logit is the character part).
    assert chughtai.key_logit_fraction >= 0.80


def test_a_model_of_another_task_is_refused_by_its_sizes():
    from nerve.errors import AnalysisError
    from nerve.models import MLP, MLPConfig
    from nerve.tasks import modular_arithmetic

    model = MLP(MLPConfig(n_vocab=7, n_classes=7, d_embed=8, d_hidden=16), seed=0)
    for p in (5, 11):  # fewer tokens: read against the wrong group; more: indexed out of range
        with pytest.raises(
            AnalysisError, match=rf"its embedding W_a has 7 rows, not {p}.* Analyse a model with the task"
        ):
            FourierAnalysis().fit(model, modular_arithmetic(p))
