"""The directly-follows process map: which touchpoint follows which, how often and how fast.

One window ``lead()`` over each journey's events (ordered by ``step``, so ties in time keep
ingestion order) pairs every event with the next one; a single aggregation over those pairs
gives the edges with their timings, the end counts (pairs without a successor) and the start
counts (``step = 1``). Distinct journeys per activity come from the same windowed rows in the
same query (a ``UNION ALL``), so the log is joined and scanned once. Only aggregated rows, at
most activities² of them, reach Python, where thresholds for readability are applied.

Quantiles are exact and interpolated (``percentile_cont`` on DuckDB, ``percentile`` on Spark;
both equal numpy's default), in seconds with microsecond resolution.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from journeylens._units import duration_text
from journeylens.discovery._result import TableResult
from journeylens.discovery.selection import EmptySelectionError, journey_log
from journeylens.specs.discovery import MapSpec
from journeylens.store import Store
from journeylens.store._working import drop_scratch, scratch_table

if TYPE_CHECKING:
    import plotly.graph_objects as go

NODE_SCHEMA = pa.schema(
    [
        ("activity", pa.string()),
        ("events", pa.int64()),
        ("journeys", pa.int64()),
        ("starts", pa.int64()),
        ("ends", pa.int64()),
        ("mean_step", pa.float64()),
    ]
)
EDGE_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("target", pa.string()),
        ("count", pa.int64()),
        ("journeys", pa.int64()),
        ("median_s", pa.float64()),
        ("mean_s", pa.float64()),
        ("p90_s", pa.float64()),
    ]
)
ENDPOINT_SCHEMA = pa.schema([("activity", pa.string()), ("count", pa.int64())])


@dataclass(frozen=True)
class ProcessMap(TableResult):
    """A directly-follows graph. ``table`` (and ``to_pandas()``) holds the shown edges.

    Edges: source, target, count (transitions), journeys (with that transition), median_s,
    mean_s, p90_s (seconds from source to target). Nodes: activity, events, journeys, starts,
    ends, mean_step (typical position, used for the layout).
    """

    #: The JSON contract (docs/cli.md reads it): ``to_dict()`` keys, with the record fields.
    JSON_FIELDS: ClassVar[tuple[str, ...]] = (
        "key",
        "filter",
        "totals (object: journeys, events, activities, edges, transitions, shown_activities, shown_edges)",
        "nodes (records: activity, events, journeys, starts, ends, mean_step)",
        "edges (records: source, target, count, journeys, median_s, mean_s, p90_s)",
        "start_activities (records: activity, count)",
        "end_activities (records: activity, count)",
    )

    nodes: pa.Table
    start_activities: pa.Table
    end_activities: pa.Table
    totals: dict[str, int]
    spec: MapSpec

    @property
    def edges(self) -> pa.Table:
        return self.table

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract: nodes, edges, start/end activities as records, plus totals."""
        return {
            "key": self.spec.key.value,
            "filter": self.spec.filter.describe(),
            "totals": dict(self.totals),
            "nodes": self.nodes.to_pylist(),
            "edges": self.records(),
            "start_activities": self.start_activities.to_pylist(),
            "end_activities": self.end_activities.to_pylist(),
        }

    def plot(self) -> go.Figure:
        """The map as a left-to-right network: node size by events, edge labels count · median."""
        return _figure(self)

    def _repr_html_(self) -> str:
        t = self.totals
        head = (
            f"<p><b>Process map</b> ({self.spec.key.value}; {self.spec.filter.describe()}): "
            f"{t['journeys']:,} journeys, {t['events']:,} events; showing {t['shown_activities']:,} of "
            f"{t['activities']:,} activities and {t['shown_edges']:,} of {t['edges']:,} transitions.</p>"
        )
        nodes: str = self.nodes.to_pandas().head(50).to_html(index=False)
        edges: str = self.to_pandas().head(50).to_html(index=False)
        return head + nodes + edges


def process_map(store: Store, spec: MapSpec | None = None) -> ProcessMap:
    """Directly-follows graph of the selected journeys, with frequencies and transition times.

    Raises:
        EmptySelectionError: the filter selects no journeys.

    Example:
        >>> pm = process_map(ws.store, MapSpec(key=ActivityKey.channel))  # doctest: +SKIP
        >>> pm.to_dict()["edges"][0]  # doctest: +SKIP
        {'source': 'web', 'target': 'call_center', 'count': 812, 'journeys': 640, ...}
    """
    spec = spec or MapSpec()
    log = journey_log(store, spec.filter, spec.key, check_empty=False)
    # The transitions are stored first (compressed, one row per event) and aggregated from there:
    # as one query the engine sorted them for the window and again for each distinct count, and
    # at 50M events spilled more than 49 GB of temporary files (the hand-written floor, which
    # stores them first too, needed none of that).
    name = f"_jl_dfg_{uuid.uuid4().hex[:8]}"  # unique: maps may be computed side by side
    try:
        moves = scratch_table(store.backend, name, transitions(log), large=True)
        rows = store.execute(dfg_query(moves)).to_pylist()
    finally:
        drop_scratch(store.backend, name)
    if not rows:
        raise EmptySelectionError.for_filter(spec.filter)
    nodes, edges = _assemble(rows)
    return _apply_thresholds(nodes, edges, spec)


