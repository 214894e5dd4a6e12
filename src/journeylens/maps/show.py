"""A designed map drawn with data (``journeylens map show``): per stage, what customers really do.

For every stage of a :class:`~journeylens.maps.model.JourneyMap` this computes, over the journeys
the map applies to (its journey type and segment): the journeys that reach the stage, the real
touchpoint volumes and channel mix, the time in stage (median, p80 and the percentile of the
stage's time target) against the target, and the share of the journeys reaching it that succeed.
Drawing (HTML, Mermaid, DOT) lives in :mod:`journeylens.maps._drawing` and
:mod:`journeylens.maps._exports`; this module only computes.

Every number is an Ibis aggregate over ``events``, ``journey_events`` and ``journeys``; only one
row per stage (or per stage x touchpoint x channel) reaches Python. Events are placed in stages by
:func:`stage_of_events`, from the stage assignment every map analysis shares
(:mod:`journeylens.maps.stage_assignment`).

Example:
    >>> view = show_map(ws.store, load_map("maps/purchase.yaml"))  # doctest: +SKIP
    >>> [(s["stage"], s["journeys"]) for s in view.stages]  # doctest: +SKIP
    [('discover', 812), ('choose', 640), ('buy', 402)]
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir

from journeylens.discovery.selection import select_journeys
from journeylens.errors import InputError, JourneyLensError
from journeylens.journeys.summary import wilson
from journeylens.maps._result import DEVIATION_FIELDS, MapView, StageDeviations
from journeylens.maps.stage_assignment import map_events
from journeylens.specs.discovery import JourneyFilter
from journeylens.store import Store
from journeylens.store._working import drop_scratch, scratch_table

if TYPE_CHECKING:
    from journeylens.maps.model import JourneyMap

__all__ = [
    "MapView",
    "NoMapJourneysError",
    "StageDeviations",
    "map_filter",
    "map_journeys",
    "show_map",
    "stage_of_events",
]

FINAL_OUTCOMES = ("success", "failed", "abandoned")
"""Outcomes that are decided: the denominator of the success share (open and unknown are not)."""
MEDIAN, P80 = 0.5, 0.8


class NoMapJourneysError(JourneyLensError, LookupError):
    """The map applies to no journey, or no event of its journeys matches any of its stages."""

    @classmethod
    def no_journeys(
        cls, journey_map: JourneyMap, types: list[str], flt: JourneyFilter | None = None
    ) -> NoMapJourneysError:
        segment = f" in segment {journey_map.segment!r}" if journey_map.segment else ""
        narrowed = flt is not None and flt.describe() != "all journeys"
        also = f" that match the filter ({flt.describe()})" if flt is not None and narrowed else ""
        return cls(
            f"Map {journey_map.name!r} matches no journey: there are no {journey_map.journey_type!r} "
            f"journeys{segment}{also} (journey types with journeys: {', '.join(types) or 'none'}).",
            hint=(
                "Loosen the filter options, or check the map's journey_type and segment."
                if narrowed
                else "Check the map's journey_type and segment, or build journeys (`journeylens build`)."
            ),
        )

    @classmethod
    def no_stage_events(cls, journey_map: JourneyMap, journeys: int, top: list[str]) -> NoMapJourneysError:
        return cls(
            f"Map {journey_map.name!r} matches no journey: none of the events of its {journeys:,} "
            f"{journey_map.journey_type!r} journeys matches the touchpoints, channels or properties of "
            f"any stage (their most frequent touchpoints: {', '.join(top)}).",
            hint="Name the stages' touchpoints as the events do (`journeylens touchpoints` lists them).",
        )


def map_filter(journey_map: JourneyMap, flt: JourneyFilter | None = None) -> JourneyFilter:
    """``flt`` narrowed to the map's journey type and segment; a filter naming another type or
    segment than the map's is refused (the map describes its own)."""
    flt = flt or JourneyFilter()
    for field_name, flag, own in (
        ("journey_type", "--type", journey_map.journey_type),
        ("segment", "--segment", journey_map.segment),
    ):
        given = getattr(flt, field_name)
        if given and (own is None or set(given) != {own}):
            raise InputError.bad_flag(
                flag,
                ", ".join(given),
                f"differs from the map's {field_name.replace('_', ' ')} ({own or 'none'}).",
                hint="A map describes one journey type and segment: leave the option out, or draw "
                "another map.",
            )
    return flt.model_copy(
        update={
            "journey_type": [journey_map.journey_type],
            "segment": [journey_map.segment] if journey_map.segment else None,
        }
    )


