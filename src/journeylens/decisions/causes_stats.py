"""Statistics of ``journeylens causes``, on counts the engine aggregated (numpy, scipy, statsmodels).

- :func:`contrast`: one candidate's 2x2 table (with / without x outcome / not): the rates with
  Wilson intervals, their difference with Newcombe's interval and the z test or, when an expected
  cell is below 5, Fisher's exact test (``discovery._stats.compare_proportions``), and the risk
  ratio with the Katz log interval (0.5 added to every cell when one is empty), and the excess
  outcome journeys (journeys with it x the difference: how many more have the outcome than the
  rate without would give);
- :func:`cmh`: the Cochran-Mantel-Haenszel test of one feature conditional on another (two strata:
  with and without the other), vectorised over many pairs, with the Mantel-Haenszel odds ratio;
- :func:`interaction`: the Wald test of the interaction of two features on the log-odds scale, from
  the four cells of their 2x2 presence table;
- :func:`joint_logistic`: the logistic regression of the outcome on presence indicators, fitted on
  grouped presence patterns (k of n per pattern: exactly the fit on the journeys themselves with
  frequency weights).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from journeylens.discovery._stats import Proportion, compare_proportions
from journeylens.journeys.summary import Z95

FloatArray = npt.NDArray[np.float64]


def contrast(n: int, k: int, total_n: int, total_k: int) -> dict[str, Any]:
    """Rate with vs without one feature: ``n``/``k`` with it, out of ``total_n``/``total_k``."""
    with_, without = Proportion(k, n), Proportion(total_k - k, total_n - n)
    test = compare_proportions(with_, without)
    lo1, hi1 = with_.interval()
    lo0, hi0 = without.interval()
    rr, rr_lo, rr_hi = risk_ratio(k, n, total_k - k, total_n - n)
    excess = [None if d is None else n * d for d in (test.diff, test.diff_lo, test.diff_hi)]
    return {
        "journeys_with": n, "outcome_with": k, "rate_with": with_.rate, "rate_with_lo": lo1,
        "rate_with_hi": hi1, "journeys_without": without.trials, "outcome_without": without.successes,
        "rate_without": without.rate, "rate_without_lo": lo0, "rate_without_hi": hi0,
        "difference": test.diff, "difference_lo": test.diff_lo, "difference_hi": test.diff_hi,
        "risk_ratio": rr, "risk_ratio_lo": rr_lo, "risk_ratio_hi": rr_hi, "excess_journeys": excess[0],
        "excess_lo": excess[1], "excess_hi": excess[2], "test": test.test, "p": test.p,
    }  # fmt: skip


def risk_ratio(k1: int, n1: int, k0: int, n0: int) -> tuple[float | None, float | None, float | None]:
    """Risk ratio (k1/n1) / (k0/n0) with the 95% Katz log interval; None without trials."""
    if n1 == 0 or n0 == 0:
        return None, None, None
    a, c, m1, m0 = float(k1), float(k0), float(n1), float(n0)
    if a == 0 or c == 0 or a == m1 or c == m0:
        a, c, m1, m0 = a + 0.5, c + 0.5, m1 + 1.0, m0 + 1.0
    rr = (a / m1) / (c / m0)
    se = math.sqrt(max(1 / a - 1 / m1 + 1 / c - 1 / m0, 0.0))
    return rr, rr * math.exp(-Z95 * se), rr * math.exp(Z95 * se)


def strata(
    n_a: int, k_a: int, n_b: int, k_b: int, n_ab: int, k_ab: int, total_n: int, total_k: int
) -> FloatArray:
    """The 2x2x2 table of feature A within the strata of feature B, from the counts of A, B, A&B
    and the totals: rows (stratum B present, B absent) of (A&Y, A&~Y, ~A&Y, ~A&~Y)."""
    with_b = (k_ab, n_ab - k_ab, k_b - k_ab, (n_b - k_b) - (n_ab - k_ab))
    a_only_n, a_only_k = n_a - n_ab, k_a - k_ab
    rest_n, rest_k = total_n - n_a - n_b + n_ab, total_k - k_a - k_b + k_ab
    without_b = (a_only_k, a_only_n - a_only_k, rest_k, rest_n - rest_k)
    return np.array([with_b, without_b], dtype=np.float64)


def cmh(tables: FloatArray) -> tuple[float, float | None]:
    """Cochran-Mantel-Haenszel chi-square p (no continuity correction) and the Mantel-Haenszel
    odds ratio over strata ``tables`` (shape (K, 4): a, b, c, d). p is 1 when no stratum has both
    levels of both variables (the feature cannot be told apart from the stratifier)."""
    a, b, c, d = tables.T
    n = a + b + c + d
    ok = n > 1
    a, b, c, d, n = a[ok], b[ok], c[ok], d[ok], n[ok]
    expected = (a + b) * (a + c) / n
    variance = (a + b) * (c + d) * (a + c) * (b + d) / (n * n * (n - 1))
    total_var = float(variance.sum())
    num, den = float((a * d / n).sum()), float((b * c / n).sum())
    odds = num / den if den > 0 else None
    if total_var <= 0:
        return 1.0, odds
    from scipy.special import chdtrc

    chi2 = float((a.sum() - expected.sum()) ** 2 / total_var)
    return float(chdtrc(1, chi2)), odds


def interaction(cells: Sequence[tuple[int, int]]) -> tuple[float | None, float | None]:
    """Interaction of A and B on the log-odds scale and its Wald p, from (n, k) of the cells
    A&B, A&~B, ~A&B, ~A&~B (0.5 added to every count of a cell with an empty count)."""
    est, var = 0.0, 0.0
    for sign, (n, k) in zip((1, -1, -1, 1), cells, strict=True):
        if n <= 0:
            return None, None
        y, m = float(k), float(n - k)
        if y == 0 or m == 0:
            y, m = y + 0.5, m + 0.5
        est += sign * math.log(y / m)
        var += 1 / y + 1 / m
    z = est / math.sqrt(var)
    return est, math.erfc(abs(z) / math.sqrt(2))


@dataclass(frozen=True)
class Adjusted:
    """A feature's odds ratio adjusted for the other features of the joint model."""

    odds_ratio: float | None
    lo: float | None
    hi: float | None
    p: float | None
    reason: str | None = None


