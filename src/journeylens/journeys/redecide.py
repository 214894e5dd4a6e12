"""Re-deciding ``open`` journeys that only the data's end touches, without their events.

When new events move the data's end, an ``open`` journey can become decided although nothing
about its customer changed (``journeys.incremental``). Its outcome then reads only what the
stored row and two small look-ups hold: its evidence is ``open``, so no event met its success or
failure criteria; ``repeat_journey`` comes from the starts of its customer's stored journeys
(unchanged: the customer has no new event, answer or identifier); the count of negative answers
comes from its stored ``feedback_links`` rows; the time of its last assisted contact from its
stored ``journey_events``. ``journeys.outcomes._with_outcome`` decides it from those, as a full
build would, and only the outcome columns of its row change (``journey_events`` and
``feedback_links`` do not read the outcome).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from journeylens.journeys.build import _feedback
from journeylens.journeys.definitions import JourneyRules
from journeylens.journeys.feedback_link import negative_counts
from journeylens.journeys.outcomes import _with_outcome
from journeylens.store import Store
from journeylens.store._rows import replace_rows
from journeylens.store._working import drop_scratch, scratch_table

CHOSEN, DECIDED = "_jl_inc_redecide", "_jl_inc_redecided"
KEEP = (
    "journey_id", "customer_id", "journey_type", "contact_reason", "case_id", "start", "end",
    "touchpoints", "channels", "channel_switches", "first_channel", "last_channel",
    "first_touchpoint", "last_touchpoint", "digital_events", "assisted_contacts", "leakage",
    "leakage_touchpoint", "transfers", "cost_to_serve", "value",
)  # fmt: skip
"""Stored columns that do not depend on the outcome (``_with_outcome`` recomputes the rest)."""


def redecide_open(store: Store, rules: JourneyRules, chosen: ir.Table, as_of: ir.TimestampValue) -> int:
    """Re-decide the journeys ``chosen`` (``journey_id``; stored evidence ``open``, customer
    otherwise untouched) at the data's end ``as_of``; return how many there were."""
    backend = store.backend
    try:
        chosen = scratch_table(backend, CHOSEN, chosen.select("journey_id").distinct())
        count = int(store.execute(chosen.count()).as_py())
        if not count:
            return 0
        stored = backend.table("journeys")
        mine = stored.filter(stored.journey_id.isin(chosen.journey_id))
        # Their customers' journeys from the first chosen one on: the repeat window looks at the
        # next one of the type, and an earlier journey is never one's next.
        since = mine.group_by(_c="customer_id").agg(_from=mine.start.min())
        theirs = stored.join(since, stored.customer_id == since._c)
        theirs = theirs.filter(theirs.start >= theirs._from).select(*KEEP)
        # Only journeys with an assisted contact have one to find: their stored count is of the
        # same events (journeys.outcomes), so the others' steps are not read.
        contacted = mine.filter(mine.assisted_contacts > 0)
        steps = backend.table("journey_events")
        steps = steps.filter(steps.journey_id.isin(contacted.journey_id))
        events = store.table("events")
        # A journey's events are within its span: the events before the first contacted one's
        # start are not read (most of them, as open journeys end near the data's end).
        events = events.filter(events.timestamp >= contacted.start.min())
        seen = steps.join(events, "event_id")
        # An assisted contact, as journeys.segment marks it.
        assisted = seen.filter(seen.channel.isin(rules.assisted_channels) & seen.agent_id.notnull())
        contacts = assisted.group_by("journey_id").agg(_last_contact=assisted.timestamp.max())
        per = theirs.left_join(contacts, "journey_id").drop("journey_id_right")
        feedback = _feedback(store, rules)
        if feedback is not None:
            links = backend.table("feedback_links")
            links = links.filter(links.journey_id.isin(chosen.journey_id))
            said = negative_counts(
                links.select("feedback_id", "journey_id"), feedback, rules.feedback.negative
            )
            per = per.left_join(said, "journey_id").drop("journey_id_right")
        else:
            per = per.mutate(negative_feedback=ibis.null("int64"))
        # Nothing met the criteria of an open journey (its evidence would say so).
        per = per.mutate(
            customer_key=per.customer_id,
            _success_at=ibis.null(per.start.type()),
            _success_tp=ibis.null("string"),
            _failed=ibis.literal(False),
            _failure_tp=ibis.null("string"),
        )
        decided = _with_outcome(per, rules, as_of)
        fresh = scratch_table(backend, DECIDED, decided.filter(decided.journey_id.isin(chosen.journey_id)))
        replace_rows(backend, "journeys", "journey_id", chosen, fresh)
        return count
    finally:
        drop_scratch(backend, CHOSEN, DECIDED)
