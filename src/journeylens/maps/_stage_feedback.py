"""Feedback scores per stage of a map, for the stage KPIs csat, nps and ces.

An answer counts for a stage when its ``touchpoint`` is one of the stage's touchpoints and its
respondent (found by user id or anonymous id through the customer map) is a customer whose
journey of the map reached that stage — the touchpoint inventory's rule, per stage. CSAT and CES
are mean scores (t interval); NPS is the share of promoters (9-10) minus the share of detractors
(0-6), in points, with a normal interval of that mean of +1/0/-1 per answer.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir

from journeylens.maps.conformance import GROUP
from journeylens.maps.model import JourneyMap
from journeylens.specs.identity import ANONYMOUS, USER

if TYPE_CHECKING:
    from journeylens.store import Store

__all__ = ["FEEDBACK_METRICS", "stage_feedback"]

FEEDBACK_METRICS = ("csat", "nps", "ces")
Z95 = 1.959963984540054


def _answers(store: Store) -> ir.Table:
    fb = store.table("feedback")
    cmap = store.backend.table("customer_map")
    ids = cmap.filter(cmap.identifier_type.isin([USER, ANONYMOUS]))
    ids = ids.select(_type=ids.identifier_type, _value=ids.identifier_value, _customer=ids.customer_id)
    by_user = fb.filter(fb.user_id.notnull()).join(ids, [fb.user_id == ids._value, ids._type == USER])
    by_anon = fb.filter(fb.user_id.isnull()).join(
        ids, [fb.anonymous_id == ids._value, ids._type == ANONYMOUS]
    )
    cols = ["touchpoint", "metric", "score"]
    return by_user.select(*cols, customer_id="_customer").union(
        by_anon.select(*cols, customer_id="_customer"), distinct=False
    )


def stage_feedback(
    store: Store, journey_map: JourneyMap, journeys: ir.Table, times: ir.Table
) -> dict[tuple[str, str, str], tuple[float | None, float | None, float | None, int]]:
    """(group, stage, metric) -> (value, lower, upper, answers), for the metrics stage KPIs name."""
    wanted = {k.metric.value for s in journey_map.stages for k in s.kpis} & set(FEEDBACK_METRICS)
    if not wanted or int(store.execute(store.table("feedback").count()).as_py()) == 0:
        return {}
    stage_tps = [{"stage": s.name, "touchpoint": tp} for s in journey_map.stages for tp in s.touchpoints]
    if not stage_tps:
        return {}
    reached = times.join(journeys.select("journey_id", "customer_id"), "journey_id")
    reached = reached.filter(reached.customer_id.notnull()).select(GROUP, "stage", "customer_id").distinct()
    answers = _answers(store).filter(ibis._.metric.isin(sorted(wanted)))
    answers = answers.join(ibis.memtable(stage_tps), "touchpoint")
    scoped = answers.join(reached, ["stage", "customer_id"])
    score = scoped.score.cast("float64")
    nps = ibis.cases((score >= 9, 1.0), (score <= 6, -1.0), else_=0.0)
    value = ibis.cases((scoped.metric == "nps", nps), else_=score)
    agg = scoped.group_by(GROUP, "stage", "metric").agg(n=scoped.count(), mean=value.mean(), sd=value.std())
    out: dict[tuple[str, str, str], tuple[float | None, float | None, float | None, int]] = {}
    for row in store.execute(agg).to_pylist():
        n, mean, sd = int(row["n"]), float(row["mean"]), row["sd"]
        scale = 100.0 if row["metric"] == "nps" else 1.0
        half = None if n < 2 or sd is None else Z95 * float(sd) / math.sqrt(n) * scale
        centre = mean * scale
        lo, hi = (None, None) if half is None else (centre - half, centre + half)
        out[(row[GROUP], row["stage"], row["metric"])] = (centre, lo, hi, n)
    return out


def feedback_value(found: dict[tuple[str, str, str], Any], key: tuple[str, str, str], reason: str) -> Any:
    """The KPI value tuple of :mod:`journeylens.maps.timing` for a feedback metric."""
    hit = found.get(key)
    if hit is None:
        return None, None, None, 0, None, reason
    value, lo, hi, n = hit
    return value, lo, hi, n, None, None
