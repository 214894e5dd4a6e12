"""``journeylens map check MAP``: a designed map against the journeys it applies to.

:func:`check_map` selects the journeys of the map's type (and segment), decides per journey
whether it conforms (:mod:`journeylens.maps.conformance`, :mod:`journeylens.maps._declare`), and
aggregates: per deviation kind and stage, per rule, the share of journeys affected with its 95%
Wilson interval; what deviating journeys look like next to conforming ones, whole-map and per
stage (:mod:`journeylens.maps.deviation_costs`) — an *association*, not a cause; the most common
deviation patterns with example journeys; time targets and KPIs (:mod:`journeylens.maps.timing`); and, for two
segments or periods, the side-by-side tests (:mod:`journeylens.maps.compare`).

Example:
    >>> result = check_map(ws.store, journey_map, rules=ws.config.journeys)  # doctest: +SKIP
    >>> result.summary()["conforming_share"]  # doctest: +SKIP
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir

from journeylens.errors import InputError
from journeylens.journeys.summary import wilson
from journeylens.maps._check_result import MapCheck
from journeylens.maps._declare import broken_rules
from journeylens.maps.conformance import GROUP, deviations, journey_verdicts, staged_events
from journeylens.maps.deviation_costs import deviation_cost_rows, stage_cost_rows
from journeylens.maps.loading import MapError
from journeylens.maps.model import DEVIATION_KINDS, JourneyMap
from journeylens.maps.timing import kpi_rows, stage_between, stage_times, timing_rows

if TYPE_CHECKING:
    from journeylens.journeys.definitions import JourneyRules
    from journeylens.specs.discovery import JourneyFilter
    from journeylens.specs.map_check import MapCheckSpec
    from journeylens.store import Store
    from journeylens.workspace import Workspace

__all__ = ["MapCheck", "check_map", "map_check", "map_filter"]

ALL = "all"


def map_check(ws: Workspace, spec: MapCheckSpec) -> MapCheck:
    """The registry's run function: find and load the map, check it against the workspace (journey
    type, touchpoints in the events), then :func:`check_map`."""
    from journeylens.maps.loading import check_against, find_map, load_map

    path = find_map(ws.root, spec.map)
    journey_map = load_map(path)
    touchpoints = ws.store.execute(ws.store.table("events").select("touchpoint").distinct()).column(0)
    check_against(journey_map, path, ws.config.journeys, touchpoints.to_pylist())
    return check_map(ws.store, journey_map, spec, rules=ws.config.journeys, path=path)


def map_filter(jm: JourneyMap, spec: MapCheckSpec | None, path: Path | None = None) -> JourneyFilter:
    """The journeys the map applies to: the spec's filter with the map's journey type and (unless
    the spec names segments) the map's segment."""
    from journeylens.specs.discovery import JourneyFilter

    flt = spec.filter if spec is not None else JourneyFilter()
    if flt.journey_type and flt.journey_type != [jm.journey_type]:
        raise InputError.bad_flag(
            "--type", ", ".join(flt.journey_type), f"the map {jm.name or ''} is of journey type "
            f"{jm.journey_type!r}, so it checks only those journeys.",
            hint="Leave out --type, or check a map of that journey type (`journeylens map list`).",
        )  # fmt: skip
    segment = flt.segment or ([jm.segment] if jm.segment else None)
    if spec is not None and spec.compare_segments:
        segment = list(spec.compare_segments)
    return flt.model_copy(update={"journey_type": [jm.journey_type], "segment": segment})


