"""Side-by-side comparisons: metrics, their statistics, and the result object.

Each metric (:data:`METRICS`) is a rate — reusing the outcome rates and named denominators of
``journeys/summary.py`` — or a per-journey mean. The engine aggregates each group to sufficient
statistics — a :class:`Proportion` (successes, trials) for a rate, :class:`Moments` (count, mean,
sum of squared deviations) for a mean — and only those few rows reach Python, where pairs of
them become intervals and tests (``discovery/_stats.py``: Wilson and Newcombe intervals, z or
Fisher tests for rates, Welch for means, Benjamini-Hochberg q-values). Groups merge exactly
(``a + b``), so "one segment against the rest" needs no second query: the rest is the sum of the
other groups.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa

from journeylens.discovery._result import TableResult
from journeylens.discovery._stats import (
    NO_TEST,
    Moments,
    Proportion,
    Test,
    benjamini_hochberg,
    compare_means,
    compare_proportions,
)
from journeylens.discovery.selection import EmptySelectionError, JourneyFilter, select_journeys
from journeylens.errors import InputError
from journeylens.journeys.summary import DENOMINATORS, _rates, rate_reason
from journeylens.journeys.undefined import COST_REASON, NO_CONTACT_REASON, OUTCOME_METRICS, outcome_reason
from journeylens.store import Store

if TYPE_CHECKING:
    import plotly.graph_objects as go

_UTC = dt.Timestamp(timezone="UTC")


# --- metrics -----------------------------------------------------------------------------------

Stat = Proportion | Moments


@dataclass(frozen=True)
class RateMetric:
    """A share of journeys: numerator and named denominator as in ``journeys summary``."""

    name: str
    about: str
    kind: str = "rate"

    @property
    def undefined(self) -> str:
        """Why the rate has no value in a group without a denominator."""
        if self.name in OUTCOME_METRICS:
            return outcome_reason()
        return rate_reason(self.name, 0, 0, []) or ""

    def aggregations(self, j: ir.Table) -> dict[str, ir.Value]:
        num, den = next((n, d) for name, n, d in _rates(j) if name == self.name)
        return {
            f"{self.name}__n": (num & den).cast("int64").sum(),
            f"{self.name}__d": den.cast("int64").sum(),
        }

    def statistic(self, row: dict[str, Any]) -> Proportion:
        return Proportion(int(row[f"{self.name}__n"] or 0), int(row[f"{self.name}__d"] or 0))


@dataclass(frozen=True)
class PurchaseMetric(RateMetric):
    """The share of journeys with a purchase: money attached (``value > 0``), over all journeys."""

    def aggregations(self, j: ir.Table) -> dict[str, ir.Value]:
        return {f"{self.name}__n": (j.value.fill_null(0.0) > 0).cast("int64").sum(),
                f"{self.name}__d": j.count()}  # fmt: skip


@dataclass(frozen=True)
class MeanMetric:
    """A mean of a column: per journey (a ``journeys`` column), or per customer (``per="customer"``:
    a column of :func:`~journeylens.discovery.segments.rfm_segments`, once for each customer of the
    group). NULL counts as ``fill`` when given."""

    name: str
    about: str
    fill: float | None = None
    kind: str = "mean"
    reason: str = "no journey in this group has a value"
    per: str = "journey"

    @property
    def undefined(self) -> str:
        """Why the mean has no value in a group without values."""
        return self.reason

    def aggregations(self, j: ir.Table) -> dict[str, ir.Value]:
        column = j[self.name].cast("float64")
        if self.fill is not None:
            column = column.fill_null(self.fill)
        return {
            f"{self.name}__count": column.count(),
            f"{self.name}__mean": column.mean(),
            f"{self.name}__var": column.var(how="sample"),
        }

    def statistic(self, row: dict[str, Any]) -> Moments:
        count = int(row[f"{self.name}__count"] or 0)
        return Moments.of(count, row[f"{self.name}__mean"], row[f"{self.name}__var"])


Metric = RateMetric | MeanMetric
METRICS: dict[str, Metric] = {
    **{name: RateMetric(name, f"share of {about}") for name, about in DENOMINATORS.items()},
    "duration_s": MeanMetric("duration_s", "seconds from first to last event, per journey"),
    "touchpoints": MeanMetric("touchpoints", "events per journey"),
    "channel_switches": MeanMetric("channel_switches", "channel changes per journey"),
    "cost_to_serve": MeanMetric("cost_to_serve", "cost to serve per journey", reason=COST_REASON),
    "value": MeanMetric("value", "money per journey (none counts as 0)", fill=0.0),
    "purchases": PurchaseMetric("purchases", "share of journeys with a purchase (value > 0)"),
    "frequency": MeanMetric("frequency", "purchases per customer up to the reference date", per="customer"),
    "recency_days": MeanMetric(
        "recency_days", "days from a customer's last purchase to the reference date", per="customer"
    ),
}
#: Metrics read once per customer (segments only: a period has no one customer set).
CUSTOMER_METRICS = tuple(name for name, m in METRICS.items() if getattr(m, "per", "journey") == "customer")


def resolve_metrics(names: Sequence[str]) -> list[Metric]:
    """The metrics named, in order, without repeats; an unknown name lists the known ones."""
    if not names:
        raise InputError("No metric to compare.", hint=f"Name one or more of {', '.join(METRICS)}.")
    for name in names:
        if name not in METRICS:
            raise InputError.unknown_choice("metric", name, list(METRICS))
    return [METRICS[name] for name in dict.fromkeys(names)]


def compare(a: Stat, b: Stat) -> Test:
    """Compare two groups' statistics of the same metric."""
    if isinstance(a, Proportion) and isinstance(b, Proportion):
        return compare_proportions(a, b)
    if isinstance(a, Moments) and isinstance(b, Moments):
        return compare_means(a, b)
    raise TypeError(f"cannot compare {type(a).__name__} with {type(b).__name__}")


