"""Logged next-best-action decisions of a chunk, with known propensities and a planted best action.

About half the customers of a chunk meet the (simulated) next-best-action policy once, at a
uniform time in the window, in one of :data:`STATES` (``journey_type|last_touchpoint``). The
logging policy picks an action with a probability that depends on the customer's segment
(:data:`PROPENSITY`): loyal customers mostly get ``none`` and succeed more often anyway, so a naive
per-action success rate is confounded and only propensity-weighted estimates are unbiased.

The reward (1 = the journey succeeded) is drawn from the true success probability
``BASE[state] + SEGMENT_SHIFT[segment] + EFFECT[state][action]``. One best action is planted:
in ``support|track_order``, ``offer_chat`` adds :data:`PLANTED_EFFECT`. The ground truth records
each action's true value per state: the mean success probability the logged customers of that
state would have had under the action (a sample-conditional truth, exact for this world).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from journeylens.synth import _catalogue as cat
from journeylens.synth import _ids as ids
from journeylens.synth._events import MICROS, Window

TIMESTAMP = pa.timestamp("us", tz="UTC")
DECISION_STREAM = 0xDEC
"""Decisions draw from ``(seed, 0xDEC, chunk)``: the chunk's main stream is untouched."""
DECISION_SHARE = 0.5

STATES = ("support|track_order", "support|delivery_faq", "purchase|checkout", "purchase|payment_error")
STATE_SHARES = (0.35, 0.20, 0.30, 0.15)
ACTIONS = ("none", "sms_tracking_link", "offer_chat", "skilled_team")
ACTION_TARGETS = {
    "none": None,
    "sms_tracking_link": ("delivery_update", "sms"),
    "offer_chat": ("delivery_chat", "chat"),
    "skilled_team": ("delivery_call", "call_center"),
}
"""The touchpoint and channel each action steers the customer to (the synthetic catalogue)."""
BASE = {
    "support|track_order": 0.45,
    "support|delivery_faq": 0.50,
    "purchase|checkout": 0.35,
    "purchase|payment_error": 0.25,
}
SEGMENT_SHIFT = {"first_time": -0.08, "loyal": 0.10, "occasional": 0.0}
PLANTED_STATE, PLANTED_ACTION, PLANTED_EFFECT = "support|track_order", "offer_chat", 0.15
EFFECT: dict[str, dict[str, float]] = {
    "support|track_order": {"sms_tracking_link": 0.05, "offer_chat": PLANTED_EFFECT, "skilled_team": 0.02},
    "support|delivery_faq": {"sms_tracking_link": 0.04, "offer_chat": 0.02, "skilled_team": 0.06},
    "purchase|checkout": {"sms_tracking_link": -0.02, "offer_chat": 0.03, "skilled_team": 0.0},
    "purchase|payment_error": {"sms_tracking_link": 0.0, "offer_chat": 0.05, "skilled_team": 0.08},
}
PROPENSITY = {
    "first_time": (0.20, 0.30, 0.20, 0.30),
    "loyal": (0.55, 0.15, 0.10, 0.20),
    "occasional": (0.30, 0.25, 0.25, 0.20),
}
"""Logging policy: probability of each action (in :data:`ACTIONS` order) per segment."""


def _success(state: np.ndarray, segment: np.ndarray) -> np.ndarray:
    """True success probability, shape (decisions, actions)."""
    base = np.array([BASE[s] for s in STATES])[state]
    shift = np.array([SEGMENT_SHIFT[s] for s in cat.SEGMENTS])[segment]
    effect = np.array([[EFFECT[s].get(a, 0.0) for a in ACTIONS] for s in STATES])[state]
    return (base + shift)[:, None] + effect


def decision_log(
    seed: int, index: int, segment: np.ndarray, user_ids: pa.Array, window: Window
) -> tuple[pa.Table, dict[str, float]]:
    """The chunk's ``decisions`` table and its truth sums (per state: decisions, true values)."""
    rng = np.random.default_rng([seed, DECISION_STREAM, index])
    who = np.flatnonzero(rng.random(len(segment)) < DECISION_SHARE)
    seg = segment[who]
    state = rng.choice(len(STATES), size=len(who), p=STATE_SHARES)
    probabilities = np.array([PROPENSITY[s] for s in cat.SEGMENTS])[seg]
    action = (rng.random(len(who))[:, None] > np.cumsum(probabilities, axis=1)).sum(axis=1)
    action = np.minimum(action, len(ACTIONS) - 1)
    truth = _success(state, seg)
    reward = (rng.random(len(who)) < truth[np.arange(len(who)), action]).astype(np.float64)
    micros = window.start_us + (rng.random(len(who)) * window.days * 86_400 * MICROS).astype(np.int64)
    table = pa.table(
        {
            "decision_id": pa.array([f"d{index:05d}-{k:07d}" for k in range(len(who))]),
            "timestamp": pa.array(micros, type=TIMESTAMP),
            "user_id": ids.take(user_ids, who),
            "state": ids.take(pa.array(STATES), state),
            "action": ids.take(pa.array(ACTIONS), action),
            "propensity": pa.array(probabilities[np.arange(len(who)), action]),
            "reward": pa.array(reward),
        }
    )
    stats: dict[str, float] = {}
    for code, name in enumerate(STATES):
        rows = state == code
        stats[f"decisions.{name}.n"] = float(rows.sum())
        for a, action_name in enumerate(ACTIONS):
            stats[f"decisions.{name}.{action_name}.value_sum"] = float(truth[rows, a].sum())
    return table, stats


def decisions_truth(sums: dict[str, float]) -> dict[str, Any]:
    """The ``decisions`` section of ``ground_truth.json`` from the summed chunk statistics."""
    states: dict[str, Any] = {}
    for name in STATES:
        n = sums.get(f"decisions.{name}.n", 0.0)
        values = {
            a: round(sums.get(f"decisions.{name}.{a}.value_sum", 0.0) / n, 6) if n else None for a in ACTIONS
        }
        best = max(ACTIONS, key=lambda a: values[a] or 0.0)
        states[name] = {"decisions": int(n), "true_value": values, "best_action": best}
    return {
        "table": "decisions (one logged decision per customer for about half the customers)",
        "model": "reward ~ Bernoulli(BASE[state] + SEGMENT_SHIFT[segment] + EFFECT[state][action]); "
        "the logging policy's propensity depends on the segment only (loyal customers mostly get "
        "'none'), so per-action success rates are confounded and IPS/DR are needed.",
        "actions": {
            a: (None if t is None else {"touchpoint": t[0], "channel": t[1]})
            for a, t in ACTION_TARGETS.items()
        },
        "propensities": {s: dict(zip(ACTIONS, p, strict=True)) for s, p in PROPENSITY.items()},
        "planted": {"state": PLANTED_STATE, "action": PLANTED_ACTION, "effect": PLANTED_EFFECT},
        "states": states,
    }