def _labelled(store: Store, jm: JourneyMap, spec: MapCheckSpec | None) -> tuple[ir.Table, list[str]]:
    """The journeys the map applies to, with their group label, and the labels in order."""
    from journeylens.discovery._compare import utc_literal
    from journeylens.discovery.selection import customer_segments, select_journeys

    flt = map_filter(jm, spec)
    journeys = select_journeys(store, flt)
    pair = spec.compare_segments if spec else None
    periods = spec.compare_periods if spec else None
    if pair:
        seg = customer_segments(store, flt.segment_trait)
        joined = journeys.left_join(seg, "customer_id")
        return joined.select(*journeys.columns, **{GROUP: seg.segment}), list(pair)
    if periods:
        a, b = periods
        start = journeys.start
        label = ibis.cases(
            ((start >= utc_literal(a.start)) & (start < utc_literal(a.end)), a.label()),
            ((start >= utc_literal(b.start)) & (start < utc_literal(b.end)), b.label()),
            else_=ibis.null("string"),
        )
        labelled = journeys.mutate(**{GROUP: label})
        return labelled.filter(labelled[GROUP].notnull()), [a.label(), b.label()]
    return journeys.mutate(**{GROUP: ibis.literal(ALL)}), [ALL]


def _no_journeys(jm: JourneyMap, path: Path | None, spec: MapCheckSpec | None) -> MapError:
    from journeylens.specs.discovery import JourneyFilter

    """The error for a map that selects nothing: it points at the map's own field that did the
    selecting (its segment, else its journey type) unless options narrowed the journeys further."""
    flt = map_filter(jm, spec)
    narrowed = spec is not None and (
        spec.filter.model_dump(exclude={"journey_type", "segment"})
        != JourneyFilter().model_dump(exclude={"journey_type", "segment"})
        or bool(spec.filter.segment or spec.compare_segments or spec.compare_periods)
    )
    field = "" if narrowed else ("segment" if jm.segment else "journey_type")
    what = flt.describe()
    if spec and spec.compare_periods:
        what += f", periods {' and '.join(p.label() for p in spec.compare_periods)}"
    line = 0
    if path is not None and path.is_file() and field:
        import yaml

        from journeylens.maps.loading import _line

        line = _line(yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader), (field,))
    return MapError(
        Path(path or f"{jm.name or jm.journey_type}.yaml"), line, field,
        f"the map matches no journey ({what})",
        "Check the journey type, segment and options against `journeylens journeys summary --by "
        "segment`; journeys are built from the events by `journeylens build`.",
    )  # fmt: skip


def check_map(
    store: Store,
    journey_map: JourneyMap,
    spec: MapCheckSpec | None = None,
    *,
    rules: JourneyRules | None = None,
    path: Path | None = None,
) -> MapCheck:
    """Check ``journey_map`` against the journeys it applies to (see the module docstring).

    Raises :class:`~journeylens.maps.loading.MapError` (naming the file and field) when the map
    matches no journey; nothing is computed then.
    """
    journeys, labels = _labelled(store, journey_map, spec)
    sizes = {
        r[GROUP]: int(r["n"])
        for r in store.execute(journeys.group_by(GROUP).agg(n=journeys.count())).to_pylist()
    }
    if not sizes:
        raise _no_journeys(journey_map, path, spec)
    with _WorkingTables(store) as keep:
        return _check(store, journey_map, spec, rules, path, keep, journeys, labels, sizes)


class _WorkingTables:
    """Materialises the per-event and per-journey tables every view reads (each view would
    otherwise recompute them); dropped on exit. Names are unique, so checks may run side by side."""

    def __init__(self, store: Store) -> None:
        self.store, self.prefix = store, f"_jl_mapcheck_{uuid.uuid4().hex[:12]}"
        self.names: list[str] = []

    def __call__(self, name: str, expr: ir.Table, *, large: bool = False) -> ir.Table:
        from journeylens.store._backend import scratch_table

        self.names.append(f"{self.prefix}_{name}")
        return scratch_table(self.store.backend, self.names[-1], expr, large=large)

    def __enter__(self) -> _WorkingTables:
        return self

    def __exit__(self, *exc: object) -> None:
        from journeylens.store._backend import drop_scratch

        drop_scratch(self.store.backend, *self.names)


