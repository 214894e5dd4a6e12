"""What deviations from a map are associated with: deviating journeys against conforming ones.

:func:`deviation_cost_rows` compares the map's deviating journeys (all, those breaking a rule, and
per CJML deviation kind) with its conforming journeys; :func:`stage_cost_rows` does the same per
stage, for the journeys with a deviation placed at that stage (the stage is the grouping key of one
engine aggregation). Both measure success, duration, assisted contacts and cost to serve (95%
intervals, the difference with its interval, a test, Benjamini-Hochberg q over the table), and the
money the differences imply under the map's costs. An *association*: deviating journeys differ in
many ways, and the difference is not what fixing the deviation would save.

:func:`stage_deviations` gives the deviations lane of ``map show`` and the report: per stage the
share of the map's journeys with a deviation there and these costs.

Example:
    >>> lane = stage_deviations(ws.store, journey_map, ws.config.journeys)  # doctest: +SKIP
    >>> lane["checkout"]["success_diff"]  # doctest: +SKIP
    -0.31
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir

from journeylens.discovery._compare import GROUP, METRICS, MeanMetric, Plan, Stat, comparison_rows
from journeylens.errors import JourneyLensError
from journeylens.maps.conformance import deviated_at
from journeylens.maps.model import DEVIATION_KINDS, JourneyMap

if TYPE_CHECKING:
    from journeylens.journeys.definitions import JourneyRules
    from journeylens.maps._result import StageDeviations
    from journeylens.store import Store

__all__ = ["COST_METRICS", "deviation_cost_rows", "stage_cost_rows", "stage_deviations"]

CONFORMING, DEVIATING, RULES = "conforming", "deviating", "rule_broken"
CONTACTS = MeanMetric("assisted_contacts", "assisted contacts per journey")
COST_METRICS = (METRICS["success"], METRICS["duration_s"], CONTACTS, METRICS["cost_to_serve"])
_COLUMNS = (
    "journey_id", "customer_id", "outcome", "duration_s", "assisted_contacts", "cost_to_serve", "leakage",
    "digital_events", "first_contact_resolution", "repeat_contacts", "repeat_journey", "value",
)  # fmt: skip
_AT = "@"
"""Prefix of a stage's tag in the per-stage aggregation, so no stage name can be ``conforming``."""
NOTE = "associated with, not caused by, the deviation: compared with conforming journeys"


def _with_verdicts(journeys: ir.Table, verdicts: ir.Table) -> ir.Table:
    return journeys.select(*_COLUMNS).join(verdicts.drop("outcome", GROUP), "journey_id")


