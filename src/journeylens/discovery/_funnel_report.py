"""From each unit's best attempt to the funnel's rows: breakdowns, rates, times, drop-off paths.

The per-step numbers are one Ibis aggregation grouped by breakdown value; only those few rows reach
Python, where the Wilson intervals are added.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from journeylens.discovery.selection import customer_segments
from journeylens.journeys.summary import wilson
from journeylens.specs.funnel import (
    FunnelBreakdown,
    FunnelOrder,
    FunnelSpec,
    FunnelSpecError,
    FunnelUnit,
)
from journeylens.specs.identity import ANONYMOUS, USER
from journeylens.store import Store

ALL = "(all)"
UNKNOWN = "(unknown)"
UNASSIGNED = "(unassigned)"
SEVERAL = "(several variants)"
NONE = "(none)"
OTHER = "(other)"

STEP_SCHEMA = pa.schema(
    [
        ("breakdown", pa.string()),
        ("step", pa.int64()),
        ("step_name", pa.string()),
        ("optional", pa.bool_()),
        ("units", pa.int64()),
        ("dropped_off", pa.int64()),
        ("conversion_from_previous", pa.float64()),
        ("previous_units", pa.int64()),
        ("conversion_from_previous_low", pa.float64()),
        ("conversion_from_previous_high", pa.float64()),
        ("conversion_from_first", pa.float64()),
        ("first_units", pa.int64()),
        ("conversion_from_first_low", pa.float64()),
        ("conversion_from_first_high", pa.float64()),
        ("median_seconds_from_previous", pa.float64()),
        ("mean_seconds_from_previous", pa.float64()),
        ("median_seconds_from_first", pa.float64()),
        ("mean_seconds_from_first", pa.float64()),
    ]
)
AFTER_SCHEMA = pa.schema(
    [
        ("breakdown", pa.string()),
        ("step", pa.int64()),
        ("step_name", pa.string()),
        ("activity", pa.string()),
        ("units", pa.int64()),
        ("share", pa.float64()),
    ]
)


def step_names(spec: FunnelSpec) -> list[str]:
    n = len(spec.steps)
    if spec.order is FunnelOrder.any:
        return [f"{k} of {n} steps" for k in range(1, n + 1)]
    return [s.label for s in spec.steps]


# --- breakdowns ---------------------------------------------------------------------------------


def with_breakdown(store: Store, best: ir.Table, events: ir.Table, spec: FunnelSpec) -> ir.Table:
    """``best`` plus a ``breakdown`` column (the same value for all when there is no breakdown)."""
    if spec.by is None:
        return best.mutate(breakdown=ibis.literal(ALL))
    if spec.by is FunnelBreakdown.channel:
        # The channel the unit entered the funnel through: its best attempt's step-1 event.
        entry = events.select(_unit=events.unit, _pos=events.pos, _value=events.channel)
        joined = best.left_join(entry, (best.unit == entry._unit) & (best.start_pos == entry._pos))
        return joined.select(*best.columns, breakdown=joined._value.fill_null(UNKNOWN))
    if spec.unit is FunnelUnit.journey:
        j = store.backend.table("journeys")
        owners = j.select(_unit=j.journey_id, _customer=j.customer_id)
    else:
        owners = best.select(_unit=best.unit, _customer=best.unit)
    if spec.by is FunnelBreakdown.segment:
        values = customer_segments(store, spec.segment_trait).rename(_value="segment")
        missing = UNKNOWN
    else:
        values = _variants(store, str(spec.experiment))
        missing = UNASSIGNED
    keyed = owners.left_join(values, owners._customer == values.customer_id).select(
        "_unit", _value=values._value
    )
    joined = best.left_join(keyed, best.unit == keyed._unit)
    return joined.select(*best.columns, breakdown=joined._value.fill_null(missing))


def _variants(store: Store, experiment: str) -> ir.Table:
    """(customer_id, _value): each customer's variant in ``experiment``, via their identifiers."""
    a = store.table("assignments")
    known = sorted(str(v) for v in store.execute(a.select("experiment").distinct()).column(0).to_pylist())
    if not known:
        raise FunnelSpecError(
            "No experiment assignments have been loaded, so there are no variants to split by.",
            hint="Load them with `journeylens ingest FILE --table assignments`.",
        )
    if experiment not in known:
        raise FunnelSpecError.unknown_choice("experiment", experiment, known)
    a = a.filter(a.experiment == experiment)
    cmap = store.backend.table("customer_map")
    parts = []
    for kind, column in ((USER, a.user_id), (ANONYMOUS, a.anonymous_id)):
        ids = cmap.filter(cmap.identifier_type == kind)
        parts.append(a.join(ids, column == ids.identifier_value).select(ids.customer_id, variant=a.variant))
    both = parts[0].union(parts[1])
    per = both.group_by("customer_id").aggregate(_n=both.variant.nunique(), _v=both.variant.max())
    return per.select("customer_id", _value=ibis.ifelse(per._n > 1, SEVERAL, per._v))


# --- steps --------------------------------------------------------------------------------------


