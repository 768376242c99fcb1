"""Persistent homology: Betti numbers of known shapes, the field, the memory guard, circular coordinates."""

import math

import numpy as np
import pytest
import torch

from nerve import AnalysisError
from nerve.analysis.topology._landmarks import maxmin_landmarks
from nerve.analysis.topology._sparse import sparse_rips_graph
from nerve.analysis.topology.homology import (
    MemoryBudgetError,
    PersistentHomology,
    TopologyResult,
    circular_agreement,
    diagram_distance,
    estimate_memory,
    estimate_rips_memory,
)


def rng(seed=0):
    return torch.Generator().manual_seed(seed)


def circle(n, *, g, radius=1.0, noise=0.05, centre=(0.0, 0.0)):
    t = torch.rand(n, generator=g)
    x = radius * torch.stack([torch.cos(2 * math.pi * t), torch.sin(2 * math.pi * t)], 1)
    return x + torch.tensor(centre) + noise * torch.randn(n, 2, generator=g), t


def sphere(n, *, g, noise=0.02):
    x = torch.randn(n, 3, generator=g)
    return x / x.norm(dim=1, keepdim=True) + noise * torch.randn(n, 3, generator=g)


def flat_torus(n, *, g):
    u, v = 2 * math.pi * torch.rand(n, generator=g), 2 * math.pi * torch.rand(n, generator=g)
    return torch.stack([torch.cos(u), torch.sin(u), torch.cos(v), torch.sin(v)], 1)


def projective_plane(n, *, g):
    """RP² in R⁵ (the Veronese embedding: x and −x on S² have the same image)."""
    x = torch.randn(n, 3, generator=g)
    a, b, c = (x / x.norm(dim=1, keepdim=True)).T
    return torch.stack(
        [a * b, a * c, b * c, (a * a - b * b) / 2, (a * a + b * b - 2 * c * c) / (2 * math.sqrt(3))], 1
    )


def test_a_noisy_circle_has_one_component_and_one_loop():
    X, _ = circle(300, g=rng())
    r = PersistentHomology().fit(X).result_
    assert r.betti == (1, 1)
    assert r.diagrams[0][-1][1] == math.inf  # the component that never dies


def test_two_disjoint_circles():
    g = rng(1)
    X = torch.cat([circle(200, g=g)[0], circle(200, g=g, centre=(4.0, 0.0))[0]])
    assert PersistentHomology().fit(X).result_.betti == (2, 2)


def test_a_torus_through_landmarks():
    r = PersistentHomology(max_dim=2, n_landmarks=250).fit(flat_torus(4000, g=rng(2))).result_
    assert r.betti == (1, 2, 1)
    assert r.n_landmarks == 250 and 0 < r.covering_radius < 0.5


def test_a_sphere():
    r = PersistentHomology(max_dim=2, n_landmarks=150).fit(sphere(2000, g=rng(3))).result_
    assert r.betti == (1, 0, 1)


def test_the_projective_plane_depends_on_the_field():
    # H*(RP²; Z/2) = (Z/2, Z/2, Z/2) but H*(RP²; Z/3) = (Z/3, 0, 0): the loop is 2-torsion
    X = projective_plane(2000, g=rng(4))
    assert PersistentHomology(max_dim=2, field=2, n_landmarks=200).fit(X).result_.betti == (1, 1, 1)
    assert PersistentHomology(max_dim=2, field=3, n_landmarks=200).fit(X).result_.betti == (1, 0, 0)


def test_gaussian_noise_has_no_loops():
    X = torch.randn(400, 16, generator=rng(5))
    assert PersistentHomology().fit(X).result_.betti == (1, 0)


def test_landmarks_cover_the_cloud_within_their_radius():
    X = torch.randn(3000, 8, generator=rng(6))
    lm = maxmin_landmarks(X, 100, seed=0)
    assert len(set(lm.indices.tolist())) == 100
    nearest = torch.cdist(X, X[lm.indices]).min(1).values
    assert float(nearest.max()) == pytest.approx(lm.covering_radius, rel=1e-6)
    # greedy max-min: landmarks are pairwise at least ε apart (Gonzalez)
    d = torch.cdist(X[lm.indices], X[lm.indices]) + torch.eye(100) * 1e9
    assert float(d.min()) >= lm.covering_radius - 1e-6