def map_journeys(store: Store, journey_map: JourneyMap, flt: JourneyFilter | None = None) -> ir.Table:
    """The journeys a map applies to: its journey type and, when set, its customer segment (and
    what ``flt`` asks for besides: a period, an outcome, a channel used)."""
    return select_journeys(store, map_filter(journey_map, flt))


def stage_of_events(store: Store, journey_map: JourneyMap, journeys: ir.Table | None = None) -> ir.Table:
    """Every event of the map's journeys with ``stage``: the rank (1, 2, ...) of the first stage
    whose criteria (touchpoints, channels, contact reasons, properties) match it, NULL when none
    does (an unplanned or unknown touchpoint).

    Columns: journey_id, outcome, event_id, timestamp, channel, touchpoint, stage. The stages are
    map check's (:mod:`journeylens.maps.stage_assignment`), ranked from 1 for drawing.
    """
    journeys = map_journeys(store, journey_map) if journeys is None else journeys
    rows = map_events(store, journey_map, journeys.select("journey_id", "outcome"))
    return rows.select(
        "journey_id", "outcome", "event_id", "timestamp", "channel", "touchpoint",
        stage=rows.stage_rank + 1,
    )  # fmt: skip


def _ranked(journey_map: JourneyMap) -> list[tuple[int, Any]]:
    return [(i + 1, stage) for i, stage in enumerate(journey_map.stages)]


def _quantiles(journey_map: JourneyMap) -> list[float]:
    """Median, p80 and every percentile a stage's time target names."""
    shares = {MEDIAN, P80} | {s.time_target.share for s in journey_map.stages if s.time_target}
    return sorted(shares)


def _q_name(q: float) -> str:
    return f"p{round(q * 100)}_s"


def _times(staged: ir.Table, journey_map: JourneyMap) -> ir.Table:
    """Per stage: time in stage quantiles and how many journeys are within the stage's target.

    Time in stage runs from the stage's first event in a journey to the first event of a later
    stage at or after it; for the journey's last stage, to its last event there.
    """
    per = staged.group_by(["journey_id", "stage"]).agg(
        first=staged.timestamp.min(), last=staged.timestamp.max()
    )
    later = staged.select(l_journey=staged.journey_id, l_stage=staged.stage, l_ts=staged.timestamp)
    reached = per.join(
        later, [per.journey_id == later.l_journey, later.l_stage > per.stage, later.l_ts >= per.first]
    )
    moved = reached.group_by(n_journey=reached.journey_id, n_stage=reached.stage).agg(
        next_ts=reached.l_ts.min()
    )
    timed = per.left_join(moved, [per.journey_id == moved.n_journey, per.stage == moved.n_stage])
    end = ibis.coalesce(timed.next_ts, timed["last"])
    seconds = end.delta(timed["first"], unit="microsecond").cast("float64") / 1e6
    targets = [(rank, s.time_target.seconds) for rank, s in _ranked(journey_map) if s.time_target]
    target = (
        ibis.cases(
            *((timed.stage == rank, ibis.literal(sec, type="float64")) for rank, sec in targets),
            else_=ibis.null("float64"),
        )
        if targets
        else ibis.null("float64")  # no stage has a time target (ibis.cases needs one branch)
    )
    t = timed.select(stage=timed.stage, seconds=seconds, target=target)
    quantiles = {_q_name(q): t.seconds.quantile(q) for q in _quantiles(journey_map)}
    return t.group_by("stage").agg(
        timed=t.count(),
        within=(t.seconds <= t.target).cast("int64").sum(),
        **quantiles,
    )


