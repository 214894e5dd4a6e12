"""Uplift T-learner on logged decisions: one outcome model per action, uplift = the difference.

For each action ``a`` a logistic model ``mu_a(x) = P(reward | x, a)`` is fitted on the decisions
that took ``a`` (scikit-learn ``LogisticRegression``, L2 with C = 10) on a feature matrix built
from Arrow batches streamed from the engine (a uniform sample of at most ``MAX_ROWS`` decisions).
The features ``x`` are the one-hot state and segment and their interaction cell. Uplift of ``a``
for a customer is ``mu_a(x) - mu_baseline(x)``. The models see the segment, which the logging
policy's propensity depends on in the synthetic world; confounders the features miss bias a
T-learner, which is why the doubly robust estimate (``nba.evaluation``) with its interval is
reported beside it.

**Interval** (:meth:`TLearner.interval`): a bootstrap over the decisions each model was fitted on,
:data:`DRAWS` (200) seeded draws per action. The features are categorical, so each action's sample
is kept as counts per (state, segment, reward) cell and a draw is a multinomial redraw of those
counts; the model is refitted with the counts as weights (the same penalised likelihood as the
refit on the redrawn rows, at the cost of a few dozen rows). The uplift of a draw is the
difference of the two actions' refitted predictions (their decisions are disjoint, so they are
redrawn independently; the refit is Newton's method on the same objective, checked against
scikit-learn in the tests); the interval is the 2.5% and 97.5% percentiles. It measures the sampling
error of the fitted models, not the bias of confounders they miss. Decisions of one customer are
redrawn one by one, not as a cluster: where customers have many decisions the interval is too
narrow.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

from journeylens.store import Store

BATCH_ROWS = 100_000
MAX_ROWS = 1_000_000
MIN_DECISIONS = 30
"""An action's model needs at least this many decisions with a reward."""
DRAWS = 200
"""Bootstrap draws per action for the uplift's interval."""
C = 10.0
"""Inverse L2 penalty of the outcome models."""


@dataclass(frozen=True)
class TLearner:
    """Fitted per-action models over a fixed one-hot encoding of (state, segment)."""

    states: list[str]
    segments: list[str]
    models: dict[str, object]
    #: Per action the fitted sample as counts: cell codes ``(state * segments + segment) * 2 + reward``
    #: and their counts.
    cells: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def _features(self, state: Sequence[str], segment: Sequence[str]) -> np.ndarray:
        return _encode(
            self.states, self.segments, np.asarray(state, dtype=object), np.asarray(segment, dtype=object)
        )

    def outcome(self, action: str, state: Sequence[str], segment: Sequence[str]) -> np.ndarray | None:
        model = self.models.get(action)
        if model is None:
            return None
        return np.asarray(model.predict_proba(self._features(state, segment))[:, 1])  # type: ignore[attr-defined]

    def uplift(
        self, action: str, baseline: str, state: Sequence[str], segment: Sequence[str]
    ) -> np.ndarray | None:
        treated, control = self.outcome(action, state, segment), self.outcome(baseline, state, segment)
        return None if treated is None or control is None else treated - control

    def draws(
        self, action: str, state: Sequence[str], segment: Sequence[str], seed: int = 0
    ) -> np.ndarray | None:
        """``DRAWS`` bootstrap refits of ``action``'s model: predictions, one row per draw (module doc)."""
        if action not in self.cells:
            return None
        codes, counts = self.cells[action]
        cell, reward = codes // 2, codes % 2
        g = len(self.segments)
        x = _encode(self.states, self.segments, np.asarray(self.states, dtype=object)[cell // g],
                    np.asarray(self.segments, dtype=object)[cell % g])  # fmt: skip
        asked = self._features(state, segment)
        rng = np.random.default_rng([seed, zlib.crc32(action.encode())])
        out = np.full((DRAWS, len(asked)), np.nan)
        for b in range(DRAWS):
            weight = rng.multinomial(int(counts.sum()), counts / counts.sum())
            drawn = weight > 0
            if reward[drawn].min() == reward[drawn].max():
                continue  # one reward class only: no model, the draw is left out
            beta = _penalised_logit(x[drawn], reward[drawn], weight[drawn].astype(np.float64))
            out[b] = _sigmoid(beta[0] + asked @ beta[1:])
        return out

    def interval(
        self, action: str, baseline: str, state: Sequence[str], segment: Sequence[str], seed: int = 0
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """95% bootstrap percentile interval of the uplift of ``action`` over ``baseline``."""
        treated, control = (
            self.draws(action, state, segment, seed),
            self.draws(baseline, state, segment, seed),
        )
        if treated is None or control is None:
            return None
        return percentiles(treated - control)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-z)))


