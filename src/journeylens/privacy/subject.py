"""Who is the person to forget: every identifier linked to one user id, as an Ibis computation.

The identifiers are collected in a working table ``(kind, value)`` with values as stored:

- ``user_id``, ``anonymous_id`` and the identity types (``email``, ``phone``, ``crm_id``, ...;
  e-mail and phone as their stored salted hash): the person's component of ``customer_map``
  (the identity graph, with the shared-identifier guard: a family tablet shared with others is
  not the person's and stays), plus the direct links in the raw tables, so identifiers ingested
  after the last build are found too;
- ``customer_id``: their customer in ``customer_map``;
- ``case_id``: cases their events and feedback name;
- ``event_id``, ``feedback_id``, ``journey_id``: their rows, to reach the derived tables that
  know rows only by these keys (``journey_events``, ``feedback_links``, ``feedback_sentiment``,
  ``feedback_themes``, ``decisions``).

Free text (feedback comments, quarantined raw records) is searched by :func:`mentions`: a text
mentions the person when one of its tokens is one of their identifiers, or normalises and hashes
(as ``ingest.pii`` does) to their e-mail or phone.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from journeylens.ingest.pii import EMAIL, PHONE, hash_identifier, normalize_email, normalize_phone
from journeylens.specs.identity import ANONYMOUS, USER
from journeylens.store._working import scratch_table
from journeylens.store.store import Store

__all__ = ["IDS", "KEY_KINDS", "find_subject", "mentions", "tokens", "values_of"]

IDS = "_jl_forget_ids"
KEY_KINDS = ("user_id", "anonymous_id", "case_id", "customer_id", "journey_id", "event_id", "feedback_id")
"""Kinds that are also column names: a column of that name holding such a value is the person's."""
_TOKEN_SPLIT = r"[\s,;\"'{}\[\]|<>()=]+"
_TOKEN_EDGES = r"^[.:!?]+|[.:!?]+$"


def _ids(kind: str | ir.StringValue, value: ir.StringValue) -> dict[str, ir.Value]:
    return {"kind": ibis.literal(kind) if isinstance(kind, str) else kind, "value": value.cast("string")}


def values_of(ids: ir.Table, *kinds: str) -> ir.Column:
    """The person's identifiers of ``kinds`` (a column of the working table)."""
    return ids.filter(ids.kind.isin(kinds)).value


def find_subject(store: Store, user_id: str) -> ir.Table:
    """The working table of every identifier of the person known by ``user_id`` (see module doc)."""
    backend = store.backend
    present = set(backend.list_tables())
    parts: list[ir.Table] = [_one_row(store).select(kind=ibis.literal(USER), value=ibis.literal(user_id))]
    shared: ir.Table | None = None
    if "customer_map" in present:
        cmap = backend.table("customer_map")
        flagged = cmap.filter(cmap.shared.fill_null(False))
        shared = flagged.select(**_ids(flagged.identifier_type, flagged.identifier_value))
        theirs = cmap.filter((cmap.identifier_type == USER) & (cmap.identifier_value == user_id))
        component = cmap.filter(cmap.customer_id.isin(theirs.customer_id))
        parts += [
            component.select(**_ids(component.identifier_type, component.identifier_value)),
            component.select(**_ids("customer_id", component.customer_id)).distinct(),
        ]
    events, identities = store.table("events"), store.table("identities")
    mine_ev = events.filter((events.user_id == user_id) & events.anonymous_id.notnull())
    mine_id = identities.filter(identities.user_id == user_id)
    parts += [
        mine_ev.select(**_ids(ANONYMOUS, mine_ev.anonymous_id)).distinct(),
        mine_id.select(**_ids(mine_id.identifier_type, mine_id.identifier_value)),
        mine_id.filter(mine_id.anonymous_id.notnull()).select(**_ids(ANONYMOUS, mine_id.anonymous_id)),
    ]
    found = ibis.union(*parts, distinct=True)
    if shared is not None:  # the guard's verdict: a shared device is not theirs, whoever used it
        found = found.anti_join(shared, ["kind", "value"])
    ids = scratch_table(backend, IDS, found)
    # Identity rows of their devices (one more hop, for links the last build has not seen), then
    # the cases they opened: both read the table, so each is computed before it is added.
    devices = identities.filter(identities.anonymous_id.isin(values_of(ids, ANONYMOUS)))
    _add(store, ids, devices.select(**_ids(devices.identifier_type, devices.identifier_value)))
    _add(store, ids, _cases(store, ids))
    _add(store, ids, _rows(store, ids, present))
    return backend.table(IDS)


