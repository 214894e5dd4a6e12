"""What counts as a purchase for the built-in segments, and why; none found is said, never zero.

``RfmRules.purchases`` chooses the source: ``journeys`` (successful journeys of
``purchase_types``), ``events`` (events of a known customer with ``value > 0``), or ``None``
(the default): purchase journeys when some ended in success, else events carrying a value — an
order file has money but no checkout journey — and the choice says so. A source that finds no
purchase at all leaves first-time, loyal and occasional undefined (everyone would be a
"prospect" only because the data cannot show a purchase): :func:`choose_source` returns no
source with the reason and the setting that would define one.

Two small aggregates decide (successful journeys per purchase type, valued events of known
customers). A purchase type the user names that neither the data nor ``[journeys.types]`` knows
is a typo, and stays an error.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis.expr.types as ir

from journeylens.errors import InputError, close_matches
from journeylens.identity.stitch import events_with_customers
from journeylens.journeys.build import require_journeys
from journeylens.journeys.definitions import JourneyRules
from journeylens.specs.comparison import PurchaseSource, RfmRules
from journeylens.store import Store
from journeylens.store._backend import local_time

NO_PURCHASE_HINT = (
    "Declare the purchase journey in journeylens.toml ([journeys.types.purchase] with "
    'start.touchpoints = ["..."] and success.touchpoints = ["order_confirmation"]) or name your '
    "purchase journey type with --purchase-type NAME; or, for order lines with an amount, map it when "
    "ingesting (--map value=COLUMN) and count those events with --purchases events."
)


@dataclass(frozen=True)
class PurchaseChoice:
    """The purchase source used (None: the data has no purchase) and one sentence saying why."""

    source: PurchaseSource | None
    reason: str
    hint: str = ""


def choose_source(store: Store, rules: RfmRules, types: JourneyRules | None = None) -> PurchaseChoice:
    """Which purchases the built-in segments count (``types``: the workspace's journey types,
    for telling a typo from a type without journeys in this data)."""
    named = ", ".join(rules.purchase_types)
    if rules.purchases is PurchaseSource.events:
        valued = _valued_events(store)
        if valued:
            return PurchaseChoice(PurchaseSource.events, f"the {valued:,} events with value > 0, as asked")
        return PurchaseChoice(None, _none_reason(store, events_only=True), NO_PURCHASE_HINT)
    present = _check_purchase_types(store, rules, types)
    won = _successful_journeys(store, rules.purchase_types)
    if won:
        return PurchaseChoice(PurchaseSource.journeys, f"the {won:,} successful journeys of type {named}")
    asked = rules.purchases is not None or "purchase_types" in rules.model_fields_set
    valued = 0 if asked else _valued_events(store)
    if valued:
        return PurchaseChoice(
            PurchaseSource.events,
            f"no journey of type {named} ended in success (journey types present: "
            f"{', '.join(present) or 'none'}), so the {valued:,} events with value > 0 are the purchases "
            "(--purchases journeys counts journeys only)",
        )
    return PurchaseChoice(None, _none_reason(store, present=present, named=named, events=not asked),
                          NO_PURCHASE_HINT)  # fmt: skip


def _none_reason(
    store: Store, *, present: list[str] | None = None, named: str = "", events: bool = True,
    events_only: bool = False,
) -> str:  # fmt: skip
    parts = []
    if not events_only:
        parts.append(
            f"no journey of type {named} ended in success (journey types present: "
            f"{', '.join(present or []) or 'none'})"
        )
    if events or events_only:
        parts.append("no event of a known customer carries a value > 0")
    return (
        f"no purchase in the data: {' and '.join(parts)}, so first-time, loyal and occasional "
        "customers cannot be told apart"
    )


def purchases(store: Store, rules: RfmRules, source: PurchaseSource | None) -> ir.Table:
    """(customer_id, at_s epoch seconds UTC, amount) of every purchase from ``source`` (None:
    successful journeys of ``purchase_types``, which is empty when no purchase was found)."""
    if source is PurchaseSource.events:
        ev = events_with_customers(store)
        ev = ev.filter(ev.value > 0, ev.customer_id.notnull())
        return ev.select("customer_id", at_s=epoch(store, ev.timestamp), amount=ev.value)
    journeys = require_journeys(store)
    won = journeys.filter(journeys.journey_type.isin(rules.purchase_types), journeys.outcome == "success")
    at_s = epoch(store, won.start) + won.time_to_resolution_s.fill_null(0)
    return won.select("customer_id", at_s=at_s, amount=won.value.fill_null(0.0))


def epoch(store: Store, ts: ir.TimestampValue) -> ir.IntegerValue:
    """Epoch seconds of a UTC timestamp column."""
    # ibis reads the epoch of a zoned timestamp through the session's wall clock (off by the
    # zone's offset, and by an hour across DST); the UTC wall clock gives the true epoch.
    seconds: ir.IntegerValue = local_time(store.backend, ts, "UTC").epoch_seconds()
    return seconds


def _valued_events(store: Store) -> int:
    ev = events_with_customers(store)
    return int(store.execute(ev.filter(ev.value > 0, ev.customer_id.notnull()).count()).as_py() or 0)


def _successful_journeys(store: Store, wanted: list[str]) -> int:
    journeys = require_journeys(store)
    won = journeys.filter(journeys.journey_type.isin(wanted), journeys.outcome == "success")
    return int(store.execute(won.count()).as_py() or 0)


def _check_purchase_types(store: Store, rules: RfmRules, types: JourneyRules | None) -> list[str]:
    """The journey types present; a named purchase type that the data and the workspace's journey
    types both lack is a typo (the default ``purchase`` may simply be absent from this data)."""
    journeys = require_journeys(store)
    present = sorted(
        str(t) for t in store.execute(journeys.select("journey_type").distinct()).column(0).to_pylist()
    )
    if "purchase_types" not in rules.model_fields_set:
        return present
    known = sorted({*present, *(types.types if types is not None else ())})
    for name in rules.purchase_types:
        if name not in known:
            near = close_matches(name, known)
            raise InputError(
                f"No journeys of type {name!r} to count as purchases. Journey types present: "
                f"{', '.join(repr(p) for p in present)}.",
                hint=(f"Did you mean {near[0]!r}? " if near else "")
                + "Name purchase journey types (--purchase-type), or count events with value > 0 "
                "as purchases (--purchases events).",
            )
    return present
