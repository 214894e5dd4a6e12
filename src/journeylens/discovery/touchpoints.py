"""The touchpoint inventory: every touchpoint x channel of the selected journeys, measured.

One row per (touchpoint, channel) that an event of a selected journey has, sorted by volume:

- **events**, **customers** (distinct), **journeys** (distinct) and **journey_share**: journeys
  through it over the selected journeys.
- **median_position**: the median relative position of its events in their journey,
  ``(step - 1) / (n - 1)`` from 0 (first event) to 1 (last event); 0 in a one-event journey.
- **stage**: the most common step bucket of its events: ``start`` (the journey's first event),
  ``end`` (its last event, in journeys of two or more), else ``early`` (relative position below
  1/3), ``middle`` (1/3 to 2/3) or ``late`` (above 2/3). Ties go to the earlier stage.
- **success_rate** of the journeys through it (``success_n`` / ``success_d``, the denominator is
  every journey through it whose outcome is defined, as in the journeys summary) with its 95%
  Wilson interval; ``None`` with ``success_reason`` when no journey through it has a defined
  outcome (their type has no success or failure criteria).
- **median_time_to_next_s**: median seconds from its events to the next event of the same
  journey, timestamps taken to the whole second (events that end their journey have no next
  event and are left out).
- **cost**: ``unit_cost`` is the channel's cost per contact from ``[journeys] costs``; it is charged
  exactly as the journey's ``cost_to_serve`` is: per agent-handled event on an assisted channel,
  per event on any other channel (``charged_events``, ``cost``); ``assisted_contacts`` counts the
  agent-handled ones. Without ``[journeys] costs`` both are ``None`` with ``cost_reason``.
- **feedback**: for each metric (nps, csat, ces, rating) the number of responses and the mean
  score of feedback on this touchpoint and channel from customers whose selected journeys went
  through it (the customer is found by user id, anonymous id, or the case's journey).

Everything is computed by one Ibis aggregate (plus the feedback aggregate joined to it); only the
intervals are computed in Python on the aggregated rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from journeylens.discovery._result import TableResult
from journeylens.discovery.selection import journey_log, select_journeys
from journeylens.journeys.definitions import JourneyRules
from journeylens.journeys.summary import unknown_types, wilson
from journeylens.journeys.undefined import COST_REASON, UNDECIDED, undecided_reason
from journeylens.specs.discovery import ActivityKey, InventorySpec
from journeylens.specs.identity import ANONYMOUS, USER
from journeylens.store import Store

if TYPE_CHECKING:
    import plotly.graph_objects as go

METRICS = ("nps", "csat", "ces", "rating")
STAGES = ("start", "early", "middle", "late", "end")

SCHEMA = pa.schema(
    [
        ("touchpoint", pa.string()),
        ("channel", pa.string()),
        *((name, pa.int64()) for name in ("events", "customers", "journeys")),
        ("journey_share", pa.float64()),
        ("median_position", pa.float64()),
        ("stage", pa.string()),
        *((name, pa.float64()) for name in ("success_rate", "success_lo", "success_hi")),
        ("success_n", pa.int64()),
        ("success_d", pa.int64()),
        ("success_reason", pa.string()),
        ("median_time_to_next_s", pa.float64()),
        ("assisted_contacts", pa.int64()),
        ("charged_events", pa.int64()),
        ("unit_cost", pa.float64()),
        ("cost", pa.float64()),
        ("cost_reason", pa.string()),
        *(
            field
            for metric in METRICS
            for field in ((f"{metric}_responses", pa.int64()), (f"{metric}_mean", pa.float64()))
        ),
    ]
)


@dataclass(frozen=True)
class TouchpointInventory(TableResult):
    """One row per touchpoint x channel, by volume (see the module docs for each column)."""

    #: The JSON contract (docs/cli.md reads it): ``to_dict()`` keys, with the record fields.
    JSON_FIELDS: ClassVar[tuple[str, ...]] = (
        "spec",
        "selected_journeys",
        "rows (records: touchpoint, channel, events, customers, journeys, journey_share, "
        "median_position, stage, success_rate, success_lo, success_hi, success_n, success_d, "
        "success_reason, median_time_to_next_s, assisted_contacts, charged_events, unit_cost, cost, "
        "cost_reason, "
        "<metric>_responses, <metric>_mean for nps, csat, ces, rating)",
    )

    spec: InventorySpec
    selected_journeys: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec.model_dump(mode="json"),
            "selected_journeys": self.selected_journeys,
            "rows": self.records(),
        }

    def compact(self) -> list[dict[str, Any]]:
        """Rows for a terminal: the measures present, without empty feedback columns."""
        rows = self.records()
        empty = {
            name
            for name in self.table.column_names
            if name.startswith(METRICS) and all(r[name] in (None, 0) for r in rows)
        }
        return [{k: v for k, v in r.items() if k not in empty} for r in rows]

    def plot(self) -> go.Figure:
        """Volume (log scale) against the success rate of journeys through each touchpoint."""
        import plotly.graph_objects as go

        figure = go.Figure()
        by_channel: dict[str, list[dict[str, Any]]] = {}
        # A touchpoint whose journeys have no defined outcome has no rate to place on the axis.
        for row in (r for r in self.records() if r["success_rate"] is not None):
            by_channel.setdefault(row["channel"], []).append(row)
        for channel, rows in sorted(by_channel.items()):
            rate = [r["success_rate"] for r in rows]
            figure.add_trace(
                go.Scatter(
                    x=[r["events"] for r in rows],
                    y=rate,
                    mode="markers",
                    name=channel,
                    text=[r["touchpoint"] for r in rows],
                    error_y={
                        "type": "data",
                        "symmetric": False,
                        "array": [r["success_hi"] - r["success_rate"] for r in rows],
                        "arrayminus": [r["success_rate"] - r["success_lo"] for r in rows],
                    },
                    hovertemplate="%{text}<br>events %{x:,}<br>success %{y:.1%}<extra>"
                    + channel
                    + "</extra>",
                )
            )
        return figure.update_layout(
            title=f"Touchpoints: volume and success rate ({self.selected_journeys:,} journeys"
            + (")" if by_channel else "; no outcome is defined, so there is no success rate)"),
            xaxis={"type": "log", "title": "events"},
            yaxis={"title": "success rate of journeys through it", "tickformat": ".0%"},
        )


def touchpoint_inventory(
    store: Store, spec: InventorySpec | None = None, rules: JourneyRules | None = None
) -> TouchpointInventory:
    """Every touchpoint x channel of the selected journeys with volume, reach, stage, outcome,
    time, cost and feedback.

    Args:
        store: the workspace store (journeys must be built).
        spec: the journeys to cover; all of them by default.
        rules: the journey rules whose ``costs`` price contacts (the defaults when omitted; pass
            ``workspace.config.journeys``).

    Raises:
        EmptySelectionError: the filter selects no journeys.

    Example:
        >>> inv = touchpoint_inventory(ws.store, InventorySpec(), ws.config.journeys)  # doctest: +SKIP
        >>> inv.to_pandas()[["touchpoint", "channel", "events", "success_rate"]].head()  # doctest: +SKIP
    """
    spec = spec or InventorySpec()
    rules = rules or JourneyRules()
    log = journey_log(store, spec.filter, ActivityKey.touchpoint)
    selected = int(store.execute(log.filter(log.step == 1).count()).as_py())
    measures = _measures(store, log, rules)
    feedback = _feedback(store, log)
    joined = measures.left_join(
        feedback, [measures.touchpoint == feedback.f_touchpoint, measures.channel == feedback.f_channel]
    ).drop("f_touchpoint", "f_channel")
    joined = joined.filter(joined.events >= spec.min_events)
    order = [ibis.desc("events"), ibis.asc("touchpoint"), ibis.asc("channel")]
    rows = store.execute(joined.order_by(order)).to_pylist()
    unknown = undecided_reason(unknown_types(store, select_journeys(store, spec.filter)))
    cost_reason = None if rules.priced() else COST_REASON
    finished = [_finish(r, selected, unknown, cost_reason) for r in rows]
    table = pa.Table.from_pylist(finished, schema=SCHEMA)
    return TouchpointInventory(table, spec, selected)


def _measures(store: Store, log: ir.Table, rules: JourneyRules) -> ir.Table:
    events = store.table("events")
    agents = events.select(e_id=events.event_id, agent_id=events.agent_id)
    rows = log.join(agents, log.event_id == agents.e_id)
    in_journey = ibis.window(group_by="journey_id")
    in_order = ibis.window(group_by="journey_id", order_by="step")
    rows = rows.mutate(_n=rows.step.max().over(in_journey), _next=rows.timestamp.lead().over(in_order))
    rel = ibis.ifelse(rows._n > 1, (rows.step - 1).cast("float64") / (rows._n - 1), 0.0)
    stage = ibis.cases(
        (rows.step == 1, "start"),
        (rows.step == rows._n, "end"),
        (rel < 1 / 3, "early"),
        (rel <= 2 / 3, "middle"),
        else_="late",
    )
    on_assisted = rows.channel.isin(rules.assisted_channels)
    assisted = on_assisted & rows.agent_id.notnull()
    charged = assisted | ~on_assisted
    # Unpriced, the aggregate still needs a column (a literal has no max); the values are then
    # reported as not defined (see _finish).
    priced = [(rows.channel == channel, cost) for channel, cost in rules.costs.items()]
    unit = ibis.cases(*(priced or [(rows.channel.isnull(), 0.0)]), else_=0.0)
    success = rows.outcome == "success"
    per = rows.group_by("touchpoint", "channel").agg(
        events=rows.count(),
        customers=rows.customer_id.nunique(),
        journeys=rows.journey_id.nunique(),
        success_n=rows.journey_id.nunique(where=success),
        success_d=rows.journey_id.nunique(where=~rows.outcome.isin(UNDECIDED)),
        median_position=rel.median(),
        median_time_to_next_s=(_whole_seconds(rows._next) - _whole_seconds(rows.timestamp)).median(),
        assisted_contacts=assisted.cast("int64").sum(),
        charged_events=charged.cast("int64").sum(),
        unit_cost=unit.cast("float64").max(),
        cost=ibis.ifelse(charged, unit, 0.0).cast("float64").sum(),
        **{f"_stage_{name}": (stage == name).cast("int64").sum() for name in STAGES},
    )
    counts = [per[f"_stage_{name}"] for name in STAGES]
    top = ibis.greatest(*counts)
    modal = ibis.cases(*((count == top, name) for name, count in zip(STAGES, counts, strict=True)))
    return per.mutate(stage=modal).drop(*(f"_stage_{name}" for name in STAGES))


def _whole_seconds(ts: ir.TimestampValue) -> ir.IntegerValue:
    # Engines differ in sub-second epochs (DuckDB keeps the fraction, Spark's unix_timestamp drops
    # it): whole seconds everywhere, so results agree across engines.
    return ts.epoch_seconds().floor()


def _feedback(store: Store, log: ir.Table) -> ir.Table:
    """Responses per metric on each touchpoint x channel, from customers who went through it."""
    fb = store.table("feedback")
    cmap = store.backend.table("customer_map")
    users, anons = cmap.filter(cmap.identifier_type == USER), cmap.filter(cmap.identifier_type == ANONYMOUS)
    by_user = users.select(u_value=users.identifier_value, u_cust=users.customer_id)
    by_anon = anons.select(a_value=anons.identifier_value, a_cust=anons.customer_id)
    journeys = store.backend.table("journeys")
    by_case = (
        journeys.filter(journeys.case_id.notnull())
        .group_by(c_value=journeys.case_id)
        .agg(c_cust=journeys.customer_id.min())
    )
    linked = (
        fb.left_join(by_user, fb.user_id == by_user.u_value)
        .left_join(by_anon, fb.anonymous_id == by_anon.a_value)
        .left_join(by_case, fb.case_id == by_case.c_value)
    )
    linked = linked.select(
        "touchpoint",
        "channel",
        "metric",
        "score",
        customer_id=ibis.coalesce(linked.u_cust, linked.a_cust, linked.c_cust),
    )
    visited = log.select("customer_id", "touchpoint", "channel").distinct()
    # ``view()`` closes the join chain: Ibis cannot extend a chain whose projection mixes columns of
    # several of its tables (the coalesce above).
    scoped = linked.view().semi_join(visited, ["customer_id", "touchpoint", "channel"])
    per_metric: dict[str, ir.Value] = {}
    for metric in METRICS:
        hit = scoped.metric == metric
        per_metric[f"{metric}_responses"] = hit.cast("int64").sum()
        per_metric[f"{metric}_mean"] = scoped.score.cast("float64").mean(where=hit)
    return scoped.group_by(f_touchpoint=scoped.touchpoint, f_channel=scoped.channel).agg(**per_metric)


def _finish(row: dict[str, Any], selected: int, unknown: str, cost_reason: str | None) -> dict[str, Any]:
    """Rates and intervals on one aggregated row; columns in reading order."""
    n, d, journeys = int(row["success_n"]), int(row["success_d"]), int(row["journeys"])
    lo, hi = wilson(n, d)
    out: dict[str, Any] = {
        "touchpoint": row["touchpoint"],
        "channel": row["channel"],
        "events": int(row["events"]),
        "customers": int(row["customers"]),
        "journeys": journeys,
        "journey_share": journeys / selected if selected else None,
        "median_position": row["median_position"],
        "stage": row["stage"],
        "success_rate": n / d if d else None,
        "success_lo": lo,
        "success_hi": hi,
        "success_n": n,
        "success_d": d,
        "success_reason": None if d else unknown,
        "median_time_to_next_s": row["median_time_to_next_s"],
        "assisted_contacts": int(row["assisted_contacts"]),
        "charged_events": int(row["charged_events"]),
        "unit_cost": None if cost_reason else row["unit_cost"],
        "cost": None if cost_reason else row["cost"],
        "cost_reason": cost_reason,
    }
    for metric in METRICS:
        out[f"{metric}_responses"] = int(row[f"{metric}_responses"] or 0)
        out[f"{metric}_mean"] = row[f"{metric}_mean"]
    return out
