"""nerve's exceptions: one base class, a specific one for each kind of bad input.

Every message names the argument, its value and the rule it breaks.
"""

from __future__ import annotations

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
]


class NerveError(Exception):
    """Base class of every error nerve raises on purpose."""


class GroupError(NerveError, ValueError):
    """A table, a set of generators or a group name that does not define a finite group."""


class RepresentationError(NerveError, ValueError):
    """Matrices that are not an orthogonal representation, or not an irreducible one."""


class ShapeError(NerveError, ValueError):
    """A tensor whose shape does not fit the operation, e.g. no group axis of length |G|."""


class AnalysisError(NerveError, ValueError):
    """An analysis asked of a model or task it cannot read, or with a parameter out of range."""


class SiteError(AnalysisError):
    """An activation site, or an on-disk activation store, that cannot be read as asked."""


class ProofError(NerveError, ValueError):
    """A statement, interval or certificate that nerve cannot prove, represent or check."""


class UnsupportedOpError(ProofError):
    """A graph holds an op the interval interpreter has no sound rule for (named, with its module)."""


class NerveWarning(UserWarning):
    """A result nerve computed but whose reading needs care (a divergent chain, an estimate that
    did not converge); the CLI shows these, and a user can filter nerve's warnings by this class."""


class LockedError(NerveError, RuntimeError):
    """A run or sweep directory that another process is writing: a second writer is refused."""


class TrainingError(NerveError, RuntimeError):
    """Training that cannot go on: a loss that became NaN or infinite (the checkpoints before it
    are kept)."""


class ConfigError(NerveError, ValueError):
    """A configuration that does not describe a run nerve can make."""


class CheckpointError(NerveError, ValueError):
    """A run directory or checkpoint file that is missing, corrupt, truncated or mismatched."""


class TaskError(NerveError, ValueError):
    """A task that cannot be built from these parameters."""


class MemoryBudgetError(AnalysisError, MemoryError):
    """Work refused before it starts because its estimated memory exceeds the budget."""
