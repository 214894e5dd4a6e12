"""Options that take names from a fixed list, repeated or comma-separated (``--model a,b --model c``).

Example:
    >>> chosen(["first, markov", "first"], ("first", "last", "markov"), "model")
    ['first', 'markov']
    >>> chosen(None, ("first", "last"), "model")
    []
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def chosen(value: Any, allowed: Sequence[str], what: str) -> list[str]:
    """The names in ``value`` (a string, a list, or None), split on commas, once each in the order
    given; an unknown name raises ``ValueError`` listing the allowed ones."""
    if value is None:
        return []
    names = [value] if isinstance(value, str) else list(value)
    split = [part.strip() for name in names for part in str(name).split(",") if part.strip()]
    for name in split:
        if name not in allowed:
            raise ValueError(f"unknown {what} {name!r}; expected one of {', '.join(allowed)}")
    return list(dict.fromkeys(split))
