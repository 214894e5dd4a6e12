"""The report section "What to fix first": the improvement backlog (money per year with its
interval, owner, confidence, evidence) on top, then the attribution of conversions per channel
(every model side by side, the chart and the table)."""

from __future__ import annotations

import pandas as pd

from journeylens.decisions.attribution_journeys import NoConversionsError
from journeylens.errors import NotFoundError
from journeylens.journeys.definitions import JourneyRules
from journeylens.report.sections import Section
from journeylens.specs.attribution import AttributionSpec
from journeylens.store import Store

TITLE = "What to fix first"
INTRO = (
    "The backlog ranks the findings of the analyses by the money per year associated with each "
    "(with its 95% interval): what to look at first. Below it, which channels the successful "
    "journeys went through, credited by rule-based models (first, last, linear, time decay, "
    "position-based), by the Markov chain's removal effects (solved exactly) and by the Shapley "
    "value. Where the models disagree, the channel's role depends on its place in the journey. "
    "These are associations, not causes."
)


def fix_first_section(store: Store, rules: JourneyRules | None = None) -> Section | None:
    """The backlog's top items, then the attribution of successful journeys per channel: grouped
    bar chart and table."""
    from journeylens.decisions.attribution import journey_attribution

    top, top_notes = backlog_table(store, rules)
    try:
        result = journey_attribution(store, AttributionSpec())
    except NotFoundError:
        return None
    except NoConversionsError as exc:
        return Section(
            TITLE, intro=INTRO, tables=top, notes=[f"Attribution is not shown: {exc.message}", *top_notes]
        )
    frame = pd.DataFrame(result.records())
    wide = frame.pivot(index="step", columns="model", values="conversions")[result.context["models"]]
    wide = (
        wide.sort_values("markov", ascending=False).round(1).reset_index().rename(columns={"step": "channel"})
    )
    ctx = result.context
    facts = {
        "converted journeys": f"{ctx['total_conversions']:,.0f}",
        "not converted": f"{ctx['total_nulls']:,.0f}",
        "conversion value": f"{ctx['total_value']:,.2f}",
    }
    notes = [ctx["repeats"]]
    if ctx["undecided_journeys"]:
        notes.append(f"{ctx['undecided_journeys']:,} journeys still open or of unknown outcome are left out.")
    notes += top_notes
    figures = [result.plot()] if len(wide) > 1 else []
    if not figures:
        notes.append("One channel only: every model credits it with every conversion, so there is no chart.")
    return Section(
        TITLE, intro=INTRO, tables=[*top, ("Conversions credited per channel", wide)], figures=figures,
        facts=facts, notes=notes,
    )  # fmt: skip


BACKLOG_COLUMNS = {
    "rank": "#", "title": "opportunity", "kinds": "kind", "money": "money / year", "money_lo": "95% low",
    "money_hi": "95% high", "journeys": "journeys / year", "owner": "owner", "confidence": "confidence",
    "evidence": "evidence",
}  # fmt: skip


PROPOSAL_COLUMNS = {
    "id": "item", "metric": "metric", "base_rate": "baseline rate", "denominator": "denominator",
    "mde": "minimum detectable effect", "per_variant": "units per variant", "days": "days needed",
}  # fmt: skip


def backlog_table(
    store: Store, rules: JourneyRules | None
) -> tuple[list[tuple[str, pd.DataFrame]], list[str]]:
    """The top of the backlog (contacts and teams: the sources that need no workspace files), and
    the notes on what it leaves out."""
    from journeylens.contacts.settings import ContactsSettings
    from journeylens.decisions.backlog import build_backlog
    from journeylens.decisions.backlog_plan import Plan
    from journeylens.decisions.backlog_sources import SourceContext
    from journeylens.specs.backlog import BacklogSpec

    if rules is None or "journeys" not in store.backend.list_tables():
        return [], ["The backlog needs the workspace's journey rules and built journeys."]
    spec = BacklogSpec(sources=["contacts", "agents"], limit=10)
    result = build_backlog(SourceContext(store, rules, ContactsSettings()), spec, Plan(None, {}, {}))
    notes = [
        "Backlog: money per year is associated with each finding, not a promised saving; the report "
        "runs the contacts and teams sources (`journeylens backlog` adds maps, themes and backlog.yaml)."
    ]
    notes += [f"Backlog source {s['name']}: {s['note']}." for s in result.context["sources"] if s["note"]]
    rows = result.records()
    if not rows:
        return [], [*notes, "Backlog: no opportunity found."]
    frame = pd.DataFrame(rows)[list(BACKLOG_COLUMNS)].rename(columns=BACKLOG_COLUMNS)
    tables = [("Backlog: opportunities by money per year", frame.round(0))]
    designs = [d for d in result.proposed_experiments().values() if d["per_variant"] is not None]
    if designs:
        proposed = pd.DataFrame(designs)[list(PROPOSAL_COLUMNS)].rename(columns=PROPOSAL_COLUMNS)
        tables.append(("Backlog: a proposed experiment per item (alpha 0.05, power 0.8, 50/50)", proposed))
        notes.append(
            "Proposed experiments: the minimum detectable effect is the item's whole estimated excess; "
            "a fix that removes half of it needs about four times the units."
        )
    return tables, notes