def step_rows(store: Store, labelled: ir.Table, spec: FunnelSpec) -> pa.Table:
    """One row per (breakdown value, step) with counts, rates and times to convert."""
    n = len(spec.steps)
    t = labelled
    metrics: dict[str, ir.Value] = {}
    for k in range(1, n + 1):
        done = t[f"c{k}"]
        metrics[f"u{k}"] = done.count()
        metrics[f"d{k}"] = (t.level == k).cast("int64").sum()
        if k > 1:
            # Time from the previous step *this attempt did* (optional steps may have been skipped).
            before = [t[f"c{j}"] for j in range(k - 1, 0, -1)]
            prev = ibis.coalesce(*before) if len(before) > 1 else before[0]
            metrics |= {
                f"mp{k}": (done - prev).median(), f"ap{k}": (done - prev).mean(),
                f"mf{k}": (done - t.c1).median(), f"af{k}": (done - t.c1).mean(),
            }  # fmt: skip
    agg = store.execute(t.group_by("breakdown").aggregate(**metrics)).to_pylist()
    if not agg and spec.by is None:
        agg = [{"breakdown": ALL} | {f"u{k}": 0 for k in range(1, n + 1)}]
    rows: list[dict[str, Any]] = []
    for group in sorted(agg, key=lambda g: (str(g["breakdown"]).startswith("("), str(g["breakdown"]))):
        rows.extend(_rows_of(group, spec))
    table = pa.Table.from_pylist(rows, schema=STEP_SCHEMA)
    return table if spec.by is not None else table.drop_columns(["breakdown"])


def _rows_of(group: dict[str, Any], spec: FunnelSpec) -> list[dict[str, Any]]:
    n, names = len(spec.steps), step_names(spec)
    units = [int(group.get(f"u{k}") or 0) for k in range(1, n + 1)]
    rows = []
    required = 1
    for k in range(1, n + 1):
        row: dict[str, Any] = {"breakdown": group["breakdown"], "step": k, "step_name": names[k - 1]}
        row["optional"] = spec.steps[k - 1].optional
        row["units"] = units[k - 1]
        row["dropped_off"] = int(group.get(f"d{k}") or 0) if k < n else 0
        den = units[required - 1] if k > 1 else None
        row |= _rate("conversion_from_previous", units[k - 1], den) | {"previous_units": den}
        row |= _rate("conversion_from_first", units[k - 1], units[0]) | {"first_units": units[0]}
        for name, key in (("previous", "p"), ("first", "f")):
            row[f"median_seconds_from_{name}"] = _seconds(group.get(f"m{key}{k}"))
            row[f"mean_seconds_from_{name}"] = _seconds(group.get(f"a{key}{k}"))
        rows.append(row)
        if not spec.steps[k - 1].optional:
            required = k
    return rows


def _rate(name: str, num: int, den: int | None) -> dict[str, float | None]:
    if not den:
        return {name: None, f"{name}_low": None, f"{name}_high": None}
    low, high = wilson(num, den)
    return {name: num / den, f"{name}_low": low, f"{name}_high": high}


def _seconds(millis: Any) -> float | None:
    return None if millis is None else float(millis) / 1000


# --- after drop-off -----------------------------------------------------------------------------


def after_drop_off(store: Store, labelled: ir.Table, events: ir.Table, spec: FunnelSpec) -> pa.Table:
    """For units that stopped at step k < N: the next activity after their step-k event."""
    n, names = len(spec.steps), step_names(spec)
    dropped = labelled.filter(labelled.level < n)
    last = events.select(_unit=events.unit, _pos=events.pos, _next=events.next_activity, _at=events.next_ms)
    d = dropped.left_join(last, (dropped.unit == last._unit) & (dropped.last_pos == last._pos))
    inside = d._next.notnull() & (d._at <= d.start_ms + spec.window_ms)
    res = d.select("breakdown", "level", activity=ibis.ifelse(inside, d._next, NONE))
    counts = store.execute(res.group_by(["breakdown", "level", "activity"]).aggregate(units=res.count()))
    grouped: dict[tuple[str, int], list[tuple[str, int]]] = {}
    for r in counts.to_pylist():
        grouped.setdefault((r["breakdown"], r["level"]), []).append((str(r["activity"]), int(r["units"])))
    rows = []
    for (breakdown, level), found in sorted(grouped.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])):
        total = sum(c for _, c in found)
        ranked_found = sorted(((a, c) for a, c in found if a != NONE), key=lambda ac: (-ac[1], ac[0]))
        shown = ranked_found[: spec.top]
        rest = sum(c for _, c in ranked_found[spec.top :])
        shown += [(OTHER, rest)] if rest else []
        shown += [(a, c) for a, c in found if a == NONE]
        for activity, units in shown:
            rows.append({"breakdown": breakdown, "step": level, "step_name": names[level - 1],
                         "activity": activity, "units": units, "share": units / total})  # fmt: skip
    table = pa.Table.from_pylist(rows, schema=AFTER_SCHEMA)
    return table if spec.by is not None else table.drop_columns(["breakdown"])
