"""Report sections: each is a function of the store that returns text, tables and figures.

Sections register themselves in :data:`SECTIONS` in the order they appear; later analyses add a
section by decorating one function with :func:`section`. All aggregation happens in the engine
(Ibis); only small, aggregated results reach Python to be drawn.

A chart or number that does not apply to the data (no customer identifiers in a case log, one
category only, an outcome or cost the workspace does not define) is never drawn as an empty or
degenerate chart: the section says why in one sentence of ``notes`` instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import ibis
import ibis.expr.types as ir
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from journeylens.quality import status
from journeylens.store import Store
from journeylens.store.schema import SYSTEM_TABLES

if TYPE_CHECKING:
    from collections.abc import Callable

    from journeylens.journeys.definitions import JourneyRules


@dataclass
class Section:
    title: str
    intro: str = ""
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    figures: list[go.Figure] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    """Headline numbers, shown as tiles."""
    notes: list[str] = field(default_factory=list)
    """What does not apply to this data and why (instead of an empty or degenerate chart)."""
    blocks: list[str] = field(default_factory=list)
    """Whole HTML blocks drawn by their own template, already escaped (a journey map)."""


# One colour per channel in every chart of every report.
CHANNEL_COLORS = {
    "web": "#4C78A8", "app": "#F58518", "email": "#54A24B", "sms": "#B279A2", "whatsapp": "#2CA02C",
    "social": "#9D755D", "chat": "#E45756", "call_center": "#72B7B2", "store": "#EECA3B",
    "mail": "#BAB0AC", "other": "#7F7F7F",
}  # fmt: skip


class SectionFn(Protocol):
    """A section: the store, and the workspace's journey rules (costs, channels) when known."""

    def __call__(self, store: Store, rules: JourneyRules | None = None, /) -> Section | None: ...


SECTIONS: list[tuple[str, SectionFn]] = []
NO_CUSTOMERS = (
    "No customer identifiers: the events carry no user, anonymous or CRM id, so each case is its "
    "own journey and there are no customers to count across channels."
)


def section(key: str, *, after: str | None = None) -> Callable[[SectionFn], SectionFn]:
    """Register a report section under ``key``.

    Sections appear in registration order, or right after the section named ``after`` (so a
    section kept in its own module can still sit next to the ones it builds on).

    Example:
        >>> @section("churn", after="customers")  # doctest: +SKIP
        ... def churn(store: Store, rules: JourneyRules | None = None) -> Section | None: ...
    """

    def register(fn: SectionFn) -> SectionFn:
        keys = [k for k, _ in SECTIONS]
        at = keys.index(after) + 1 if after in keys else len(SECTIONS)
        SECTIONS.insert(at, (key, fn))
        return fn

    return register


def _grain(events: ir.Table, store: Store) -> tuple[str, str]:
    span = store.execute(events.aggregate(lo=events.timestamp.min(), hi=events.timestamp.max()))
    lo, hi = span.column("lo")[0].as_py(), span.column("hi")[0].as_py()
    days = (hi - lo).days if lo and hi else 0
    return ("W", "week") if days > 200 else ("D", "day")


@section("overview")
def overview(store: Store, rules: JourneyRules | None = None) -> Section | None:
    events = store.table("events")
    summary = store.execute(
        events.aggregate(
            events=events.count(),
            first=events.timestamp.min(),
            last=events.timestamp.max(),
            channels=events.channel.nunique(),
            touchpoints=events.touchpoint.nunique(),
            known_ids=events.user_id.nunique(),
            anonymous_ids=events.anonymous_id.nunique(),
            cases=events.case_id.nunique(),
        )
    ).to_pylist()[0]
    if not summary["events"]:
        return Section("Overview", intro="No events have been ingested yet.")
    counts = store.counts()
    facts = {
        "Events": f"{summary['events']:,}",
        "Period": f"{summary['first']:%Y-%m-%d} to {summary['last']:%Y-%m-%d}",
        "Channels": summary["channels"],
        "Touchpoints": f"{summary['touchpoints']:,}",
        "Known ids": f"{summary['known_ids']:,}",
        "Anonymous ids": f"{summary['anonymous_ids']:,}",
        "Cases": f"{summary['cases']:,}",
        "Feedback answers": _feedback_fact(store, counts["feedback"]),
    }
    tables = pd.DataFrame([{"table": k, "rows": v} for k, v in counts.items()])
    return Section("Overview", facts=facts, tables=[("Rows per table", tables)])


