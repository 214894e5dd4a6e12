"""Which journeys an analysis looks at, and what an "activity" is — shared by every discovery view.

A :class:`JourneyFilter` selects journeys (type, segment, channel used, period, outcome, any
event property); :func:`journey_log` turns the selected journeys into an event log: one row per
journey event with its ``step`` (1, 2, ... in timestamp, ingestion order — so equal timestamps keep
file order, which is what pm4py's stable sort does) and its ``activity`` under the chosen
:class:`ActivityKey`. Every discovery view (process map, variants, paths, funnels, touchpoints)
reads this log, so a filter means the same thing everywhere and totals reconcile.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from journeylens.discovery._conditions import by_events_and_traits
from journeylens.errors import JourneyLensError
from journeylens.journeys.build import require_journeys
from journeylens.specs.discovery import OUTCOMES, ActivityKey, JourneyFilter
from journeylens.specs.identity import USER
from journeylens.store import Store
from journeylens.store._backend import json_text

UNKNOWN_SEGMENT = "(unknown)"
LIFECYCLE = "lifecycle:transition"
__all__ = ["OUTCOMES", "ActivityKey", "JourneyFilter", "journey_log", "select_journeys"]


class EmptySelectionError(JourneyLensError, LookupError):
    """A filter that selects no journeys: said plainly, with what was asked for."""

    @classmethod
    def for_filter(cls, flt: JourneyFilter) -> EmptySelectionError:
        return cls(
            f"No journeys match the filter ({flt.describe()}).",
            hint="Loosen the filter; `journeylens journeys summary` lists the journey types, "
            "segments and periods that exist.",
        )


def customer_segments(store: Store, trait: str = "segment") -> ir.Table:
    """(customer_id, segment): the customer trait ``trait`` of each stitched customer."""
    cmap = store.backend.table("customer_map")
    customers = store.table("customers")
    users = cmap.filter(cmap.identifier_type == USER)
    value = json_text(customers.traits, trait)
    return (
        users.join(customers, users.identifier_value == customers.user_id)
        .group_by(users.customer_id)
        .agg(segment=value.max())
    )


def select_journeys(store: Store, flt: JourneyFilter | None = None) -> ir.Table:
    """The ``journeys`` rows the filter keeps (an Ibis expression; nothing runs yet)."""
    flt = flt or JourneyFilter()
    journeys = require_journeys(store)
    preds: list[ir.BooleanValue] = []
    if flt.journey_type:
        preds.append(journeys.journey_type.isin(flt.journey_type))
    if flt.outcome:
        preds.append(journeys.outcome.isin(flt.outcome))
    if flt.since is not None:
        preds.append(journeys.start >= _utc(flt.since))
    if flt.until is not None:
        preds.append(journeys.start < _utc(flt.until))
    if preds:
        journeys = journeys.filter(*preds)
    if flt.segment:
        seg = customer_segments(store, flt.segment_trait)
        joined = journeys.left_join(seg, "customer_id")
        segment = joined.segment.fill_null(UNKNOWN_SEGMENT)
        journeys = joined.filter(segment.isin(flt.segment)).select(*journeys.columns)
    if flt.needs_events:
        journeys = by_events_and_traits(store, journeys, flt)
    return journeys


def journey_log(
    store: Store,
    flt: JourneyFilter | None = None,
    key: ActivityKey = ActivityKey.touchpoint,
    *,
    check_empty: bool = True,
) -> ir.Table:
    """One row per event of the selected journeys, with its ``activity`` under ``key``.

    Columns: journey_id, customer_id, journey_type, outcome, step, event_id, timestamp,
    channel, touchpoint, activity. ``step`` orders a journey's events (ties in time keep
    ingestion order).

    Example:
        >>> log = journey_log(ws.store, JourneyFilter(journey_type=["support"]))  # doctest: +SKIP
    """
    flt = flt or JourneyFilter()
    journeys = select_journeys(store, flt)
    if check_empty and int(store.execute(journeys.count()).as_py()) == 0:
        raise EmptySelectionError.for_filter(flt)
    je, events = store.backend.table("journey_events"), store.table("events")
    j = journeys.select("journey_id", "customer_id", "journey_type", "outcome")
    rows = je.join(j, "journey_id").join(events, je.event_id == events.event_id)
    return rows.select(
        j.journey_id,
        j.customer_id,
        j.journey_type,
        j.outcome,
        je.step,
        je.event_id,
        events.timestamp,
        events.channel,
        events.touchpoint,
        activity=activity_expr(events, key),
    )


def activity_expr(events: ir.Table, key: ActivityKey) -> ir.StringValue:
    """The activity label of an event under ``key``."""
    if key is ActivityKey.channel:
        return events.channel
    if key is ActivityKey.channel_touchpoint:
        return events.channel + ":" + events.touchpoint
    if key is ActivityKey.touchpoint_lifecycle:
        lifecycle = json_text(events.properties, LIFECYCLE)
        # pm4py joins the two attributes with "+"; an event without a lifecycle keeps its name.
        return ibis.cases((lifecycle.notnull(), events.touchpoint + "+" + lifecycle), else_=events.touchpoint)
    return events.touchpoint


def _utc(value: dt.datetime) -> ir.TimestampValue:
    """An instant literal (naive values are read as UTC), comparable with stored UTC instants in
    any session time zone."""
    value = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    return ibis.literal(value, type=ibis.dtype("timestamp('UTC')"))
