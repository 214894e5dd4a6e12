"""Variants: the distinct activity sequences journeys follow, most frequent first.

Each journey's sequence is collected in ``step`` order (ties in time keep ingestion order, as
pm4py's stable sort does); journeys are then grouped by sequence. Ranking, share, cumulative
coverage and the "top variants covering X% of journeys" cut are window expressions over the
grouped rows, so only the kept variants reach Python. Ties in count are broken by the sequence
itself (element-wise, by code point), so the order is the same on every engine and run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import ibis
import ibis.common.exceptions as ibis_errors
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from journeylens._units import duration_text
from journeylens.discovery._result import TableResult
from journeylens.discovery.selection import EmptySelectionError, journey_log, select_journeys
from journeylens.journeys.summary import Z95, unknown_types
from journeylens.journeys.undefined import UNDECIDED, undecided_reason
from journeylens.specs.discovery import VariantSpec
from journeylens.store import Store

if TYPE_CHECKING:
    import plotly.graph_objects as go
    from ibis.backends import BaseBackend

ARROW = " → "
PLOT_LIMIT = 30


@dataclass(frozen=True)
class Variants(TableResult):
    """Variants, one row each: rank, steps (list of activities), length, count, share, coverage
    (cumulative share up to this variant), median_duration_s (first to last event), successes,
    success_rate and its 95% Wilson interval (success_ci_low, success_ci_high) over
    ``outcomes_defined`` (its journeys whose outcome is not ``unknown``); the rate is ``None`` with
    ``success_reason`` when none of them has a defined outcome.

    ``totals``: journeys and variants in the selection, and what the listed rows cover.
    """

    #: The JSON contract (docs/cli.md reads it): ``to_dict()`` keys, with the record fields.
    JSON_FIELDS: ClassVar[tuple[str, ...]] = (
        "key",
        "filter",
        "totals (object: journeys, variants, shown, shown_journeys, coverage)",
        "variants (records: rank, steps (list of activities), length, count, share, coverage, "
        "median_duration_s, successes, outcomes_defined, success_rate, success_ci_low, success_ci_high, "
        "success_reason)",
    )

    totals: dict[str, Any]
    spec: VariantSpec

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.spec.key.value,
            "filter": self.spec.filter.describe(),
            "totals": dict(self.totals),
            "variants": self.records(),
        }

    def plot(self) -> go.Figure:
        """Horizontal bars of the most frequent variants (at most 30), the largest on top."""
        import plotly.graph_objects as go

        rows = self.records()[:PLOT_LIMIT]
        labels = [f"#{r['rank']} {_short(r['steps'])}" for r in rows]
        hover = [
            f"{ARROW.join(r['steps'])}<br>{r['count']:,} journeys ({r['share']:.1%}), cumulative "
            f"{r['coverage']:.1%}<br>median duration {duration_text(r['median_duration_s'])}"
            + (
                f"<br>success {r['success_rate']:.1%} of {r['outcomes_defined']:,}"
                if r["success_rate"] is not None
                else "<br>success not defined (unknown outcomes)"
            )
            for r in rows
        ]
        fig = go.Figure(
            go.Bar(
                x=[r["count"] for r in rows],
                y=labels,
                orientation="h",
                hovertext=hover,
                hoverinfo="text",
                marker_color="#4C78A8",
            )
        )
        t = self.totals
        fig.update_layout(
            title=f"Top variants ({self.spec.key.value}): {len(rows)} shown of {t['variants']:,}, "
            f"covering {sum(r['share'] for r in rows):.1%} of {t['journeys']:,} journeys",
            xaxis_title="journeys",
            yaxis={"autorange": "reversed"},
            height=max(350, 28 * len(rows) + 120),
            plot_bgcolor="white",
        )
        return fig


def variants(store: Store, spec: VariantSpec | None = None) -> Variants:
    """Distinct sequences of the selected journeys, with counts, share, coverage, duration, success.

    Raises:
        EmptySelectionError: the filter selects no journeys.

    Example:
        >>> top = variants(ws.store, VariantSpec(coverage=0.8, limit=10))  # doctest: +SKIP
        >>> top.records()[0]["steps"], top.records()[0]["count"]  # doctest: +SKIP
        (['home', 'product_page', 'add_to_cart', 'order_confirmation'], 5120)
    """
    spec = spec or VariantSpec()
    log = journey_log(store, spec.filter, spec.key, check_empty=False)
    table = store.execute(variant_query(store.backend, log, spec))
    if table.num_rows == 0:
        raise EmptySelectionError.for_filter(spec.filter)
    first = table.slice(0, 1).to_pylist()[0]
    journeys, distinct = first["journeys_total"], first["variants_total"]
    covered = int(pc.sum(table["count"]).as_py())
    totals = {
        "journeys": journeys,
        "variants": distinct,
        "shown": table.num_rows,
        "shown_journeys": covered,
        "coverage": covered / journeys,
    }
    table = table.drop_columns(["journeys_total", "variants_total"])
    if pc.any(pc.equal(table["outcomes_defined"], 0)).as_py():
        reason = undecided_reason(unknown_types(store, select_journeys(store, spec.filter)))
        undefined = pc.equal(table["outcomes_defined"], 0)
        table = table.append_column(
            "success_reason", pc.if_else(undefined, pa.scalar(reason), pa.scalar(None, pa.string()))
        )
    else:
        table = table.append_column("success_reason", pa.nulls(table.num_rows, pa.string()))
    return Variants(table=table, totals=totals, spec=spec)


def variant_query(backend: BaseBackend, log: ir.Table, spec: VariantSpec) -> ir.Table:
    """Variants ranked by count (then sequence), cut at ``spec.coverage`` and ``spec.limit``."""
    per_journey = log.group_by("journey_id").agg(
        steps=_ordered_activities(backend, log),
        duration_s=log.timestamp.max().delta(log.timestamp.min(), unit="microsecond").cast("float64") / 1e6,
        success=(log.outcome == "success").any(),
        defined=(~log.outcome.isin(UNDECIDED)).any(),
    )
    grouped = per_journey.group_by("steps").agg(
        count=per_journey.count(),
        median_duration_s=per_journey.duration_s.median().cast("float64"),
        successes=per_journey.success.cast("int64").sum(),
        outcomes_defined=per_journey.defined.cast("int64").sum(),
    )
    order = [ibis.desc(grouped["count"]), grouped.steps]
    running = ibis.window(order_by=order, preceding=None, following=0)
    everything = ibis.window()
    ranked = grouped.mutate(
        rank=(ibis.row_number().over(ibis.window(order_by=order)) + 1).cast("int64"),
        length=grouped.steps.length().cast("int64"),
        cumulative=grouped["count"].sum().over(running),
        journeys_total=grouped["count"].sum().over(everything),
        variants_total=grouped["count"].count().over(everything),
    )
    before = ranked.cumulative - ranked["count"]
    kept = ranked if spec.coverage is None else ranked.filter(before < spec.coverage * ranked.journeys_total)
    kept = kept.order_by("rank")
    if spec.limit is not None:
        kept = kept.limit(spec.limit)
    defined = kept.outcomes_defined
    low, high = _wilson(kept.successes, defined)
    some = defined > 0
    return kept.select(
        "rank",
        "steps",
        "length",
        "count",
        share=kept["count"] / kept.journeys_total,
        coverage=kept.cumulative / kept.journeys_total,
        median_duration_s=kept.median_duration_s,
        successes=kept.successes,
        outcomes_defined=defined,
        success_rate=ibis.ifelse(some, kept.successes / defined, ibis.null("float64")),
        success_ci_low=ibis.ifelse(some, low, ibis.null("float64")),
        success_ci_high=ibis.ifelse(some, high, ibis.null("float64")),
        journeys_total=kept.journeys_total.cast("int64"),
        variants_total=kept.variants_total.cast("int64"),
    )


def _wilson(successes: ir.IntegerValue, n: ir.IntegerValue) -> tuple[ir.FloatingValue, ir.FloatingValue]:
    """95% Wilson score interval of ``successes / n`` (n > 0), as column expressions; the same
    formula as :func:`journeylens.journeys.summary.wilson`."""
    z2 = Z95 * Z95
    p = successes.cast("float64") / n
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = Z95 * (p * (1 - p) / n + z2 / (4 * n * n)).sqrt() / denom
    return ibis.greatest(centre - half, 0.0), ibis.least(centre + half, 1.0)


def _ordered_activities(backend: BaseBackend, log: ir.Table) -> ir.ArrayValue:
    """A journey's activities in step order. Engines with ordered aggregation (DuckDB) collect in
    order directly; the others (Spark) collect (step, activity) pairs and sort them."""
    if _ordered_collect(backend):
        return log.activity.collect(order_by=log.step)
    pairs = ibis.struct({"step": log.step, "activity": log.activity}).collect()
    return pairs.sort().map(lambda pair: pair.activity)


_ORDERED_COLLECT: dict[str, bool] = {}


def _ordered_collect(backend: BaseBackend) -> bool:
    """Whether ``backend`` compiles ``collect(order_by=...)``, asked of its own compiler once per
    engine (the answer depends on the engine, never on data), so no engine names are tested."""
    if backend.name not in _ORDERED_COLLECT:
        probe = ibis.table({"g": "string", "o": "int64", "v": "string"}, name="probe")
        try:
            backend.compile(probe.group_by("g").agg(v=probe.v.collect(order_by=probe.o)))
            _ORDERED_COLLECT[backend.name] = True
        except ibis_errors.UnsupportedOperationError:
            _ORDERED_COLLECT[backend.name] = False
    return _ORDERED_COLLECT[backend.name]


def _short(steps: list[str], width: int = 70) -> str:
    text = ARROW.join(steps)
    return text if len(text) <= width else text[: width - 1] + "…"
