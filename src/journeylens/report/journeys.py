"""The report's journeys section: outcomes, leakage, repeat contacts and cost to serve.

It reads the ``journeys`` table that ``journeylens build`` writes and is left out until that
table exists. Outcome rates come from :func:`journey_summary`, so the report and
``journeylens journeys summary`` share one definition of every numerator and denominator; each
rate is shown with its 95% Wilson interval and its counts (see :func:`rate_cell`). A rate or cost
the data does not define reads "not defined" and a note says why and which setting defines it; a
chart with a single bar (one segment, one type and outcome) is replaced by a sentence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
from journeylens.journeys.undefined import unknown_note
from journeylens.report.sections import CHANNEL_COLORS, Section
from journeylens.store import Store

if TYPE_CHECKING:
    from journeylens.journeys.definitions import JourneyRules

TITLE = "Journeys"
OUTCOME_COLORS = {
    "success": "#54A24B", "failed": "#E45756", "abandoned": "#BAB0AC", "open": "#4C78A8",
    "unknown": "#7F7F7F",
}  # fmt: skip
NOT_DEFINED = "not defined"
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
        >>> rate_cell(0, 0)
        'not defined'
    """  # noqa: RUF002 - interval bounds are joined by an en dash, as typeset ranges are

    lo, hi = wilson(n, d)
    if lo is None or hi is None:
        return NOT_DEFINED
    return f"{n / d:.1%} ({lo * 100:.1f}–{hi * 100:.1f}%) {n:,}/{d:,}"


def _money(value: float | None) -> str:
    # Strings, because the table writer prints floats to four significant digits (1.235e+04).
    return NOT_DEFINED if value is None else f"{value:,.2f}"


def _headline(by_type: list[dict[str, Any]]) -> dict[str, str]:
    # Journey types partition the journeys, so per-type counts add up to the overall ones.
    def total(key: str) -> Any:
        return sum(row[key] or 0 for row in by_type)

    def rate(name: str) -> str:
        return rate_cell(total(f"{name}_n"), total(f"{name}_d"))

    costs = [row["cost_total"] for row in by_type if row["cost_total"] is not None]
    facts = {
        "Journeys": f"{total('journeys'):,}",
        "Success rate": rate("success"),
        "Leakage rate": rate("leakage"),
        "First-contact resolution": rate("first_contact_resolution"),
        "Repeat journeys": rate("repeat_journey"),
        "Total cost to serve": _money(sum(costs)) if costs else NOT_DEFINED,
    }
    if total("success_n"):
        observed, inferred = total("success_observed"), total("success_inferred")
        facts["Successes observed / inferred"] = (
            f"{observed:,} / {inferred:,} ({observed / total('success_n'):.0%} observed)"
        )
    if total("open_outcomes"):
        facts["Open journeys"] = f"{total('open_outcomes'):,}"
    if total("unknown_outcomes"):
        facts["Unknown outcomes"] = f"{total('unknown_outcomes'):,}"
    return facts


def _evidence_note(by_type: list[dict[str, Any]]) -> list[str]:
    """What part of the success rate rests on inference, and what feedback overrode."""
    inferred = sum(row["success_inferred"] or 0 for row in by_type)
    if not inferred:
        return []
    overridden = sum(row["failed_by_feedback"] or 0 for row in by_type)
    return [
        f"{inferred:,} successes are inferred: no repeat journey followed within the repeat window. A "
        "customer who gave up silently looks the same, so these rates are an upper bound unless feedback "
        f"says otherwise; negative feedback linked to the journey overrode {overridden:,} inferred "
        "successes (outcome failed, evidence negative_feedback)."
    ]


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
                "mean cost (95% CI)": NOT_DEFINED
                if row["cost_mean"] is None
                else f"{_money(row['cost_mean'])} ± {_money(row['cost_half_width'])}",
                "median duration (h)": row["median_duration_h"],
            }
            for row in rows
        ]
    )


def _outcome_counts(store: Store, journeys: ir.Table) -> pd.DataFrame:
    counts = journeys.group_by(["journey_type", "outcome"]).agg(journeys=journeys.count())
    return store.execute(counts.order_by(["journey_type", "outcome"])).to_pandas()


def _outcomes_by_type(frame: pd.DataFrame) -> go.Figure:
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


def _bars(frame: pd.DataFrame) -> bool:
    """Whether a bar chart of ``frame`` says something: two bars or more (one bar compares nothing)."""
    return len(frame) >= 2


