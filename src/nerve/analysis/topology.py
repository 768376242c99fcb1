"""The shape of a point cloud: Vietoris–Rips persistent homology with landmarks, a memory guard,
significant features, distances between diagrams, and circular coordinates.

ripser.py (Bauer 2021; Tralie, Saul & Bar-On 2018) computes the diagrams. What nerve adds is
what makes it safe on activation sets: a memory estimate before anything is allocated and a
refusal that names the options, landmarks whose covering radius bounds the error (see
:mod:`nerve.analysis._landmarks`), a stated rule for which bars are features, and circular
coordinates for the circles found (:mod:`nerve.analysis._circular`).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from nerve.analysis._circular import circular_coordinate
from nerve.analysis._landmarks import maxmin_landmarks
from nerve.analysis._sparse import BLOCK, sparse_rips_graph
from nerve.errors import AnalysisError

__all__ = [
    "MemoryBudgetError",
    "PersistentHomology",
    "TopologyResult",
    "circular_agreement",
    "diagram_distance",
    "estimate_memory",
    "estimate_sparse_memory",
    "longest_loop_coordinate",
]


# The sparse filtration's memory model: bytes per edge e, per e·k (k the mean degree: the
# triangles) and per e·k² (tetrahedra). Measured peaks with ripser.py 0.6 stayed below 510 B per
# edge, 5.8 B per e·k for H1 and 0.16 B per e·k² for H2 (noisy circles in R² and R^128, spheres;
# benchmarks/RESULTS.md); H3 (per e·k³) is an unmeasured extrapolation.
SPARSE_BYTES = (512, 6.0, 0.2, 0.02)


class MemoryBudgetError(AnalysisError, MemoryError):
    """A persistence computation whose estimated memory exceeds the budget, refused before it runs."""


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


def estimate_memory(n_points: int, max_dim: int) -> int:
    """Bytes a Rips computation on `n_points` points up to `max_dim` adds at its peak, at worst.

    A fit to peaks measured with ripser.py 0.6 (no threshold), on the clouds that cost it most:
    the float64 distance matrix and ripser's copy (10 n² bytes); for H1, 0.75 n³ (measured
    0.58–0.69 n³ on noisy circles of 1,000 and 2,000 points, where a loop that lives long
    keeps many columns in the reduction; Gaussian noise needs ten times less); for H2, 24 n³
    more (measured up to 19 n³ on a sphere); for H3, 2 n⁴ more (measured up to 1.8 n⁴); then
    25% headroom and 64 MiB of fixed buffers. It errs high on easy clouds:
    benchmarks/bench_topology.py prints it beside the measured peak.

    >>> estimate_memory(100_000, 1) > 80e9     # what ripser.py could need for 10⁵ points
    True
    """
    n = float(n_points)
    need = 10 * n**2
    if max_dim >= 1:
        need += 0.75 * n**3
    if max_dim >= 2:
        need += 24 * n**3
    if max_dim >= 3:
        need += 2 * n**4
    return int(1.25 * need) + (64 << 20)


def _available_memory() -> int:
    """MemAvailable from /proc/meminfo, or 8 GiB where that cannot be read."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 8 << 30


@dataclass(frozen=True)
class TopologyResult:
    """Persistence diagrams and the features read off them.

    **Attributes:**

    - `diagrams`: per dimension, the bars ``(birth, death)``; death ``inf`` for bars that never
      die (JSON: null).
    - `significant`: per dimension, the indices of the bars whose persistence exceeds
      ``significance × noise_scale``; `betti` counts them.
    - `noise_scale`: ``max(ε, s)``, with ε the landmarks' covering radius and s the largest
      distance from a point used to its second-nearest neighbour among them: features no
      larger than the gaps in the sample cannot be told from them. The second neighbour, not
      the first, because on a sampled curve every gap between consecutive points is at most
      the larger of the distances from a point to its two neighbours, while the first
      neighbour alone misses the gaps between close pairs (the near-duplicates of a
      flattened circle). By stability every bar of the landmarks' diagram
      is within 2ε of a bar of the full cloud's, so a feature longer than 4ε is certainly there.
    - `total_persistence`: per dimension, Σ (death − birth) over the finite bars.
    - `memory_estimate`: bytes, from :func:`estimate_memory` (or, for a sparse filtration,
      from its edges).
    - `sparse`: the ε of the sparse filtration, whose bars are within a factor 1 + ε of the
      full filtration's; None for the full one.
    """

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
    rule: str = field(default="a bar is a feature when death − birth > significance × noise_scale")

    def to_json(self) -> str:
        data = asdict(self)
        data["diagrams"] = [[[b, None if math.isinf(d) else d] for b, d in dgm] for dgm in self.diagrams]
        return json.dumps(data, indent=1)

    @classmethod
    def from_json(cls, text: str) -> TopologyResult:
        data = json.loads(text)
        data["diagrams"] = tuple(
            tuple((b, math.inf if d is None else d) for b, d in dgm) for dgm in data["diagrams"]
        )
        data["significant"] = tuple(tuple(x) for x in data["significant"])
        data["betti"], data["total_persistence"] = tuple(data["betti"]), tuple(data["total_persistence"])
        return cls(**data)

    def diagram(self, dim: int) -> np.ndarray:
        """``[k, 2]``: the bars of dimension `dim`."""
        return np.array(self.diagrams[dim], dtype=np.float64).reshape(-1, 2)


