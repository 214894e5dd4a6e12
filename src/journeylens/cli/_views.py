"""The terminal (``--format table``) layout of each analysis's result, named by the registry.

A view gets the result, the spec that made it and ``wide`` (``--wide``); JSON and CSV are written
by the runner from the result itself, so a view only decides what a person reads. Tables are laid
out for 80 columns (:func:`~journeylens.cli._output.render`): each view lists its most important
columns first and names the ones only ``--wide`` shows; a rate and its interval share one short
cell ("12.3% [11.0-13.6]", an en dash between the bounds) with the count on its own line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.text import Text

from journeylens._units import clock_text, duration_text, short_duration
from journeylens.cli._output import OutputFormat, err_console, first, render
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
    """A note under a table; plain text (``[journeys.types]`` is a setting, not Rich markup)."""
    err_console.print(escape(text), style="dim")


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


def journeys_summary(result: JourneySummary, spec: Any, *, wide: bool = False) -> None:
    from journeylens.journeys.summary import DENOMINATORS
    from journeylens.journeys.undefined import unknown_note

    title = f"Journeys by {spec.by.value}: rate (95% CI), count = numerator/denominator"
    render(result.compact(), TABLE, title=title, wide=wide)
    _dim("Denominators: " + "; ".join(f"{name}: {what}" for name, what in DENOMINATORS.items()))
    unknown, total = result.unknown_outcomes()
    if unknown:
        _dim(unknown_note(unknown, total) + ".")
    _undefined(result.reasons())


def customer(profile: CustomerProfile, spec: Any, *, wide: bool = False) -> None:
    # JSON and CSV list the whole timeline; a person reads its start unless they asked for more.
    timeline = profile.timeline if spec.limit is not None else profile.timeline[:TABLE_TIMELINE]
    identifiers = [{k: v for k, v in i.items() if k != "customer_id"} for i in profile.identifiers]
    render(identifiers, TABLE, title=f"Customer {profile.customer_id}: identifiers", wide=wide)
    if profile.traits:
        render(profile.traits, TABLE, title="Traits", wide=wide)
    render(timeline or [{"events": 0}], TABLE, title=f"Timeline ({profile.events:,} events)",
           extra=("direction", "event_id"), wide=wide)  # fmt: skip
    if profile.journeys:  # the command builds the model first, so journeys are never missing here
        reasons = _row_reasons(profile.journeys, ("outcome", "cost_to_serve"))
        shown = [
            {
                **{k: v for k, v in j.items() if not k.endswith("_reason")},
                **({"cost_to_serve": NOT_DEFINED} if j["cost_to_serve_reason"] else {}),
            }
            for j in profile.journeys
        ]
        journeys = first(shown, ("journey_type", "outcome", "start", "touchpoints", "channels"))
        render(journeys, TABLE, title=f"Journeys ({len(profile.journeys)})", extra=("end",), wide=wide)
        _undefined(reasons)
    if profile.feedback:
        render(profile.feedback, TABLE, title="Feedback", wide=wide)


def dfg(result: ProcessMap, spec: Any, *, wide: bool = False) -> None:
    t = result.totals
    nodes = _readable(result.nodes.to_pylist(), "activities", spec.max_nodes is not None)
    render(nodes or [{"activities": 0}], TABLE, title="Activities", wide=wide)
    edges = _readable(result.records(), "transitions", spec.max_edges is not None)
    transitions = [
        {
            **{k: e[k] for k in ("source", "target", "count", "journeys")},
            **{k.removesuffix("_s"): duration_text(e[k]) for k in ("median_s", "mean_s", "p90_s")},
        }
        for e in edges
    ]
    render(transitions or [{"transitions": 0}], TABLE, title="Transitions (time from source to target)",
           extra=("mean", "p90"), wide=wide)  # fmt: skip
    render(result.start_activities.to_pylist(), TABLE, title="Start activities", wide=wide)
    render(result.end_activities.to_pylist(), TABLE, title="End activities", wide=wide)
    _dim(
        f"{t['journeys']:,} journeys, {t['events']:,} events ({spec.filter.describe()}); showing "
        f"{t['shown_activities']:,} of {t['activities']:,} activities and {t['shown_edges']:,} of "
        f"{t['edges']:,} transitions."
    )


def variants(result: Variants, spec: Any, *, wide: bool = False) -> None:
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
            "success": _pct(r["success_rate"], digits=0),
            "steps": ARROW.join(r["steps"]),
        }
        for r in rows
    ]
    t = result.totals
    covered = rows[-1]["coverage"] if rows else 0.0
    render(shown, TABLE, title="Variants", extra=("cumulative",), wide=wide)
    _dim(
        f"{len(rows):,} of {t['variants']:,} variants, covering {covered:.1%} of "
        f"{t['journeys']:,} journeys ({spec.filter.describe()})."
    )
    _undefined(_row_reasons(rows, ("success",)))


def paths(result: PathsResult, spec: Any, *, wide: bool = False) -> None:
    render([result.totals()], TABLE, title="Journeys", wide=wide)
    shown = [{k: v for k, v in link.items() if k not in ("carried",)} for link in result.records()]
    title = f"Paths ({spec.mode.value}, {spec.steps} steps)"
    render(shown or [{"links": 0}], TABLE, title=title, extra=("source_kind", "target_kind"), wide=wide)
    _dim(
        f"Each step's counts sum to the {result.anchored_journeys:,} anchored journeys "
        "(drop-off and journey-start are carried to the last step)."
    )


def funnel(result: FunnelResult, spec: Any, *, wide: bool = False) -> None:
    window = clock_text(spec.window_seconds)
    title = f"Funnel ({spec.order.value}, window {window}, per {result.unit.value})"
    render(result.compact(), TABLE, title=title, wide=wide)
    _dim(f"Unit: {result.unit_reason}.")
    if result.undefined is not None:
        err_console.print(
            Text.assemble(("Not defined: ", "bold yellow"), result.undefined.reason), soft_wrap=True
        )
        err_console.print(Text.assemble(("Hint: ", "bold"), result.undefined.hint), soft_wrap=True)
        return
    after = result.after_drop_off.to_pylist()
    if after:
        for row in after:
            row["share"] = f"{row['share']:.1%}"
        render(after, TABLE, title="Where they went after dropping off (next activity within the window)",
               extra=("step_name",), wide=wide)  # fmt: skip
    _dim(
        "Rates: 95% Wilson interval, units/denominator; 'from previous' divides by the previous "
        "required step."
    )


def touchpoints(inventory: TouchpointInventory, spec: Any, *, wide: bool = False) -> None:
    rows = [_touchpoint_row(r) for r in _readable(inventory.records(), "touchpoints", False)]
    title = f"Touchpoints ({inventory.selected_journeys:,} journeys)"
    render(rows or [{"touchpoints": 0}], TABLE, title=title, extra=("stage", "cost"), wide=wide)
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
    feedback = [
        f"{metric} {row[f'{metric}_mean']:.1f} (n={row[f'{metric}_responses']})"
        for metric in ("nps", "csat", "ces", "rating")
        if row[f"{metric}_responses"]
    ]
    return {
        "touchpoint": row["touchpoint"],
        "channel": row["channel"],
        "journeys": f"{row['journeys']:,} ({row['journey_share']:.1%})",
        "events": row["events"],
        "success": _rate_cell(row["success_rate"], row["success_lo"], row["success_hi"]),
        "next": short_duration(row["median_time_to_next_s"]),
        "feedback": "; ".join(feedback),
        "stage": row["stage"],
        "cost": NOT_DEFINED if row["cost"] is None else row["cost"],  # None: no cost configured
    }


def segments(result: SegmentComparison, spec: Any, *, wide: bool = False) -> None:
    what = result.context.get("cohort") or f"{result.context['period_a']} vs {result.context['period_b']}"
    dim = result.dimension
    groups = [{**g, dim: NOT_DEFINED if g[dim] is None else g[dim]} for g in result.groups]
    render(groups, TABLE, title=f"Groups ({what})", wide=wide)
    records = result.records()
    baselines = {row["baseline"] for row in records if row["baseline"]}
    against = f" vs {next(iter(baselines))}" if len(baselines) == 1 else ""
    title = f"value [95% CI]; diff{against} [95% CI]; q (Benjamini-Hochberg), * when q < 0.05"
    rows = [_comparison_row(row, result.dimension, show_baseline=len(baselines) > 1) for row in records]
    render(rows, TABLE, title=title, extra=("test", "p"), wide=wide)
    _dim("n: numerator/denominator of a rate; values of a mean (journeys, or customers for frequency "
         "and recency_days).")  # fmt: skip
    if result.context.get("metrics_reason", "as asked") != "as asked":
        _dim(f"Metrics: {result.context['metrics_reason']}; -m names others.")
    if result.context.get("purchases"):  # none found: the reason below says so
        _dim(f"Purchases: {result.context['purchases_reason']}.")
    if result.reason is not None:
        what_undefined = "the segments" if any(g[dim] is None for g in result.groups) else "the comparison"
        err_console.print(
            Text.assemble(("Not defined: ", "bold yellow"), f"{what_undefined}: {result.reason}."),
            soft_wrap=True,
        )
        err_console.print(Text.assemble(("Hint: ", "bold"), result.hint or ""), soft_wrap=True)
    else:
        _undefined({row["metric"]: row["reason"] for row in records if row["reason"]})
    if "reference_date" in result.context:
        when = result.context["reference_date"]
        _dim(f"Reference date of the cohort: {when:%Y-%m-%d %H:%M} UTC")


def _comparison_row(row: dict[str, Any], dimension: str, *, show_baseline: bool) -> dict[str, Any]:
    show = _pct if row["kind"] == "rate" else _num
    if row["metric"].endswith("_s"):
        show = _seconds
    count = "" if row["n"] is None else f"{row['n']:,}"
    return {
        dimension: NOT_DEFINED if row[dimension] is None else row[dimension],
        "metric": row["metric"],
        "value": _with_ci(row["value"], row["lo"], row["hi"], show),
        "n": f"{count}/{row['d']:,}" if row["kind"] == "rate" and row["d"] is not None else count,
        **({"vs": row["baseline"] or ""} if show_baseline else {}),
        "diff": ""
        if row["diff"] is None
        else _with_ci(row["diff"], row["diff_lo"], row["diff_hi"], show, signed=True),
        "q": _p(row["q"]) + (" *" if row["significant"] else ""),
        "test": row["test"] or "",
        "p": _p(row["p"]),
    }


def _with_ci(value: float | None, lo: float | None, hi: float | None, show: Any, signed: bool = False) -> str:
    """``12.3% [11.0-13.6]`` (an en dash between the bounds): the value and, when defined, its
    interval on one short cell."""
    if value is None:
        return NOT_DEFINED
    text = show(value, signed=signed)
    if lo is None or hi is None:
        return text
    return f"{text} [{show(lo, bare=True)}–{show(hi, bare=True)}]"


def _pct(value: float | None, signed: bool = False, *, bare: bool = False, digits: int = 1) -> str:
    """A share as a percentage (``bare``: without the sign, for an interval's bounds)."""
    if value is None:
        return NOT_DEFINED
    text = f"{value * 100:+.{digits}f}" if signed else f"{value * 100:.{digits}f}"
    return text if bare else text + "%"


def _num(value: float | None, signed: bool = False, *, bare: bool = False) -> str:
    """A mean with as many decimals as it needs: 1,234 / 12.3 / 1.23."""
    if value is None:
        return NOT_DEFINED
    size = abs(value)
    spec = ",.0f" if size >= 100 else (".1f" if size >= 10 else ".2f")
    return f"{value:+{spec}}" if signed else f"{value:{spec}}"


def _seconds(value: float | None, signed: bool = False, *, bare: bool = False) -> str:
    if value is None:
        return NOT_DEFINED
    sign = "-" if value < 0 else ("+" if signed else "")
    return sign + short_duration(abs(value))


def _rate_cell(rate: float | None, lo: float | None, hi: float | None) -> str:
    return _with_ci(rate, lo, hi, _pct)


def _p(value: float | None) -> str:
    if value is None:
        return ""
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def export_xes(result: XesExport, spec: Any, *, wide: bool = False) -> None:
    where = "standard output" if result.path is None else str(result.path)
    err_console.print(f"{result.traces:,} traces, {result.events:,} events written to {escape(where)}")
