"""Employee experience linked to customer outcomes: team engagement and training.

Both compare case-mix adjusted first-contact resolution — the **excess** ``(O - E) / n`` of
observed over expected resolutions per contact (``workforce.casemix``) — so a team that takes
harder contacts in some month is not read as less engaged.

- **Engagement** (``employee_feedback`` metric ``engagement``, 1-5): per team and calendar month
  (workspace time zone), the mean answer and the team's excess FCR of its journeys first
  handled that month. The slope is estimated *within teams* (each team's months against its own
  average, weighted by contacts), so stable differences between teams (skill, routing) do not
  enter: ``slope = sum n x y / sum n x^2`` with ``x``, ``y`` the team-centred engagement and
  excess, and ``se = sqrt(sum x^2 V) / sum n x^2`` (V: the binomial null variance). It is an
  association: engagement answers are noisy (attenuating the slope) and months differ in other
  ways too.
- **Training** (metric ``training``, the completion time): contacts of trained agents after their
  (first) training against before, minus the same change for never-trained agents split at the
  median training time (difference in differences), with a 95% normal interval.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import ibis
import ibis.expr.types as ir

from journeylens.store import Store
from journeylens.store.names import TRAINING
from journeylens.workforce.casemix import Z95, sums
from journeylens.workforce.contacts import agent_teams

ENGAGEMENT = "engagement"


def employee_answers(store: Store) -> ir.Table | None:
    """``employee_feedback``, or None when the table is empty or absent."""
    if "employee_feedback" not in store.backend.list_tables():
        return None
    return store.table("employee_feedback")


def engagement_link(store: Store, answers: ir.Table | None, known: ir.Table) -> dict[str, Any]:
    """Within-team association of monthly engagement with excess FCR (module doc).

    ``answers``: :func:`employee_answers`; ``known``: the first contacts of agents in ``agents``,
    each with its expected FCR (``casemix.with_expected``).
    """
    if answers is None:
        return {"reason": "no employee_feedback table"}
    teams = agent_teams(store)
    eng = answers.filter((answers.metric == ENGAGEMENT) & answers.score.notnull())
    eng = eng.join(teams, eng.agent_id == teams._aid)
    month = store.local_time(eng.timestamp).truncate("M").strftime("%Y-%m")
    eng = eng.group_by(team=eng._team, month=month).agg(answers=eng.count(), engagement=eng.score.mean())
    e = known.mutate(month=store.local_time(known.first_at).truncate("M").strftime("%Y-%m"))
    oe = sums(e, "fcr", ["team", "month"])
    cells = store.execute(oe.join(eng, ["team", "month"]).order_by(["team", "month"])).to_pylist()
    return {"cells": cells, **within_team_slope(cells)}


def within_team_slope(cells: list[dict[str, Any]]) -> dict[str, Any]:
    """Weighted within-team slope of excess FCR on engagement, with its 95% interval."""
    by_team: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in cells:
        if c["n"]:
            by_team[c["team"]].append(c)
    sxy = sxx = sv = 0.0
    used = 0
    for months in by_team.values():
        if len(months) < 2:
            continue
        n = sum(c["n"] for c in months)
        x_bar = sum(c["n"] * c["engagement"] for c in months) / n
        y_bar = sum(c["observed"] - c["expected"] for c in months) / n
        for c in months:
            x = c["engagement"] - x_bar
            y = (c["observed"] - c["expected"]) / c["n"] - y_bar
            sxy += c["n"] * x * y
            sxx += c["n"] * x * x
            sv += x * x * c["variance"]
            used += 1
    if sxx <= 0:
        return {"slope": None, "reason": "no team has two months with engagement answers and contacts"}
    slope, se = sxy / sxx, math.sqrt(sv) / sxx
    return {"slope": slope, "lo": slope - Z95 * se, "hi": slope + Z95 * se, "se": se, "team_months": used}


def training_link(store: Store, answers: ir.Table | None, known: ir.Table) -> dict[str, Any]:
    """Difference in differences of excess FCR around training (module doc); arguments as for
    :func:`engagement_link`."""
    if answers is None:
        return {"reason": "no employee_feedback table"}
    trained = answers.filter(answers.metric == TRAINING)
    trained = trained.group_by(_tid=trained.agent_id).agg(trained_at=trained.timestamp.min())
    times = store.execute(trained.select("trained_at").order_by("trained_at")).column(0).to_pylist()
    if not times:
        return {"reason": "no training rows (employee_feedback metric training)"}
    median = times[len(times) // 2]
    e = known.left_join(trained, known.agent_id == trained._tid)
    split = e.trained_at.fill_null(ibis.literal(median, type=e.first_at.type()))
    e = e.mutate(trained=e.trained_at.notnull(), after=e.first_at >= split)
    cells = {
        (r["trained"], r["after"]): r for r in store.execute(sums(e, "fcr", ["trained", "after"])).to_pylist()
    }
    return {"trained_agents": len(times), "control_split": str(median), **difference_in_differences(cells)}


def difference_in_differences(cells: dict[tuple[bool, bool], dict[str, Any]]) -> dict[str, Any]:
    """``(after - before)`` of trained minus that of untrained, in excess FCR per contact."""
    if len(cells) < 4 or any(not c["n"] for c in cells.values()):
        return {"effect": None, "reason": "trained and untrained agents need contacts before and after"}

    def excess(key: tuple[bool, bool]) -> tuple[float, float]:
        c = cells[key]
        return (c["observed"] - c["expected"]) / c["n"], c["variance"] / c["n"] ** 2

    parts = {key: excess(key) for key in cells}
    trained = parts[(True, True)][0] - parts[(True, False)][0]
    control = parts[(False, True)][0] - parts[(False, False)][0]
    se = math.sqrt(sum(v for _, v in parts.values()))
    effect = trained - control
    return {
        "effect": effect, "lo": effect - Z95 * se, "hi": effect + Z95 * se, "se": se,
        "trained_change": trained, "control_change": control,
        "groups": [
            {"trained": k[0], "after": k[1], **{f: c[f] for f in ("n", "observed", "expected")}}
            for k, c in sorted(cells.items())
        ],
    }  # fmt: skip
