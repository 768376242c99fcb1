"""The LLC against learning coefficients known in closed form (issue 17's ground truths): slow
(seconds to two minutes each on 2 cores, the deep linear network [3, 3, 3, 3] about twenty); run
with ``python -m pytest -m slow tests/analysis/test_llc_slow.py``.

Every case must come out within 10% of its λ with a verdict of converged, and the same case run
for 50 draws must say it has not converged:

- regular linear regression y = W x (λ = d/2) at three sizes, on a sample of 10⁴, at its
  least-squares minimum;
- reduced-rank regression y = B A x (Aoyagi & Watanabe 2005) at nine shapes and deep linear
  networks y = W_L ⋯ W_1 x of depth 3 and 4 (Aoyagi 2024), at a truth of rank r (its factors
  padded with zeros: the most singular point of the true set), on the population loss.

Why the population loss for the singular cases: sampled on a sample of n at the truth, λ̂ carries
the estimator's own finite-n term, of order β = 1/log n (11% at n = 10⁴; exact for a regular
model, tested below), and the theorems' λ is its n → ∞ limit. On a sample, the three cases that
were strict xfails here came out 25% low ((4, 6, 3, 0), (2, 6, 1, 0)) and 10% high ((8, 8, 4, 2),
from too large a step); the first two with chains that had not converged (the verdict now says
so), the last converged. On the population loss all nine are within 8%.

What R̂ cannot see: a direction that only the localisation confines relaxes in τ = 2/(εγ) steps,
and chains that all start at w* and are shorter than τ agree in not having relaxed. The deep
linear network [3, 3, 3, 3] at r = 1 gave 3.429 against 4 (−14%, R̂ 1.007) in 140,000 steps
(0.42 τ) and gives 3.834 (−4.2%) in 1.4 million (4.2 τ).
"""

import itertools
import math
import warnings

import pytest
import torch
from test_llc import half_mse
from torch import nn

from nerve.analysis.llc import LLCEstimator, dln_learning_coefficient, rrr_learning_coefficient
from nerve.errors import NerveWarning

pytestmark = pytest.mark.slow

N_SAMPLES = 10_000


def linear_network_at_truth(widths, r, *, n=N_SAMPLES, seed=0):
    """A deep linear network with no biases (``widths``: input, hidden..., output) set to a random
    truth of rank r, padded with zeros, and n noisy samples of it (unit Gaussian inputs and noise)."""
    g = torch.Generator().manual_seed(seed)
    layers = [nn.Linear(a, b, bias=False) for a, b in itertools.pairwise(widths)]
    for s, layer in enumerate(layers):
        w = torch.zeros_like(layer.weight)
        rows = slice(None) if s == len(layers) - 1 else slice(0, r)
        cols = slice(None) if s == 0 else slice(0, r)
        w[rows, cols] = torch.randn(w[rows, cols].shape, generator=g) / max(r, 1) ** 0.5  # products O(1)
        layer.weight.data = w
    model = nn.Sequential(*layers)
    X = torch.randn(n, widths[0], generator=g)
    with torch.no_grad():
        y = model(X) + torch.randn(n, widths[-1], generator=g)
    return model, X, y


def population(widths, r, *, nbeta=N_SAMPLES / math.log(N_SAMPLES)):
    """The deep linear network at its truth with the population loss in place of a sample's: on
    the inputs e_1 … e_M with noiseless targets, half the mean squared error is ½‖W − W₀‖²_F / M,
    the expected loss under unit Gaussian inputs (less the noise's constant) divided by M; nβ is
    multiplied by M to match. No data, so no finite-n bias: what λ̂ measures is the sampler."""
    model, _, _ = linear_network_at_truth(widths, r, n=1)
    X = torch.eye(widths[0])
    with torch.no_grad():
        y = model(X)
    return model, X, y, widths[0] * nbeta


def regular_at_minimum(d_in, d_out, *, n=N_SAMPLES, seed=0):
    """Linear regression y = W x (d = d_in·d_out weights, regular: λ = d/2) at its least-squares
    minimum. At the truth instead, λ̂ has a finite-n bias: nβ(L_n(w₀) − L_n(ŵ)) = βχ²_d/2 lower,
    on average β = 1/log n = 11% of d/2 at n = 10⁴."""
    model, X, y = linear_network_at_truth([d_in, d_out], min(d_in, d_out), n=n, seed=seed)
    model[0].weight.data = torch.linalg.lstsq(X, y).solution.T.contiguous()
    return model, X, y


def estimate(model, X, y, *, draws, burnin, nbeta="dataset", batch_size=500, **settings):
    est = LLCEstimator(nbeta=nbeta, n_chains=8, n_draws=draws, n_burnin=burnin, batch_size=batch_size, seed=0,
                       **settings)  # fmt: skip
    with warnings.catch_warnings():  # the verdict is asserted, not warned
        warnings.simplefilter("ignore", NerveWarning)
        return est.fit(model, (X, y), loss_fn=half_mse).result_


def check(model, X, y, truth, **settings):
    """λ̂ within 10% of `truth` and converged; 50 draws of the same say not converged."""
    result = estimate(model, X, y, **settings)
    assert result.converged, result.verdict
    assert result.llc_mean == pytest.approx(truth, rel=0.10)
    short = estimate(model, X, y, **{**settings, "draws": 50, "burnin": 0})
    assert not short.converged and short.verdict.startswith("not converged")
    return result


