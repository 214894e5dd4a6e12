"""Every stage metric of a map as a daily or weekly series, computed in the engine.

A map's journeys are those of its journey type (and segment). Each of their events is given the
rank of the first stage, in map order, whose matching criteria it meets
(:func:`~journeylens.maps.stage_assignment.stage_rank`, as in map check and map show);
per journey and stage the first and last event times follow, and from them:

* **volume** — journeys that reach the stage;
* **conversion** (``resolution`` for maps whose KPIs speak of resolution) — of the journeys that
  reach the stage and whose outcome is decided, those that succeed;
* **time_within_target** — of the journeys that reach a stage with a time target, those whose
  time in the stage is within it. Time in stage runs from the stage's first event to the first
  event of the next stage the journey reaches (in map order, when it comes later), else to the
  stage's last event;
* **missing_required_stage** (stage :data:`JOURNEY_STAGE`) — journeys of the map that never reach
  one of its required stages. A deliberately simple, self-contained deviation rate; the
  conformance module's deviation kinds can replace it under another metric name;
* **feedback_<metric>** — the mean score of answers linked to the map's journeys
  (:func:`~journeylens.journeys.feedback_link.link_feedback`), per stage when the answer's
  touchpoint belongs to a stage, else for the whole journey.

A journey belongs to the period (local day, or week from Monday) in which it started. Only the
per-period aggregates reach Python: three small aggregations, whatever the number of events.

Example:
    >>> tables = stage_aggregates(ws.store, journey_map, period)  # doctest: +SKIP
    >>> series = map_series(journey_map, tables, period="day")  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from journeylens.journeys.undefined import UNDECIDED
from journeylens.maps.model import JourneyMap, KpiMetric, MonitorPeriod
from journeylens.maps.monitor_stats import ContinuousSeries, ProportionSeries, Series, SeriesName
from journeylens.maps.stage_assignment import map_events, stage_rank
from journeylens.store._backend import json_text
from journeylens.store._working import drop_scratch, scratch_table

if TYPE_CHECKING:
    from journeylens.store import Store

__all__ = [
    "JOURNEY_STAGE",
    "MISSING_REQUIRED",
    "StageAggregates",
    "map_journeys",
    "map_series",
    "period_days",
    "stage_aggregates",
    "stage_rank",
]  # stage_rank: re-exported from stage_assignment, where every map analysis gets its stages

JOURNEY_STAGE = "(journey)"
"""The stage name of series about whole journeys (deviation rate, feedback not on a stage)."""
MISSING_REQUIRED = "missing_required_stage"
STAGES_SCRATCH = "_jl_map_stages"
JOURNEYS_SCRATCH = "_jl_map_journeys"
SUCCESS = "success"
_TRUNCATE = {MonitorPeriod.day: "D", MonitorPeriod.week: "W"}


def period_days(period: MonitorPeriod) -> float:
    return 7.0 if period is MonitorPeriod.week else 1.0


def map_journeys(store: Store, journey_map: JourneyMap, period: MonitorPeriod) -> ir.Table:
    """The map's journeys with their ``period`` (local start date, truncated to day or week)."""
    from journeylens.journeys.build import require_journeys

    journeys = require_journeys(store)
    j = journeys.filter(journeys.journey_type == journey_map.journey_type)
    if journey_map.segment is not None:
        j = j.semi_join(_segment_customers(store, journey_map.segment), "customer_id")
    local = store.local_time(j.start)
    return j.select(
        "journey_id", "customer_id", "case_id", "start", "end", "outcome",
        period=local.truncate(_TRUNCATE[period]).date(),
    )  # fmt: skip


def _segment_customers(store: Store, segment: str) -> ir.Table:
    from journeylens.specs.identity import USER

    cmap, customers = store.backend.table("customer_map"), store.table("customers")
    users = cmap.filter(cmap.identifier_type == USER)
    joined = users.join(customers, users.identifier_value == customers.user_id)
    joined = joined.filter(json_text(joined.traits, "segment") == segment)
    return joined.select("customer_id").distinct()


