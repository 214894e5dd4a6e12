"""The outcome a ``journeylens causes`` run explains, defined over journeys, and the journeys that count.

Each outcome is the journeys model's own column or rate, over the denominator the journeys summary
uses (``journeys.summary``), so a cause's "rate without" matches what ``journeys summary`` shows:

================  =================================================  ==================================
outcome           a journey has it when                              journeys that count
================  =================================================  ==================================
``failed``        ``outcome = failed``                               a final outcome (not open/unknown)
``abandoned``     ``outcome = abandoned``                            a final outcome (not open/unknown)
``leakage``       ``leakage`` (a digital attempt, then an assisted   used a digital channel
                  contact)
``repeat_journey`` ``repeat_journey`` (the customer's next journey   a known customer
                  of the same type within the repeat window)
``contact_after`` the customer's next journey, of any type, starts   a known customer, and the repeat
                  within the type's repeat window and has an         window has passed by the data's
                  assisted contact                                   end
``low_score``     an answer linked to it (``feedback_links``) at or  at least one linked answer of a
                  below ``[journeys.feedback] negative`` for its     metric with a threshold
                  metric
================  =================================================  ==================================

``contact_after`` is the one outcome the model has no column for: ``repeat_journey`` only sees a
journey of the *same* type, so an order followed by a delivery-problem support journey is not a
repeat; this outcome sees it. Nothing here changes the model's definitions.

Features must be observable before the outcome (:data:`CUTS`): for ``leakage`` the events before
the first event on an assisted channel (the IVR or chatbot in front of the agent is already the
contact); for ``failed`` and ``abandoned`` those before the success or failure event that decided
the outcome (an order confirmation is the success, not a reason for it; such deciding
touchpoints are no candidates at all) and none after the customer's last inbound event (a cart
reminder or a "sorry you left" message is the company's answer to the outcome, not its cause);
the other outcomes happen after the journey, so its every event counts.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from journeylens.errors import InputError
from journeylens.journeys.definitions import JourneyRules, seconds
from journeylens.journeys.undefined import NO_CONTACT_REASON, NO_CUSTOMER_REASON, UNDECIDED
from journeylens.specs.causes import CauseOutcome
from journeylens.store import Store

CUTS: dict[CauseOutcome, tuple[str, ...]] = {
    CauseOutcome.failed: ("last_inbound", "decided"),
    CauseOutcome.abandoned: ("last_inbound", "decided"),
    CauseOutcome.leakage: ("first_contact",),
    CauseOutcome.repeat_journey: (),
    CauseOutcome.contact_after: (),
    CauseOutcome.low_score: (),
}
"""Which events of a journey may carry its features, per outcome (module doc)."""


def outcome_table(store: Store, journeys: ir.Table, outcome: CauseOutcome, rules: JourneyRules) -> ir.Table:
    """``journey_id``, ``customer_id``, ``_y`` (1 when the journey has the outcome, else 0) and
    ``_decided_tp`` (the touchpoint of the success or failure event that decided the outcome) for
    every selected journey that counts."""
    j = journeys
    if outcome in (CauseOutcome.failed, CauseOutcome.abandoned):
        kept = j.filter(~j.outcome.isin(UNDECIDED))
        y = kept.outcome == outcome.value
    elif outcome is CauseOutcome.leakage:
        kept = j.filter(j.digital_events > 0)
        y = kept.leakage.fill_null(False)
    elif outcome is CauseOutcome.repeat_journey:
        kept = j.filter(j.customer_id.notnull())
        y = kept.repeat_journey.fill_null(False)
    elif outcome is CauseOutcome.contact_after:
        kept = _contact_after(store, j, rules)
        y = kept._next
    else:
        kept = _low_score(store, j, rules)
        y = kept._low
    observed = kept.outcome_evidence.isin(["success_event", "failure_event"])
    decided_tp = ibis.ifelse(observed, kept.outcome_touchpoint, ibis.null("string"))
    return kept.select("journey_id", "customer_id", _y=y.cast("int64"), _decided_tp=decided_tp)


def check_outcome(store: Store, journeys: ir.Table, outcome: CauseOutcome) -> None:
    """Refuse an outcome the selection cannot define (no contact for leakage, no customer for a
    repeat, no linked answer for a low score), naming the setting that would define it."""
    contacted = journeys.assisted_contacts > 0
    if outcome is CauseOutcome.leakage and not store.execute(contacted.any()).as_py():
        raise InputError(f"No contrast for leakage: {NO_CONTACT_REASON}.", hint="Pick another --outcome.")
    returning = outcome in (CauseOutcome.repeat_journey, CauseOutcome.contact_after)
    if returning and not store.execute(journeys.customer_id.notnull().any()).as_py():
        raise InputError(
            f"No contrast for {outcome.value}: {NO_CUSTOMER_REASON}.", hint="Pick another --outcome."
        )
    if outcome is CauseOutcome.low_score and (
        "feedback_links" not in store.backend.list_tables() or not store.count("feedback")
    ):
        raise InputError(
            "No contrast for low_score: the workspace has no feedback linked to journeys.",
            hint="Ingest answers with `journeylens ingest FILE --table feedback` and rebuild.",
        )


def _contact_after(store: Store, j: ir.Table, rules: JourneyRules) -> ir.Table:
    """Journeys of known customers whose repeat window has passed, with ``_next``: the customer's
    next journey (any type; ties on the start by id) starts within it and has an assisted contact.
    The next journey is looked for among all journeys, not only the selected ones."""
    every = store.backend.table("journeys")
    w = ibis.window(group_by="customer_id", order_by=["start", "journey_id"], rows=(1, 1))
    nxt = every.filter(every.customer_id.notnull()).select(
        "journey_id",
        _next_start=every.start.epoch_seconds().first().over(w),
        _next_contacts=every.assisted_contacts.first().over(w),
    )
    windows = {n: seconds(rules.repeat_window_of(n)) for n in rules.types}
    window = ibis.cases(
        *((j.journey_type == n, s) for n, s in windows.items()), else_=seconds(rules.repeat_window)
    )
    as_of = every.end.epoch_seconds().max().as_scalar().cast("int64")
    end = j.end.epoch_seconds().cast("int64")
    base = j.filter(j.customer_id.notnull(), end + window <= as_of).mutate(_window=window)
    joined = base.left_join(nxt, "journey_id")
    follows = (joined._next_start - joined.end.epoch_seconds() <= joined._window) & (
        joined._next_contacts > 0
    )
    return joined.mutate(_next=follows.fill_null(False)).select(*j.columns, "_next")


def _low_score(store: Store, j: ir.Table, rules: JourneyRules) -> ir.Table:
    """Journeys with at least one linked answer of a metric with a negative threshold; ``_low``: one
    of them is at or below its threshold."""
    links, answers = store.backend.table("feedback_links"), store.table("feedback")
    negative = rules.feedback.negative
    if not negative:
        raise InputError(
            "No contrast for low_score: [journeys.feedback] negative names no metric threshold.",
            hint="Set e.g. negative = { csat = 2, nps = 6 } under [journeys.feedback] in journeylens.toml.",
        )
    threshold = ibis.cases(
        *((answers.metric == m, float(t)) for m, t in negative.items()), else_=ibis.null("float64")
    )
    scored = answers.filter(answers.score.notnull()).select("feedback_id", _low=answers.score <= threshold)
    scored = scored.filter(scored._low.notnull())
    per = (
        links.filter(links.journey_id.notnull())
        .join(scored, "feedback_id")
        .group_by(_jid=links.journey_id)
        .agg(_low=scored._low.any())
    )
    return j.join(per, j.journey_id == per._jid).select(*j.columns, "_low")
