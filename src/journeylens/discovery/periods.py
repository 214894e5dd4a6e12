"""Two periods side by side: journey metrics of period B against period A.

Journeys belong to the period their ``start`` falls in (start inclusive, end exclusive, UTC);
periods may not overlap (a journey would count twice) and each must contain selected journeys.
The statistics are those of :mod:`journeylens.discovery.segments` (Wilson and Newcombe intervals,
z or Fisher test for rates, Welch for means, Benjamini-Hochberg over the metrics).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence

import ibis
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from journeylens.discovery._compare import (
    DEFAULT_METRICS,
    GROUP,
    SegmentComparison,
    aggregate,
    comparison_rows,
    plan_for,
    resolve_metrics,
    selected_journeys,
    utc_literal,
)
from journeylens.discovery.selection import JourneyFilter
from journeylens.errors import InputError
from journeylens.store import Store


class TimeRange(BaseModel):
    """A period of journey starts: ``start`` inclusive, ``end`` exclusive (UTC if naive)."""

    model_config = ConfigDict(extra="forbid")

    start: _dt.datetime
    end: _dt.datetime

    @model_validator(mode="after")
    def _ordered(self) -> TimeRange:
        self.start, self.end = _aware(self.start), _aware(self.end)
        if self.start >= self.end:
            raise ValueError(
                f"period {self.label()} is reversed or empty: its start must come before its end"
            )
        return self

    @classmethod
    def parse(cls, text: str, flag: str = "period") -> TimeRange:
        """``2024-01-01:2024-02-01`` (dates) or ``START..END`` (ISO date-times); end exclusive.

        Example:
            >>> TimeRange.parse("2024-01-01:2024-02-01").label()
            '2024-01-01..2024-02-01'
        """
        start, _, end = text.partition("..") if ".." in text else text.partition(":")
        hint = "Write 2024-01-01:2024-02-01 (end exclusive) or 2024-01-01T08:00..2024-01-02T08:00."
        try:
            bounds = _dt.datetime.fromisoformat(start.strip()), _dt.datetime.fromisoformat(end.strip())
        except ValueError:
            raise InputError.bad_flag(
                flag, text, "not a period: expected START:END (ISO dates).", hint=hint
            ) from None
        try:
            return cls(start=bounds[0], end=bounds[1])
        except ValidationError as exc:
            raise InputError.bad_flag(flag, text, _problem(exc) + ".", hint=hint) from None

    def overlaps(self, other: TimeRange) -> bool:
        return self.start < other.end and other.start < self.end

    def label(self) -> str:
        def show(moment: _dt.datetime) -> str:
            return moment.strftime("%Y-%m-%d" if moment.time() == _dt.time() else "%Y-%m-%dT%H:%M")

        return f"{show(self.start)}..{show(self.end)}"


def _aware(moment: _dt.datetime) -> _dt.datetime:
    return moment.astimezone(_dt.UTC) if moment.tzinfo else moment.replace(tzinfo=_dt.UTC)


class PeriodComparisonSpec(BaseModel):
    """Journey metrics in period B against period A (journeys by their start)."""

    model_config = ConfigDict(extra="forbid")

    metrics: list[str] = Field(default_factory=lambda: list(DEFAULT_METRICS))
    period_a: TimeRange
    period_b: TimeRange
    filter: JourneyFilter = Field(default_factory=JourneyFilter)

    @model_validator(mode="after")
    def _apart(self) -> PeriodComparisonSpec:
        if self.period_a.overlaps(self.period_b):
            raise ValueError(
                f"periods {self.period_a.label()} and {self.period_b.label()} overlap; a journey "
                "would count in both"
            )
        return self


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
    resolved = resolve_metrics(spec.metrics)
    journeys = selected_journeys(store, spec.filter)
    a, b = spec.period_a, spec.period_b
    start = journeys.start
    group = ibis.cases(
        ((start >= utc_literal(a.start)) & (start < utc_literal(a.end)), a.label()),
        ((start >= utc_literal(b.start)) & (start < utc_literal(b.end)), b.label()),
        else_=ibis.null("string"),
    )
    grouped = journeys.mutate(**{GROUP: group}).filter(lambda t: t[GROUP].notnull())
    stats_by, sizes = aggregate(store, grouped, resolved)
    for period, flag in ((a, "--period-a"), (b, "--period-b")):
        if period.label() not in stats_by:
            raise InputError(
                f"No selected journey starts in {flag} {period.label()} (filter: {spec.filter.describe()}).",
                hint="`journeylens journeys summary --by period` shows the months with journeys.",
            )
    plan = plan_for([a.label(), b.label()], a.label())
    rows = comparison_rows("period", plan, resolved, stats_by)
    groups = [{"period": p.label(), **sizes[p.label()]} for p in (a, b)]
    context = {"period_a": a.label(), "period_b": b.label(), "baseline": a.label(),
               "filter": spec.filter.describe()}  # fmt: skip
    return SegmentComparison(pa.Table.from_pylist(rows), "period", groups, context)


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
            flag, f"{start}..{end}", _problem(exc), hint="The end must come after the start."
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
            f"Cannot compare these periods: {_problem(exc)}.",
            hint="Give two periods that do not overlap, e.g. two consecutive months.",
        ) from None


def _problem(exc: ValidationError) -> str:
    return "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