@pytest.mark.parametrize(
    "d_in, d_out",  # λ = d/2 = 1.5, 12, 64: measured 1.473, 12.40, 65.39 (R̂ ≤ 1.003, ESS ≥ 2197)
    [(3, 1), (6, 4), (16, 8)],
)
def test_regular_models_at_their_minimum_have_half_their_dimension(d_in, d_out):
    check(
        *regular_at_minimum(d_in, d_out), d_in * d_out / 2, epsilon=1e-5, gamma=1.0, draws=8000, burnin=2000
    )


def test_at_the_truth_a_regular_model_is_low_by_exactly_its_finite_n_term():
    """Sampled at the truth w₀ of a sample instead of its minimum ŵ, λ̂ moves by −nβ(L_n(w₀) − L_n(ŵ))
    (= −βχ²_d/2: on average β = 1/log n, 11% of d/2 at n = 10⁴): the finite-n term that the
    singular cases carry too, which is why they are checked on the population loss below. Measured
    on d = 24: 10.863 at the truth, 12.401 at the minimum, a move of −1.538 against −1.539 predicted
    (the step's own +3% bias, the same at both points, cancels)."""
    model, X, y = linear_network_at_truth([6, 4], 4)
    at_minimum = regular_at_minimum(6, 4)[0]
    with torch.no_grad():
        gap = float(half_mse(model(X), y) - half_mse(at_minimum(X), y))
    predicted = -N_SAMPLES / math.log(N_SAMPLES) * gap
    settings = dict(epsilon=1e-5, gamma=1.0, draws=8000, burnin=2000)
    truth, minimum = estimate(model, X, y, **settings), estimate(at_minimum, X, y, **settings)
    assert truth.converged and minimum.converged and predicted < -0.05 * 12  # not a small term here
    assert truth.llc_mean - minimum.llc_mean == pytest.approx(predicted, rel=0.1)


@pytest.mark.parametrize(
    "M, N, H, r",  # measured λ̂ / λ on the population loss (R̂ ≤ 1.010, ESS ≥ 800 of 800 needed)
    [
        (3, 3, 2, 1),  # 3.468 / 3.5
        (4, 4, 3, 1),  # 6.171 / 6
        (5, 5, 4, 2),  # 10.58 / 10.5
        (6, 4, 3, 1),  # 7.786 / 7.5
        (3, 6, 2, 1),  # 5.324 / 5 (case M + H < N + r)
        (5, 3, 2, 2),  # 6.238 / 6 (regular: full rank H)
        (8, 8, 4, 2),  # 20.13 / 19.5; on a sample at the truth, step 3e-5: 21.48 (+10.1%, an xfail until now)
        (4, 6, 3, 0),  # 5.575 / 6; on a sample: 4.49 (−25%), and 4.88 at step 1e-5 (finite n, see above)
        (2, 6, 1, 0),  # 1.075 / 1; on a sample: 0.75 (−25%); over 6 data seeds 0.836 ± 0.030
    ],
)
def test_reduced_rank_regression_is_aoyagi_and_watanabes_coefficient(M, N, H, r):
    model, X, y, nbeta = population([M, H, N], r)
    truth = rrr_learning_coefficient(M, N, H, r)
    check(model, X, y, truth, nbeta=nbeta, batch_size=M, epsilon=3e-5, gamma=1.0, draws=20_000, burnin=5000)


def not_reproduced(widths, r, measured, draws=120_000):
    return pytest.param(widths, r, draws, marks=pytest.mark.xfail(strict=True, reason=f"measured {measured}"))


@pytest.mark.parametrize(
    "widths, r, draws",  # measured λ̂ / λ on the population loss, 8 chains
    [
        ([4, 3, 3, 4], 1, 120_000),  # 5.155 / 5.5 (R̂ 1.009, ESS 1273, MALA 0.98)
        ([6, 3, 3, 5], 2, 120_000),  # 9.693 / 9.5 (R̂ 1.008, ESS 931, MALA 0.98)
        # 3.834 / 4 (R̂ 1.002, ESS 7782, MALA 0.96) in 1.4M steps, 4.2 τ = 2/(εγ); in 140,000 steps
        # (0.42 τ) 3.429, −14%, and R̂ 1.007 says converged: the chains, all started at w*, have not
        # relaxed along the rescalings that only γ confines, and agree in not having done so
        ([3, 3, 3, 3], 1, 1_200_000),
        not_reproduced([5, 4, 3, 4, 5], 1, "6.693 against 7 (−4.4%) but R̂ 1.016: not converged"),
        not_reproduced([6, 4, 4, 4, 6], 2, "11.57 against 11.5 (+0.6%) but R̂ 1.038, ESS 153: not converged"),
    ],
)
def test_deep_linear_networks_have_aoyagis_coefficient(widths, r, draws):
    """Depth 3 and 4. The chains mix slowly across the layers' rescalings (at 40,000 draws of
    ε = 1e-5, R̂ 1.017–1.034 with λ̂ within 8%; RMSProp-SGLD at 1e-6 no better, γ = 10 biases λ̂
    11–22% low), so they run 120,000 draws of a smaller step; [3, 3, 3, 3] needs ten times that
    (about 20 minutes on 2 cores)."""
    model, X, y, nbeta = population(widths, r)
    truth = dln_learning_coefficient(widths, r)
    check(model, X, y, truth, nbeta=nbeta, batch_size=widths[0], epsilon=6e-6, gamma=1.0, draws=draws,
          burnin=draws // 6)  # fmt: skip
