"""Paths after, before or between touchpoints, as Sankey data whose totals always reconcile.

Every journey is read as its sequence of activities in ``step`` order (see
:func:`~journeylens.discovery.selection.journey_log`). The **anchor** is the *first* occurrence of
the chosen activity in the journey (an activity under the spec's key: a touchpoint by default,
``web:billing_faq`` under ``channel:touchpoint``); a journey without it is not drawn and is
counted in ``journeys_without_anchor``.

- **after** (``start``): depth 0 is the anchor, depth ``d`` the ``d``-th event after it.
- **before** (``end``): depth 0 is the anchor, depth ``-d`` the ``d``-th event before it; the
  Sankey runs left to right into the anchor.
- **between** (``start`` and ``end``): after the first ``start``, up to the first ``end`` that
  follows it. Journeys whose ``end`` never follows go straight to ``drop-off``; a journey that
  reaches ``end`` stays there (``reached``) for the remaining depths; one that reaches it more
  than ``steps`` events later shows its first ``steps`` events (``reached_end`` counts it).
- **from the journey start** (neither): depth 0 is the virtual ``journey-start`` node and depth
  ``d`` the ``d``-th event of the journey; every selected journey is anchored.

At each depth only the ``top`` most frequent activities are kept (ties by name); the rest become
``other``. Anchors are never bucketed. A journey that has run out of events is in ``drop-off``
(after, between) or ``journey-start`` (before, on the far side) and is *carried* there to the last
depth: so the links of every ``step_index`` sum to ``anchored_journeys``, which is the number of
selected journeys that contain the anchor (a funnel's first-step count for the same filter).
Links carry the kind of each end (``activity``, ``other``, ``drop-off``, ``journey-start``,
``reached``), so a real activity called ``other`` is never confused with the bucket.

The whole walk, totals included, is one Ibis query: window aggregates per journey (anchor, length
and, between, the end), one join with the small top-K table and one ``lag`` over ``journey_id
ORDER BY pos``; no join per depth and no order assumed. Only the aggregated links are touched in
Python (to add the carried buckets).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from journeylens.discovery._result import TableResult
from journeylens.discovery.selection import EmptySelectionError, activity_expr, journey_log
from journeylens.errors import JourneyLensError, close_matches
from journeylens.specs.discovery import ActivityKey, PathMode, PathsSpec
from journeylens.store import Store

if TYPE_CHECKING:
    import plotly.graph_objects as go

LINK_COLUMNS = ("step_index", "source", "target", "count", "source_kind", "target_kind", "carried")


class NodeKind(StrEnum):
    """What a Sankey node stands for."""

    activity = "activity"
    other = "other"
    drop_off = "drop-off"
    journey_start = "journey-start"
    reached = "reached"


class UnknownActivityError(JourneyLensError, ValueError):
    """A path anchor that no event has, with the closest names that do exist."""

    @classmethod
    def for_anchor(cls, role: str, value: str, key: ActivityKey, known: list[str]) -> UnknownActivityError:
        what = "touchpoint" if key is ActivityKey.touchpoint else f"activity (key {key.value})"
        near = close_matches(value, known)
        listing = ", ".join(repr(k) for k in near)
        return cls(
            f"Unknown {role} {what} {value!r}: no event has it."
            + (f" Close matches: {listing}." if near else ""),
            hint=(f"Did you mean {listing}? " if near else "")
            + "`journeylens touchpoints` lists every touchpoint and channel"
            + ("." if key is ActivityKey.touchpoint else f"; under --key {key.value} write e.g. 'web:home'."),
        )


@dataclass(frozen=True)
class PathsResult(TableResult):
    """Sankey links (``table``) plus the totals they reconcile with.

    ``table`` has one row per link: ``step_index`` (1..steps, left to right), ``source``,
    ``target``, ``count`` (journeys), ``source_kind``, ``target_kind`` and ``carried`` (the journey
    had already left the path: drop-off, journey-start or reached carried to the next depth).
    """

    #: The JSON contract (docs/cli.md reads it): ``to_dict()`` keys, with the record fields.
    JSON_FIELDS: ClassVar[tuple[str, ...]] = (
        "spec",
        "totals (object: mode, selected_journeys, anchored_journeys, journeys_without_anchor, ...)",
        "links (records: step_index, source, target, count, source_kind, target_kind, carried)",
        "nodes (records: depth, label, kind, count)",
    )

    spec: PathsSpec
    selected_journeys: int
    anchored_journeys: int
    reached_end: int | None = None

    @property
    def journeys_without_anchor(self) -> int:
        return self.selected_journeys - self.anchored_journeys

    def step_totals(self) -> dict[int, int]:
        """Journeys per ``step_index``: each equals ``anchored_journeys``."""
        totals: dict[int, int] = defaultdict(int)
        for link in self.records():
            totals[link["step_index"]] += link["count"]
        return dict(sorted(totals.items()))

    def nodes(self) -> list[dict[str, Any]]:
        """(depth, label, kind, count): journeys at each node; depths run 0..steps or -steps..0."""
        first = -self.spec.steps if self.spec.mode is PathMode.before else 0
        counts: dict[tuple[int, str, str], int] = defaultdict(int)
        for link in self.records():
            step = link["step_index"]
            if step == 1:
                counts[(first, link["source"], link["source_kind"])] += link["count"]
            counts[(first + step, link["target"], link["target_kind"])] += link["count"]
        return [
            {"depth": d, "label": label, "kind": kind, "count": n}
            for (d, label, kind), n in sorted(counts.items(), key=lambda kv: (kv[0][0], -kv[1], kv[0][1:]))
        ]

    def totals(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mode": self.spec.mode.value,
            "selected_journeys": self.selected_journeys,
            "anchored_journeys": self.anchored_journeys,
            "journeys_without_anchor": self.journeys_without_anchor,
        }
        if self.reached_end is not None:
            out["reached_end"] = self.reached_end
            out["end_not_reached"] = self.anchored_journeys - self.reached_end
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec.model_dump(mode="json"),
            "totals": self.totals(),
            "links": self.records(),
            "nodes": self.nodes(),
        }

    def plot(self) -> go.Figure:
        """A plotly Sankey; carried links are left out so drop-offs read as where journeys ended."""
        import plotly.graph_objects as go

        index: dict[tuple[int, str, str], int] = {}
        first = -self.spec.steps if self.spec.mode is PathMode.before else 0

        def node(depth: int, label: str, kind: str) -> int:
            kind = NodeKind.activity.value if kind == NodeKind.reached.value else kind
            return index.setdefault((depth, label, kind), len(index))

        sources, targets, values = [], [], []
        for link in self.records():
            if link["carried"]:
                continue
            depth = first + link["step_index"]
            sources.append(node(depth - 1, link["source"], link["source_kind"]))
            targets.append(node(depth, link["target"], link["target_kind"]))
            values.append(link["count"])
        grey = {
            NodeKind.drop_off.value: "#bbbbbb",
            NodeKind.other.value: "#dddddd",
            NodeKind.journey_start.value: "#dddddd",
        }
        labels = list(index)
        figure = go.Figure(
            go.Sankey(
                node={
                    "label": [label for _, label, _ in labels],
                    "color": [grey.get(kind, "#4c78a8") for _, _, kind in labels],
                    "pad": 12,
                },
                link={"source": sources, "target": targets, "value": values},
            )
        )
        title = f"Paths ({self.spec.mode.value}), {self.anchored_journeys:,} journeys"
        return figure.update_layout(title=title)

    def _repr_html_(self) -> str:
        totals = ", ".join(f"{k}: {v}" for k, v in self.totals().items())
        return f"<p>{totals}</p>" + super()._repr_html_()


def paths(store: Store, spec: PathsSpec | None = None) -> PathsResult:
    """Paths after / before / between touchpoints of the selected journeys, as Sankey links.

    Raises:
        UnknownActivityError: ``start`` or ``end`` is not an activity of any event.
        EmptySelectionError: the filter selects no journeys.

    Example:
        >>> result = paths(ws.store, PathsSpec(start="billing_faq", steps=3))  # doctest: +SKIP
        >>> set(result.step_totals().values()) == {result.anchored_journeys}  # doctest: +SKIP
        True
    """
    spec = spec or PathsSpec()
    check_anchors(store, spec)
    log = journey_log(store, spec.filter, spec.key, check_empty=False)
    result = paths_from_log(log, spec, store.execute)
    if result.selected_journeys == 0:  # counted by the same query, not by a query of its own
        raise EmptySelectionError.for_filter(spec.filter)
    return result


def check_anchors(store: Store, spec: PathsSpec) -> None:
    """Raise :class:`UnknownActivityError` for an anchor that no stored event has."""
    anchors = {role: v for role, v in (("start", spec.start), ("end", spec.end)) if v is not None}
    if not anchors:
        return
    events = store.table("events")
    activity = activity_expr(events, spec.key)
    found = store.execute(
        events.filter(activity.isin(list(anchors.values()))).select(activity=activity).distinct()
    )
    present = set(found.column("activity").to_pylist())
    for role, value in anchors.items():
        if value not in present:
            vocabulary = store.execute(events.select(activity=activity).distinct())
            known = sorted(str(a) for a in vocabulary.column("activity").to_pylist() if a is not None)
            raise UnknownActivityError.for_anchor(role, value, spec.key, known)


def paths_from_log(log: ir.Table, spec: PathsSpec, execute: Callable[[ir.Expr], Any]) -> PathsResult:
    """Paths over any event log with ``journey_id``, ``step`` (1..n) and ``activity`` columns.

    ``spec.filter`` is not applied here (the log is already the selection); ``execute`` runs an
    expression and returns Arrow (``Store.execute``, or a backend's ``to_pyarrow``).

    Example:
        >>> import ibis
        >>> log = ibis.memtable({"journey_id": ["j1", "j1"], "step": [1, 2], "activity": ["a", "b"]})
        >>> paths_from_log(log, PathsSpec(start="a", steps=1), ibis.duckdb.connect().to_pyarrow).records()
        [{'step_index': 1, 'source': 'a', 'target': 'b', 'count': 1, 'source_kind': 'activity', 'target_kind': 'activity', 'carried': False}]
    """  # noqa: E501 - a doctest line cannot be wrapped
    walk = _walk(log.select("journey_id", "step", "activity"), spec)
    rows = execute(_links(walk, spec).union(_totals(walk, spec))).to_pylist()
    totals = {r["near_label"]: int(r["n"] or 0) for r in rows if r["part"] == "total"}
    selected, anchored = totals["selected"], totals["anchored"]
    reached = totals["reached"] if spec.mode is PathMode.between else None
    links = _with_carried([r for r in rows if r["part"] != "total"], spec, anchored, reached)
    table = pa.Table.from_pylist([_oriented(link, spec) for link in links], schema=_SCHEMA)
    order = [("step_index", "ascending"), ("count", "descending"), ("source", "ascending")]
    return PathsResult(table.sort_by([*order, ("target", "ascending")]), spec, selected, anchored, reached)


_SCHEMA = pa.schema(
    [
        ("step_index", pa.int64()),
        ("source", pa.string()),
        ("target", pa.string()),
        ("count", pa.int64()),
        ("source_kind", pa.string()),
        ("target_kind", pa.string()),
        ("carried", pa.bool_()),
    ]
)


def _walk(log: ir.Table, spec: PathsSpec) -> ir.Table:
    """Each event with ``_anchor`` (anchor step, 0 = virtual journey start), ``_last`` (the
    furthest position the journey reaches from its anchor) and ``pos`` (distance from the anchor,
    growing in the direction of the walk)."""
    in_journey = ibis.window(group_by="journey_id")
    mode = spec.mode
    length = log.step.max().over(in_journey)
    if mode is PathMode.journey_start:
        walk = log.mutate(_anchor=ibis.literal(0, type="int64"), _length=length, _end=ibis.null("int64"))
    else:
        anchor_name = spec.end if mode is PathMode.before else spec.start
        first = ibis.cases((log.activity == anchor_name, log.step)).min().over(in_journey)
        walk = log.mutate(_anchor=first, _length=length, _end=ibis.null("int64"))
    if mode is PathMode.between:
        after_start = (walk.activity == spec.end) & (walk.step > walk._anchor)
        walk = walk.mutate(_end=ibis.cases((after_start, walk.step)).min().over(in_journey))
    if mode is PathMode.before:
        return walk.mutate(pos=walk._anchor - walk.step, _last=walk._anchor - 1)
    last = walk._end - walk._anchor if mode is PathMode.between else walk._length - walk._anchor
    return walk.mutate(pos=walk.step - walk._anchor, _last=last)


def _totals(walk: ir.Table, spec: PathsSpec) -> ir.Table:
    """Selected, anchored and reached journeys as rows shaped like the links (``part`` 'total'),
    so that the whole result is one query and the walk is computed once."""
    first = walk.step == 1
    anchored = first if spec.mode is PathMode.journey_start else walk.step == walk._anchor
    counts = {
        "selected": first,
        "anchored": anchored.fill_null(False),
        "reached": (walk.step == walk._end).fill_null(False),
    }
    parts = [
        walk.aggregate(n=flag.cast("int64").sum()).select(
            pos=ibis.literal(0, type="int64"),
            near_label=ibis.literal(name),
            near_kind=ibis.literal(""),
            far_label=ibis.literal(""),
            far_kind=ibis.literal(""),
            n=ibis._.n.fill_null(0),
            part=ibis.literal("total"),
        )
        for name, flag in counts.items()
    ]
    return parts[0].union(*parts[1:])


def _links(walk: ir.Table, spec: PathsSpec) -> ir.Table:
    """Aggregated links in walk space: ``pos`` (1..steps), ``near_*`` at pos-1, ``far_*`` at pos.

    Rows of ``part`` 'leave' are journeys leaving the path after their last position (into the
    mode's bucket); carried links are added in Python from these.
    """
    rows = walk.filter(walk._anchor.notnull(), walk.pos >= 0, walk.pos <= spec.steps, walk.pos <= walk._last)
    is_end = rows.activity == spec.end if spec.mode is PathMode.between else ibis.literal(False)
    ranked = rows.filter(rows.pos >= 1, ~is_end).group_by("pos", "activity").agg(n=ibis._.count())
    ranked = ranked.mutate(
        rank=ibis.row_number().over(group_by="pos", order_by=[ibis.desc("n"), ibis.asc("activity")])
    )
    keep = ranked.filter(ranked.rank < spec.top).select(k_pos="pos", k_activity="activity")
    joined = rows.left_join(keep, [rows.pos == keep.k_pos, rows.activity == keep.k_activity])
    shown = (joined.pos == 0) | joined.k_pos.notnull() | is_end
    kind = ibis.ifelse(shown, NodeKind.activity.value, NodeKind.other.value)
    labelled = joined.select(
        "journey_id",
        "pos",
        "_last",
        label=ibis.ifelse(shown, joined.activity, NodeKind.other.value),
        kind=kind,
    )
    by_pos = ibis.window(group_by="journey_id", order_by="pos")
    start, start_kind = NodeKind.journey_start.value, NodeKind.journey_start.value
    steps = labelled.mutate(
        near_label=labelled.label.lag().over(by_pos).fill_null(start),
        near_kind=labelled.kind.lag().over(by_pos).fill_null(start_kind),
    )
    moved = steps.filter(steps.pos >= 1)
    moves = (
        moved.group_by("pos", "near_label", "near_kind", far_label=moved.label, far_kind=moved.kind)
        .agg(n=ibis._.count())
        .mutate(part=ibis.literal("move"))
    )
    last = labelled.filter(labelled.pos == labelled._last, labelled.pos < spec.steps)
    leaving = last.group_by("pos", near_label=last.label, near_kind=last.kind).agg(n=ibis._.count())
    bucket_label, bucket_kind = _bucket(spec)
    leaving = leaving.select(
        pos=leaving.pos + 1,
        near_label=leaving.near_label,
        near_kind=leaving.near_kind,
        far_label=leaving.near_label if bucket_kind is NodeKind.reached else ibis.literal(bucket_label),
        far_kind=ibis.literal(bucket_kind.value),
        n=leaving.n,
        part=ibis.literal("leave"),
    )
    return moves.select(*leaving.columns).union(leaving)


def _bucket(spec: PathsSpec) -> tuple[str, NodeKind]:
    """Where a journey goes once it has no further event on the path."""
    if spec.mode is PathMode.before:
        return NodeKind.journey_start.value, NodeKind.journey_start
    if spec.mode is PathMode.between:
        return NodeKind.reached.value, NodeKind.reached
    return NodeKind.drop_off.value, NodeKind.drop_off


def _with_carried(
    rows: list[dict[str, Any]], spec: PathsSpec, anchored: int, reached: int | None
) -> list[dict[str, Any]]:
    """Add the links of journeys that have left the path, so every depth sums to ``anchored``."""
    links = [
        {
            "pos": r["pos"],
            "near": (r["near_label"], r["near_kind"]),
            "far": (r["far_label"], r["far_kind"]),
            "count": int(r["n"]),
            "carried": r["part"] == "leave" and r["far_kind"] == NodeKind.reached.value,
        }
        for r in rows
    ]
    if reached is not None and anchored > reached:
        # Between: a journey whose end never follows the start leaves the path at once.
        drop = (NodeKind.drop_off.value, NodeKind.drop_off.value)
        start = (spec.start or "", NodeKind.activity.value)
        links.append({"pos": 1, "near": start, "far": drop, "count": anchored - reached, "carried": False})
    gone: dict[tuple[str, str], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for link in links:
        if link["far"][1] != NodeKind.activity.value and link["far"][1] != NodeKind.other.value:
            gone[link["far"]][link["pos"]] += link["count"]
    for node, entered in gone.items():
        for pos in range(2, spec.steps + 1):
            count = sum(n for at, n in entered.items() if at < pos)
            if count:
                links.append({"pos": pos, "near": node, "far": node, "count": count, "carried": True})
    return links


def _oriented(link: dict[str, Any], spec: PathsSpec) -> dict[str, Any]:
    """Walk space to the Sankey's left-to-right order (before-paths run into their anchor)."""
    near, far = link["near"], link["far"]
    if spec.mode is PathMode.before:
        step, (source, source_kind), (target, target_kind) = spec.steps - link["pos"] + 1, far, near
    else:
        step, (source, source_kind), (target, target_kind) = link["pos"], near, far
    return {
        "step_index": step,
        "source": source,
        "target": target,
        "count": link["count"],
        "source_kind": source_kind,
        "target_kind": target_kind,
        "carried": link["carried"],
    }