def test_the_memory_guard_refuses_with_the_estimate_and_the_options():
    X = torch.randn(200_000, 8, generator=rng())  # no distance is computed: the refusal comes first
    with pytest.raises(
        MemoryBudgetError,
        match=r"200000 points up to dimension 1 needs at least [0-9.,]+ (GiB|TiB) for its distance matrices",
    ) as err:
        PersistentHomology(max_memory=8 << 30).fit(X)
    assert "n_landmarks=" in str(err.value) and "threshold" in str(err.value)
    assert estimate_memory(2000, 1) < estimate_memory(4000, 1) < estimate_memory(4000, 2)


def test_a_circle_in_r64_among_many_points_through_landmarks():
    X, t = circle(20_000, g=rng(7), noise=0.02)
    X = torch.cat([X, 0.02 * torch.randn(20_000, 62, generator=rng(8))], 1)  # noise of norm ≈ 0.16
    ph = PersistentHomology(field=47, circular=True, n_landmarks=200, max_memory=4 << 30).fit(X)
    assert ph.result_.betti == (1, 1)
    assert len(ph.circular_coordinates_) == 1
    assert circular_agreement(ph.circular_coordinates_[0], t) >= 0.99


@pytest.mark.parametrize("eps", [0.1, 0.5])
def test_the_sparse_filtration_is_within_a_factor_one_plus_eps_of_the_full_one(eps):
    # Cavanna, Jahanseir & Sheehy 2015: edges enter no earlier than in the Rips filtration and
    # the two filtrations are (1 + ε)-interleaved, so each significant bar (b, d) of the full
    # diagram has a sparse partner with b ≤ b' ≤ (1 + ε) b and d ≤ d' ≤ (1 + ε) d.
    g = rng(12)
    X = torch.cat([circle(300, g=g)[0], circle(300, g=g, radius=0.5, centre=(3.0, 0.0))[0]])
    full = PersistentHomology().fit(X).result_
    sparse = PersistentHomology(sparse=eps).fit(X).result_
    assert sparse.betti == full.betti == (2, 2)
    assert sparse.sparse == eps and full.sparse is None
    bars = lambda r: sorted((r.diagrams[1][i] for i in r.significant[1]), key=lambda bar: bar[1])  # noqa: E731
    for (b, d), (b2, d2) in zip(bars(full), bars(sparse)):
        assert b - 1e-12 <= b2 <= (1 + eps) * b + 1e-12 and d - 1e-12 <= d2 <= (1 + eps) * d + 1e-12
    # far fewer edges than the n(n−1)/2 of the full filtration, and every filtration value at
    # least the distance (edges enter no earlier than in the Rips filtration) and at most twice it
    lm = maxmin_landmarks(X.double(), len(X))
    points = X.double()[lm.indices]
    rows, cols, weights, _ = sparse_rips_graph(points, lm.insertion_radii, eps)
    assert len(weights) < 0.25 * len(X) * (len(X) - 1) / 2
    distances = (points[rows] - points[cols]).norm(dim=1)
    assert bool((weights >= distances - 1e-12).all()) and bool((weights <= 2 * distances + 1e-12).all())


def test_the_sparse_filtration_through_landmarks_and_its_own_memory_guard():
    X = flat_torus(3000, g=rng(13))
    r = PersistentHomology(max_dim=2, n_landmarks=300, sparse=0.3).fit(X).result_  # 5 s; 400: 11 s
    assert r.betti == (1, 2, 1) and r.n_landmarks == 300
    with pytest.raises(MemoryBudgetError, match=r"needs about .* sparse=\.\.\."):
        PersistentHomology(max_dim=2, n_landmarks=300, sparse=0.3, max_memory=1 << 20).fit(X)


def test_circular_coordinate_of_a_circle_follows_its_angle():
    X, t = circle(400, g=rng(9), noise=0.02)
    ph = PersistentHomology(field=47, circular=True).fit(X)
    assert circular_agreement(ph.circular_coordinates_[0], t) >= 0.99


