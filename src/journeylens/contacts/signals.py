"""One weekly signal table per owning department: what grew, what it costs, what customers said.

Each reason belongs to a department (``[voc.contacts] departments``). For the last complete period
against the one before, every reason has its trend test (``contacts/trend.py``, BH ``q`` across
all reasons), its cost in the last period (``[journeys.costs]``; not defined when unset) and up
to ``examples`` comments: feedback linked (``feedback_links``) to a journey of that reason and
given in the last period, the lowest scores first (text-only answers after them).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import ibis.expr.types as ir

from journeylens.contacts.settings import ContactsSettings
from journeylens.contacts.trend import period_end
from journeylens.contacts.volume import Periods, add_q, journey_reasons, trend_fields
from journeylens.store import Store


def examples(store: Store, contacts: ir.Table, start: dt.date, period: str, k: int) -> dict[str, list[str]]:
    """Up to ``k`` comments per reason, given in the period that starts on ``start``."""
    if k == 0 or "feedback_links" not in store.backend.list_tables():
        return {}
    fb = store.table("feedback")
    local = store.local_time(fb.timestamp).date()
    fb = fb.filter(fb.comment.notnull() & (fb.comment.strip() != ""))
    fb = fb.filter((local >= ibis.literal(start)) & (local < ibis.literal(period_end(start, period))))
    links = store.backend.table("feedback_links").select(_fid="feedback_id", _jid="journey_id")
    j = journey_reasons(store, contacts).select(_rjid="journey_id", reason="reason")
    t = fb.join(links, fb.feedback_id == links._fid).join(j, links._jid == j._rjid)
    order = ibis.window(group_by="reason", order_by=[t.score.isnull(), t.score, t.feedback_id])
    t = t.mutate(_k=ibis.row_number().over(order))
    rows = store.execute(t.filter(t._k < k).select("reason", "comment", "_k").order_by(["reason", "_k"]))
    out: dict[str, list[str]] = {}
    for r in rows.to_pylist():
        out.setdefault(r["reason"], []).append(r["comment"])
    return out


def signal_rows(
    per: Periods, comments: dict[str, list[str]], settings: ContactsSettings, priced: bool
) -> list[dict[str, Any]]:
    """One row per reason with contacts in the last two complete periods, by department."""
    reasons = sorted({r["reason"] for r in per.rows if r["period"] in (per.last, per.previous)})
    rows = []
    for reason in reasons:
        cost = sum(
            float(r["cost"] or 0) for r in per.rows if r["reason"] == reason and r["period"] == per.last
        )
        rows.append({
            "department": settings.department(reason), "reason": reason,
            "period": per.last.isoformat() if per.last else None,
            **trend_fields(per.trend(reason)),
            "cost": cost if priced else None, "examples": comments.get(reason, []),
        })  # fmt: skip
    add_q(rows)
    rows.sort(key=lambda r: (r["department"], -(r["last"] or 0), r["reason"]))
    return rows
