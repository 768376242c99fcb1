"""The LLC against Aoyagi & Watanabe (2005) over several reduced-rank regression shapes: slow
(about 15-60 s each on 2 cores); run with ``python -m pytest -m slow tests/analysis/test_llc_slow.py``.

Sampled at the true parameter (the rank-r truth, its factors padded with zeros to width H), where
the theorem's λ applies. At the empirical minimiser instead (the fast test's w*), the H − r
directions fitted to noise have singular values of the size of the posterior's width at
n = 10⁴, and λ̂ comes out higher: measured +12% for (6, 4, 3, 1), +26% for (3, 6, 2, 1) and
(8, 8, 4, 2).
"""

import pytest
import torch
from test_llc import half_mse
from torch import nn

from nerve.analysis.llc import LLCEstimator, rrr_learning_coefficient

pytestmark = pytest.mark.slow


def rrr_at_truth(M, N, H, r, n, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, M, generator=g)
    B_true, A_true = torch.randn(N, r, generator=g), torch.randn(r, M, generator=g)
    y = X @ (B_true @ A_true).T + torch.randn(n, N, generator=g)
    model = nn.Sequential(nn.Linear(M, H, bias=False), nn.Linear(H, N, bias=False))
    A, B = torch.zeros(H, M), torch.zeros(N, H)
    A[:r], B[:, :r] = A_true, B_true
    model[0].weight.data, model[1].weight.data = A, B
    return model, X, y


def not_reproduced(shape, measured):
    return pytest.param(*shape, marks=pytest.mark.xfail(strict=True, reason=f"measured {measured}"))


@pytest.mark.parametrize(
    "M, N, H, r",
    [
        (3, 3, 2, 1),  # λ = 3.5: measured 3.22 (−8.0%)
        (4, 4, 3, 1),  # 6: 5.91 (−1.5%)
        (5, 5, 4, 2),  # 10.5: 11.38 (+8.4%)
        (6, 4, 3, 1),  # 7.5: 7.15 (−4.6%)
        (3, 6, 2, 1),  # 5 (case M + H < N + r): 5.13 (+2.7%)
        (5, 3, 2, 2),  # 6 (regular: full rank H): 6.48 (+8.0%)
        not_reproduced((8, 8, 4, 2), "21.48 against 19.5 (+10.1%)"),
        # the truth 0: the potential is quartic at w*, the chains mix slowly; with ε = 1e-4 and
        # 8,000 draws (2, 6, 1, 0) came to 1.135 ± 0.09 (+13.5%)
        not_reproduced((4, 6, 3, 0), "4.49 against 6 (−25%)"),
        not_reproduced((2, 6, 1, 0), "0.75 against 1 (−25%)"),
    ],
)
def test_reduced_rank_regression_shapes_within_ten_percent(M, N, H, r):
    model, X, y = rrr_at_truth(M, N, H, r, n=10_000)
    est = LLCEstimator(epsilon=3e-5, gamma=1.0, nbeta="dataset", n_chains=8, n_draws=2000, n_burnin=500,
                       batch_size=500, seed=0).fit(model, (X, y), loss_fn=half_mse)  # fmt: skip
    assert est.llc_mean_ == pytest.approx(rrr_learning_coefficient(M, N, H, r), rel=0.10)
