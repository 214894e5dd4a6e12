"""Journey outcome rates by journey type, segment, first channel or period — with honest intervals.

Every rate has its numerator, its denominator (named: a leakage rate is over journeys that
used a digital channel, a first-contact-resolution rate over journeys with an assisted contact)
and a 95% Wilson score interval; the mean cost to serve has a normal-approximation interval.

Undefined is never zero (see :mod:`journeylens.journeys.undefined`): outcome rates are over the
journeys whose outcome is defined (``unknown_outcomes`` counts the others), a rate without a
denominator is ``None`` with ``<rate>_reason`` saying why and what setting defines it, and cost
is ``None`` with ``cost_reason`` until ``[journeys.costs]`` is set. Leakage needs an assisted
contact somewhere in the selection: without one (purchase data, say) no journey could have leaked,
so its rate is ``None`` in every group (``leakage_n`` and ``leakage_d`` are 0).
The grouping is one Ibis aggregation; only the handful of aggregated rows reach Python.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import ibis.expr.types as ir
import pyarrow as pa

from journeylens.journeys.build import require_journeys
from journeylens.journeys.evidence import INFERRED_SUCCESS, NEGATIVE_FEEDBACK, SUCCESS_EVENT
from journeylens.journeys.undefined import (
    COST_REASON,
    NO_CONTACT_REASON,
    NO_CUSTOMER_REASON,
    NOT_DEFINED,
    OPEN_OUTCOME,
    OPEN_REASON,
    OUTCOME_METRICS,
    UNDECIDED,
    UNKNOWN_OUTCOME,
    outcome_reason,
)
from journeylens.specs.identity import USER
from journeylens.specs.summary import JourneySummarySpec, Period, SummaryBy
from journeylens.store import Store
from journeylens.store._backend import json_text

Z95 = 1.959963984540054
UNKNOWN = "(unknown)"
__all__ = ["DENOMINATORS", "JourneySummary", "JourneySummarySpec", "Period", "SummaryBy", "journey_summary"]


# (rate name, numerator condition, denominator condition) over journey columns.
def _rates(j: ir.Table) -> list[tuple[str, ir.BooleanValue, ir.BooleanValue]]:
    # A repeat journey is the same customer coming back: only journeys of a known customer can tell.
    known = j.customer_id.notnull()
    defined = ~j.outcome.isin(UNDECIDED)
    contacted = j.assisted_contacts > 0
    return [
        ("success", j.outcome == "success", defined),
        ("abandoned", j.outcome == "abandoned", defined),
        ("leakage", j.leakage, j.digital_events > 0),
        ("first_contact_resolution", j.first_contact_resolution.fill_null(False), contacted & defined),
        ("repeat_contact", j.repeat_contacts > 0, contacted),
        ("repeat_journey", j.repeat_journey, known),
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
        "unknown_outcomes",
        "open_outcomes",
        "success_observed (a success event)",
        "success_inferred (no repeat journey within the repeat window)",
        "failed_by_feedback (an inferred success that negative feedback overrode)",
        "<rate>_rate, <rate>_n, <rate>_d, <rate>_lo, <rate>_hi, <rate>_reason for success, abandoned, "
        "leakage, first_contact_resolution, repeat_contact, repeat_journey",
        "cost_mean",
        "cost_half_width",
        "cost_total",
        "cost_reason",
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
        """Long form for terminals: one line per group and measure, ``rate (lo-hi)`` and ``count``
        (numerator/denominator; ``n/d`` means a value that is not defined)."""
        out: list[dict[str, Any]] = []
        for row in self.rows:
            group = row["group"]
            out.append({"group": group, "measure": "journeys", "value": f"{row['journeys']:,}"})
            for name, _ in _RATE_NAMES:
                rate = row[f"{name}_rate"]
                if name == "abandoned" and row["success_n"]:
                    out.extend(_evidence_lines(row))
                out.append({
                    "group": group,
                    "measure": name,
                    "value": NOT_DEFINED if rate is None else f"{rate:.1%}",
                    "95% CI": "" if rate is None else f"{row[f'{name}_lo']:.1%}-{row[f'{name}_hi']:.1%}",
                    "count": f"{row[f'{name}_n']:,}/{row[f'{name}_d']:,}",
                })  # fmt: skip
            mean = row["cost_mean"]
            out.append({
                "group": group, "measure": "cost_to_serve (mean)",
                "value": NOT_DEFINED if mean is None else f"{mean:.2f}",
                "95% CI": "" if mean is None else f"±{row['cost_half_width']:.2f}",
                "count": "" if mean is None else f"total {row['cost_total']:,.0f}",
            })  # fmt: skip
            hours = row["median_duration_h"]
            out.append({"group": group, "measure": "median duration (h)", "value": f"{hours}"})
        return out

    def reasons(self) -> dict[str, str]:
        """Each measure that is not defined in some group, with why and the setting that defines it."""
        found: dict[str, str] = {}
        for row in self.rows:
            for name in [*(n for n, _ in _RATE_NAMES), "cost"]:
                reason = row.get(f"{name}_reason")
                if reason:
                    found.setdefault(name, reason)
        return found

    def unknown_outcomes(self) -> tuple[int, int]:
        """(journeys with an unknown outcome, all journeys) over the groups."""
        return sum(r["unknown_outcomes"] for r in self.rows), sum(r["journeys"] for r in self.rows)


_RATE_NAMES = [
    ("success", "journeys with a final outcome (not open or unknown)"),
    ("abandoned", "journeys with a final outcome (not open or unknown)"),
    ("leakage", "journeys that used a digital channel"),
    ("first_contact_resolution", "journeys with an assisted contact and a final outcome"),
    ("repeat_contact", "journeys with an assisted contact"),
    ("repeat_journey", "journeys of a known customer"),
]
DENOMINATORS = dict(_RATE_NAMES)
EVIDENCE_COUNTS = ("success_observed", "success_inferred", "failed_by_feedback")
"""How much of the success and failure counts each kind of evidence decided (see ``journeys.evidence``)."""


def _evidence_lines(row: dict[str, Any]) -> list[dict[str, Any]]:
    """How much of the successes an event showed and how much "no repeat" inferred (shares of the
    successes), and how many inferred successes negative feedback overrode."""
    n, group = row["success_n"], row["group"]
    lines = [
        {"group": group, "measure": measure, "value": f"{row[key] / n:.1%}", "count": f"{row[key]:,}/{n:,}"}
        for measure, key in (
            ("success observed", "success_observed"),
            ("success inferred", "success_inferred"),
        )
    ]
    if row["failed_by_feedback"]:
        lines.append({
            "group": group, "measure": "failed by feedback", "value": f"{row['failed_by_feedback']:,}",
        })  # fmt: skip
    return lines


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
    unknown = grouped.outcome == UNKNOWN_OUTCOME
    metrics: dict[str, ir.Value] = {
        "journeys": grouped.count(),
        "unknown_outcomes": unknown.cast("int64").sum(),
        "open_outcomes": (grouped.outcome == OPEN_OUTCOME).cast("int64").sum(),
        "success_observed": (grouped.outcome_evidence == SUCCESS_EVENT).cast("int64").sum(),
        "success_inferred": grouped.outcome_evidence.isin(INFERRED_SUCCESS).cast("int64").sum(),
        "failed_by_feedback": (grouped.outcome_evidence == NEGATIVE_FEEDBACK).cast("int64").sum(),
    }
    for name, num, den in _rates(grouped):
        metrics[f"{name}_n"] = (num & den).cast("int64").sum()
        metrics[f"{name}_d"] = den.cast("int64").sum()
    metrics["assisted_contacts"] = grouped.assisted_contacts.sum()
    metrics["cost_n"] = grouped.cost_to_serve.count()
    metrics["cost_mean"] = grouped.cost_to_serve.mean()
    metrics["cost_std"] = grouped.cost_to_serve.std()
    metrics["cost_total"] = grouped.cost_to_serve.sum()
    metrics["median_duration_s"] = grouped.duration_s.median()
    table = grouped.group_by(grouped.group.fill_null(UNKNOWN).name("group")).agg(**metrics)
    rows = store.execute(table.order_by("group")).to_pylist()
    undefined = unknown_types(store, journeys) if any(row["unknown_outcomes"] for row in rows) else []
    contacts = sum(int(row["assisted_contacts"] or 0) for row in rows)
    return JourneySummary(spec, [_finish(row, undefined, contacts) for row in rows])


def unknown_types(store: Store, journeys: ir.Table) -> list[str]:
    """The journey types (of ``journeys``) whose outcome is unknown: they define no criteria."""
    which = journeys.filter(journeys.outcome == UNKNOWN_OUTCOME).select("journey_type").distinct()
    return sorted(str(t) for t in store.execute(which).column(0).to_pylist())


def rate_reason(name: str, d: int, unknown: int, types: list[str], undecided: int = 0) -> str | None:
    """Why rate ``name`` has no value (``None`` when its denominator ``d`` has journeys)."""
    if d:
        return None
    if name in OUTCOME_METRICS and unknown:
        return outcome_reason(types)
    if name in OUTCOME_METRICS and undecided:
        return OPEN_REASON
    if name == "repeat_journey":
        return NO_CUSTOMER_REASON
    return f"no {DENOMINATORS[name]} in this group"


def _finish(row: dict[str, Any], types: list[str], contacts: int) -> dict[str, Any]:
    unknown = int(row["unknown_outcomes"] or 0)
    out: dict[str, Any] = {
        "group": row["group"],
        "journeys": row["journeys"],
        "unknown_outcomes": unknown,
        "open_outcomes": int(row["open_outcomes"] or 0),
    }
    # The split of successes by evidence exists only where the success rate does.
    defined = bool(row["success_d"])
    out.update({name: int(row[name] or 0) if defined else None for name in EVIDENCE_COUNTS})
    for name, _ in _RATE_NAMES:
        n, d = int(row[f"{name}_n"] or 0), int(row[f"{name}_d"] or 0)
        reason = rate_reason(name, d, unknown, types, int(row["open_outcomes"] or 0))
        if name == "leakage" and d and not contacts:
            # Digital journeys, but no contact anywhere in the selection: none could have leaked.
            n, d, reason = 0, 0, NO_CONTACT_REASON
        lo, hi = wilson(n, d)
        out.update({
            f"{name}_rate": n / d if d else None, f"{name}_n": n, f"{name}_d": d,
            f"{name}_lo": lo, f"{name}_hi": hi, f"{name}_reason": reason,
        })  # fmt: skip
    priced = int(row["cost_n"] or 0)
    std = float(row["cost_std"] or 0.0)
    out["cost_mean"] = float(row["cost_mean"]) if priced else None
    out["cost_half_width"] = (Z95 * std / math.sqrt(priced) if priced > 1 else 0.0) if priced else None
    out["cost_total"] = float(row["cost_total"] or 0.0) if priced else None
    out["cost_reason"] = None if priced else COST_REASON
    median = row["median_duration_s"]
    out["median_duration_h"] = round(float(median) / 3600, 2) if median is not None else None
    return out
