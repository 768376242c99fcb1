"""The LLC against learning coefficients known in closed form (issue 17's ground truths): slow
(seconds to a minute each on 2 cores); run with ``python -m pytest -m slow tests/analysis/test_llc_slow.py``.

Every case is sampled at a true parameter, where the theorems' λ applies, and must come out
within 10% of it with a verdict of converged; the same case run for 50 draws must say it has not
converged. The cases:

- regular linear regression y = W x (λ = d/2) at three sizes;
- reduced-rank regression y = B A x (Aoyagi & Watanabe 2005) at nine shapes, at the rank-r truth
  with its factors padded by zeros to width H (the most singular point of the true set);
- deep linear networks y = W_L ⋯ W_1 x of depth 3 and 4 (Aoyagi 2024), padded the same way.

At the empirical minimiser instead of the truth (the fast test's w*), the H − r directions fitted
to noise have singular values of the size of the posterior's width at n = 10⁴, and λ̂ comes out
higher: measured +12% for (6, 4, 3, 1), +26% for (3, 6, 2, 1) and (8, 8, 4, 2).
"""

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
    layers = [nn.Linear(a, b, bias=False) for a, b in zip(widths, widths[1:])]
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


def estimate(model, X, y, *, draws, burnin, **settings):
    est = LLCEstimator(nbeta="dataset", n_chains=8, n_draws=draws, n_burnin=burnin, batch_size=500, seed=0,
                       **settings)  # fmt: skip
    with warnings.catch_warnings():  # the verdict is asserted, not warned
        warnings.simplefilter("ignore", NerveWarning)
        return est.fit(model, (X, y), loss_fn=half_mse).result_


def check(widths, r, truth, *, rel=0.10, **settings):
    """λ̂ within `rel` of `truth` and converged; 50 draws of the same say not converged."""
    model, X, y = linear_network_at_truth(widths, r)
    result = estimate(model, X, y, **settings)
    assert result.converged, result.verdict
    assert result.llc_mean == pytest.approx(truth, rel=rel)
    short = estimate(model, X, y, **{**settings, "draws": 50, "burnin": 0})
    assert not short.converged and short.verdict.startswith("not converged")
