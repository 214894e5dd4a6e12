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

:func:`journey_checks` decides all of it in one pass over the staged events (the windows for
sequence irregularities and rules share one ordering) and one aggregate per journey, which also
carries where the deviations are (stages reached, stages gone back to, the last stage): every
share a check reports is an aggregate of that one per-journey table. :func:`deviations` lists
each deviation (one row per deviation), for the few callers that want the list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

from journeylens.maps.model import (
    AD_HOC_TOUCHPOINT,
    DEVIATION_KINDS,
    FAILED_TOUCHPOINT,
    MISSING_TOUCHPOINT,
    SEQUENCE_IRREGULARITY,
    JourneyMap,
)
from journeylens.maps.stage_assignment import map_events, stage_name

if TYPE_CHECKING:
    from journeylens.store import Store

__all__ = [
    "FAILED_OUTCOMES", "GROUP", "VERDICT_COLUMNS", "deviated_at", "deviation_places", "deviations",
    "journey_checks", "journey_verdicts",
    "pattern_masks", "pattern_text", "staged_events",
]  # fmt: skip

GROUP = "_group"
"""The column that says which group (segment, period, or ``all``) a journey is checked in."""
FAILED_OUTCOMES = ("failed", "abandoned")
"""Outcomes that make the journey's last stage a failed touchpoint."""
VERDICT_COLUMNS = ("journey_id", GROUP, "outcome", *DEVIATION_KINDS, "rules_broken", "deviations", "conforms")
"""The public columns of :func:`journey_checks` (the per-journey verdict table)."""


def staged_events(store: Store, journey_map: JourneyMap, journeys: ir.Table) -> ir.Table:
    """One row per event of ``journeys`` (which carry :data:`GROUP`): journey_id, _group, step,
    timestamp, touchpoint, ``stage`` and ``stage_rank`` (0-based map order; NULL when no
    stage matches) and ``unplanned`` (the matching unplanned entry's name, when no stage matches)."""
    rows = map_events(store, journey_map, journeys.select("journey_id", GROUP), unplanned=True)
    return rows.select(
        "journey_id", GROUP, "step", "timestamp", "touchpoint",
        stage=stage_name(rows.stage_rank, journey_map.stages), stage_rank=rows.stage_rank,
        unplanned=rows.unplanned,
    )  # fmt: skip


def journey_checks(journey_map: JourneyMap, journeys: ir.Table, staged: ir.Table) -> ir.Table:
    """One row per journey of ``journeys`` (journey_id, _group, outcome): the
    :data:`VERDICT_COLUMNS` (a count per deviation kind, ``rules_broken``, ``deviations`` — the
    CJML deviations — and ``conforms``), and where the deviations are: ``_in{i}`` (the journey
    reached stage i), ``_back{i}`` (it went back to stage i: a sequence irregularity there),
    ``_last`` (rank of the stage of its last staged event), ``_r{j}`` (it breaks rule j,
    0-based) and ``_ad_hoc`` (its ad-hoc touchpoints as sorted, distinct pattern items)."""
    from journeylens.maps._declare import broken_without_events, event_flags, rule_aggregates

    upto = ibis.window(group_by=staged.journey_id, order_by=staged.step, preceding=None, following=0)
    ev = staged.mutate(_reached=staged.stage_rank.max().over(upto), **event_flags(journey_map, staged))
    rank = ev.stage_rank
    width = max(len(journey_map.stages), 1)
    ad_hoc = rank.isnull() & ev.unplanned.isnull()
    back = (rank < ev._reached).fill_null(False)
    item = AD_HOC_TOUCHPOINT + ":" + ev.touchpoint.fill_null("-")
    aggs: dict[str, ir.Value] = {
        AD_HOC_TOUCHPOINT: ad_hoc.cast("int64").sum(),
        SEQUENCE_IRREGULARITY: back.cast("int64").sum(),
        # The rank at the last staged step, as max(step * k + rank) mod k: a plain max, cheaper
        # than an ordered aggregate (steps are unique within a journey).
        "_last": (ev.step * width + rank).max() % width,
        "_ad_hoc": item.collect(where=ad_hoc, distinct=True).sort().join(" + "),
    }
    for i, _ in enumerate(journey_map.stages):
        aggs[f"_in{i}"] = (rank == i).fill_null(False).any()
        aggs[f"_back{i}"] = (back & (rank == i)).fill_null(False).any()
    aggs.update(rule_aggregates(journey_map, ev))
    per = ev.group_by("journey_id").agg(**aggs)
    j = journeys.select("journey_id", GROUP, "outcome")
    joined = j.left_join(per, "journey_id")
    cols: dict[str, ir.Value] = {
        AD_HOC_TOUCHPOINT: joined[AD_HOC_TOUCHPOINT].fill_null(0),
        SEQUENCE_IRREGULARITY: joined[SEQUENCE_IRREGULARITY].fill_null(0),
        FAILED_TOUCHPOINT: j.outcome.isin(FAILED_OUTCOMES).fill_null(False).cast("int64"),
        "_last": joined._last,
        "_ad_hoc": joined._ad_hoc.fill_null(""),
    }
    for i, _ in enumerate(journey_map.stages):
        cols[f"_in{i}"] = joined[f"_in{i}"].fill_null(False)
        cols[f"_back{i}"] = joined[f"_back{i}"].fill_null(False)
    for k, rule in enumerate(journey_map.rules):
        cols[f"_r{k}"] = joined[f"_r{k}"].fill_null(broken_without_events(rule))
    out = joined.select(j.journey_id, j[GROUP], j.outcome, **cols)
    required = [i for i, s in enumerate(journey_map.stages) if s.required]
    reached = sum((out[f"_in{i}"].cast("int64") for i in required), ibis.literal(0, "int64"))
    broken = sum(
        (out[f"_r{k}"].cast("int64") for k in range(len(journey_map.rules))), ibis.literal(0, "int64")
    )
    out = out.mutate(**{MISSING_TOUCHPOINT: len(required) - reached, "rules_broken": broken})
    total = sum((out[kind] for kind in DEVIATION_KINDS), ibis.literal(0, "int64"))
    return out.mutate(deviations=total, conforms=(total + out.rules_broken) == 0)