def _theirs(t: ir.Table, ids: ir.Table) -> ir.BooleanValue:
    """Rows of raw table ``t`` naming one of the person's user, anonymous or case ids."""
    flag: ir.BooleanValue = ibis.literal(False)
    for column in (USER, ANONYMOUS, "case_id"):
        if column in t.columns:
            flag = flag | t[column].isin(values_of(ids, column)).fill_null(False)
    return flag


def _cases(store: Store, ids: ir.Table) -> ir.Table:
    parts = []
    for name in ("events", "feedback"):
        t = store.table(name)
        mine = t.filter(_theirs(t, ids) & t.case_id.notnull())
        parts.append(mine.select(**_ids("case_id", mine.case_id)))
    return ibis.union(*parts, distinct=True)


def _rows(store: Store, ids: ir.Table, present: set[str]) -> ir.Table:
    """Keys of the person's events, feedback and journeys."""
    events, feedback = store.table("events"), store.table("feedback")
    ev = events.filter(_theirs(events, ids))
    fb = feedback.filter(_theirs(feedback, ids))
    parts = [ev.select(**_ids("event_id", ev.event_id)), fb.select(**_ids("feedback_id", fb.feedback_id))]
    if "journeys" in present:
        j = store.backend.table("journeys")
        j = j.filter(j.customer_id.isin(values_of(ids, "customer_id")))
        parts.append(j.select(**_ids("journey_id", j.journey_id)))
    if "journey_events" in present:
        je = store.backend.table("journey_events")
        je = je.filter(je.event_id.isin(ev.event_id))
        parts.append(je.select(**_ids("journey_id", je.journey_id)))
    return ibis.union(*parts, distinct=True)


def _add(store: Store, ids: ir.Table, found: ir.Table) -> None:
    """Add the identifiers of ``found`` the working table does not have yet (engine to engine:
    no copy of them is left in this process's memory)."""
    found = found.filter(found.value.notnull())
    store.backend.insert(IDS, found.anti_join(ids, ["kind", "value"]).select("kind", "value"))


def _one_row(store: Store) -> ir.Table:
    """A table of exactly one row, whatever the store holds (a global aggregate): constants are
    selected from it, so the user id is a literal of the query, not an in-memory table."""
    builds = store.table("builds")
    return builds.aggregate(_n=builds.count())


def tokens(table: ir.Table, column: str) -> ir.Table:
    """The distinct texts of ``column`` and their words (``text``, ``token``): split at blanks,
    quotes, brackets and separators, with sentence punctuation trimmed off the ends."""
    texts = table.select(text=table[column].cast("string")).distinct()
    texts = texts.filter(texts.text.notnull())
    words = texts.mutate(token=texts.text.re_split(_TOKEN_SPLIT).unnest())
    words = words.mutate(token=words.token.re_replace(_TOKEN_EDGES, ""))
    return words.filter(words.token.length() > 0)


def mentions(table: ir.Table, column: str, ids: ir.Table, salt: str, default_country_code: str) -> ir.Table:
    """The distinct values of text ``column`` of ``table`` that mention the person (column ``text``)."""
    words = tokens(table, column)
    as_email = hash_identifier(normalize_email(words.token), salt)
    as_phone = hash_identifier(normalize_phone(words.token, default_country_code), salt)
    hit = (
        words.token.isin(ids.value).fill_null(False)
        | as_email.isin(values_of(ids, EMAIL)).fill_null(False)
        | as_phone.isin(values_of(ids, PHONE)).fill_null(False)
    )
    return words.filter(hit).select("text").distinct()
