"""Experiment statistics exactly as GrowthBook's ``gbstats`` 0.8 computes them, on sufficient statistics.

Each variant's metric arrives as sums (``n``, sum, sum of squares and, for ratio and CUPED
metrics, the cross-products); nothing here sees a unit. The formulas follow
``gbstats/models/statistics.py``, ``gbstats/frequentist/tests.py``, ``gbstats/bayesian/tests.py``
and ``gbstats/utils.py`` of gbstats 0.8.0 line by line (golden numbers in
``tests/data/gbstats_golden.json``, written by ``scripts/gbstats_golden.py``):

- proportions have variance p(1-p) (no n/(n-1)); means the sample variance;
- ratio metrics the delta-method variance with the numerator/denominator covariance;
- CUPED (``RegressionAdjusted``) the pooled theta over both variants of the pre-exposure metric,
  falling back to the unadjusted metric when theta is 0;
- the two-sided Welch t-test on the absolute or relative lift (delta-method variance with the
  unadjusted means), the sequential test (Waudby-Smith et al. 2023, tuning 5000), the Bayesian
  effect test (Gaussian prior, chance to win, risk), SRM by chi-square with k-1 degrees of freedom.

Holm and Benjamini-Hochberg are not in gbstats (GrowthBook applies them in its app): they are the
textbook step-down / step-up adjustments, checked against statsmodels.

Example:
    >>> a, b = Proportion(n=1000, sum=100), Proportion(n=1000, sum=130)
    >>> r = ttest(a, b, relative=False)
    >>> round(r.estimate, 3), r.p_value < 0.05
    (0.03, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from scipy.stats import chi2, norm, t, truncnorm

BASELINE_ZERO = "ZERO_NEGATIVE_BASELINE_VARIATION"
ZERO_VARIANCE = "ZERO_NEGATIVE_VARIANCE"
NO_UNITS = "NO_UNITS_IN_VARIATION"
SRM_THRESHOLD = 0.001
"""GrowthBook's default: a sample-ratio-mismatch p-value below this gets a prominent warning."""


@dataclass(frozen=True)
class SampleMean:
    """A mean metric: ``n`` units, the sum and the sum of squares of their values."""

    n: int
    sum: float
    sum_squares: float

    @property
    def mean(self) -> float:
        return 0.0 if self.n == 0 else self.sum / self.n

    @property
    def variance(self) -> float:
        return 0.0 if self.n <= 1 else (self.sum_squares - self.sum**2 / self.n) / (self.n - 1)

    @property
    def unadjusted_mean(self) -> float:
        return self.mean


@dataclass(frozen=True)
class Proportion:
    """A 0/1 metric: ``n`` units, ``sum`` of them with a 1; variance p(1-p) as gbstats."""

    n: int
    sum: float

    @property
    def sum_squares(self) -> float:
        return self.sum

    @property
    def mean(self) -> float:
        return 0.0 if self.n == 0 else self.sum / self.n

    @property
    def variance(self) -> float:
        return self.mean * (1 - self.mean)

    @property
    def unadjusted_mean(self) -> float:
        return self.mean


Simple = SampleMean | Proportion


@dataclass(frozen=True)
class Ratio:
    """Sum over units of a numerator / sum of a denominator (delta method with covariance)."""

    n: int
    m: Simple
    d: Simple
    m_d_sum_of_products: float

    @property
    def mean(self) -> float:
        return 0.0 if self.d.sum == 0 else self.m.sum / self.d.sum

    @property
    def unadjusted_mean(self) -> float:
        return self.mean

    @property
    def covariance(self) -> float:
        return (
            0.0
            if self.n <= 1
            else (self.m_d_sum_of_products - self.m.sum * self.d.sum / self.n) / (self.n - 1)
        )

    @property
    def variance(self) -> float:
        dm, mm = self.d.mean, self.m.mean
        if dm == 0 or self.n <= 1:
            return 0.0
        return self.m.variance / dm**2 - 2 * self.covariance * mm / dm**3 + mm**2 * self.d.variance / dm**4


