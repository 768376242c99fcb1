"""The LLC estimator against closed forms: a Gaussian posterior exactly, reduced-rank regression
(Aoyagi & Watanabe 2005) within 10%; its diagnostics and its errors."""

import itertools
import json
import math
import warnings

import pytest
import torch
from torch import nn

from nerve import AnalysisError, NerveWarning
from nerve.analysis import MemoryBudgetError
from nerve.analysis.llc import (
    LLCEstimator,
    LLCResult,
    default_nbeta,
    dln_learning_coefficient,
    rrr_learning_coefficient,
)
from nerve.analysis.llc import estimator as llc_module


def half_mse(output, target):
    """½‖output − target‖² per sample, averaged: the Gaussian negative log-likelihood (σ = 1)."""
    return 0.5 * ((output - target) ** 2).sum(1).mean()


def least_squares(n=500, d_in=3, d_out=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d_in, generator=g, dtype=torch.float64)
    y = X @ torch.randn(d_in, d_out, generator=g, dtype=torch.float64) + torch.randn(
        n, d_out, generator=g, dtype=torch.float64
    )
    model = nn.Linear(d_in, d_out, bias=False).double()
    model.weight.data = torch.linalg.lstsq(X, y).solution.T.contiguous()  # the minimum w*
    return model, X, y


