"""The incremental build: recompute the journeys of the customers new data touches, nothing else.

``journeylens.model.build_model`` takes this path when the previous build finished with the same
model version and settings and no row it saw has since been deleted. Identity is extended
(``identity.extend``: only touched components are relabelled, and it reports the customers
whose identifiers moved; after a full stitch the new ``customer_map`` is compared with a copy of
the old one). Then a set of customers
``A`` and a set of cases ``K`` are recomputed, where ``A`` starts with

- both customer ids of every identifier whose customer changed (components that merged, were
  split, or took a new identifier as their smallest keep no journey of their old id; an
  identifier first seen now changes nothing stored: only new rows name it),
- the customers of new events and of new answers, and of answers whose sentiment score changed
  (a retrained model re-scores old comments, which is outcome evidence);

and ``K`` with the cases of those events and answers. The only rule that reaches across
customers is rule 4 of ``journeys.segment`` (a case is one journey whoever's events it holds),
and feedback linked by case, so ``A`` and ``K`` are closed over the (customer, case) pairs of
events and answers: a customer with an event or an answer of a case in ``K`` joins ``A``, and the
cases of a customer in ``A`` join ``K``, until neither grows. Every other window rule of
``journeys.segment`` (look-ahead, gaps, max duration) and of ``journeys.outcomes`` (the repeat
window, by customer and type) stays inside one customer's events.

A customer is recomputed from a **cut**, not from their first event, when their identifiers did
not move and they have a *break* (``journeys.segment.break_gap``: an event with an intent of its
own after a quiet longer than every look-ahead, gap and repeat or feedback window) at or before
their first new event or answer: the last such break. Nothing before a break reads anything after
it and nothing after it reads anything before it but its cases, so the customer's journeys that
start before the cut are kept, provided no case of theirs spans the cut: in the closure a
customer's (customer, case) pairs count from the cut (a pair with an event or answer at or after
it), and a customer with a pair of a case in ``K`` that starts before their cut is recomputed
whole. Of the 23,756 customers the 10M world's last day recomputes, 20,066 have such a break,
and the events recomputed fall from 1,164,956 to 431,915 (docs/benchmarks.md). The breaks are not
looked for in the events: every build keeps each customer's first event and breaks
(``segment.BREAKS``), and the first new event is a break itself when it comes more than the
break's quiet after the customer's last stored event.

One rule reads the whole data:
a journey is ``open`` while its quiet time to the data's end is within its inactivity gap or
repeat window, so when new events move the end, the journeys that ended within that window of
their type (``reach``) before the old end and whose evidence is ``open`` (no other evidence reads
the end, and the end only grows) are re-decided: rebuilt when they are replaced, else from their
stored rows (``journeys.redecide``).

The journeys of ``A`` (from their cut) and ``K`` are deleted from ``journeys``,
``journey_events`` and ``feedback_links`` (answers of ``A`` from their cut, or of ``K``) and
replaced by the recomputed ones
(``store._rows.replace_rows``); a test compares every derived table with a full build.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from journeylens.identity.extend import MOVED
from journeylens.identity.stitch import attach_customers
from journeylens.journeys.build import derive_journeys
from journeylens.journeys.definitions import JourneyRules, seconds
from journeylens.journeys.evidence import OPEN
from journeylens.journeys.redecide import redecide_open
from journeylens.journeys.segment import BREAKS, ORDER, break_gap, claimed_events
from journeylens.specs.identity import ANONYMOUS, USER
from journeylens.store import Store
from journeylens.store._rows import replace_rows
from journeylens.store._working import drop_scratch, fits_in_memory, scratch_table
from journeylens.voc.scoring import SENTIMENT

OLD_MAP, OLD_TONE = "_jl_inc_old_map", "_jl_inc_old_tone"
PAIRS, GONE, ANSWERS, EVENTS = "_jl_inc_pairs", "_jl_inc_gone", "_jl_inc_answers", "_jl_inc_events"
LATE, FIRST, CUTS = "_jl_inc_late", "_jl_inc_first", "_jl_inc_cuts"
KEYS = {"journeys": "journey_id", "journey_events": "journey_id", "feedback_links": "feedback_id",
        BREAKS: "customer_id"}  # fmt: skip
_SEQ_PER_INGEST = 1 << 32  # ingest_seq = ingest id * 2^32 + record number


@dataclass(frozen=True)
class Update:
    """What an incremental build did to the journeys."""

    recomputed_customers: int
    """Customers whose journeys were rebuilt from their events."""
    redecided_journeys: int
    """Open journeys not rebuilt (of other customers, or before a customer's cut) re-decided
    because the data's end moved."""
    from_cut: int = 0
    """Of the recomputed customers, those rebuilt from their last break (see the module
    docstring), keeping their earlier journeys."""


@dataclass(frozen=True)
class Before:
    """What the incremental build compares with: a copy of the last build's feedback_sentiment,
    the data's end it saw (the last journey end), and either a copy of its customer_map or the
    customers whose identifiers moved (``c``: both ids), which the incremental stitch reports."""

    sentiment: ir.Table
    as_of: _dt.datetime | None
    customer_map: ir.Table | None = None
    moved_customers: ir.Table | None = None

    def moved(self, customers: ir.Table | None) -> Before:
        return dataclasses.replace(self, moved_customers=customers)


def snapshot(store: Store, *, copy_map: bool = True) -> Before:
    """Copy what stitching and scoring are about to overwrite (identifier- and answer-sized):
    the customer_map only with ``copy_map`` (a full stitch; the incremental one reports what
    moved)."""
    backend = store.backend
    cmap = scratch_table(backend, OLD_MAP, backend.table("customer_map")) if copy_map else None
    tone = scratch_table(backend, OLD_TONE, backend.table(SENTIMENT))
    as_of = store.execute(backend.table("journeys").end.max()).as_py()
    return Before(sentiment=tone, as_of=as_of, customer_map=cmap)


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
        owners, cases, said, late = _affected(store, rules, before, watermark)
        answers = _answers(store, owners, cases, said)
        events = _events(store, owners, cases)
        # A day's new data recomputes a few percent of the events: their working tables are then
        # temporary, which costs less to write than the compressed ones a full build needs.
        few = fits_in_memory(backend, events)
        old = backend.table("journeys")
        mine = old.left_join(owners, old.customer_id == owners.c)
        gone = scratch_table(
            backend,
            GONE,
            mine.filter(
                (mine.c.notnull() & (mine.cut.isnull() | (mine.start >= mine.cut)))
                | mine.case_id.isin(cases.k).fill_null(False)
            ).select("journey_id"),
        )
        gone_by = {"journeys": gone, "journey_events": gone, "feedback_links": answers,
                   BREAKS: owners.select(customer_id="c")}  # fmt: skip

        def replace(name: str, rows: ir.Table) -> ir.Table:
            if name == BREAKS:
                rows = _breaks(backend, owners, rows)
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
        # Open journeys that were not rebuilt: of other customers, or before a customer's cut.
        redecided = redecide_open(store, rules, late.filter(~late.journey_id.isin(gone.journey_id)), end)
        # Old ids of merged customers are in the set too; count the customers that exist now.
        now = owners.filter(owners.c.isin(cmap.customer_id))
        counts = store.execute(now.aggregate(n=now.count(), cut=now.cut.count())).to_pylist()[0]
        return Update(
            recomputed_customers=int(counts["n"]), redecided_journeys=redecided, from_cut=int(counts["cut"])
        )
    finally:
        drop_scratch(
            backend, OLD_MAP, OLD_TONE, MOVED, PAIRS, GONE, ANSWERS, EVENTS, LATE, FIRST, CUTS,
            *(f"_jl_inc_{n}" for n in KEYS), "_jl_inc_a0", "_jl_inc_a1", "_jl_inc_k0", "_jl_inc_k1",
        )  # fmt: skip


def _affected(
    store: Store, rules: JourneyRules, before: Before, watermark: int
) -> tuple[ir.Table, ir.Table, ir.Table, ir.Table]:
    """The customers to recompute (``c``, and ``cut``: the time from which, NULL for all their
    events) and cases (``k``), closed over shared cases; the new or re-scored answers
    (``feedback_id``; linked to no one, they are still rows); and the open journeys whose outcome
    reads the data's end when it moved (``journey_id``, ``customer_id``, ``case_id``: those
    replaced are rebuilt, the others re-decided)."""
    backend = store.backend
    cmap = backend.table("customer_map")
    lo = first_new_seq(watermark)
    # Identifiers whose customer changed: both ids, recomputed whole.
    whole = [_moved(before, cmap)]
    # New events and answers, and answers scored differently: their customers from a cut.
    events, feedback = store.table("events"), store.table("feedback")
    fresh = attach_customers(events.filter(events.ingest_seq >= lo), cmap)
    tone = backend.table(SENTIMENT)
    rescored = tone.difference(before.sentiment).union(before.sentiment.difference(tone))
    said = attach_customers(
        feedback.filter((feedback.ingest_seq >= lo) | feedback.feedback_id.isin(rescored.feedback_id)), cmap
    )
    seeds_k = [t.select(k=t.case_id) for t in (fresh, said)]
    new = ibis.union(*(t.select(c=t.customer_id, t=t.timestamp) for t in (fresh, said)))
    first = scratch_table(backend, FIRST, new.filter(new.c.notnull()).group_by("c").agg(t=new.t.min()))
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
    owners = _owners(store, rules, fresh, first, _distinct(backend, "_jl_inc_a0", whole, "c"))
    cases = _distinct(backend, "_jl_inc_k0", seeds_k, "k")
    return (*_closed(store, owners, cases), said.select("feedback_id"), late)


def _moved(before: Before, cmap: ir.Table) -> ir.Table:
    """``c``: both customer ids of every identifier whose customer changed."""
    if before.moved_customers is not None:
        return before.moved_customers
    if before.customer_map is None:
        raise ValueError("the incremental build needs the old customer_map or what moved")
    old = before.customer_map.select(
        _t="identifier_type", _v="identifier_value", _old=before.customer_map.customer_id
    )
    # (An identifier first seen now is not one: see identity.extend._moved.)
    both = old.left_join(cmap, (old._t == cmap.identifier_type) & (old._v == cmap.identifier_value))
    moved = both.filter(both.customer_id.isnull() | (both._old != both.customer_id))
    return moved.select(c=moved._old).union(moved.select(c=moved.customer_id))


def _distinct(backend: ibis.BaseBackend, name: str, parts: list[ir.Table], col: str) -> ir.Table:
    union = ibis.union(*parts, distinct=True) if len(parts) > 1 else parts[0].distinct()
    return scratch_table(backend, name, union.filter(union[col].notnull()))


def _owners(store: Store, rules: JourneyRules, fresh: ir.Table, first: ir.Table, whole: ir.Table) -> ir.Table:
    """``c`` and ``cut``: the customers of new events and answers (``first``: ``c`` and ``t``,
    the time of the first) with the time of their last break at or before it, NULL for none, and
    the customers ``whole`` (cut NULL) whose identifiers moved. ``fresh``: the new events with
    their customers."""
    eligible = first.filter(~first.c.isin(whole.c))
    # The last build kept each customer's first event and breaks (segment.BREAKS). Those before
    # the first new row are as a build of today's data finds them: a break is decided by the
    # events before it, and new rows are all later (or of the same second and loaded after).
    # The first event is no break: a customer with no later one is recomputed whole.
    breaks = store.backend.table(BREAKS)
    known = breaks.join(eligible, breaks.customer_id == eligible.c)
    before = known.filter(known.at <= known.t)
    stored = before.group_by(_c="customer_id").agg(_n=before.count(), _at=before.at.max())
    last = known.group_by(_c="customer_id").agg(_until=known.until.max())
    # The first new event is a break itself (a customer back after a quiet week) when it has an
    # intent of its own, is the first new row, and follows the last stored event by more than
    # break_gap. (An event older than a stored one is never taken for one: its gap is negative
    # here, and recomputing from an earlier break is as exact.)
    claimed = claimed_events(fresh.filter(fresh.customer_id.isin(eligible.c)), rules)
    claimed = claimed.mutate(_first=ibis.row_number().over(group_by="customer_id", order_by=ORDER))
    opening = claimed.filter(claimed._first == 0).select(
        _c="customer_id", _new=claimed.timestamp, _s="_ts", _o="_own"
    )
    ruled = eligible.left_join(stored, eligible.c == stored._c).left_join(last, eligible.c == last._c)
    ruled = ruled.left_join(opening, ruled.c == opening._c)
    is_break = (ruled._new == ruled.t) & ruled._o.notnull() & (ruled._s - ruled._until > break_gap(rules))
    cut = ibis.cases(
        (is_break.fill_null(False), ruled._new), (ruled._n > 1, ruled._at), else_=ibis.null(ruled._at.type())
    )
    ruled = ruled.select("c", cut=cut)
    return scratch_table(store.backend, CUTS, ruled.union(whole.select("c", cut=ibis.null(ruled.cut.type()))))


def _breaks(backend: ibis.BaseBackend, owners: ir.Table, rows: ir.Table) -> ir.Table:
    """The break rows the recomputed customers have now: those stored before their cut, and the
    recomputed ``rows`` (a customer recomputed from a cut starts at it, so it is a row again).
    Not those of other customers: their events here are only those of recomputed cases."""
    stored = backend.table(BREAKS)
    mine = stored.join(owners, stored.customer_id == owners.c)
    kept = mine.filter(mine.cut.notnull() & (mine.at < mine.cut)).select("customer_id", "at", "until")
    return kept.union(rows.filter(rows.customer_id.isin(owners.c)))


def _closed(store: Store, owners: ir.Table, cases: ir.Table) -> tuple[ir.Table, ir.Table]:
    """Grow the customers and cases until no event or answer links a customer in one to a case
    outside the other: a customer's cases count from their cut (those with an event or answer at
    or after it), and a customer reached through a case they had before their cut (or not in the
    set) is recomputed whole, so no case of a customer kept from a cut spans the cut. Each round
    reads the distinct (customer, case) pairs with the times of their first and last event or
    answer."""
    backend = store.backend
    cmap = backend.table("customer_map")
    parts = []
    for name in ("events", "feedback"):
        t = store.table(name)
        t = attach_customers(t.filter(t.case_id.notnull()), cmap)
        t = t.filter(t.customer_id.notnull())
        parts.append(
            t.group_by(c="customer_id", k="case_id").agg(first=t.timestamp.min(), last=t.timestamp.max())
        )
    union = ibis.union(*parts)
    pairs = scratch_table(
        backend, PAIRS, union.group_by("c", "k").agg(first=union.first.min(), last=union.last.max())
    )
    # The sets only grow and cuts only turn NULL, so equal sizes mean equal sets: a round that
    # changes none of them ends the closure (often the first, when no case links customers).
    sizes = _sizes(store, owners, cases)
    for round_no in range(1, 1_000):
        # A customer's cases with an event or answer from their cut on: a case that also has one
        # before the cut spans it, and then recomputes the customer whole (below).
        theirs = pairs.join(owners, pairs.c == owners.c)
        reached = theirs.filter(theirs.cut.isnull() | (theirs.last >= theirs.cut)).select("k")
        cases = scratch_table(backend, f"_jl_inc_k{round_no % 2}", cases.union(reached, distinct=True))
        linked = pairs.filter(pairs.k.isin(cases.k))
        touched = linked.group_by(_c="c").agg(_first=linked.first.min())
        both = owners.outer_join(touched, owners.c == touched._c)
        kept = both.cut.notnull() & (both._first.isnull() | (both._first >= both.cut))
        grown = both.select(c=ibis.coalesce(both.c, both._c), cut=ibis.ifelse(kept, both.cut, None))
        owners = scratch_table(backend, f"_jl_inc_a{round_no % 2}", grown)
        now = _sizes(store, owners, cases)
        if now == sizes:
            break
        sizes = now
    return owners, cases


def _sizes(store: Store, owners: ir.Table, cases: ir.Table) -> tuple[int, int, int]:
    """Customers, customers with a cut, and cases, in one query."""
    counted = owners.aggregate(n=owners.count(), cut=owners.cut.count()).cross_join(
        cases.aggregate(k=cases.count())
    )
    row = store.execute(counted).to_pylist()[0]
    return int(row["n"]), int(row["cut"]), int(row["k"])


def _answers(store: Store, owners: ir.Table, cases: ir.Table, new: ir.Table) -> ir.Table:
    """``feedback_id`` of the answers of the recomputed customers (from their cut) and cases, and
    the ``new`` ones."""
    # A view: ibis cannot join again onto attach_customers' joins by the customer they coalesce.
    said = attach_customers(store.table("feedback"), store.backend.table("customer_map")).view()
    said = said.left_join(owners, said.customer_id == owners.c)
    mine = said.filter(
        (said.c.notnull() & (said.cut.isnull() | (said.timestamp >= said.cut)))
        | said.case_id.isin(cases.k).fill_null(False)
        | said.feedback_id.isin(new.feedback_id)
    )
    return scratch_table(store.backend, ANSWERS, mine.select("feedback_id"))


def _events(store: Store, owners: ir.Table, cases: ir.Table) -> ir.Table:
    """The stored events to recompute: those of the recomputed customers from their cut, and of
    the recomputed cases. (A customer's event of a recomputed case is never before their cut:
    the closure recomputes them whole then.)"""
    events = store.table("events")
    cmap = store.backend.table("customer_map")
    # An event's customer is its user id's where it has one, else its anonymous id's
    # (``attach_customers``): one join of every event with the recomputed customers' ids of those
    # two types finds both the event and its customer's cut. (Testing the three memberships, then
    # looking the passing events' customers up in the whole customer_map, cost 0.15-0.18 s more
    # at 10M events.)
    ids = cmap.filter(cmap.identifier_type.isin([USER, ANONYMOUS]))
    ids = ids.join(owners, ids.customer_id == owners.c)
    ids = ids.select(
        _anon=ids.identifier_type == ANONYMOUS, _value=ids.identifier_value, _c=ids.c, _cut=ids.cut
    )
    keyed = events.mutate(
        _by_anon=events.user_id.isnull(), _id=ibis.coalesce(events.user_id, events.anonymous_id)
    )
    theirs = keyed.left_join(ids, (keyed._by_anon == ids._anon) & (keyed._id == ids._value))
    picked = theirs.filter(
        ibis.ifelse(
            theirs._c.notnull(),
            theirs._cut.isnull() | (theirs.timestamp >= theirs._cut),
            theirs.case_id.isin(cases.k).fill_null(False),
        )
    )
    return scratch_table(store.backend, EVENTS, picked.select(*events.columns), large=True)
