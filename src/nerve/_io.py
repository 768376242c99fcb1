"""Files written whole or not at all, JSON that is JSON, and directories one writer at a time.

- :func:`write_text_atomic`: a crash mid-write leaves the old file, never half a new one.
- :func:`strict_json`: ``json.dumps`` that writes NaN and ±inf as ``null`` (bare ``NaN`` is not
  JSON, and a number that is not finite is not a result).
- :func:`exclusive`: an advisory lock on a directory (``flock``) that the kernel drops when its
  holder exits, however it exits, so a killed run never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nerve.errors import LockedError

__all__ = ["LOCK", "exclusive", "finite_or_none", "strict_json", "write_text_atomic"]

#: The lock file inside a locked directory; it holds a line naming the holder.
LOCK = ".nerve.lock"


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write `text` (UTF-8) to a temporary file beside `path`, then rename it over `path`."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def finite_or_none(value: Any) -> Any:
    """`value` with every float that is not finite replaced by None, through lists and dicts.

    >>> finite_or_none({"a": [1.0, float("nan")], "b": float("inf"), "c": "x"})
    {'a': [1.0, None], 'b': None, 'c': 'x'}
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_or_none(v) for v in value]
    return value


def strict_json(value: Any, **kwargs: Any) -> str:
    """``json.dumps`` with NaN and ±inf written as ``null``; what it writes is always JSON.

    >>> strict_json({"loss": float("nan"), "step": 3})
    '{"loss": null, "step": 3}'
    """
    return json.dumps(finite_or_none(value), allow_nan=False, **kwargs)


def _holder(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        text = ""
    return text or "another process"


@contextlib.contextmanager
def exclusive(directory: str | os.PathLike, what: str) -> Iterator[Path]:
    """Hold an exclusive lock on `directory` (created if missing) for the ``with`` block.

    A second holder, in this process or another, is refused at once with :class:`LockedError`
    naming the first (its pid, host, command and start time). `what` says what is locked, for
    that message ("run directory", "sweep directory").
    """
    import fcntl  # POSIX; nerve's run directories are written on Linux and macOS

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockedError(
                f"{what} {directory} is in use by {_holder(path)}; wait for it to finish or stop it "
                f"(the lock goes with its process)."
            ) from None
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        command = " ".join(Path(a).name if i == 0 else a for i, a in enumerate(sys.argv))[:200]
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()} ({command!r}, since {stamp})\n".encode())
        try:
            yield directory
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
