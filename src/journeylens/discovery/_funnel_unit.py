"""Who a funnel counts, and why a funnel counts no one: said, never printed as a row of zeros.

**The unit.** Without ``unit`` a funnel counts customers when the selected journeys have any, and
journeys otherwise: a case log (an XES or ticket export) has no customer identifiers, and counting
its customers would give zero at every step. :func:`resolve_unit` says which unit it chose and why.

**An empty first step.** When no unit reaches step 1, :func:`diagnose` says why, from a few
aggregates over the funnel's events: there are no customers to count, an exclusion voided every
attempt, or nothing in the selection matches step 1 — then with the filter (how many journeys it
kept) and the selection's closest touchpoint names (difflib over its distinct names).
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis.expr.types as ir

from journeylens.discovery._funnel_match import matches
from journeylens.discovery.selection import EmptySelectionError, select_journeys
from journeylens.errors import close_matches
from journeylens.specs.funnel import FunnelOrder, FunnelSpec, FunnelUnit
from journeylens.store import Store


@dataclass(frozen=True)
class Selection:
    """How many journeys the funnel's filter kept, and how many of them belong to a customer."""

    journeys: int
    with_customer: int
    filtered: bool


@dataclass(frozen=True)
class FunnelUndefined:
    """Why a funnel's rates are not defined (no unit at step 1) and what would define them."""

    reason: str
    hint: str
    closest: tuple[str, ...] = ()


def selection(store: Store, spec: FunnelSpec) -> Selection:
    """One aggregate over the selected journeys; an empty selection is the filter's error."""
    journeys = select_journeys(store, spec.filter)
    counts = store.execute(
        journeys.aggregate(n=journeys.count(), c=journeys.customer_id.count())
    ).to_pylist()[0]
    if not counts["n"]:
        raise EmptySelectionError.for_filter(spec.filter)
    filtered = bool(spec.filter.model_dump(exclude_defaults=True, exclude={"segment_trait"}))
    return Selection(int(counts["n"]), int(counts["c"] or 0), filtered)


def resolve_unit(spec: FunnelSpec, chosen: Selection) -> tuple[FunnelUnit, str]:
    """The unit to count (``spec.unit`` when given) and one sentence saying why."""
    n, c = chosen.journeys, chosen.with_customer
    scope = "selected journeys" if chosen.filtered else "journeys"
    if spec.unit is not None:
        return spec.unit, f"{spec.unit.value}: asked for with --unit {spec.unit.value}"
    if c == 0:
        return FunnelUnit.journey, (
            f"journey: none of the {n:,} {scope} has a customer (no user or anonymous id, as in a "
            "case log), so each journey is counted; --unit customer needs customer identifiers"
        )
    reason = f"customer: {c:,} of the {n:,} {scope} belong to a known customer"
    if c < n:
        reason += f"; the {n - c:,} without one are not counted (--unit journey counts every journey)"
    return FunnelUnit.customer, reason + "; --unit journey counts journeys instead"


def diagnose(
    store: Store, log: ir.Table, spec: FunnelSpec, unit: FunnelUnit, chosen: Selection
) -> FunnelUndefined:
    """Why no ``unit`` reached step 1 of ``spec`` over ``log`` (the funnel's events)."""
    scope = (
        f"the filter ({spec.filter.describe()}) kept {chosen.journeys:,} journeys" if chosen.filtered else ""
    )
    if unit is FunnelUnit.customer and chosen.with_customer == 0:
        where = f"{scope}, none with a customer" if scope else "no journey has a customer"
        return FunnelUndefined(
            f"No customer in the selection: {where} (no user or anonymous id, as in a case log), so "
            "no customer can reach step 1 and every rate is undefined.",
            "Count journeys with --unit journey (the default when there are no customers).",
        )
    first = spec.steps[0].any_of
    if spec.order is FunnelOrder.any:
        first = [m for step in spec.steps for m in step.any_of]
    label = spec.steps[0].label if spec.order is not FunnelOrder.any else "any step"
    starting = int(store.execute(log.filter(matches(log, first)).unit.nunique()).as_py() or 0)
    if starting:
        exclusions = ", ".join(f"--exclude {x.label}" for x in spec.exclusions)
        return FunnelUndefined(
            f"{starting:,} {unit.value}s did step 1 ({label}), but an exclusion voided every attempt "
            "(an excluded event came before the next step), so every rate is undefined.",
            f"Drop or narrow the exclusions ({exclusions}), e.g. to a range of steps with @FROM-TO.",
        )
    names = [str(v) for v in store.execute(log.select("touchpoint").distinct()).column(0).to_pylist() if v]
    wanted = [m.touchpoint for m in first if m.touchpoint]
    closest = tuple(dict.fromkeys(n for w in wanted for n in close_matches(w, names)))
    what = f"no {unit.value} in the selection has an event matching step 1 ({label})"
    reason = (f"{scope[0].upper()}{scope[1:]}, and {what}" if scope else what[0].upper() + what[1:]) + (
        ", so every rate is undefined."
    )
    hints = []
    if closest:
        hints.append(f"Closest touchpoints in the selection: {', '.join(repr(n) for n in closest)}.")
    if any(m.channel or m.properties for m in first):
        hints.append("Check the step's channel and [key=value] conditions.")
    if chosen.filtered:
        hints.append("Loosen the filter (--type, --segment, --channel, --where, --since, --until).")
    if not hints:
        hints.append("`journeylens touchpoints` lists the touchpoints of the selection.")
    return FunnelUndefined(reason, " ".join(hints), closest)