@dataclass(frozen=True)
class RegressionAdjusted:
    """CUPED: the metric after exposure (``post``) adjusted by its pre-exposure value (``pre``)."""

    n: int
    post: Simple
    pre: Simple
    post_pre_sum_of_products: float
    theta: float = 0.0

    @property
    def mean(self) -> float:
        return self.post.mean - self.theta * self.pre.mean

    @property
    def unadjusted_mean(self) -> float:
        return self.post.mean

    @property
    def covariance(self) -> float:
        if self.n <= 1:
            return 0.0
        return (self.post_pre_sum_of_products - self.post.sum * self.pre.sum / self.n) / (self.n - 1)

    @property
    def variance(self) -> float:
        if self.n <= 1:
            return 0.0
        return self.post.variance + self.theta**2 * self.pre.variance - 2 * self.theta * self.covariance


Statistic = SampleMean | Proportion | Ratio | RegressionAdjusted


def _joint(a: Simple, b: Simple, n: int) -> Simple:
    if isinstance(a, Proportion) and isinstance(b, Proportion):
        return Proportion(n=n, sum=a.sum + b.sum)
    return SampleMean(n=n, sum=a.sum + b.sum, sum_squares=a.sum_squares + b.sum_squares)


def pooled_theta(a: RegressionAdjusted, b: RegressionAdjusted) -> float:
    """gbstats' ``compute_theta``: cov(post, pre) / var(pre) over both variants pooled."""
    n = a.n + b.n
    post, pre = _joint(a.post, b.post, n), _joint(a.pre, b.pre, n)
    if pre.variance == 0 or post.variance == 0:
        return 0.0
    joint = RegressionAdjusted(n, post, pre, a.post_pre_sum_of_products + b.post_pre_sum_of_products)
    return joint.covariance / pre.variance


def _adjusted(a: Statistic, b: Statistic) -> tuple[Statistic, Statistic, float | None]:
    """Both sides with the pooled theta set (or the unadjusted metric when theta is 0)."""
    if isinstance(a, RegressionAdjusted) and isinstance(b, RegressionAdjusted):
        theta = pooled_theta(a, b)
        if theta == 0:
            return a.post, b.post, 0.0
        return replace(a, theta=theta), replace(b, theta=theta), theta
    return a, b, None


@dataclass(frozen=True)
class TestResult:
    """One comparison of a variant (b) against the baseline (a)."""

    estimate: float
    lo: float
    hi: float
    stddev: float
    p_value: float | None = None
    chance_to_win: float | None = None
    risk: tuple[float, float] | None = None
    theta: float | None = None
    error: str | None = None


def _diff(a: Statistic, b: Statistic, relative: bool) -> float:
    base = a.unadjusted_mean or a.mean
    return (b.mean - a.mean) / base if relative else b.mean - a.mean


def _variance(a: Statistic, b: Statistic, relative: bool) -> float:
    if relative:
        ma, mb = a.unadjusted_mean, b.unadjusted_mean
        return b.variance / (ma**2 * b.n) + a.variance * mb**2 / (ma**4 * a.n)
    return b.variance / b.n + a.variance / a.n


def _dof(a: Statistic, b: Statistic) -> float:
    va, vb = a.variance, b.variance
    return (vb / b.n + va / a.n) ** 2 / (vb**2 / (b.n**2 * (b.n - 1)) + va**2 / (a.n**2 * (a.n - 1)))


def _blank(error: str, bayesian: bool = False, theta: float | None = None) -> TestResult:
    if bayesian:
        return TestResult(0.0, 0.0, 0.0, 0.0, chance_to_win=0.5, risk=(0.0, 0.0), theta=theta, error=error)
    return TestResult(0.0, 0.0, 0.0, 0.0, p_value=1.0, theta=theta, error=error)


