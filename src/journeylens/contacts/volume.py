"""Why customers contact: volume, trend, self-service against assisted resolution, and cost by reason.

The engine reduces the contacts to counts and costs per reason and period, and the journeys to
outcome counts per reason; Python turns those few rows into rates with Wilson intervals and one
trend test per reason (``contacts/trend.py``), with Benjamini-Hochberg ``q`` across reasons.

A journey's reason is the reason of its first assisted contact, else the journey's
``contact_reason``; journeys with neither (most self-service visits state none) are the
``(not stated)`` row. Resolution rates are over journeys with a final outcome (neither open nor
unknown: ``journeys/undefined.py``); ``inferred`` counts the successes read from "no repeat"
(``outcome_evidence`` ``no_repeat_self_service`` / ``no_repeat_after_contact``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir

from journeylens.contacts.reasons import NOT_STATED
from journeylens.contacts.settings import ContactsSettings
from journeylens.contacts.trend import PERIOD_UNITS, RateRatio, complete_periods, rate_ratio
from journeylens.discovery._compare import utc_literal
from journeylens.discovery._stats import benjamini_hochberg
from journeylens.journeys import evidence as ev
from journeylens.journeys.summary import wilson
from journeylens.journeys.undefined import UNDECIDED
from journeylens.specs.contacts import ContactsSpec
from journeylens.store import Store


@dataclass(frozen=True)
class Periods:
    """Contacts and cost per reason and period, and which two complete periods the trend compares."""

    rows: list[dict[str, Any]]
    last: dt.date | None
    previous: dt.date | None

    def count(self, reason: str, start: dt.date | None) -> int:
        return sum(r["contacts"] for r in self.rows if r["reason"] == reason and r["period"] == start)

    def trend(self, reason: str) -> RateRatio | None:
        if self.last is None or self.previous is None:
            return None
        return rate_ratio(self.count(reason, self.last), self.count(reason, self.previous))


def within(t: ir.Table, spec: ContactsSpec) -> ir.Table:
    """Contacts of the spec's time range."""
    if spec.since is not None:
        t = t.filter(t.timestamp >= utc_literal(spec.since))
    if spec.until is not None:
        t = t.filter(t.timestamp < utc_literal(spec.until))
    return t


def periods(store: Store, contacts: ir.Table, spec: ContactsSpec) -> Periods:
    """Per reason and period (local calendar): contacts and cost; the last two complete periods."""
    start = store.local_time(contacts.timestamp).truncate(PERIOD_UNITS[spec.period.value]).date()
    rows = store.execute(
        contacts.group_by(reason=contacts.reason, period=start)
        .agg(contacts=contacts.count(), cost=contacts.cost.sum())
        .order_by(["reason", "period"])
    ).to_pylist()
    end = store.execute(store.local_time(contacts.timestamp).max().date()).as_py()
    done = (
        complete_periods([r["period"] for r in rows], end + dt.timedelta(days=1), spec.period.value)
        if end
        else []
    )
    last, previous = (done[-1], done[-2]) if len(done) >= 2 else (None, None)
    return Periods(rows, last, previous)


def journey_reasons(store: Store, contacts: ir.Table) -> ir.Table:
    """Journeys with ``reason``: of their first assisted contact, else the journey's own."""
    firsts = contacts.filter(contacts.first).select(_jid="journey_id", _first_reason="reason")
    journeys = store.backend.table("journeys")
    j = journeys.left_join(firsts, journeys.journey_id == firsts._jid)
    return j.mutate(reason=ibis.coalesce(j._first_reason, j.contact_reason, ibis.literal(NOT_STATED)))


def resolution_counts(store: Store, contacts: ir.Table, spec: ContactsSpec) -> dict[str, dict[str, int]]:
    """Per journey reason: journeys, decided, resolved by self-service or assisted, inferred."""
    j = journey_reasons(store, contacts)
    if spec.since is not None:
        j = j.filter(j.start >= utc_literal(spec.since))
    if spec.until is not None:
        j = j.filter(j.start < utc_literal(spec.until))
    success = j.outcome == "success"
    helped = j.assisted_contacts.fill_null(0) > 0
    inferred = j.outcome_evidence.isin([ev.NO_REPEAT_SELF_SERVICE, ev.NO_REPEAT_AFTER_CONTACT])
    rows = store.execute(
        j.group_by("reason").agg(
            journeys=j.count(),
            decided=(~j.outcome.isin(UNDECIDED)).cast("int64").sum(),
            self_service=(success & ~helped).cast("int64").sum(),
            assisted=(success & helped).cast("int64").sum(),
            inferred=(success & inferred).cast("int64").sum(),
        )
    ).to_pylist()
    return {r["reason"]: {k: int(v or 0) for k, v in r.items() if k != "reason"} for r in rows}


def reason_rows(
    counts: list[dict[str, Any]], per: Periods, resolution: dict[str, dict[str, int]],
    settings: ContactsSettings, priced: bool,
) -> list[dict[str, Any]]:  # fmt: skip
    """One row per reason: volume and share, trend, resolution rates, cost; q across reasons."""
    total = sum(int(r["contacts"]) for r in counts)
    out = []
    for r in sorted(counts, key=lambda r: (-int(r["contacts"]), r["reason"])):
        reason, n = r["reason"], int(r["contacts"])
        trend = per.trend(reason)
        res = resolution.get(reason, {})
        decided = res.get("decided", 0)
        ss_lo, ss_hi = wilson(res.get("self_service", 0), decided)
        as_lo, as_hi = wilson(res.get("assisted", 0), decided)
        cost = float(r["cost"]) if priced and r["cost"] is not None else None
        out.append({
            "reason": reason, "department": settings.department(reason), "contacts": n,
            "share": n / total if total else None, "journeys": res.get("journeys", 0), "decided": decided,
            "self_service_resolved": res.get("self_service", 0),
            "self_service_rate": res.get("self_service", 0) / decided if decided else None,
            "self_service_lo": ss_lo, "self_service_hi": ss_hi,
            "assisted_resolved": res.get("assisted", 0),
            "assisted_rate": res.get("assisted", 0) / decided if decided else None,
            "assisted_lo": as_lo, "assisted_hi": as_hi, "inferred": res.get("inferred", 0),
            **trend_fields(trend),
            "cost": cost, "cost_per_contact": cost / n if cost is not None and n else None,
        })  # fmt: skip
    add_q(out)
    return out


def trend_fields(trend: RateRatio | None) -> dict[str, Any]:
    """``last``, ``previous``, ``ratio`` [``ratio_lo``, ``ratio_hi``] and ``p`` of a trend test."""
    if trend is None:
        return {"last": None, "previous": None, "ratio": None, "ratio_lo": None, "ratio_hi": None, "p": None}
    return {"last": trend.last, "previous": trend.previous, "ratio": trend.ratio, "ratio_lo": trend.lo,
            "ratio_hi": trend.hi, "p": trend.p}  # fmt: skip


def add_q(rows: list[dict[str, Any]]) -> None:
    """Benjamini-Hochberg ``q`` over the rows' trend tests; ``grew`` when q < 0.05 and the ratio > 1."""
    qs = benjamini_hochberg([r["p"] for r in rows])
    for row, q in zip(rows, qs, strict=True):
        row["q"] = q
        row["grew"] = None if q is None else bool(q < 0.05 and (row["ratio"] is None or row["ratio"] > 1))