def _feedback_fact(store: Store, answers: int) -> str:
    """Answers, and how many of them name no respondent or case (kept, linked to no journey)."""
    if not answers:
        return "0"
    fb = store.table("feedback")
    unlinked = int(
        store.execute(
            fb.filter(fb.user_id.isnull() & fb.anonymous_id.isnull() & fb.case_id.isnull()).count()
        ).as_py()
    )
    return f"{answers:,}" + (f" ({unlinked:,} unlinked: no respondent id)" if unlinked else "")


@section("volumes")
def volumes(store: Store, rules: JourneyRules | None = None) -> Section | None:
    events = store.table("events")
    if not store.count("events"):
        return None
    unit, label = _grain(events, store)
    period = store.local_time(events.timestamp).truncate(unit).name("period")
    by_period = (
        events.group_by([period, events.channel]).agg(events=events.count()).order_by(["period", "channel"])
    )
    frame = store.execute(by_period).to_pandas()
    over_time = px.area(
        frame, x="period", y="events", color="channel", title=f"Events per {label} by channel",
        color_discrete_map=CHANNEL_COLORS,
    )  # fmt: skip
    top = (
        events.group_by(["channel", "touchpoint"])
        .agg(events=events.count(), customers=events.user_id.nunique())
        .order_by([ibis.desc("events"), "channel", "touchpoint"])
        .limit(25)
    )
    top_frame = store.execute(top).to_pandas()
    notes: list[str] = []
    if not top_frame.customers.any():
        # A case log names no customers: a column of zeros would read as "nobody came".
        top_frame = top_frame.drop(columns="customers")
    bars = px.bar(
        top_frame.iloc[::-1],
        x="events",
        y=top_frame.iloc[::-1]["channel"] + " · " + top_frame.iloc[::-1]["touchpoint"],
        color="channel",
        color_discrete_map=CHANNEL_COLORS,
        orientation="h",
        title="Top 25 touchpoints",
        labels={"y": ""},
    )
    bars.update_layout(height=650)
    leaders = top_frame.head(8)[["channel", "touchpoint"]]
    busiest = events.filter(
        ibis.or_(
            *((events.channel == c) & (events.touchpoint == t) for c, t in leaders.itertuples(index=False))
        )
    )
    label_expr = (busiest.channel + " · " + busiest.touchpoint).name("touchpoint")
    busiest_period = store.local_time(busiest.timestamp).truncate(unit).name("period")
    trend = busiest.group_by([busiest_period, label_expr]).agg(events=busiest.count())
    trend_frame = store.execute(trend.order_by(["period", "touchpoint"])).to_pandas()
    touchpoints_over_time = px.line(
        trend_frame, x="period", y="events", color="touchpoint",
        title=f"The 8 busiest touchpoints per {label}",
    )  # fmt: skip
    direction = (
        events.group_by(["channel", "direction"])
        .agg(events=events.count())
        .order_by(["channel", "direction"])
    )
    figures = [over_time, touchpoints_over_time, bars]
    if len(top_frame) < 2:
        only = top_frame.iloc[0]
        notes.append(
            f"Every event is one touchpoint ({only.channel} · {only.touchpoint}), so there is no "
            "ranking of touchpoints to draw."
        )
        figures = [over_time]
    tables = [("Busiest touchpoints", top_frame)]
    directions = store.execute(direction).to_pandas()
    if directions.direction.notna().any():
        tables.append(("Inbound and outbound by channel", directions))
    else:
        notes.append("No event says whether it was inbound or outbound (no direction column).")
    return Section(
        "Volumes by channel and touchpoint",
        intro=f"Touchpoint volume per {label}; the table lists the busiest touchpoints.",
        figures=figures,
        tables=tables,
        notes=notes,
    )


