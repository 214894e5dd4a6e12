"""Conformance of actual journeys to a designed map: CJML deviations per journey, in the engine.

Every event of a journey the map applies to gets the map's view of it (:func:`staged_events`):
the rank of the stage whose criteria it meets (stages are tried in map order, the first match
wins), or the unplanned entry it matches. From that, four kinds of deviation (CJML, SINTEF):

* **ad-hoc touchpoint** — an event that matches no stage *and* no unplanned entry: something the
  map does not know happens. Touchpoints declared under ``unplanned:`` are CJML ad-hoc
  touchpoints too, but *expected* ones: they are counted apart (``expected_ad_hoc``) and do not
  make a journey deviate — the map says they happen.
* **sequence irregularity** — an event of a stage ranked below the highest stage reached by an
  earlier event (the running maximum of the stage rank, by ``step``): the journey went back.
* **missing touchpoint** — a required stage the journey never reached.
* **failed touchpoint** — the journey failed or was abandoned (its ``outcome``); the deviation sits
  at the last stage it reached (the stage of its last staged event; none when no event is staged).

A journey *conforms* when it has none of these and breaks none of the map's Declare rules
(:mod:`journeylens.maps._declare`). Everything is an Ibis expression over ``journeys``,
``journey_events`` and ``events``; order is the journey's ``step`` (timestamp, then ingestion),
never row order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

from journeylens.maps.model import (
    AD_HOC_TOUCHPOINT,
    FAILED_TOUCHPOINT,
    MISSING_TOUCHPOINT,
    SEQUENCE_IRREGULARITY,
    JourneyMap,
)
from journeylens.store._backend import json_text

if TYPE_CHECKING:
    from journeylens.store import Store

__all__ = ["FAILED_OUTCOMES", "GROUP", "deviations", "journey_verdicts", "staged_events"]

GROUP = "_group"
"""The column that says which group (segment, period, or ``all``) a journey is checked in."""
FAILED_OUTCOMES = ("failed", "abandoned")
"""Outcomes that make the journey's last stage a failed touchpoint."""


def _property_names(journey_map: JourneyMap) -> list[str]:
    names: list[str] = []
    for entry in [*journey_map.stages, *journey_map.unplanned]:
        names += entry.criteria.property_names()
    return list(dict.fromkeys(names))


def staged_events(store: Store, journey_map: JourneyMap, journeys: ir.Table) -> ir.Table:
    """One row per event of ``journeys`` (which carry :data:`GROUP`): journey_id, _group, step,
    timestamp, channel, touchpoint, ``stage`` and ``stage_rank`` (0-based map order; NULL when no
    stage matches) and ``unplanned`` (the matching unplanned entry's name, when no stage matches)."""
    je, events = store.backend.table("journey_events"), store.table("events")
    j = journeys.select("journey_id", GROUP)
    props = {name: json_text(events.properties, name) for name in _property_names(journey_map)}

    def prop(name: str) -> ir.StringValue:
        return props[name]

    stage_hits = [(s.criteria.matches(events, prop), i, s.name) for i, s in enumerate(journey_map.stages)]
    rank = ibis.cases(*((hit, i) for hit, i, _ in stage_hits), else_=ibis.null("int64"))
    stage = ibis.cases(*((hit, name) for hit, _, name in stage_hits), else_=ibis.null("string"))
    if journey_map.unplanned:
        extra = ibis.cases(
            *((u.criteria.matches(events, prop), u.name) for u in journey_map.unplanned),
            else_=ibis.null("string"),
        )
        unplanned = ibis.cases((rank.isnull(), extra), else_=ibis.null("string"))
    else:
        unplanned = ibis.null("string")
    rows = je.join(j, "journey_id").join(events, je.event_id == events.event_id)
    return rows.select(
        je.journey_id,
        j[GROUP],
        step=je.step.cast("int64"),
        timestamp=events.timestamp,
        channel=events.channel,
        touchpoint=events.touchpoint,
        stage=stage,
        stage_rank=rank.cast("int64"),
        unplanned=unplanned,
    )


def _ad_hoc(staged: ir.Table) -> ir.Table:
    found = staged.filter(staged.stage_rank.isnull() & staged.unplanned.isnull())
    return found.select(
        "journey_id", GROUP, kind=ibis.literal(AD_HOC_TOUCHPOINT), stage=ibis.null("string"),
        touchpoint=found.touchpoint, step=found.step,
    )  # fmt: skip


