"""Two periods side by side: journey metrics of period B against period A.

Journeys belong to the period their ``start`` falls in (start inclusive, end exclusive, UTC);
periods may not overlap (a journey would count twice). A period without selected journeys is no
error: the other period's values are given, and ``reason`` and ``hint`` say there is nothing to
compare them with and how to pick periods that contain journeys.
The statistics are those of :mod:`journeylens.discovery.segments` (Wilson and Newcombe intervals,
z or Fisher test for rates, Welch for means, Benjamini-Hochberg over the metrics).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence

import ibis
import pyarrow as pa
from pydantic import ValidationError

from journeylens.discovery._compare import (
    CUSTOMER_METRICS,
    GROUP,
    SegmentComparison,
    aggregate,
    comparison_rows,
    plan_for,
    resolve_metrics,
    selected_journeys,
    undefined_row,
    utc_literal,
)
from journeylens.discovery._default_metrics import default_metrics
from journeylens.errors import InputError
from journeylens.journeys.definitions import JourneyRules
from journeylens.specs.comparison import PeriodComparisonSpec, TimeRange, problem_text
from journeylens.specs.discovery import JourneyFilter
from journeylens.store import Store

PeriodLike = TimeRange | tuple[_dt.datetime | _dt.date | str, _dt.datetime | _dt.date | str] | str


def compare_periods(
    store: Store,
    metric: str | Sequence[str],
    period_a: PeriodLike,
    period_b: PeriodLike,
    flt: JourneyFilter | None = None,
) -> SegmentComparison:
    """Journey metrics of period B against period A (the baseline), with intervals and tests.

    Example:
        >>> r = compare_periods(ws.store, "success", ("2024-01-01", "2024-02-01"),
        ...                     "2024-02-01:2024-03-01")  # doctest: +SKIP
        >>> r.to_pandas()[["period", "value", "diff", "p"]]  # doctest: +SKIP
    """
    metrics = [metric] if isinstance(metric, str) else list(metric)
    spec = _period_spec(metrics, _range(period_a, "period_a"), _range(period_b, "period_b"), flt)
    return period_comparison(store, spec)


def period_comparison(
    store: Store, spec: PeriodComparisonSpec, *, rules: JourneyRules | None = None
) -> SegmentComparison:
    """:func:`compare_periods` for a ready :class:`PeriodComparisonSpec` (what every surface builds).

    Example:
        >>> spec = PeriodComparisonSpec(period_a="2024-01-01:2024-02-01", period_b="2024-02-01:2024-03-01")
        >>> period_comparison(ws.store, spec).groups  # doctest: +SKIP
    """
    journeys = selected_journeys(store, spec.filter)
    names, why = (
        (spec.metrics, "as asked")
        if spec.metrics
        else default_metrics(store, spec.filter, rules, per_customer=False)
    )
    resolved = resolve_metrics(names)
    per_customer = [m.name for m in resolved if m.name in CUSTOMER_METRICS]
    if per_customer:
        raise InputError(
            f"{', '.join(per_customer)} are per customer, and a customer is not in one period.",
            hint="Compare them between segments (--cohort), or compare periods on journey metrics.",
        )
    a, b = spec.period_a, spec.period_b
    start = journeys.start
    group = ibis.cases(
        ((start >= utc_literal(a.start)) & (start < utc_literal(a.end)), a.label()),
        ((start >= utc_literal(b.start)) & (start < utc_literal(b.end)), b.label()),
        else_=ibis.null("string"),
    )
    grouped = journeys.mutate(**{GROUP: group}).filter(lambda t: t[GROUP].notnull())
    stats_by, sizes = aggregate(store, grouped, resolved)
    labels = [a.label(), b.label()]
    present = [p for p in labels if p in stats_by]
    context = {"period_a": a.label(), "period_b": b.label(), "baseline": a.label(),
               "filter": spec.filter.describe(), "metrics": [m.name for m in resolved],
               "metrics_reason": why}  # fmt: skip
    empty = {"customers": 0, "journeys": 0}
    groups = [{"period": p, **sizes.get(p, empty)} for p in labels]
    reason, hint = _empty_periods(a, b, present, spec.filter.describe())
    plan = plan_for(labels, a.label()) if len(present) == 2 else [(p, None, []) for p in present]
    rows = comparison_rows("period", plan, resolved, stats_by) if present else []
    # The period without journeys: each value None with the reason, never a zero.
    rows += [{**undefined_row("period", m, reason or ""), "period": p} for p in labels if p not in present
             for m in resolved]  # fmt: skip
    return SegmentComparison(pa.Table.from_pylist(rows), "period", groups, context, reason, hint)


def _empty_periods(
    a: TimeRange, b: TimeRange, present: list[str], described: str
) -> tuple[str | None, str | None]:
    """Why the comparison is not defined when a period has no selected journey, and the fix."""
    missing = [f"{flag} {p.label()}" for p, flag in ((a, "--period-a"), (b, "--period-b"))
               if p.label() not in present]  # fmt: skip
    if not missing:
        return None, None
    also = "" if present else "; no period has values"
    reason = (
        f"no selected journey starts in {' or '.join(missing)} (filter: {described}), so there is "
        f"nothing to compare{also}"
    )
    hint = (
        "Pick periods that contain journeys (`journeylens journeys summary --by period` shows the "
        "months with journeys), or loosen the filter."
    )
    return reason, hint


def _range(value: PeriodLike, flag: str) -> TimeRange:
    if isinstance(value, TimeRange):
        return value
    if isinstance(value, str):
        return TimeRange.parse(value, flag)
    start, end = (_dt.datetime.fromisoformat(v) if isinstance(v, str) else v for v in value)
    try:
        return TimeRange(start=_as_datetime(start), end=_as_datetime(end))
    except ValidationError as exc:
        raise InputError.bad_flag(
            flag, f"{start}..{end}", problem_text(exc), hint="The end must come after the start."
        ) from None


def _as_datetime(value: _dt.datetime | _dt.date) -> _dt.datetime:
    return value if isinstance(value, _dt.datetime) else _dt.datetime.combine(value, _dt.time())


def _period_spec(
    metrics: list[str], a: TimeRange, b: TimeRange, flt: JourneyFilter | None
) -> PeriodComparisonSpec:
    try:
        return PeriodComparisonSpec(metrics=metrics, period_a=a, period_b=b, filter=flt or JourneyFilter())
    except ValidationError as exc:
        raise InputError(
            f"Cannot compare these periods: {problem_text(exc)}.",
            hint="Give two periods that do not overlap, e.g. two consecutive months.",
        ) from None