def _flows(staged: ir.Table) -> ir.Table:
    """Journeys moving from each stage to the next one they enter (NULL: the journey ends there),
    and how many journeys enter the map at each stage; stages ordered by first entry, then rank."""
    per = staged.group_by(["journey_id", "stage"]).agg(first=staged.timestamp.min())
    w = ibis.window(group_by=per.journey_id, order_by=[per["first"], per.stage])
    t = per.select(stage=per.stage, next_stage=per.stage.lead().over(w), prev=per.stage.lag().over(w))
    return t.group_by(["stage", "next_stage"]).agg(
        journeys=t.count(), entries=t.prev.isnull().cast("int64").sum()
    )


def _records(store: Store, expr: ir.Table) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = store.execute(expr).to_pylist()
    return rows


def show_map(
    store: Store,
    journey_map: JourneyMap,
    deviations: Mapping[str, StageDeviations] | None = None,
    *,
    flt: JourneyFilter | None = None,
    file: Path | None = None,
    emotions: Mapping[str, Mapping[str, Any]] | None = None,
) -> MapView:
    """Compute the data lanes of ``journey_map``; ``deviations`` (stage name -> share and cost,
    from ``journeylens map check``) fills the deviations lane when given, ``emotions`` (stage name
    -> actual emotion, from ``voc.emotion_curve.stage_emotions``) the actual emotion line.

    Raises :class:`NoMapJourneysError` when the map applies to no journey or no event of its
    journeys falls in any stage.
    """
    journeys = map_journeys(store, journey_map, flt)
    total = int(store.execute(journeys.count()).as_py())
    if total == 0:
        all_journeys = select_journeys(store)
        types = store.execute(all_journeys.journey_type.value_counts()).column(0).to_pylist()
        known = sorted(t for t in types if t is not None)
        raise NoMapJourneysError.no_journeys(journey_map, known, flt)
    backend = store.backend
    name = f"_jl_mapshow_{uuid.uuid4().hex[:8]}"  # unique: maps may be drawn side by side
    try:
        events = scratch_table(backend, name, stage_of_events(store, journey_map, journeys), large=True)
        view = _view(store, journey_map, events, total, deviations, file)
    finally:
        drop_scratch(backend, name)
    if emotions is None:
        return view
    felt = [{**s, **emotions.get(s["stage"], {})} for s in view.stages]
    return dataclasses.replace(view, stages=felt, emotions_linked=True)


def _view(
    store: Store,
    journey_map: JourneyMap,
    events: ir.Table,
    total: int,
    deviations: Mapping[str, StageDeviations] | None,
    file: Path | None,
) -> MapView:
    overall = _records(
        store,
        events.aggregate(
            events=events.count(),
            outside=events.stage.isnull().cast("int64").sum(),
            journeys=events.journey_id.nunique(where=events.stage.notnull()),
        ),
    )[0]
    if not overall["journeys"]:
        top = events.group_by("touchpoint").agg(n=events.count()).order_by([ibis.desc("n"), "touchpoint"])
        names = [r["touchpoint"] for r in _records(store, top.limit(5))]
        raise NoMapJourneysError.no_stage_events(journey_map, total, names)
    staged = events.filter(events.stage.notnull())
    reach = staged.group_by("stage").agg(
        journeys=staged.journey_id.nunique(),
        events=staged.count(),
        succeeded=staged.journey_id.nunique(where=staged.outcome == "success"),
        decided=staged.journey_id.nunique(where=staged.outcome.isin(FINAL_OUTCOMES)),
    )
    mix = staged.group_by(["stage", "touchpoint", "channel"]).agg(
        events=staged.count(), journeys=staged.journey_id.nunique()
    )
    outside = events.filter(events.stage.isnull())
    unplanned = (
        outside.group_by("touchpoint")
        .agg(events=outside.count(), journeys=outside.journey_id.nunique())
        .order_by([ibis.desc("events"), "touchpoint"])
        .limit(8)
    )
    return _assemble(
        journey_map,
        total,
        overall,
        _by_rank(_records(store, reach)),
        _by_rank(_records(store, _times(staged, journey_map))),
        _records(store, mix),
        _records(store, _flows(staged)),
        _records(store, unplanned),
        deviations,
        file,
    )