INTRO = (
    "A journey is one customer's episode around one intent (buying, getting help, finding "
    "information) across channels and days. Success and abandonment are over {defined}. Leakage "
    "counts journeys that used a digital channel before their first assisted contact; its rate is "
    "over {leakage}. First-contact resolution is over {fcr}; repeat contacts over journeys with an "
    "assisted contact; repeat journeys over {repeat}. Every rate shows its 95% interval and "
    "numerator/denominator."
).format(
    defined=DENOMINATORS["success"],
    leakage=DENOMINATORS["leakage"],
    fcr=DENOMINATORS["first_contact_resolution"],
    repeat=DENOMINATORS["repeat_journey"],
)


def journeys_section(store: Store, rules: JourneyRules | None = None) -> Section | None:
    """Outcomes, leakage, repeat contacts and cost to serve (after ``journeylens build``)."""
    try:
        journeys = require_journeys(store)
    except NotFoundError:
        return None
    summary = journey_summary(store, JourneySummarySpec(by=SummaryBy.journey_type))
    by_type = summary.rows
    if not by_type:
        return Section(TITLE, intro="No journeys were found in the events.")
    notes = _undefined_notes(summary.reasons(), *summary.unknown_outcomes()) + _evidence_note(by_type)
    figures: list[go.Figure] = []
    tables = [("Outcome rates by journey type", _rate_table(by_type, "journey type"))]
    outcomes = _outcome_counts(store, journeys)
    if _bars(outcomes) and (outcomes.outcome != "unknown").any():
        figures.append(_outcomes_by_type(outcomes))
    segment_figures, segment_tables, segment_note = _by_segment(store, journeys)
    figures += segment_figures
    tables += segment_tables
    notes += [segment_note] if segment_note else []
    leakage = _leakage(store, journeys)
    if not leakage.empty:
        figures += [_leakage_figure(leakage)] if _bars(leakage) else []
        tables.append(("Top leakage touchpoints", leakage))
    contacts = _support_contacts(store, journeys)
    if not contacts.empty:
        figures += [_contacts_figure(contacts)] if _bars(contacts) else []
        tables.append(("Assisted contacts per support journey", contacts))
    cost = _cost(store, journeys)
    if cost.total.notna().any():
        figures += [_cost_figure(cost)] if _bars(cost) else []
        tables.append(("Cost to serve by journey type and first channel", _cost_table(cost)))
    return Section(TITLE, intro=INTRO, facts=_headline(by_type), figures=figures, tables=tables, notes=notes)


def _undefined_notes(reasons: dict[str, str], unknown: int, total: int) -> list[str]:
    """One sentence per reason a measure is not defined (outcome rates, cost), with its fix."""
    notes = [unknown_note(unknown, total) + "."] if unknown and unknown < total else []
    by_reason: dict[str, list[str]] = {}
    for name, reason in reasons.items():
        by_reason.setdefault(reason, []).append(RATE_LABELS.get(name, "cost to serve"))
    for reason, names in by_reason.items():
        what = ", ".join(names)
        notes.append(
            f"{what[0].upper()}{what[1:]} {'is' if len(names) == 1 else 'are'} {NOT_DEFINED}: {reason}."
        )
    return notes


def _by_segment(
    store: Store, journeys: ir.Table
) -> tuple[list[go.Figure], list[tuple[str, pd.DataFrame]], str]:
    """The split by customer segment, or why there is none (no customers, a single segment)."""
    has_customers = store.execute(journeys.customer_id.notnull().any()).as_py()
    if not has_customers:
        return [], [], "No split by customer segment: no journey has a customer identifier."
    by_segment = journey_summary(store, JourneySummarySpec(by=SummaryBy.segment)).rows
    if len(by_segment) < 2:
        only = by_segment[0]["group"]
        why = (
            "no customer has a 'segment' trait" if only == UNKNOWN else f"every customer is in segment {only}"
        )
        return (
            [],
            [],
            (
                f"No split by customer segment: {why} (load traits with `journeylens ingest customers.csv "
                "--table customers`)."
            ),
        )
    table = [("Outcome rates by customer segment", _rate_table(by_segment, "segment"))]
    defined = [row for row in by_segment if row["success_rate"] is not None]
    return ([_success_by_segment(defined)] if len(defined) >= 2 else []), table, ""
