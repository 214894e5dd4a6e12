"""Repeat contacts and repeated reasons: did the customer have to say it again?

A contact is a *repeat* when the same customer's previous assisted contact came within the repeat
window (``[journeys] repeat_window``). A repeat *switched* when its channel or its agent differs
from the previous contact's; the reason was *repeated* when both contacts state the same reason.
The share of switched repeats (with a stated reason on both) whose reason was repeated is the
"context lost" rate: the customer had to state the reason again after a channel or agent change.
Shares come with Wilson intervals, per channel pair (previous -> this) and in total.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir

from journeylens.contacts.reasons import NOT_STATED
from journeylens.journeys.definitions import JourneyRules, seconds
from journeylens.journeys.summary import wilson
from journeylens.store import Store

TOTAL = "(all)"


def repeat_flags(contacts: ir.Table, rules: JourneyRules) -> ir.Table:
    """Contacts with the previous contact of the customer: ``repeat``, ``switched``, ``stated``
    (both state a reason), ``same_reason`` and the ``pair`` of channels."""
    by_customer = ibis.window(group_by="customer_id", order_by=["timestamp", "event_id"])
    t = contacts.mutate(
        _prev_at=contacts.timestamp.lag().over(by_customer),
        _prev_channel=contacts.channel.lag().over(by_customer),
        _prev_agent=contacts.agent_id.lag().over(by_customer),
        _prev_reason=contacts.reason.lag().over(by_customer),
    )
    gap = t.timestamp.epoch_seconds() - t._prev_at.epoch_seconds()
    repeat = (t._prev_at.notnull() & (gap <= seconds(rules.repeat_window))).fill_null(False)
    switched = repeat & ((t.channel != t._prev_channel) | (t.agent_id != t._prev_agent))
    stated = (t.reason != NOT_STATED) & (t._prev_reason != NOT_STATED)
    return t.mutate(
        repeat=repeat,
        switched=switched,
        stated=switched & stated,
        same_reason=switched & stated & (t.reason == t._prev_reason),
        pair=ibis.ifelse(repeat, t._prev_channel.concat(" -> ", t.channel), ibis.null("string")),
    )


def repeat_rows(store: Store, contacts: ir.Table, rules: JourneyRules) -> list[dict[str, Any]]:
    """Per channel pair of the repeats (and in total): repeats, switched, repeated reasons."""
    t = repeat_flags(contacts, rules)
    aggs = {
        "contacts": t.count(),
        "repeats": t.repeat.cast("int64").sum(),
        "switched": t.switched.cast("int64").sum(),
        "stated": t.stated.cast("int64").sum(),
        "repeated_reason": t.same_reason.cast("int64").sum(),
    }
    total = store.execute(t.aggregate(**aggs)).to_pylist()[0]
    rep = t.filter(t.repeat)
    pairs = store.execute(rep.group_by("pair").agg(**{k: v for k, v in aggs.items() if k != "contacts"}))
    rows = [_row(TOTAL, total)]
    rows += [
        _row(r["pair"], r) for r in sorted(pairs.to_pylist(), key=lambda r: (-int(r["repeats"]), r["pair"]))
    ]
    return rows


def _row(pair: str, r: dict[str, Any]) -> dict[str, Any]:
    repeats, switched = int(r["repeats"] or 0), int(r["switched"] or 0)
    stated, same = int(r["stated"] or 0), int(r["repeated_reason"] or 0)
    contacts = int(r["contacts"]) if r.get("contacts") is not None else None
    rep_lo, rep_hi = wilson(repeats, contacts or 0)
    lo, hi = wilson(same, stated)
    return {
        "channels": pair, "contacts": contacts, "repeats": repeats,
        "repeat_rate": repeats / contacts if contacts else None, "repeat_lo": rep_lo, "repeat_hi": rep_hi,
        "switched": switched, "stated": stated, "repeated_reason": same,
        "repeated_reason_rate": same / stated if stated else None,
        "repeated_reason_lo": lo, "repeated_reason_hi": hi,
    }  # fmt: skip
