"""Which stage of a map each event belongs to: the one stage assignment every map analysis uses.

An event belongs to the first stage, in map order, whose matching criteria (touchpoints,
channels, contact reasons, properties) it meets: :func:`stage_rank` gives that stage's 0-based
rank, NULL when none matches. An event outside every stage may match one of the map's
``unplanned`` entries (:func:`unplanned_entry`). Map check, map show and the living-map series
all read ranks from here, so a map places an event in the same stage everywhere.

A feedback answer is about one stage too (:func:`answer_stage_ranks`): the stage of the journey
step ``feedback_links`` linked it to, unless the survey names another touchpoint (then the stage
its own touchpoint, channel and properties meet). Map check's stage KPIs, the living-map
series, ``feedback scores --by stage`` and the emotion curve all place answers with it.

Each property the criteria read is extracted from the ``properties`` JSON once per row, and not
at all when no criterion reads a property (the common case: touchpoint and channel lists).

Example:
    >>> from journeylens.maps.model import Stage
    >>> t = ibis.memtable({"touchpoint": ["home", "checkout", "faq"], "channel": ["web"] * 3,
    ...                    "properties": ["{}"] * 3})
    >>> stages = [Stage(name="browse", touchpoints=["home"]), Stage(name="buy", channels=["web"])]
    >>> t.mutate(rank=stage_rank(t, stages)).rank.to_list()
    [0, 1, 1]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

from journeylens.store._backend import json_text

if TYPE_CHECKING:
    from journeylens.maps.model import JourneyMap, Stage, _Matching
    from journeylens.store import Store

__all__ = ["answer_stage_ranks", "map_events", "stage_name", "stage_rank", "unplanned_entry"]

Properties = Mapping[str, ir.StringValue]


def _properties(rows: ir.Table, entries: Sequence[_Matching]) -> dict[str, ir.StringValue]:
    names = sorted({n for e in entries for n in e.criteria.property_names()})
    return {n: json_text(rows.properties, n) for n in names}


def stage_rank(rows: ir.Table, stages: Sequence[Stage], props: Properties | None = None) -> ir.IntegerValue:
    """The 0-based rank of the first stage (in map order) whose criteria ``rows`` meet; NULL for none.

    ``rows`` needs the columns the criteria read (``touchpoint``, ``channel`` and, when a
    criterion reads a property, ``properties``): events, or feedback answers. ``props`` are
    already extracted property columns (by name); by default they are extracted here, once each.
    """
    found = dict(props) if props is not None else _properties(rows, stages)
    branches = [(s.criteria.matches(rows, found.__getitem__), i) for i, s in enumerate(stages)]
    if not branches:
        return ibis.null("int64")
    return ibis.cases(*branches, else_=ibis.null("int64")).cast("int64")


def stage_name(rank: ir.IntegerValue, stages: Sequence[Stage]) -> ir.StringValue:
    """The name of the stage at ``rank`` (NULL for NULL)."""
    if not stages:
        return ibis.null("string")
    return ibis.cases(*((rank == i, s.name) for i, s in enumerate(stages)), else_=ibis.null("string"))


def unplanned_entry(
    rows: ir.Table, journey_map: JourneyMap, rank: ir.IntegerValue, props: Properties | None = None
) -> ir.StringValue:
    """The name of the first ``unplanned`` entry an event outside every stage matches; NULL for an
    event in a stage or matching no entry (an ad-hoc touchpoint the map does not know)."""
    entries = journey_map.unplanned
    if not entries:
        return ibis.null("string")
    found = dict(props) if props is not None else _properties(rows, entries)
    extra = ibis.cases(
        *((u.criteria.matches(rows, found.__getitem__), u.name) for u in entries), else_=ibis.null("string")
    )
    return ibis.cases((rank.isnull(), extra), else_=ibis.null("string"))


def map_events(
    store: Store, journey_map: JourneyMap, journeys: ir.Table, *, unplanned: bool = False
) -> ir.Table:
    """Every event of ``journeys`` with its stage: the columns of ``journeys`` plus ``event_id``,
    ``step``, ``timestamp``, ``channel``, ``touchpoint``, ``stage_rank`` and (``unplanned``) the
    matching unplanned entry's name. ``journeys`` must have ``journey_id``."""
    je, events = store.backend.table("journey_events"), store.table("events")
    entries = [*journey_map.stages, *(journey_map.unplanned if unplanned else [])]
    props = _properties(events, entries)
    rank = stage_rank(events, journey_map.stages, props)
    cols: dict[str, ir.Value] = {"stage_rank": rank}
    if unplanned:
        cols["unplanned"] = unplanned_entry(events, journey_map, rank, props)
    rows = je.join(journeys, "journey_id").join(events, je.event_id == events.event_id)
    return rows.select(
        *(journeys[c] for c in journeys.columns),
        event_id=je.event_id,
        step=je.step.cast("int64"),
        timestamp=events.timestamp,
        channel=events.channel,
        touchpoint=events.touchpoint,
        **cols,
    )


def answer_stage_ranks(store: Store, stages: Sequence[Stage]) -> ir.Table:
    """``feedback_id`` and ``stage_rank`` of every answer linked to a journey (NULL: about no stage).

    An answer that names no touchpoint, or names the touchpoint of the step ``feedback_links``
    linked it to, is about that step: the stage of the step's event (its channel and properties).
    An answer that names another touchpoint is about what it names: the stage its own touchpoint,
    channel and properties meet."""
    links = store.backend.table("feedback_links")
    links = links.filter(links.journey_id.notnull()).select("feedback_id", _eid="event_id", _tp="touchpoint")
    events = store.table("events").select("event_id", "touchpoint", "channel", "properties")
    steps = links.left_join(events, links._eid == events.event_id)
    steps = steps.select("feedback_id", "_tp", _step=stage_rank(steps, stages))
    fb = store.table("feedback")
    own = fb.select(_fid=fb.feedback_id, _named=fb.touchpoint, _own=stage_rank(fb, stages))
    both = steps.join(own, steps.feedback_id == own._fid)
    about_step = both._named.isnull() | (both._named == both._tp)
    return both.select("feedback_id", stage_rank=ibis.ifelse(about_step, both._step, both._own))
