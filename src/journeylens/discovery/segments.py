"""Who is in which segment: built-in RFM segments, trait cohorts and behavioural cohorts.

**Built-in segments** (:class:`RfmRules`) come from each customer's purchase history up to the
reference date (the end of the data — the latest event — unless ``as_of`` is given; never the
wall clock). A purchase is a journey of type ``purchase`` with outcome ``success``, dated at its
first success event (``start + time_to_resolution_s``) and worth its ``value``; with
``purchases = "events"`` it is every event with ``value > 0`` (for order files without journeys).
By default (``purchases`` None) journeys count when some purchase journey succeeded and events
with a value otherwise; when the data has no purchase at all, the segments are not defined and the
comparison says why instead (see :mod:`journeylens.discovery._purchases`).
With *frequency* the number of purchases, *recency_days* the whole days from the last purchase
to the reference date and *monetary* their total value, the first rule that holds wins:

==============  ============================================================================
prospect        no purchase
lapsed          last purchase more than ``lapsed_after_days`` ago (only when that is set)
first-time      exactly one purchase
loyal           at least ``loyal_min_purchases`` (3), the last within ``loyal_within_days`` (90)
occasional      every other customer with two or more purchases
==============  ============================================================================

**Cohorts** say how customers are grouped for a comparison; the CLI writes them as strings
(:func:`parse_cohort`): ``builtin`` (the segments above), ``trait:NAME`` (one segment per value of
a customer trait; customers without it are ``(unknown)``), ``trait:NAME=VALUE`` (that value
against ``others``), and ``did:channel=VALUE[:Nd][:Kx]`` or ``did:touchpoint=VALUE[:Nd][:Kx]``:
customers with at least K (default 1) events on that channel or touchpoint within the N days up
to the reference date (default: all history), against ``others``.

A cohort the data does not define is no error (:func:`compare_segments` gives one group with
``None`` values, the reason and the setting that would define it): no selected journey with a
customer, or a ``did:`` cohort that no customer matches in its window. A name that appears
nowhere in the data (a trait, a trait value, a channel or touchpoint) is a typo and stays an error.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from journeylens.discovery._compare import (
    BASELINES,
    CUSTOMER_METRICS,
    GROUP,
    Metric,
    SegmentComparison,
    Stat,
    aggregate,
    comparison_rows,
    plan_for,
    resolve_metrics,
    selected_journeys,
    undefined_row,
    utc_literal,
)
from journeylens.discovery._default_metrics import default_metrics
from journeylens.discovery._purchases import PurchaseChoice, choose_source, purchases
from journeylens.discovery._stats import Moments
from journeylens.discovery.selection import customer_segments
from journeylens.errors import InputError
from journeylens.identity.profile import require_customer_map
from journeylens.identity.stitch import events_with_customers
from journeylens.journeys.definitions import JourneyRules
from journeylens.specs.comparison import (
    COHORT_SYNTAX,
    FIRST_TIME,
    LAPSED,
    LOYAL,
    OCCASIONAL,
    OTHERS,
    PROSPECT,
    SEGMENT_ORDER,
    UNKNOWN,
    BehaviourCohort,
    BuiltinCohort,
    Cohort,
    PurchaseSource,
    RfmRules,
    SegmentComparisonSpec,
    TraitCohort,
    parse_cohort,
)
from journeylens.store import Store
from journeylens.store._backend import json_text

DAY_S = 86_400
# Re-exported: the specs live in journeylens.specs.comparison so that the CLI reads them without the engine.
__all__ = [
    "COHORT_SYNTAX", "OTHERS", "SEGMENT_ORDER", "UNKNOWN", "BehaviourCohort", "BuiltinCohort", "Cohort",
    "PurchaseSource", "RfmRules", "SegmentComparisonSpec", "TraitCohort", "compare_segments",
    "parse_cohort", "reference_date", "rfm_segments",
]  # fmt: skip


def reference_date(store: Store, as_of: _dt.datetime | None = None) -> _dt.datetime:
    """The date segments are computed at: ``as_of`` (UTC if naive), else the latest event."""
    if as_of is not None:
        return as_of if as_of.tzinfo else as_of.replace(tzinfo=_dt.UTC)
    latest = store.execute(store.table("events").timestamp.max()).as_py()
    if latest is None:
        raise InputError("There are no events, so there is no end of data to measure from.",
                         hint="Ingest events first: `journeylens ingest FILE`.")  # fmt: skip
    moment: _dt.datetime = latest if latest.tzinfo else latest.replace(tzinfo=_dt.UTC)
    return moment


def rfm_segments(store: Store, rules: RfmRules | None = None, as_of: _dt.datetime | None = None) -> ir.Table:
    """Every stitched customer's built-in segment, as one Ibis expression (nothing runs yet).

    Columns: customer_id, segment, frequency (purchases), recency_days (whole days from the last
    purchase to the reference date; NULL for prospects), monetary (total value of purchases).
    Purchases come from ``rules.purchases`` (None: see the module docstring); with none found,
    every customer is a prospect here, and :func:`compare_segments` says the segments are not
    defined instead.

    Example:
        >>> seg = rfm_segments(ws.store, RfmRules(loyal_min_purchases=4))  # doctest: +SKIP
        >>> ws.store.execute(seg.group_by("segment").agg(n=seg.count()))  # doctest: +SKIP
    """
    rules = rules or RfmRules()
    # A source that finds nothing reads as an empty table of its own kind: every customer a prospect.
    return _rfm(
        store, rules, reference_date(store, as_of), choose_source(store, rules).source or rules.purchases
    )


def _rfm(store: Store, rules: RfmRules, ref: _dt.datetime, source: PurchaseSource | None) -> ir.Table:
    ref_s = math.floor(ref.timestamp())
    bought = purchases(store, rules, source).filter(lambda t: t.at_s <= ref_s)
    per = bought.group_by("customer_id").agg(
        frequency=bought.count(), last_s=bought.at_s.max(), monetary=bought.amount.sum()
    )
    customers = require_customer_map(store).select("customer_id").distinct()
    joined = customers.left_join(per, "customer_id")
    frequency = joined.frequency.fill_null(0)
    recency = ((ref_s - joined.last_s) / DAY_S).floor().cast("int64")
    lapsed = [] if rules.lapsed_after_days is None else [(recency > rules.lapsed_after_days, LAPSED)]
    segment = ibis.cases(
        (frequency == 0, PROSPECT),
        *lapsed,
        (frequency == 1, FIRST_TIME),
        ((frequency >= rules.loyal_min_purchases) & (recency <= rules.loyal_within_days), LOYAL),
        else_=OCCASIONAL,
    )
    return joined.select(
        customer_id=joined.customer_id,
        segment=segment,
        frequency=frequency,
        recency_days=recency,
        monetary=joined.monetary.fill_null(0.0),
    )


# --- cohort members ---------------------------------------------------------------------------


def builtin_members(cohort: BuiltinCohort, store: Store, ref: _dt.datetime) -> ir.Table:
    """Members (customer_id, segment) of a BuiltinCohort at the reference date."""
    return rfm_segments(store, cohort.rules, ref).select("customer_id", "segment")


def trait_members(cohort: TraitCohort, store: Store, ref: _dt.datetime) -> ir.Table:
    """Members (customer_id, segment) of a TraitCohort at the reference date."""
    seg = customer_segments(store, cohort.trait)
    seg = seg.filter(seg.segment.notnull())
    values = sorted(store.execute(seg.select("segment").distinct()).column(0).to_pylist())
    if not values:
        names = _trait_names(store)
        if not names:
            raise InputError(
                f"No customer has trait {cohort.trait!r}: no customer traits have been ingested.",
                hint="Load them with `journeylens ingest customers.csv --table customers`.",
            )
        raise InputError.unknown_choice("customer trait", cohort.trait, names)
    if cohort.value is None:
        return seg
    if cohort.value not in values:
        raise InputError.unknown_choice(f"value of trait {cohort.trait!r}", cohort.value, values)
    return seg.filter(seg.segment == cohort.value).mutate(segment=ibis.literal(cohort.text()))


def behaviour_members(cohort: BehaviourCohort, store: Store, ref: _dt.datetime) -> ir.Table:
    """Members (customer_id, segment) of a BehaviourCohort at the reference date (no rows when no
    customer did it in the window: :func:`compare_segments` then says the cohort is not defined)."""
    _check_behaviour(cohort, store)
    return _behaviour_hits(cohort, store, ref).select("customer_id", segment=ibis.literal(cohort.text()))


def _check_behaviour(cohort: BehaviourCohort, store: Store) -> None:
    """A channel or touchpoint that no event has is a typo, whatever the window."""
    events = store.table("events")
    column = events[cohort.field]
    if int(store.execute(events.filter(column == cohort.value).count()).as_py()) == 0:
        known = store.execute(events.select(cohort.field).distinct()).column(0).to_pylist()
        raise InputError.unknown_choice(cohort.field, cohort.value, sorted(v for v in known if v))


def _behaviour_hits(cohort: BehaviourCohort, store: Store, ref: _dt.datetime) -> ir.Table:
    ev = events_with_customers(store)
    preds = [ev[cohort.field] == cohort.value, ev.customer_id.notnull(), ev.timestamp <= utc_literal(ref)]
    if cohort.within_days is not None:
        preds.append(ev.timestamp > utc_literal(ref - _dt.timedelta(days=cohort.within_days)))
    used = ev.filter(*preds)
    hits = used.group_by("customer_id").agg(_n=used.count())
    return hits.filter(hits._n >= cohort.min_count)


def _empty_behaviour(cohort: BehaviourCohort, store: Store, ref: _dt.datetime) -> PurchaseChoice | None:
    """Why a did: cohort that matches no customer is not defined (None: it has members)."""
    if int(store.execute(_behaviour_hits(cohort, store, ref).count()).as_py() or 0) > 0:
        return None
    ev = events_with_customers(store)
    did = ev.filter(
        ev[cohort.field] == cohort.value, ev.customer_id.notnull(), ev.timestamp <= utc_literal(ref)
    )
    last = store.execute(did.timestamp.max()).as_py()
    window = f"in the {cohort.within_days} days" if cohort.within_days is not None else "in the data"
    latest = f"; the latest such event is on {last:%Y-%m-%d %H:%M} UTC" if last is not None else ""
    reason = (
        f"the cohort {cohort.text()} matched 0 customers of {_everyone(store):,}: no customer has "
        f"{cohort.min_count}+ events with {cohort.field} {cohort.value!r} {window} up to "
        f"{ref:%Y-%m-%d %H:%M} UTC{latest}"
    )
    fixes = [
        *([f"widen the window (e.g. :{max(90, 2 * cohort.within_days)}d)"] if cohort.within_days else []),
        *([f"lower the count (e.g. :{cohort.min_count - 1}x)"] if cohort.min_count > 1 else []),
        "set --as-of to a date when customers did it",
    ]
    hint = f"{', '.join(fixes[:-1])}, or {fixes[-1]}." if len(fixes) > 1 else f"{fixes[0]}."
    hint = hint[0].upper() + hint[1:]
    return PurchaseChoice(None, reason, hint)


def _cohort_undefined(
    store: Store, journeys: ir.Table, cohort: TraitCohort | BehaviourCohort, ref: _dt.datetime
) -> PurchaseChoice | None:
    """Why a trait or did: cohort is not defined for this data (None: it is). A name that appears
    nowhere in the data is a typo, and stays an error."""
    if isinstance(cohort, TraitCohort):
        return _trait_undefined(cohort, store, journeys)
    _check_behaviour(cohort, store)
    return _no_customers(store, journeys) or _empty_behaviour(cohort, store, ref)


def _trait_undefined(cohort: TraitCohort, store: Store, journeys: ir.Table) -> PurchaseChoice | None:
    """Why a trait cohort is not defined: no customers (None: it is, or no trait was ingested at
    all, which :func:`trait_members` refuses when there are customers to give one). A trait or
    value no row of the customers table carries is a typo: checked on the whole table, not a
    sample, and before the customers, so that a typo is an error on a case log too."""
    customers = store.table("customers")
    raw = json_text(customers.traits, cohort.trait)
    rows = int(store.execute(customers.filter(raw.notnull()).count()).as_py() or 0)
    if rows == 0:
        names = _trait_names(store)
        if names:
            raise InputError.unknown_choice("customer trait", cohort.trait, names)
        return _no_customers(store, journeys)
    if cohort.value is not None and not int(
        store.execute(customers.filter(raw == cohort.value).count()).as_py()
    ):
        values = store.execute(customers.filter(raw.notnull()).select(v=raw).distinct().limit(50))
        raise InputError.unknown_choice(
            f"value of trait {cohort.trait!r}", cohort.value, sorted(values.column(0).to_pylist())
        )
    return _no_customers(store, journeys)


def _trait_names(store: Store, sample: int = 1000) -> list[str]:
    """Trait names seen on (up to ``sample``) customers: for hints only."""
    customers = store.table("customers")
    rows = store.execute(customers.select(traits=customers.traits.cast("string")).limit(sample))
    names: set[str] = set()
    for text in rows.column(0).to_pylist():
        parsed = json.loads(text) if text else None
        if isinstance(parsed, dict):
            names.update(parsed)
    return sorted(names)


# --- comparisons -------------------------------------------------------------------------------


def compare_segments(
    store: Store, spec: SegmentComparisonSpec | None = None, *, rules: JourneyRules | None = None
) -> SegmentComparison:
    """Journey metrics side by side for the segments of a cohort, with intervals and tests.

    Without ``spec.metrics`` the metrics are the ones the selected journeys define (see
    :mod:`journeylens.discovery._default_metrics`; ``rules`` are the workspace's journey types).
    Per-customer metrics (frequency, recency_days) count each customer of a segment once, with
    the cohort's purchase rules (builtin) or purchases as events with value > 0 (other cohorts).

    What the data does not define is no error: built-in segments without customers or without
    any purchase, trait and ``did:`` cohorts without customers, and a ``did:`` cohort that no
    customer matches in its window give one unsegmented group and every value ``None`` with
    ``reason`` (and the result's ``reason`` and ``hint``); a selection that falls in one segment
    gives that segment's values with nothing to compare them with, and says so.

    Example:
        >>> spec = SegmentComparisonSpec(cohort=parse_cohort("did:channel=chat:30d"), metrics=["success"])
        >>> compare_segments(ws.store, spec).to_pandas()  # doctest: +SKIP
    """
    spec = spec or SegmentComparisonSpec()
    journeys = selected_journeys(store, spec.filter)
    names, why = (
        (spec.metrics, "as asked")
        if spec.metrics
        else default_metrics(store, spec.filter, rules, per_customer=True)
    )
    metrics = resolve_metrics(names)
    ref = reference_date(store, spec.as_of)
    context = {"cohort": spec.cohort.text(), "baseline": spec.baseline, "reference_date": ref,
               "filter": spec.filter.describe(), "metrics": [m.name for m in metrics],
               "metrics_reason": why}  # fmt: skip
    if isinstance(spec.cohort, BuiltinCohort):
        choice = _builtin_choice(store, journeys, spec.cohort.rules, rules)
        source = None if choice.source is None else choice.source.value
        context |= {"purchases": source, "purchases_reason": choice.reason}
        if choice.source is None:
            return _unsegmented(store, journeys, metrics, context, choice)
        rfm = _rfm(store, spec.cohort.rules, ref, choice.source)
        members = rfm.select("customer_id", "segment")
    else:
        undefined = _cohort_undefined(store, journeys, spec.cohort, ref)
        if undefined is not None:
            return _unsegmented(store, journeys, metrics, context, undefined)
        members = spec.cohort.members(store, ref)
        rfm = rfm_segments(store, RfmRules(purchases="events"), ref)
    joined = journeys.left_join(members, "customer_id")
    grouped = joined.mutate(**{GROUP: joined.segment.fill_null(spec.cohort.outside)})
    stats_by, sizes = aggregate(store, grouped, [m for m in metrics if m.name not in CUSTOMER_METRICS])
    _per_customer(store, rfm.drop("segment"), grouped, [m for m in metrics if m.name in CUSTOMER_METRICS],
                  stats_by)  # fmt: skip
    counts = _member_counts(store, members, spec.cohort.outside)
    order = spec.cohort.order(list(stats_by))
    _check_baseline(spec.baseline, order, list(counts))
    reason, hint = None, None
    if len(order) < 2:
        reason = (
            f"every selected journey falls in one segment ({', '.join(order)}), so there is nothing to "
            "compare it with"
        )
        hint = "Use another cohort, loosen the filter, or compare two periods with --period-a/--period-b."
    plan = plan_for(order, spec.baseline) if len(order) > 1 else [(g, None, []) for g in order]
    rows = comparison_rows("segment", plan, metrics, stats_by)
    groups = [
        {"segment": s, "members": counts.get(s, 0), **sizes.get(s, {"customers": 0, "journeys": 0})}
        for s in spec.cohort.order(list(dict.fromkeys([*counts, *stats_by])))
    ]
    return SegmentComparison(pa.Table.from_pylist(rows), "segment", groups, context, reason, hint)


def _builtin_choice(
    store: Store, journeys: ir.Table, rfm: RfmRules, types: JourneyRules | None
) -> PurchaseChoice:
    """The purchases the built-in segments count, or (source None) why there are none to count."""
    return _no_customers(store, journeys) or choose_source(store, rfm, types)


def _no_customers(store: Store, journeys: ir.Table) -> PurchaseChoice | None:
    """Why no cohort is defined when no selected journey has a customer (None: some have)."""
    if int(store.execute(journeys.customer_id.count()).as_py() or 0) > 0:
        return None
    return PurchaseChoice(
        None,
        "no selected journey has a customer identifier (each case is its own journey), so no "
        "customer can be put in a segment",
        "Map a customer column when ingesting (--map user_id=COLUMN), or compare two periods "
        "with --period-a/--period-b.",
    )


def _unsegmented(
    store: Store, journeys: ir.Table, metrics: list[Metric], context: dict[str, Any], choice: PurchaseChoice
) -> SegmentComparison:
    """The comparison when the built-in segments are not defined: one group of every selected
    journey (segment None) and each metric ``None`` with the reason."""
    size = store.execute(
        journeys.aggregate(journeys=journeys.count(), customers=journeys.customer_id.nunique())
    ).to_pylist()[0]
    groups = [{"segment": None, "members": _everyone(store), "customers": int(size["customers"]),
               "journeys": int(size["journeys"])}]  # fmt: skip
    rows = [undefined_row("segment", m, choice.reason) for m in metrics]
    return SegmentComparison(
        pa.Table.from_pylist(rows), "segment", groups, context, choice.reason, choice.hint
    )


def _per_customer(
    store: Store,
    rfm: ir.Table,
    grouped: ir.Table,
    metrics: list[Metric],
    stats_by: dict[str, dict[str, Stat]],
) -> None:
    """Add the per-customer metrics to ``stats_by``: each customer of a group once, with their
    purchase history (``rfm``: frequency, recency_days at the reference date)."""
    if not metrics:
        return
    people = grouped.filter(grouped.customer_id.notnull()).select("customer_id", GROUP).distinct()
    per, _ = aggregate(store, people.join(rfm, "customer_id"), metrics)
    for group, stats in stats_by.items():
        stats.update(per.get(group) or {m.name: Moments(0, 0.0, 0.0) for m in metrics})


def _everyone(store: Store) -> int:
    return int(store.execute(require_customer_map(store).customer_id.nunique()).as_py() or 0)


def _member_counts(store: Store, members: ir.Table, outside: str) -> dict[str, int]:
    """Customers per segment over the whole workspace; ``outside`` gets everyone else."""
    rows = store.execute(members.group_by("segment").agg(n=members.count())).to_pylist()
    counts = {row["segment"]: int(row["n"]) for row in rows}
    rest = _everyone(store) - sum(counts.values())
    if rest > 0:
        counts[outside] = counts.get(outside, 0) + rest
    return counts


def _check_baseline(baseline: str, order: list[str], known: list[str]) -> None:
    """A baseline the user named must be a segment with journeys in the selection."""
    if baseline in BASELINES or baseline in order:
        return
    if baseline in known:
        raise InputError(
            f"Segment {baseline!r} has no journeys in the selection, so it cannot be the baseline.",
            hint=f"Pick one of {', '.join(order)}, or --baseline rest.",
        )
    raise InputError.unknown_choice("baseline", baseline, [*BASELINES, *order])