def total(parts: Sequence[Stat]) -> Stat:
    """The statistic of several groups together (the "rest")."""
    it = iter(parts)
    acc = next(it)
    for part in it:
        acc = acc + part  # type: ignore[operator]
    return acc


# --- groups, plans, rows and the result ---------------------------------------------------------

GROUP = "_group"
Plan = list[tuple[str, str | None, list[str]]]
"""(group, baseline label, groups that make up the baseline); no baseline: the level alone."""
BASELINES = ("rest", "first", "pairs")


def utc_literal(moment: _dt.datetime) -> ir.TimestampValue:
    """A timestamp literal that means the same instant whatever the engine's session zone."""
    moment = moment if moment.tzinfo else moment.replace(tzinfo=_dt.UTC)
    value: ir.TimestampValue = ibis.literal(moment.astimezone(_dt.UTC), type=_UTC)
    return value


def selected_journeys(store: Store, flt: JourneyFilter) -> ir.Table:
    journeys = select_journeys(store, flt)
    if int(store.execute(journeys.count()).as_py()) == 0:
        raise EmptySelectionError.for_filter(flt)
    return journeys


def aggregate(
    store: Store, grouped: ir.Table, metrics: Sequence[Metric]
) -> tuple[dict[str, dict[str, Stat]], dict[str, dict[str, int]]]:
    """One Ibis aggregation over journeys with a ``_group`` column: each group's statistics and
    its size (customers, journeys). Only these few rows reach Python."""
    aggs: dict[str, ir.Value] = {"journeys": grouped.count(), "customers": grouped.customer_id.nunique()}
    for metric in metrics:
        aggs.update(metric.aggregations(grouped))
    leakage = any(m.name == "leakage" for m in metrics)
    if leakage:
        aggs["_contacts"] = grouped.assisted_contacts.sum()
    rows = store.execute(grouped.group_by(GROUP).agg(**aggs)).to_pylist()
    stats_by = {row[GROUP]: {m.name: m.statistic(row) for m in metrics} for row in rows}
    if leakage and not any(row["_contacts"] for row in rows):
        # Digital journeys, but no contact anywhere in the selection: none could have leaked.
        for stats in stats_by.values():
            if isinstance(stats["leakage"], Proportion) and stats["leakage"].trials:
                stats["leakage"] = Proportion(0, 0, NO_CONTACT_REASON)
    sizes = {
        row[GROUP]: {"customers": int(row["customers"]), "journeys": int(row["journeys"])} for row in rows
    }
    return stats_by, sizes


