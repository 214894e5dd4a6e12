"""The score intervals keep their promise: coverage by simulation, and reference implementations.

- NPS Adjusted-Wald (add 3/4 to promoters and to detractors, n + 3) covers the true NPS at least
  93% of the time at n = 10, 20 and 50 over several true distributions, while the plain Wald
  interval falls short at n = 10 — the reason the adjusted one is used.
- Wilson (top-box shares) covers about 95%; it equals statsmodels' ``proportion_confint(method=
  "wilson")`` and the t interval of a mean equals scipy's and statsmodels' ``tconfint_mean``.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint
from statsmodels.stats.weightstats import DescrStatsW

from journeylens.discovery._stats import Moments, Proportion
from journeylens.voc.score_stats import NetPromoter, compare_nps

DRAWS = 4000
TRUE_NPS = [  # (promoters, detractors): even, promoter-heavy, detractor-heavy, polarised, extreme
    (0.3, 0.3), (0.5, 0.2), (0.6, 0.1), (0.2, 0.5), (0.4, 0.4), (0.7, 0.1), (0.8, 0.05),
]  # fmt: skip


def nps_coverage(n: int, promoters: float, detractors: float, method: str, seed: int) -> float:
    """Share of ``DRAWS`` simulated surveys of ``n`` answers whose interval holds the true NPS."""
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n, [promoters, detractors, 1 - promoters - detractors], size=DRAWS)
    outcomes, times = np.unique(draws[:, :2], axis=0, return_counts=True)
    truth = promoters - detractors
    covered = 0
    for (p, d), count in zip(outcomes.tolist(), times.tolist(), strict=True):  # distinct outcomes only
        lo, hi = getattr(NetPromoter(p, d, n), method)()
        covered += count if lo <= truth <= hi else 0
    return covered / DRAWS


@pytest.mark.parametrize("n", [10, 20, 50])
def test_adjusted_wald_keeps_95_percent_coverage_down_to_ten_answers(n: int) -> None:
    found = {truth: nps_coverage(n, *truth, "interval", seed=2016 + n) for truth in TRUE_NPS}
    assert min(found.values()) >= 0.93, found


def test_plain_wald_falls_short_at_ten_answers() -> None:
    adjusted = [nps_coverage(10, *truth, "interval", seed=10) for truth in TRUE_NPS]
    wald = [nps_coverage(10, *truth, "wald", seed=10) for truth in TRUE_NPS]
    assert np.mean(wald) < 0.91 and min(wald) < 0.9, wald
    assert all(a - w > 0.03 for a, w in zip(adjusted, wald, strict=True)), (adjusted, wald)


@pytest.mark.parametrize("n", [10, 20, 50])
def test_wilson_covers_about_95_percent(n: int) -> None:
    rng = np.random.default_rng(1927 + n)
    found = []
    for p in (0.1, 0.2, 0.3, 0.5, 0.7, 0.9):
        hits = rng.binomial(n, p, size=DRAWS)
        ks, times = np.unique(hits, return_counts=True)
        covered = 0
        for k, count in zip(ks.tolist(), times.tolist(), strict=True):
            lo, hi = Proportion(k, n).interval()
            assert lo is not None and hi is not None
            covered += count if lo <= p <= hi else 0
        found.append(covered / DRAWS)
    assert min(found) >= 0.91 and np.mean(found) >= 0.94, found


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (7, 11), (10, 10), (1, 57), (450, 1000)])
def test_wilson_equals_statsmodels(k: int, n: int) -> None:
    lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
    assert Proportion(k, n).interval() == pytest.approx((lo, hi), abs=1e-9)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_t_interval_equals_scipy_and_statsmodels(seed: int) -> None:
    scores = np.random.default_rng(seed).integers(1, 8, size=5 + 17 * seed).astype(float)
    ours = Moments.of(len(scores), float(scores.mean()), float(scores.var(ddof=1))).interval()
    reference = DescrStatsW(scores).tconfint_mean(alpha=0.05)
    scipy_t = stats.t.interval(0.95, len(scores) - 1, loc=scores.mean(), scale=stats.sem(scores))
    assert ours == pytest.approx(reference, abs=1e-9) and ours == pytest.approx(scipy_t, abs=1e-9)


def test_nps_interval_and_comparison_by_hand() -> None:
    survey = NetPromoter(promoters=6, detractors=2, answers=10)
    assert survey.value == pytest.approx(0.4)
    p, d = 6.75 / 13, 2.75 / 13
    half = stats.norm.ppf(0.975) * np.sqrt((p + d - (p - d) ** 2) / 13)
    assert survey.interval() == pytest.approx((p - d - half, p - d + half), abs=1e-12)
    assert NetPromoter(0, 0, 0).interval() == (None, None)
    same = compare_nps(survey, survey)
    assert same.diff == 0 and same.p == pytest.approx(1.0) and same.diff_lo < 0 < same.diff_hi
    apart = compare_nps(NetPromoter(70, 5, 100), NetPromoter(20, 50, 100))
    assert apart.diff == pytest.approx(0.95) and apart.p < 1e-6 and apart.diff_lo > 0
