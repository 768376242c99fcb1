"""The Fourier analysis of networks trained on group tasks: which irreducible representations
their weights, neurons and logits use (Nanda et al. 2023; Chughtai, Chan & Nanda 2023).

- :mod:`~nerve.analysis.fourier.irreps`: the irreps of one model (:class:`FourierAnalysis`).
- :mod:`~nerve.analysis.fourier.progress`: Nanda et al.'s progress measures and the phases of grokking.
- :mod:`~nerve.analysis.fourier.learning_order`: the Fourier analysis at every checkpoint, and
  the order in which a run learns its irreps.
- :mod:`~nerve.analysis.fourier.circles`: the circle of each key frequency in the embeddings.
- :mod:`~nerve.analysis.fourier.universality`: how often each irrep is key across a sweep's runs.
"""

from nerve.analysis.fourier._views import ModelView, view
from nerve.analysis.fourier.circles import Circle, CirclesResult, FrequencyCircles
from nerve.analysis.fourier.irreps import ClockPizza, FourierAnalysis, FourierResult
from nerve.analysis.fourier.learning_order import LearningOrder, LearningOrderResult, irrep_trajectory
from nerve.analysis.fourier.progress import Phases, ProgressMeasures, ProgressResult, gini, phases
from nerve.analysis.fourier.universality import LOGIT_KEY, key_irrep_counts, learning_orders, logit_key_counts

__all__ = [
    "LOGIT_KEY",
    "Circle",
    "CirclesResult",
    "ClockPizza",
    "FourierAnalysis",
    "FourierResult",
    "FrequencyCircles",
    "LearningOrder",
    "LearningOrderResult",
    "ModelView",
    "Phases",
    "ProgressMeasures",
    "ProgressResult",
    "gini",
    "irrep_trajectory",
    "key_irrep_counts",
    "learning_orders",
    "logit_key_counts",
    "phases",
    "view",
]
