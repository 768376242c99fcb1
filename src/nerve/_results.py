"""The one base of nerve's typed results: a frozen dataclass written as strict JSON with a format
key, and read back by its field types.

``to_json`` writes ``{"format": "nerve-<kind>/<version>", ...fields}`` with every NaN and ±inf as
``null`` (:func:`nerve._io.strict_json`); ``from_json`` checks the format and rebuilds every field
from its annotation: tuples from lists, nested results from objects, ``null`` as NaN where the
field is a float and as None where it may be None. A file written before the format key existed
(no ``"format"``) is read as the current version.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from typing import Any, ClassVar, TypeVar

from nerve._io import strict_json
from nerve.errors import AnalysisError

__all__ = ["Result"]

R = TypeVar("R", bound="Result")


class Result:
    """Base of a frozen dataclass result: ``to_json``, ``from_json``, ``to_dict``, ``from_dict``.

    A subclass sets ``FORMAT`` (``"nerve-<kind>/1"``) and, after a rename, ``FORMERLY``; nested
    dataclasses in its fields need no base of their own.

    >>> @dataclasses.dataclass(frozen=True)
    ... class Toy(Result):
    ...     FORMAT: ClassVar[str] = "nerve-toy/1"
    ...     steps: tuple[int, ...]
    ...     loss: tuple[float, ...]
    ...     best: float | None = None
    >>> text = Toy((0, 10), (1.5, math.nan)).to_json()
    >>> json.loads(text)
    {'format': 'nerve-toy/1', 'steps': [0, 10], 'loss': [1.5, None], 'best': None}
    >>> Toy.from_json(text).loss
    (1.5, nan)
    """

    FORMAT: ClassVar[str] = ""
    #: Formats this result was written under before a rename, read as ``FORMAT``.
    FORMERLY: ClassVar[tuple[str, ...]] = ()

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain Python values, with ``"format"`` first."""
        return {"format": self.FORMAT, **dataclasses.asdict(self)}  # type: ignore[call-overload]

    def to_json(self) -> str:
        """Strict JSON: NaN and ±inf written as ``null``."""
        return strict_json(self.to_dict(), indent=1)

    @classmethod
    def from_dict(cls: type[R], data: Any, *, source: str = "the data") -> R:
        """The result from :meth:`to_dict`'s output (or parsed JSON), checked field by field."""
        if not isinstance(data, dict):
            raise AnalysisError(
                f"{source}: a {cls.__name__} must be a JSON object, not {type(data).__name__}."
            )
        data = dict(data)
        found = data.pop("format", cls.FORMAT)
        if found != cls.FORMAT and found not in cls.FORMERLY:
            raise AnalysisError(f"{source}: format {found!r} is not {cls.FORMAT!r} (a {cls.__name__}).")
        return _decode_fields(cls, data, source)

    @classmethod
    def from_json(cls: type[R], text: str | bytes, *, source: str = "the JSON") -> R:
        """The result that :meth:`to_json` wrote."""
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise AnalysisError(f"{source} is not JSON ({err}); a {cls.__name__} is.") from None
        return cls.from_dict(data, source=source)


def _decode(tp: Any, value: Any, where: str) -> Any:
    """`value` (parsed JSON) as the type `tp`, or an AnalysisError naming `where`."""
    if isinstance(tp, type) and issubclass(tp, Result):
        return tp.from_dict(value, source=where)  # a nested result reads as it reads alone
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _decode_fields(tp, value, where)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if type(value) in options and type(value) in (int, bool, str):  # exactly one of them
            return value
        if len(options) == 1:
            return _decode(options[0], value, where)
        for option in options:  # e.g. float | int | str: the first that reads
            try:
                return _decode(option, value, where)
            except AnalysisError:
                continue
        raise AnalysisError(f"{where}: {value!r} is none of {options}.")
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise AnalysisError(f"{where}: must be a list, not {value!r}.")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], v, where) for v in value)
        if len(args) != len(value):
            raise AnalysisError(f"{where}: must hold {len(args)} values, not {len(value)}.")
        return tuple(_decode(a, v, where) for a, v in zip(args, value))
    if origin is dict:
        if not isinstance(value, dict):
            raise AnalysisError(f"{where}: must be an object, not {value!r}.")
        return {_key(args[0], k, where): _decode(args[1], v, where) for k, v in value.items()}
    if tp is float:
        if value is None:  # written for NaN (and ±inf) by strict_json
            return math.nan
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise AnalysisError(f"{where}: must be a number, not {value!r}.")
    if tp in (int, bool, str):
        if type(value) is not tp:
            raise AnalysisError(f"{where}: must be {tp.__name__}, not {value!r}.")
        return value
    return value  # Any: as parsed


def _key(tp: Any, key: Any, where: str) -> Any:
    """A JSON object's key as the dict's key type: JSON writes an int key as its digits."""
    if tp is not int or type(key) is int:
        return key  # a str key, or to_dict's own int
    try:
        number = int(key)
    except (TypeError, ValueError):
        number = None
    if number is None or str(number) != key:
        raise AnalysisError(f"{where}: the key {key!r} must be a whole number.")
    return number


def _decode_fields(tp: Any, value: Any, where: str) -> Any:
    """The dataclass `tp` from the object `value`, each field decoded by its annotation."""
    if not isinstance(value, dict):
        raise AnalysisError(f"{where}: must be an object for a {tp.__name__}, not {value!r}.")
    hints = typing.get_type_hints(tp)
    fields = {f.name: f for f in dataclasses.fields(tp) if f.init}
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise AnalysisError(f"{where}: unknown {tp.__name__} fields {unknown}.")
    out = {}
    for name, f in fields.items():
        if name in value:
            out[name] = _decode(hints[name], value[name], f"{where}: field `{name}`")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise AnalysisError(f"{where}: field `{name}` of {tp.__name__} is missing.")
    return tp(**out)