def joint_logistic(
    names: Sequence[str], design: FloatArray, n: npt.NDArray[np.int64], k: npt.NDArray[np.int64]
) -> dict[str, Adjusted]:
    """Logistic regression of the outcome on the columns of ``design`` (one row per presence
    pattern; ``n`` journeys, ``k`` with the outcome): statsmodels GLM, binomial, grouped — exactly
    the fit on the journeys with frequency weights."""
    from threadpoolctl import threadpool_limits

    # The matrices are small: one BLAS thread is faster than several fighting for the cores (on a
    # busy machine OpenBLAS threads made a 1,000-row fit 40x slower).
    with threadpool_limits(limits=1):
        return _joint_logistic(names, design, n, k)


def _joint_logistic(
    names: Sequence[str], design: FloatArray, n: npt.NDArray[np.int64], k: npt.NDArray[np.int64]
) -> dict[str, Adjusted]:
    separating = [i for i in range(design.shape[1]) if _separates(design[:, i], n, k)]
    usable = [i for i in _independent(design) if i not in separating]
    out: dict[str, Adjusted] = {
        name: Adjusted(None, None, None, None, "collinear with the other features of the joint model "
                       "(a combination of them): not adjusted")
        for i, name in enumerate(names) if i not in usable
    }  # fmt: skip
    for i in separating:
        out[names[i]] = Adjusted(
            None, None, None, None, "separates the outcome (every or no journey with, or without, it has the "
            "outcome): no finite odds ratio; see the contrast"
        )  # fmt: skip
    names = [names[i] for i in usable]
    design = design[:, usable]
    unstable = (
        "unstable in the joint model (quasi-separation with the other features): no finite adjusted "
        "odds ratio"
    )
    while names:
        fit = _fit(design, n, k)
        if fit is None:
            failed = "the joint model could not be fitted; the contrast and the stratified checks stand"
            return {**out, **{name: Adjusted(None, None, None, None, failed) for name in names}}
        params, bse, pvalues = (np.asarray(a)[1:] for a in (fit.params, fit.bse, fit.pvalues))
        bad = ~np.isfinite(params) | ~np.isfinite(bse) | (np.abs(params) > 15) | (bse > 5)
        if not bad.any():
            for i, name in enumerate(names):
                beta, se = float(params[i]), float(bse[i])
                out[name] = Adjusted(
                    math.exp(beta), math.exp(beta - Z95 * se), math.exp(beta + Z95 * se), float(pvalues[i])
                )
            return out
        # Drop the unstable columns and refit the rest, so one separated feature leaves the others'
        # adjustment intact.
        for j in np.flatnonzero(bad):
            out[names[int(j)]] = Adjusted(None, None, None, None, unstable)
        good = np.flatnonzero(~bad)
        names, design = [names[int(j)] for j in good], design[:, good]
    return out


def _fit(design: FloatArray, n: npt.NDArray[np.int64], k: npt.NDArray[np.int64]) -> Any:
    """The binomial GLM on one row per pattern (``k`` successes of ``n``): the same likelihood, and
    the same estimates and standard errors, as the journeys themselves with frequency weights (a
    test checks it), on half the rows of the two-rows-per-pattern form. None when it fails."""
    import warnings

    # The GLM module alone: statsmodels.api imports every model (a second more on a busy machine).
    from statsmodels.genmod import families
    from statsmodels.genmod.generalized_linear_model import GLM

    x = np.column_stack([np.ones(design.shape[0]), design])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # separation is checked on the estimates
        try:
            return GLM(np.column_stack([k, n - k]), x, family=families.Binomial()).fit()
        except (np.linalg.LinAlgError, ValueError, ArithmeticError):
            return None


def _independent(design: FloatArray) -> list[int]:
    """Columns kept, in order, so that with the intercept they are linearly independent (the rank
    of a set of columns is that of their small Gram matrix)."""
    x = np.column_stack([np.ones(design.shape[0]), design])
    gram = x.T @ x
    kept = [0]
    for i in range(1, x.shape[1]):
        trial = [*kept, i]  # (columns x columns: small, whatever the number of patterns)
        if np.linalg.matrix_rank(gram[np.ix_(trial, trial)]) == len(trial):
            kept = trial
    return [i - 1 for i in kept[1:]]


def _separates(column: FloatArray, n: npt.NDArray[np.int64], k: npt.NDArray[np.int64]) -> bool:
    """True when the journeys with, or those without, the feature all have, or all lack, the outcome."""
    for side in (column == 1, column == 0):
        total, hits = int(n[side].sum()), int(k[side].sum())
        if total and hits in (0, total):
            return True
    return False