def test_circular_coordinate_does_not_follow_the_sampling_density():
    # four times denser on one side of the circle than on the other
    u = torch.rand(600, generator=rng(12))
    t = u - 0.3 * torch.sin(2 * math.pi * u) / (2 * math.pi)
    X = torch.stack([torch.cos(2 * math.pi * t), torch.sin(2 * math.pi * t)], 1)
    ph = PersistentHomology(field=47, circular=True).fit(X)
    assert circular_agreement(ph.circular_coordinates_[0], t) >= 0.99


def test_distances_between_diagrams():
    X, _ = circle(200, g=rng(10))
    a = PersistentHomology().fit(X).result_
    b = PersistentHomology().fit(2 * X).result_  # every bar doubles
    assert diagram_distance(a, a, 1) == 0.0
    long_a, long_b = (max(d - s for s, d in r.diagrams[1]) for r in (a, b))
    # the longest bar moves by (long_b − long_a)/2 to the other's diagonal at worst
    assert 0 < diagram_distance(a, b, 1) <= long_b - long_a + 1e-9
    assert diagram_distance(a, b, 1, kind="wasserstein") >= diagram_distance(a, b, 1)


def test_result_round_trips_through_json():
    X, _ = circle(100, g=rng(11))
    r = PersistentHomology().fit(X).result_
    assert TopologyResult.from_json(r.to_json()) == r
    assert np.isinf(r.diagram(0)[-1, 1])


def test_bad_arguments_are_named():
    X = torch.randn(50, 3)
    with pytest.raises(AnalysisError, match=r"`field` \(=4\) must be a prime"):
        PersistentHomology(field=4).fit(X)
    with pytest.raises(AnalysisError, match=r"`circular` \(=True\) needs an odd prime `field` \(=2\)"):
        PersistentHomology(circular=True).fit(X)
    with pytest.raises(
        AnalysisError, match=r"`X` must be a cloud of at least 2 points, shape \[N, D\]; got \(50,\)"
    ):
        PersistentHomology().fit(torch.randn(50))
    with pytest.raises(AnalysisError, match=r"`X` holds NaN"):
        PersistentHomology().fit(torch.full((5, 2), math.nan))
    with pytest.raises(AnalysisError, match=r"`max_dim` \(=7\) must be an integer from 0 to 3"):
        PersistentHomology(max_dim=7).fit(X)
    with pytest.raises(AnalysisError, match=r"`sparse` \(=1.5\) must be a number between 0 and 1"):
        PersistentHomology(sparse=1.5).fit(X)
    with pytest.raises(AnalysisError, match=r"`sparse` \(=0.2\) gives no distance matrix for circular"):
        PersistentHomology(sparse=0.2, circular=True, field=3).fit(X)


def test_repeated_points_give_the_diagrams_of_the_distinct_points():
    # Rips(X) and Rips(distinct X) have the same bars of positive length: a copy joins its point
    # at scale 0. Before, three copies of each point made the noise scale 0 and every H0 bar a feature.
    t = torch.linspace(0, 2 * math.pi, 101)[:-1]
    C = torch.stack([torch.cos(t), torch.sin(t)], 1)
    once = PersistentHomology().fit(C).result_
    ph = PersistentHomology().fit(C.repeat(3, 1))
    r = ph.result_
    assert r.betti == once.betti == (1, 1)
    assert r.n_points == 300 and r.n_distinct == 100
    assert r.noise_scale == once.noise_scale > 0.06
    assert r.diagrams == once.diagrams  # the same distinct points, in the same order
    assert bool((ph.landmarks_ < 100).all())  # first occurrences, indices into X
    with pytest.raises(AnalysisError, match=r"at least 2 distinct points; its 5 rows are all equal"):
        PersistentHomology().fit(torch.ones(5, 2))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"threshold": -1}, r"`threshold` \(=-1\) must be a number > 0 \(inf: no threshold\) or None"),
        ({"threshold": 0.0}, r"`threshold` \(=0.0\) must be a number > 0"),
        ({"threshold": math.nan}, r"`threshold` \(=nan\) must be a number > 0"),
        ({"significance": math.nan}, r"`significance` \(=nan\) must be a finite number > 0"),
        ({"significance": -1.5}, r"`significance` \(=-1.5\) must be a finite number > 0"),
        ({"significance": math.inf}, r"`significance` \(=inf\) must be a finite number > 0"),
        ({"max_memory": math.nan}, r"`max_memory` \(=nan\) must be a number of bytes > 0"),
    ],
)
def test_bad_thresholds_and_significances_are_refused(kwargs, message):
    with pytest.raises(AnalysisError, match=message):
        PersistentHomology(**kwargs).fit(torch.randn(50, 3))