def journey_stages(store: Store, journey_map: JourneyMap, journeys: ir.Table) -> ir.Table:
    """One row per journey and stage it reaches: ``rank``, ``first_at``, ``last_at``, ``time_s``."""
    rows = map_events(store, journey_map, journeys.select("journey_id"))
    ranked = rows.filter(rows.stage_rank.notnull())
    per = ranked.group_by(["journey_id", ranked.stage_rank.name("rank")]).agg(
        first_at=ranked.timestamp.min(), last_at=ranked.timestamp.max()
    )
    following = ibis.window(group_by="journey_id", order_by="rank")
    per = per.mutate(_next=per.first_at.lead().over(following))
    end = ibis.cases((per._next.notnull() & (per._next >= per.first_at), per._next), else_=per.last_at)
    return per.mutate(time_s=end.epoch_seconds() - per.first_at.epoch_seconds()).drop("_next")


@dataclass(frozen=True)
class StageAggregates:
    """The per-period aggregates a map's series are made of (small Arrow tables).

    ``stages``: rank, period, reached, decided, succeeded, within_target (NULL: no target);
    ``journeys``: period, journeys, missing_required; ``feedback``: rank (NULL: the journey),
    metric, period, answers, mean_score. ``last_day`` is the last local start date seen.
    """

    stages: pa.Table
    journeys: pa.Table
    feedback: pa.Table
    last_day: date | None


def stage_aggregates(store: Store, journey_map: JourneyMap, period: MonitorPeriod) -> StageAggregates:
    """Aggregate a map's journeys per stage and period in the engine (see the module docstring)."""
    # The map's journeys (with their local period) and, per journey and stage, the times: each
    # once, since every aggregate below reads them.
    journeys = scratch_table(store.backend, JOURNEYS_SCRATCH, map_journeys(store, journey_map, period))
    try:
        per = scratch_table(store.backend, STAGES_SCRATCH, journey_stages(store, journey_map, journeys))
        return _aggregate(store, journey_map, journeys, per)
    finally:
        drop_scratch(store.backend, STAGES_SCRATCH, JOURNEYS_SCRATCH)


def _aggregate(store: Store, journey_map: JourneyMap, journeys: ir.Table, per: ir.Table) -> StageAggregates:
    with_journey = per.join(journeys.select("journey_id", "period", "outcome"), "journey_id")
    targets = [(i, s.time_target.seconds) for i, s in enumerate(journey_map.stages) if s.time_target]
    target: ir.Value = (
        ibis.cases(*((with_journey["rank"] == i, t) for i, t in targets), else_=ibis.null("float64"))
        if targets
        else ibis.null("float64")
    )
    w = with_journey.mutate(_target=target)
    decided = ~w.outcome.isin(UNDECIDED)
    stages = w.group_by(["rank", "period"]).agg(
        reached=w.count(),
        decided=decided.cast("int64").sum(),
        succeeded=(decided & (w.outcome == SUCCESS)).cast("int64").sum(),
        within_target=(w.time_s <= w._target).cast("int64").sum(),
    )
    required = [i for i, s in enumerate(journey_map.stages) if s.required]
    joined = journeys
    missing: ir.BooleanValue = ibis.literal(False)
    if required:
        hit = per.filter(per["rank"].isin(required))
        joined = journeys.left_join(hit.group_by("journey_id").agg(_required=hit.count()), "journey_id")
        missing = joined._required.fill_null(0) < len(required)
    per_journey = joined.group_by("period").agg(
        journeys=joined.count(), missing_required=missing.cast("int64").sum()
    )
    stage_rows = store.execute(stages)
    journey_rows = store.execute(per_journey)
    days = journey_rows.column("period").to_pylist()
    return StageAggregates(
        stage_rows,
        journey_rows,
        _feedback(store, journeys, journey_map),
        _last_day(store, journeys) if days else None,
    )


def _last_day(store: Store, journeys: ir.Table) -> date | None:
    last = store.execute(store.local_time(journeys.start).max().date()).as_py()
    return last if isinstance(last, date) else None


_FEEDBACK_SCHEMA = pa.schema(
    {
        "rank": pa.int64(),
        "metric": pa.string(),
        "period": pa.date32(),
        "answers": pa.int64(),
        "mean_score": pa.float64(),
    }
)