def plan_for(order: Sequence[str], baseline: str) -> Plan:
    """Which group is compared with what.

    ``rest``: each group against all other journeys together (with exactly two groups: the first
    against the second, once); ``first``: each against the first group; ``pairs``: every pair
    (each group's own level first); any other value names the baseline group.
    """
    order = list(order)
    if baseline == "rest":
        if len(order) == 2:
            return [(order[0], order[1], [order[1]]), (order[1], None, [])]
        return [(g, "rest", [o for o in order if o != g]) for g in order]
    if baseline == "pairs":
        levels: Plan = [(g, None, []) for g in order]
        return levels + [(a, b, [b]) for i, a in enumerate(order) for b in order[i + 1 :]]
    anchor = order[0] if baseline == "first" else baseline
    return [(g, None, []) if g == anchor else (g, anchor, [anchor]) for g in order]


def comparison_rows(
    dimension: str, plan: Plan, metrics: Sequence[Metric], groups: dict[str, dict[str, Stat]]
) -> list[dict[str, Any]]:
    """One row per planned comparison and metric, with BH q-values over every test in the table."""
    rows: list[dict[str, Any]] = []
    for group, baseline, parts in plan:
        for metric in metrics:
            own = groups[group][metric.name]
            base = total([groups[p][metric.name] for p in parts]) if parts else None
            rows.append(_row(dimension, group, baseline, metric, own, base))
    qs = benjamini_hochberg([row["p"] for row in rows])
    for row, q in zip(rows, qs, strict=True):
        row["q"] = q
        row["significant"] = None if q is None else q < 0.05
    return rows


def _row(
    dimension: str, group: str, baseline: str | None, metric: Metric, own: Stat, base: Stat | None
) -> dict[str, Any]:
    lo, hi = own.interval()
    rate = isinstance(own, Proportion)
    test = compare(own, base) if base is not None else NO_TEST
    value = own.rate if isinstance(own, Proportion) else own.value
    return {
        dimension: group, "baseline": baseline, "metric": metric.name, "kind": metric.kind,
        "about": metric.about, "value": value,
        "reason": (_why(own) or metric.undefined) if value is None else None,
        "lo": lo, "hi": hi,
        "n": own.successes if isinstance(own, Proportion) else own.count,
        "d": own.trials if isinstance(own, Proportion) else None,
        "sd": None if rate else own.std,  # type: ignore[union-attr]
        "baseline_value": None if base is None else (
            base.rate if isinstance(base, Proportion) else base.value
        ),
        "diff": test.diff, "diff_lo": test.diff_lo, "diff_hi": test.diff_hi,
        "test": test.test, "statistic": test.statistic, "p": test.p,
    }  # fmt: skip


def undefined_row(dimension: str, metric: Metric, reason: str) -> dict[str, Any]:
    """The row of a metric no group defines (the groups themselves are not defined): ``None``
    everywhere but the metric and the reason."""
    row = _row(dimension, "", None, metric, Moments(0, 0.0, 0.0), None)
    return {**dict.fromkeys(row), dimension: None, "metric": metric.name, "kind": metric.kind,
            "about": metric.about, "reason": reason, "q": None, "significant": None}  # fmt: skip


def _why(stat: Stat) -> str | None:
    return stat.why if isinstance(stat, Proportion) else None