def deviation_places(journey_map: JourneyMap, checked: ir.Table) -> dict[tuple[str, int], ir.BooleanValue]:
    """(deviation kind, stage index) -> whether each journey of :func:`journey_checks` has that
    deviation placed at that stage: went back to it, failed with it as the last stage reached, or
    never reached it (required stages). Ad-hoc touchpoints belong to no stage."""
    failed = checked[FAILED_TOUCHPOINT] > 0
    places: dict[tuple[str, int], ir.BooleanValue] = {}
    for i, stage in enumerate(journey_map.stages):
        places[(SEQUENCE_IRREGULARITY, i)] = checked[f"_back{i}"]
        places[(FAILED_TOUCHPOINT, i)] = failed & (checked._last == i).fill_null(False)
        if stage.required:
            places[(MISSING_TOUCHPOINT, i)] = ~checked[f"_in{i}"]
    return places


def deviated_at(journey_map: JourneyMap, checked: ir.Table) -> dict[int, ir.BooleanValue]:
    """Stage index -> whether each journey has a deviation of any kind placed at that stage."""
    places = deviation_places(journey_map, checked)
    return {
        i: ibis.or_(*(flag for (_, at), flag in places.items() if at == i))
        for i in range(len(journey_map.stages))
    }


def journey_verdicts(checked: ir.Table) -> ir.Table:
    """The per-journey verdict table: the :data:`VERDICT_COLUMNS` of :func:`journey_checks`."""
    return checked.select(*VERDICT_COLUMNS)


CHUNK = 62
"""Pattern items per integer bit mask (int64, sign bit unused)."""


def pattern_masks(journey_map: JourneyMap, checked: ir.Table) -> tuple[list[str], dict[str, ir.IntegerValue]]:
    """Each journey's deviation pattern, in compact form: the possible pattern items of the map
    other than ad-hoc touchpoints (kind at stage, ``-`` for a failed journey with no staged event,
    ``rule:<label>``), sorted, and bit masks ``_m0``, ``_m1``, ... saying which a journey has
    (item k is bit k % 62 of mask k // 62). With ``_ad_hoc`` they decide the pattern
    (:func:`pattern_text`), so journeys are counted per pattern without building its text."""
    from journeylens.maps._declare import rule_label

    failed = checked[FAILED_TOUCHPOINT] > 0
    flags: dict[str, list[ir.BooleanValue]] = {}
    for i, s in enumerate(journey_map.stages):
        flags.setdefault(f"{SEQUENCE_IRREGULARITY}:{s.name}", []).append(checked[f"_back{i}"])
        flags.setdefault(f"{FAILED_TOUCHPOINT}:{s.name}", []).append(
            failed & (checked._last == i).fill_null(False)
        )
        if s.required:
            flags.setdefault(f"{MISSING_TOUCHPOINT}:{s.name}", []).append(~checked[f"_in{i}"])
    flags.setdefault(f"{FAILED_TOUCHPOINT}:-", []).append(failed & checked._last.isnull())
    for k, rule in enumerate(journey_map.rules):
        flags.setdefault(f"rule:{rule_label(rule)}", []).append(checked[f"_r{k}"])
    items = sorted(flags)
    masks: dict[str, ir.IntegerValue] = {}
    for start in range(0, len(items), CHUNK):
        bits = [
            ibis.cases((ibis.or_(*flags[item]), ibis.literal(1 << (k - start), "int64")), else_=0)
            for k, item in enumerate(items[start : start + CHUNK], start=start)
        ]
        masks[f"_m{start // CHUNK}"] = sum(bits[1:], bits[0])
    return items, masks


def pattern_text(items: list[str], ad_hoc: str, masks: list[int]) -> str:
    """The pattern a journey's ``_ad_hoc`` and masks stand for: its items sorted and joined with
    `` + `` (ad-hoc touchpoints first: ``ad_hoc_touchpoint:`` sorts before every other kind)."""
    found = [item for k, item in enumerate(items) if masks[k // CHUNK] >> (k % CHUNK) & 1]
    return " + ".join(([ad_hoc] if ad_hoc else []) + found)


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
