"""nerve's exceptions: one base class, a specific one for each kind of bad input.

Every message names the argument, its value and the rule it breaks.
"""

from __future__ import annotations

__all__ = ["AnalysisError", "GroupError", "NerveError", "RepresentationError", "ShapeError"]


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
