"""The report's segments part: the built-in customer segments side by side (see :mod:`.discovery`).

Only metrics the data defines are compared: success when some journey has a defined outcome, cost
to serve when the journeys were priced; with neither, or when the segments themselves are not
defined (no customers, no purchase, one segment), one sentence says why.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from journeylens.discovery.segments import RfmRules, SegmentComparisonSpec, compare_segments
from journeylens.journeys.build import require_journeys
from journeylens.journeys.undefined import COST_REASON, UNDECIDED, outcome_reason
from journeylens.report.discovery import Part, Scope, _money
from journeylens.report.journeys import NOT_DEFINED, rate_cell
from journeylens.store import Store

SEGMENT_METRICS = ("success", "cost_to_serve")


def segments_part(store: Store, scope: Scope) -> Part:
    journeys = require_journeys(store)
    defined = store.execute(
        journeys.aggregate(
            success=(~journeys.outcome.isin(UNDECIDED)).any(), cost=journeys.cost_to_serve.notnull().any()
        )
    ).to_pylist()[0]
    metrics = [m for m, key in zip(SEGMENT_METRICS, ("success", "cost"), strict=True) if defined[key]]
    if not metrics:
        return Part(
            notes=[
                f"Segments: no metric to compare, success and cost to serve are {NOT_DEFINED} "
                f"({outcome_reason()}; {COST_REASON})."
            ]
        )
    comparison = compare_segments(store, SegmentComparisonSpec(metrics=metrics), rules=scope.rules)
    if comparison.reason is not None:  # no customers, no purchase, or one segment: nothing to chart
        return Part(notes=[f"Segments: not defined, {comparison.reason}. {comparison.hint or ''}".strip()])
    by = {(r["segment"], r["metric"]): r for r in comparison.records()}
    rows = []
    for group in comparison.groups:
        name = group["segment"]
        found = {metric: by.get((name, metric)) for metric in metrics}
        if any(row is None for row in found.values()):
            continue  # members without journeys in the selection
        row: dict[str, Any] = {"segment": name, "customers": group["members"], "journeys": group["journeys"]}
        if (success := found.get("success")) is not None:
            row |= {
                "success rate": rate_cell(success["n"], int(success["d"])),
                "success vs rest": _diff(success, points=True),
                "q (success)": _q(success["q"]),
            }
        if (cost := found.get("cost_to_serve")) is not None:
            row |= {
                "mean cost to serve": f"{_money(cost['value'])} ({_money(cost['lo'])}–{_money(cost['hi'])})",
                "cost vs rest": _diff(cost, points=False),
                "q (cost)": _q(cost["q"]),
            }
        rows.append(row)
    tested = sum(r["q"] is not None for r in comparison.records())
    rule = RfmRules()
    shown = " and ".join("success rate" if m == "success" else "cost to serve" for m in metrics)
    note = (
        "Segments, built in from each customer's successful purchases: prospect none, first-time one, "
        f"loyal {rule.loyal_min_purchases} or more with the last within {rule.loyal_within_days} days, "
        "occasional the other repeat buyers. Each is compared with all other journeys (success: z or "
        f"Fisher test; cost: Welch test); q is Benjamini-Hochberg adjusted over the {tested} tests, "
        "* marks q < 0.05."
    )
    if len(metrics) < len(SEGMENT_METRICS):
        missing = "success rate" if "success" not in metrics else "cost to serve"
        why = outcome_reason() if "success" not in metrics else COST_REASON
        note += f" No {missing}: {why}."
    return Part(
        notes=[note],
        figures=[comparison.plot()],
        tables=[(f"Built-in segments: {shown} against the rest", pd.DataFrame(rows))],
    )


def _diff(row: dict[str, Any], *, points: bool) -> str:
    """Segment minus rest with its 95% interval: percentage points for a rate, units for a mean."""
    if row["diff"] is None:
        return ""
    scale, unit, fmt = (100.0, " pp", "+.1f") if points else (1.0, "", "+,.2f")
    text = f"{row['diff'] * scale:{fmt}}{unit}"
    if row["diff_lo"] is None or row["diff_hi"] is None:
        return text
    return f"{text} ({row['diff_lo'] * scale:{fmt}} to {row['diff_hi'] * scale:{fmt}})"


def _q(q: float | None) -> str:
    if q is None:
        return ""
    return f"{q:.2g}" + (" *" if q < 0.05 else "")
