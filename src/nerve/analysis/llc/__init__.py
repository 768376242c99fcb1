"""The local learning coefficient of singular learning theory (Lau et al. 2024): an SGLD
estimator with all chains in one batch, its calibration, its trajectory through training, and
the closed forms it is checked against.

- :mod:`~nerve.analysis.llc.estimator`: :class:`LLCEstimator` (SGLD or MALA-corrected chains).
- :mod:`~nerve.analysis.llc.calibration`: a grid of step sizes and inverse temperatures, with
  the rules that say which cells are healthy.
- :mod:`~nerve.analysis.llc.trajectory`: λ̂ at every checkpoint of a run, and its stages.
- :mod:`~nerve.analysis.llc.closed_forms`: learning coefficients known exactly.
- :mod:`~nerve.analysis.llc.diagnostics`: R̂, bulk ESS and the verdict every estimate carries.
- :mod:`~nerve.analysis.llc.subspaces`, :mod:`~nerve.analysis.llc.irreps`: the LLC of a linear
  subspace of the weights, and of each key irrep's Fourier components through training.
"""

from nerve.analysis.llc.calibration import (
    DEFAULT_EPSILONS,
    DEFAULT_NBETAS,
    LLCCalibrationResult,
    LLCCalibrator,
    calibrate_llc,
)
from nerve.analysis.llc.closed_forms import dln_learning_coefficient, rrr_learning_coefficient
from nerve.analysis.llc.estimator import LLCEstimator, LLCResult, default_nbeta
from nerve.analysis.llc.irreps import IrrepLLC, IrrepLLCResult
from nerve.analysis.llc.trajectory import LLCTrajectory, LLCTrajectoryResult, trend_changes

__all__ = [
    "DEFAULT_EPSILONS",
    "DEFAULT_NBETAS",
    "IrrepLLC",
    "IrrepLLCResult",
    "LLCCalibrationResult",
    "LLCCalibrator",
    "LLCEstimator",
    "LLCResult",
    "LLCTrajectory",
    "LLCTrajectoryResult",
    "calibrate_llc",
    "default_nbeta",
    "dln_learning_coefficient",
    "rrr_learning_coefficient",
    "trend_changes",
]
