"""Analyses of trained networks, each an estimator with a typed result.

- :mod:`nerve.analysis.fourier`: the irreps a model of a group task uses (Nanda et al. 2023;
  Chughtai et al. 2023).
- :mod:`nerve.analysis.learning_order`: the Fourier analysis at every checkpoint, and the
  order in which a run learns its irreps.
- :mod:`nerve.analysis.progress`: Nanda et al.'s progress measures and the phases of grokking.
- :mod:`nerve.analysis.topology`: persistent homology with landmarks and a memory guard, and
  circular coordinates.
- :mod:`nerve.analysis.token_circles`: circular features of cyclically ordered tokens (days,
  months) in a language model's activations (Engels et al. 2024).
- :mod:`nerve.analysis.llc`: the local learning coefficient by SGLD, all chains in one batch.
"""

from nerve.analysis._views import ModelView, view
from nerve.analysis.fourier import ClockPizza, FourierAnalysis, FourierResult
from nerve.analysis.learning_order import IrrepTrajectory, LearningOrder, irrep_trajectory
from nerve.analysis.llc import LLCEstimator, LLCResult
from nerve.analysis.progress import ProgressMeasures, ProgressResult
from nerve.analysis.token_circles import TokenCircles, TokenCirclesResult, cyclic_spectrum
from nerve.analysis.topology import MemoryBudgetError, PersistentHomology, TopologyResult

__all__ = [
    "ClockPizza",
    "FourierAnalysis",
    "FourierResult",
    "IrrepTrajectory",
    "LLCEstimator",
    "LLCResult",
    "LearningOrder",
    "MemoryBudgetError",
    "ModelView",
    "PersistentHomology",
    "ProgressMeasures",
    "ProgressResult",
    "TokenCircles",
    "TokenCirclesResult",
    "TopologyResult",
    "cyclic_spectrum",
    "irrep_trajectory",
    "view",
]