def _check(
    store: Store,
    journey_map: JourneyMap,
    spec: MapCheckSpec | None,
    rules: JourneyRules | None,
    path: Path | None,
    keep: _WorkingTables,
    journeys: ir.Table,
    labels: list[str],
    sizes: dict[str, int],
) -> MapCheck:
    journeys = keep("journeys", journeys)
    staged = keep("events", staged_events(store, journey_map, journeys), large=True)
    found = keep("deviations", deviations(journey_map, journeys, staged))
    ruled = broken_rules(journey_map, journeys, staged)
    broken = None if ruled is None else keep("rules", ruled)
    verdicts = keep("verdicts", journey_verdicts(journeys, found, broken))
    groups = _group_rows(store, verdicts, labels, sizes)
    by_stage = _deviation_rows(store, found, sizes)
    rule_rows = _rule_rows(store, journey_map, broken, sizes)
    times = stage_times(staged)
    timing = timing_rows(store, journey_map, times, stage_between(journey_map, times))
    kpis = kpi_rows(store, journey_map, journeys, times, timing)
    costs, money = deviation_cost_rows(store, journey_map, journeys, verdicts, rules)
    stage_costs, stage_money = stage_cost_rows(store, journey_map, journeys, verdicts, found, rules)
    comparison: list[dict[str, Any]] = []
    if len(labels) == 2:
        from journeylens.maps.compare import compare_groups

        comparison = compare_groups(labels, {g["group"]: g for g in groups}, by_stage, rule_rows, timing)
    per_journey = store.execute(verdicts.order_by("journey_id"))
    listed = store.execute(found.order_by("journey_id", "kind", "stage", "step", "touchpoint"))
    context = {
        "map": journey_map.name, "file": None if path is None else str(path),
        "journey_type": journey_map.journey_type,
        "segment": journey_map.segment, "filter": map_filter(journey_map, spec).describe(),
        "groups": labels, "dimension": _dimension(spec),
    }  # fmt: skip
    return MapCheck(
        table=per_journey, deviation_list=listed, context=context, groups=groups, deviations=by_stage,
        ad_hoc=_ad_hoc_rows(store, staged, sizes), rules=rule_rows, costs=costs, money=money,
        patterns=_patterns(store, found, broken, spec.top if spec else 10), timing=timing, kpis=kpis,
        comparison=comparison, stage_costs=stage_costs, stage_money=stage_money,
    )  # fmt: skip


def _dimension(spec: MapCheckSpec | None) -> str | None:
    if spec and spec.compare_segments:
        return "segment"
    if spec and spec.compare_periods:
        return "period"
    return None


def _share(n: int, d: int) -> dict[str, Any]:
    lo, hi = wilson(n, d)
    return {"share": n / d if d else None, "lo": lo, "hi": hi}


def _group_rows(
    store: Store, verdicts: ir.Table, labels: list[str], sizes: dict[str, int]
) -> list[dict[str, Any]]:
    agg = verdicts.group_by(GROUP).agg(conforming=verdicts.conforms.cast("int64").sum())
    ok = {r[GROUP]: int(r["conforming"] or 0) for r in store.execute(agg).to_pylist()}
    return [
        {
            "group": g,
            "journeys": sizes.get(g, 0),
            "conforming": ok.get(g, 0),
            **_share(ok.get(g, 0), sizes.get(g, 0)),
        }
        for g in labels
    ]


def _deviation_rows(store: Store, found: ir.Table, sizes: dict[str, int]) -> list[dict[str, Any]]:
    """Per group and kind (``scope`` kind), and per group, kind and stage (``scope`` stage):
    journeys affected and their share of the group's journeys. Ad-hoc touchpoints have no stage."""
    per_kind = (
        found.select("journey_id", GROUP, "kind")
        .distinct()
        .group_by(GROUP, "kind")
        .agg(journeys=ibis._.count())
    )
    staged = found.filter(found.stage.notnull()).select("journey_id", GROUP, "kind", "stage").distinct()
    per_stage = staged.group_by(GROUP, "kind", "stage").agg(journeys=staged.count())
    rows = []
    for scope, table in (("kind", per_kind), ("stage", per_stage)):
        for r in store.execute(table).to_pylist():
            d = sizes.get(r[GROUP], 0)
            n = int(r["journeys"])
            rows.append({"group": r[GROUP], "scope": scope, "kind": r["kind"], "stage": r.get("stage"),
                         "journeys": n, "of": d, **_share(n, d)})  # fmt: skip
    order = {k: i for i, k in enumerate(DEVIATION_KINDS)}
    rows.sort(key=lambda r: (str(r["group"]), r["scope"], order[r["kind"]], -r["journeys"], str(r["stage"])))
    return rows


