"""The shape of activations: persistent homology with landmarks, sparse Rips and a memory guard,
circular coordinates, loops in frequency planes, and the circles of cyclically ordered tokens.

- :mod:`~nerve.analysis.topology.homology`: :class:`PersistentHomology` and its memory estimates.
- :mod:`~nerve.analysis.topology.planes`: points in a plane of frequency k and the loop they make.
- :mod:`~nerve.analysis.topology.token_circles`: circular features of cyclically ordered tokens
  (days, months) in a language model's activations (Engels et al. 2024).
"""

from nerve.analysis.topology.homology import (
    PersistentHomology,
    TopologyResult,
    circular_agreement,
    diagram_distance,
    estimate_memory,
    estimate_rips_memory,
    estimate_sparse_memory,
    longest_loop_coordinate,
)
from nerve.analysis.topology.planes import PlaneLoop, frequency_basis, frequency_plane, plane_loop
from nerve.analysis.topology.token_circles import (
    TokenCircle,
    TokenCircles,
    TokenCirclesResult,
    cyclic_spectrum,
)

__all__ = [
    "PersistentHomology",
    "PlaneLoop",
    "TokenCircle",
    "TokenCircles",
    "TokenCirclesResult",
    "TopologyResult",
    "circular_agreement",
    "cyclic_spectrum",
    "diagram_distance",
    "estimate_memory",
    "estimate_rips_memory",
    "estimate_sparse_memory",
    "frequency_basis",
    "frequency_plane",
    "longest_loop_coordinate",
    "plane_loop",
]
