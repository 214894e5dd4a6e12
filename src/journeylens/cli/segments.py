"""``journeylens segments``: journey metrics side by side for segments, cohorts or two periods."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from journeylens.cli._filters import (
    ChannelOpt,
    OutcomeOpt,
    SegmentOpt,
    SinceOpt,
    TypeOpt,
    UntilOpt,
    WhereOpt,
    journey_filter,
)
from journeylens.cli._output import OutputFormat, err_console, render, render_machine
from journeylens.cli.app import FormatOpt, WorkspaceOpt, app
from journeylens.errors import InputError

CohortOpt = Annotated[
    str | None,
    typer.Option(
        "--cohort",
        help="builtin (RFM: prospect, first-time, occasional, loyal[, lapsed]) | trait:NAME | "
        "trait:NAME=VALUE | did:channel=VALUE[:30d][:2x] | did:touchpoint=VALUE[:30d][:2x]. "
        "Default: builtin.",
    ),
]
MetricOpt = Annotated[
    list[str] | None,
    typer.Option("--metric", "-m", help="Metric to compare (repeatable); default success, leakage, "
                 "duration_s, cost_to_serve."),
]  # fmt: skip
BaselineOpt = Annotated[
    str,
    typer.Option(help="rest (each segment vs all others), first, pairs (every pair), or a segment name."),
]
PeriodOpt = Annotated[str | None, typer.Option(help="START:END (dates, end exclusive) or START..END.")]


@app.command()
def segments(
    cohort: CohortOpt = None,
    metric: MetricOpt = None,
    baseline: BaselineOpt = "rest",
    period_a: Annotated[str | None, typer.Option("--period-a", help="Baseline period: START:END.")] = None,
    period_b: PeriodOpt = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Reference date of the cohorts (default: latest event).")
    ] = None,
    purchases: Annotated[
        str,
        typer.Option(
            help="builtin: what is a purchase — journeys (successful purchase journeys) "
            "or events (value > 0)."
        ),
    ] = "journeys",
    purchase_type: Annotated[
        list[str] | None, typer.Option("--purchase-type", help="builtin: purchase journey type(s).")
    ] = None,
    loyal_min: Annotated[int, typer.Option(help="builtin: purchases a loyal customer has at least.")] = 3,
    loyal_days: Annotated[int, typer.Option(help="builtin: a loyal customer bought within these days.")] = 90,
    lapsed_days: Annotated[
        int | None, typer.Option(help="builtin: purchasers silent for longer are lapsed (default: off).")
    ] = None,
    journey_type: TypeOpt = None,
    segment: SegmentOpt = None,
    channel: ChannelOpt = None,
    outcome: OutcomeOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    where: WhereOpt = None,
    workspace: WorkspaceOpt = Path("."),
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Journey metrics side by side per segment (or for two periods): 95% intervals, a test, p and
    Benjamini-Hochberg q.

    Rates (success, abandoned, leakage, first_contact_resolution, repeat_contact, repeat_journey)
    use Wilson intervals and a two-proportion z test (Fisher's exact test when an expected count
    is below 5); means (duration_s, touchpoints, channel_switches, cost_to_serve, value) use t
    intervals and Welch's t test.

    Built-in segments, first rule that holds: prospect (no purchase), lapsed (last purchase more
    than --lapsed-days ago, when set), first-time (one purchase), loyal (at least --loyal-min
    purchases, the last within --loyal-days), occasional (the rest). Days count back from the
    reference date: the latest event, or --as-of. did:channel=chat:30d:2x means at least two chat
    events in the 30 days up to the reference date.
    """
    from journeylens.discovery._compare import DEFAULT_METRICS
    from journeylens.discovery.periods import TimeRange, compare_periods
    from journeylens.discovery.segments import (
        BuiltinCohort,
        RfmRules,
        SegmentComparisonSpec,
        compare_segments,
        parse_cohort,
    )
    from journeylens.workspace import Workspace

    flt = journey_filter(journey_type, segment, channel, outcome, since, until, where)
    metrics = metric or list(DEFAULT_METRICS)
    if period_a is not None or period_b is not None:
        if period_a is None or period_b is None:
            raise InputError(
                "Comparing periods needs both --period-a and --period-b.",
                hint="e.g. --period-a 2024-01-01:2024-02-01 --period-b 2024-02-01:2024-03-01",
            )
        if cohort is not None:
            raise InputError(
                "Give either --cohort or two periods, not both.",
                hint="Filter the journeys with --segment to compare periods within a segment.",
            )
        a, b = TimeRange.parse(period_a, "--period-a"), TimeRange.parse(period_b, "--period-b")
        ws = Workspace.open(workspace)
        try:
            result = compare_periods(ws.store, metrics, a, b, flt)
        finally:
            ws.close()
    else:
        chosen = parse_cohort(cohort or "builtin")
        rules = _rules(purchases, purchase_type, loyal_min, loyal_days, lapsed_days)
        if isinstance(chosen, BuiltinCohort):
            chosen = BuiltinCohort(rules=rules)
        elif rules != RfmRules():
            raise InputError(
                "--purchases, --purchase-type, --loyal-min, --loyal-days and --lapsed-days "
                "apply to --cohort builtin only.",
                hint="Drop them, or use --cohort builtin.",
            )
        spec = SegmentComparisonSpec(
            cohort=chosen, metrics=metrics, baseline=baseline, filter=flt, as_of=_as_of(as_of)
        )
        ws = Workspace.open(workspace)
        try:
            result = compare_segments(ws.store, spec)
        finally:
            ws.close()
    if render_machine(result, fmt):
        return
    what = result.context.get("cohort") or f"{result.context['period_a']} vs {result.context['period_b']}"
    render(result.groups, fmt, title=f"Groups ({what})")
    title = "value [95% CI] n/d; diff vs baseline [95% CI]; test, p, q (Benjamini-Hochberg)"
    render([_compact(row, result.dimension) for row in result.records()], fmt, title=title)
    if "reference_date" in result.context:
        when = result.context["reference_date"]
        err_console.print(f"Reference date of the cohort: {when:%Y-%m-%d %H:%M} UTC", style="dim")