def _by_rank(rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {int(r["stage"]): r for r in rows}


def _assemble(
    journey_map: JourneyMap,
    total: int,
    overall: dict[str, Any],
    reach: dict[int, dict[str, Any]],
    times: dict[int, dict[str, Any]],
    mix: list[dict[str, Any]],
    flows: list[dict[str, Any]],
    unplanned: list[dict[str, Any]],
    deviations: Mapping[str, StageDeviations] | None,
    file: Path | None,
) -> MapView:
    """Small, aggregated rows -> one record per stage (all in stage order)."""
    names = {rank: stage.name for rank, stage in _ranked(journey_map)}
    stages = []
    for rank, stage in _ranked(journey_map):
        r, t = reach.get(rank, {}), times.get(rank, {})
        journeys, succeeded, decided = r.get("journeys", 0), r.get("succeeded", 0), r.get("decided", 0)
        lo, hi = wilson(succeeded, decided)
        target = stage.time_target
        at_target = t.get(_q_name(target.share)) if target else None
        channels: dict[str, int] = {}
        for row in mix:
            if row["stage"] == rank:
                channels[row["channel"]] = channels.get(row["channel"], 0) + int(row["events"])
        stages.append(
            {
                "rank": rank,
                "stage": stage.name,
                "required": stage.required,
                "journeys": int(journeys),
                "reach": journeys / total,
                "events": int(r.get("events", 0)),
                "channels": dict(sorted(channels.items(), key=lambda kv: (-kv[1], kv[0]))),
                "median_s": t.get(_q_name(MEDIAN)),
                "p80_s": t.get(_q_name(P80)),
                "target_s": target.seconds if target else None,
                "target_percentile": target.percentile if target else None,
                "at_target_percentile_s": at_target,
                "within_target_n": int(t.get("within") or 0) if target else None,
                "within_target_d": int(t.get("timed") or 0) if target else None,
                "target_met": (at_target <= target.seconds) if target and at_target is not None else None,
                "success_n": int(succeeded),
                "success_d": int(decided),
                "success_rate": succeeded / decided if decided else None,
                "success_lo": lo,
                "success_hi": hi,
                "expected_emotion": stage.expected_emotion,
                "actual_emotion": None,
                "actual_emotion_lo": None,
                "actual_emotion_hi": None,
                "emotion_answers": 0,
                **{f"deviation_{k}": (deviations or {}).get(stage.name, {}).get(k) for k in DEVIATION_FIELDS},
            }
        )
    touchpoints = sorted(
        (
            {
                "stage": names[int(row["stage"])],
                "touchpoint": row["touchpoint"],
                "channel": row["channel"],
                "events": int(row["events"]),
                "journeys": int(row["journeys"]),
            }
            for row in mix
        ),
        key=lambda row: (
            _rank_of(journey_map, row["stage"]),
            -row["events"],
            row["touchpoint"],
            row["channel"],
        ),
    )
    flow_rows = sorted(
        (
            {
                "from": names[int(row["stage"])],
                "to": names[int(row["next_stage"])] if row["next_stage"] is not None else None,
                "journeys": int(row["journeys"]),
                "entries": int(row["entries"]),
            }
            for row in flows
        ),
        key=lambda row: (_rank_of(journey_map, row["from"]), _rank_of(journey_map, row["to"])),
    )
    totals = {
        "journeys": total,
        "journeys_in_stages": int(overall["journeys"]),
        "events": int(overall["events"]),
        "events_outside_stages": int(overall["outside"] or 0),
    }
    return MapView(
        journey_map=journey_map,
        stages=stages,
        touchpoints=touchpoints,
        flows=flow_rows,
        outside=[{k: row[k] for k in ("touchpoint", "events", "journeys")} for row in unplanned],
        totals=totals,
        deviations=dict(deviations) if deviations is not None else None,
        file=file,
    )


def _rank_of(journey_map: JourneyMap, name: str | None) -> int:
    """A stage's rank by name (after every stage for None: the end of a journey)."""
    if name is None:
        return len(journey_map.stages) + 1
    return next(i for i, s in _ranked(journey_map) if s.name == name)