def _irregular(staged: ir.Table) -> ir.Table:
    # rank < max(rank of this and every earlier event) <=> rank < max(rank of the earlier events).
    upto = ibis.window(group_by=staged.journey_id, order_by=staged.step, preceding=None, following=0)
    with_max = staged.filter(staged.stage_rank.notnull()).mutate(_reached=staged.stage_rank.max().over(upto))
    found = with_max.filter(with_max.stage_rank < with_max._reached)
    return found.select(
        "journey_id", GROUP, kind=ibis.literal(SEQUENCE_IRREGULARITY), stage=found.stage,
        touchpoint=found.touchpoint, step=found.step,
    )  # fmt: skip


def _missing(journey_map: JourneyMap, journeys: ir.Table, staged: ir.Table) -> ir.Table | None:
    required = [s.name for s in journey_map.stages if s.required]
    if not required:
        return None
    wanted = ibis.memtable({"stage": required})
    pairs = journeys.select("journey_id", GROUP).cross_join(wanted)
    reached = staged.filter(staged.stage.notnull()).select("journey_id", "stage").distinct()
    found = pairs.anti_join(reached, ["journey_id", "stage"])
    return found.select(
        "journey_id", GROUP, kind=ibis.literal(MISSING_TOUCHPOINT), stage=found.stage,
        touchpoint=ibis.null("string"), step=ibis.null("int64"),
    )  # fmt: skip


def _failed(journeys: ir.Table, staged: ir.Table) -> ir.Table:
    ended = journeys.filter(journeys.outcome.isin(FAILED_OUTCOMES)).select("journey_id", GROUP)
    on_stage = staged.filter(staged.stage_rank.notnull())
    last = ibis.window(group_by=on_stage.journey_id, order_by=ibis.desc(on_stage.step))
    ranked = on_stage.mutate(_n=ibis.row_number().over(last))
    final = ranked.filter(ranked._n == 0).select("journey_id", "stage", "touchpoint", "step")
    found = ended.left_join(final, "journey_id")
    return found.select(
        ended.journey_id, ended[GROUP], kind=ibis.literal(FAILED_TOUCHPOINT), stage=final.stage,
        touchpoint=final.touchpoint, step=final.step,
    )  # fmt: skip


def deviations(journey_map: JourneyMap, journeys: ir.Table, staged: ir.Table) -> ir.Table:
    """Every deviation of every journey: journey_id, _group, kind, stage, touchpoint, step (the
    event's; NULL for a missing stage)."""
    parts = [_ad_hoc(staged), _irregular(staged), _failed(journeys, staged)]
    missing = _missing(journey_map, journeys, staged)
    if missing is not None:
        parts.append(missing)
    out = parts[0]
    for part in parts[1:]:
        out = out.union(part, distinct=False)
    return out


def journey_verdicts(journeys: ir.Table, found: ir.Table, broken: ir.Table | None) -> ir.Table:
    """One row per journey: journey_id, _group, one count per deviation kind, ``rules_broken``,
    ``expected`` (the caller adds expected ad-hoc counts) and ``conforms``.

    ``broken`` has one row per (journey, rule) the journey breaks (None: the map has no rules).
    """
    from journeylens.maps.model import DEVIATION_KINDS

    per = found.group_by("journey_id").agg(
        **{kind: (found.kind == kind).cast("int64").sum() for kind in DEVIATION_KINDS}
    )
    out = journeys.select("journey_id", GROUP, "outcome").left_join(per, "journey_id")
    counts = {kind: out[kind].fill_null(0) for kind in DEVIATION_KINDS}
    out = out.select("journey_id", GROUP, "outcome", **counts)
    if broken is not None:
        rules = broken.group_by("journey_id").agg(rules_broken=broken.count())
        out = out.left_join(rules, "journey_id").select(
            *(out[c] for c in out.columns), rules_broken=rules.rules_broken.fill_null(0)
        )
    else:
        out = out.mutate(rules_broken=ibis.literal(0, "int64"))
    total = sum((out[kind] for kind in DEVIATION_KINDS), out.rules_broken)
    return out.mutate(deviations=total - out.rules_broken, conforms=total == 0)
