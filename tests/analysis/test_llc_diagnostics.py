"""Convergence diagnostics of the LLC (issue 17, item 1): the formulas against ArviZ's values, and
the verdict on a known truth: converged at enough draws, not converged on a short run of the same."""

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from nerve.analysis import LLCEstimator, LLCResult
from nerve.analysis.llc.diagnostics import diagnose, ess_bulk, split_rhat


def traces():
    """Five fixed sets of chains (numpy's PCG64 stream is stable across versions)."""
    rng = np.random.default_rng(2024)
    out = {"iid 4x200": rng.normal(size=(4, 200))}
    x = np.zeros((4, 300))
    for t in range(1, 300):
        x[:, t] = 0.95 * x[:, t - 1] + rng.normal(size=4)
    out["ar1 0.95 4x300"] = x
    out["shifted 4x100"] = rng.normal(size=(4, 100)) + np.array([0, 0, 0, 1.0])[:, None]
    out["drift 2x151"] = rng.normal(size=(2, 151)) + np.linspace(0, 2, 151)
    out["heavy tails 3x120"] = rng.standard_cauchy(size=(3, 120))
    return out


#: arviz 0.22.0: az.rhat(x, method="rank"), az.ess(x, method="bulk") on the traces above
ARVIZ = {
    "iid 4x200": (1.000217801329525, 788.9958561673809),
    "ar1 0.95 4x300": (1.0852472514680667, 51.07068607021798),
    "shifted 4x100": (1.1249843413432152, 24.504435942650456),
    "drift 2x151": (1.1404974296621704, 10.355334370757227),
    "heavy tails 3x120": (1.0059282489383103, 372.7238243587157),
}


@pytest.mark.parametrize("name", list(ARVIZ))
def test_rank_normalised_split_rhat_and_bulk_ess_are_arviz_values(name):
    x = traces()[name]
    rhat, ess = ARVIZ[name]
    assert split_rhat(x) == pytest.approx(rhat, rel=1e-12)
    assert ess_bulk(x) == pytest.approx(ess, rel=1e-12)


def test_too_short_or_constant_traces_have_no_diagnostics_and_fail_the_verdict():
    assert math.isnan(split_rhat(np.zeros((4, 100)))) and math.isnan(ess_bulk(np.ones((2, 3))))
    d = diagnose(np.ones((4, 100)), epsilon=1e-3, gamma=10.0, n_burnin=0)
    assert not d.converged and len(d.reasons) == 2


def test_a_drift_hidden_by_minibatch_noise_is_caught_by_the_same_batch_difference():
    """Each step's minibatch loss is the chains' slow part plus fresh sampling noise; the noise,
    white and 30 times larger, makes the loss trace look mixed (R̂ ~ 1, ESS ~ the draws) while
    the chains still drift. The difference from w*'s loss on the same batch keeps the drift."""
    rng = np.random.default_rng(7)
    slow = np.linspace(0.0, 0.1, 2000) + 0.02 * rng.normal(size=(4, 2000))  # still rising
    loss = slow + 0.6 * rng.normal(size=(4, 2000))
    alone = diagnose(loss, epsilon=1e-3, gamma=1.0, n_burnin=0)
    assert alone.converged and alone.ess_bulk > 4000
    both = diagnose(loss, epsilon=1e-3, gamma=1.0, n_burnin=0, deltas=slow)
    assert not both.converged and both.rhat_trace == both.ess_trace == "L_m(w) − L_m(w*)"
    assert "of the L_m(w) − L_m(w*) trace" in both.verdict and both.rhat > 1.1
    with pytest.raises(ValueError, match=r"`deltas` \(shape \(4, 3\)\) must have the draws' shape"):
        diagnose(loss, epsilon=1e-3, gamma=1.0, n_burnin=0, deltas=slow[:, :3])


