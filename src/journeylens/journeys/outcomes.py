"""Behavioural outcomes of each journey, from what customers and agents did (not from surveys).

Definitions (all configurable in ``[journeys]``):

- **assisted contact**: an event on an assisted channel (call centre, chat, ...) handled by an
  agent (``agent_id`` present). IVR menus and chatbots without an agent are self-service.
- **outcome** and **outcome_evidence** (the rule that decided; see
  :mod:`journeylens.journeys.evidence`): ``unknown`` (``no_criteria``) when the journey's type
  defines no outcome; else ``success`` when an event meets the type's success criteria
  (``success_event``); else ``failed`` when an event meets its failure criteria
  (``failure_event``); else, for types that infer success from the absence of a repeat journey of
  the same type within the type's repeat window — ``resolved_without_repeat`` after an assisted
  contact (``no_repeat_after_contact``), ``self_service_without_repeat`` without one
  (``no_repeat_self_service``) — ``success``, unless negative feedback linked to the journey says
  otherwise (``failed``, ``negative_feedback``) or the repeat window has not passed by the data's
  end (``open``); else ``open`` when the journey's last event is within its inactivity gap of the
  data's end; else ``abandoned`` (``no_outcome_event``).
- **leakage**: the journey used a digital channel *before* its first assisted contact (a digital
  attempt that ended in a call or chat); ``leakage_touchpoint`` is the last digital touchpoint
  before that contact, where the customer gave up.
- **first-contact resolution**: exactly one assisted contact, success, and no repeat journey of the
  same type within the repeat window on any channel (NULL without an assisted contact, and when
  the outcome is open or unknown).
- **repeat contacts**: assisted contacts after the first; **transfers**: an assisted event handled
  by a different agent within ``transfer_window`` of the previous assisted event.
- **cost to serve**: ``costs[channel]`` per assisted contact plus per event on non-assisted
  channels (web, app, SMS, ...); NULL when ``[journeys.costs]`` is not set (never assumed costs).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from journeylens.journeys import evidence as ev
from journeylens.journeys.definitions import JourneyRules, seconds
from journeylens.journeys.feedback_link import negative_feedback
from journeylens.journeys.segment import type_name
from journeylens.journeys.undefined import UNKNOWN_OUTCOME
from journeylens.store._backend import json_text

OUTCOMES = ("success", "failed", "abandoned", "open", UNKNOWN_OUTCOME)


def _by_type(journey_type: ir.StringValue, values: dict[str, object], default: object) -> ir.Value:
    return ibis.cases(*((journey_type == name, v) for name, v in values.items()), else_=default)


def journey_outcomes(
    assigned: ir.Table,
    events: ir.Table,
    rules: JourneyRules,
    feedback: ir.Table | None = None,
    as_of: ir.TimestampValue | None = None,
) -> ir.Table:
    """One row per journey with its behavioural metrics.

    Args:
        assigned: ``assign_journeys`` output (event_id, journey_id, type_code, step,
            channel_switch, last_step, assisted, before_contact, ...).
        events: the stored events (``Store.table("events")``, without customer ids).
        rules: the journey definitions.
        feedback: answers with ``customer_id`` (``identity.stitch.with_customers``), read as
            evidence when ``[journeys.feedback]`` is enabled; ``None``: no feedback.
        as_of: the data's end (the last event's time) when ``assigned`` holds only some
            customers (the incremental build); by default the last end among these journeys.
    """
    ev = assigned.join(events, "event_id")
    # Each property the success and failure criteria read is extracted from the JSON once.
    read = sorted(
        {n for jt in rules.types.values() for c in (jt.success, jt.failure) for n in c.property_names()}
        | {REASON}
    )
    extracted = {name: f"_prop{i}" for i, name in enumerate(read)}
    ev = ev.mutate(**{col: json_text(ev.properties, name) for name, col in extracted.items()})

    def prop(name: str) -> ir.StringValue:
        return ev[extracted[name]]

    names = [name for name, _ in rules.ranked()]
    code = {name: i for i, name in enumerate(names)}  # the types' codes in ``type_code``
    digital = ev.channel.isin(rules.digital_channels)
    assisted = ev.assisted  # channel in assisted_channels with an agent (see assign_journeys)
    succeeded = ibis.or_(
        ibis.literal(False),
        *((ev.type_code == code[name]) & jt.success.matches(ev, prop) for name, jt in rules.types.items()),
    )
    failed = ibis.or_(
        ibis.literal(False),
        *((ev.type_code == code[name]) & jt.failure.matches(ev, prop) for name, jt in rules.types.items()),
    )
    priced = [(ev.channel == ch, c) for ch, c in rules.costs.items()]
    cost = ibis.cases(*priced, else_=0.0) if priced else ibis.literal(0.0)
    charged = assisted | ~ev.channel.isin(rules.assisted_channels)
    flagged = ev.mutate(
        _digital=digital,
        _assisted=assisted,
        _success=succeeded,
        _failure=failed,
        _cost=ibis.ifelse(charged, cost, 0.0).cast("float64"),
        _switch=ev.channel_switch,
    )
    # Digital events before the journey's first assisted contact (in journeys that have one).
    before = flagged._digital & flagged.before_contact
    contacted = flagged._assisted.any()

    # The assisted contacts (a few percent of the events) are joined to their events apart: read
    # from ``flagged``, the joined events became a working table written once and read twice.
    contacts = assigned.filter(assigned.assisted).select("event_id", "journey_id", "step")
    contacts = contacts.join(events.select("event_id", "agent_id", "timestamp"), "event_id")
    by_contact = ibis.window(group_by="journey_id", order_by="step")
    contacts = contacts.mutate(
        _transfer=(
            (contacts.agent_id != contacts.agent_id.lag().over(by_contact))
            & (
                contacts.timestamp.epoch_seconds() - contacts.timestamp.epoch_seconds().lag().over(by_contact)
                <= seconds(rules.transfer_window)
            )
        ).fill_null(False)
    )
    transfers = contacts.group_by("journey_id").agg(
        transfers=contacts._transfer.cast("int64").sum(),
        _last_contact=contacts.timestamp.max(),
    )

    # First and last values are read at step 1 and at the last step (flagged in the step window).
    first, last = flagged.step == 1, flagged.last_step
    per = flagged.group_by("journey_id").agg(
        customer_id=flagged.customer_id.max(where=first),
        _first_case=flagged.case_id.max(where=first),
        _type_code=flagged.type_code.max(),
        case_id=flagged.case_id.min(),
        start=flagged.timestamp.min(),
        end=flagged.timestamp.max(),
        touchpoints=flagged.count(),
        channels=flagged.channel.nunique(),
        channel_switches=flagged._switch.cast("int64").sum(),
        first_channel=flagged.channel.max(where=first),
        last_channel=flagged.channel.max(where=last),
        first_touchpoint=flagged.touchpoint.max(where=first),
        last_touchpoint=flagged.touchpoint.max(where=last),
        digital_events=flagged._digital.cast("int64").sum(),
        assisted_contacts=flagged._assisted.cast("int64").sum(),
        leakage=before.any() & contacted,
        leakage_touchpoint=ibis.ifelse(
            contacted, flagged.touchpoint.argmax(flagged.step, where=before), ibis.null("string")
        ),
        contact_reason=flagged[extracted[REASON]].argmin(
            flagged.step, where=flagged[extracted[REASON]].notnull()
        ),
        _success_at=flagged.timestamp.min(where=flagged._success),
        _success_tp=flagged.touchpoint.argmin(flagged.step, where=flagged._success),
        _failed=flagged._failure.any(),
        _failure_tp=flagged.touchpoint.argmin(flagged.step, where=flagged._failure),
        cost_to_serve=_exact_sum(flagged._cost),
        value=_exact_sum(flagged.value),
    )
    # Whose journeys repeat one another: the customer, else the case (journeys.segment's ``_who``
    # of the first event), made per journey rather than carried on every event.
    per = per.mutate(
        customer_key=ibis.coalesce(per.customer_id, "case:" + per._first_case),
        journey_type=type_name(per._type_code, names),
    )
    per = per.left_join(transfers, "journey_id").drop("journey_id_right")
    if feedback is not None and rules.feedback.enabled:
        fb = rules.feedback
        said = negative_feedback(per, feedback, fb.seconds(), fb.negative)
        per = per.left_join(said, "journey_id").drop("journey_id_right")
    else:
        per = per.mutate(negative_feedback=ibis.null("int64"))
    return _with_outcome(per, rules, as_of)


MICROS = 1_000_000
REASON = "contact_reason"
"""The event property that names why a customer got in touch (``billing``, ``delivery``, ...)."""


def _next_repeat(per: ir.Table, rules: JourneyRules) -> ir.IntegerValue:
    """Epoch seconds of the start of the next journey that would repeat this one: the customer's
    next journey of the same type, except that with ``repeat_by_reason`` a journey stating a
    different contact reason is a new issue (a journey without a stated reason repeats any)."""
    key = ["customer_key", "journey_type"]
    order = ["start", "journey_id"]
    start = per.start.epoch_seconds()
    following = ibis.window(group_by=key, order_by=order, rows=(1, None))
    if not rules.repeat_by_reason:
        return start.min().over(following)
    reasonless = ibis.ifelse(per.contact_reason.isnull(), start, None).min().over(following)
    same_reason = start.min().over(
        ibis.window(group_by=[*key, "contact_reason"], order_by=order, rows=(1, None))
    )
    return ibis.ifelse(
        per.contact_reason.isnull(), start.min().over(following), ibis.least(same_reason, reasonless)
    )


def _exact_sum(amount: ir.FloatingValue) -> ir.FloatingValue:
    """A sum of money in whole millionths: exact, so the same on every engine and in any row order
    (floating-point sums differ in the last digits with the order rows arrive in). NULL when all
    amounts are NULL, like ``sum``.
    """
    return ((amount * MICROS).round().cast("int64").sum() / MICROS).cast("float64")


def _with_outcome(per: ir.Table, rules: JourneyRules, as_of: ir.TimestampValue | None) -> ir.Table:
    """The outcome, its evidence (see :mod:`journeylens.journeys.evidence`) and what depends on it."""
    names = list(rules.types)
    repeat_window = _by_type(
        per.journey_type, {n: seconds(rules.repeat_window_of(n)) for n in names}, seconds(rules.repeat_window)
    )
    end_of_data = per.end.max().over(ibis.window()) if as_of is None else as_of
    per = per.mutate(_next_start=_next_repeat(per, rules), _as_of=end_of_data)
    start_s, end_s = per.start.epoch_seconds(), per.end.epoch_seconds()
    repeated = (per._next_start - end_s <= repeat_window).fill_null(False)
    gap = _by_type(
        per.journey_type,
        {n: seconds(t.inactivity_gap) for n, t in rules.types.items()},
        seconds(rules.neutral_gap),
    )
    quiet = per._as_of.epoch_seconds() - end_s
    is_open = quiet <= gap
    contacted = per.assisted_contacts > 0
    after_contact = _by_type(
        per.journey_type, {n: t.resolved_without_repeat for n, t in rules.types.items()}, False
    )
    self_service = _by_type(
        per.journey_type, {n: t.self_service_without_repeat for n, t in rules.types.items()}, False
    )
    observed_success = per._success_at.notnull()
    # Success read from what did not happen: no repeat journey followed (yet).
    inferred_contact = after_contact & contacted & ~repeated & ~is_open
    inferred_self = self_service & ~contacted & ~repeated & ~is_open
    inferred = (inferred_contact | inferred_self) & ~observed_success & ~per._failed
    # A repeat can still come when the window has not passed by the data's end: not decided yet.
    pending = inferred & (quiet <= repeat_window)
    said_no = inferred & (per.negative_feedback > 0).fill_null(False)
    evidence = ibis.cases(
        (observed_success, ev.SUCCESS_EVENT),
        (per._failed, ev.FAILURE_EVENT),
        (said_no, ev.NEGATIVE_FEEDBACK),
        (pending | is_open, ev.OPEN),
        (inferred & contacted, ev.NO_REPEAT_AFTER_CONTACT),
        (inferred, ev.NO_REPEAT_SELF_SERVICE),
        else_=ev.NO_OUTCOME_EVENT,
    )
    defined = _by_type(per.journey_type, {n: t.defines_outcome() for n, t in rules.types.items()}, False)
    evidence = ibis.ifelse(defined, evidence, ev.NO_CRITERIA)
    per = per.mutate(outcome_evidence=evidence)
    evidence = per.outcome_evidence
    outcome = ibis.cases(
        (evidence.isin([ev.SUCCESS_EVENT, *ev.INFERRED_SUCCESS]), "success"),
        (evidence.isin([ev.FAILURE_EVENT, ev.NEGATIVE_FEEDBACK]), "failed"),
        (evidence == ev.OPEN, "open"),
        (evidence == ev.NO_CRITERIA, UNKNOWN_OUTCOME),
        else_="abandoned",
    )
    success = outcome == "success"
    decided = ~evidence.isin([ev.OPEN, ev.NO_CRITERIA])
    resolved_at = ibis.cases(
        (evidence == ev.SUCCESS_EVENT, per._success_at),
        (evidence == ev.NO_REPEAT_AFTER_CONTACT, per._last_contact),
        (evidence == ev.NO_REPEAT_SELF_SERVICE, per.end),
        else_=ibis.null(per.start.type()),
    )
    contacts = per.assisted_contacts
    # Without configured costs there is no cost to serve (zero would be a claim the data never made).
    cost = per.cost_to_serve if rules.priced() else ibis.null("float64")
    return per.mutate(
        outcome=outcome,
        outcome_touchpoint=ibis.cases(
            (evidence == ev.SUCCESS_EVENT, per._success_tp),
            (evidence == ev.FAILURE_EVENT, per._failure_tp),
            else_=ibis.null("string"),
        ),
        duration_s=end_s - start_s,
        repeat_contacts=ibis.greatest(contacts - 1, 0),
        repeat_journey=repeated,
        transfers=per.transfers.fill_null(0),
        first_contact_resolution=ibis.ifelse(
            contacted & decided, (contacts == 1) & success & ~repeated, None
        ),
        time_to_resolution_s=resolved_at.epoch_seconds() - start_s,
        cost_to_serve=cost,
    ).select(*JOURNEY_COLUMNS)


JOURNEY_COLUMNS = (
    "journey_id", "customer_id", "journey_type", "contact_reason", "case_id", "start", "end",
    "outcome", "outcome_evidence", "outcome_touchpoint", "duration_s", "touchpoints", "channels",
    "channel_switches", "first_channel", "last_channel", "first_touchpoint", "last_touchpoint",
    "digital_events", "assisted_contacts", "repeat_contacts", "repeat_journey", "transfers",
    "leakage", "leakage_touchpoint", "first_contact_resolution", "time_to_resolution_s",
    "cost_to_serve", "value",
)  # fmt: skip
