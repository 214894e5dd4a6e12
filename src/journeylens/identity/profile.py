"""Customer 360: one customer's identifiers (and how each was linked), traits, timeline, feedback."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import ibis
import ibis.expr.types as ir

from journeylens.errors import NotFoundError, close_matches
from journeylens.identity.stitch import events_with_customers
from journeylens.journeys.undefined import COST_REASON, UNKNOWN_OUTCOME, outcome_reason
from journeylens.specs.identity import ANONYMOUS, SEP, USER
from journeylens.store import Store

TIMELINE_LIMIT = 200


# The journey columns the 360 view shows (JSON field list and query share them).
JOURNEY_FIELDS = (
    "journey_id", "journey_type", "start", "end", "outcome", "touchpoints", "channels",
    "channel_switches", "assisted_contacts", "leakage", "first_contact_resolution", "cost_to_serve",
)  # fmt: skip


@dataclass(frozen=True)
class CustomerProfile:
    """Everything known about one customer; ``to_dict()`` is the JSON, ``timeline`` the CSV."""

    #: The JSON contract (docs/cli.md reads it): ``to_dict()`` keys, with the record fields.
    JSON_FIELDS: ClassVar[tuple[str, ...]] = (
        "customer_id",
        "identifiers (records: customer_id, identifier_type, identifier_value, shared, linked_by)",
        "traits",
        "events",
        "timeline",
        "feedback",
        "journeys (records: " + ", ".join(JOURNEY_FIELDS) + ", outcome_reason, cost_to_serve_reason; "
        "in start order)",
    )

    customer_id: str
    identifiers: list[dict[str, Any]]
    """identifier_type, identifier_value, shared, linked_by (how the link was observed)."""
    traits: list[dict[str, Any]]
    timeline: list[dict[str, Any]]
    """The customer's events in time order (the first ``timeline_limit``, or all), across channels."""
    events: int
    feedback: list[dict[str, Any]]
    journeys: list[dict[str, Any]] | None = None
    """The customer's journeys in start order with their outcomes (None before journeys are built)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "identifiers": self.identifiers,
            "traits": self.traits,
            "events": self.events,
            "timeline": self.timeline,
            "feedback": self.feedback,
            "journeys": self.journeys,
        }


def require_customer_map(store: Store) -> ir.Table:
    if "customer_map" not in store.backend.list_tables():
        if store.count("events") == 0:
            raise NotFoundError(
                "Nothing has been ingested into this workspace yet.",
                hint="Load events first: `journeylens ingest FILE`; analyses then build customers.",
            )
        raise NotFoundError(
            "Customers have not been built yet (no customer_map table).",
            hint="Run `journeylens build`, or any analysis (it builds customers first when needed).",
        )
    return store.backend.table("customer_map")


def resolve_customer(store: Store, key: str) -> str:
    """A customer id from a customer id, a ``type:value`` identifier, or a bare user/anonymous id."""
    cmap = require_customer_map(store)
    kind, sep, value = key.partition(SEP)
    tries = [cmap.customer_id == key]
    if sep:
        tries.append((cmap.identifier_type == kind) & (cmap.identifier_value == value))
    tries.append(cmap.identifier_type.isin([USER, ANONYMOUS]) & (cmap.identifier_value == key))
    found = store.execute(cmap.filter(ibis.or_(*tries)).select("customer_id").distinct().limit(2))
    ids = found.column("customer_id").to_pylist()
    if len(ids) == 1:
        return str(ids[0])
    if len(ids) > 1:
        raise NotFoundError(
            f"{key!r} matches more than one customer ({', '.join(ids)}).",
            hint="Pass the customer id, or the identifier as type:value (user_id:..., anonymous_id:...).",
        )
    users = cmap.filter(cmap.identifier_type == USER)
    near = users.filter(users.identifier_value.startswith(key[:3])).select("identifier_value").limit(200)
    suggestions = close_matches(key, store.execute(near).column(0).to_pylist())
    raise NotFoundError(
        f"No customer {key!r}: it is neither a customer id nor a known user or anonymous id.",
        hint=(f"Did you mean {', '.join(suggestions)}? " if suggestions else "")
        + "Identifiers of other types go as type:value, e.g. crm_id:C42 (e-mail and phone are hashed).",
    )


def customer_profile(store: Store, key: str, timeline_limit: int | None = TIMELINE_LIMIT) -> CustomerProfile:
    """Everything known about one customer.

    Example:
        >>> customer_profile(workspace.store, "u00000042").identifiers  # doctest: +SKIP
    """
    customer_id = resolve_customer(store, key)
    cmap = store.backend.table("customer_map")
    mine = cmap.filter(cmap.customer_id == customer_id)
    identifiers = store.execute(mine.order_by(["identifier_type", "identifier_value"])).to_pylist()
    users = [i["identifier_value"] for i in identifiers if i["identifier_type"] == USER]
    anons = [i["identifier_value"] for i in identifiers if i["identifier_type"] == ANONYMOUS]
    for ident in identifiers:
        ident["linked_by"] = _links(store, ident["identifier_type"], ident["identifier_value"], users)
    customers = store.table("customers")
    traits = store.execute(
        customers.filter(customers.user_id.isin(users))
        .order_by(ibis.desc("ingest_seq"))
        .select("user_id", "traits")
    ).to_pylist()
    events = events_with_customers(store)
    own = events.filter(events.customer_id == customer_id)
    total = int(store.execute(own.count()).as_py())
    ordered = own.order_by(["timestamp", "ingest_seq"])
    if timeline_limit is not None:  # None: the whole timeline (machine formats are complete)
        ordered = ordered.limit(timeline_limit)
    timeline = store.execute(
        ordered.select("timestamp", "channel", "touchpoint", "direction", "agent_id", "case_id", "value")
    ).to_pylist()
    fb = store.table("feedback")
    feedback = store.execute(
        fb.filter(fb.user_id.isin(users) | fb.anonymous_id.isin(anons))
        .order_by("timestamp")
        .select("timestamp", "channel", "touchpoint", "metric", "score", "comment", "agent_id")
    ).to_pylist()
    return CustomerProfile(
        customer_id, identifiers, traits, timeline, total, feedback, _journeys(store, customer_id)
    )


def _journeys(store: Store, customer_id: str) -> list[dict[str, Any]] | None:
    if "journeys" not in store.backend.list_tables():
        return None
    journeys = store.backend.table("journeys")
    mine = journeys.filter(journeys.customer_id == customer_id)
    rows: list[dict[str, Any]] = store.execute(
        mine.order_by(["start", "journey_id"]).select(*JOURNEY_FIELDS)
    ).to_pylist()
    # What the data does not define says why, in the same record (see journeys/undefined.py).
    for row in rows:
        unknown = row["outcome"] == UNKNOWN_OUTCOME
        row["outcome_reason"] = outcome_reason([row["journey_type"]]) if unknown else None
        row["cost_to_serve_reason"] = COST_REASON if row["cost_to_serve"] is None else None
    return rows


def _links(store: Store, kind: str, value: str, users: list[str]) -> str:
    """How an identifier was tied to this customer, in words (for the 360 view)."""
    if kind == USER:
        return "known customer id"
    if kind == ANONYMOUS:
        events = store.table("events")
        seen = events.filter((events.anonymous_id == value) & events.user_id.isin(users))
        row = store.execute(seen.aggregate(n=seen.count(), first=seen.timestamp.min())).to_pylist()[0]
        if row["n"]:
            return f"seen with a login on {row['n']} event(s), first {row['first']:%Y-%m-%d}"
    ids = store.table("identities")
    rows = ids.filter((ids.identifier_type == kind) & (ids.identifier_value == value))
    sources = store.execute(rows.select("source").distinct().limit(3)).column("source").to_pylist()
    return "identities table" + (f" ({', '.join(sources)})" if sources else "")