def regular():
    """Linear regression at its least-squares minimum: a regular model, λ = d/2 = 1.5."""
    torch.manual_seed(0)
    X = torch.randn(2000, 3)
    y = X @ torch.tensor([[1.0], [-2.0], [0.5]]) + torch.randn(2000, 1)
    model = nn.Linear(3, 1, bias=False)
    model.weight.data = torch.linalg.lstsq(X, y).solution.T
    return model, (X, y)


@pytest.mark.parametrize(
    "sampler, epsilon",  # measured: λ̂ 1.616 (R̂ 1.002, ESS 1943, MALA 0.96); 1.556 (1.006, 846, 0.98)
    [("sgld", 1e-2), ("rmsprop_sgld", 2e-3)],
)
def test_a_regular_model_converges_at_enough_draws_and_a_short_run_says_it_has_not(sampler, epsilon):
    model, data = regular()

    def estimate(draws, eps=epsilon):
        est = LLCEstimator(epsilon=eps, gamma=1.0, nbeta=20.0, n_chains=8, n_draws=draws, n_burnin=100,
                           batch_size=2000, seed=0, sampler=sampler)  # fmt: skip
        return est.fit(model, data, loss_fn=nn.functional.mse_loss).result_

    good = estimate(1000)
    assert good.converged and good.verdict == "converged" and good.sampler == sampler
    assert abs(good.llc_mean - 1.5) < 0.15 and good.rhat < 1.01 and good.ess_bulk >= 800
    with pytest.warns(UserWarning, match=r"the LLC estimate is not converged: R̂ 1\.\d+ >= 1\.01"):
        short = estimate(40)
    assert not short.converged and "bulk ESS" in short.verdict and "more draws (now 40," in short.verdict
    if sampler == "sgld":  # twice the step: the chains mix, but λ̂ is 23% high, and the verdict says why
        coarse = estimate(1000, 2e-2)
        assert coarse.rhat < 1.01 and coarse.ess_bulk >= 800 and coarse.llc_mean > 1.7
        assert not coarse.converged and "MALA acceptance 0.90 < 0.9" in coarse.verdict
    # the verdict travels with the result, and a file from before it reads as not diagnosed
    assert LLCResult.from_json(good.to_json()) == good
    old = {k: v for k, v in json.loads(good.to_json()).items()
           if k not in ("rhat", "ess_bulk", "tau", "converged", "verdict")}  # fmt: skip
    before = LLCResult.from_dict(old)
    assert not before.converged and before.verdict.startswith("not diagnosed")


def test_a_converged_verdict_on_chains_shorter_than_tau_says_so():
    """R̂ cannot see a direction no chain has relaxed along (all start at w*): chains spanning less
    than τ = 2/(εγ) keep converged=True by the rule, and the verdict and a warning say how short."""
    from nerve.errors import NerveWarning

    rng = np.random.default_rng(0)
    long = diagnose(rng.normal(size=(4, 2000)), epsilon=1e-3, gamma=1.0, n_burnin=0)  # τ = 2,000 steps
    brief = diagnose(rng.normal(size=(4, 2000)), epsilon=1e-4, gamma=1.0, n_burnin=0)  # τ = 20,000
    assert long.converged and long.verdict == "converged"
    assert brief.converged and brief.verdict.startswith("converged by the rule, but the chains span 0.1 τ")
    model, data = regular()
    # the loss confines every direction of a regular model, so the chains mix in a few hundred steps,
    # while τ = 2/(εγ) = 20,000 at γ = 0.01: converged by the rule, and said to be short in τ
    est = LLCEstimator(epsilon=1e-2, gamma=0.01, nbeta=20.0, n_chains=8, n_draws=1000, n_burnin=100,
                       batch_size=2000, seed=0)  # fmt: skip
    with pytest.warns(NerveWarning, match=r"the LLC estimate is converged by the rule, but the chains span"):
        r = est.fit(model, data, loss_fn=nn.functional.mse_loss).result_
    assert r.converged
