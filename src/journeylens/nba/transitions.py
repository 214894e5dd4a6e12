"""Journey-state transition statistics and the states of open journeys, in the engine.

A journey's state at an event is (journey type, touchpoint). Over closed journeys (outcome
success, failed or abandoned) the engine counts, in one pass, per state and next touchpoint the
journeys that went from that state straight to it and how many of them succeeded (a journey
counts once per pair however often it repeats the step), and per state all journeys that passed
it (``next_touchpoint`` = :data:`ANY`). This is the first-order Markov view of
``decisions.attribution_markov`` read as "what did customers in this state who took this next
step go on to achieve".

Open journeys (outcome ``open``) get their state from their last event: journey type, last
touchpoint, last channel, and the customer's segment.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from journeylens.discovery.selection import customer_segments, journey_log, select_journeys
from journeylens.journeys.undefined import OPEN_OUTCOME, UNDECIDED
from journeylens.specs.discovery import ActivityKey, JourneyFilter
from journeylens.store import Store

ANY = "*"
"""``next_touchpoint`` of the row that counts every journey that passed the state."""
UNKNOWN_SEGMENT = "(none)"


def transition_counts(store: Store, flt: JourneyFilter | None = None) -> ir.Table:
    """(journey_type, touchpoint, next_touchpoint, journeys, successes) over closed journeys."""
    log = journey_log(store, flt, ActivityKey.touchpoint, check_empty=False)
    closed = log.filter(~log.outcome.isin(UNDECIDED))
    by_journey = ibis.window(group_by="journey_id", order_by=["step"])
    steps = closed.select(
        "journey_id", "journey_type", "touchpoint",
        next_touchpoint=closed.touchpoint.lead().over(by_journey),
        success=(closed.outcome == "success").cast("int64"),
    )  # fmt: skip
    pairs = steps.filter(steps.next_touchpoint.notnull()).distinct()
    passed = steps.select("journey_id", "journey_type", "touchpoint", "success").distinct()
    keys = ["journey_type", "touchpoint", "next_touchpoint"]
    moves = pairs.group_by(keys).agg(journeys=pairs.count(), successes=pairs.success.sum())
    states = passed.mutate(next_touchpoint=ibis.literal(ANY))
    totals = states.group_by(keys).agg(journeys=states.count(), successes=states.success.sum())
    return moves.union(totals)


def open_states(
    store: Store, flt: JourneyFilter | None = None, segment_trait: str = "segment", *, open_only: bool = True
) -> ir.Table:
    """Open journeys with their state: journey_id, customer_id, journey_type, touchpoint (the
    last), channel (the last), segment, start, end. ``open_only=False``: every journey, as if
    open at its last event (the benchmark scores a whole world that way)."""
    journeys = select_journeys(store, flt)
    opened = journeys.filter(journeys.outcome == OPEN_OUTCOME) if open_only else journeys
    segments = customer_segments(store, segment_trait)
    joined = opened.left_join(segments, "customer_id")
    return joined.select(
        journey_id=joined.journey_id, customer_id=joined.customer_id, journey_type=joined.journey_type,
        touchpoint=joined.last_touchpoint, channel=joined.last_channel,
        segment=joined.segment.fill_null(UNKNOWN_SEGMENT), start=joined.start, end=joined.end,
    )  # fmt: skip


def customer_journeys(store: Store, states: ir.Table, customer: str) -> ir.Table:
    """The open journeys of one customer, named by customer_id or by any of their identifiers
    (a user_id, an anonymous_id, ...) through ``customer_map``."""
    cmap = store.backend.table("customer_map")
    ids = cmap.filter((cmap.identifier_value == customer) | (cmap.customer_id == customer)).select(
        "customer_id"
    )
    return states.semi_join(ids.distinct(), "customer_id")


def decision_segments(store: Store, segment_trait: str = "segment") -> ir.Table:
    """Decisions with the deciding customer's segment (via user_id or anonymous_id, stitched)."""
    decisions = store.table("decisions")
    cmap = store.backend.table("customer_map")
    ident = ibis.coalesce(decisions.user_id, decisions.anonymous_id)
    # one customer per identifier, so a decision is never repeated by the join
    owners = cmap.group_by("identifier_value").agg(customer_id=cmap.customer_id.min())
    linked = decisions.left_join(owners, ident == owners.identifier_value)
    seg = customer_segments(store, segment_trait)
    with_seg = linked.left_join(seg, "customer_id")
    return with_seg.select(
        "state", "action", "propensity", "reward", segment=with_seg.segment.fill_null(UNKNOWN_SEGMENT)
    )