@dataclass(frozen=True)
class SegmentComparison(TableResult):
    """Metrics side by side for segments (or periods), with intervals, tests and q-values.

    ``table`` has one row per group, metric and baseline: ``value`` with its 95% interval
    (``lo``, ``hi``), ``n``/``d`` (numerator/denominator of a rate; ``n`` values of a mean, with
    ``sd``), and against ``baseline``: ``diff`` (group - baseline) with its interval, ``test``
    (``z``, ``fisher`` or ``welch``), ``statistic``, raw ``p``, Benjamini-Hochberg ``q`` over all
    tests of the table, and ``significant`` (q < 0.05). ``groups`` holds the sizes; the context
    says which ``metrics`` were compared and why (``metrics_reason``: "as asked", or what the
    data defines when no metric was named). A value the data does not define (no outcome
    criteria, no costs configured) is ``None`` with ``reason``. ``reason`` and ``hint`` on the
    result say why the comparison itself is not defined (no customers, no purchase for the
    built-in segments, or a ``did:`` cohort that matches no customer in its window: one group with
    segment ``None``; one segment only: its values, no test; a period without journeys: the other
    period's values, and ``None`` with ``reason`` for the empty one) and what would define it.
    """

    #: The JSON contract (docs/cli.md reads it): ``to_dict()`` keys, with the record fields.
    JSON_FIELDS: ClassVar[tuple[str, ...]] = (
        "cohort or periods, baseline, reference_date, filter",
        "metrics, metrics_reason",
        "purchases, purchases_reason (builtin cohort: events or journeys, and why; null when the "
        "data has no purchase)",
        "reason, hint (set when the comparison is not defined for this data: why, and the setting "
        "that would define it)",
        "dimension",
        "groups (records: segment, members, customers, journeys)",
        "rows (records: segment, baseline, metric, kind, about, value, reason, lo, hi, n, d, sd, "
        "baseline_value, diff, diff_lo, diff_hi, test, statistic, p, q, significant)",
    )

    dimension: str = "segment"
    groups: list[dict[str, Any]] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    hint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**self.context, "reason": self.reason, "hint": self.hint, "dimension": self.dimension,
                "groups": self.groups, "rows": self.records()}  # fmt: skip

    def groups_arrow(self) -> pa.Table:
        return pa.Table.from_pylist(self.groups)

    def plot(self) -> go.Figure:
        """One bar chart per metric: each group's value with its 95% interval as error bars."""
        from plotly.subplots import make_subplots

        rows = self.records()
        # A metric the data does not define (every value None, see ``reason``) gets no empty panel.
        metrics = list(dict.fromkeys(row["metric"] for row in rows if row["value"] is not None))
        fig = make_subplots(rows=1, cols=max(len(metrics), 1), subplot_titles=metrics)
        for col, metric in enumerate(metrics, start=1):
            seen: dict[str, dict[str, Any]] = {}
            for row in rows:
                if row["metric"] == metric:
                    seen.setdefault(row[self.dimension], row)
            bars = list(seen.values())
            fig.add_bar(
                x=[r[self.dimension] for r in bars],
                y=[r["value"] for r in bars],
                error_y={
                    "type": "data",
                    "array": [_gap(r["hi"], r["value"]) for r in bars],
                    "arrayminus": [_gap(r["value"], r["lo"]) for r in bars],
                },
                text=["*" if r["significant"] else "" for r in bars],
                name=metric,
                showlegend=False,
                row=1,
                col=col,
            )
        fig.update_layout(title=f"By {self.dimension}: value and 95% interval (* q < 0.05 vs baseline)")
        return fig

    def _repr_html_(self) -> str:
        sizes: str = self.groups_arrow().to_pandas().to_html(index=False)
        return sizes + super()._repr_html_()


def _gap(a: float | None, b: float | None) -> float:
    return 0.0 if a is None or b is None else a - b