def _feedback(store: Store, journeys: ir.Table, journey_map: JourneyMap) -> pa.Table:
    """Per stage rank, metric and period: scored answers about the stage (``feedback_links``,
    placed as every map analysis places answers) and their mean score."""
    from journeylens.maps._stage_feedback import stage_answers

    if not store.count("feedback"):
        return _FEEDBACK_SCHEMA.empty_table()
    rows = stage_answers(store, journey_map, journeys.select("journey_id", "period"))
    rows = rows.filter(rows.stage_rank.notnull())
    table = rows.group_by([rows.stage_rank.name("rank"), "metric", "period"]).agg(
        answers=rows.count(), mean_score=rows.score.mean()
    )
    return store.execute(table)


# --- aggregates -> series (small, in Python) ---------------------------------------------------


def success_metric(journey_map: JourneyMap) -> str:
    """``resolution`` when the map's KPIs speak of resolution (support maps), else ``conversion``."""
    kpis = {k.metric for s in journey_map.stages for k in s.kpis}
    return "resolution" if KpiMetric.resolution in kpis and KpiMetric.conversion not in kpis else "conversion"


def periods_between(first: date, last: date, period: MonitorPeriod) -> tuple[date, ...]:
    step = int(period_days(period))
    return tuple(first + timedelta(days=d) for d in range(0, (last - first).days + 1, step))


def map_series(
    journey_map: JourneyMap, agg: StageAggregates, period: MonitorPeriod
) -> tuple[dict[SeriesName, Series], tuple[date, ...]]:
    """Every series of the map, on one calendar of periods (missing periods: 0 trials or NaN).

    The last week is dropped when the data end inside it (a partial week would look like a fall).
    """
    found = [p for p in agg.journeys.column("period").to_pylist() if p is not None]
    if not found:
        return {}, ()
    last = max(found)
    if period is MonitorPeriod.week and agg.last_day is not None and agg.last_day < last + timedelta(days=6):
        last -= timedelta(days=7)
    calendar = periods_between(min(found), last, period)
    name = journey_map.name or journey_map.journey_type
    series: dict[SeriesName, Series] = {}
    by_stage = _index(agg.stages.to_pylist(), ("rank", "period"))
    success = success_metric(journey_map)
    for i, stage in enumerate(journey_map.stages):
        rows = [by_stage.get((i, p), {}) for p in calendar]
        series[SeriesName(name, stage.name, "volume")] = ContinuousSeries(
            calendar, tuple(float(r.get("reached", 0)) for r in rows)
        )
        series[SeriesName(name, stage.name, success)] = _proportion(calendar, rows, "succeeded", "decided")
        if stage.time_target is not None:
            series[SeriesName(name, stage.name, "time_within_target")] = _proportion(
                calendar, rows, "within_target", "reached"
            )
    if any(s.required for s in journey_map.stages):
        per_period = _index(agg.journeys.to_pylist(), ("period",))
        rows = [per_period.get((p,), {}) for p in calendar]
        series[SeriesName(name, JOURNEY_STAGE, MISSING_REQUIRED)] = _proportion(
            calendar, rows, "missing_required", "journeys"
        )
    feedback = _index(agg.feedback.to_pylist(), ("rank", "metric", "period"))
    for rank, metric in sorted(
        {(k[0], k[1]) for k in feedback}, key=lambda k: (k[0] is None, k[0] or 0, k[1])
    ):
        stage_name = JOURNEY_STAGE if rank is None else journey_map.stages[rank].name
        values = tuple(
            float(feedback.get((rank, metric, p), {}).get("mean_score") or math.nan) for p in calendar
        )
        series[SeriesName(name, stage_name, f"feedback_{metric}")] = ContinuousSeries(calendar, values)
    return series, calendar


def _index(rows: list[dict[str, Any]], keys: tuple[str, ...]) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {tuple(r[k] for k in keys): r for r in rows}


def _proportion(
    calendar: tuple[date, ...], rows: Sequence[Mapping[str, Any]], successes: str, trials: str
) -> ProportionSeries:
    return ProportionSeries(
        calendar,
        tuple(float(r.get(successes) or 0) for r in rows),
        tuple(float(r.get(trials) or 0) for r in rows),
    )
