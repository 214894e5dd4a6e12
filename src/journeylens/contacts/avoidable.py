"""Avoidable contacts: digital touchpoints that send customers to an assisted contact.

An *exposure* is a digital touchpoint event: one on a ``[journeys] digital_channels`` channel, or a
message without an agent on a ``[voc.contacts] message_channels`` channel (an SMS, an e-mail),
but not a touchpoint that is itself a way to make contact (``exclude_touchpoints``). A touchpoint
with a ``variant_properties`` value (a message template) is one touchpoint per variant:
``sms:delivery_update[template=delivery_update_sp1]``. An exposure is *followed* when the same
customer's next journey-opening assisted contact (the first of a journey) comes within
``[voc.contacts] window`` after it.

Many touchpoints precede contacts because customers with a problem visit them (help pages), so the
count alone ranks symptoms. Each touchpoint is compared with its *peers*: the other variants of the
same touchpoint when it has variants, else the other touchpoints of its channel in the same journey
type. Its **excess contacts** are ``followed - exposures x peer rate``, summed over journey types,
with a 95% interval from the binomial variance of its own rate (the peer rate taken as known):
the contacts the touchpoint is associated with beyond its peers (an association, not a cause).
The ranking is by the lower bound of that interval (at least this many excess contacts), so that a
large but uncertain excess does not outrank a well-measured one; the avoidable cost is the excess
at the mean cost of the contacts that followed (``[journeys.costs]``; not defined when unset).
Each touchpoint's excess is split over the reasons of the contacts that followed, for the ranking
by reason.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import ibis
import ibis.expr.types as ir

from journeylens.contacts.settings import ContactsSettings
from journeylens.journeys.definitions import JourneyRules, seconds
from journeylens.journeys.summary import wilson
from journeylens.store import Store
from journeylens.store._backend import json_text
from journeylens.store._working import drop_scratch, scratch_table

Z95 = 1.959963984540054
EXPOSURES = "_jl_contact_exposures"
"""The working table of one run's exposures (dropped when it ends)."""


def touchpoint_label(t: ir.Table, settings: ContactsSettings) -> tuple[ir.StringValue, ir.StringValue]:
    """``channel:touchpoint`` and, with a variant, ``channel:touchpoint[property=value]`` (the first
    variant property the event has; text with a NULL part is NULL, so absent ones fall through)."""
    base = t.channel.concat(":", t.touchpoint)
    # COALESCE keeps the JSON extraction one operand: sqlglot 23.6.3 (the floor) writes it as ``->>`` without
    # parentheses, and DuckDB binds ``||`` tighter, so '[k=' || props ->> '$.k' parsed the text as JSON.
    variants = [
        ibis.literal(f"[{p}=").concat(ibis.coalesce(json_text(t.properties, p)), "]")
        for p in settings.variant_properties
    ]
    return base, base.concat(ibis.coalesce(*variants, ibis.literal("")))


def exposures(store: Store, rules: JourneyRules, settings: ContactsSettings) -> ir.Table:
    """Digital touchpoint events with customer, journey type, ``base`` and ``label``."""
    e = store.table("events")
    digital = e.channel.isin(rules.digital_channels) | (
        e.channel.isin(settings.message_channels) & e.agent_id.isnull()
    )
    e = e.filter(digital & ~e.touchpoint.isin(settings.exclude_touchpoints))
    je = store.backend.table("journey_events")
    journeys = store.backend.table("journeys").select("journey_id", "customer_id", "journey_type")
    e = e.join(je, "event_id").join(journeys, "journey_id")
    base, label = touchpoint_label(e, settings)
    return e.select(
        _eid=e.event_id, _cid=e.customer_id, _at=e.timestamp, journey_type=e.journey_type.fill_null("other"),
        channel=e.channel, base=base, label=label,
    )  # fmt: skip


def followed(x: ir.Table, contacts: ir.Table, settings: ContactsSettings) -> ir.Table:
    """Each exposure (``x``: :func:`exposures`) with the first journey-opening contact within the
    window after it (``reason`` and ``cost`` NULL, ``followed`` false, when none)."""
    firsts = contacts.filter(contacts.first).select(
        _ccid="customer_id", _cat="timestamp", _order="order", _reason="reason", _cost="cost"
    )
    window = seconds(settings.window)
    pairs = x.join(
        firsts,
        (x._cid == firsts._ccid)
        & (firsts._cat > x._at)
        & (firsts._cat.epoch_seconds() - x._at.epoch_seconds() <= window),
    )
    # The earliest contact per exposure: ``order`` numbers contacts by time, then event id.
    nearest = pairs.group_by(_feid=pairs._eid).agg(
        reason=pairs._reason.argmin(pairs._order), cost=pairs._cost.argmin(pairs._order)
    )
    out = x.left_join(nearest, x._eid == nearest._feid)
    return out.mutate(followed=out._feid.notnull())