def _penalised_logit(x: np.ndarray, y: np.ndarray, w: np.ndarray, iterations: int = 100) -> np.ndarray:
    """(intercept, coefficients) minimising scikit-learn's objective for ``LogisticRegression(C=C)``
    with ``sample_weight=w``: ||coef||² / 2 + C * sum(w * log-loss), intercept not penalised. Newton's
    method on a few dozen weighted rows (a draw's cells) instead of a solver set up per draw."""
    design = np.hstack([np.ones((len(x), 1)), x])
    penalty = np.eye(design.shape[1])
    penalty[0, 0] = 0.0
    beta = np.zeros(design.shape[1])
    for _ in range(iterations):
        p = _sigmoid(design @ beta)
        gradient = penalty @ beta + C * design.T @ (w * (p - y))
        hessian = penalty + C * (design.T * (w * p * (1 - p))) @ design
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-10:
            break
    return beta


def percentiles(draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 2.5% and 97.5% percentiles over the draws (rows) of each column, ignoring left-out draws."""
    lo, hi = np.nanpercentile(draws, [2.5, 97.5], axis=0)
    return np.asarray(lo), np.asarray(hi)


def _encode(states: list[str], segments: list[str], state: np.ndarray, segment: np.ndarray) -> np.ndarray:
    s = (state[:, None] == np.asarray(states, dtype=object)[None, :]).astype(np.float64)
    g = (segment[:, None] == np.asarray(segments, dtype=object)[None, :]).astype(np.float64)
    cell = (s[:, :, None] * g[:, None, :]).reshape(len(state), -1)
    return np.hstack([s, g, cell])


def _batches(store: Store, rows: ir.Table) -> Iterator[pa.RecordBatch]:
    yield from store.backend.to_pyarrow_batches(rows, chunk_size=BATCH_ROWS)


def fit_t_learner(store: Store, decisions: ir.Table, seed: int = 0) -> TLearner | None:
    """Fit one model per action with at least :data:`MIN_DECISIONS` rewarded decisions (both
    reward classes present); None without any. ``decisions``: state, action, segment, reward.

    Batches stream from the engine; each keeps a uniform sample of its rows (all of them up to
    :data:`MAX_ROWS` decisions in total), so memory is bounded by the sample, not the log.
    """
    from sklearn.linear_model import LogisticRegression

    rows = decisions.filter(decisions.reward.notnull()).select("state", "segment", "action", "reward")
    summary = store.execute(rows.group_by("action").agg(n=rows.count(), k=rows.reward.sum())).to_pylist()
    fit_actions = [r["action"] for r in summary if r["n"] >= MIN_DECISIONS and 0 < r["k"] < r["n"]]
    if not fit_actions:
        return None
    states = sorted(store.execute(rows.select("state").distinct()).column("state").to_pylist())
    segments = sorted(store.execute(rows.select("segment").distinct()).column("segment").to_pylist())
    keep = min(1.0, MAX_ROWS / sum(r["n"] for r in summary))
    rng = np.random.default_rng(seed)
    parts: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {a: [] for a in fit_actions}
    for batch in _batches(store, rows):
        sampled = rng.random(batch.num_rows) < keep
        action = np.asarray(batch.column("action").to_pylist(), dtype=object)[sampled]
        state = np.asarray(batch.column("state").to_pylist(), dtype=object)[sampled]
        segment = np.asarray(batch.column("segment").to_pylist(), dtype=object)[sampled]
        x = _encode(states, segments, state, segment)
        y = (np.asarray(batch.column("reward").to_numpy(zero_copy_only=False))[sampled] > 0).astype(int)
        cell = np.searchsorted(np.asarray(states, dtype=object), state) * len(segments) + np.searchsorted(
            np.asarray(segments, dtype=object), segment
        )
        for name in fit_actions:
            here = action == name
            if here.any():
                parts[name].append((x[here], y[here], cell[here] * 2 + y[here]))
    models: dict[str, object] = {}
    cells: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, chunks in parts.items():
        y = np.concatenate([c[1] for c in chunks])
        if 0 < y.sum() < len(y):
            models[name] = LogisticRegression(C=C, max_iter=1000).fit(np.vstack([c[0] for c in chunks]), y)
            cells[name] = np.unique(np.concatenate([c[2] for c in chunks]), return_counts=True)
    return TLearner(states, segments, models, cells) if models else None
