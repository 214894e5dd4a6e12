"""The incremental build: recompute the journeys of the customers new data touches, nothing else.

``journeylens.model.build_model`` takes this path when the previous build finished with the same
model version and settings and no row it saw has since been deleted. Identity is extended
(``identity.extend``: only touched components are relabelled) and the new ``customer_map`` is
compared with a copy of the old one. Then a set of customers
``A`` and a set of cases ``K`` are recomputed, where ``A`` starts with

- both customer ids of every identifier whose customer changed (components that merged, gained
  members or were split keep no journey of their old id),
- the customers of new events and of new answers, and of answers whose sentiment score changed
  (a retrained model re-scores old comments, which is outcome evidence);

and ``K`` with the cases of those events and answers. The only rule that reaches across
customers is rule 4 of ``journeys.segment`` (a case is one journey whoever's events it holds),
and feedback linked by case, so ``A`` and ``K`` are closed over the (customer, case) pairs of
events and answers: a customer with an event or an answer of a case in ``K`` joins ``A``, and the
cases of a customer in ``A`` join ``K``, until neither grows. Every other window rule of
``journeys.segment`` (look-ahead, gaps, max duration) and of ``journeys.outcomes`` (the repeat
window, by customer and type) stays inside one customer's events. One rule reads the whole data:
a journey is ``open`` while its quiet time to the data's end is within its inactivity gap or
repeat window, so when new events move the end, the customers and cases of journeys that ended
within that window of their type (``reach``) before the old end and whose evidence is ``open``
(no other evidence reads the end, and the end only grows) are re-decided: with ``A`` when their
customer or case is in it, else from their stored rows (``journeys.redecide``).

Journeys of ``A`` and ``K`` are deleted from ``journeys``, ``journey_events`` and
``feedback_links`` (answers of ``A`` or ``K``) and replaced by the recomputed ones
(``store._rows.replace_rows``); a test compares every derived table with a full build.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from journeylens.identity.stitch import attach_customers
from journeylens.journeys.build import derive_journeys
from journeylens.journeys.definitions import JourneyRules, seconds
from journeylens.journeys.evidence import OPEN
from journeylens.journeys.redecide import redecide_open
from journeylens.specs.identity import ANONYMOUS, USER
from journeylens.store import Store
from journeylens.store._rows import replace_rows
from journeylens.store._working import drop_scratch, fits_in_memory, scratch_table
from journeylens.voc.scoring import SENTIMENT

OLD_MAP, OLD_TONE = "_jl_inc_old_map", "_jl_inc_old_tone"
PAIRS, GONE, ANSWERS, EVENTS = "_jl_inc_pairs", "_jl_inc_gone", "_jl_inc_answers", "_jl_inc_events"
LATE = "_jl_inc_late"
KEYS = {"journeys": "journey_id", "journey_events": "journey_id", "feedback_links": "feedback_id"}
_SEQ_PER_INGEST = 1 << 32  # ingest_seq = ingest id * 2^32 + record number


@dataclass(frozen=True)
class Update:
    """What an incremental build did to the journeys."""

    recomputed_customers: int
    """Customers whose journeys were rebuilt from their events."""
    redecided_journeys: int
    """Open journeys of other customers re-decided because the data's end moved."""


@dataclass(frozen=True)
class Before:
    """What the incremental build compares with: copies of the last build's customer_map and
    feedback_sentiment, and the data's end it saw (the last journey end)."""

    customer_map: ir.Table
    sentiment: ir.Table
    as_of: _dt.datetime | None


def snapshot(store: Store) -> Before:
    """Copy what stitching and scoring are about to overwrite (identifier- and answer-sized)."""
    backend = store.backend
    cmap = scratch_table(backend, OLD_MAP, backend.table("customer_map"))
    tone = scratch_table(backend, OLD_TONE, backend.table(SENTIMENT))
    as_of = store.execute(backend.table("journeys").end.max()).as_py()
    return Before(customer_map=cmap, sentiment=tone, as_of=as_of)


def first_new_seq(watermark: int) -> int:
    """The smallest ``ingest_seq`` an ingest after ``watermark`` can give a row."""
    return (watermark + 1) * _SEQ_PER_INGEST


def reach(rules: JourneyRules) -> dict[str, int]:
    """Seconds before the data's end within which the outcome of a journey of each type reads the
    end: ``open`` while quiet within its inactivity gap, and an inferred success is ``open`` until
    its repeat window has passed. Types without outcome criteria (and ``other``) never read it."""
    windows = {}
    for name, jt in rules.types.items():
        if jt.defines_outcome():
            repeat = seconds(rules.repeat_window_of(name)) if jt.infers_success() else 0
            windows[name] = max(seconds(jt.inactivity_gap), repeat)
    return windows


