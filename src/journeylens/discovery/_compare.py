"""Side-by-side comparisons: metrics, their statistics, and the result object.

Each metric (:data:`METRICS`) is a rate — reusing the outcome rates and named denominators of
``journeys/summary.py`` — or a per-journey mean. The engine aggregates each group to sufficient
statistics — a :class:`Proportion` (successes, trials) for a rate, :class:`Moments` (count, mean,
sum of squared deviations) for a mean — and only those few rows reach Python, where pairs of
them become intervals and tests:

- a rate: 95% Wilson score interval; the difference of two rates gets Newcombe's hybrid score
  interval (built from the two Wilson intervals); the test is the pooled two-proportion z test,
  or Fisher's exact test when an expected cell of the 2x2 table is below 5 (Cochran's rule),
  where the normal approximation is poor;
- a mean: Student t interval; two means are compared with Welch's t test (unequal variances,
  Welch-Satterthwaite degrees of freedom) and its interval for the difference;
- many comparisons at once: Benjamini-Hochberg q-values (false discovery rate).

Groups are merged exactly (``a + b``): counts add, and moments combine with Chan's parallel
formula, which stays accurate where "sum of squares minus square of sums" loses digits. So "one
segment against the rest" needs no second query: the rest is the sum of the other groups.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa

from journeylens.discovery._result import TableResult
from journeylens.discovery.selection import EmptySelectionError, JourneyFilter, select_journeys
from journeylens.errors import InputError
from journeylens.journeys.summary import DENOMINATORS, _rates, wilson
from journeylens.store import Store

if TYPE_CHECKING:
    import plotly.graph_objects as go

_UTC = dt.Timestamp(timezone="UTC")
CONFIDENCE = 0.95
MIN_EXPECTED = 5.0


@dataclass(frozen=True)
class Proportion:
    """``successes`` out of ``trials`` (the rate's numerator and named denominator)."""

    successes: int
    trials: int

    def __add__(self, other: Proportion) -> Proportion:
        return Proportion(self.successes + other.successes, self.trials + other.trials)

    @property
    def rate(self) -> float | None:
        return self.successes / self.trials if self.trials else None

    def interval(self) -> tuple[float | None, float | None]:
        """95% Wilson score interval (None, None without trials)."""
        return wilson(self.successes, self.trials)


@dataclass(frozen=True)
class Moments:
    """Count, mean and sum of squared deviations from the mean (``m2``) of one group's values."""

    count: int
    mean: float
    m2: float

    @classmethod
    def of(cls, count: int, mean: float | None, variance: float | None) -> Moments:
        """From the engine's count, mean and sample variance (NULL variance: a single value)."""
        if count == 0 or mean is None:
            return cls(0, 0.0, 0.0)
        m2 = (variance or 0.0) * (count - 1) if count > 1 else 0.0
        return cls(count, float(mean), max(m2, 0.0))

    def __add__(self, other: Moments) -> Moments:
        if self.count == 0:
            return other
        if other.count == 0:
            return self
        count = self.count + other.count
        delta = other.mean - self.mean
        mean = self.mean + delta * other.count / count
        m2 = self.m2 + other.m2 + delta * delta * self.count * other.count / count
        return Moments(count, mean, m2)

    @property
    def variance(self) -> float | None:
        """Sample variance (n - 1 in the denominator); None below two values."""
        return self.m2 / (self.count - 1) if self.count > 1 else None

    @property
    def std(self) -> float | None:
        var = self.variance
        return math.sqrt(var) if var is not None else None

    @property
    def value(self) -> float | None:
        return self.mean if self.count else None

    def interval(self) -> tuple[float | None, float | None]:
        """95% Student t interval of the mean (None, None below two values)."""
        var = self.variance
        if var is None:
            return None, None
        half = _t_quantile(self.count - 1) * math.sqrt(var / self.count)
        return self.mean - half, self.mean + half


@dataclass(frozen=True)
class Test:
    """A comparison of group ``a`` with baseline ``b``: difference a - b, its interval, a test."""

    test: str | None
    diff: float | None = None
    diff_lo: float | None = None
    diff_hi: float | None = None
    statistic: float | None = None
    p: float | None = None


NO_TEST = Test(None)


def compare_proportions(a: Proportion, b: Proportion) -> Test:
    """Difference of two rates with Newcombe's interval; z test, or Fisher's exact test if small.

    Example:
        >>> compare_proportions(Proportion(40, 100), Proportion(25, 100)).test
        'z'
    """
    if a.trials == 0 or b.trials == 0:
        return NO_TEST
    p1, p2 = a.successes / a.trials, b.successes / b.trials
    (l1, u1), (l2, u2) = a.interval(), b.interval()
    assert l1 is not None and u1 is not None and l2 is not None and u2 is not None
    diff = p1 - p2
    lo = diff - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    hi = diff + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    pooled = (a.successes + b.successes) / (a.trials + b.trials)
    smallest = min(a.trials, b.trials) * min(pooled, 1 - pooled)
    if smallest < MIN_EXPECTED:
        table = [[a.successes, a.trials - a.successes], [b.successes, b.trials - b.successes]]
        from scipy import stats  # imported on use: scipy.stats costs a second at CLI start-up

        p_exact = float(stats.fisher_exact(table, alternative="two-sided").pvalue)
        return Test("fisher", diff, lo, hi, None, min(p_exact, 1.0))
    se = math.sqrt(pooled * (1 - pooled) * (1 / a.trials + 1 / b.trials))
    z = diff / se
    return Test("z", diff, lo, hi, z, 2 * _normal_sf(abs(z)))


def compare_means(a: Moments, b: Moments) -> Test:
    """Difference of two means with Welch's t test and its 95% interval.

    No test when a group has fewer than two values, or when both have no spread at all.

    Example:
        >>> compare_means(Moments(10, 5.0, 18.0), Moments(12, 4.0, 22.0)).test
        'welch'
    """
    va, vb = a.variance, b.variance
    if va is None or vb is None:
        return NO_TEST
    diff = a.mean - b.mean
    sa, sb = va / a.count, vb / b.count
    se = math.sqrt(sa + sb)
    if se == 0.0:
        return Test(None, diff)
    df = (sa + sb) ** 2 / (sa * sa / (a.count - 1) + sb * sb / (b.count - 1))
    t = diff / se
    half = _t_quantile(df) * se
    from scipy import stats

    return Test("welch", diff, diff - half, diff + half, t, float(2 * stats.t.sf(abs(t), df)))


def benjamini_hochberg(p_values: Sequence[float | None]) -> list[float | None]:
    """Benjamini-Hochberg adjusted p-values (q-values); None where no test ran.

    The family is the p-values given (None entries are not tests and do not count).

    Example:
        >>> benjamini_hochberg([0.01, 0.04, None, 0.03])
        [0.03, 0.04, None, 0.04]
    """
    tested = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    m = len(tested)
    out: list[float | None] = [None] * len(p_values)
    running = 1.0
    for rank in range(m, 0, -1):
        p, index = tested[rank - 1]
        running = min(running, p * m / rank)
        out[index] = min(running, 1.0)
    return out


def _t_quantile(df: float) -> float:
    from scipy import stats

    return float(stats.t.ppf(0.5 + CONFIDENCE / 2, df))


def _normal_sf(z: float) -> float:
    """Upper tail of the standard normal (erfc keeps precision far out in the tail)."""
    return 0.5 * math.erfc(z / math.sqrt(2))


# --- metrics -----------------------------------------------------------------------------------

Stat = Proportion | Moments


@dataclass(frozen=True)
class RateMetric:
    """A share of journeys: numerator and named denominator as in ``journeys summary``."""

    name: str
    about: str
    kind: str = "rate"

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
    per: str = "journey"

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
    "cost_to_serve": MeanMetric("cost_to_serve", "cost to serve per journey"),
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
    rows = store.execute(grouped.group_by(GROUP).agg(**aggs)).to_pylist()
    stats_by = {row[GROUP]: {m.name: m.statistic(row) for m in metrics} for row in rows}
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
    return {
        dimension: group, "baseline": baseline, "metric": metric.name, "kind": metric.kind,
        "about": metric.about, "value": own.rate if isinstance(own, Proportion) else own.value,
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


@dataclass(frozen=True)
class SegmentComparison(TableResult):
    """Metrics side by side for segments (or periods), with intervals, tests and q-values.

    ``table`` has one row per group, metric and baseline: ``value`` with its 95% interval
    (``lo``, ``hi``), ``n``/``d`` (numerator/denominator of a rate; ``n`` values of a mean, with
    ``sd``), and against ``baseline``: ``diff`` (group - baseline) with its interval, ``test``
    (``z``, ``fisher`` or ``welch``), ``statistic``, raw ``p``, Benjamini-Hochberg ``q`` over all
    tests of the table, and ``significant`` (q < 0.05). ``groups`` holds the sizes; the context
    says which ``metrics`` were compared and why (``metrics_reason``: "as asked", or what the
    data defines when no metric was named).
    """

    #: The JSON contract (docs/cli.md reads it): ``to_dict()`` keys, with the record fields.
    JSON_FIELDS: ClassVar[tuple[str, ...]] = (
        "cohort or periods, baseline, reference_date, filter",
        "metrics, metrics_reason",
        "dimension",
        "groups (records: segment, members, customers, journeys)",
        "rows (records: segment, baseline, metric, kind, about, value, lo, hi, n, d, sd, "
        "baseline_value, diff, diff_lo, diff_hi, test, statistic, p, q, significant)",
    )

    dimension: str = "segment"
    groups: list[dict[str, Any]] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**self.context, "dimension": self.dimension, "groups": self.groups, "rows": self.records()}

    def groups_arrow(self) -> pa.Table:
        return pa.Table.from_pylist(self.groups)

    def plot(self) -> go.Figure:
        """One bar chart per metric: each group's value with its 95% interval as error bars."""
        from plotly.subplots import make_subplots

        rows = self.records()
        metrics = list(dict.fromkeys(row["metric"] for row in rows))
        fig = make_subplots(rows=1, cols=len(metrics), subplot_titles=metrics)
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