@section("customers")
def customers(store: Store, rules: JourneyRules | None = None) -> Section | None:
    """One customer across channels: what identity stitching found (after `journeylens build`)."""
    if "customer_map" not in store.backend.list_tables():
        return None
    from journeylens.identity.stitch import events_with_customers

    cmap = store.backend.table("customer_map")
    summary = store.execute(
        cmap.aggregate(
            identifiers=cmap.count(),
            profiles=cmap.customer_id.nunique(),
            known=cmap.customer_id.nunique(where=cmap.identifier_type == "user_id"),
            shared=cmap.shared.cast("int64").sum(),
        )
    ).to_pylist()[0]
    by_type = store.execute(
        cmap.group_by("identifier_type")
        .agg(identifiers=cmap.count(), customers=cmap.customer_id.nunique())
        .order_by(ibis.desc("identifiers"))
    ).to_pandas()
    if not summary["profiles"]:
        return Section("Customers across channels", notes=[NO_CUSTOMERS])
    events = events_with_customers(store)
    known = events.filter(events.customer_id.notnull())
    per_customer = known.group_by("customer_id").agg(channels=known.channel.nunique())
    spread = store.execute(
        per_customer.group_by("channels").agg(customers=per_customer.count()).order_by("channels")
    ).to_pandas()
    multi = int(spread.loc[spread.channels >= 2, "customers"].sum())
    total = int(spread.customers.sum())
    figures, notes = [], []
    if len(spread) >= 2:
        figures.append(
            px.bar(spread, x="channels", y="customers", title="Customers by number of channels used")
        )
    else:
        used = int(spread.channels.iloc[0]) if total else 0
        notes.append(
            f"Every customer used {used} channel{'' if used == 1 else 's'}, so there is no spread "
            "across channels to draw."
        )
    return Section(
        "Customers across channels",
        intro="Identifiers (logins, devices, hashed e-mails and phones, CRM ids) stitched into customers. "
        "Identifiers linked to several known customers (a family tablet, a kiosk, a default number) "
        "are kept apart and counted as shared; devices never seen with a login or identify call stay "
        "anonymous-only profiles.",
        facts={
            "Known customers": f"{summary['known']:,}",
            "Anonymous-only profiles": f"{summary['profiles'] - summary['known']:,}",
            "Identifiers": f"{summary['identifiers']:,}",
            "Shared identifiers": f"{summary['shared'] or 0:,}",
            "Cross-channel customers": f"{multi / total:.0%}" if total else "none",
        },
        figures=figures,
        tables=[("Identifiers by type", by_type)],
        notes=notes,
    )


@section("quality")
def data_quality(store: Store, rules: JourneyRules | None = None) -> Section | None:
    result = status(store)
    events = store.table("events")
    total = store.count("events")
    completeness = None
    if total:
        filled = {
            c: (events[c].notnull()).cast("int64").sum().name(c)
            for c in ("user_id", "anonymous_id", "case_id", "direction", "agent_id", "value", "properties")
        }
        row = store.execute(events.aggregate(**filled)).to_pylist()[0]
        completeness = pd.DataFrame(
            [{"column": c, "filled": n, "share": round(n / total, 4)} for c, n in row.items()]
        )
    quarantined = sum(r["records"] for r in result.quarantine)
    tables: list[tuple[str, pd.DataFrame]] = []
    if result.quarantine:
        tables.append(("Quarantined records by reason", pd.DataFrame(result.quarantine)))
    if completeness is not None:
        tables.append(("Event column completeness", completeness))
    if result.ingests:
        tables.append(("Recent ingests", pd.DataFrame(result.ingests)))
    stored = sum(n for name, n in result.tables.items() if name not in SYSTEM_TABLES)
    return Section(
        "Data quality",
        intro="Records that failed validation are kept in the quarantine table with their file, "
        "line, raw content and a typed reason; every valid record of the same file was loaded.",
        facts={"Records stored": f"{stored:,}", "Records quarantined": f"{quarantined:,}"},
        tables=tables,
    )


def _register_analysis_sections() -> None:
    """Add the sections the analyses declare (journeylens.analyses), in registry order; they live in
    their own modules, which need the registry above, so this runs at the end."""
    from journeylens.analyses import ANALYSES, load

    for analysis in ANALYSES.values():
        if analysis.section is not None:
            declared = analysis.section
            section(declared.key, after=declared.after)(load(declared.build))


_register_analysis_sections()
