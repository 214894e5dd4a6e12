"""Uplift T-learner on logged decisions: one outcome model per action, uplift = the difference.

For each action ``a`` a logistic model ``mu_a(x) = P(reward | x, a)`` is fitted on the decisions
that took ``a`` (scikit-learn ``LogisticRegression``, L2 with C = 10) on a feature matrix built
from Arrow batches streamed from the engine (a uniform sample of at most ``MAX_ROWS`` decisions).
The features ``x`` are the one-hot state and segment and their interaction cell. Uplift of ``a``
for a customer is ``mu_a(x) - mu_baseline(x)``. The models see the segment, which the logging
policy's propensity depends on in the synthetic world; confounders the features miss bias a
T-learner, which is why the doubly robust estimate (``nba.evaluation``) with its interval is
reported beside it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

from journeylens.store import Store

BATCH_ROWS = 100_000
MAX_ROWS = 1_000_000
MIN_DECISIONS = 30
"""An action's model needs at least this many decisions with a reward."""


@dataclass(frozen=True)
class TLearner:
    """Fitted per-action models over a fixed one-hot encoding of (state, segment)."""

    states: list[str]
    segments: list[str]
    models: dict[str, object]

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
    parts: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {a: [] for a in fit_actions}
    for batch in _batches(store, rows):
        sampled = rng.random(batch.num_rows) < keep
        action = np.asarray(batch.column("action").to_pylist(), dtype=object)[sampled]
        x = _encode(states, segments, np.asarray(batch.column("state").to_pylist(), dtype=object)[sampled],
                    np.asarray(batch.column("segment").to_pylist(), dtype=object)[sampled])  # fmt: skip
        y = (np.asarray(batch.column("reward").to_numpy(zero_copy_only=False))[sampled] > 0).astype(int)
        for name in fit_actions:
            here = action == name
            if here.any():
                parts[name].append((x[here], y[here]))
    models: dict[str, object] = {}
    for name, chunks in parts.items():
        y = np.concatenate([c[1] for c in chunks])
        if 0 < y.sum() < len(y):
            models[name] = LogisticRegression(C=10.0, max_iter=1000).fit(np.vstack([c[0] for c in chunks]), y)
    return TLearner(states, segments, models) if models else None
