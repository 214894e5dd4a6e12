"""Journey outcome rates by journey type, segment, first channel or period — with honest intervals.

Every rate has its numerator, its denominator (named: a leakage rate is over journeys that
used a digital channel, a first-contact-resolution rate over journeys with an assisted contact)
and a 95% Wilson score interval; the mean cost to serve has a normal-approximation interval.
The grouping is one Ibis aggregation; only the handful of aggregated rows reach Python.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import ibis.expr.types as ir
import pyarrow as pa

from journeylens.journeys.build import require_journeys
from journeylens.specs.identity import USER
from journeylens.specs.summary import JourneySummarySpec, Period, SummaryBy
from journeylens.store import Store
from journeylens.store._backend import json_text

Z95 = 1.959963984540054
UNKNOWN = "(unknown)"
__all__ = ["DENOMINATORS", "JourneySummary", "JourneySummarySpec", "Period", "SummaryBy", "journey_summary"]


# (rate name, numerator condition, denominator condition) over journey columns.
def _rates(j: ir.Table) -> list[tuple[str, ir.BooleanValue, ir.BooleanValue]]:
    every = j.journey_id.notnull()
    contacted = j.assisted_contacts > 0
    return [
        ("success", j.outcome == "success", every),
        ("abandoned", j.outcome == "abandoned", every),
        ("leakage", j.leakage, j.digital_events > 0),
        ("first_contact_resolution", j.first_contact_resolution.fill_null(False), contacted),
        ("repeat_contact", j.repeat_contacts > 0, contacted),
        ("repeat_journey", j.repeat_journey, every),
    ]


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float | None, float | None]:
    """95% Wilson score interval of a proportion (None, None when ``n`` is 0)."""
    if n <= 0:
        return None, None
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class JourneySummary:
    """Outcome rates per group (``rows``); ``--format json`` writes the rows."""

    #: The JSON contract (docs/cli.md reads it): the fields of each row.
    JSON_FIELDS: ClassVar[tuple[str, ...]] = (
        "group",
        "journeys",
        "<rate>_rate, <rate>_n, <rate>_d, <rate>_lo, <rate>_hi for success, abandoned, leakage, "
        "first_contact_resolution, repeat_contact, repeat_journey",
        "cost_mean",
        "cost_half_width",
        "cost_total",
        "median_duration_h",
    )

    spec: JourneySummarySpec
    rows: list[dict[str, Any]]

    def to_dicts(self) -> list[dict[str, Any]]:
        return self.rows

    def to_arrow(self) -> pa.Table:
        return pa.Table.from_pylist(self.rows)

    def to_pandas(self) -> Any:
        return self.to_arrow().to_pandas()

    def compact(self) -> list[dict[str, Any]]:
        """Long form for terminals: one line per group and measure, ``rate (lo-hi)`` and ``n/d``."""
        out: list[dict[str, Any]] = []
        for row in self.rows:
            group = row["group"]
            out.append({"group": group, "measure": "journeys", "value": f"{row['journeys']:,}"})
            for name, _ in _RATE_NAMES:
                rate = row[f"{name}_rate"]
                out.append({
                    "group": group,
                    "measure": name,
                    "value": "-" if rate is None else f"{rate:.1%}",
                    "95% CI": "" if rate is None else f"{row[f'{name}_lo']:.1%}-{row[f'{name}_hi']:.1%}",
                    "n/d": f"{row[f'{name}_n']:,}/{row[f'{name}_d']:,}",
                })  # fmt: skip
            out.append({
                "group": group, "measure": "cost_to_serve (mean)", "value": f"{row['cost_mean']:.2f}",
                "95% CI": f"±{row['cost_half_width']:.2f}", "n/d": f"total {row['cost_total']:,.0f}",
            })  # fmt: skip
            hours = row["median_duration_h"]
            out.append({"group": group, "measure": "median duration (h)", "value": f"{hours}"})
        return out


_RATE_NAMES = [
    ("success", "all journeys"),
    ("abandoned", "all journeys"),
    ("leakage", "journeys that used a digital channel"),
    ("first_contact_resolution", "journeys with an assisted contact"),
    ("repeat_contact", "journeys with an assisted contact"),
    ("repeat_journey", "all journeys"),
]
DENOMINATORS = dict(_RATE_NAMES)


def _group_column(store: Store, journeys: ir.Table, spec: JourneySummarySpec) -> ir.Table:
    if spec.by is SummaryBy.journey_type:
        return journeys.mutate(group=journeys.journey_type)
    if spec.by is SummaryBy.channel:
        return journeys.mutate(group=journeys.first_channel)
    if spec.by is SummaryBy.period:
        local = store.local_time(journeys.start)
        fmt = {"day": "%Y-%m-%d", "week": "%Y-%m-%d", "month": "%Y-%m"}[spec.period.value]
        return journeys.mutate(group=local.truncate(_TRUNC[spec.period]).strftime(fmt))
    cmap = store.backend.table("customer_map")
    customers = store.table("customers")
    trait = json_text(customers.traits, spec.segment_trait)
    users = cmap.filter(cmap.identifier_type == USER)
    seg = (
        users.join(customers, users.identifier_value == customers.user_id)
        .group_by(users.customer_id)
        .agg(_segment=trait.max())
    )
    joined = journeys.left_join(seg, "customer_id")
    return joined.mutate(group=joined._segment.fill_null(UNKNOWN))


_TRUNC = {Period.day: "D", Period.week: "W", Period.month: "M"}


def journey_summary(store: Store, spec: JourneySummarySpec | None = None) -> JourneySummary:
    """Outcome rates per group, each with numerator, denominator and 95% interval.

    Example:
        >>> s = journey_summary(ws.store, JourneySummarySpec(by="segment"))  # doctest: +SKIP
        >>> s.rows[0]["leakage_rate"], s.rows[0]["leakage_d"]  # doctest: +SKIP
    """
    spec = spec or JourneySummarySpec()
    journeys = require_journeys(store)
    if spec.journey_type is not None:
        journeys = journeys.filter(journeys.journey_type == spec.journey_type)
    grouped = _group_column(store, journeys, spec)
    metrics: dict[str, ir.Value] = {"journeys": grouped.count()}
    for name, num, den in _rates(grouped):
        metrics[f"{name}_n"] = (num & den).cast("int64").sum()
        metrics[f"{name}_d"] = den.cast("int64").sum()
    metrics["cost_mean"] = grouped.cost_to_serve.mean()
    metrics["cost_std"] = grouped.cost_to_serve.std()
    metrics["cost_total"] = grouped.cost_to_serve.sum()
    metrics["median_duration_s"] = grouped.duration_s.median()
    table = grouped.group_by(grouped.group.fill_null(UNKNOWN).name("group")).agg(**metrics)
    rows = store.execute(table.order_by("group")).to_pylist()
    return JourneySummary(spec, [_finish(row) for row in rows])


def _finish(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"group": row["group"], "journeys": row["journeys"]}
    for name, _ in _RATE_NAMES:
        n, d = int(row[f"{name}_n"] or 0), int(row[f"{name}_d"] or 0)
        lo, hi = wilson(n, d)
        out.update({
            f"{name}_rate": n / d if d else None, f"{name}_n": n, f"{name}_d": d,
            f"{name}_lo": lo, f"{name}_hi": hi,
        })  # fmt: skip
    count = int(row["journeys"])
    std = float(row["cost_std"] or 0.0)
    out["cost_mean"] = float(row["cost_mean"] or 0.0)
    out["cost_half_width"] = Z95 * std / math.sqrt(count) if count > 1 else 0.0
    out["cost_total"] = float(row["cost_total"] or 0.0)
    median = row["median_duration_s"]
    out["median_duration_h"] = round(float(median) / 3600, 2) if median is not None else None
    return out