def rrr(M, N, H, r, n, seed=0):
    """Reduced-rank regression y = B A x + noise with a rank-r truth, at the empirical minimum of
    rank H (the ordinary least squares solution truncated to its top H singular values)."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, M, generator=g)
    truth = torch.randn(N, r, generator=g) @ torch.randn(r, M, generator=g)
    y = X @ truth.T + torch.randn(n, N, generator=g)
    U, S, Vh = torch.linalg.svd(torch.linalg.lstsq(X, y).solution.T)
    model = nn.Sequential(nn.Linear(M, H, bias=False), nn.Linear(H, N, bias=False))
    model[0].weight.data = (S[:H].sqrt()[:, None] * Vh[:H]).contiguous()
    model[1].weight.data = (U[:, :H] * S[:H].sqrt()).contiguous()
    return model, X, y


def test_a_gaussian_posterior_gives_its_exact_expectation():
    # Full batch: the loss is quadratic, ½ (w − w*)ᵀ h (w − w*) + L*, along each eigenvector of its
    # Hessian h (per output, the 3×3 XᵀX/n, so d = 6). SGLD is then an Ornstein–Uhlenbeck chain
    # with a = nβ h_i + γ per mode, whose stationary variance is ε / (1 − (1 − εa/2)²), so
    # E[nβ (L − L*)] = nβ Σ_i ½ h_i var_i, which tends to d/2 as γ/nβ and ε a go to 0.
    model, X, y = least_squares()
    nbeta, eps, gamma = 50.0, 2e-4, 5.0
    h = torch.linalg.eigvalsh(X.T @ X / len(X)).repeat(2)  # the Hessian of half_mse, d = 6
    a = nbeta * h + gamma
    var = eps / (1 - (1 - eps * a / 2) ** 2)
    expected = float(nbeta * (0.5 * h * var).sum())
    assert abs(expected - 3.0) < 0.3  # close to d/2 at these settings
    est = LLCEstimator(epsilon=eps, gamma=gamma, nbeta=nbeta, n_chains=32, n_draws=1500, n_burnin=300,
                       batch_size=len(X), seed=0).fit(model, (X, y), loss_fn=half_mse)  # fmt: skip
    standard_error = est.llc_std_ / math.sqrt(32)
    assert abs(est.llc_mean_ - expected) < max(3 * standard_error, 0.05 * expected)
    assert est.result_.fraction_below_init == 0.0  # w* is the exact minimum of the full-batch loss
    assert est.result_.mala_acceptance > 0.95


def test_reduced_rank_regression_within_ten_percent_of_aoyagi_watanabe():
    M, N, H, r = 4, 4, 3, 1
    assert rrr_learning_coefficient(M, N, H, r) == 6.0
    model, X, y = rrr(M, N, H, r, n=10_000)
    est = LLCEstimator(epsilon=3e-5, gamma=1.0, nbeta="dataset", n_chains=8, n_draws=2000, n_burnin=500,
                       batch_size=500, seed=0).fit(model, (X, y), loss_fn=half_mse)  # fmt: skip
    assert est.llc_mean_ == pytest.approx(6.0, rel=0.10)


def test_the_closed_form_of_aoyagi_and_watanabe_in_its_cases():
    # regular when the truth has full rank H: the dimension of rank-H matrices, H(M + N − H), over 2
    assert rrr_learning_coefficient(5, 3, 2, 2) == 2 * (5 + 3 - 2) / 2
    assert rrr_learning_coefficient(4, 4, 4, 4) == 4 * 4 / 2  # M + N ≤ H + r: the full linear map
    assert rrr_learning_coefficient(3, 3, 2, 1) == 3.5  # case 1, odd: (2·3·6 − 0 − 9 + 1) / 8
    assert rrr_learning_coefficient(2, 6, 1, 0) == 1 * 2 / 2  # M + H < N + r: (HM − Hr + Nr) / 2
    with pytest.raises(ValueError, match=r"`r` \(=4\) must be an integer from 0 to H \(=3\)"):
        rrr_learning_coefficient(4, 4, 3, 4)


def test_aoyagis_deep_linear_coefficient_is_reduced_rank_regression_with_one_hidden_layer():
    # two independent derivations (Aoyagi & Watanabe 2005 for one hidden layer, Aoyagi 2024 for
    # any depth) agree on every shape up to width 7
    for M, N, H in itertools.product(range(1, 8), repeat=3):
        for r in range(min(M, N, H) + 1):
            assert dln_learning_coefficient([M, H, N], r) == rrr_learning_coefficient(M, N, H, r), (
                M,
                N,
                H,
                r,
            )
    # depth: a network with no truth (r = 0) of equal widths h, L layers, Σ = all L + 1 layers
    # (ℓ = L, S = (L + 1)h, a = ℓ when ℓ divides S): λ = −ℓ(ℓ−1)/4 (S/ℓ)² + ½ C(L+1, 2) h²
    for L, h in [(3, 3), (4, 4), (5, 5), (2, 2)]:
        S = (L + 1) * h
        expected = -L * (L - 1) / 4 * (S / L) ** 2 + (L + 1) * L / 4 * h * h
        assert dln_learning_coefficient([h] * (L + 1), 0) == pytest.approx(expected)
    # a full-rank truth through a bottleneck no narrower than the ends is regular: d_eff / 2
    assert dln_learning_coefficient([3, 5, 5, 2], 2) == (2 * 5 - 4) / 2
    with pytest.raises(AnalysisError, match=r"`widths` \(=\[3\]\) must be two or more positive integers"):
        dln_learning_coefficient([3], 0)
    with pytest.raises(
        AnalysisError, match=r"`r` \(=3\) must be an integer from 0 to the least width \(=2\)"
    ):
        dln_learning_coefficient([4, 2, 4], 3)


def _interval_modules(dims: tuple[int, ...]) -> list[dict[tuple[int, int], int]]:
    """Every representation of the chain quiver 0 → 1 → … → L with these dimensions, up to
    isomorphism: a multiset of interval modules [a, b] (Gabriel), as ``{(a, b): multiplicity}``."""
    L = len(dims) - 1
    intervals = [(a, b) for a in range(L + 1) for b in range(a, L + 1)]
    found: list[dict[tuple[int, int], int]] = []

    def extend(k: int, left: list[int], chosen: dict[tuple[int, int], int]) -> None:
        if k == len(intervals):
            if not any(left):
                found.append(dict(chosen))
            return
        a, b = intervals[k]
        for m in range(min(left[a : b + 1]) + 1):
            rest = [x - m if a <= i <= b else x for i, x in enumerate(left)]
            extend(k + 1, rest, {**chosen, (a, b): m} if m else chosen)

    extend(0, list(dims), {})
    return found


def _fibre_codimension(widths: tuple[int, ...], r: int) -> int:
    """The codimension, among all tuples (W_1, …, W_L), of those whose product is one given
    matrix of rank r. The tuples with a product of rank r are the representations with exactly
    r summands [0, L]; finitely many orbits, so their dimension is the largest orbit's,
    Σ dim² − dim End, with dim Hom([a, b], [c, d]) = 1 exactly when c ≤ a ≤ d ≤ b. The fibre over
    one product is that less the r(m + n − r) dimensions of the rank-r matrices."""
    L = len(widths) - 1
    largest = max(
        sum(d * d for d in widths)
        - sum(mi * mj for (a, b), mi in rep.items() for (c, d), mj in rep.items() if c <= a <= d <= b)
        for rep in _interval_modules(widths)
        if rep.get((0, L), 0) == r
    )
    fibre = largest - r * (widths[0] + widths[-1] - r)
    return sum(widths[i] * widths[i + 1] for i in range(L)) - fibre


def test_aoyagis_deep_linear_coefficient_is_half_the_codimension_of_the_fibre():
    """An independent route to the same numbers: Pepin Lehalleur & Rimányi (2024) prove that the
    RLCT of ‖W_L ⋯ W_1‖² is half the codimension of {product = 0}, computed here from the
    interval modules of the chain quiver (no formula of Aoyagi's used). It equals Aoyagi's λ at
    r = 0 on every shape of depth 3 of width at most 3 and of depth 4 of width at most 2, and so
    does half the codimension of the fibre over a product of rank r > 0 (a check of the
    transcription, not a theorem); all 1,293 shapes of depth 2 to 4 and width at most 4 (3 at depth 4) agree (not run here)."""
    assert _fibre_codimension((2, 2, 2, 2), 0) == 3  # ABC = 0 in R^12: top components of dim 9
    assert dln_learning_coefficient([3, 3, 3, 3], 1) == _fibre_codimension((3, 3, 3, 3), 1) / 2 == 4.0
    for depth, widest in ((3, 3), (4, 2)):
        for widths in itertools.product(range(1, widest + 1), repeat=depth + 1):
            for r in range(min(widths) + 1):
                assert dln_learning_coefficient(list(widths), r) == _fibre_codimension(widths, r) / 2, (
                    widths,
                    r,
                )


def test_nbeta_rules():
    assert default_nbeta("batch", n=1000, batch_size=64) == pytest.approx(64 / math.log(64))
    assert default_nbeta("dataset", n=1000, batch_size=64) == pytest.approx(1000 / math.log(1000))
    model, X, y = least_squares()
    r = LLCEstimator(nbeta="batch", n_draws=5, batch_size=100).fit(model, (X, y), loss_fn=half_mse).result_
    assert r.nbeta == pytest.approx(100 / math.log(100))
    with pytest.raises(
        AnalysisError, match=r"`nbeta` \(='data'\) must be a positive number, 'batch' or 'dataset'"
    ):
        default_nbeta("data", n=10, batch_size=2)


def test_seeded_chains_reproduce_and_differ_by_seed():
    model, X, y = least_squares()
    fit = lambda seed: LLCEstimator(n_chains=3, n_draws=20, batch_size=50, nbeta=10.0, seed=seed).fit(  # noqa: E731
        model, (X, y), loss_fn=half_mse
    )
    a, b, c = fit(0), fit(0), fit(1)
    torch.testing.assert_close(a.loss_trace_, b.loss_trace_, rtol=0, atol=0)
    assert not torch.equal(a.loss_trace_, c.loss_trace_)
    assert len(set(a.result_.llc_per_chain)) == 3  # each chain its own noise and minibatches


def test_init_loss_is_on_the_whole_dataset_and_the_model_is_left_as_it_was():
    model, X, y = least_squares(n=5000)
    model.train()
    before = model.weight.detach().clone()
    est = LLCEstimator(n_draws=10, batch_size=32, nbeta=10.0).fit(model, (X, y), loss_fn=half_mse)
    with torch.no_grad():
        assert est.result_.init_loss == pytest.approx(float(half_mse(model(X), y)), rel=1e-12)
    assert est.result_.init_loss_samples == 5000
    assert torch.equal(model.weight, before) and model.training
    assert est.loss_trace_.shape == (4, 10) and est.llc_trace_.shape == (4, 10)


def test_draws_below_the_start_flag_a_point_that_is_not_a_minimum():
    model, X, y = least_squares()
    model.weight.data += 0.5  # off the minimum: sampling walks downhill
    est = LLCEstimator(epsilon=1e-3, nbeta=50.0, gamma=1.0, n_draws=200, batch_size=len(X)).fit(
        model, (X, y), loss_fn=half_mse
    )
    assert est.result_.fraction_below_init > 0.9 and est.llc_mean_ < 0


def test_divergent_chains_are_reported_by_chain_and_kept():
    model, X, y = least_squares()
    with pytest.warns(NerveWarning, match=r"LLC chains \[0, 1\] diverged.*\(lower epsilon or raise gamma\)"):
        est = LLCEstimator(epsilon=1.0, gamma=1.0, nbeta=1000.0, n_chains=2, n_draws=50, batch_size=100).fit(
            model, (X, y), loss_fn=half_mse
        )
    assert est.result_.divergent_chains == (0, 1)
    assert len(est.result_.llc_per_chain) == 2
    assert "lower epsilon" in est.result_.verdict and "not local" not in est.result_.verdict


def test_chains_that_agree_above_the_divergence_threshold_are_told_to_raise_nbeta():
    # λ/nβ is the draws' mean excess loss: at nβ = 20 it is ~0.05, above a threshold of 0.01 at every
    # step, though the chains mix and agree. A smaller ε cannot help; a larger nβ brings them home.
    model, X, y = least_squares()
    hot = dict(gamma=50.0, n_chains=4, n_burnin=100, batch_size=len(X), max_loss_increase=0.01)
    with pytest.warns(NerveWarning, match=r"diverged.*not local to w\* \(raise nbeta or gamma"):
        est = LLCEstimator(epsilon=5e-3, nbeta=20.0, n_draws=1000, **hot).fit(model, (X, y), loss_fn=half_mse)
    r = est.result_
    assert r.divergent_chains == (0, 1, 2, 3) and r.rhat < 1.01
    assert "not local to w*" in r.verdict and "raise nbeta" in r.verdict and "lower epsilon" not in r.verdict
    cooler = LLCEstimator(epsilon=1e-4, nbeta=2000.0, n_draws=300, **hot)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NerveWarning)  # 300 draws: converged or not, not the point
        assert cooler.fit(model, (X, y), loss_fn=half_mse).result_.divergent_chains == ()


def test_mala_acceptance_falls_as_the_step_grows():
    model, X, y = least_squares()
    rates = [
        LLCEstimator(epsilon=eps, nbeta=50.0, n_draws=200, batch_size=len(X), mala_every=1)
        .fit(model, (X, y), loss_fn=half_mse)
        .result_.mala_acceptance
        for eps in (1e-4, 3e-3, 2e-2)
    ]
    assert rates[0] > 0.99 and rates[0] > rates[1] > rates[2]


def test_result_round_trips_through_json():
    model, X, y = least_squares()
    r = LLCEstimator(n_draws=5, batch_size=50, nbeta=10.0).fit(model, (X, y), loss_fn=half_mse).result_
    assert LLCResult.from_json(r.to_json()) == r


def test_errors_name_the_argument():
    model, X, y = least_squares()
    with pytest.raises(AnalysisError, match=r"`epsilon` \(=-1\) must be a positive number"):
        LLCEstimator(epsilon=-1).fit(model, (X, y))
    with pytest.raises(AnalysisError, match=r"`n_chains` \(=0\) must be an integer >= 1"):
        LLCEstimator(n_chains=0).fit(model, (X, y))
    with pytest.raises(
        AnalysisError, match=r"`sampler` \(='hmc'\) must be one of \['sgld', 'rmsprop_sgld'\]"
    ):
        LLCEstimator(sampler="hmc").fit(model, (X, y))
    with pytest.raises(AnalysisError, match=r"`rmsprop_alpha` \(=1.0\) must be a number in \[0, 1\)"):
        LLCEstimator(sampler="rmsprop_sgld", rmsprop_alpha=1.0).fit(model, (X, y))
    with pytest.raises(
        AnalysisError, match=r"`batch_size` \(=1000\) must be at most the dataset's size \(500\)"
    ):
        LLCEstimator(batch_size=1000).fit(model, (X, y))
    with pytest.raises(AnalysisError, match=r"`dataset` \(a dict\) must be a TensorDataset"):
        LLCEstimator().fit(model, {"x": X})
    with pytest.raises(AnalysisError, match=r"must share their first dimension; got sizes \[500, 499\]"):
        LLCEstimator().fit(model, (X, y[1:]))
    mixed = nn.Sequential(nn.Linear(3, 4).double(), nn.Linear(4, 2))
    with pytest.raises(
        AnalysisError, match=r"`model`'s parameters mix dtypes \['torch.float32', 'torch.float64'\]"
    ):
        LLCEstimator().fit(mixed, (X, y))
    bn = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4, track_running_stats=False))
    with pytest.raises(AnalysisError, match=r"batch norm '1' without running statistics"):
        LLCEstimator().fit(bn, (X.float(), y.float()))


def test_the_llc_of_a_subset_of_parameters_counts_only_those():
    # a regular model with 6 weights and 2 biases at its exact minimum: λ = d/2 over what is sampled
    g = torch.Generator().manual_seed(0)
    X = torch.randn(2000, 3, generator=g, dtype=torch.float64)
    y = (
        X @ torch.randn(3, 2, generator=g, dtype=torch.float64)
        + 1.0
        + torch.randn(2000, 2, generator=g, dtype=torch.float64)
    )
    model = nn.Linear(3, 2).double()
    solution = torch.linalg.lstsq(torch.cat([X, torch.ones(2000, 1, dtype=torch.float64)], 1), y).solution
    model.weight.data, model.bias.data = solution[:3].T.contiguous(), solution[3].contiguous()
    fit = lambda params: LLCEstimator(epsilon=1e-3, gamma=1.0, nbeta=100.0, n_chains=16, n_draws=1000,  # noqa: E731
                                      n_burnin=200, batch_size=2000, params=params, seed=0).fit(
        model, (X, y), loss_fn=half_mse
    )  # fmt: skip
    assert fit(None).llc_mean_ == pytest.approx(4.0, rel=0.10)
    assert fit(["weight"]).llc_mean_ == pytest.approx(3.0, rel=0.10)
    assert fit(["bias"]).llc_mean_ == pytest.approx(1.0, rel=0.15)
    with pytest.raises(
        AnalysisError, match=r"`params` names 'mlp', which is no parameter \(or prefix of one\)"
    ):
        fit(["mlp"])


def strict(text: str):
    """`text` parsed as strict JSON: a bare NaN or Infinity fails the test."""
    return json.loads(text, parse_constant=lambda token: pytest.fail(f"bare {token} in JSON"))


@pytest.mark.parametrize(
    "kwargs, says",
    [
        ({"init_loss_samples": -5}, r"`init_loss_samples` \(=-5\) must be an integer >= 1"),
        ({"init_loss_samples": 2.5}, r"`init_loss_samples` \(=2.5\) must be an integer >= 1"),
        (
            {"init_loss_samples": 501},
            r"`init_loss_samples` \(=501\) must be at most the dataset's size \(500\)",
        ),
        ({"epsilon": math.nan}, r"`epsilon` \(=nan\) must be a positive number \(finite, not NaN\)"),
        ({"epsilon": math.inf}, r"`epsilon` \(=inf\) must be a positive number"),
        ({"gamma": math.nan}, r"`gamma` \(=nan\) must be a number >= 0"),
        ({"nbeta": math.inf}, r"`nbeta` \(=inf\) must be a positive number, 'batch' or 'dataset'"),
        ({"max_loss_increase": math.inf}, r"`max_loss_increase` \(=inf\) must be a positive number"),
        ({"n_draws": 10.0}, r"`n_draws` \(=10.0\) must be an integer >= 1"),
        ({"mala_every": 0}, r"`mala_every` \(=0\) must be an integer >= 1"),
        ({"seed": -1}, r"`seed` \(=-1\) must be an integer from 0 to 2\*\*64 - 1"),
        ({"params": "weight"}, r"`params` \(='weight'\) must be a non-empty list"),
        ({"device": "gpu0"}, r"`device` \(='gpu0'\) must name a torch device"),
    ],
)
def test_every_hyperparameter_is_checked_when_fit_starts(kwargs, says):
    model, X, y = least_squares()
    with pytest.raises(AnalysisError, match=says):
        LLCEstimator(**{"n_draws": 5, **kwargs}).fit(model, (X, y), loss_fn=half_mse)


def test_a_step_that_must_diverge_or_overflow_is_refused():
    model, X, y = least_squares()
    # εγ >= 4: the localisation alone multiplies w − w* by 1 − εγ/2 <= −1 each step
    with pytest.raises(
        AnalysisError, match=r"`epsilon` \(=1e\+300\) with `gamma` \(=100\) gives εγ = 1e\+302 >= 4"
    ):
        LLCEstimator(epsilon=1e300).fit(model, (X, y), loss_fn=half_mse)
    with pytest.raises(AnalysisError, match=r"εγ = 4 >= 4: .* Use epsilon < 0.04"):
        LLCEstimator(epsilon=0.04, gamma=100.0).fit(model, (X, y), loss_fn=half_mse)
    # without localisation nothing bounds ε but the parameters' dtype (here float32)
    with pytest.raises(
        AnalysisError, match=r"`epsilon` \(=1e\+300\) overflows the parameters' dtype torch.float32"
    ):
        LLCEstimator(epsilon=1e300, gamma=0.0).fit(model.float(), (X.float(), y.float()), loss_fn=half_mse)


def test_too_many_chains_are_refused_before_anything_is_allocated(monkeypatch):
    model = nn.Linear(100, 100)  # 10,100 parameters: 10^7 chains need terabytes
    X = torch.randn(64, 100)

    def never(*args, **kwargs):
        raise AssertionError("the chains were allocated")

    monkeypatch.setattr(llc_module, "_run_chains", never)
    with pytest.raises(
        MemoryBudgetError,
        match=r"`n_chains` \(=10000000\): 10000000 SGLD chains of 10100 parameters need about",
    ):
        LLCEstimator(n_chains=10_000_000, nbeta=2.0, batch_size=64).fit(model, (X, X), loss_fn=half_mse)


def test_json_of_diverged_chains_is_strict_and_reads_back():
    model, X, y = least_squares()
    with pytest.warns(NerveWarning, match="diverged"):
        r = (
            LLCEstimator(epsilon=1.0, gamma=1.0, nbeta=1e6, n_chains=2, n_draws=50, batch_size=100)
            .fit(model, (X, y), loss_fn=half_mse)
            .result_
        )
    assert not math.isfinite(r.llc_mean)  # inf here; NaN and ±inf are both written as null
    data = strict(r.to_json())
    assert data["llc_mean"] is None and data["llc_per_chain"] == [None, None]
    back = LLCResult.from_json(r.to_json())
    assert math.isnan(back.llc_mean) and all(math.isnan(x) for x in back.llc_per_chain)
    assert back.to_json() == r.to_json()


def test_closed_form_errors_are_analysis_errors():
    with pytest.raises(AnalysisError, match=r"`M` \(=0\) must be a positive integer"):
        rrr_learning_coefficient(0, 1, 1, 0)