def deviation_cost_rows(
    store: Store, jm: JourneyMap, journeys: ir.Table, verdicts: ir.Table, rules: JourneyRules | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Deviating journeys (all, and per deviation kind) against conforming ones, and the money the
    differences imply under the map's costs (association, not cause)."""
    full = _with_verdicts(journeys, verdicts)
    tags = [(CONFORMING, full.conforms), (DEVIATING, ~full.conforms), (RULES, full.rules_broken > 0)]
    tags += [(kind, full[kind] > 0) for kind in DEVIATION_KINDS]
    parts = [full.filter(cond).select(*_COLUMNS, **{GROUP: ibis.literal(tag)}) for tag, cond in tags]
    tagged = parts[0]
    for part in parts[1:]:
        tagged = tagged.union(part, distinct=False)
    return _against_conforming(store, jm, journeys, tagged, [t for t, _ in tags], rules)


def stage_cost_rows(
    store: Store, jm: JourneyMap, journeys: ir.Table, checked: ir.Table, rules: JourneyRules | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per stage, the journeys with a deviation placed at it (any kind; ad-hoc touchpoints have no
    stage) against conforming journeys, and the money implied: the rows of
    :func:`deviation_cost_rows` with ``group`` deviating (or conforming, the baseline) and ``stage``.
    ``checked`` is the per-journey table of ``conformance.journey_checks``."""
    full = _with_verdicts(journeys, checked)
    at = deviated_at(jm, full)
    tagged = full.filter(full.conforms).select(*_COLUMNS, **{GROUP: ibis.literal(CONFORMING)})
    for i, flag in at.items():
        here = full.filter(flag).select(*_COLUMNS, **{GROUP: ibis.literal(_AT + jm.stages[i].name)})
        tagged = tagged.union(here, distinct=False)
    order = [CONFORMING, *(_AT + s.name for s in jm.stages)]
    rows, money = _against_conforming(store, jm, journeys, tagged, order, rules)
    return [_staged(r) for r in rows], [_staged(m) for m in money]


def _staged(row: dict[str, Any]) -> dict[str, Any]:
    """A per-stage row with ``group`` deviating (or conforming) and ``stage`` (None: conforming)."""
    tag = str(row["group"])
    stage = tag.removeprefix(_AT) if tag.startswith(_AT) else None
    rest = {k: v for k, v in row.items() if k != "group"}
    return {"group": DEVIATING if stage is not None else tag, "stage": stage, **rest}


def _against_conforming(
    store: Store,
    jm: JourneyMap,
    journeys: ir.Table,
    tagged: ir.Table,
    order: list[str],
    rules: JourneyRules | None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Each tagged group (``order``, those present) against the conforming journeys, in one
    aggregation; nothing when no journey conforms."""
    stats, sizes = _tag_stats(store, tagged)
    if CONFORMING not in stats:
        return [], []
    plan: Plan = [(t, CONFORMING, [CONFORMING]) for t in order if t in stats and t != CONFORMING]
    plan.append((CONFORMING, None, []))
    rows = comparison_rows("group", plan, COST_METRICS, stats)
    for row in rows:
        row["journeys"] = sizes[row["group"]]["journeys"]
    return rows, _money(store, jm, journeys, rows, rules)


def _tag_stats(
    store: Store, tagged: ir.Table
) -> tuple[dict[str, dict[str, Stat]], dict[str, dict[str, int]]]:
    """Each tag's statistics and journeys in one aggregation (``discovery._compare.aggregate``
    without its distinct customer count, which costs a pass and is not shown here)."""
    aggs: dict[str, ir.Value] = {"journeys": tagged.count()}
    for metric in COST_METRICS:
        aggs.update(metric.aggregations(tagged))
    rows = store.execute(tagged.group_by(GROUP).agg(**aggs)).to_pylist()
    stats = {r[GROUP]: {m.name: m.statistic(r) for m in COST_METRICS} for r in rows}
    return stats, {r[GROUP]: {"journeys": int(r["journeys"])} for r in rows}


def _money(
    store: Store, jm: JourneyMap, journeys: ir.Table, rows: list[dict[str, Any]], rules: JourneyRules | None
) -> list[dict[str, Any]]:
    lost = jm.costs.lost_conversion
    basis = "map costs.lost_conversion"
    if lost is None:
        won = journeys.filter(journeys.outcome == "success")
        mean = store.execute(won.value.fill_null(0.0).mean()).as_py()
        lost, basis = (float(mean), "mean value of successful journeys") if mean else (None, basis)
    by = {(r["group"], r["metric"]): {**r, "diff": _gap(r)} for r in rows}
    out = []
    for group in dict.fromkeys(r["group"] for r in rows if r["baseline"] is not None):
        parts: dict[str, float | None] = {}
        contacts = by[(group, CONTACTS.name)]["diff"]
        if jm.costs.assisted_contact is not None and contacts is not None:
            parts["assisted_contacts"] = contacts * jm.costs.assisted_contact
        elif rules is not None and rules.priced() and by[(group, "cost_to_serve")]["diff"] is not None:
            parts["cost_to_serve"] = by[(group, "cost_to_serve")]["diff"]
        duration = by[(group, "duration_s")]["diff"]
        if jm.costs.hour_of_delay is not None and duration is not None:
            parts["delay"] = duration / 3600 * jm.costs.hour_of_delay
        success = by[(group, "success")]["diff"]
        if lost is not None and success is not None:
            parts["lost_conversions"] = -success * lost
        per = sum(v for v in parts.values() if v is not None) if parts else None
        n = by[(group, "success")]["journeys"]
        out.append({
            "group": group, "journeys": n, "per_journey": per, "total": None if per is None else per * n,
            "parts": parts, "lost_conversion_basis": basis if "lost_conversions" in parts else None,
            "note": NOTE,
        })  # fmt: skip
    return out


def _gap(row: dict[str, Any]) -> float | None:
    """Group value minus the conforming journeys' (also when too few values for a test)."""
    if row["value"] is None or row["baseline_value"] is None:
        return None
    return float(row["value"]) - float(row["baseline_value"])


def stage_deviations(
    store: Store, journey_map: JourneyMap, rules: JourneyRules | None
) -> dict[str, StageDeviations] | None:
    """The map checked (``journeylens map check``): per stage, the share of the map's journeys with
    a deviation placed at it (any CJML kind), and what those journeys' success rate and cost to
    serve differ by from conforming journeys', with the money implied (association). None when the
    check cannot run (the drawing then says how to run it)."""
    from journeylens.maps.check import check_map

    try:
        checked = check_map(store, journey_map, rules=rules)
    except JourneyLensError:
        return None
    total = int(checked.summary().get("journeys") or 0)
    if not total:
        return None
    counts = next(iter(checked.stage_journeys.values()), {})
    rows = {(r["stage"], r["metric"]): r for r in checked.stage_costs if r["stage"] is not None}
    money = {m["stage"]: m for m in checked.stage_money}
    lane: dict[str, StageDeviations] = {}
    for s in journey_map.stages:
        success, cost = rows.get((s.name, "success"), {}), rows.get((s.name, "cost_to_serve"), {})
        lane[s.name] = {
            "share": counts.get(s.name, 0) / total,
            "journeys": counts.get(s.name, 0),
            "cost": money.get(s.name, {}).get("total"),
            "cost_per_journey": money.get(s.name, {}).get("per_journey"),
            "success_diff": _gap(success) if success else None,
            "success_diff_lo": success.get("diff_lo"),
            "success_diff_hi": success.get("diff_hi"),
            "cost_to_serve_diff": _gap(cost) if cost else None,
            "cost_to_serve_diff_lo": cost.get("diff_lo"),
            "cost_to_serve_diff_hi": cost.get("diff_hi"),
        }
    return lane
