"""Statistics of side-by-side comparisons, on aggregated groups only (a few rows reach Python).

- a rate: 95% Wilson score interval; the difference of two rates gets Newcombe's hybrid score
  interval (built from the two Wilson intervals); the test is the pooled two-proportion z test,
  or Fisher's exact test when an expected cell of the 2x2 table is below 5 (Cochran's rule),
  where the normal approximation is poor;
- a mean: Student t interval; two means are compared with Welch's t test (unequal variances,
  Welch-Satterthwaite degrees of freedom) and its interval for the difference;
- many comparisons at once: Benjamini-Hochberg q-values (false discovery rate).

Groups are merged exactly (``a + b``): counts add, and moments combine with Chan's parallel
formula, which stays accurate where "sum of squares minus square of sums" loses digits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from journeylens.journeys.summary import wilson

CONFIDENCE = 0.95
MIN_EXPECTED = 5.0


@dataclass(frozen=True)
class Proportion:
    """``successes`` out of ``trials`` (the rate's numerator and named denominator); ``why``: why
    the rate is not defined, when the reason is the whole selection's rather than the group's."""

    successes: int
    trials: int
    why: str | None = None

    def __add__(self, other: Proportion) -> Proportion:
        return Proportion(self.successes + other.successes, self.trials + other.trials, self.why or other.why)

    @property
    def rate(self) -> float | None:
        return self.successes / self.trials if self.trials else None

    def interval(self) -> tuple[float | None, float | None]:
        """95% Wilson score interval (None, None without trials)."""
        return wilson(self.successes, self.trials)


@dataclass(frozen=True)
class Moments:
    """Count, mean and sum of squared deviations from the mean (``m2``) of one group's values."""

    count: int
    mean: float
    m2: float

    @classmethod
    def of(cls, count: int, mean: float | None, variance: float | None) -> Moments:
        """From the engine's count, mean and sample variance (NULL variance: a single value)."""
        if count == 0 or mean is None:
            return cls(0, 0.0, 0.0)
        m2 = (variance or 0.0) * (count - 1) if count > 1 else 0.0
        return cls(count, float(mean), max(m2, 0.0))

    def __add__(self, other: Moments) -> Moments:
        if self.count == 0:
            return other
        if other.count == 0:
            return self
        count = self.count + other.count
        delta = other.mean - self.mean
        mean = self.mean + delta * other.count / count
        m2 = self.m2 + other.m2 + delta * delta * self.count * other.count / count
        return Moments(count, mean, m2)

    @property
    def variance(self) -> float | None:
        """Sample variance (n - 1 in the denominator); None below two values."""
        return self.m2 / (self.count - 1) if self.count > 1 else None

    @property
    def std(self) -> float | None:
        var = self.variance
        return math.sqrt(var) if var is not None else None

    @property
    def value(self) -> float | None:
        return self.mean if self.count else None

    def interval(self) -> tuple[float | None, float | None]:
        """95% Student t interval of the mean (None, None below two values)."""
        var = self.variance
        if var is None:
            return None, None
        half = _t_quantile(self.count - 1) * math.sqrt(var / self.count)
        return self.mean - half, self.mean + half


@dataclass(frozen=True)
class Test:
    """A comparison of group ``a`` with baseline ``b``: difference a - b, its interval, a test."""

    test: str | None
    diff: float | None = None
    diff_lo: float | None = None
    diff_hi: float | None = None
    statistic: float | None = None
    p: float | None = None


NO_TEST = Test(None)


def compare_proportions(a: Proportion, b: Proportion) -> Test:
    """Difference of two rates with Newcombe's interval; z test, or Fisher's exact test if small.

    Example:
        >>> compare_proportions(Proportion(40, 100), Proportion(25, 100)).test
        'z'
    """
    if a.trials == 0 or b.trials == 0:
        return NO_TEST
    p1, p2 = a.successes / a.trials, b.successes / b.trials
    (l1, u1), (l2, u2) = a.interval(), b.interval()
    assert l1 is not None and u1 is not None and l2 is not None and u2 is not None
    diff = p1 - p2
    lo = diff - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    hi = diff + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    pooled = (a.successes + b.successes) / (a.trials + b.trials)
    smallest = min(a.trials, b.trials) * min(pooled, 1 - pooled)
    if smallest < MIN_EXPECTED:
        table = ((a.successes, a.trials - a.successes), (b.successes, b.trials - b.successes))
        return Test("fisher", diff, lo, hi, None, min(fisher_exact(table), 1.0))
    se = math.sqrt(pooled * (1 - pooled) * (1 / a.trials + 1 / b.trials))
    z = diff / se
    return Test("z", diff, lo, hi, z, 2 * _normal_sf(abs(z)))


def compare_means(a: Moments, b: Moments) -> Test:
    """Difference of two means with Welch's t test and its 95% interval.

    No test when a group has fewer than two values, or when both have no spread at all.

    Example:
        >>> compare_means(Moments(10, 5.0, 18.0), Moments(12, 4.0, 22.0)).test
        'welch'
    """
    va, vb = a.variance, b.variance
    if va is None or vb is None:
        return NO_TEST
    diff = a.mean - b.mean
    sa, sb = va / a.count, vb / b.count
    se = math.sqrt(sa + sb)
    if se == 0.0:
        return Test(None, diff)
    df = (sa + sb) ** 2 / (sa * sa / (a.count - 1) + sb * sb / (b.count - 1))
    t = diff / se
    half = _t_quantile(df) * se
    from scipy import special  # scipy.stats.t.sf is special.stdtr(df, -t); special imports faster

    return Test("welch", diff, diff - half, diff + half, t, float(2 * special.stdtr(df, -abs(t))))


def fisher_exact(table: tuple[tuple[int, int], tuple[int, int]]) -> float:
    """Two-sided p-value of Fisher's exact test on a 2x2 table (``scipy.stats.fisher_exact``;
    imported on use, as it takes most of a second to import).

    Example:
        >>> round(fisher_exact(((8, 2), (1, 5))), 4)
        0.035
    """
    from scipy.stats import fisher_exact as scipy_fisher

    return float(scipy_fisher(table, alternative="two-sided").pvalue)


def benjamini_hochberg(p_values: Sequence[float | None]) -> list[float | None]:
    """Benjamini-Hochberg adjusted p-values (q-values); None where no test ran.

    The family is the p-values given (None entries are not tests and do not count).

    Example:
        >>> benjamini_hochberg([0.01, 0.04, None, 0.03])
        [0.03, 0.04, None, 0.04]
    """
    tested = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    m = len(tested)
    out: list[float | None] = [None] * len(p_values)
    running = 1.0
    for rank in range(m, 0, -1):
        p, index = tested[rank - 1]
        running = min(running, p * m / rank)
        out[index] = min(running, 1.0)
    return out


def _t_quantile(df: float) -> float:
    from scipy import special  # scipy.stats.t.ppf is special.stdtrit; special imports faster

    return float(special.stdtrit(df, 0.5 + CONFIDENCE / 2))


def _normal_sf(z: float) -> float:
    """Upper tail of the standard normal (erfc keeps precision far out in the tail)."""
    return 0.5 * math.erfc(z / math.sqrt(2))
