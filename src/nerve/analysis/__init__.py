"""Analyses of trained networks, each an estimator with a typed result.

- :mod:`nerve.analysis.fourier`: the irreps a model of a group task uses (Nanda et al. 2023;
  Chughtai et al. 2023).
"""

from nerve.analysis._views import ModelView, view
from nerve.analysis.fourier import ClockPizza, FourierAnalysis, FourierResult

__all__ = ["ClockPizza", "FourierAnalysis", "FourierResult", "ModelView", "view"]
