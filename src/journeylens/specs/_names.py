"""Repeatable options that also take comma-separated lists: ``--family touchpoint,channel`` is
``--family touchpoint --family channel``. One parser for every spec.

Example:
    >>> names(["a,b", " c", "a"])
    ['a', 'b', 'c']
    >>> choices("x", ("a", "b"), "family")
    Traceback (most recent call last):
    ...
    ValueError: unknown family 'x'; expected one of a, b
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def names(value: Any) -> list[str]:
    """The names in one string or a list of strings, split at commas, stripped, without repeats."""
    given = [value] if isinstance(value, str) else list(value)
    return list(
        dict.fromkeys(part.strip() for name in given for part in str(name).split(",") if part.strip())
    )


def choices(value: Any, allowed: Sequence[str], what: str) -> list[str]:
    """:func:`names`, each of which must be one of ``allowed`` (else a ValueError naming ``what``)."""
    found = names(value)
    for name in found:
        if name not in allowed:
            raise ValueError(f"unknown {what} {name!r}; expected one of {', '.join(allowed)}")
    return found