def ttest(
    a: Statistic,
    b: Statistic,
    *,
    relative: bool = True,
    alpha: float = 0.05,
    sequential: bool = False,
    tuning: float = 5000.0,
) -> TestResult:
    """gbstats' ``TwoSidedTTest`` (or ``SequentialTwoSidedTTest``) of b against a."""
    a, b, theta = _adjusted(a, b)
    if a.mean == 0 or a.unadjusted_mean == 0:
        return _blank(BASELINE_ZERO, theta=theta)
    if a.variance <= 0 or b.variance <= 0:
        return _blank(ZERO_VARIANCE, theta=theta)
    estimate, variance = _diff(a, b, relative), _variance(a, b, relative)
    if sequential:
        big_n = a.n + b.n
        rho = math.sqrt((-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / tuning)
        s2 = variance * big_n
        width = math.sqrt(s2) * math.sqrt(
            2 * (big_n * rho**2 + 1) * math.log(math.sqrt(big_n * rho**2 + 1) / alpha) / (big_n * rho) ** 2
        )
        st2 = estimate**2 * big_n / variance
        tr2p1 = big_n * rho**2 + 1
        evalue = math.exp(rho**2 * st2 / (2 * tr2p1)) / math.sqrt(tr2p1)
        p_value = min(1 / evalue, 1.0)
    else:
        dof = _dof(a, b)
        width = float(t.ppf(1 - alpha / 2, dof)) * math.sqrt(variance)
        p_value = float(2 * (1 - t.cdf(abs(estimate / math.sqrt(variance)), dof)))
    return TestResult(estimate, estimate - width, estimate + width, math.sqrt(variance), p_value, theta=theta)


def bayesian(
    a: Statistic,
    b: Statistic,
    *,
    relative: bool = True,
    alpha: float = 0.05,
    inverse: bool = False,
    prior_mean: float = 0.0,
    prior_variance: float = 1.0,
    proper: bool = False,
    prior_type: Literal["relative", "absolute"] = "relative",
) -> TestResult:
    """gbstats' ``EffectBayesianABTest``: normal posterior of the lift, chance to win and risk."""
    a, b, theta = _adjusted(a, b)
    base = a.unadjusted_mean
    if relative and prior_type == "absolute":
        prior_mean, prior_variance = prior_mean / abs(base), prior_variance / base**2
    elif not relative and prior_type == "relative":
        prior_mean, prior_variance = prior_mean * abs(base), prior_variance * base**2
    if (a.mean == 0 or base == 0) and relative:
        return _blank(BASELINE_ZERO, True, theta)
    if a.n == 0 or b.n == 0:
        return _blank(NO_UNITS, True, theta)
    if a.variance <= 0 or b.variance <= 0:
        return _blank(ZERO_VARIANCE, True, theta)
    data_variance, data_mean = _variance(a, b, relative), _diff(a, b, relative)
    precision = 1 / data_variance + int(proper) / prior_variance
    mean = (data_mean / data_variance + prior_mean / prior_variance) / precision if proper else data_mean
    sd = math.sqrt(1 / precision)
    ctw = float(norm.sf(0, mean, sd))
    ctw = 1 - ctw if inverse else ctw
    lo, hi = (float(x) for x in norm.ppf([alpha / 2, 1 - alpha / 2], mean, sd))
    risk = _risk(mean, sd)
    risk = (risk[1], risk[0]) if inverse else risk
    return TestResult(mean, lo, hi, sd, chance_to_win=ctw, risk=risk, theta=theta)


def _risk(mu: float, sigma: float) -> tuple[float, float]:
    """Expected loss of choosing control, of choosing the variant (gbstats ``get_risk``)."""
    p_ctrl_better = float(norm.cdf(0.0, loc=mu, scale=sigma))
    mn_neg = float(truncnorm.stats(-np.inf, (0.0 - mu) / sigma, loc=mu, scale=sigma, moments="m"))
    mn_pos = float(truncnorm.stats((0.0 - mu) / sigma, np.inf, loc=mu, scale=sigma, moments="m"))
    return (1.0 - p_ctrl_better) * mn_pos, -(p_ctrl_better * mn_neg)


def srm_p_value(units: list[int], weights: list[float]) -> float:
    """gbstats' ``check_srm``: chi-square of observed units against the expected split, k-1 df."""
    total = sum(units)
    if not total:
        return 1.0
    total_weight = sum(weights)
    x = 0.0
    for observed, weight in zip(units, weights, strict=True):
        if weight <= 0:
            continue
        expected = weight / total_weight * total
        x += (observed - expected) ** 2 / expected
    return float(chi2.sf(x, len(units) - 1))


def holm(p_values: list[float]) -> list[float]:
    """Holm-Bonferroni step-down adjusted p-values (same order as given)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    out, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        out[i] = running
    return out


def benjamini_hochberg(p_values: list[float]) -> list[float]:
    """Benjamini-Hochberg step-up adjusted p-values (q-values, same order as given)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i], reverse=True)
    out, running = [0.0] * m, 1.0
    for k, i in enumerate(order):
        running = min(running, p_values[i] * m / (m - k))
        out[i] = running
    return out