def _rules(
    purchases: str, types: list[str] | None, loyal_min: int, loyal_days: int, lapsed_days: int | None
) -> Any:
    from journeylens.discovery.segments import PurchaseSource, RfmRules

    try:
        source = PurchaseSource(purchases)
    except ValueError:
        raise InputError.unknown_choice("--purchases", purchases, [p.value for p in PurchaseSource]) from None
    try:
        return RfmRules(
            purchases=source, purchase_types=types or ["purchase"], loyal_min_purchases=loyal_min,
            loyal_within_days=loyal_days, lapsed_after_days=lapsed_days,
        )  # fmt: skip
    except ValidationError as exc:
        problem = "; ".join(
            (f"{_RULE_FLAGS.get(str(e['loc'][0]), e['loc'][0])}: " if e["loc"] else "")
            + str(e["msg"]).removeprefix("Value error, ")
            for e in exc.errors()
        )
        raise InputError(
            f"Invalid segment rules: {problem}.", hint="See `journeylens segments --help`."
        ) from None


_RULE_FLAGS = {
    "loyal_min_purchases": "--loyal-min", "loyal_within_days": "--loyal-days",
    "lapsed_after_days": "--lapsed-days", "purchase_types": "--purchase-type",
}  # fmt: skip


def _as_of(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InputError.bad_flag(
            "--as-of", value, "not an ISO date or date-time.", hint="e.g. 2024-03-01"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _compact(row: dict[str, Any], dimension: str) -> dict[str, Any]:
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
    return "-" if value is None else (f"{value:+.1%}" if signed else f"{value:.1%}")


def _num(value: float | None, signed: bool = False) -> str:
    return "-" if value is None else (f"{value:+,.2f}" if signed else f"{value:,.2f}")


def _ci(lo: float | None, hi: float | None, show: Any) -> str:
    return "" if lo is None or hi is None else f" [{show(lo)}, {show(hi)}]"


def _p(value: float | None) -> str:
    if value is None:
        return ""
    return "<0.001" if value < 0.001 else f"{value:.3f}"
