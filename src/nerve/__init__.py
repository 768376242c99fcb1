"""nerve: the mathematics of interpretability, computational.

>>> import nerve
>>> nerve.groups.parse_group("S3").order
6
"""

from __future__ import annotations

from nerve import groups
from nerve.errors import GroupError, NerveError, RepresentationError, ShapeError

__version__ = "0.1.0"

__all__ = ["GroupError", "NerveError", "RepresentationError", "ShapeError", "__version__", "groups"]
