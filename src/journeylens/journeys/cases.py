"""Journeys of a process log: every event carries a ``case_id`` (XES traces, tickets, orders).

There, every journey is a case (rule 4 of ``journeys.segment``): the claims and look-ahead of
rules 1-2 and the boundaries of rule 3 decide nothing, and rule 6 never cuts a case. What is left
is grouping and step numbering: one sort by case gives the step order outcomes reads and, over a
whole-case frame of the same sort, the case's type (rule 5), so no per-case aggregate is joined
back and the sort carries none of the journey's strings (its key, id and type name are derived
from the case after it). No window runs over a customer's time order. The result is row for row
that of the general path (tests/test_journeys_caselog.py).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from journeylens.journeys.definitions import JourneyRules
from journeylens.journeys.segment import ORDER, claimed_events, in_step_order, journey_id


def assign_cases(events: ir.Table, rules: JourneyRules) -> ir.Table:
    """``assign_journeys`` for events that all carry a ``case_id``: the same columns and rows.

    Args:
        events: events with ``customer_id`` (see ``identity.stitch.events_with_customers``), none
            without a case.
        rules: the journey definitions (their start criteria still type each case).

    Example:
        >>> assigned = assign_cases(events_with_customers(store), JourneyRules())  # doctest: +SKIP
        >>> assigned.select("journey_id", "step").head().execute()  # doctest: +SKIP
    """
    claimed = claimed_events(events, rules)
    # The case's type comes from the same sort as its step order (a whole-case frame), so there is
    # no aggregate to join back and the sort carries no strings but the event's own.
    whole_case = ibis.window(group_by="case_id", order_by=ORDER, rows=(None, None))
    narrow = claimed.select(
        "event_id", "customer_id", "case_id", "timestamp", "ingest_seq", "channel", "_own", "_claimed",
        assisted=claimed._assisted,
    )  # fmt: skip
    ordered = in_step_order(
        narrow,
        "case_id",
        _type_code=ibis.coalesce(narrow._own.min().over(whole_case), narrow._claimed.min().over(whole_case)),
    )
    key = "case:" + ordered.case_id + "/0"
    return ordered.select(
        "event_id",
        "customer_id",
        type_code=ordered._type_code,
        journey_id=journey_id(key),
        assisted=ordered.assisted,
        step=ordered.step,
        channel_switch=ordered.channel_switch,
        last_step=ordered.last_step,
        before_contact=ordered.before_contact,
    )
