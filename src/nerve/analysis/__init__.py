"""Analyses of trained networks, one subpackage per field, each analysis an estimator with a
typed result:

- :mod:`nerve.analysis.fourier`: the irreps a model of a group task uses, progress measures,
  learning orders, frequency circles and universality (Nanda et al. 2023; Chughtai et al. 2023).
- :mod:`nerve.analysis.topology`: persistent homology with landmarks and a memory guard,
  circular coordinates, and the circles of cyclically ordered tokens (Engels et al. 2024).
- :mod:`nerve.analysis.llc`: the local learning coefficient by SGLD, all chains in one batch,
  its calibration and its trajectory through training.
- :mod:`nerve.analysis.symmetry`: a group acting on a model's inputs, and each layer's isotypic
  decomposition, equivariance error and generator under it.
"""

from nerve.analysis.fourier import (
    CirclesResult,
    ClockPizza,
    FourierAnalysis,
    FourierResult,
    FrequencyCircles,
    LearningOrder,
    LearningOrderResult,
    ModelView,
    ProgressMeasures,
    ProgressResult,
    irrep_trajectory,
    view,
)
from nerve.analysis.llc import (
    LLCCalibrationResult,
    LLCCalibrator,
    LLCEstimator,
    LLCResult,
    LLCTrajectory,
    LLCTrajectoryResult,
    calibrate_llc,
)
from nerve.analysis.symmetry import LayerSymmetry, LayerSymmetryResult
from nerve.analysis.topology import (
    PersistentHomology,
    TokenCircles,
    TokenCirclesResult,
    TopologyResult,
    cyclic_spectrum,
)
from nerve.errors import MemoryBudgetError

__all__ = [
    "CirclesResult",
    "ClockPizza",
    "FourierAnalysis",
    "FourierResult",
    "FrequencyCircles",
    "LLCCalibrationResult",
    "LLCCalibrator",
    "LLCEstimator",
    "LLCResult",
    "LLCTrajectory",
    "LLCTrajectoryResult",
    "LayerSymmetry",
    "LayerSymmetryResult",
    "LearningOrder",
    "LearningOrderResult",
    "MemoryBudgetError",
    "ModelView",
    "PersistentHomology",
    "ProgressMeasures",
    "ProgressResult",
    "TokenCircles",
    "TokenCirclesResult",
    "TopologyResult",
    "calibrate_llc",
    "cyclic_spectrum",
    "irrep_trajectory",
    "view",
]
