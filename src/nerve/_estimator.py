"""The one base of nerve's estimators, with scikit-learn's conventions: ``__init__`` stores its
hyperparameters under their own names and does nothing else, ``fit`` returns ``self`` with the
fitted state in attributes ending in ``_``; this base adds ``get_params``, ``set_params`` and a
``repr`` that shows the hyperparameters that differ from their defaults.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from nerve.errors import AnalysisError

__all__ = ["Estimator", "Progress"]

#: The one progress callback of nerve's long computations: ``progress(stage, done, total)``,
#: called after each unit of work (a checkpoint, a run); the CLI draws it as a bar per stage.
Progress = Callable[[str, int, int], None]

E = TypeVar("E", bound="Estimator")


class Estimator:
    """``get_params()``, ``set_params(**params)`` and ``repr`` from ``__init__``'s signature.

    >>> class Toy(Estimator):
    ...     def __init__(self, alpha: float = 1.0, steps: int = 10) -> None:
    ...         self.alpha, self.steps = alpha, steps
    >>> Toy(steps=5)
    Toy(steps=5)
    >>> Toy().set_params(alpha=0.5).get_params()
    {'alpha': 0.5, 'steps': 10}
    """

    @classmethod
    def _param_defaults(cls) -> dict[str, Any]:
        signature = inspect.signature(cls.__init__)
        return {
            name: p.default
            for name, p in signature.parameters.items()
            if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        }

    def get_params(self) -> dict[str, Any]:
        """The hyperparameters, by name, as ``__init__`` takes them."""
        return {name: getattr(self, name) for name in self._param_defaults()}

    def set_params(self: E, **params: Any) -> E:
        """Change hyperparameters by name (checked when ``fit`` starts, as at construction)."""
        known = self._param_defaults()
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise AnalysisError(f"{type(self).__name__} has no parameters {unknown}; it has {sorted(known)}.")
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        changed = []
        for name, default in self._param_defaults().items():
            value = getattr(self, name)
            same = value is default or (type(value) is type(default) and _equal(value, default))
            if not same:
                changed.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(changed)})"


def _equal(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except (TypeError, ValueError, RuntimeError):  # tensors and arrays: compare by identity only
        return False
