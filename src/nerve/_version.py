"""nerve's version, read from the installed package's metadata: its own module, so that any
layer can name the version that wrote a file without importing the whole package."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:
    __version__ = version("nerve")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
