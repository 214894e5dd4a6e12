"""Durations and instants as people write them, parsed and formatted in one place.

Every surface (specs, the CLI, reports) reads ``30m``/``2h``/``14d``/``1w`` through
:func:`parse_duration`, an ISO date through :func:`parse_instant`, and shows a duration with
:func:`duration_text`, so the same text means the same thing everywhere.

Example:
    >>> parse_duration("90m"), duration_text(95.0), parse_instant("2024-03-01").isoformat()
    (5400.0, '1.6 min', '2024-03-01T00:00:00+00:00')
"""

from __future__ import annotations

import datetime as dt
import math
import re

_DURATION = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_duration(text: str) -> float:
    """Seconds in ``30s``, ``15m``, ``2h``, ``14d`` or ``1w`` (decimals allowed).

    Raises:
        ValueError: the text is not a number followed by one of the units s, m, h, d, w.
    """
    found = _DURATION.match(text)
    if not found:
        raise ValueError(f"{text!r} is not a duration like 30m, 2h, 14d or 1w")
    return float(found[1]) * _UNIT_SECONDS[found[2]]


def parse_instant(value: str) -> dt.datetime:
    """An ISO date or date-time; naive values are UTC (the store keeps UTC instants).

    Raises:
        ValueError: not an ISO date or date-time.
    """
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO date or date-time (e.g. 2024-03-01)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def duration_text(seconds: float | None, *, missing: str = "n/a") -> str:
    """``95`` -> ``"1.6 min"``: a duration in the unit a person would say (``missing`` for None/NaN)."""
    if seconds is None or math.isnan(seconds):
        return missing
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if abs(seconds) >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def short_duration(seconds: float | None) -> str:
    """``95`` -> ``"1.6m"``: :func:`duration_text` without spaces, for narrow table cells ('' if unknown)."""
    if seconds is None or math.isnan(seconds):
        return ""
    return duration_text(seconds).replace(" min", "m").replace(" ", "")


def clock_text(seconds: float | None) -> str:
    """``93784`` -> ``"1d 2h"``: the two largest whole units, for step-to-step times ('' if unknown)."""
    if seconds is None or math.isnan(seconds):
        return ""
    s = round(seconds)
    parts = [(s // 86_400, "d"), (s % 86_400 // 3600, "h"), (s % 3600 // 60, "m"), (s % 60, "s")]
    shown = [f"{v}{u}" for v, u in parts if v][:2]
    return " ".join(shown) or "0s"