def _ad_hoc_rows(store: Store, staged: ir.Table, sizes: dict[str, int]) -> list[dict[str, Any]]:
    """Touchpoints outside every stage: unexpected (a deviation) or expected (declared unplanned)."""
    off = staged.filter(staged.stage_rank.isnull())
    agg = off.group_by(GROUP, "touchpoint", "unplanned").agg(
        events=off.count(), journeys=off.journey_id.nunique()
    )
    rows = [
        {"group": r[GROUP], "touchpoint": r["touchpoint"], "expected": r["unplanned"] is not None,
         "unplanned": r["unplanned"], "events": int(r["events"]), "journeys": int(r["journeys"]),
         "of": sizes.get(r[GROUP], 0), **_share(int(r["journeys"]), sizes.get(r[GROUP], 0))}
        for r in store.execute(agg).to_pylist()
    ]  # fmt: skip
    rows.sort(key=lambda r: (str(r["group"]), r["expected"], -r["journeys"], str(r["touchpoint"])))
    return rows


def _rule_rows(
    store: Store, jm: JourneyMap, broken: ir.Table | None, sizes: dict[str, int]
) -> list[dict[str, Any]]:
    from journeylens.maps._declare import rule_label

    counts: dict[tuple[str, int], int] = {}
    if broken is not None:
        agg = broken.group_by(GROUP, "rule").agg(journeys=broken.count())
        counts = {(r[GROUP], int(r["rule"])): int(r["journeys"]) for r in store.execute(agg).to_pylist()}
    return [
        {"group": g, "rule": j + 1, "rule_label": rule_label(rule), "journeys": counts.get((g, j + 1), 0),
         "of": d, **_share(counts.get((g, j + 1), 0), d)}
        for g, d in sizes.items() for j, rule in enumerate(jm.rules)
    ]  # fmt: skip


def _patterns(store: Store, found: ir.Table, broken: ir.Table | None, top: int) -> list[dict[str, Any]]:
    """The most common combinations of deviations (kind at stage or touchpoint, rules broken),
    with up to three example journeys each (smallest ids)."""
    where = found.stage.fill_null(found.touchpoint).fill_null("-")
    items = found.select("journey_id", GROUP, item=found.kind + ":" + where)
    if broken is not None:
        items = items.union(
            broken.select("journey_id", GROUP, item="rule:" + broken.rule_label), distinct=False
        )
    items = items.distinct()
    per = items.group_by("journey_id", GROUP).agg(_items=items.item.collect())
    per = per.select("journey_id", GROUP, pattern=per._items.sort().join(" + "))
    counted = per.group_by(GROUP, "pattern").agg(journeys=per.count())
    pick = ibis.window(group_by=[per[GROUP], per.pattern], order_by=per.journey_id)
    examples = per.mutate(_n=ibis.row_number().over(pick))
    examples = examples.filter(examples._n < 3).select(GROUP, "pattern", "journey_id")
    ranked = store.execute(counted.order_by(GROUP, ibis.desc("journeys"), "pattern")).to_pylist()
    kept: dict[str, int] = {}
    chosen = []
    for row in ranked:
        if kept.get(row[GROUP], 0) < top:
            kept[row[GROUP]] = kept.get(row[GROUP], 0) + 1
            chosen.append(row)
    ex: dict[tuple[str, str], list[str]] = {}
    if chosen:
        want = ibis.memtable([{GROUP: r[GROUP], "pattern": r["pattern"]} for r in chosen])
        for r in store.execute(examples.join(want, [GROUP, "pattern"]).order_by("journey_id")).to_pylist():
            ex.setdefault((r[GROUP], r["pattern"]), []).append(r["journey_id"])
    return [{"group": r[GROUP], "pattern": r["pattern"], "journeys": int(r["journeys"]),
             "examples": ex.get((r[GROUP], r["pattern"]), [])} for r in chosen]  # fmt: skip
