"""The circles in a model's embeddings of a cyclic group task, one per key frequency.

Nanda et al. 2023 read the embedding of a+b mod p as cos and sin of ω_k a for a few key
frequencies k: projected onto the plane of frequency k, the p embeddings lie on a circle
in the order k·a mod p. :class:`FrequencyCircles` checks this with topology rather than
assuming it: the persistent homology of each projection, its significant circles, and the
circular coordinate of each, compared with k·a mod p.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from nerve._estimator import Estimator
from nerve._results import Result
from nerve.analysis.fourier._views import ModelView, view
from nerve.analysis.fourier.irreps import FourierAnalysis
from nerve.analysis.registry import Analysis, Drawing, register
from nerve.analysis.topology.homology import TopologyResult
from nerve.analysis.topology.planes import frequency_plane, plane_loop
from nerve.errors import AnalysisError
from nerve.tasks import BinaryOperationTask

__all__ = ["Circle", "CirclesResult", "FrequencyCircles"]


@dataclass(frozen=True)
class Circle:
    """The shape of one embedding in one frequency plane.

    - `embedding`, `frequency`: which matrix (``W_E``, ``W_a``, ...) and which k.
    - `betti`: significant (b0, b1) of the projected points.
    - `persistence`: the H1 bars' lengths, longest first; `noise_scale` as in
      :class:`~nerve.analysis.TopologyResult`.
    - `agreement`: for the longest significant circle, the agreement of its circular
      coordinate with ``k·a mod p`` up to rotation and reflection (``circular_agreement``);
      None when there is no significant circle.
    - `points`: ``[p, 2]``, each token's embedding in the plane (what the report draws);
      `coordinate`: ``[p]``, the circular coordinate of the longest significant circle (None
      without one); `topology`: the persistent homology of the points. Results written before
      these were stored have them empty.
    """

    embedding: str
    frequency: int
    betti: tuple[int, int]
    persistence: tuple[float, ...]
    noise_scale: float
    agreement: float | None
    points: tuple[tuple[float, float], ...] = ()
    coordinate: tuple[float, ...] | None = None
    topology: TopologyResult | None = None


@dataclass(frozen=True)
class CirclesResult(Result):
    """One :class:`Circle` per embedding and key frequency."""

    FORMAT = "nerve-circles/1"
    FORMERLY = ("nerve-shape/1",)

    task: str
    circles: tuple[Circle, ...]


class FrequencyCircles(Estimator):
    """Persistent homology and circular coordinates of the embeddings in each key frequency's plane.

    **Arguments:**

    - `frequencies`: the k to look at (default: the key frequencies of ``FourierAnalysis``).
    - `field`: the prime field of the cohomology (odd, for circular coordinates).
    - `significance`: as in :class:`~nerve.analysis.PersistentHomology`.

    ``fit(model, task)`` returns ``self`` with ``result_`` (a :class:`CirclesResult`), and the
    projected points ``planes_``, their persistence ``topology_`` (each a
    :class:`~nerve.analysis.TopologyResult`) and circular coordinates ``coordinates_`` (``[p]``
    in turns, None without a significant circle), keyed like the circles by ``(embedding, k)``.
    """

    def __init__(
        self, *, frequencies: Sequence[int] | None = None, field: int = 47, significance: float = 1.5
    ) -> None:
        self.frequencies = frequencies
        self.field = field
        self.significance = significance

    def fit(self, model: nn.Module | ModelView, task: BinaryOperationTask) -> FrequencyCircles:
        G = task.group
        if G is None or (G.family or ("",))[0] != "cyclic":
            raise AnalysisError(
                f"`task` ({task.name!r}) is not a cyclic group task: frequency planes are those of C_p."
            )
        p = G.order
        if self.frequencies is None:
            result = FourierAnalysis().fit(model, task).result_
            frequencies = [int(label.removeprefix("k=")) for label in result.key_labels]
        else:
            frequencies = [int(k) for k in self.frequencies]
            bad = [k for k in frequencies if not 0 < k <= p // 2]
            if bad:
                raise AnalysisError(f"`frequencies` ({bad}) must lie in 1..{p // 2} for C{p}.")
        v = model if isinstance(model, ModelView) else view(model, n_vocab=task.n_vocab)
        phase = torch.arange(p, dtype=torch.float64)
        circles, self.planes_, self.coordinates_, self.topology_ = [], {}, {}, {}
        for name, W in v.embeddings.items():
            for k in frequencies:
                points = frequency_plane(W, k)
                loop = plane_loop(
                    points, (k * phase / p) % 1, field=self.field, significance=self.significance
                )
                r = loop.topology
                theta = loop.coordinate
                circles.append(
                    Circle(
                        name, k, (r.betti[0], r.betti[1]), loop.persistence, r.noise_scale, loop.agreement,
                        points=tuple((float(x), float(y)) for x, y in points.tolist()),
                        coordinate=None if theta is None else tuple(float(t) for t in theta.tolist()),
                        topology=r,
                    )
                )  # fmt: skip
                self.planes_[(name, k)] = points
                self.topology_[(name, k)] = r
                self.coordinates_[(name, k)] = theta
        self.result_ = CirclesResult(task.name, tuple(circles))
        return self


def _not_cyclic(run: Any) -> str | None:
    from nerve.analysis.fourier._pairs import not_a_group_task

    if run.config.model.kind == "gpt2":
        return not_a_group_task(run)
    G = getattr(run.task, "group", None)
    if G is None or (G.family or ("",))[0] != "cyclic":
        return f"it trains {run.task.name}, not a cyclic group task: frequency planes are those of C_p"
    return None


def _fit(run: Any, fitted: Any, progress: Any) -> CirclesResult:
    keys = [int(label.removeprefix("k=")) for label in fitted["fourier"].key_labels]
    return FrequencyCircles(frequencies=keys).fit(run.last_model, run.task).result_


def _rows(result: CirclesResult, drawing: Drawing) -> list[tuple[str, str]]:
    rows = []
    for c in result.circles:
        agreement = (
            "no significant circle" if c.agreement is None else f"coordinate vs k·a: {c.agreement:.3f}"
        )
        rows.append((f"{c.embedding} in the plane of k={c.frequency}", f"Betti {c.betti}, {agreement}"))
    return rows


def _figures(result: CirclesResult, drawing: Drawing) -> list[tuple[str, Any]]:
    from nerve.analysis.fourier.figures import circles_figure
    from nerve.analysis.topology.figures import barcode_figure, diagrams_figure

    topology = {(c.embedding, c.frequency): c.topology for c in result.circles if c.topology is not None}
    if not topology:
        return []
    (name, k), first = next(iter(topology.items()))
    return [
        ("circles", circles_figure(result)),
        ("diagrams", diagrams_figure(topology)),
        ("barcode", barcode_figure(first, title=f"Barcode of {name} in the plane of k={k}")),
    ]


CIRCLES = register(Analysis(
    name="circles",
    title="The circle of each key frequency: persistent homology and circular coordinates",
    result=CirclesResult,
    fit=_fit,
    applies=_not_cyclic,
    needs=("fourier",),
    figures=_figures,
    rows=_rows,
    order=30,
))  # fmt: skip
