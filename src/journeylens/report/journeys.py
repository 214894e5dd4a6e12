"""The report's journeys section: outcomes, leakage, repeat contacts and cost to serve.

It reads the ``journeys`` table that ``journeylens build`` writes and is left out until that
table exists. Outcome rates come from :func:`journey_summary`, so the report and
``journeylens journeys summary`` share one definition of every numerator and denominator; each
rate is shown with its 95% Wilson interval and its counts (see :func:`rate_cell`).
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from journeylens.errors import NotFoundError
from journeylens.journeys.build import require_journeys
from journeylens.journeys.outcomes import OUTCOMES
from journeylens.journeys.summary import (
    DENOMINATORS,
    UNKNOWN,
    JourneySummarySpec,
    SummaryBy,
    journey_summary,
    wilson,
)
from journeylens.report.sections import CHANNEL_COLORS, Section
from journeylens.store import Store

TITLE = "Journeys"
OUTCOME_COLORS = {"success": "#54A24B", "failed": "#E45756", "abandoned": "#BAB0AC", "open": "#4C78A8"}
RATE_LABELS = {
    "success": "success",
    "abandoned": "abandoned",
    "leakage": "leakage",
    "first_contact_resolution": "first-contact resolution",
    "repeat_contact": "repeat contact",
    "repeat_journey": "repeat journey",
}
"""Rates of :func:`journey_summary` shown in the tables, with their column headings."""
TOP_LEAKAGE = 15
SUPPORT = "support"
"""The default journey type whose assisted contacts are counted; other rule sets may lack it."""


def rate_cell(n: int, d: int) -> str:
    """A rate as the report prints it: percentage, 95% Wilson interval, numerator/denominator.

    Example:
        >>> rate_cell(1480, 2384)
        '62.1% (60.1–64.0%) 1,480/2,384'
    """  # noqa: RUF002 - interval bounds are joined by an en dash, as typeset ranges are

    lo, hi = wilson(n, d)
    if lo is None or hi is None:
        return f"n/a {n:,}/{d:,}"
    return f"{n / d:.1%} ({lo * 100:.1f}–{hi * 100:.1f}%) {n:,}/{d:,}"


def _money(value: float) -> str:
    # Strings, because the table writer prints floats to four significant digits (1.235e+04).
    return f"{value:,.2f}"


def _headline(by_type: list[dict[str, Any]]) -> dict[str, str]:
    # Journey types partition the journeys, so per-type counts add up to the overall ones.
    def total(key: str) -> Any:
        return sum(row[key] for row in by_type)

    def rate(name: str) -> str:
        return rate_cell(total(f"{name}_n"), total(f"{name}_d"))

    return {
        "Journeys": f"{total('journeys'):,}",
        "Success rate": rate("success"),
        "Leakage rate": rate("leakage"),
        "First-contact resolution": rate("first_contact_resolution"),
        "Repeat journeys": rate("repeat_journey"),
        "Total cost to serve": _money(total("cost_total")),
    }


def _rate_table(rows: list[dict[str, Any]], label: str) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                label: row["group"],
                "journeys": f"{row['journeys']:,}",
                **{
                    title: rate_cell(row[f"{name}_n"], row[f"{name}_d"])
                    for name, title in RATE_LABELS.items()
                },
                "mean cost (95% CI)": f"{_money(row['cost_mean'])} ± {_money(row['cost_half_width'])}",
                "median duration (h)": row["median_duration_h"],
            }
            for row in rows
        ]
    )


def _outcomes_by_type(store: Store, journeys: ir.Table) -> go.Figure:
    counts = journeys.group_by(["journey_type", "outcome"]).agg(journeys=journeys.count())
    frame = store.execute(counts.order_by(["journey_type", "outcome"])).to_pandas()
    return px.bar(
        frame, x="journey_type", y="journeys", color="outcome", color_discrete_map=OUTCOME_COLORS,
        category_orders={"outcome": list(OUTCOMES)}, title="Journeys by type and outcome",
        labels={"journey_type": "journey type"},
    )  # fmt: skip


def _success_by_segment(by_segment: list[dict[str, Any]]) -> go.Figure:
    frame = pd.DataFrame(by_segment)
    figure = px.bar(
        frame, x="group", y="success_rate", title="Success rate by customer segment (95% interval)",
        error_y=frame.success_hi - frame.success_rate, error_y_minus=frame.success_rate - frame.success_lo,
        labels={"group": "segment", "success_rate": "success rate"},
        hover_data={"success_n": True, "success_d": True},
    )  # fmt: skip
    figure.update_yaxes(tickformat=".0%", rangemode="tozero")
    return figure


def _shares(grouped: ir.Table) -> ir.Table:
    return grouped.mutate(share=(grouped.journeys / grouped.journeys.sum().over(ibis.window())).round(4))


def _leakage(store: Store, journeys: ir.Table) -> pd.DataFrame:
    leaked = journeys.filter(journeys.leakage.fill_null(False))
    where = leaked.leakage_touchpoint.fill_null(UNKNOWN).name("leakage_touchpoint")
    grouped = _shares(leaked.group_by(where).agg(journeys=leaked.count()))
    top = grouped.order_by([ibis.desc("journeys"), "leakage_touchpoint"]).limit(TOP_LEAKAGE)
    return store.execute(top).to_pandas()


def _leakage_figure(top: pd.DataFrame) -> go.Figure:
    # Largest at the top of a horizontal bar chart.
    shown = top.iloc[::-1]
    figure = px.bar(
        shown, x="journeys", y="leakage_touchpoint", orientation="h", hover_data={"share": ":.1%"},
        title=f"Top {TOP_LEAKAGE} leakage touchpoints: last digital step before an assisted contact",
        labels={"leakage_touchpoint": "", "journeys": "leakage journeys"},
    )  # fmt: skip
    figure.update_layout(height=max(320, 28 * len(shown) + 120))
    return figure


def _support_contacts(store: Store, journeys: ir.Table) -> pd.DataFrame:
    support = journeys.filter(journeys.journey_type == SUPPORT)
    grouped = _shares(support.group_by("assisted_contacts").agg(journeys=support.count()))
    return store.execute(grouped.order_by("assisted_contacts")).to_pandas()


def _contacts_figure(contacts: pd.DataFrame) -> go.Figure:
    return px.bar(
        contacts, x="assisted_contacts", y="journeys", hover_data={"share": ":.1%"},
        title="Assisted contacts per support journey (0 = served without an agent)",
        labels={"assisted_contacts": "assisted contacts", "journeys": "support journeys"},
    )  # fmt: skip


def _cost(store: Store, journeys: ir.Table) -> pd.DataFrame:
    cost = journeys.cost_to_serve
    grouped = journeys.group_by(["journey_type", "first_channel"]).agg(
        journeys=journeys.count(), total=cost.sum(), mean=cost.mean()
    )
    ordered = grouped.order_by([ibis.desc("total"), "journey_type", "first_channel"])
    return store.execute(ordered).to_pandas()


def _cost_figure(by: pd.DataFrame) -> go.Figure:
    return px.bar(
        by, x="journey_type", y="total", color="first_channel", color_discrete_map=CHANNEL_COLORS,
        title="Cost to serve by journey type and first channel",
        hover_data={"journeys": True, "mean": ":.2f"},
        labels={
            "journey_type": "journey type", "total": "total cost to serve", "first_channel": "first channel",
        },
    )  # fmt: skip


def _cost_table(by: pd.DataFrame) -> pd.DataFrame:
    return by.assign(total=by.total.map(_money), mean=by["mean"].map(_money))


INTRO = (
    "A journey is one customer's episode around one intent (buying, getting help, finding "
    "information) across channels and days. Leakage counts journeys that used a digital channel "
    "before their first assisted contact; its rate is over {leakage}. First-contact resolution and "
    "repeat contacts are over {contacted}; the other rates over all journeys. Every rate shows its "
    "95% interval and numerator/denominator."
).format(leakage=DENOMINATORS["leakage"], contacted=DENOMINATORS["first_contact_resolution"])


def journeys_section(store: Store) -> Section | None:
    """Outcomes, leakage, repeat contacts and cost to serve (after ``journeylens build``)."""
    try:
        journeys = require_journeys(store)
    except NotFoundError:
        return None
    by_type = journey_summary(store, JourneySummarySpec(by=SummaryBy.journey_type)).rows
    if not by_type:
        return Section(TITLE, intro="No journeys were found in the events.")
    by_segment = journey_summary(store, JourneySummarySpec(by=SummaryBy.segment)).rows
    leakage = _leakage(store, journeys)
    contacts = _support_contacts(store, journeys)
    cost = _cost(store, journeys)
    figures = [_outcomes_by_type(store, journeys), _success_by_segment(by_segment)]
    tables = [
        ("Outcome rates by journey type", _rate_table(by_type, "journey type")),
        ("Outcome rates by customer segment", _rate_table(by_segment, "segment")),
    ]
    if not leakage.empty:
        figures.append(_leakage_figure(leakage))
        tables.append(("Top leakage touchpoints", leakage))
    if not contacts.empty:
        figures.append(_contacts_figure(contacts))
        tables.append(("Assisted contacts per support journey", contacts))
    figures.append(_cost_figure(cost))
    tables.append(("Cost to serve by journey type and first channel", _cost_table(cost)))
    return Section(TITLE, intro=INTRO, facts=_headline(by_type), figures=figures, tables=tables)
