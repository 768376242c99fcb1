"""nerve: the mathematics of interpretability, computational.

>>> import nerve
>>> nerve.groups.parse_group("S3").order
6
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from nerve import groups, models, tasks, training
from nerve.errors import (
    AnalysisError,
    GroupError,
    LockedError,
    NerveError,
    NerveWarning,
    ProofError,
    RepresentationError,
    ShapeError,
    SiteError,
    TrainingError,
)
from nerve.training import load

try:
    __version__ = version("nerve")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "AnalysisError",
    "GroupError",
    "LockedError",
    "NerveError",
    "NerveWarning",
    "ProofError",
    "RepresentationError",
    "ShapeError",
    "SiteError",
    "TrainingError",
    "__version__",
    "groups",
    "load",
    "models",
    "tasks",
    "training",
]
