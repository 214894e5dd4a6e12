"""Which metrics a comparison shows when none are named: the ones the data defines.

Outcome rates (success, leakage) mean something only where a journey type says what success or
failure is; a case log whose journeys all fall in type ``other`` has none, and purchase data (a
retailer's order lines) has money instead. So, over the selected journeys:

* some journey type of the selection declares ``success`` or ``failure`` criteria
  (``[journeys.types.NAME]``): success, leakage, duration_s, cost_to_serve;
* otherwise, journeys with money attached (``value > 0``): purchases, value, and per customer
  recency_days and frequency (segments only, and only when the journeys have customers);
* otherwise: duration_s and touchpoints, which every journey defines.

Two small aggregates (the selection's journey types; its journeys with a value and with a customer)
decide; the reason is kept with the result.
"""

from __future__ import annotations

from journeylens.discovery.selection import select_journeys
from journeylens.journeys.definitions import JourneyRules
from journeylens.specs.discovery import DEFAULT_METRICS, JourneyFilter
from journeylens.store import Store

PURCHASE_METRICS = ("purchases", "value", "recency_days", "frequency")
EVERY_JOURNEY_METRICS = ("duration_s", "touchpoints")


def outcome_types(rules: JourneyRules | None) -> set[str] | None:
    """Journey types that declare success or failure criteria (None: not known without rules)."""
    if rules is None:
        return None
    return {n for n, t in rules.types.items() if not (t.success.is_empty() and t.failure.is_empty())}


def default_metrics(
    store: Store, flt: JourneyFilter, rules: JourneyRules | None, *, per_customer: bool
) -> tuple[list[str], str]:
    """The metrics the selected journeys define, and one sentence saying why.

    Without ``rules`` (a direct Python call) every configured type counts as defining outcomes
    and only ``other`` does not. ``per_customer``: the comparison can show per-customer metrics.
    """
    journeys = select_journeys(store, flt)
    types = sorted(
        str(t) for t in store.execute(journeys.select("journey_type").distinct()).column(0).to_pylist()
    )
    known = outcome_types(rules)
    defining = [t for t in types if (t != "other" if known is None else t in known)]
    if defining:
        return list(DEFAULT_METRICS), (
            f"journey type(s) {', '.join(defining)} define success or failure, so outcome rates are defined"
        )
    counts = store.execute(
        journeys.aggregate(
            valued=(journeys.value.fill_null(0.0) > 0).cast("int64").sum(),
            customers=journeys.customer_id.count(),
        )
    ).to_pylist()[0]
    none = (
        f"no journey type of the selection ({', '.join(types) or 'none'}) defines success or failure "
        "(declare success/failure criteria under [journeys.types.NAME] for outcome rates)"
    )
    if counts["valued"]:
        names = list(PURCHASE_METRICS if per_customer and counts["customers"] else PURCHASE_METRICS[:2])
        return names, f"{none}; {int(counts['valued']):,} journeys carry money (value > 0): purchase metrics"
    return list(EVERY_JOURNEY_METRICS), f"{none}, and no journey carries a value"
