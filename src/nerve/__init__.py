"""nerve: the mathematics of interpretability, computational.

>>> import nerve
>>> nerve.groups.parse_group("S3").order
6
"""

from __future__ import annotations

from nerve import groups, models, tasks, training
from nerve._version import __version__
from nerve.errors import (
    AnalysisError,
    CheckpointError,
    ConfigError,
    GroupError,
    LockedError,
    MemoryBudgetError,
    NerveError,
    NerveWarning,
    ProofError,
    RepresentationError,
    ShapeError,
    SiteError,
    TaskError,
    TrainingError,
    UnsupportedOpError,
)
from nerve.training import load

__all__ = [
    "AnalysisError",
    "CheckpointError",
    "ConfigError",
    "GroupError",
    "LockedError",
    "MemoryBudgetError",
    "NerveError",
    "NerveWarning",
    "ProofError",
    "RepresentationError",
    "ShapeError",
    "SiteError",
    "TaskError",
    "TrainingError",
    "UnsupportedOpError",
    "__version__",
    "groups",
    "load",
    "models",
    "tasks",
    "training",
]
