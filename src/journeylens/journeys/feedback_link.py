"""Feedback linked to journeys, and which journeys it says went badly.

An answer (``feedback`` row) is linked to at most one journey:

1. **by case** — the journey whose ``case_id`` is the answer's (a CSAT about ticket CS-17);
2. **by window** — else the answer's customer's most recent journey that started at or before the
   answer and whose last event is at most ``window`` seconds before it (a CES e-mailed a day after
   a self-service visit). Ties on the start go to the smaller ``journey_id``, so the link is the
   same on every engine.

Answers with neither (no case, no known customer, no journey in the window) stay unlinked.
Everything is one Ibis join and one window per answer; nothing is read row by row.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

CASE, WINDOW = "case", "window"
"""How an answer was linked (``link``)."""


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
    links = link_feedback(journeys, feedback, window)
    said = feedback.negative_comment if "negative_comment" in feedback.columns else ibis.literal(False)
    answers = feedback.select("feedback_id", "metric", "score", _said=said)
    linked = links.join(answers, "feedback_id")
    low = ibis.or_(
        linked._said.fill_null(False),
        *((linked.metric == metric) & (linked.score <= threshold) for metric, threshold in negative.items()),
    )
    bad = linked.filter(low)
    return bad.group_by("journey_id").agg(negative_feedback=bad.count())