class PersistentHomology:
    """Vietoris–Rips persistent homology of a point cloud over Z/p, with a memory guard.

    **Arguments:**

    - `max_dim`: the highest homological dimension (default 1: components and loops).
    - `field`: the prime p of the coefficient field Z/p (default 2).
    - `n_landmarks`: compute on this many greedy max–min landmarks instead of every point
      (the error is bounded by the covering radius, reported); None for every point.
    - `threshold`: stop the filtration at this scale. It saves memory but hides what is born
      after it and makes what dies after it look infinite: a circle of diameter above the
      threshold is lost.
    - `sparse`: compute the sparse Rips filtration of Cavanna, Jahanseir & Sheehy (2015) with
      this ε in (0, 1) instead of the full one: its diagram approximates the full one within a
      factor 1 + ε in birth and death (a multiplicative interleaving), from far fewer edges. The
      points are put in greedy order first (all of them, or the landmarks). Not with `circular`.
    - `significance`: a bar is a feature when longer than this multiple of the noise scale
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
        if self.engine not in ("auto", "ripser", "giotto-ph"):
            raise AnalysisError(f"`engine` (={self.engine!r}) must be 'auto', 'ripser' or 'giotto-ph'.")
        if self.engine == "giotto-ph" and self.circular:
            raise AnalysisError(
                "`engine` (='giotto-ph') gives no cocycles; use engine='ripser' with `circular`."
            )

    def fit(self, X: Any) -> PersistentHomology:
        """Compute the diagrams of the cloud ``X [N, D]`` (array or tensor)."""
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
        m = N if self.n_landmarks is None else min(self.n_landmarks, N)
        budget = self.max_memory if self.max_memory is not None else _available_memory()
        if self.sparse is None:
            need = self._guard(estimate_memory(m, self.max_dim), budget, m)
        if m < N or self.sparse is not None:  # the sparse filtration needs the greedy order
            lm = maxmin_landmarks(X, m, seed=self.seed)
            index, radii = lm.indices, lm.insertion_radii
            eps = lm.covering_radius if m < N else 0.0
        else:
            index, eps = torch.arange(N), 0.0
        points = X[index].double()
        if self.sparse is None:
            dist = torch.cdist(points, points)
            nn = dist + torch.diag(torch.full((len(index),), math.inf, dtype=dist.dtype))
            k = min(2, len(index) - 1)  # the second-nearest neighbour (see TopologyResult.noise_scale)
            spacing = float(nn.topk(k, dim=1, largest=False).values[:, -1].max())
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
        )
        if self.circular:
            self.circular_coordinates_ = [
                self._coordinate(X, index, dist, diagrams[1][i], cocycles[i]) for i in significant[1]
            ] if self.max_dim >= 1 else []  # fmt: skip
        return self

    def _guard(self, need: int, budget: int, m: int) -> int:
        if need > budget:
            raise MemoryBudgetError(
                f"persistent homology of {m} points up to dimension {self.max_dim} needs about "
                f"{_size(need)}, over the budget of {_size(budget)}. Options: "
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


def _size(n_bytes: int) -> str:
    gib = n_bytes / 2**30
    return f"{gib / 1024:,.0f} TiB" if gib >= 1024 else f"{gib:.1f} GiB"


def _affordable(budget: int, max_dim: int) -> int:
    n = 2
    while estimate_memory(2 * n, max_dim) <= budget and n < 1 << 20:
        n *= 2
    return n


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