def update_journeys(store: Store, rules: JourneyRules, before: Before, watermark: int) -> Update:
    """Recompute the journeys of the customers and cases the data since ``watermark`` touches,
    and re-decide the open journeys only the data's end touches (see the module docstring).

    Needs the new ``customer_map`` and ``feedback_sentiment`` (stitch and score first).
    """
    backend = store.backend
    cmap = backend.table("customer_map")
    try:
        customers, cases, said, late = _affected(store, rules, before, watermark)
        answers = _answers(store, customers, cases, said)
        events = _events(store, customers, cases)
        # A day's new data recomputes an eighth of the events or so: their working tables are then
        # temporary, which costs less to write than the compressed ones a full build needs.
        few = fits_in_memory(backend, events)
        old = backend.table("journeys")
        gone = scratch_table(
            backend,
            GONE,
            old.filter(old.customer_id.isin(customers.c) | old.case_id.isin(cases.k)).select("journey_id"),
        )
        gone_by = {"journeys": gone, "journey_events": gone, "feedback_links": answers}

        def replace(name: str, rows: ir.Table) -> ir.Table:
            fresh = scratch_table(backend, f"_jl_inc_{name}", rows)
            replace_rows(backend, name, KEYS[name], gone_by[name], fresh)
            return fresh

        stored = store.table("events")
        end = ibis.literal(store.execute(stored.timestamp.max()).as_py(), type=stored.timestamp.type())

        def scoped(t: ir.Table) -> ir.BooleanValue:
            return t.feedback_id.isin(answers.feedback_id)

        derive_journeys(
            store,
            rules,
            attach_customers(events, cmap),
            events,
            replace,
            answers=scoped,
            as_of=end,
            large=not few,
        )
        untouched = late.customer_id.notnull() & ~late.customer_id.isin(customers.c)
        alone = late.filter(untouched & (late.case_id.isnull() | ~late.case_id.isin(cases.k)))
        redecided = redecide_open(store, rules, alone, end)
        # Old ids of merged customers are in the set too; count the customers that exist now.
        now = int(store.execute(customers.filter(customers.c.isin(cmap.customer_id)).count()).as_py())
        return Update(recomputed_customers=now, redecided_journeys=redecided)
    finally:
        drop_scratch(
            backend, OLD_MAP, OLD_TONE, PAIRS, GONE, ANSWERS, EVENTS, LATE, *(f"_jl_inc_{n}" for n in KEYS),
            "_jl_inc_a0", "_jl_inc_a1", "_jl_inc_k0", "_jl_inc_k1",
        )  # fmt: skip


def _affected(
    store: Store, rules: JourneyRules, before: Before, watermark: int
) -> tuple[ir.Table, ir.Table, ir.Table, ir.Table]:
    """The customers (column ``c``) and cases (``k``) to recompute, closed over shared cases, the
    new or re-scored answers (``feedback_id``; linked to no one, they are still rows), and the
    open journeys whose outcome reads the data's end when it moved (``journey_id``,
    ``customer_id``, ``case_id``; those of recomputed customers and cases are rebuilt, the others
    re-decided)."""
    backend = store.backend
    cmap = backend.table("customer_map")
    lo = first_new_seq(watermark)
    seeds_c: list[ir.Table] = []
    seeds_k: list[ir.Table] = []
    # Identifiers whose customer changed: both ids.
    old = before.customer_map.select(
        _t="identifier_type", _v="identifier_value", _old=before.customer_map.customer_id
    )
    both = old.outer_join(cmap, (old._t == cmap.identifier_type) & (old._v == cmap.identifier_value))
    moved = both.filter(both._old.isnull() | both.customer_id.isnull() | (both._old != both.customer_id))
    seeds_c += [moved.select(c=moved._old), moved.select(c=moved.customer_id)]
    # New events and answers, and answers scored differently.
    events, feedback = store.table("events"), store.table("feedback")
    fresh = attach_customers(events.filter(events.ingest_seq >= lo), cmap)
    tone = backend.table(SENTIMENT)
    rescored = tone.difference(before.sentiment).union(before.sentiment.difference(tone))
    said = attach_customers(
        feedback.filter((feedback.ingest_seq >= lo) | feedback.feedback_id.isin(rescored.feedback_id)), cmap
    )
    for t in (fresh, said):
        seeds_c.append(t.select(c=t.customer_id))
        seeds_k.append(t.select(k=t.case_id))
    # Journeys whose outcome reads the data's end, when the end moved.
    end = store.execute(events.timestamp.max()).as_py()
    journeys = backend.table("journeys")
    late = journeys.filter(ibis.literal(False))
    if before.as_of is not None and end != before.as_of:
        ends = journeys.end.type()
        reads_end = [
            (journeys.journey_type == name)
            & (journeys.end >= ibis.literal(before.as_of - _dt.timedelta(seconds=w), type=ends))
            for name, w in reach(rules).items()
        ]
        # Only an `open` journey can change when nothing else about its customer did: the end
        # only grows (a deletion forces a full build), `is_open` and `pending` only turn false as
        # it grows, and every other evidence is decided by the journey's own events and answers.
        late = journeys.filter(
            (journeys.outcome_evidence == OPEN) & ibis.or_(ibis.literal(False), *reads_end)
        )
    late = scratch_table(backend, LATE, late.select("journey_id", "customer_id", "case_id"))
    # Journeys without a customer are their case's (journeys.segment rule 4): recomputed.
    nobody = late.filter(late.customer_id.isnull())
    seeds_k.append(nobody.select(k=nobody.case_id))
    customers = _distinct(backend, "_jl_inc_a0", seeds_c, "c")
    cases = _distinct(backend, "_jl_inc_k0", seeds_k, "k")
    return (*_closed(store, customers, cases), said.select("feedback_id"), late)


