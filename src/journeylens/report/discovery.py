"""The report's discovery section: the journeys customers really take.

It shows, for the workspace's purchase journeys (all journeys when there is no ``purchase`` type),
the directly-follows process map, the most frequent variants and the purchase funnel; the paths
after the touchpoint where support journeys most often make their first contact; the touchpoint
inventory; and the built-in customer segments side by side.

Every number comes from the discovery API (:func:`process_map`, :func:`variants`, :func:`funnel`,
:func:`paths`, :func:`touchpoint_inventory`, :func:`compare_segments`) — the same result objects
the ``journeylens dfg|variants|funnel|paths|touchpoints|segments`` commands print; this module
only picks readable subsets and formats them (rates with :func:`rate_cell`). A part that does not
apply to a workspace (no such touchpoints, a single segment) is replaced by a sentence saying
why, so the report never fails on it. The section is left out until journeys are built.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import ibis
import pandas as pd
import plotly.graph_objects as go

from journeylens._units import duration_text
from journeylens.analyses import ANALYSES, ReportPart, load
from journeylens.discovery.dfg import ProcessMap, process_map
from journeylens.discovery.funnel import FunnelResult, FunnelSpec, FunnelUnit, funnel
from journeylens.discovery.paths import PathsResult, paths
from journeylens.discovery.selection import journey_log
from journeylens.discovery.touchpoints import touchpoint_inventory
from journeylens.discovery.variants import ARROW, variants
from journeylens.errors import JourneyLensError, NotFoundError
from journeylens.journeys.build import require_journeys
from journeylens.journeys.definitions import JourneyRules
from journeylens.journeys.undefined import COST_REASON
from journeylens.report.journeys import NOT_DEFINED, rate_cell
from journeylens.report.sections import Section
from journeylens.specs.discovery import InventorySpec, JourneyFilter, MapSpec, PathsSpec, VariantSpec
from journeylens.store import Store

TITLE = "Journey discovery"
PURCHASE, SUPPORT = "purchase", "support"
FUNNEL_STEPS = ("product_page", "add_to_cart", "checkout", "payment", "order_confirmation")
"""The purchase funnel of the synthetic world; steps a workspace lacks are left out."""
MAP_NODES, MAP_EDGES, TOP_EDGES = 12, 20, 15
VARIANT_COVERAGE, TOP_VARIANTS, VARIANT_STEPS = 0.8, 10, 12
PATH_STEPS, PATH_TOP = 4, 6
AFTER_DROP_TOP = 3
TOP_TOUCHPOINTS = 15
SEGMENT_METRICS = ("success", "cost_to_serve")
OUTBOUND = "outbound"


@dataclass
class Part:
    """What one analysis adds to the section: sentences for the intro, tiles, charts, tables."""

    notes: list[str] = field(default_factory=list)
    facts: dict[str, str] = field(default_factory=dict)
    figures: list[go.Figure] = field(default_factory=list)
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)


@dataclass(frozen=True)
class Scope:
    """Which journeys each part looks at: a journey type, or all journeys when it is missing."""

    focus: JourneyFilter
    focus_kind: str
    """``"purchase"``, or ``""`` for all journeys."""
    focus_journeys: int
    support: JourneyFilter
    support_kind: str
    rules: JourneyRules
    cost_to_serve: float | None
    """Total cost to serve of every journey (the touchpoint inventory's denominator); None when the
    journeys were built without costs."""


def _declared_parts() -> list[ReportPart]:
    """The parts the analyses declare, in registry order (process map, variants, funnel, ...)."""
    return [a.part for a in ANALYSES.values() if a.part is not None]


def _scope(types: dict[str, int], cost_to_serve: float | None, rules: JourneyRules | None) -> Scope:
    def pick(name: str) -> tuple[JourneyFilter, str, int]:
        if name in types:
            return JourneyFilter(journey_type=[name]), name, types[name]
        return JourneyFilter(), "", sum(types.values())

    focus, focus_kind, focus_journeys = pick(PURCHASE)
    support, support_kind, _ = pick(SUPPORT)
    # Without the workspace's rules, contacts are told apart by the default rules and not priced.
    rules = rules or JourneyRules()
    return Scope(focus, focus_kind, focus_journeys, support, support_kind, rules, cost_to_serve)


def journeys_text(n: int, kind: str = "") -> str:
    """``journeys_text(1, "purchase")`` -> ``'1 purchase journey'``; thousands separated."""
    return f"{n:,} {kind + ' ' if kind else ''}journey{'' if n == 1 else 's'}"


def _kind_title(kind: str) -> str:
    return f"{kind.capitalize()} journeys" if kind else "Journeys"


def _window(seconds: float) -> str:
    days = seconds / 86_400
    return f"{days:g} days" if days.is_integer() and days > 1 else duration_text(seconds)


def _pct(value: float | None) -> str:
    return NOT_DEFINED if value is None or math.isnan(value) else f"{value:.1%}"


def _money(value: float | None) -> str:
    return NOT_DEFINED if value is None or math.isnan(value) else f"{value:,.2f}"


# --- process map ---------------------------------------------------------------------------------


def map_part(store: Store, scope: Scope) -> Part:
    pm = process_map(store, MapSpec(filter=scope.focus, max_nodes=MAP_NODES, max_edges=MAP_EDGES))
    t = pm.totals
    if t["activities"] < 2:
        only = pm.nodes.column("activity").to_pylist()[0] if pm.nodes.num_rows else "none"
        return Part(
            notes=[
                f"Process map: every event of {journeys_text(t['journeys'], scope.focus_kind)} is one "
                f"touchpoint ({only}), so there is no process to map."
            ]
        )
    note = (
        f"Process map: the {t['shown_activities']} busiest of {t['activities']} touchpoints of "
        f"{journeys_text(t['journeys'], scope.focus_kind)} ({t['events']:,} events) and the "
        f"{t['shown_edges']} busiest of {t['edges']:,} transitions between them; edges are labelled "
        "with their count and median time."
    )
    return Part(notes=[note], figures=[pm.plot()], tables=[(_edges_title(pm), _edges(pm))])


def _edges_title(pm: ProcessMap) -> str:
    return f"Top {min(TOP_EDGES, pm.totals['shown_edges'])} transitions of the process map"


def _edges(pm: ProcessMap) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "source": e["source"],
                "target": e["target"],
                "count": e["count"],
                "journeys": e["journeys"],
                "median time": duration_text(e["median_s"]),
                "p90 time": duration_text(e["p90_s"]),
            }
            for e in pm.records()[:TOP_EDGES]
        ],
        columns=["source", "target", "count", "journeys", "median time", "p90 time"],
    )


# --- variants ------------------------------------------------------------------------------------


def variants_part(store: Store, scope: Scope) -> Part:
    # No row limit: how many variants it takes to reach the coverage is itself the finding.
    found = variants(store, VariantSpec(filter=scope.focus, coverage=VARIANT_COVERAGE))
    # Only the rows shown become Python objects (the cut can keep thousands of variants).
    t, rows = found.totals, found.table.slice(0, TOP_VARIANTS).to_pylist()
    shown = sum(r["count"] for r in rows)
    note = (
        f"Variants: {journeys_text(t['journeys'], scope.focus_kind)} follow {t['variants']:,} distinct "
        f"touchpoint sequences; the top {len(rows)} cover {shown / t['journeys']:.1%} of them, and "
        f"{VARIANT_COVERAGE:.0%} takes the {t['shown']:,} most frequent."
    )
    table = pd.DataFrame(
        [
            {
                "rank": r["rank"],
                "variant": _sequence(r["steps"]),
                "steps": r["length"],
                "journeys": r["count"],
                "share": _pct(r["share"]),
                "cumulative": _pct(r["coverage"]),
                "median duration": duration_text(r["median_duration_s"]),
                "success rate": rate_cell(r["successes"], r["outcomes_defined"]),
            }
            for r in rows
        ]
    )
    facts = {
        "Variants": f"{t['variants']:,}",
        f"Variants covering {VARIANT_COVERAGE:.0%}": f"{t['shown']:,}",
    }
    undefined = next((r["success_reason"] for r in rows if r["success_reason"]), None)
    if undefined:
        note += f" Success rate {NOT_DEFINED} for some variants: {undefined}."
    return Part(notes=[note], facts=facts, tables=[(f"Top {len(rows)} variants", drop_undefined(table))])


def drop_undefined(frame: pd.DataFrame) -> pd.DataFrame:
    """Without the columns that are not defined in any row (the notes say why)."""
    empty = [c for c in frame.columns if len(frame) and (frame[c] == NOT_DEFINED).all()]
    return frame.drop(columns=empty)


def _sequence(steps: Sequence[str]) -> str:
    if len(steps) <= VARIANT_STEPS:
        return ARROW.join(steps)
    return ARROW.join(steps[:VARIANT_STEPS]) + f"{ARROW}… (+{len(steps) - VARIANT_STEPS} steps)"


# --- funnel --------------------------------------------------------------------------------------


def funnel_part(store: Store, scope: Scope) -> Part:
    events = store.table("events")
    present = events.filter(events.touchpoint.isin(FUNNEL_STEPS)).select("touchpoint").distinct()
    have = set(store.execute(present).column("touchpoint").to_pylist())
    steps = [s for s in FUNNEL_STEPS if s in have]
    if len(steps) < 2:
        return Part(
            notes=[
                f"No purchase funnel: the events have {len(steps)} of its steps "
                f"({', '.join(FUNNEL_STEPS)}); a funnel needs two."
            ]
        )
    spec = FunnelSpec(steps=steps, unit=FunnelUnit.journey, filter=scope.focus, top=AFTER_DROP_TOP)
    result = funnel(store, spec)
    rows = result.records()
    first, last = rows[0], rows[-1]
    note = (
        f"Funnel: {journeys_text(first['units'], scope.focus_kind)} reached {first['step_name']}; "
        f"{last['units']:,} of them went on through {ARROW.join(steps[1:])} in that order (other events "
        f"may come between) within {_window(spec.window_seconds)}."
    )
    facts = {"Funnel conversion": rate_cell(last["units"], first["units"])}
    tables = [("Purchase funnel", _funnel_table(rows))]
    after = _after_drop_off(result)
    if not after.empty:
        tables.append(("Where journeys went after dropping off the funnel", after))
    return Part(notes=[note], facts=facts, figures=[result.plot()], tables=tables)


def _funnel_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    def since(r: dict[str, Any], name: str) -> str:
        return "" if r["step"] == 1 else duration_text(r[f"median_seconds_from_{name}"])

    return pd.DataFrame(
        [
            {
                "step": r["step"],
                "touchpoint": r["step_name"],
                "journeys": r["units"],
                "from previous step": "" if r["step"] == 1 else rate_cell(r["units"], r["previous_units"]),
                "from first step": rate_cell(r["units"], r["first_units"]),
                "median time from previous": since(r, "previous"),
                "median time from first": since(r, "first"),
                "dropped off here": r["dropped_off"],
            }
            for r in rows
        ]
    )


def _after_drop_off(result: FunnelResult) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "dropped off after": r["step_name"],
                "next touchpoint": r["activity"],
                "journeys": r["units"],
                "share": _pct(r["share"]),
            }
            for r in result.after_drop_off.to_pylist()
        ]
    )


# --- paths ---------------------------------------------------------------------------------------


def first_contact_touchpoint(store: Store, flt: JourneyFilter, rules: JourneyRules) -> tuple[str, int] | None:
    """The touchpoint that most often is the first contact of the selected journeys (their first
    customer-initiated event on an assisted channel), with the number of journeys; ties by name."""
    log = journey_log(store, flt, check_empty=False)
    events = store.table("events")
    inbound = events.filter(
        events.channel.isin(rules.assisted_channels), events.direction.fill_null("") != OUTBOUND
    ).select(e_id=events.event_id)
    contacts = log.join(inbound, log.event_id == inbound.e_id)
    first = contacts.group_by("journey_id").agg(touchpoint=contacts.touchpoint.argmin(contacts.step))
    ranked = first.group_by("touchpoint").agg(journeys=first.count())
    top = store.execute(ranked.order_by([ibis.desc("journeys"), "touchpoint"]).limit(1)).to_pylist()
    return (str(top[0]["touchpoint"]), int(top[0]["journeys"])) if top else None


def paths_part(store: Store, scope: Scope) -> Part:
    anchor = first_contact_touchpoint(store, scope.support, scope.rules)
    if anchor is None:
        return Part(notes=[f"Paths: no {scope.support_kind or 'selected'} journey contacted the company."])
    touchpoint, first_of = anchor
    result = paths(store, PathsSpec(start=touchpoint, steps=PATH_STEPS, top=PATH_TOP, filter=scope.support))
    through = f"{result.anchored_journeys:,} of {result.selected_journeys:,}"
    return Part(
        notes=[_reconciliation(result, touchpoint, first_of, scope.support_kind)],
        facts={f"{_kind_title(scope.support_kind)} through {touchpoint}": through},
        figures=[result.plot()],
        tables=[(f"Journeys at each step after {touchpoint}", _path_nodes(result))],
    )


def _reconciliation(result: PathsResult, touchpoint: str, first_of: int, kind: str) -> str:
    totals = set(result.step_totals().values())
    anchored = result.anchored_journeys
    opening = (
        f"Paths: {touchpoint} is the most frequent first contact ({journeys_text(first_of, kind)}). "
        f"The Sankey follows the {anchored:,} of {journeys_text(result.selected_journeys, kind)} that "
        f"reach it ({result.journeys_without_anchor:,} never do) for {PATH_STEPS} steps after its first "
        f"occurrence, with the {PATH_TOP} most frequent touchpoints per step and the rest as other."
    )
    if totals == {anchored}:
        return opening + (
            f" Totals reconcile: at every step, continuing, other and drop-off add up to {anchored:,}."
        )
    shown = ", ".join(f"{n:,}" for n in sorted(totals))
    return opening + f" Totals do not reconcile: the steps add up to {shown}, not {anchored:,}."


def _path_nodes(result: PathsResult) -> pd.DataFrame:
    anchored = result.anchored_journeys
    return pd.DataFrame(
        [
            {
                "steps after": n["depth"],
                "touchpoint": n["label"],
                "kind": n["kind"],
                "journeys": n["count"],
                "share": _pct(n["count"] / anchored if anchored else None),
            }
            for n in result.nodes()
            if n["depth"] > 0
        ]
    )


# --- touchpoint inventory --------------------------------------------------------------------------


def touchpoints_part(store: Store, scope: Scope) -> Part:
    inventory = touchpoint_inventory(store, InventorySpec(), scope.rules)
    rows = inventory.records()
    note = (
        f"Touchpoint inventory: the {min(TOP_TOUCHPOINTS, len(rows))} busiest of {len(rows):,} "
        f"touchpoint × channel pairs in {journeys_text(inventory.selected_journeys)}, with the success "
        "rate of the journeys through each (over those with a defined outcome)."
    )
    priced = None if not scope.rules.priced() else sum(r["cost"] or 0.0 for r in rows)
    note += " " + _cost_note(priced, scope.cost_to_serve)
    undefined = next((r["success_reason"] for r in rows if r["success_reason"]), None)
    if undefined:
        note += f" Success rate {NOT_DEFINED} for some touchpoints: {undefined}."
    has_customers = any(r["customers"] for r in rows)
    table = pd.DataFrame(
        [
            {
                "touchpoint": r["touchpoint"],
                "channel": r["channel"],
                "events": r["events"],
                **({"customers": r["customers"]} if has_customers else {}),
                "share of journeys": _pct(r["journey_share"]),
                "typical stage": f"{r['stage']} ({r['median_position']:.2f})",
                "success rate of its journeys": rate_cell(r["success_n"], r["success_d"]),
                **({"cost": _money(r["cost"])} if priced is not None else {}),
            }
            for r in rows[:TOP_TOUCHPOINTS]
        ]
    )
    return Part(notes=[note], tables=[(f"Top {len(table)} touchpoints by volume", drop_undefined(table))])


def _cost_note(priced: float | None, cost_to_serve: float | None) -> str:
    """How the inventory's costs relate to the journeys' cost to serve (or why there are none)."""
    if cost_to_serve is None:
        return f"No costs: {COST_REASON}."
    if priced is None:
        return (
            "No costs per touchpoint: the report was not given the workspace's [journeys] costs "
            "(write it with `journeylens report` or `Workspace.report`)."
        )
    if math.isclose(priced, cost_to_serve, rel_tol=1e-9, abs_tol=0.005):
        return f"The costs of all pairs add up to the journeys' cost to serve ({_money(cost_to_serve)})."
    return (
        f"The costs of all pairs add up to {_money(priced)}, not the journeys' cost to serve "
        f"({_money(cost_to_serve)}): the journeys were built with other [journeys] costs; rebuild them."
    )


# --- the section ---------------------------------------------------------------------------------

INTRO = (
    "The journeys customers really take, discovered from the events rather than designed. "
    "Rates show their 95% interval and numerator/denominator."
)


def _guarded(what: str, build: Callable[[], Part]) -> Part:
    """Run one part; an error JourneyLens raises on purpose (nothing selected, nothing to compare)
    becomes a sentence in the intro instead of failing the whole report."""
    try:
        return build()
    except JourneyLensError as exc:
        return Part(notes=[f"{what}: {exc.message}"])


def discovery_section(store: Store, rules: JourneyRules | None = None) -> Section | None:
    """Process map, variants, funnel, paths, touchpoint inventory and segments (after ``build``);
    ``rules`` (the workspace's ``[journeys]``) price the touchpoint inventory."""
    try:
        journeys = require_journeys(store)
    except NotFoundError:
        return None
    per_type = store.execute(
        journeys.group_by("journey_type").agg(journeys=journeys.count(), cost=journeys.cost_to_serve.sum())
    ).to_pylist()
    types = {str(r["journey_type"]): int(r["journeys"]) for r in per_type}
    if not sum(types.values()):
        return Section(TITLE, intro="No journeys were found in the events, so there is nothing to discover.")
    costs = [float(r["cost"]) for r in per_type if r["cost"] is not None]
    scope = _scope(types, sum(costs) if costs else None, rules)
    parts = [_guarded(part.title, partial(load(part.build), store, scope)) for part in _declared_parts()]
    facts = {_kind_title(scope.focus_kind): f"{scope.focus_journeys:,}"}
    for part in parts:
        facts |= part.facts
    return Section(
        TITLE,
        intro=" ".join([INTRO, *(note for part in parts for note in part.notes)]),
        facts=facts,
        figures=[figure for part in parts for figure in part.figures],
        tables=[table for part in parts for table in part.tables],
    )
