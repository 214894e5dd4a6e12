"""Assisted contacts with their reason: the one table every contact-centre signal is read from.

An *assisted contact* is what the journeys model calls one (``journeys/outcomes.py``): an event
on an assisted channel (``[journeys] assisted_channels``) that names its agent. Its *reason* is
read from the first of ``[voc.contacts] reason_sources`` that has a value:

==============  ==============================================================================
source          reads
==============  ==============================================================================
``event``       ``properties.contact_reason`` of the contact event itself
``disposition`` the agent's disposition (``properties.<disposition_property>``) on the contact
``ivr``         the option of the first IVR menu (``ivr_touchpoints``) of the contact's journey
``journey``     the journey's ``contact_reason`` (the first reason any of its events states)
==============  ==============================================================================

A contact no source names has reason ``(not stated)``: counted, never dropped. Each source is one
small function in :data:`SOURCES`; the themes of feedback text join as one more entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from journeylens.contacts.settings import ContactsSettings
from journeylens.journeys.definitions import JourneyRules
from journeylens.store import Store
from journeylens.store._backend import json_text

NOT_STATED = "(not stated)"
"""The reason of a contact that no reason source names."""


@dataclass(frozen=True)
class Sources:
    """What the reason sources read: the contact events (with journey columns) and the rules."""

    events: ir.Table
    store: Store
    settings: ContactsSettings


def _event(s: Sources) -> ir.StringValue:
    return json_text(s.events.properties, "contact_reason")


def _disposition(s: Sources) -> ir.StringValue:
    return json_text(s.events.properties, s.settings.disposition_property)


def _journey(s: Sources) -> ir.StringValue:
    return s.events._journey_reason


def _ivr(s: Sources) -> ir.StringValue:
    return s.events._ivr_reason


SOURCES: dict[str, Callable[[Sources], ir.StringValue]] = {
    "event": _event,
    "disposition": _disposition,
    "ivr": _ivr,
    "journey": _journey,
}
"""Reason sources by name (``[voc.contacts] reason_sources`` picks and orders them)."""


def _ivr_reasons(store: Store, settings: ContactsSettings) -> ir.Table:
    """The option of each journey's first IVR menu event."""
    events = store.table("events")
    je = store.backend.table("journey_events")
    ivr = events.filter(events.touchpoint.isin(settings.ivr_touchpoints)).join(je, "event_id")
    ivr = ivr.mutate(_option=json_text(ivr.properties, settings.ivr_property))
    ivr = ivr.filter(ivr._option.notnull() & (ivr._option != ""))
    return ivr.group_by(_ivr_jid=ivr.journey_id).agg(_ivr_reason=ivr._option.argmin(ivr.step))


def contact_events(store: Store, rules: JourneyRules, settings: ContactsSettings) -> ir.Table:
    """One row per assisted contact: event_id, journey_id, customer_id, journey_type, step,
    timestamp, channel, agent_id, reason, reason_source, first (the journey's first assisted
    contact), order (contacts numbered by time, then event id) and cost (``[journeys.costs]`` of
    its channel; NULL when no cost is configured)."""
    events = store.table("events")
    events = events.filter(events.channel.isin(rules.assisted_channels) & events.agent_id.notnull())
    je = store.backend.table("journey_events")
    journeys = store.backend.table("journeys").select(
        journey_id="journey_id", customer_id="customer_id", journey_type="journey_type",
        _journey_reason="contact_reason",
    )  # fmt: skip
    t = events.join(je, "event_id").join(journeys, "journey_id")
    if "ivr" in settings.reason_sources:
        ivr = _ivr_reasons(store, settings)
        t = t.left_join(ivr, t.journey_id == ivr._ivr_jid).drop("_ivr_jid")
    found = Sources(t, store, settings)
    named = [(name, _clean(SOURCES[name](found))) for name in settings.reason_sources]
    reason = ibis.coalesce(*(value for _, value in named), ibis.literal(NOT_STATED))
    source = ibis.cases(*((value.notnull(), name) for name, value in named), else_=ibis.null("string"))
    priced = [(t.channel == ch, cost) for ch, cost in rules.costs.items()]
    cost = ibis.cases(*priced, else_=0.0) if priced else ibis.null("float64")
    by_journey = ibis.window(group_by="journey_id", order_by=["step"])
    t = t.mutate(reason=reason, reason_source=source, cost=cost.cast("float64"))
    t = t.mutate(
        first=ibis.row_number().over(by_journey) == 0,
        order=ibis.row_number().over(order_by=[t.timestamp, t.event_id]),
    )
    return t.select(
        "event_id", "journey_id", "customer_id", "journey_type", "step", "timestamp", "channel",
        "agent_id", "reason", "reason_source", "first", "cost", "order",
    )  # fmt: skip


def _clean(value: ir.StringValue) -> ir.StringValue:
    """A reason as written, trimmed; empty is no reason."""
    trimmed = value.strip()
    return ibis.ifelse(trimmed == "", ibis.null("string"), trimmed)
