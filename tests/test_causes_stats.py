"""The statistics of ``journeylens causes`` against statsmodels and scipy on the same data."""

from __future__ import annotations

import math

import numpy as np
import statsmodels.api as sm
from statsmodels.stats.contingency_tables import StratifiedTable

from journeylens.decisions.causes_stats import cmh, contrast, interaction, joint_logistic, risk_ratio, strata


def test_joint_logistic_on_patterns_equals_the_fit_on_journeys() -> None:
    rng = np.random.default_rng(5)
    x = (rng.random((4_000, 3)) < [0.3, 0.2, 0.5]).astype(float)
    x[:, 2] = np.where(x[:, 0] == 1, rng.random(4_000) < 0.8, x[:, 2])  # correlated with the first
    y = rng.random(4_000) < 1 / (1 + np.exp(-(-1.5 + 0.9 * x[:, 0] - 0.4 * x[:, 1])))
    patterns, inverse = np.unique(x, axis=0, return_inverse=True)
    n = np.bincount(inverse.ravel()).astype(np.int64)
    k = np.bincount(inverse.ravel(), weights=y).astype(np.int64)
    fitted = joint_logistic(["a", "b", "c"], patterns, n, k)
    ref = sm.GLM(y.astype(float), sm.add_constant(x), family=sm.families.Binomial()).fit()
    for i, name in enumerate("abc", start=1):
        assert math.isclose(fitted[name].odds_ratio or 0, math.exp(ref.params[i]), rel_tol=1e-8)
        # the same z; p far in the tail (1e-30) differs with the last iteration's digits
        assert math.isclose(fitted[name].p or 0, ref.pvalues[i], rel_tol=1e-4)
        assert math.isclose(fitted[name].lo or 0, math.exp(ref.conf_int()[i][0]), rel_tol=1e-6)


def test_collinear_and_separating_features_are_named_not_fitted() -> None:
    patterns = np.array([[0, 0, 0], [1, 1, 0], [0, 0, 1], [1, 1, 1]], dtype=float)  # b == a
    fitted = joint_logistic(["a", "b", "c"], patterns, np.array([50, 40, 30, 20]), np.array([5, 10, 0, 0]))
    assert fitted["b"].odds_ratio is None and "collinear" in (fitted["b"].reason or "")
    assert fitted["c"].odds_ratio is None and "separates the outcome" in (fitted["c"].reason or "")
    assert fitted["a"].odds_ratio is not None


def test_cmh_equals_statsmodels() -> None:
    # A within the strata of B, from the counts the engine returns (A, B, A&B, totals).
    tables = strata(n_a=300, k_a=90, n_b=400, k_b=100, n_ab=120, k_ab=40, total_n=2_000, total_k=350)
    assert tables.sum() == 2_000 and tables[:, [0, 2]].sum() == 350
    p, odds = cmh(tables)
    ref = StratifiedTable([t.reshape(2, 2) for t in tables])
    assert math.isclose(p, ref.test_null_odds(correction=False).pvalue, rel_tol=1e-9)
    assert math.isclose(odds or 0, ref.oddsratio_pooled, rel_tol=1e-9)
    # A on exactly B's journeys: no stratum has both levels of A, so nothing is left to test.
    assert cmh(strata(100, 30, 100, 30, 100, 30, 1_000, 200))[0] == 1.0


def test_contrast_interaction_and_risk_ratio() -> None:
    row = contrast(n=200, k=80, total_n=1_000, total_k=240)
    assert row["rate_with"] == 0.4 and row["rate_without"] == 0.2 and row["test"] == "z"
    assert math.isclose(row["excess_journeys"], 200 * 0.2)
    assert row["difference_lo"] < 0.2 < row["difference_hi"]
    assert row["risk_ratio_lo"] < 2.0 == row["risk_ratio"] < row["risk_ratio_hi"]
    assert contrast(n=12, k=6, total_n=100, total_k=10)["test"] == "fisher"
    assert risk_ratio(0, 10, 5, 90)[0] is not None  # an empty cell: 0.5 added
    # No interaction: the odds ratios multiply exactly.
    est, p = interaction([(100, 60), (100, 30), (100, 40), (100, 15)])
    assert est is not None and p is not None
    expected = math.log(60 / 40) - math.log(30 / 70) - math.log(40 / 60) + math.log(15 / 85)
    assert math.isclose(est, expected)
