"""TokenCircles on point clouds with a known answer: a circle at one frequency found there and
nowhere else, the spectrum a partition of the variance, too few points for topology to call a
circle, and bad input refused."""

import math

import pytest
import torch

from nerve.analysis import TokenCircles, cyclic_spectrum
from nerve.errors import AnalysisError


def cloud(n, m, k, noise, d=24, seed=0):
    """n tokens on the circle of frequency k in a random plane of R^d, m noisy contexts each."""
    g = torch.Generator().manual_seed(seed)
    a = torch.arange(n, dtype=torch.float64)
    circle = torch.stack([torch.cos(2 * math.pi * k * a / n), torch.sin(2 * math.pi * k * a / n)], 1)
    plane = torch.linalg.qr(torch.randn(d, 2, generator=g, dtype=torch.float64))[0]
    offset = torch.randn(d, generator=g, dtype=torch.float64)
    return (circle @ plane.T + offset)[:, None, :] + noise * torch.randn(
        n, m, d, generator=g, dtype=torch.float64
    )


def test_a_circle_at_frequency_five_is_found_there_only():
    # 5 is prime to 12: the tokens go round once, in the order 5a mod 12
    r = TokenCircles().fit(cloud(12, 10, 5, 0.03)).result_
    assert r.found == (5,) and r.n_contexts == 10
    by_k = {c.frequency: c for c in r.circles}
    assert set(by_k) == {1, 2, 3, 4, 5}
    assert by_k[5].fraction > 0.95 and by_k[5].angle_agreement > 0.99 and by_k[5].loop_agreement > 0.99
    assert by_k[5].p_value < 0.01 and by_k[5].betti == (12, 1)  # twelve clusters of contexts, one loop
    assert all(by_k[k].loop_agreement is None or by_k[k].loop_agreement < 0.9 for k in (1, 2, 3, 4))


def test_the_spectrum_partitions_the_variance():
    X = torch.randn(9, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    s = cyclic_spectrum(X)
    assert s.shape == (5,) and s[0] == 0 and math.isclose(float(s.sum()), 1.0, rel_tol=1e-12)
    assert torch.equal(cyclic_spectrum(torch.ones(4, 3)), torch.zeros(3))  # no variance: no fractions


def test_seven_points_alone_are_too_few_for_topology_to_call_a_circle():
    X = cloud(7, 1, 1, 0.0)[:, 0]
    c = TokenCircles(frequencies=[1]).fit(X).result_.circles[0]
    assert c.angle_agreement > 0.999 and c.fraction > 0.999
    # the 7-gon's loop lives 1.25 gaps between neighbours: below 1.5 noise scales
    assert c.betti[1] == 0 and math.isclose(c.persistence[0] / c.noise_scale, 1.25, rel_tol=0.01)
    assert c.found is False
    assert TokenCircles().fit(cloud(7, 10, 1, 0.03)).result_.found == (1,)  # ten contexts each: found


def test_random_tokens_show_no_circle():
    X = torch.randn(12, 10, 24, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    r = TokenCircles().fit(X).result_
    assert r.found == ()
    assert all(c.p_value > 0.01 for c in r.circles)


def test_bad_input_is_refused():
    X = cloud(12, 2, 1, 0.1)
    with pytest.raises(AnalysisError, match=r"`X` \(shape \(2, 3\)\) must be"):
        TokenCircles().fit(torch.zeros(2, 3))
    with pytest.raises(AnalysisError, match=r"`frequencies` \(=\[6\]\) must be non-empty and lie in 1..5"):
        TokenCircles(frequencies=[6]).fit(X)
    with pytest.raises(AnalysisError, match=r"`tokens` names 2 tokens; `X` has 12"):
        TokenCircles().fit(X, tokens=["a", "b"])
    with pytest.raises(AnalysisError, match=r"NaN"):
        TokenCircles().fit(X * math.nan)
    with pytest.raises(AnalysisError, match=r"`n_permutations` \(=0\)"):
        TokenCircles(n_permutations=0).fit(X)
