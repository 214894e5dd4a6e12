"""Packages that name their public objects without importing them (PEP 562 ``__getattr__``).

``import journeylens`` and the CLI start-up must not pay for the engine, pandas or plotly; the
packages list their names with ``TYPE_CHECKING`` imports (what mypy and editors read) and resolve
them here on first use.

Example:
    >>> __getattr__ = lazy_names("journeylens.store", {"Store": "journeylens.store.store"})
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_names(package: str, where: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``where`` maps each public name to its module."""

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(where[name]), name)
        setattr(sys.modules[package], name, value)  # later lookups skip this function
        return value

    return __getattr__