def transitions(log: ir.Table) -> ir.Table:
    """Every event of ``log`` with the next activity of its journey (``target``, NULL at the end)
    and the seconds until it. One window over (journey_id ORDER BY step)."""
    by_journey = ibis.window(group_by=log.journey_id, order_by=log.step)
    next_time = log.timestamp.lead().over(by_journey)
    return log.select(
        "journey_id",
        "step",
        "activity",
        target=log.activity.lead().over(by_journey),
        seconds=next_time.delta(log.timestamp, unit="microsecond").cast("float64") / 1e6,
    )


def dfg_query(t: ir.Table) -> ir.Table:
    """The whole map from :func:`transitions` as one query: ``pair`` rows per (activity, target)
    incl. a NULL target (the journey ends there) and ``node`` rows with distinct journeys per
    activity."""
    pairs = t.group_by(["activity", "target"]).agg(
        count=t.count(),
        journeys=t.journey_id.nunique(),
        starts=(t.step == 1).sum().cast("int64"),
        step_sum=t.step.sum().cast("int64"),
        median_s=t.seconds.median(),
        mean_s=t.seconds.mean(),
        p90_s=t.seconds.quantile(0.9),
    )
    per_node = t.group_by("activity").agg(journeys=t.journey_id.nunique())
    none_int, none_float = ibis.null("int64"), ibis.null("float64")
    return pairs.select(
        part=ibis.literal("pair"),
        activity=pairs.activity,
        target=pairs.target,
        count=pairs["count"].cast("int64"),
        journeys=pairs.journeys.cast("int64"),
        starts=pairs.starts,
        step_sum=pairs.step_sum,
        median_s=pairs.median_s.cast("float64"),
        mean_s=pairs.mean_s.cast("float64"),
        p90_s=pairs.p90_s.cast("float64"),
    ).union(
        per_node.select(
            part=ibis.literal("node"),
            activity=per_node.activity,
            target=ibis.null("string"),
            count=none_int,
            journeys=per_node.journeys.cast("int64"),
            starts=none_int,
            step_sum=none_int,
            median_s=none_float,
            mean_s=none_float,
            p90_s=none_float,
        )
    )


