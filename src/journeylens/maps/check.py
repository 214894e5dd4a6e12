"""``journeylens map check MAP``: a designed map against the journeys it applies to.

:func:`check_map` selects the journeys of the map's type (and segment), decides per journey
whether it conforms (:mod:`journeylens.maps.conformance`, :mod:`journeylens.maps._declare`), and
aggregates: per deviation kind and stage, per rule, the share of journeys affected with its 95%
Wilson interval; what deviating journeys look like next to conforming ones (success, duration,
assisted contacts, cost to serve: intervals, tests, Benjamini-Hochberg q-values) and the money
difference the map's costs imply — an *association*: deviating journeys differ in many ways, and
the difference is not what fixing the deviation would save; the most common deviation patterns
with example journeys; time targets and KPIs (:mod:`journeylens.maps.timing`); and, for two
segments or periods, the side-by-side tests (:mod:`journeylens.maps.compare`).

Example:
    >>> result = check_map(ws.store, journey_map, rules=ws.config.journeys)  # doctest: +SKIP
    >>> result.summary()["conforming_share"]  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir

from journeylens.errors import InputError
from journeylens.journeys.summary import wilson
from journeylens.maps._check_result import MapCheck
from journeylens.maps.conformance import (
    GROUP,
    deviated_at,
    deviation_places,
    deviations,
    journey_checks,
    journey_verdicts,
    pattern_masks,
    pattern_text,
    staged_events,
)
from journeylens.maps.deviation_costs import deviation_cost_rows, stage_cost_rows
from journeylens.maps.loading import MapError
from journeylens.maps.model import (
    DEVIATION_KINDS,
    JourneyMap,
)
from journeylens.maps.timing import kpi_rows, stage_between, stage_times, timing_rows

if TYPE_CHECKING:
    import pyarrow as pa

    from journeylens.journeys.definitions import JourneyRules
    from journeylens.specs.discovery import JourneyFilter
    from journeylens.specs.map_check import MapCheckSpec
    from journeylens.store import Store
    from journeylens.workspace import Workspace

__all__ = ["MapCheck", "check_map", "map_check", "map_filter"]

ALL = "all"
IN_MEMORY_JOURNEYS = 2_000_000
"""Above this many journeys (some 20M events) a check keeps its staged events in the database file."""


def map_check(ws: Workspace, spec: MapCheckSpec) -> MapCheck:
    """The registry's run function: find and load the map, check it against the workspace (journey
    type, touchpoints in the events), then :func:`check_map`."""
    from journeylens.maps.loading import open_map

    journey_map, path = open_map(ws, spec.map, touchpoints=True)
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
        result = _check(store, journey_map, spec, rules, path, keep, journeys, labels, sizes)
    return dataclasses.replace(result, deviation_source=_deviation_list(store, journey_map, journeys))


def _deviation_list(store: Store, journey_map: JourneyMap, journeys: ir.Table) -> Callable[[], pa.Table]:
    """The one-row-per-deviation list, computed when first asked for (from the same tables: the
    working tables are gone by then), in a stable order."""

    def fetch() -> pa.Table:
        found = deviations(journey_map, journeys, staged_events(store, journey_map, journeys))
        return store.execute(found.order_by("journey_id", "kind", "stage", "step", "touchpoint"))

    return fetch


class _WorkingTables:
    """Materialises the per-event and per-journey tables every view reads (each view would
    otherwise recompute them); dropped on exit. Names are unique, so checks may run side by side."""

    def __init__(self, store: Store) -> None:
        self.store, self.prefix = store, f"_jl_mapcheck_{uuid.uuid4().hex[:12]}"
        self.names: list[str] = []

    def __call__(self, name: str, expr: ir.Table, *, large: bool = False) -> ir.Table:
        from journeylens.store._working import scratch_table

        self.names.append(f"{self.prefix}_{name}")
        return scratch_table(self.store.backend, self.names[-1], expr, large=large)

    def __enter__(self) -> _WorkingTables:
        return self

    def __exit__(self, *exc: object) -> None:
        from journeylens.store._working import drop_scratch

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
    # The staged events stay in memory, as the floor's do, unless there are so many that an
    # uncompressed spill could fill the disk (see scratch_table): writing them to the database
    # file took half again as long.
    large = sum(sizes.values()) > IN_MEMORY_JOURNEYS
    staged = keep("events", staged_events(store, journey_map, journeys), large=large)
    checked = keep("verdicts", journey_checks(journey_map, journeys, staged))
    groups, by_stage, rule_rows, at_stage = _share_rows(store, journey_map, checked, labels, sizes)
    times = keep("times", stage_times(staged))
    between = keep("between", stage_between(journey_map, times))
    timing = timing_rows(store, journey_map, times, between)
    kpis = kpi_rows(store, journey_map, journeys, times, timing)
    costs, money = deviation_cost_rows(store, journey_map, journeys, checked, rules)
    stage_costs, stage_money = stage_cost_rows(store, journey_map, journeys, checked, rules)
    comparison: list[dict[str, Any]] = []
    if len(labels) == 2:
        from journeylens.maps.compare import compare_groups

        comparison = compare_groups(labels, {g["group"]: g for g in groups}, by_stage, rule_rows, timing)
    per_journey = store.execute(journey_verdicts(checked).order_by("journey_id"))
    context = {
        "map": journey_map.name, "file": None if path is None else str(path),
        "journey_type": journey_map.journey_type,
        "segment": journey_map.segment, "filter": map_filter(journey_map, spec).describe(),
        "groups": labels, "dimension": _dimension(spec),
    }  # fmt: skip
    return MapCheck(
        table=per_journey, context=context, groups=groups, deviations=by_stage,
        ad_hoc=_ad_hoc_rows(store, staged, sizes), rules=rule_rows, costs=costs, money=money,
        patterns=_patterns(store, journey_map, checked, spec.top if spec else 10), timing=timing, kpis=kpis,
        comparison=comparison, stage_journeys=at_stage, stage_costs=stage_costs, stage_money=stage_money,
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


def _share_rows(
    store: Store, jm: JourneyMap, checked: ir.Table, labels: list[str], sizes: dict[str, int]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], dict[str, dict[str, int]]]:
    """Every share a check reports, from one aggregate of the per-journey table: conforming
    journeys per group; journeys per deviation kind (``scope`` kind) and per kind and stage
    (``scope`` stage; ad-hoc touchpoints have no stage); journeys per rule broken; and journeys
    with any deviation placed at each stage. Kinds and stages no journey has are left out."""
    places = deviation_places(jm, checked)
    aggs: dict[str, ir.Value] = {"_conforming": checked.conforms.cast("int64").sum()}
    aggs.update({f"_k{n}": (checked[kind] > 0).cast("int64").sum() for n, kind in enumerate(DEVIATION_KINDS)})
    aggs.update({f"_s{n}": flag.cast("int64").sum() for n, flag in enumerate(places.values())})
    aggs.update({f"_r{j}": checked[f"_r{j}"].cast("int64").sum() for j in range(len(jm.rules))})
    for i, flag in deviated_at(jm, checked).items():
        aggs[f"_any{i}"] = flag.cast("int64").sum()
    found = {r[GROUP]: r for r in store.execute(checked.group_by(GROUP).agg(**aggs)).to_pylist()}
    groups = []
    for g in labels:
        ok = int(found.get(g, {}).get("_conforming") or 0)
        groups.append(
            {"group": g, "journeys": sizes.get(g, 0), "conforming": ok, **_share(ok, sizes.get(g, 0))}
        )
    rows = []
    for g, r in found.items():
        d = sizes.get(g, 0)
        counts: list[tuple[str, str, str | None, Any]]
        counts = [("kind", kind, None, r[f"_k{n}"]) for n, kind in enumerate(DEVIATION_KINDS)]
        counts += [("stage", kind, jm.stages[i].name, r[f"_s{n}"]) for n, (kind, i) in enumerate(places)]
        rows += [{"group": g, "scope": scope, "kind": kind, "stage": stage, "journeys": int(n), "of": d,
                  **_share(int(n), d)} for scope, kind, stage, n in counts if n]  # fmt: skip
    order = {k: i for i, k in enumerate(DEVIATION_KINDS)}
    rows.sort(key=lambda r: (str(r["group"]), r["scope"], order[r["kind"]], -r["journeys"], str(r["stage"])))
    from journeylens.maps._declare import rule_label

    rule_rows = [
        {"group": g, "rule": j + 1, "rule_label": rule_label(rule),
         "journeys": int(found.get(g, {}).get(f"_r{j}") or 0), "of": d,
         **_share(int(found.get(g, {}).get(f"_r{j}") or 0), d)}
        for g, d in sizes.items() for j, rule in enumerate(jm.rules)
    ]  # fmt: skip
    at_stage = {
        g: {s.name: int(r[f"_any{i}"] or 0) for i, s in enumerate(jm.stages)} for g, r in found.items()
    }
    return groups, rows, rule_rows, at_stage


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


def _patterns(store: Store, jm: JourneyMap, checked: ir.Table, top: int) -> list[dict[str, Any]]:
    """The ``top`` most common combinations of deviations per group (kind at stage or touchpoint,
    rules broken), with up to three example journeys each (smallest ids).

    Journeys are counted per pattern in its compact form (:func:`pattern_masks`: a few integers and
    the ad-hoc touchpoints), so only one row per pattern reaches Python, where its text is made;
    the second and third examples are the smallest ids above the previous one, per chosen pattern.
    """
    items, masks = pattern_masks(jm, checked)
    keys = [GROUP, "_ad_hoc", *masks]
    per = checked.select("journey_id", GROUP, "_ad_hoc", **masks)
    per = per.filter(ibis.or_(per._ad_hoc != "", *(per[m] != 0 for m in masks)))
    counted = store.execute(
        per.group_by(keys).agg(journeys=per.count(), _e0=per.journey_id.min())
    ).to_pylist()
    for r in counted:
        r["pattern"] = pattern_text(items, r["_ad_hoc"], [int(r[m]) for m in masks])
    counted.sort(key=lambda r: (str(r[GROUP]), -r["journeys"], r["pattern"]))
    chosen: list[dict[str, Any]] = []
    kept: dict[str, int] = {}
    for r in counted:
        if kept.get(r[GROUP], 0) < top:
            kept[r[GROUP]] = kept.get(r[GROUP], 0) + 1
            chosen.append(r)
    for n in (1, 2):
        if not chosen:
            break
        last = f"_e{n - 1}"
        want = ibis.memtable(
            [{k: r[k] for k in (*keys, last)} for r in chosen],
            schema={**{k: per[k].type() for k in keys}, last: "string"},
        )
        after = per.join(want, keys).filter(per.journey_id > want[last])
        found = store.execute(after.group_by(keys).agg(_next=after.journey_id.min())).to_pylist()
        nxt = {tuple(f[k] for k in keys): f["_next"] for f in found}
        for r in chosen:
            r[f"_e{n}"] = nxt.get(tuple(r[k] for k in keys)) if r[last] is not None else None
    return [{"group": r[GROUP], "pattern": r["pattern"], "journeys": int(r["journeys"]),
             "examples": [r[e] for e in ("_e0", "_e1", "_e2") if r.get(e) is not None]}
            for r in chosen]  # fmt: skip
