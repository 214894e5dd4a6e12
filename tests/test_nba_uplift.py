"""The T-learner's uplift interval (nba/uplift.py): a bootstrap over the fitted decisions, redrawn
as counts per (state, segment, reward) cell, seeded. On a known truth its width matches the
binomial standard error of the difference, and it covers the true uplift."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from journeylens.nba.uplift import C, TLearner, _encode


def _fitted(n: int, rates: dict[str, float]) -> TLearner:
    """One state and one segment; ``n`` decisions per action with exactly ``rate * n`` rewards."""
    states, segments = ["s"], ["g"]
    models, cells = {}, {}
    for action, rate in rates.items():
        k = round(rate * n)
        y = np.r_[np.ones(k, dtype=int), np.zeros(n - k, dtype=int)]
        x = _encode(states, segments, np.full(n, "s", dtype=object), np.full(n, "g", dtype=object))
        models[action] = LogisticRegression(C=C, max_iter=1000).fit(x, y)
        cells[action] = (np.array([0, 1]), np.array([n - k, k]))  # cell 0: reward 0, then reward 1
    return TLearner(states, segments, models, cells)


def test_interval_covers_the_truth_with_the_binomial_width() -> None:
    model = _fitted(1_000, {"a": 0.6, "b": 0.4})
    point = model.uplift("a", "b", ["s"], ["g"])
    bounds = model.interval("a", "b", ["s"], ["g"])
    assert point is not None and bounds is not None
    lo, hi = bounds[0][0], bounds[1][0]
    assert lo < 0.2 < hi and lo < point[0] < hi
    half = 1.96 * math.sqrt(0.24 / 1_000 + 0.24 / 1_000)
    assert (hi - lo) / 2 == pytest.approx(half, rel=0.25)


def test_interval_is_seeded_and_needs_both_models() -> None:
    model = _fitted(200, {"a": 0.5, "b": 0.3})
    first, again = model.interval("a", "b", ["s"], ["g"]), model.interval("a", "b", ["s"], ["g"])
    assert first is not None and again is not None
    assert (first[0][0], first[1][0]) == (again[0][0], again[1][0])
    assert model.interval("a", "missing", ["s"], ["g"]) is None


def test_the_draws_refit_solves_scikit_learns_objective() -> None:
    from journeylens.nba.uplift import _penalised_logit

    rng = np.random.default_rng(3)
    x = _encode(["s1", "s2"], ["g1", "g2"], rng.choice(np.array(["s1", "s2"], dtype=object), 40),
                rng.choice(np.array(["g1", "g2"], dtype=object), 40))  # fmt: skip
    y, w = rng.integers(0, 2, 40), rng.integers(1, 9, 40).astype(float)
    ours = _penalised_logit(x, y, w)
    reference = LogisticRegression(C=C, max_iter=10_000, tol=1e-12).fit(x, y, sample_weight=w)
    assert ours[0] == pytest.approx(reference.intercept_[0], abs=1e-5)
    assert ours[1:] == pytest.approx(reference.coef_[0], abs=1e-5)
