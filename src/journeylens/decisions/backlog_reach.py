"""The engine part of the backlog: how many journeys and customers a touchpoint reaches, what they
are worth, and how many days the data spans (to scale counts to a year).

One aggregation over the journey events: per touchpoint label (``channel:touchpoint``, and with a
variant property ``channel:touchpoint[template=...]``, the labels ``journeylens contacts`` ranks),
the distinct journeys and customers that had it, the mean value of those journeys (their
``value``: revenue of a purchase, refunds as negative) and the mean yearly value of those customers
(all their journeys' value over the span). Ibis only; run once per backlog.

Example:
    >>> reach = touchpoint_reach(ws.store, ws.config.journeys, ws.config.voc.contacts)  # doctest: +SKIP
    >>> reach.rows["web:billing_faq"]["journeys"], reach.days  # doctest: +SKIP
    (672, 120.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import ibis.expr.types as ir

from journeylens.contacts.avoidable import touchpoint_label

if TYPE_CHECKING:
    from journeylens.contacts.settings import ContactsSettings
    from journeylens.journeys.definitions import JourneyRules
    from journeylens.store import Store

__all__ = ["Reach", "reach_expr", "span_expr", "touchpoint_reach"]

DAY_S = 86_400.0


@dataclass(frozen=True)
class Reach:
    """Per touchpoint label: journeys, customers, journey_value, customer_value; the data's span."""

    days: float
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def per_year(self) -> float:
        """Multiplier from the data's span to a year (365 days / span)."""
        return 365.0 / self.days


def span_expr(journeys: ir.Table) -> ir.Table:
    """First and last start of the journeys, in epoch seconds (journeys that started in the data's
    window: their ends may run past it)."""
    return journeys.aggregate(
        first=journeys.start.min().epoch_seconds(), last=journeys.start.max().epoch_seconds()
    )


def reach_expr(
    events: ir.Table, journey_events: ir.Table, journeys: ir.Table, settings: ContactsSettings,
    labels: Sequence[str] | None = None,
) -> ir.Table:  # fmt: skip
    """Per touchpoint label (both the plain and the variant label of each event): distinct journeys
    and customers, mean journey value, and the affected customers' total journey value."""
    j = journeys.select("journey_id", "customer_id", value=journeys.value.fill_null(0.0))
    e = events.select("event_id", "channel", "touchpoint", "properties").join(journey_events, "event_id")
    base, label = touchpoint_label(e, settings)
    hits = e.select("journey_id", label=base).union(e.select("journey_id", label=label)).distinct()
    if labels is not None:
        hits = hits.filter(hits.label.isin(list(labels)))
    hits = hits.join(j, "journey_id")
    customer_value = j.group_by(_cid="customer_id").agg(_total=j.value.sum())
    per_journey = hits.group_by("label").agg(
        journeys=hits.journey_id.nunique(),
        customers=hits.customer_id.nunique(),
        journey_value=hits.value.mean(),
    )
    who = hits.select("label", "customer_id").distinct()
    who = who.join(customer_value, who.customer_id == customer_value._cid)
    per_customer = who.group_by(_label="label").agg(customer_total=who._total.mean())
    out = per_journey.join(per_customer, per_journey.label == per_customer._label)
    return out.select("label", "journeys", "customers", "journey_value", "customer_total")


def touchpoint_reach(
    store: Store, rules: JourneyRules, settings: ContactsSettings, labels: Sequence[str] | None = None
) -> Reach:
    """:func:`reach_expr` and :func:`span_expr` run on the workspace's model (two small queries)."""
    del rules  # the labels are the contacts' labels; the rules pick no events here
    backend = store.backend
    journeys = backend.table("journeys")
    span = store.execute(span_expr(journeys)).to_pylist()[0]
    first, last = span["first"], span["last"]
    days = max(1.0, math.ceil((last - first) / DAY_S)) if first is not None and last is not None else 1.0
    if labels is not None and not labels:
        return Reach(days)
    expr = reach_expr(store.table("events"), backend.table("journey_events"), journeys, settings, labels)
    rows = {}
    for r in store.execute(expr).to_pylist():
        rows[r["label"]] = {
            "journeys": int(r["journeys"]), "customers": int(r["customers"]),
            "journey_value": float(r["journey_value"]) if r["journey_value"] is not None else None,
            "customer_value": None if r["customer_total"] is None else r["customer_total"] * 365.0 / days,
        }  # fmt: skip
    return Reach(days, rows)
