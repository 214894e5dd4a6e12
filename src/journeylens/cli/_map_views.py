"""The terminal layout of the map analyses' results: ``map draft``, ``map monitor`` and ``map
check`` (``map show`` is in ``cli/_map_show.py``); the conventions of ``cli/_views.py``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.markup import escape

from journeylens._units import short_duration
from journeylens.cli._output import render
from journeylens.cli._views import (
    TABLE,
    _comparison_row,
    _dim,
    _num,
    _p,
    _pct,
    _readable,
    _seconds,
    _undefined,
    _with_ci,
)
from journeylens.journeys.undefined import NOT_DEFINED

if TYPE_CHECKING:
    from journeylens.maps._check_result import MapCheck
    from journeylens.maps.draft import MapDraft
    from journeylens.maps.monitor import MapMonitor


def map_draft(result: MapDraft, spec: Any, *, wide: bool = False) -> None:
    """Without --out: the YAML itself on stdout (to redirect into a file); with it: the stages."""
    from journeylens.cli import _output

    if result.out is None:
        _output.console.out(result.yaml, end="", highlight=False)
        return
    targets = [s.time_target.duration if s.time_target else "" for s in result.map.stages]
    rows = [
        {
            "stage": s["stage"],
            "reached": f"{s['share']:.0%}",
            "journeys": s["journeys"],
            "p80": short_duration(s["p80_s"]),
            "target": targets[i],
            "touchpoints": ", ".join(s["touchpoints"]),
        }
        for i, s in enumerate(result.stages)
    ]
    t = result.totals
    render(rows, TABLE, title=f"Drafted stages ({spec.journey_type})", wide=wide)
    _dim(
        f"{t['journeys']:,} journeys; {t['planned']:,} touchpoints in {t['stages']:,} stages, "
        f"{t['unplanned']:,} unplanned. Map written to {result.out} (with map.schema.json beside it); "
        "fill in goals, intents, expected emotions and owners."
    )


def map_monitor(result: MapMonitor, spec: Any, *, wide: bool = False) -> None:
    """One line per change: where, which way, how big, since when, how often it re-alarmed."""
    rows = [
        {
            "stage": a.series.stage,
            "metric": a.series.metric,
            "size": f"{a.size:+.3g}",
            "sd": f"{a.size_z:+.1f}",
            "since": a.first_period.isoformat(),
            "alarm": a.alarm_period.isoformat(),
            "alarms": 1 + a.realarms,
            "last alarm": a.last_alarm_period.isoformat(),
        }
        for a in result.alerts
    ]
    watched = f"{result.monitored_from} to {result.last_period}" if result.monitored_from else "nothing"
    title = (
        f"Living map {result.map} ({result.journey_type}, per {result.period.value}): "
        f"{len(rows)} alert(s), monitored {watched}"
    )
    if rows:
        render(rows, TABLE, title=title, wide=wide)
    else:
        from journeylens.cli import _output

        _output.console.print(escape(title))
    _dim(
        "size: mean change in the metric's units (a rate, journeys, a score); sd: in standard "
        "deviations; since: the change's first period; alarms: one plus the re-alarms of a "
        "lasting change."
    )
    _dim(
        f"Baseline: {result.baseline_periods} {result.period.value}s; false-alarm budget "
        f"{result.budget} for the whole map. Alerts are in the alerts table (map {result.map!r})."
    )
    for series, reason in result.unmonitored.items():
        _dim(f"Not monitored: {series}: {reason}.")


def _share_cell(row: dict[str, Any], value: str = "share", lo: str = "lo", hi: str = "hi") -> str:
    return _with_ci(row[value], row[lo], row[hi], _pct)


def map_check(result: MapCheck, spec: Any, *, wide: bool = False) -> None:
    """Conformance per group, deviations by kind and stage, rules, cost, patterns, time, KPIs."""
    ctx = result.context
    name = (
        f"{ctx['map']} ({ctx['journey_type']}"
        + (f", segment {ctx['segment']}" if ctx["segment"] else "")
        + ")"
    )
    groups = [
        {
            "group": g["group"],
            "journeys": f"{g['journeys']:,}",
            "conforming": _share_cell(g),
            "n": f"{g['conforming']:,}",
        }
        for g in result.groups
    ]
    render(groups, TABLE, title=f"Map {name}: journeys that conform (95% Wilson CI)", wide=wide)
    devs = [
        {"group": r["group"], "kind": r["kind"].replace("_", " "), "stage": r["stage"] or "(any)",
         "journeys": _share_cell(r), "n": f"{r['journeys']:,}/{r['of']:,}"}
        for r in result.deviations
    ]  # fmt: skip
    if devs:
        title = "Deviations (CJML): journeys affected"
        render(_readable(devs, "deviation rows", False), TABLE, title=title, wide=wide)
    expected = [
        {"group": r["group"], "unplanned": r["unplanned"], "touchpoint": r["touchpoint"],
         "journeys": _share_cell(r), "events": f"{r['events']:,}"}
        for r in result.ad_hoc if r["expected"]
    ]  # fmt: skip
    if expected:
        title = "Expected ad-hoc touchpoints (declared unplanned; not deviations)"
        render(expected, TABLE, title=title, wide=wide)
    if result.rules:
        rows = [
            {"group": r["group"], "rule": r["rule_label"], "broken in": _share_cell(r),
             "n": f"{r['journeys']:,}/{r['of']:,}"}
            for r in result.rules
        ]  # fmt: skip
        render(rows, TABLE, title="Declare rules: journeys that break them", wide=wide)
    _map_costs(result, wide)
    if result.patterns:
        rows = [
            {"group": p["group"], "journeys": f"{p['journeys']:,}", "pattern": p["pattern"],
             "examples": ", ".join(p["examples"])}
            for p in result.patterns
        ]  # fmt: skip
        render(rows, TABLE, title="Most common deviation patterns", wide=wide)
    _map_timing(result, wide)
    _map_comparison(result, wide)


def _map_costs(result: MapCheck, wide: bool) -> None:
    if not result.costs:
        return
    title = "Deviating vs conforming journeys: value [95% CI]; diff [95% CI]; q (BH)"
    _cost_tables(result.costs, result.money, "group", title, wide)
    title = "Journeys deviating at each stage vs conforming: value [95% CI]; diff [95% CI]; q (BH)"
    _cost_tables(result.stage_costs, result.stage_money, "stage", title, wide)
    _dim(
        "Differences are associations with the deviation, not its effect: deviating journeys differ in "
        "other ways too."
    )


def _cost_tables(
    costs: list[dict[str, Any]], money: list[dict[str, Any]], key: str, title: str, wide: bool
) -> None:
    """Deviating journeys (per ``key``: group or stage) against conforming ones, and the money."""
    rows = [_comparison_row(r, key, show_baseline=False) for r in costs if r["baseline"]]
    render(rows, TABLE, title=title, extra=("test", "p"), wide=wide)
    priced = [
        {key: m[key], "journeys": f"{m['journeys']:,}",
         "per journey": _num(m["per_journey"], signed=True), "total": _num(m["total"], signed=True)}
        for m in money if m["per_journey"] is not None
    ]  # fmt: skip
    if priced:
        render(priced, TABLE, title="Money difference under the map's costs", wide=wide)


def _within(t: dict[str, Any]) -> str:
    if t["target"] is None:
        return ""
    verdict = "met" if t["target_met"] else "missed"
    share = _share_cell(t, "share_within", "share_lo", "share_hi")
    return f"{share} of {t['target']} ({t['target_percentile']}: {verdict})"


def _map_timing(result: MapCheck, wide: bool) -> None:
    if result.timing:
        rows = [
            {"group": t["group"], "stage": t["stage"], "journeys": f"{t['journeys']:,}",
             "within target": _within(t),
             **{q: _with_ci(t[q], t[f"{q}_lo"], t[f"{q}_hi"], _seconds) for q in ("p50", "p80", "p90")}}
            for t in result.timing
        ]  # fmt: skip
        render(rows, TABLE, title="Time in stage and between stages (order-statistic 95% CI)", wide=wide)
    if result.kpis:
        rows = [
            {"group": k["group"], "stage": k["stage"], "kpi": k["metric"], "value": _kpi_text(k),
             "target": _target_text(k), "verdict": k["verdict"] or NOT_DEFINED}
            for k in result.kpis
        ]  # fmt: skip
        render(rows, TABLE, title="Stage KPIs against their targets", wide=wide)
        _undefined({f"{k['stage']} {k['metric']}": k["reason"] for k in result.kpis if k["reason"]})


def _map_comparison(result: MapCheck, wide: bool) -> None:
    if not result.comparison:
        return
    rows = [
        {"measure": c["measure"].replace("_", " "), "about": c["about"],
         c["a"]: _share_cell(c, "a_value", "a_lo", "a_hi"),
         c["b"]: _share_cell(c, "b_value", "b_lo", "b_hi"),
         "diff": "" if c["diff"] is None
         else _with_ci(c["diff"], c["diff_lo"], c["diff_hi"], _pct, signed=True),
         "q": _p(c["q"]) + (" *" if c["significant"] else "")}
        for c in result.comparison
    ]  # fmt: skip
    title = "Side by side: B against A; q (Benjamini-Hochberg), * when q < 0.05"
    render(rows, TABLE, title=title, wide=wide)


def _kpi_text(kpi: dict[str, Any]) -> str:
    if kpi["metric"] in ("conversion", "resolution", "leakage"):
        return _with_ci(kpi["value"], kpi["lo"], kpi["hi"], _pct)
    if kpi["metric"] == "time_in_stage":
        return _with_ci(kpi["value"], kpi["lo"], kpi["hi"], _seconds)
    return _with_ci(kpi["value"], kpi["lo"], kpi["hi"], _num)


def _target_text(kpi: dict[str, Any]) -> str:
    bounds = (("at least", kpi["min"]), ("at most", kpi["max"]))
    return " and ".join(f"{word} {bound}" for word, bound in bounds if bound is not None)
