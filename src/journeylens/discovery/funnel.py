"""Funnels: how many customers (or journeys) get through a sequence of steps, how fast, and where
the others went instead.

Semantics (what the plain-Python reference in ``tests/test_funnel.py`` implements too):

* **Unit and events.** A unit is a customer (all their events, or only those of the journeys a
  :class:`JourneyFilter` selects) or a journey; without a unit, customers when the selected
  journeys have any and journeys otherwise (``FunnelResult.unit`` and ``unit_reason`` say which).
  When no unit reaches step 1 the rates are undefined (None) and ``reason`` says why. A unit's
  events are ordered by timestamp, then ingestion order, then event id; "before" and "after"
  always mean this order, so ties in time are broken by ingestion order.
* **Attempts.** Every event matching step 1 starts an attempt; the conversion window runs from that
  event (inclusive: an event exactly ``window`` later still counts; times are compared in whole
  milliseconds on every engine). An attempt never goes back.
* **Ordered.** An attempt at step ``k`` advances at the *first* later event that matches a step it
  may take next (step ``k+1``; also later steps when the steps in between are optional, up to and
  including the next required one); when that event matches several of them it takes the furthest.
  Other events may happen in between. The attempt stops when no such event comes within the window.
* **Strict.** As ordered, but the very next event of the unit must be that step; anything else stops
  the attempt.
* **Any order.** Steps may be done in any order. Each event counts for the first listed step (group
  of identical steps) it matches; an attempt from event ``s`` completes one step per such event from
  ``s`` on within the window, up to the number of steps in each group. Row ``k`` of the result is
  "completed at least ``k`` of the ``N`` steps" (PostHog's unordered funnel).
* **Exclusions.** An exclusion between steps ``i`` and ``j`` voids an attempt when a matching event
  happens while the attempt has reached step ``i`` but not yet step ``j`` — strictly after the event
  that brought it to its current step and strictly before the event that moves it on, or anywhere in
  the rest of its window when it never moves on. A voided attempt counts nowhere, not even at step 1
  (PostHog's rule, applied per attempt instead of per person, so a clean retry still counts).
  Any-order exclusions span the whole funnel; strict funnels have none (nothing may happen between).
* **Best attempt.** Each unit contributes one attempt: the one reaching the furthest step, then the
  one getting there first, then the one that started last (the shortest). A unit reaches step ``k``
  when its best attempt did step ``k``; for required steps that equals "some attempt reached ``k``"
  (the furthest-step rule of PostHog). Times to convert, drop-offs and where units went next all
  come from that attempt, so the numbers on one row always reconcile.
* **Rates.** Conversion from previous divides by the units at the previous *required* step, from
  first by the units at step 1, each with its denominator and a 95% Wilson interval. ``dropped_off``
  at step ``k`` counts units whose best attempt ended there; ``after_drop_off`` splits them by the
  next activity of the unit after that step's event within the window, ``(none)`` when there was
  none and ``(other)`` beyond the top ``spec.top``, so each step's counts sum to its drop-off.

Everything runs as Ibis expressions on the store's engine (see ``_funnel_engine``); only the
aggregated rows reach Python.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import ibis.expr.types as ir
import pyarrow as pa

from journeylens._units import clock_text
from journeylens.discovery import _funnel_engine as engine
from journeylens.discovery._funnel_match import classify, matches
from journeylens.discovery._funnel_report import after_drop_off, step_rows, with_breakdown
from journeylens.discovery._funnel_unit import FunnelUndefined, diagnose, resolve_unit, selection
from journeylens.discovery._result import TableResult
from journeylens.discovery.selection import activity_expr, select_journeys
from journeylens.errors import NotFoundError
from journeylens.identity.profile import require_customer_map
from journeylens.identity.stitch import events_with_customers
from journeylens.journeys.undefined import NOT_DEFINED
from journeylens.specs.funnel import (
    MAX_STEPS,
    Exclusion,
    FunnelBreakdown,
    FunnelOrder,
    FunnelSpec,
    FunnelSpecError,
    FunnelStep,
    FunnelUnit,
    StepMatcher,
    funnel_spec,
)
from journeylens.store import Store
from journeylens.store._working import scratch_table

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = [
    "MAX_STEPS",
    "Exclusion",
    "FunnelBreakdown",
    "FunnelOrder",
    "FunnelResult",
    "FunnelSpec",
    "FunnelSpecError",
    "FunnelStep",
    "FunnelUndefined",
    "FunnelUnit",
    "StepMatcher",
    "funnel",
    "funnel_spec",
]


@dataclass(frozen=True)
class FunnelResult(TableResult):
    """One row per step (per breakdown value): units, conversion, times, drop-off.

    ``after_drop_off`` has one row per (breakdown value,) step and next activity.

    Example:
        >>> result = funnel(ws.store, steps=["home", "checkout"])  # doctest: +SKIP
        >>> result.to_pandas()[["step_name", "units", "conversion_from_previous"]]  # doctest: +SKIP
        >>> result.plot().show()  # doctest: +SKIP
    """

    #: The JSON contract (docs/cli.md reads it): ``to_dict()`` keys, with the record fields.
    JSON_FIELDS: ClassVar[tuple[str, ...]] = (
        "spec",
        "unit",
        "unit_reason",
        "reason",
        "hint",
        "closest_touchpoints",
        "steps (records: [breakdown], step, step_name, optional, units, dropped_off, "
        "conversion_from_previous, previous_units, conversion_from_previous_low, "
        "conversion_from_previous_high, conversion_from_first, first_units, "
        "conversion_from_first_low, conversion_from_first_high, median_seconds_from_previous, "
        "mean_seconds_from_previous, median_seconds_from_first, mean_seconds_from_first)",
        "after_drop_off (records: [breakdown], step, step_name, activity, units, share)",
    )

    spec: FunnelSpec
    after_drop_off: pa.Table
    #: The unit counted (``spec.unit``, or the one chosen for the data) and why.
    unit: FunnelUnit = FunnelUnit.customer
    unit_reason: str = ""
    #: Set when no unit reached step 1: why every rate is undefined, and what would define it.
    undefined: FunnelUndefined | None = None

    def to_dict(self) -> dict[str, Any]:
        why = self.undefined
        return {
            "spec": self.spec.model_dump(mode="json", exclude_defaults=True),
            "unit": self.unit.value,
            "unit_reason": self.unit_reason,
            "reason": None if why is None else why.reason,
            "hint": None if why is None else why.hint,
            "closest_touchpoints": [] if why is None else list(why.closest),
            "steps": self.records(),
            "after_drop_off": self.after_drop_off.to_pylist(),
        }

    def compact(self) -> list[dict[str, Any]]:
        """Rows for a terminal table: rates as ``45.0% [40.1-50.2]`` (en dash) over ``90/200`` (two lines of
        one cell), ``n/d`` when nobody reached the step they divide by; times as ``2h 5m``."""
        out = []
        for r in self.records():
            row = {"breakdown": r["breakdown"]} if "breakdown" in r else {}
            row |= {"step": r["step"], "name": r["step_name"] + (" (optional)" if r["optional"] else "")}
            row |= {
                "units": r["units"],
                "from previous": _rate(r["conversion_from_previous"], r, "conversion_from_previous",
                                       r["units"], r["previous_units"]),
                "from first": _rate(r["conversion_from_first"], r, "conversion_from_first",
                                    r["units"], r["first_units"]),
                "median time from previous": clock_text(r["median_seconds_from_previous"]),
                "dropped off": r["dropped_off"],
            }  # fmt: skip
            out.append(row)
        return out

    def plot(self) -> go.Figure:
        """A plotly funnel chart; one trace per breakdown value."""
        import plotly.graph_objects as go

        rows = self.records()
        groups: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            groups.setdefault(str(r.get("breakdown", "all")), []).append(r)
        fig = go.Figure()
        for name, steps in groups.items():
            fig.add_trace(
                go.Funnel(
                    name=name,
                    y=[f"{s['step']}. {s['step_name']}" for s in steps],
                    x=[s["units"] for s in steps],
                    textinfo="value+percent initial",
                )
            )
        unit = self.unit.value
        fig.update_layout(title=f"Funnel ({self.spec.order.value}, window {self.spec.window}) — {unit}s")
        return fig

    def _repr_html_(self) -> str:
        steps: str = self.to_pandas().to_html(index=False)
        after: str = self.after_drop_off.to_pandas().head(50).to_html(index=False)
        return f"<h4>Funnel steps</h4>{steps}<h4>Where they went after dropping off</h4>{after}"


def _rate(value: float | None, row: dict[str, Any], name: str, num: int, den: int | None) -> str:
    if den is None:  # step 1 has no previous step
        return ""
    if value is None:  # nobody at the step it divides by: not defined, not zero
        return NOT_DEFINED
    low, high = row[f"{name}_low"], row[f"{name}_high"]
    return f"{value:.1%} [{low * 100:.1f}–{high * 100:.1f}]\n{num:,}/{den:,}"


def funnel(store: Store, spec: FunnelSpec | None = None, /, **fields: Any) -> FunnelResult:
    """Compute a funnel (pass a :class:`FunnelSpec`, or its fields as keywords).

    Example:
        >>> result = funnel(ws.store, steps=["product_page", "checkout", "order_confirmation"],
        ...                 window="2h", by="segment")  # doctest: +SKIP
        >>> result.to_pandas()[["breakdown", "step_name", "units", "conversion_from_first"]]  # doctest: +SKIP
    """
    asked = spec if spec is not None else funnel_spec(**fields)
    _check_vocabulary(store, asked)
    chosen = selection(store, asked)
    unit, why_unit = resolve_unit(asked, chosen)
    # The engine reads one resolved spec; the result keeps the spec as asked.
    spec = asked.model_copy(update={"unit": unit})
    log = _unit_log(store, spec)
    plan = _plan(spec)
    with _scratch(store) as materialize:
        events = materialize("events", _matched(log, spec, plan, materialize))
        best = materialize("best", _best(store, events, plan, materialize))
        labelled = materialize("labelled", with_breakdown(store, best, events, spec))
        rows = step_rows(store, labelled, spec)
        after = after_drop_off(store, labelled, events, spec)
    first = sum(
        int(u) for s, u in zip(rows["step"].to_pylist(), rows["units"].to_pylist(), strict=True) if s == 1
    )
    undefined = None if first else diagnose(store, log, spec, unit, chosen)
    return FunnelResult(table=rows, spec=asked, after_drop_off=after, unit=unit, unit_reason=why_unit,
                        undefined=undefined)  # fmt: skip


def _plan(spec: FunnelSpec) -> engine.Plan:
    keys: dict[tuple[str, ...], int] = {}
    groups = tuple(keys.setdefault(s.key, len(keys) + 1) for s in spec.steps)
    return engine.Plan(
        steps=len(spec.steps),
        order=spec.order.value,
        window=spec.window_ms,
        optional=tuple(s.optional for s in spec.steps),
        exclusions=tuple(spec.exclusion_range(x) for x in spec.exclusions),
        groups=groups,
    )


def _matched(log: ir.Table, spec: FunnelSpec, plan: engine.Plan, materialize: engine.Materialize) -> ir.Table:
    starting = spec.steps[0].any_of
    if spec.order is FunnelOrder.any:
        starting = [m for step in spec.steps for m in step.any_of]
    # Stored first: a small table the engine can hash, and the events are not read twice.
    bounds = materialize("spans", engine.spans(log.filter(matches(log, starting)), plan))
    keep = ["channel"] if spec.by is FunnelBreakdown.channel else []
    positioned = spec.unit is FunnelUnit.journey
    return engine.matched_events(classify(log, spec), plan, positioned=positioned, bounds=bounds, keep=keep)


def _best(store: Store, events: ir.Table, plan: engine.Plan, materialize: engine.Materialize) -> ir.Table:
    if plan.order == "any":
        return engine.any_order_times(engine.best_attempts(engine.any_order_attempts(events, plan)), plan)

    def reached(levels: ir.Table) -> set[int]:
        return {int(v) for v in store.execute(levels).column(0).to_pylist()}

    attempts, path = engine.ordered_attempts(events, plan, materialize, reached)
    best = materialize("winners", engine.best_attempts(attempts))
    return engine.ordered_times(best, path, plan)


@contextmanager
def _scratch(store: Store) -> Iterator[engine.Materialize]:
    """Working tables for one funnel, dropped afterwards (names are unique per call)."""
    tag, made = uuid.uuid4().hex[:8], []

    def materialize(name: str, expr: ir.Table) -> ir.Table:
        full = f"_jl_funnel_{tag}_{name}"
        made.append(full)
        return scratch_table(store.backend, full, expr)

    try:
        yield materialize
    finally:
        for name in made:
            store.backend.drop_table(name, force=True)


def _check_vocabulary(store: Store, spec: FunnelSpec) -> None:
    """Every touchpoint and channel a step or an exclusion names must occur in the events."""
    named: list[tuple[str, str, str]] = []
    for i, step in enumerate(spec.steps, start=1):
        named += [(f"step {i}", kind, v) for m in step.any_of for kind, v in _names(m)]
    for x in spec.exclusions:
        named += [(f"exclusion {x.label!r}", kind, v) for m in x.any_of for kind, v in _names(m)]
    events = store.table("events")
    for kind in ("touchpoint", "channel"):
        wanted = sorted({v for _, k, v in named if k == kind})
        if not wanted:
            continue
        column = events[kind]
        present = set(
            store.execute(events.filter(column.isin(wanted)).select(column).distinct()).column(0).to_pylist()
        )
        missing = [(field, v) for field, k, v in named if k == kind and v not in present]
        if missing:
            field, value = missing[0]
            vocabulary = store.execute(events.select(column).distinct()).column(0).to_pylist()
            if not vocabulary:
                raise NotFoundError(
                    "There are no events to build a funnel from.",
                    hint="Load events first: `journeylens ingest FILE`.",
                )
            raise FunnelSpecError.unknown_value(field, kind, value, sorted(str(v) for v in vocabulary if v))


def _names(m: StepMatcher) -> list[tuple[str, str]]:
    return [(k, v) for k, v in (("touchpoint", m.touchpoint), ("channel", m.channel)) if v is not None]


def _unit_log(store: Store, spec: FunnelSpec) -> ir.Table:
    """The events a funnel reads, one row per event with its ``unit``.

    Columns: unit, customer_id, pos (journey step, journeys only), ts, seq, event_id, channel,
    touchpoint, properties, activity (under ``spec.key``, for "where did they go").
    """
    flt = spec.filter
    filtered = bool(flt.model_dump(exclude_defaults=True, exclude={"segment_trait"}))
    if spec.unit is FunnelUnit.customer and not filtered and not spec.after_exposure:
        require_customer_map(store)
        events = events_with_customers(store)
        log = events.filter(events.customer_id.notnull()).mutate(unit=events.customer_id)
    else:
        journeys = select_journeys(store, flt)  # not empty: `selection` checked it
        if spec.after_exposure:
            from journeylens.experiments.journeys_view import exposed_journeys

            exposed = exposed_journeys(store, str(spec.experiment), flt).select(_jid="journey_id")
            journeys = journeys.semi_join(exposed, journeys.journey_id == exposed._jid)
        je, ev = store.backend.table("journey_events"), store.table("events")
        j = journeys.select("journey_id", "customer_id")
        rows = je.join(j, "journey_id").join(ev, je.event_id == ev.event_id)
        unit = j.journey_id if spec.unit is FunnelUnit.journey else j.customer_id
        log = rows.select(*[ev[c] for c in ev.columns], customer_id=j.customer_id, unit=unit,
                          pos=je.step.cast("int64"))  # fmt: skip
    cols = ["unit", "customer_id", "event_id", "channel", "touchpoint", "properties"]
    if spec.unit is FunnelUnit.journey:
        cols.append("pos")
    return log.select(*cols, ts=log.timestamp, seq=log.ingest_seq, activity=activity_expr(log, spec.key))
