"""Feedback linked to journeys, and which journeys it says went badly.

An answer (``feedback`` row) is linked to at most one journey:

1. **by case** — the journey whose ``case_id`` is the answer's (a CSAT about ticket CS-17);
2. **by window** — else the answer's customer's most recent journey that started at or before the
   answer and whose last event is at most ``window`` seconds before it (a CES e-mailed a day after
   a self-service visit). Ties on the start go to the smaller ``journey_id``, so the link is the
   same on every engine.

Answers with neither (no case, no known customer, no journey in the window) stay unlinked.
Everything is one Ibis join and one window per answer; nothing is read row by row.

The window rule covers the journey that was *active* at the answer: a journey that started at or
before the answer and whose last event is at or after it satisfies "ended at most ``window``
before" (its end minus the answer is >= 0). When several journeys qualify, the one that started
last wins, so an answer given during a long journey but right after a shorter, later one goes to
the later one. Journeys that start after the answer are never linked by window.

:func:`feedback_links` writes the derived table ``feedback_links``: every answer, linked or not,
with the **step** it is about — the linked journey's last event at or before the answer (ties in
time are ordered by step, i.e. timestamp then ingestion), leaving out outbound messages that no
agent handled (the survey invitation itself, a "ticket closed" SMS: the company speaking, not the
experience asked about) — that step's ``touchpoint`` and ``channel``, and the ``agent_id`` of the
answer, else of that step (``agent_from`` says which). An answer linked by case but given before
the case's first event has no step (NULL).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

CASE, WINDOW = "case", "window"
"""How an answer was linked (``link``)."""
LINK_COLUMNS = (
    "feedback_id", "customer_id", "journey_id", "link", "step", "event_id", "touchpoint", "channel",
    "agent_id", "agent_from",
)  # fmt: skip
"""The columns of ``feedback_links`` (see docs/data-model.md)."""


def link_feedback(journeys: ir.Table, feedback: ir.Table, window: int) -> ir.Table:
    """``feedback_id``, ``journey_id``, ``link`` (``case`` or ``window``) per linked answer.

    Args:
        journeys: one row per journey with ``journey_id``, ``customer_id``, ``case_id``,
            ``start`` and ``end``.
        feedback: answers with ``feedback_id``, ``timestamp``, ``case_id`` and ``customer_id``
            (see ``identity.stitch.with_customers``).
        window: seconds after a journey's last event within which an answer is about it.
    """
    j = journeys.select(
        _jid=journeys.journey_id,
        _customer=journeys.customer_id,
        _case=journeys.case_id,
        _start=journeys.start.epoch_seconds(),
        _end=journeys.end.epoch_seconds(),
    )
    fb = feedback.select("feedback_id", "case_id", "customer_id", _at=feedback.timestamp.epoch_seconds())
    cased = fb.filter(fb.case_id.notnull())
    by_case = (
        cased.join(j, cased.case_id == j._case)
        .group_by("feedback_id")
        .agg(journey_id=j._jid.min())
        .mutate(link=ibis.literal(CASE))
    )
    rest = fb.anti_join(by_case, "feedback_id").filter(fb.customer_id.notnull())
    near = rest.join(
        j, (rest.customer_id == j._customer) & (j._start <= rest._at) & (rest._at - j._end <= window)
    )
    latest = ibis.window(group_by="feedback_id", order_by=[ibis.desc("_start"), "_jid"])
    near = near.mutate(_rank=ibis.row_number().over(latest))
    by_window = near.filter(near._rank == 0).select(
        "feedback_id", journey_id=near._jid, link=ibis.literal(WINDOW)
    )
    return by_case.select("feedback_id", "journey_id", "link").union(by_window)


def negative_feedback(
    journeys: ir.Table, feedback: ir.Table, window: int, negative: dict[str, float]
) -> ir.Table:
    """``journey_id`` and ``negative_feedback`` (count of negative answers) per journey with one.

    An answer is negative when its score is at or below ``negative[metric]`` (metrics not in
    ``negative`` never count by score), or when ``feedback`` has a ``negative_comment`` column and
    it is true (see ``voc.scoring``).
    """
    return negative_counts(link_feedback(journeys, feedback, window), feedback, negative)


def negative_counts(links: ir.Table, feedback: ir.Table, negative: dict[str, float]) -> ir.Table:
    """``journey_id`` and ``negative_feedback`` of ``links`` (``feedback_id``, ``journey_id``):
    the count of linked answers that are negative (see :func:`negative_feedback`)."""
    said = feedback.negative_comment if "negative_comment" in feedback.columns else ibis.literal(False)
    answers = feedback.select("feedback_id", "metric", "score", _said=said)
    linked = links.join(answers, "feedback_id")
    low = ibis.or_(
        linked._said.fill_null(False),
        *((linked.metric == metric) & (linked.score <= threshold) for metric, threshold in negative.items()),
    )
    bad = linked.filter(low)
    return bad.group_by("journey_id").agg(negative_feedback=bad.count())


def experienced(events: ir.Table) -> ir.BooleanValue:
    """Events the customer experienced: all but outbound messages no agent handled (a survey
    invitation, a "ticket closed" SMS: the company speaking)."""
    said: ir.BooleanValue = (events.direction != "outbound").fill_null(True) | events.agent_id.notnull()
    return said


def feedback_links(
    journeys: ir.Table, journey_events: ir.Table, events: ir.Table, feedback: ir.Table, window: int
) -> ir.Table:
    """Every answer (linked or not) with its journey, link, step, touchpoint, channel and agent.

    Args:
        journeys: as for :func:`link_feedback`.
        journey_events: ``event_id``, ``journey_id``, ``step`` (the journey build's table).
        events: the stored events (``timestamp``, ``touchpoint``, ``channel``, ``agent_id``).
        feedback: answers with ``feedback_id``, ``timestamp``, ``case_id``, ``customer_id`` and
            ``agent_id``.
        window: seconds after a journey's last event within which an answer is about it.

    Example:
        >>> links = feedback_links(journeys, je, events, answers, 7 * 86400)  # doctest: +SKIP
        >>> links.link.value_counts().execute()  # doctest: +SKIP
    """
    links = link_feedback(journeys, feedback, window).rename(_fid="feedback_id")
    fb = feedback.select("feedback_id", "customer_id", _at=feedback.timestamp, _agent=feedback.agent_id)
    linked = fb.left_join(links, fb.feedback_id == links._fid).drop("_fid")
    steps = (
        journey_events.join(events, "event_id")
        .filter(experienced(events))
        .select("journey_id", "step", "event_id", _ts=events.timestamp)
    )
    onto = linked.filter(linked.journey_id.notnull())
    before = onto.join(steps, (onto.journey_id == steps.journey_id) & (steps._ts <= onto._at))
    last = before.group_by(_sid=before.feedback_id).agg(
        step=before.step.max(), event_id=before.event_id.argmax(before.step)
    )
    about = events.select(
        _eid=events.event_id,
        touchpoint=events.touchpoint,
        channel=events.channel,
        _step_agent=events.agent_id,
    )
    last = last.left_join(about, last.event_id == about._eid).drop("_eid")
    out = linked.left_join(last, linked.feedback_id == last._sid).drop("_sid")
    return out.select(
        "feedback_id",
        "customer_id",
        "journey_id",
        "link",
        out.step.cast("int64").name("step"),
        "event_id",
        "touchpoint",
        "channel",
        agent_id=ibis.coalesce(out._agent, out._step_agent),
        agent_from=ibis.cases(
            (out._agent.notnull(), "feedback"), (out._step_agent.notnull(), "step"), else_=ibis.null("string")
        ),
    )
