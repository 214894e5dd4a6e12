"""The journey filter's channel and property conditions as Ibis expressions: which journeys have
an event meeting them, and whose customer's traits meet the ``customer.`` ones.

A condition tests one event (or one customer record): with ``match`` all, one event meets every
event condition and the customer every trait condition; with any, an event meets one of them or
the customer one trait condition. ``--channel`` always applies, to the same event as the event
conditions. Nothing here loops over rows; :func:`condition_expr` is the one compiler of
:class:`~journeylens.specs.conditions.PropertyCondition`.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence

import ibis.expr.types as ir

from journeylens.specs.conditions import Match, PropertyCondition
from journeylens.specs.discovery import JourneyFilter
from journeylens.specs.identity import USER
from journeylens.store import Store
from journeylens.store._backend import json_text

__all__ = ["by_events_and_traits", "condition_expr", "conditions_match"]


def by_events_and_traits(store: Store, journeys: ir.Table, flt: JourneyFilter) -> ir.Table:
    """``journeys`` narrowed to those the channel and property conditions of ``flt`` keep."""
    events_conds = [c for c in flt.properties if c.scope == "event"]
    trait_conds = [c for c in flt.properties if c.scope == "customer"]
    events = store.table("events")
    channel = [events.channel.isin(flt.channel)] if flt.channel else []
    by_event = [conditions_match(events.properties, events_conds, flt.match)] if events_conds else []
    if flt.match is Match.any and events_conds and trait_conds:
        ids = _with_events(store, events, [*channel, *by_event]).union(
            journeys.semi_join(_with_events(store, events, channel), "journey_id")
            .semi_join(_customers(store, trait_conds, flt.match), "customer_id")
            .select("journey_id"),
            distinct=True,
        )
        return journeys.semi_join(ids, "journey_id")
    if channel or by_event:
        journeys = journeys.semi_join(_with_events(store, events, [*channel, *by_event]), "journey_id")
    if trait_conds:
        journeys = journeys.semi_join(_customers(store, trait_conds, flt.match), "customer_id")
    return journeys


def _with_events(store: Store, events: ir.Table, preds: Sequence[ir.BooleanValue]) -> ir.Table:
    """(journey_id): the journeys with an event meeting every one of ``preds`` (all: none given)."""
    je = store.backend.table("journey_events")
    if not preds:
        return je.select("journey_id").distinct()
    hits = events.filter(*preds).select("event_id")
    return je.semi_join(hits, "event_id").select("journey_id").distinct()


def _customers(store: Store, conds: Sequence[PropertyCondition], match: Match) -> ir.Table:
    """(customer_id): stitched customers with a ``customers`` record whose traits meet ``conds``;
    a customer without any record has no trait set (``customer.KEY!?`` keeps it)."""
    cmap, customers = store.backend.table("customer_map"), store.table("customers")
    users = cmap.filter(cmap.identifier_type == USER)
    records = users.join(customers, users.identifier_value == customers.user_id).select(
        _cid=users.customer_id, traits=customers.traits
    )
    every = cmap.select("customer_id").distinct()
    joined = every.left_join(records, every.customer_id == records._cid)
    return joined.filter(conditions_match(joined.traits, conds, match)).select("customer_id").distinct()


def conditions_match(json: ir.Value, conds: Sequence[PropertyCondition], match: Match) -> ir.BooleanValue:
    """True where the JSON column ``json`` meets all (or any) of ``conds``."""
    combine = operator.and_ if match is Match.all else operator.or_
    return functools.reduce(combine, [condition_expr(json, c) for c in conds])


def condition_expr(json: ir.Value, cond: PropertyCondition) -> ir.BooleanValue:
    """One condition on the JSON column ``json``, never null: a comparison (negations included)
    holds only where the key is present (a number only where it parses as one), so ``plan!=free``
    keeps records with a plan other than free; ``KEY!?`` finds the records without it."""
    text = json_text(json, cond.key)
    value, op = cond.value, cond.op
    test: ir.BooleanValue
    if op in ("set", "not_set"):
        return text.notnull() if op == "set" else text.isnull()
    if isinstance(value, list):
        test = text.isin(value)
    elif isinstance(value, float):
        number = text.try_cast("float64")
        test = {"gt": number > value, "gte": number >= value, "lt": number < value, "lte": number <= value}[
            op
        ]
    elif op in ("contains", "not_contains"):
        test = text.lower().contains(str(value).lower())
    else:
        test = text == str(value)
    if op in ("neq", "not_in", "not_contains"):
        test = ~test
    return test.fill_null(False)