def _assemble(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Nodes and edges from the aggregated rows (at most activities² + activities of them)."""
    nodes: dict[str, dict[str, Any]] = {}
    edges: list[dict[str, Any]] = []

    def node(activity: str) -> dict[str, Any]:
        return nodes.setdefault(
            activity, {"activity": activity, "events": 0, "journeys": 0, "starts": 0, "ends": 0, "_steps": 0}
        )

    for row in rows:
        n = node(row["activity"])
        if row["part"] == "node":
            n["journeys"] = row["journeys"]
            continue
        n["events"] += row["count"]
        n["starts"] += row["starts"]
        n["_steps"] += row["step_sum"]
        if row["target"] is None:
            n["ends"] += row["count"]
        else:
            edges.append(
                {
                    "source": row["activity"],
                    "target": row["target"],
                    **{k: row[k] for k in ("count", "journeys", "median_s", "mean_s", "p90_s")},
                }
            )
    for n in nodes.values():
        n["mean_step"] = n.pop("_steps") / n["events"]
    ranked_nodes = sorted(nodes.values(), key=lambda n: (-n["events"], n["activity"]))
    ranked_edges = sorted(edges, key=lambda e: (-e["count"], e["source"], e["target"]))
    return ranked_nodes, ranked_edges


def _apply_thresholds(nodes: list[dict[str, Any]], edges: list[dict[str, Any]], spec: MapSpec) -> ProcessMap:
    shown_nodes = [n for n in nodes if n["events"] >= spec.min_node_events][: spec.max_nodes]
    names = {n["activity"] for n in shown_nodes}
    shown_edges = [
        e
        for e in edges
        if e["count"] >= spec.min_edge_count and e["source"] in names and e["target"] in names
    ][: spec.max_edges]
    totals = {
        "journeys": sum(n["starts"] for n in nodes),
        "events": sum(n["events"] for n in nodes),
        "activities": len(nodes),
        "edges": len(edges),
        "transitions": sum(e["count"] for e in edges),
        "shown_activities": len(shown_nodes),
        "shown_edges": len(shown_edges),
    }
    return ProcessMap(
        table=pa.Table.from_pylist(shown_edges, schema=EDGE_SCHEMA),
        nodes=pa.Table.from_pylist(shown_nodes, schema=NODE_SCHEMA),
        start_activities=_endpoints(shown_nodes, "starts"),
        end_activities=_endpoints(shown_nodes, "ends"),
        totals=totals,
        spec=spec,
    )


def _endpoints(nodes: list[dict[str, Any]], field: str) -> pa.Table:
    rows = [{"activity": n["activity"], "count": n[field]} for n in nodes if n[field] > 0]
    rows.sort(key=lambda r: (-r["count"], r["activity"]))
    return pa.Table.from_pylist(rows, schema=ENDPOINT_SCHEMA)


def _figure(pm: ProcessMap) -> go.Figure:
    """Nodes placed left to right by their typical position in the journey (mean step), spread
    vertically within a column; artificial start and end nodes; edges as arrows with labels."""
    import plotly.graph_objects as go

    nodes = pm.nodes.to_pylist()
    columns: dict[int, list[str]] = {}
    for n in sorted(nodes, key=lambda n: (n["mean_step"], -n["events"], n["activity"])):
        columns.setdefault(round(n["mean_step"]), []).append(n["activity"])
    pos: dict[str, tuple[float, float]] = {}
    for col, names in columns.items():
        for row, name in enumerate(names):
            # Centred on the axis; odd columns shifted half a row so straight edges miss nodes.
            pos[name] = (float(col), (len(names) - 1) / 2 - row + (0.25 if col % 2 else 0.0))
    first = min((x for x, _ in pos.values()), default=1.0) - 1
    last = max((x for x, _ in pos.values()), default=1.0) + 1
    start, end = "▶ start", "■ end"
    pos[start], pos[end] = (first, 0.0), (last, 0.0)
    links = [(e["source"], e["target"], e["count"], _label(e)) for e in pm.edges.to_pylist()]
    links += [(start, r["activity"], r["count"], f"{r['count']:,}") for r in pm.start_activities.to_pylist()]
    links += [(r["activity"], end, r["count"], f"{r['count']:,}") for r in pm.end_activities.to_pylist()]
    top = max((c for *_, c, _ in links), default=1)
    # One layout update with every arrow: add_annotation per edge re-validates the whole list each
    # time (quadratic; a minute for 300 edges).
    arrows = [
        {
            "x": pos[target][0], "y": pos[target][1], "ax": pos[source][0], "ay": pos[source][1],
            "xref": "x", "yref": "y", "axref": "x", "ayref": "y", "showarrow": True, "arrowhead": 2,
            "arrowsize": 1, "arrowwidth": 1 + 5 * count / top, "opacity": 0.5, "standoff": 12,
            "startstandoff": 12, "text": "",
        }
        for source, target, count, _ in links
    ]  # fmt: skip
    fig = go.Figure(layout={"annotations": arrows})
    fig.add_trace(
        go.Scatter(
            # A third of the way from the source, so a->b and b->a labels do not overlap.
            x=[pos[s][0] + (pos[t][0] - pos[s][0]) / 3 for s, t, *_ in links],
            y=[pos[s][1] + (pos[t][1] - pos[s][1]) / 3 + (0.2 if s == t else 0.0) for s, t, *_ in links],
            text=[label for *_, label in links],
            mode="text",
            textfont={"size": 10, "color": "#444"},
            hoverinfo="text",
            hovertext=[f"{s} → {t}: {label}" for s, t, _, label in links],
            showlegend=False,
        )
    )
    events = [n["events"] for n in nodes]
    biggest = max(events, default=1)
    fig.add_trace(
        go.Scatter(
            x=[pos[n["activity"]][0] for n in nodes] + [first, last],
            y=[pos[n["activity"]][1] for n in nodes] + [0.0, 0.0],
            text=[n["activity"] for n in nodes] + [start, end],
            mode="markers+text",
            textposition="top center",
            marker={"size": [14 + 26 * e / biggest for e in events] + [14, 14], "color": "#4C78A8"},
            hovertext=[
                f"{n['activity']}<br>{n['events']:,} events in {n['journeys']:,} journeys<br>"
                f"starts {n['starts']:,} · ends {n['ends']:,}"
                for n in nodes
            ]
            + [f"{pm.totals['journeys']:,} journeys start", f"{pm.totals['journeys']:,} journeys end"],
            hoverinfo="text",
            showlegend=False,
        )
    )
    t = pm.totals
    fig.update_layout(
        title=f"Process map ({pm.spec.key.value}): {t['shown_activities']} of {t['activities']} activities, "
        f"{t['shown_edges']} of {t['edges']} transitions; labels: count · median time",
        xaxis={"visible": False},
        yaxis={"visible": False},
        plot_bgcolor="white",
        height=max(450, 110 * max((len(c) for c in columns.values()), default=1) + 150),
    )
    return fig


def _label(edge: dict[str, Any]) -> str:
    median = edge["median_s"]
    return f"{edge['count']:,}" + ("" if median is None else f" · {duration_text(median)}")
