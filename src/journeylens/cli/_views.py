"""The terminal (``--format table``) layout of each analysis's result, named by the registry.

A view gets the result and the spec that made it; JSON and CSV are written by the runner from the
result itself, so a view only decides what a person reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.markup import escape

from journeylens._units import clock_text, duration_text
from journeylens.cli._output import OutputFormat, err_console, render
from journeylens.journeys.undefined import NOT_DEFINED

if TYPE_CHECKING:
    from journeylens.discovery._compare import SegmentComparison
    from journeylens.discovery.dfg import ProcessMap
    from journeylens.discovery.funnel import FunnelResult
    from journeylens.discovery.paths import PathsResult
    from journeylens.discovery.touchpoints import TouchpointInventory
    from journeylens.discovery.variants import Variants
    from journeylens.discovery.xes_export import XesExport
    from journeylens.identity.profile import CustomerProfile
    from journeylens.journeys.summary import JourneySummary

TABLE = OutputFormat.table
#: The share of journeys the variants table covers when the user asked for no cut.
TABLE_COVERAGE = 0.8
#: Timeline events the customer table shows when the user asked for no limit.
TABLE_TIMELINE = 50
#: Rows a terminal table shows when the user asked for no cut (JSON and CSV list every row): a
#: process log's thousands of variants or transitions are for scripts, not for reading.
TABLE_ROWS = 25


def _dim(text: str) -> None:
    err_console.print(text, style="dim")


def _readable(rows: list[dict[str, Any]], what: str, asked: bool) -> list[dict[str, Any]]:
    """The first :data:`TABLE_ROWS` of ``rows`` (most frequent first) unless the user ``asked`` for
    a cut of their own; says what was left out and how to see it."""
    if asked or len(rows) <= TABLE_ROWS:
        return rows
    _dim(
        f"The table shows the first {TABLE_ROWS} of {len(rows):,} {what}; --format json or csv lists "
        "every row."
    )
    return rows[:TABLE_ROWS]


def _undefined(reasons: dict[str, str]) -> None:
    """One line per measure shown as n/d: why it is not defined and the setting that defines it."""
    by_reason: dict[str, list[str]] = {}
    for name, reason in reasons.items():
        by_reason.setdefault(reason, []).append(name)
    for reason, names in by_reason.items():
        err_console.print(f"{NOT_DEFINED} {escape(', '.join(names))}: {escape(reason)}", style="yellow")


def journeys_summary(result: JourneySummary, spec: Any) -> None:
    from journeylens.journeys.summary import DENOMINATORS
    from journeylens.journeys.undefined import unknown_note

    render(result.compact(), TABLE, title=f"Journeys by {spec.by.value}: rate (95% CI) numerator/denominator")
    _dim("Denominators: " + "; ".join(f"{name}: {what}" for name, what in DENOMINATORS.items()))
    unknown, total = result.unknown_outcomes()
    if unknown:
        _dim(unknown_note(unknown, total) + ".")
    _undefined(result.reasons())


def customer(profile: CustomerProfile, spec: Any) -> None:
    # JSON and CSV list the whole timeline; a person reads its start unless they asked for more.
    timeline = profile.timeline if spec.limit is not None else profile.timeline[:TABLE_TIMELINE]
    identifiers = [{k: v for k, v in i.items() if k != "customer_id"} for i in profile.identifiers]
    render(identifiers, TABLE, title=f"Customer {profile.customer_id}: identifiers")
    if profile.traits:
        render(profile.traits, TABLE, title="Traits")
    render(timeline or [{"events": 0}], TABLE, title=f"Timeline ({profile.events:,} events)")
    if profile.journeys:  # the command builds the model first, so journeys are never missing here
        reasons = _row_reasons(profile.journeys, ("outcome", "cost_to_serve"))
        shown = [
            {
                **{k: v for k, v in j.items() if not k.endswith("_reason")},
                **({"cost_to_serve": NOT_DEFINED} if j["cost_to_serve_reason"] else {}),
            }
            for j in profile.journeys
        ]
        render(shown, TABLE, title=f"Journeys ({len(profile.journeys)})")
        _undefined(reasons)
    if profile.feedback:
        render(profile.feedback, TABLE, title="Feedback")


def dfg(result: ProcessMap, spec: Any) -> None:
    t = result.totals
    nodes = _readable(result.nodes.to_pylist(), "activities", spec.max_nodes is not None)
    render(nodes or [{"activities": 0}], TABLE, title="Activities")
    edges = _readable(result.records(), "transitions", spec.max_edges is not None)
    transitions = [
        {
            **{k: e[k] for k in ("source", "target", "count", "journeys")},
            **{k.removesuffix("_s"): duration_text(e[k]) for k in ("median_s", "mean_s", "p90_s")},
        }
        for e in edges
    ]
    render(transitions or [{"transitions": 0}], TABLE, title="Transitions (time from source to target)")
    render(result.start_activities.to_pylist(), TABLE, title="Start activities")
    render(result.end_activities.to_pylist(), TABLE, title="End activities")
    _dim(
        f"{t['journeys']:,} journeys, {t['events']:,} events ({spec.filter.describe()}); showing "
        f"{t['shown_activities']:,} of {t['activities']:,} activities and {t['shown_edges']:,} of "
        f"{t['edges']:,} transitions."
    )


def variants(result: Variants, spec: Any) -> None:
    from journeylens.discovery.variants import ARROW

    rows = result.records()
    asked = spec.coverage is not None or spec.limit is not None
    if not asked:
        # Machine formats list every variant; a person reads the ones covering most journeys.
        rows = [r for r in rows if r["coverage"] - r["share"] < TABLE_COVERAGE]
    rows = _readable(rows, "variants covering 80%", asked)
    shown = [
        {
            "#": r["rank"],
            "journeys": r["count"],
            "share": f"{r['share']:.1%}",
            "cumulative": f"{r['coverage']:.1%}",
            "median time": duration_text(r["median_duration_s"]),
            "success": NOT_DEFINED if r["success_rate"] is None else f"{r['success_rate']:.0%}",
            "steps": ARROW.join(r["steps"]),
        }
        for r in rows
    ]
    t = result.totals
    covered = rows[-1]["coverage"] if rows else 0.0
    render(shown, TABLE, title="Variants")
    _dim(
        f"{len(rows):,} of {t['variants']:,} variants, covering {covered:.1%} of "
        f"{t['journeys']:,} journeys ({spec.filter.describe()})."
    )
    _undefined(_row_reasons(rows, ("success",)))


def paths(result: PathsResult, spec: Any) -> None:
    render([result.totals()], TABLE, title="Journeys")
    shown = [{k: v for k, v in link.items() if k not in ("carried",)} for link in result.records()]
    render(shown or [{"links": 0}], TABLE, title=f"Paths ({spec.mode.value}, {spec.steps} steps)")
    _dim(
        f"Each step's counts sum to the {result.anchored_journeys:,} anchored journeys "
        "(drop-off and journey-start are carried to the last step)."
    )


def funnel(result: FunnelResult, spec: Any) -> None:
    window = clock_text(spec.window_seconds)
    render(
        result.compact(), TABLE, title=f"Funnel ({spec.order.value}, window {window}, per {spec.unit.value})"
    )
    after = result.after_drop_off.to_pylist()
    if after:
        for row in after:
            row["share"] = f"{row['share']:.1%}"
        render(after, TABLE, title="Where they went after dropping off (next activity within the window)")
    _dim(
        "Rates: 95% Wilson interval, units/denominator; 'from previous' divides by the previous "
        "required step."
    )


def touchpoints(inventory: TouchpointInventory, spec: Any) -> None:
    rows = [_touchpoint_row(r) for r in _readable(inventory.records(), "touchpoints", False)]
    render(
        rows or [{"touchpoints": 0}], TABLE, title=f"Touchpoints ({inventory.selected_journeys:,} journeys)"
    )
    _dim(
        "success: rate of journeys through it (95% Wilson interval); stage: where in the journey "
        "it usually happens; next: median time to the next event; --format json for every column."
    )
    _undefined(_row_reasons(inventory.records(), ("success", "cost")))


def _row_reasons(rows: list[dict[str, Any]], names: tuple[str, ...]) -> dict[str, str]:
    """The first ``<name>_reason`` of each measure in ``rows``."""
    found: dict[str, str] = {}
    for row in rows:
        for name in names:
            if row.get(f"{name}_reason"):
                found.setdefault(name, row[f"{name}_reason"])
    return found


def _touchpoint_row(row: dict[str, Any]) -> dict[str, Any]:
    rate = row["success_rate"]
    feedback = [
        f"{metric} {row[f'{metric}_mean']:.1f} (n={row[f'{metric}_responses']})"
        for metric in ("nps", "csat", "ces", "rating")
        if row[f"{metric}_responses"]
    ]
    return {
        "touchpoint": row["touchpoint"],
        "channel": row["channel"],
        "events": row["events"],
        "journeys": f"{row['journeys']:,} ({row['journey_share']:.1%})",
        "stage": row["stage"],
        "success": f"{rate:.1%} ({row['success_lo']:.1%}-{row['success_hi']:.1%})"
        if rate is not None
        else NOT_DEFINED,
        "next": duration_text(row["median_time_to_next_s"], missing=""),
        "cost": NOT_DEFINED if row["cost"] is None else row["cost"],
        "feedback": "; ".join(feedback),
    }


def segments(result: SegmentComparison, spec: Any) -> None:
    what = result.context.get("cohort") or f"{result.context['period_a']} vs {result.context['period_b']}"
    render(result.groups, TABLE, title=f"Groups ({what})")
    title = "value [95% CI] n/d; diff vs baseline [95% CI]; test, p, q (Benjamini-Hochberg)"
    render([_comparison_row(row, result.dimension) for row in result.records()], TABLE, title=title)
    _undefined({row["metric"]: row["reason"] for row in result.records() if row["reason"]})
    if "reference_date" in result.context:
        when = result.context["reference_date"]
        _dim(f"Reference date of the cohort: {when:%Y-%m-%d %H:%M} UTC")


def _comparison_row(row: dict[str, Any], dimension: str) -> dict[str, Any]:
    rate = row["kind"] == "rate"
    show = _pct if rate else _num
    diff = "" if row["diff"] is None else show(row["diff"], signed=True)
    return {
        dimension: row[dimension],
        "metric": row["metric"],
        "value": show(row["value"]) + _ci(row["lo"], row["hi"], show),
        "n/d": f"{row['n']:,}/{row['d']:,}" if rate else f"n={row['n']:,}",
        "vs": row["baseline"] or "",
        "diff": diff + _ci(row["diff_lo"], row["diff_hi"], show),
        "test": row["test"] or "",
        "p": _p(row["p"]),
        "q": _p(row["q"]),
        "sig": "*" if row["significant"] else "",
    }


def _pct(value: float | None, signed: bool = False) -> str:
    return NOT_DEFINED if value is None else (f"{value:+.1%}" if signed else f"{value:.1%}")


def _num(value: float | None, signed: bool = False) -> str:
    return NOT_DEFINED if value is None else (f"{value:+,.2f}" if signed else f"{value:,.2f}")


def _ci(lo: float | None, hi: float | None, show: Any) -> str:
    return "" if lo is None or hi is None else f" [{show(lo)}, {show(hi)}]"


def _p(value: float | None) -> str:
    if value is None:
        return ""
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def export_xes(result: XesExport, spec: Any) -> None:
    where = "standard output" if result.path is None else str(result.path)
    err_console.print(f"{result.traces:,} traces, {result.events:,} events written to {escape(where)}")
