"""Did a count grow? The last complete period against the one before, as a Poisson rate ratio.

Two counts over periods of equal length are compared conditionally on their sum: under equal rates
the last period's count is Binomial(sum, 1/2) (periods of unequal length: their share of the time),
so the exact binomial test gives ``p`` and the Clopper-Pearson interval of that share gives the
rate ratio's 95% interval (``scipy.stats.binomtest``). A reason with no contact in either period
has no test.

Example:
    >>> t = rate_ratio(60, 30)
    >>> round(t.ratio, 2), t.p < 0.01
    (2.0, True)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from scipy.stats import binomtest

PERIOD_UNITS = {"day": "D", "week": "W", "month": "M"}
"""Ibis truncation unit of each period."""


@dataclass(frozen=True)
class RateRatio:
    """``last``/``previous`` counts, their ratio with a 95% interval and the exact test's ``p``."""

    last: int
    previous: int
    ratio: float | None
    lo: float | None
    hi: float | None
    p: float | None


def rate_ratio(last: int, previous: int, share: float = 0.5) -> RateRatio:
    """The rate ratio of ``last`` to ``previous`` (``share``: the last period's part of the time)."""
    n = last + previous
    if n == 0:
        return RateRatio(last, previous, None, None, None, None)
    test = binomtest(last, n, share)
    ci = test.proportion_ci(confidence_level=0.95, method="exact")
    odds = (1 - share) / share

    def ratio(p: float) -> float | None:
        return None if p >= 1 else p / (1 - p) * odds

    return RateRatio(
        last, previous, None if previous == 0 else last / previous * odds,
        ratio(ci.low), ratio(ci.high), float(test.pvalue),
    )  # fmt: skip


def period_end(start: dt.date, period: str) -> dt.date:
    """The first day after the period that starts on ``start``."""
    if period == "day":
        return start + dt.timedelta(days=1)
    if period == "week":
        return start + dt.timedelta(days=7)
    month = start.month % 12 + 1
    return dt.date(start.year + (start.month == 12), month, 1)


def complete_periods(starts: list[dt.date], data_end: dt.date, period: str) -> list[dt.date]:
    """Period starts whose period ended by ``data_end`` (the day after the data's last event), sorted."""
    return sorted(s for s in set(starts) if period_end(s, period) <= data_end)