def test_an_infinite_threshold_is_no_threshold():
    X, _ = circle(100, g=rng(14))
    full = PersistentHomology().fit(X).result_
    assert PersistentHomology(threshold=math.inf).fit(X).result_.diagrams == full.diagrams


def test_a_field_above_127_is_refused_at_once():
    # ripser.py keeps coefficients in a signed 8-bit field: with coeff=131 its reduction never ends
    X, _ = circle(60, g=rng(15))
    with pytest.raises(AnalysisError, match=r"`field` \(=131\) must be a prime <= 127: ripser.py stores"):
        PersistentHomology(field=131).fit(X)
    assert PersistentHomology(field=127).fit(X).result_.betti == (1, 1)


def test_the_distance_matrix_has_a_zero_diagonal():
    # torch.cdist leaves ~1e-7 on the diagonal, which ripser.py reads as vertex births: it then
    # copies the whole matrix into a sparse one and drops its enclosing-radius threshold
    from nerve.analysis.topology.homology import _distances

    dist = _distances(torch.randn(500, 16, generator=rng(16), dtype=torch.float64))
    assert bool((dist.diagonal() == 0).all())


def bench_cloud(kind, n):
    """The clouds of benchmarks/bench_ph_memory.py (seed 0), drawn the same way."""
    g = torch.Generator().manual_seed(0)
    if kind == "circle-R2":
        t = 2 * math.pi * torch.rand(n, generator=g, dtype=torch.float64)
        X = torch.stack([torch.cos(t), torch.sin(t)], 1)
        return X + 0.05 * torch.randn(n, 2, generator=g, dtype=torch.float64)
    if kind == "torus-R3":
        u, v = (2 * math.pi * torch.rand(n, generator=g, dtype=torch.float64) for _ in range(2))
        X = torch.stack(
            [(2 + torch.cos(v)) * torch.cos(u), (2 + torch.cos(v)) * torch.sin(u), torch.sin(v)], 1
        )
        return X + 0.02 * torch.randn(n, 3, generator=g, dtype=torch.float64)
    return torch.randn(n, int(kind.split("-R")[1]), generator=g, dtype=torch.float64)


# Peaks (bytes) of ripser.py 0.6.15 on nerve's distance matrix, measured by
# `python benchmarks/bench_ph_memory.py` (2-core x86-64, 23 GiB; each run in a fresh process).
MEASURED_PEAKS = [  # (cloud, n, max_dim, peak)
    ("circle-R2", 1000, 1, 362_049_536),
    ("circle-R2", 2000, 1, 4_661_473_280),
    ("torus-R3", 1000, 1, 241_541_120),
    ("torus-R3", 2000, 1, 1_388_642_304),
    ("gauss-R4", 2000, 1, 353_034_240),
    ("gauss-R4", 4000, 1, 1_476_509_696),
    ("gauss-R16", 2000, 1, 363_257_856),
    ("gauss-R16", 5000, 1, 1_945_108_480),
]
# H2 keeps the earlier worst-case term (24 n³), 3.3–4.6× these peaks: only a bound for now.
MEASURED_PEAKS_H2 = [("torus-R3", 400, 2, 438_108_160), ("gauss-R4", 400, 2, 611_938_304)]


@pytest.mark.parametrize(("kind", "n", "max_dim", "peak"), MEASURED_PEAKS)
def test_the_memory_estimate_bounds_measured_peaks_within_three_times(kind, n, max_dim, peak):
    estimate = estimate_rips_memory(bench_cloud(kind, n), max_dim)
    assert peak <= estimate <= 3 * peak


@pytest.mark.parametrize(("kind", "n", "max_dim", "peak"), MEASURED_PEAKS_H2)
def test_the_memory_estimate_bounds_measured_h2_peaks(kind, n, max_dim, peak):
    assert estimate_rips_memory(bench_cloud(kind, n), max_dim) >= peak
