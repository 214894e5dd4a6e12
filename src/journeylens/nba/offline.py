"""The offline evaluation section of ``journeylens nba``: logged decisions in, honest estimates out.

From the ``decisions`` table (one engine pass, ``nba.evaluation.decision_cells``): every logged
action's value per state (IPS, SNIPS, DR with 95% CLT intervals and effective sample sizes), the
DR uplift of each action over the baseline per state, and a candidate policy's value against the
logged policy's. Decisions without a propensity or a reward are counted and left out, never
silently. When no decision carries a propensity, no offline estimate is honest (the logging
policy is unknown, so nothing can be reweighted): the result says so and proposes an exploration
share instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from journeylens.errors import InputError
from journeylens.nba.evaluation import (
    Cells,
    action_values,
    decision_cells,
    dr_uplift,
    exploration_share,
    policy_value,
)
from journeylens.store import Store

NO_DECISIONS = (
    "no decisions are logged (the decisions table is empty): there is no logging policy to "
    "evaluate against; recommendations rest on journey transitions only"
)
NO_PROPENSITY = (
    "no logged decision carries its propensity: without the probability the logging policy had "
    "of each action, no offline estimate (IPS, SNIPS or doubly robust) is honest; log "
    "propensities and randomise a share of decisions (see exploration)"
)


@dataclass(frozen=True)
class Offline:
    """What the logged decisions say: per state and action, the candidate policy, exclusions."""

    decisions: int = 0
    excluded: dict[str, int] = field(default_factory=dict)
    reason: str | None = None
    actions: list[dict[str, Any]] = field(default_factory=list)
    """Per state and action: value (IPS, SNIPS, DR, intervals, ESS), uplift over the baseline, rank."""
    policy: dict[str, str] = field(default_factory=dict)
    policy_source: str = ""
    candidate: dict[str, Any] = field(default_factory=dict)
    exploration: dict[str, Any] = field(default_factory=dict)
    cells: Cells | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "decisions": self.decisions, "excluded": self.excluded, "reason": self.reason,
            "policy": self.policy, "policy_source": self.policy_source, "candidate": self.candidate,
            "exploration": self.exploration, "actions": self.actions,
        }  # fmt: skip

    def uplift(self, state: str, action: str) -> dict[str, Any] | None:
        return next((r for r in self.actions if r["state"] == state and r["action"] == action), None)


def offline(store: Store, baseline: str, policy: Mapping[str, str]) -> Offline:
    """Evaluate the logged decisions (module doc); ``policy`` empty: the greedy DR policy."""
    table = store.execute(decision_cells(store.table("decisions")).order_by(["state", "action"]))
    rows = table.to_pylist()
    total = sum(int(r["n"]) + int(r["no_propensity"]) + int(r["no_reward"]) for r in rows)
    excluded = {
        "no_propensity": sum(int(r["no_propensity"]) for r in rows),
        "no_reward": sum(int(r["no_reward"]) for r in rows),
    }
    if total == 0:
        return Offline(reason=NO_DECISIONS)
    per_state: dict[str, int] = {}
    for r in rows:
        per_state[r["state"]] = per_state.get(r["state"], 0) + int(r["n"]) + int(r["no_propensity"])
    actions = sorted({r["action"] for r in rows})
    explore = exploration_share(min(per_state.values()), len(actions))
    usable = [r for r in rows if r["n"] > 0]
    if not usable:
        reason = NO_PROPENSITY if excluded["no_propensity"] else "no logged decision has a reward yet"
        return Offline(total, excluded, reason, exploration=explore)
    cells = Cells.of(table.filter(table.column("n").to_numpy() > 0))
    values = action_values(cells)
    for r in values:
        up = dr_uplift(cells, r["state"], r["action"], baseline) if r["action"] != baseline else None
        r.update(
            up.record("uplift")
            if up
            else {"uplift": None, "uplift_se": None, "uplift_lo": None, "uplift_hi": None}
        )
        r["uplift_reason"] = _uplift_reason(r, baseline, cells)
    source = "given" if policy else "greedy"
    chosen = dict(policy) or {r["state"]: r["action"] for r in values if r["rank"] == 1}
    _check_policy(chosen, cells)
    candidate = policy_value(cells, chosen, cells.states).record()
    return Offline(total, excluded, None, values, chosen, source, candidate, explore, cells)


def _uplift_reason(r: dict[str, Any], baseline: str, cells: Cells) -> str | None:
    if r["action"] == baseline:
        return "the baseline itself"
    if r["uplift"] is not None:
        return None
    if baseline not in cells.actions:
        return f"the baseline action '{baseline}' was never logged: no uplift against it"
    return "too few decisions in this state for an interval"


def _check_policy(policy: Mapping[str, str], cells: Cells) -> None:
    for state, action in policy.items():
        if state not in cells.states:
            raise InputError.unknown_choice("--policy state", state, cells.states)
        if action not in cells.actions:
            raise InputError.unknown_choice("--policy action", action, cells.actions)
