"""The shape of a point cloud: Vietoris–Rips persistent homology with landmarks, a memory guard,
significant features, distances between diagrams, and circular coordinates.

ripser.py (Bauer 2021; Tralie, Saul & Bar-On 2018) computes the diagrams. What nerve adds is
what makes it safe on activation sets: a memory estimate before anything is allocated and a
refusal that names the options, landmarks whose covering radius bounds the error (see
:mod:`nerve.analysis.topology._landmarks`), a stated rule for which bars are features, and circular
coordinates for the circles found (:mod:`nerve.analysis.topology._circular`).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from nerve._estimator import Estimator
from nerve._memory import available_memory, format_bytes
from nerve._results import Result
from nerve.analysis.topology._circular import circular_coordinate
from nerve.analysis.topology._landmarks import maxmin_landmarks
from nerve.analysis.topology._sparse import BLOCK, sparse_rips_graph
from nerve.errors import AnalysisError, MemoryBudgetError

__all__ = [
    "MemoryBudgetError",
    "PersistentHomology",
    "TopologyResult",
    "circular_agreement",
    "diagram_distance",
    "estimate_memory",
    "estimate_rips_memory",
    "estimate_sparse_memory",
    "longest_loop_coordinate",
]


# The sparse filtration's memory model: bytes per edge e, per e·k (k the mean degree: the
# triangles) and per e·k² (tetrahedra). Measured peaks with ripser.py 0.6 stayed below 510 B per
# edge, 5.8 B per e·k for H1 and 0.16 B per e·k² for H2 (noisy circles in R² and R^128, spheres;
# benchmarks/RESULTS.md); H3 (per e·k³) is an unmeasured extrapolation.
SPARSE_BYTES = (512, 6.0, 0.2, 0.02)


def estimate_sparse_memory(n_points: int, n_edges: int, max_dim: int) -> int:
    """Bytes ripser.py adds on a sparse filtration of `n_points` with `n_edges` edges, at worst:
    ``1.25 Σ_k c_k e·deg^k`` over dimensions k ≤ `max_dim` (deg the mean degree, `SPARSE_BYTES`
    the c_k, fitted to measured peaks), plus the blocks of distances the graph is built from
    and 64 MiB.

    >>> estimate_sparse_memory(1000, 20_000, 1) < estimate_memory(1000, 1)
    True
    """
    e = float(n_edges)
    degree = 2 * e / max(n_points, 1)
    need = sum(SPARSE_BYTES[k] * e * degree**k for k in range(min(max_dim, 3) + 1))
    blocks = 8 * 8 * min(float(n_points) ** 2, BLOCK)  # building the graph: 8 float64 blocks of distances
    return int(1.25 * need + blocks) + (64 << 20)


# ripser.py keeps a simplex's coefficient in a signed 8-bit field (``entry_t::coefficient : 8``
# in its ripser.cpp), so coefficients from 128 on wrap to negative numbers, a column never sums to
# zero and the reduction never ends (coeff=131 hangs; 127 works). giotto-ph packs them alike.
MAX_FIELD = 127

# The dense filtration's memory model, refitted to peaks measured with ripser.py 0.6.15 on the
# distance matrix nerve passes (benchmarks/bench_ph_memory.py): bytes per n² (the float64
# distance matrix, ripser.py's int64 index grids and float32 copies of its lower triangle), per
# edge e below the threshold (ripser's neighbour lists, its edge and column lists and the pivot
# table), per K·n (the largest working coboundary: K cocycle edges × up to n cofacets, 12-byte
# heap entries, not all cofacets below the threshold) and per K·e (the reduction matrix, where
# the columns reduced against a long-lived class keep cocycle-sized columns: the noisy circle's
# peak grew 12.9× from 1k to 2k points, faster than K·n). H2 and H3: the earlier worst-case terms,
# 24 n³ and 2 n⁴, not refitted.
DENSE_BYTES = (32, 160, 8, 0.01)
# Points in the probe that measures the largest representative cocycle (see estimate_memory).
PROBE_POINTS = 400
# Without a probe: the largest cocycle as a fraction of the edges, the largest seen (a noisy
# circle in R², whose class must be cut by a fraction of every scale's edges).
COCYCLE_FRACTION = 0.1


def estimate_memory(
    n_points: int, max_dim: int, *, n_edges: int | None = None, cocycle: float | None = None
) -> int:
    """Bytes ripser.py adds, at its peak, computing the Rips diagrams of `n_points` up to `max_dim`
    from nerve's distance matrix: ``1.25 (a n² + b e + c K n + d K e) + 64 MiB`` for H1, with e the
    edges below ripser's threshold (the enclosing radius unless one is given) and K the largest
    representative cocycle, whose coboundary (K edges × n cofacets) is the working column
    ripser's cohomology reduction holds at its peak; (a, b, c, d) = `DENSE_BYTES`. It is a model
    in the edges and the cocycle, not in n^k alone: at the same n a noisy circle needs 13× what
    Gaussian noise does.

    Without `n_edges` every edge counts; without `cocycle`, K = `COCYCLE_FRACTION` · e, the
    worst case measured (a long-lived loop: its cocycle crosses a fraction of the edges at every
    scale). :class:`PersistentHomology` passes both, measured on the data (see
    :func:`estimate_rips_memory`): it is then within 3× above every peak of
    benchmarks/bench_ph_memory.py and below none.

    >>> estimate_memory(100_000, 1) > 80e9     # what ripser.py could need for 10⁵ points
    True
    """
    n = float(n_points)
    e = n * (n - 1) / 2 if n_edges is None else float(n_edges)
    a, b, c, d = DENSE_BYTES
    need = a * n**2
    if max_dim >= 1:
        k = COCYCLE_FRACTION * e if cocycle is None else float(cocycle)
        need += b * e + c * k * n + d * k * e
    if max_dim >= 2:
        need += 24 * n**3
    if max_dim >= 3:
        need += 2 * n**4
    return int(1.25 * need) + (64 << 20)


def _rips_statistics(dist: Tensor, threshold: float | None, seed: int) -> tuple[int, float]:
    """``(e, K)`` for :func:`estimate_memory` from a distance matrix ``[n, n]``: the edges below
    ripser's threshold and the largest representative H1 cocycle, measured by ripser.py on a
    random probe of `PROBE_POINTS` points and scaled by the edges' ratio (a cocycle is a set of
    edges, and a sample n/m times denser has (n/m)² times the edges at each scale)."""
    from ripser import ripser

    n = dist.shape[0]
    if threshold is None or math.isinf(threshold):
        radius = float(dist.max(dim=1).values.min())  # ripser's enclosing radius: past it, a cone
    else:
        radius = float(threshold)
    n_edges = int(((dist <= radius).sum() - n) // 2)
    m = min(n, PROBE_POINTS)
    probe = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:m]
    out = ripser(
        dist[probe][:, probe].numpy(), maxdim=1, thresh=radius, distance_matrix=True, do_cocycles=True
    )
    largest = max((len(c) for c in out["cocycles"][1]), default=0)
    return n_edges, largest * n_edges / max(int(out["num_edges"]), 1)


def estimate_rips_memory(X: Any, max_dim: int = 1, *, threshold: float | None = None, seed: int = 0) -> int:
    """:func:`estimate_memory` for the distinct points of the cloud ``X [N, D]``, with the edges
    and the largest cocycle measured on it (its distance matrix is computed: 8 N² bytes)."""
    points = _distinct(torch.as_tensor(np.asarray(X) if not isinstance(X, Tensor) else X).double())[0]
    dist = _distances(points)
    n_edges, cocycle = _rips_statistics(dist, threshold, seed)
    return estimate_memory(len(points), max_dim, n_edges=n_edges, cocycle=cocycle)


def _distances(points: Tensor) -> Tensor:
    """``[n, n]`` Euclidean distances with an exact zero diagonal: torch.cdist's matrix-product
    form leaves ~1e-7 there, and ripser.py reads a nonzero diagonal as vertex births, converts the
    whole matrix to a sparse one (n² entries) and drops its enclosing-radius threshold."""
    dist = torch.cdist(points, points)
    return dist.fill_diagonal_(0.0)


def _distinct(X: Tensor) -> tuple[Tensor, Tensor]:
    """``(points [U, D], first [U])``: the distinct rows of X in order of first occurrence, and
    the index in X of each."""
    _, inverse = torch.unique(X, dim=0, return_inverse=True)
    first = torch.full((int(inverse.max()) + 1,), X.shape[0], dtype=torch.long)
    first = first.scatter_reduce(0, inverse, torch.arange(X.shape[0]), reduce="amin").sort().values
    return X[first], first


@dataclass(frozen=True)
class TopologyResult(Result):
    """Persistence diagrams and the features read off them.

    **Attributes:**

    - `diagrams`: per dimension, the bars ``(birth, death)``; death ``inf`` for bars that never
      die (JSON: null).
    - `significant`: per dimension, the indices of the bars whose persistence exceeds
      ``significance × noise_scale``; `betti` counts them.
    - `noise_scale`: ``max(ε, s)``, with ε the landmarks' covering radius and s the largest
      distance from a point used to its second-nearest neighbour among them (distinct points:
      a repeated row is not its own neighbour): features no
      larger than the gaps in the sample cannot be told from them. The second neighbour, not
      the first, because on a sampled curve every gap between consecutive points is at most
      the larger of the distances from a point to its two neighbours, while the first
      neighbour alone misses the gaps between close pairs (the near-duplicates of a
      flattened circle). By stability every bar of the landmarks' diagram
      is within 2ε of a bar of the full cloud's, so a feature longer than 4ε is certainly there.
    - `total_persistence`: per dimension, Σ (death − birth) over the finite bars.
    - `memory_estimate`: bytes, from :func:`estimate_memory` with the edges and the largest
      cocycle measured on the points (or, for a sparse filtration, from its edges).
    - `sparse`: the ε of the sparse filtration, whose bars are within a factor 1 + ε of the
      full filtration's; None for the full one.
    - `n_distinct`: the distinct points among the `n_points`; repeated rows are computed once
      (they change no bar of positive length). None in results saved before it was recorded.
    """

    FORMAT = "nerve-topology/1"

    field: int
    max_dim: int
    n_points: int
    n_landmarks: int
    covering_radius: float
    noise_scale: float
    significance: float
    threshold: float | None
    diagrams: tuple[tuple[tuple[float, float], ...], ...]
    significant: tuple[tuple[int, ...], ...]
    betti: tuple[int, ...]
    total_persistence: tuple[float, ...]
    memory_estimate: int
    engine: str
    sparse: float | None = None
    n_distinct: int | None = None
    rule: str = "a bar is a feature when death − birth > significance × noise_scale"

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "the data") -> TopologyResult:
        """As :meth:`Result.from_dict`, but a bar's death written as ``null`` is a bar that never
        dies (inf), not NaN."""

        def bar(b: Any) -> Any:
            return [b[0], math.inf] if isinstance(b, list) and len(b) == 2 and b[1] is None else b

        if isinstance(data, dict) and isinstance(data.get("diagrams"), list):
            dgms = data["diagrams"]
            data = {**data, "diagrams": [[bar(b) for b in d] if isinstance(d, list) else d for d in dgms]}
        return super().from_dict(data, source=source)

    def diagram(self, dim: int) -> np.ndarray:
        """``[k, 2]``: the bars of dimension `dim`."""
        return np.array(self.diagrams[dim], dtype=np.float64).reshape(-1, 2)


class PersistentHomology(Estimator):
    """Vietoris–Rips persistent homology of a point cloud over Z/p, with a memory guard.

    **Arguments:**

    - `max_dim`: the highest homological dimension (default 1: components and loops).
    - `field`: the prime p of the coefficient field Z/p (default 2), at most 127
      (`MAX_FIELD`: ripser.py's coefficients are signed 8-bit numbers).
    - `n_landmarks`: compute on this many greedy max–min landmarks instead of every point
      (the error is bounded by the covering radius, reported); None for every point.
    - `threshold`: stop the filtration at this scale (> 0; None or inf: at ripser's enclosing
      radius, past which every complex is a cone and nothing changes). It saves memory but hides what is born
      after it and makes what dies after it look infinite: a circle of diameter above the
      threshold is lost.
    - `sparse`: compute the sparse Rips filtration of Cavanna, Jahanseir & Sheehy (2015) with
      this ε in (0, 1) instead of the full one: its diagram approximates the full one within a
      factor 1 + ε in birth and death (a multiplicative interleaving), from far fewer edges. The
      points are put in greedy order first (all of them, or the landmarks). Not with `circular`.
    - `significance`: a bar is a feature when longer than this (finite, > 0) multiple of the noise scale
      (default 1.5: on noisy circles, tori, spheres and projective planes, with and without
      landmarks, the bars of sampling noise stayed below 0.8 and the true features above 1.6
      noise scales; tests/analysis/test_topology.py).
    - `max_memory`: the budget in bytes; default: the memory available now. A computation
      estimated above it is refused with :class:`MemoryBudgetError` before it starts.
    - `circular`: also compute a circular coordinate for each significant H1 class (needs an
      odd prime `field`, e.g. 47, to lift the cocycle to the integers).
    - `engine`: ``"ripser"``, ``"giotto-ph"`` (multithreaded, AGPL, optional) or ``"auto"``
      (giotto-ph where installed and no cocycles are needed).
    - `seed`: the first landmark.

    ``fit(X)`` with ``X [N, D]`` returns ``self`` with ``result_`` (a :class:`TopologyResult`),
    ``landmarks_`` (indices into X) and, with `circular`, ``circular_coordinates_``: one
    ``[N]`` tensor in [0, 1) per significant H1 bar, in the order of ``result_.significant[1]``.

    >>> t = torch.linspace(0, 2 * torch.pi, 101)[:-1]
    >>> circle = torch.stack([torch.cos(t), torch.sin(t)], dim=1)
    >>> PersistentHomology().fit(circle).result_.betti
    (1, 1)
    """

    def __init__(
        self,
        *,
        max_dim: int = 1,
        field: int = 2,
        n_landmarks: int | None = None,
        threshold: float | None = None,
        sparse: float | None = None,
        significance: float = 1.5,
        max_memory: int | None = None,
        circular: bool = False,
        engine: str = "auto",
        seed: int = 0,
    ) -> None:
        self.max_dim = max_dim
        self.field = field
        self.n_landmarks = n_landmarks
        self.threshold = threshold
        self.sparse = sparse
        self.significance = significance
        self.max_memory = max_memory
        self.circular = circular
        self.engine = engine
        self.seed = seed

    def _check_params(self) -> None:
        if isinstance(self.max_dim, bool) or not isinstance(self.max_dim, int) or not 0 <= self.max_dim <= 3:
            raise AnalysisError(f"`max_dim` (={self.max_dim!r}) must be an integer from 0 to 3.")
        p = self.field
        if isinstance(p, bool) or not isinstance(p, int) or p < 2 or any(p % q == 0 for q in range(2, p)):
            raise AnalysisError(f"`field` (={p!r}) must be a prime: homology is over Z/p.")
        if p > MAX_FIELD:
            raise AnalysisError(
                f"`field` (={p}) must be a prime <= {MAX_FIELD}: ripser.py stores coefficients in a "
                "signed 8-bit field, and above 127 its reduction never ends."
            )
        if self.circular and p == 2:
            raise AnalysisError(
                "`circular` (=True) needs an odd prime `field` (=2) to lift cocycles to the integers; "
                "use field=47."
            )
        if self.n_landmarks is not None and (not isinstance(self.n_landmarks, int) or self.n_landmarks < 2):
            raise AnalysisError(f"`n_landmarks` (={self.n_landmarks!r}) must be an integer >= 2, or None.")
        if self.sparse is not None:
            number = isinstance(self.sparse, (int, float)) and not isinstance(self.sparse, bool)
            if not number or not 0 < self.sparse < 1:
                raise AnalysisError(f"`sparse` (={self.sparse!r}) must be a number between 0 and 1, or None.")
            if self.circular:
                raise AnalysisError(
                    f"`sparse` (={self.sparse!r}) gives no distance matrix for circular coordinates; with "
                    "`circular`, use n_landmarks instead."
                )
        t = self.threshold
        if t is not None and (not _is_number(t) or math.isnan(t) or t <= 0):
            raise AnalysisError(f"`threshold` (={t!r}) must be a number > 0 (inf: no threshold) or None.")
        s = self.significance
        if not _is_number(s) or not math.isfinite(s) or s <= 0:
            raise AnalysisError(f"`significance` (={s!r}) must be a finite number > 0.")
        b = self.max_memory
        if b is not None and (not _is_number(b) or not math.isfinite(b) or b <= 0):
            raise AnalysisError(f"`max_memory` (={b!r}) must be a number of bytes > 0, or None.")
        if self.engine not in ("auto", "ripser", "giotto-ph"):
            raise AnalysisError(f"`engine` (={self.engine!r}) must be 'auto', 'ripser' or 'giotto-ph'.")
        if self.engine == "giotto-ph" and self.circular:
            raise AnalysisError(
                "`engine` (='giotto-ph') gives no cocycles; use engine='ripser' with `circular`."
            )

    def fit(self, X: Any) -> PersistentHomology:
        """Compute the diagrams of the cloud ``X [N, D]`` (array or tensor).

        Repeated rows are computed once: a copy of a point joins it at scale 0, so the Rips
        filtrations of the cloud and of its distinct points have the same diagrams (but for bars
        of length 0), and the noise scale, a distance to a second-nearest neighbour, must not see
        the copy as a neighbour at distance 0. ``result_.n_distinct`` counts the distinct points.
        """
        self._check_params()
        X = torch.as_tensor(np.asarray(X) if not isinstance(X, Tensor) else X)
        if X.ndim != 2 or X.shape[0] < 2:
            raise AnalysisError(
                f"`X` must be a cloud of at least 2 points, shape [N, D]; got {tuple(X.shape)}."
            )
        if not torch.isfinite(X).all():
            raise AnalysisError("`X` holds NaN or infinite coordinates.")
        X = X.double() if not X.is_floating_point() else X
        N = X.shape[0]
        distinct, first = _distinct(X)
        U = len(first)
        if U < 2:
            raise AnalysisError(f"`X` must hold at least 2 distinct points; its {N} rows are all equal.")
        m = U if self.n_landmarks is None else min(self.n_landmarks, U)
        budget = self.max_memory if self.max_memory is not None else available_memory()
        if self.sparse is None:  # the distance matrices alone, before they are allocated
            self._guard(estimate_memory(m, 0), budget, m, floor=True)
        if m < U or self.sparse is not None:  # the sparse filtration needs the greedy order
            lm = maxmin_landmarks(distinct, m, seed=self.seed)
            index, radii = lm.indices, lm.insertion_radii
            eps = lm.covering_radius if m < U else 0.0
        else:
            index, eps = torch.arange(U), 0.0
        points = distinct[index].double()
        index = first[index]  # into X
        if self.sparse is None:
            dist = _distances(points)
            stats = (0, 0.0) if self.max_dim == 0 else _rips_statistics(dist, self.threshold, self.seed)
            n_edges, cocycle = stats
            need = self._guard(estimate_memory(m, self.max_dim, n_edges=n_edges, cocycle=cocycle), budget, m)
            k = min(2, m - 1)  # the second-nearest neighbour (see TopologyResult.noise_scale)
            spacing = float(dist.fill_diagonal_(math.inf).topk(k, dim=1, largest=False).values[:, -1].max())
            dist.fill_diagonal_(0.0)
            diagrams, cocycles, engine = self._diagrams(dist.numpy())
        else:
            from scipy.sparse import coo_matrix

            rows, cols, weights, spacing = sparse_rips_graph(points, radii, float(self.sparse))
            need = self._guard(estimate_sparse_memory(m, len(weights), self.max_dim), budget, m)
            graph = coo_matrix((weights.numpy(), (rows.numpy(), cols.numpy())), shape=(m, m)).tocsr()
            diagrams, cocycles, engine = self._diagrams(graph)
        noise = max(eps, spacing)
        significant = tuple(
            tuple(int(i) for i in np.flatnonzero(dgm[:, 1] - dgm[:, 0] > self.significance * noise))
            for dgm in diagrams
        )
        self.landmarks_ = index
        self.result_ = TopologyResult(
            field=self.field,
            max_dim=self.max_dim,
            n_points=N,
            n_landmarks=len(index),
            covering_radius=eps,
            noise_scale=noise,
            significance=self.significance,
            threshold=self.threshold,
            diagrams=tuple(tuple((float(b), float(d)) for b, d in dgm) for dgm in diagrams),
            significant=significant,
            betti=tuple(len(s) for s in significant),
            total_persistence=tuple(float((d[:, 1] - d[:, 0])[np.isfinite(d[:, 1])].sum()) for d in diagrams),
            memory_estimate=need,
            engine=engine,
            sparse=None if self.sparse is None else float(self.sparse),
            n_distinct=U,
        )
        if self.circular:
            self.circular_coordinates_ = [
                self._coordinate(X, index, dist, diagrams[1][i], cocycles[i]) for i in significant[1]
            ] if self.max_dim >= 1 else []  # fmt: skip
        return self

    def _guard(self, need: int, budget: int, m: int, *, floor: bool = False) -> int:
        """`need`, or MemoryBudgetError above `budget`; `floor`: `need` is the distance matrices
        alone, checked before they are allocated and the full estimate is measured on them."""
        if need > budget:
            amount = (
                f"at least {format_bytes(need)} for its distance matrices"
                if floor
                else f"about {format_bytes(need)}"
            )
            raise MemoryBudgetError(
                f"persistent homology of {m} points up to dimension {self.max_dim} needs {amount}"
                f", over the budget of {format_bytes(budget)}. Options: "
                f"n_landmarks=... (e.g. {_affordable(budget, self.max_dim)}; the covering radius bounds the "
                "error), sparse=... (a factor 1 + ε on every bar), a lower max_dim, or a threshold (which "
                "hides features larger than it)."
            )
        return need

    def _diagrams(self, dist: Any) -> tuple[list[np.ndarray], list, str]:
        thresh = math.inf if self.threshold is None else float(self.threshold)
        use_gph = self.engine == "giotto-ph" or (self.engine == "auto" and not self.circular and _has_gph())
        if use_gph:
            from gph import ripser_parallel

            out = ripser_parallel(
                dist, metric="precomputed", maxdim=self.max_dim, coeff=self.field, thresh=thresh, n_threads=-1
            )
            return [np.asarray(d, dtype=np.float64).reshape(-1, 2) for d in out["dgms"]], [], "giotto-ph"
        from ripser import ripser

        out = ripser(
            dist, maxdim=self.max_dim, coeff=self.field, thresh=thresh, distance_matrix=True,
            do_cocycles=self.circular,
        )  # fmt: skip
        cocycles = out["cocycles"][1] if self.circular and self.max_dim >= 1 else []
        return [np.asarray(d, dtype=np.float64).reshape(-1, 2) for d in out["dgms"]], cocycles, "ripser"

    def _coordinate(self, X: Tensor, index: Tensor, dist: Tensor, bar: np.ndarray, cocycle) -> Tensor:
        birth, death = float(bar[0]), float(bar[1])
        if not math.isfinite(death):
            death = float(dist.max()) * 1.01
        # halfway through the bar, where the class is alive, but past 2ε so that the balls of
        # radius scale/2 around the landmarks cover the cloud
        eps = self.result_.covering_radius
        scale = max(birth + 0.5 * (death - birth), min(2.05 * eps, birth + 0.95 * (death - birth)))
        return circular_coordinate(X.double(), index, dist, cocycle, prime=self.field, scale=scale)


def _affordable(budget: int, max_dim: int) -> int:
    n = 2
    while estimate_memory(2 * n, max_dim) <= budget and n < 1 << 20:
        n *= 2
    return n


def _is_number(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _has_gph() -> bool:
    try:
        import gph  # noqa: F401
    except ImportError:
        return False
    return True


def longest_loop_coordinate(ph: PersistentHomology) -> Tensor | None:
    """The circular coordinate of the longest significant H1 bar of a fitted ``circular``
    :class:`PersistentHomology`, or None when it found no significant loop."""
    if not ph.circular_coordinates_:
        return None
    r = ph.result_
    lengths = [d - b for b, d in r.diagrams[1]]
    j = max(range(len(r.significant[1])), key=lambda j: lengths[r.significant[1][j]])
    return ph.circular_coordinates_[j]


def circular_agreement(theta: Tensor, phi: Tensor) -> float:
    """How well two circle-valued maps agree up to rotation and reflection, in [0, 1]:
    ``max_± |mean exp(2πi(θ ∓ φ))|`` for θ, φ in turns. 1 exactly when ``θ = ±φ + c``.

    >>> t = torch.rand(100, generator=torch.Generator().manual_seed(0))
    >>> round(circular_agreement(t, (0.3 - t) % 1), 9), circular_agreement(t, torch.rand(100)) < 0.3
    (1.0, True)
    """
    theta, phi = theta.double(), phi.double()
    return max(float(torch.exp(2j * torch.pi * (theta - s * phi)).mean().abs()) for s in (1, -1))


def diagram_distance(a: TopologyResult, b: TopologyResult, dim: int, *, kind: str = "bottleneck") -> float:
    """The bottleneck or (order-2) Wasserstein distance between the finite bars of dimension
    `dim` of two results (persim). Bars that never die are left out of both: their number is
    compared by the Betti numbers instead.
    """
    import persim

    if kind not in ("bottleneck", "wasserstein"):
        raise AnalysisError(f"`kind` (={kind!r}) must be 'bottleneck' or 'wasserstein'.")
    for name, r in (("a", a), ("b", b)):
        if dim > r.max_dim:
            raise AnalysisError(f"`dim` (={dim}) exceeds `{name}.max_dim` (={r.max_dim}).")
    da, db = (r.diagram(dim) for r in (a, b))
    da, db = (d[np.isfinite(d[:, 1])] for d in (da, db))
    if len(da) == 0 and len(db) == 0:
        return 0.0
    return float(persim.bottleneck(da, db) if kind == "bottleneck" else persim.wasserstein(da, db))
