"""The fast paths map check takes stand in for scipy.stats exactly: the same numbers.

scipy.stats takes most of a second to import, so map check computes Fisher's exact test, the
binomial order-statistic ranks and Welch's t on the scipy.special ufuncs scipy.stats itself uses.
Here they are compared with scipy.stats on many tables and sizes, edge cases included.
"""

from __future__ import annotations

import math
import random

import pytest
from scipy import stats

from journeylens.discovery._stats import Moments, compare_means, fisher_exact
from journeylens.maps.timing import _ranks


def _tables() -> list[tuple[tuple[int, int], tuple[int, int]]]:
    rng = random.Random(14)
    edge = [
        ((0, 0), (3, 4)),
        ((0, 5), (0, 7)),
        ((1, 0), (0, 1)),
        ((5, 0), (0, 5)),
        ((1, 89819), (24781, 65039)),
    ]
    drawn = [
        ((rng.randint(0, n), rng.randint(0, n)), (rng.randint(0, m), rng.randint(0, m)))
        for n, m in [(rng.choice([3, 20, 500, 90_000]), rng.choice([3, 20, 500, 90_000])) for _ in range(400)]
    ]
    return edge + drawn


def test_fisher_exact_equals_scipy() -> None:
    for table in _tables():
        expected = float(stats.fisher_exact(table, alternative="two-sided").pvalue)
        assert fisher_exact(table) == pytest.approx(expected, rel=1e-12, abs=1e-300), table


@pytest.mark.parametrize("n", [1, 2, 5, 19, 20, 137, 1_000, 89_821, 2_000_000])
@pytest.mark.parametrize("q", [0.5, 0.8, 0.9])
def test_order_statistic_ranks_equal_scipy(n: int, q: float) -> None:
    import math

    lo = max(int(stats.binom.ppf(0.025, n, q)), 1)
    hi = min(int(stats.binom.ppf(0.975, n, q)) + 1, n)
    covered = float(stats.binom.cdf(hi - 1, n, q) - stats.binom.cdf(lo - 1, n, q)) >= 0.95
    assert _ranks(n, q) == (max(1, math.ceil(q * n)), *((lo, hi) if covered else (None, None)))


def test_welch_equals_scipy() -> None:
    a, b = Moments(40, 5.0, 390.0), Moments(25, 3.2, 300.0)
    test = compare_means(a, b)
    sa, sb = a.m2 / (a.count - 1) / a.count, b.m2 / (b.count - 1) / b.count
    df = (sa + sb) ** 2 / (sa * sa / (a.count - 1) + sb * sb / (b.count - 1))
    assert test.statistic is not None and test.diff_hi is not None and test.diff_lo is not None
    assert test.p == pytest.approx(float(2 * stats.t.sf(abs(test.statistic), df)), rel=1e-12)
    half = float(stats.t.ppf(0.975, df)) * math.sqrt(sa + sb)
    assert test.diff_hi - test.diff_lo == pytest.approx(2 * half, rel=1e-12)