def _distinct(backend: ibis.BaseBackend, name: str, parts: list[ir.Table], col: str) -> ir.Table:
    union = ibis.union(*parts, distinct=True) if len(parts) > 1 else parts[0].distinct()
    return scratch_table(backend, name, union.filter(union[col].notnull()))


def _closed(store: Store, customers: ir.Table, cases: ir.Table) -> tuple[ir.Table, ir.Table]:
    """Grow the customers and cases until no event or answer links a customer in one to a case
    outside the other (each round two semi-joins over the distinct (customer, case) pairs)."""
    backend = store.backend
    cmap = backend.table("customer_map")
    parts = []
    for name in ("events", "feedback"):
        t = store.table(name)
        t = attach_customers(t.filter(t.case_id.notnull()), cmap)
        parts.append(t.filter(t.customer_id.notnull()).select(c="customer_id", k="case_id"))
    pairs = scratch_table(backend, PAIRS, ibis.union(*parts, distinct=True))
    sizes = (-1, -1)
    for round_no in range(1, 1_000):
        grown_k = cases.union(pairs.filter(pairs.c.isin(customers.c)).select("k"), distinct=True)
        cases = scratch_table(backend, f"_jl_inc_k{round_no % 2}", grown_k)
        grown_c = customers.union(pairs.filter(pairs.k.isin(cases.k)).select("c"), distinct=True)
        customers = scratch_table(backend, f"_jl_inc_a{round_no % 2}", grown_c)
        now = (store.execute(customers.count()).as_py(), store.execute(cases.count()).as_py())
        if now == sizes:
            break
        sizes = now
    return customers, cases


def _answers(store: Store, customers: ir.Table, cases: ir.Table, new: ir.Table) -> ir.Table:
    """``feedback_id`` of the answers of the recomputed customers and cases, and the ``new`` ones."""
    said = attach_customers(store.table("feedback"), store.backend.table("customer_map"))
    mine = said.filter(
        said.customer_id.isin(customers.c)
        | said.case_id.isin(cases.k)
        | said.feedback_id.isin(new.feedback_id)
    )
    return scratch_table(store.backend, ANSWERS, mine.select("feedback_id"))


def _events(store: Store, customers: ir.Table, cases: ir.Table) -> ir.Table:
    """The stored events of the recomputed customers and cases (an event's customer is its user
    id's where it has one, else its anonymous id's)."""
    cmap = store.backend.table("customer_map")
    mine = cmap.filter(cmap.customer_id.isin(customers.c))
    users = mine.filter(mine.identifier_type == USER).identifier_value
    anons = mine.filter(mine.identifier_type == ANONYMOUS).identifier_value
    events = store.table("events")
    picked = events.filter(
        events.case_id.isin(cases.k)
        | events.user_id.isin(users)
        | (events.user_id.isnull() & events.anonymous_id.isin(anons))
    )
    return scratch_table(store.backend, EVENTS, picked, large=True)
