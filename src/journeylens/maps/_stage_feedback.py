"""Feedback scores per stage of a map, for the stage KPIs csat, nps and ces.

An answer counts for a stage when it is linked to one of the checked journeys (``feedback_links``)
and is about that stage (:func:`journeylens.maps.stage_assignment.answer_stage_ranks`: the stage
of the step it was linked to, unless the survey names another touchpoint) — the same placement as
``feedback scores --by stage`` and the emotion curve. CSAT and CES are mean scores with a Student
t interval; NPS is promoters (9-10) minus detractors (0-6), in points, with the Adjusted-Wald
interval of ``voc/score_stats.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ibis.expr.types as ir

from journeylens.discovery._stats import Moments
from journeylens.maps.conformance import GROUP
from journeylens.maps.model import JourneyMap
from journeylens.maps.stage_assignment import answer_stage_ranks, stage_name
from journeylens.voc.score_stats import NetPromoter

if TYPE_CHECKING:
    from journeylens.store import Store

__all__ = ["FEEDBACK_METRICS", "feedback_value", "stage_feedback"]

FEEDBACK_METRICS = ("csat", "nps", "ces")
PROMOTER, DETRACTOR = 9, 6
Found = dict[tuple[str, str, str], tuple[float | None, float | None, float | None, int]]


def stage_answers(store: Store, journey_map: JourneyMap, journeys: ir.Table) -> ir.Table:
    """Scored answers linked to ``journeys`` (which need ``journey_id``; their other columns are
    kept) with ``metric``, ``score``, ``answered_at`` and ``stage`` (the name; NULL: about no
    stage of the map)."""
    links = store.backend.table("feedback_links").select("feedback_id", "journey_id")
    fb = store.table("feedback")
    fb = fb.filter(fb.score.notnull()).select(
        _fid=fb.feedback_id, metric=fb.metric, score=fb.score.cast("float64"), answered_at=fb.timestamp
    )
    ranks = answer_stage_ranks(store, journey_map.stages).rename(_rid="feedback_id")
    rows = links.join(journeys, "journey_id").join(fb, links.feedback_id == fb._fid)
    rows = rows.left_join(ranks, rows.feedback_id == ranks._rid)
    return rows.mutate(stage=stage_name(rows.stage_rank, journey_map.stages)).drop("_fid", "_rid")


def stage_feedback(store: Store, journey_map: JourneyMap, times: ir.Table) -> Found:
    """(group, stage, metric) -> (value, lower, upper, answers), for the metrics stage KPIs name;
    ``times`` gives each checked journey's group (``journey_id``, ``_group``)."""
    wanted = {k.metric.value for s in journey_map.stages for k in s.kpis} & set(FEEDBACK_METRICS)
    if not wanted or not store.count("feedback"):
        return {}
    groups = times.select("journey_id", GROUP).distinct()
    rows = stage_answers(store, journey_map, groups)
    rows = rows.filter(rows.stage.notnull() & rows.metric.isin(sorted(wanted)))
    score = rows.score
    agg = rows.group_by(GROUP, "stage", "metric").agg(
        n=rows.count(),
        mean=score.mean(),
        var=score.var(how="sample"),
        promoters=(score >= PROMOTER).cast("int64").sum(),
        detractors=(score <= DETRACTOR).cast("int64").sum(),
    )
    out: Found = {}
    for row in store.execute(agg).to_pylist():
        n = int(row["n"])
        key = (row[GROUP], row["stage"], row["metric"])
        if row["metric"] == "nps":
            nps = NetPromoter(int(row["promoters"]), int(row["detractors"]), n)
            lo, hi = nps.interval()
            out[key] = (_points(nps.value), _points(lo), _points(hi), n)
        else:
            moments = Moments.of(n, row["mean"], row["var"])
            lo, hi = moments.interval()
            out[key] = (moments.value, lo, hi, n)
    return out


def _points(value: float | None) -> float | None:
    return None if value is None else value * 100.0


def feedback_value(found: dict[tuple[str, str, str], Any], key: tuple[str, str, str], reason: str) -> Any:
    """The KPI value tuple of :mod:`journeylens.maps.timing` for a feedback metric."""
    hit = found.get(key)
    if hit is None:
        return None, None, None, 0, None, reason
    value, lo, hi, n = hit
    return value, lo, hi, n, None, None