def aggregates(store: Store, contacts: ir.Table, rules: JourneyRules, settings: ContactsSettings) -> tuple[
    list[dict[str, Any]], list[dict[str, Any]]
]:  # fmt: skip
    """(per label and journey type: exposures, followed, cost; per label and reason: followed, cost),
    from one aggregate of the exposures by label, journey type and reason."""
    # The exposures are read twice (each with its contact, and all of them): computed once.
    x = scratch_table(store.backend, EXPOSURES, exposures(store, rules, settings))
    try:
        f = followed(x, contacts, settings)
        rows = store.execute(
            f.group_by(["label", "base", "channel", "journey_type", "reason"]).agg(
                exposures=f.count(), followed=f.followed.cast("int64").sum(), cost=f.cost.sum()
            )
        ).to_pylist()
    finally:
        drop_scratch(store.backend, EXPOSURES)
    cells: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    reasons: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        key = (r["label"], r["base"], r["channel"], r["journey_type"])
        cell = cells.setdefault(
            key, dict(zip(("label", "base", "channel", "journey_type"), key, strict=True))
        )
        for name in ("exposures", "followed", "cost"):
            cell[name] = cell.get(name, 0) + (r[name] or 0)
        if r["reason"] is not None:
            hit = reasons.setdefault((r["label"], r["reason"]), {"label": r["label"], "reason": r["reason"]})
            hit["followed"] = hit.get("followed", 0) + r["followed"]
            hit["cost"] = hit.get("cost", 0.0) + (r["cost"] or 0.0)
    return list(cells.values()), list(reasons.values())


def ranking(
    cells: list[dict[str, Any]], reasons: list[dict[str, Any]], priced: bool, limit: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Touchpoints by excess contacts (with interval and cost), and the same split by reason."""
    variants: dict[str, set[str]] = defaultdict(set)
    for c in cells:
        variants[c["base"]].add(c["label"])
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for c in cells:
        groups[_peer_key(c, variants)].append(c)
    per: dict[str, dict[str, Any]] = {}
    for key, members in groups.items():
        n_all = sum(int(m["exposures"]) for m in members)
        c_all = sum(int(m["followed"]) for m in members)
        for m in members:
            n, hit = int(m["exposures"]), int(m["followed"])
            row = per.setdefault(m["label"], _empty(m))
            row["exposures"] += n
            row["followed"] += hit
            row["cost_followed"] += float(m["cost"] or 0.0)
            peers_n = n_all - n
            if peers_n <= 0:
                continue
            rate = (c_all - hit) / peers_n
            row["excess"] += hit - n * rate
            row["_var"] += n * (hit / n) * (1 - hit / n) if n else 0.0
            row["_peer_n"] += peers_n
            row["_peer_c"] += c_all - hit
            row["peers"] = key[0]
    rows = [_finish(r, priced) for r in per.values() if r["_peer_n"] > 0]
    # Ranked by the lower 95% bound: a large but uncertain excess does not outrank a measured one.
    rows.sort(key=lambda r: (-r["excess_lo"], r["touchpoint"]))
    for rank, r in enumerate(rows, start=1):
        r["rank"] = rank
    return rows[:limit], _by_reason(rows, reasons)


def _peer_key(cell: dict[str, Any], variants: dict[str, set[str]]) -> tuple[Any, ...]:
    if len(variants[cell["base"]]) > 1:
        return ("variants", cell["base"], cell["journey_type"])
    return ("channel", cell["channel"], cell["journey_type"])


def _empty(cell: dict[str, Any]) -> dict[str, Any]:
    zeros = dict.fromkeys(("exposures", "followed", "_peer_n", "_peer_c"), 0)
    floats = dict.fromkeys(("cost_followed", "excess", "_var"), 0.0)
    return {"touchpoint": cell["label"], "channel": cell["channel"], "peers": None, **zeros, **floats}


def _finish(r: dict[str, Any], priced: bool) -> dict[str, Any]:
    n, c = r["exposures"], r["followed"]
    lo, hi = wilson(c, n)
    half = Z95 * math.sqrt(r["_var"])
    mean_cost = r["cost_followed"] / c if priced and c else None
    excess = r["excess"]
    return {
        "rank": 0, "touchpoint": r["touchpoint"], "channel": r["channel"], "exposures": n, "followed": c,
        "contact_rate": c / n if n else None, "contact_rate_lo": lo, "contact_rate_hi": hi,
        "peers": r["peers"], "peer_rate": r["_peer_c"] / r["_peer_n"],
        "excess_contacts": excess, "excess_lo": excess - half, "excess_hi": excess + half,
        "avoidable_cost": None if mean_cost is None else excess * mean_cost,
        "cost_per_contact": mean_cost,
    }  # fmt: skip


def _by_reason(rows: list[dict[str, Any]], reasons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each touchpoint's excess (and its lower bound) split over the reasons of the contacts that
    followed it; ranked within each reason by the lower bound."""
    excess = {r["touchpoint"]: r for r in rows}
    out = []
    for x in reasons:
        row = excess.get(x["label"])
        if row is None or not row["followed"]:
            continue
        share = int(x["followed"]) / row["followed"]
        out.append({
            "reason": x["reason"], "touchpoint": x["label"], "followed": int(x["followed"]),
            "share_of_followed": share, "excess_contacts": row["excess_contacts"] * share,
            "excess_lo": row["excess_lo"] * share,
        })  # fmt: skip
    out.sort(key=lambda r: (r["reason"], -r["excess_lo"], r["touchpoint"]))
    rank: dict[str, int] = defaultdict(int)
    for r in out:
        rank[r["reason"]] += 1
        r["rank"] = rank[r["reason"]]
    return out
