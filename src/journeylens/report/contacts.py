"""The report's "Contact centre" section: reasons with their trend and cost, and the avoidable
contacts ranking (the same :func:`~journeylens.contacts.analysis.contact_signals` as the CLI)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from journeylens.contacts.settings import ContactsSettings
from journeylens.errors import JourneyLensError
from journeylens.report.sections import Section

if TYPE_CHECKING:
    from journeylens.journeys.definitions import JourneyRules
    from journeylens.store import Store

TITLE = "Contact centre"
INTRO = (
    "Why customers contact the contact centre, whether it grew in the last complete week (rate ratio "
    "against the week before, Benjamini-Hochberg q across reasons), how often each reason is resolved "
    "without or with an agent, and the digital touchpoints followed by more contacts than their peers."
)


def _settings(store: Store) -> ContactsSettings:
    from journeylens.config import Config

    path = store.root / "journeylens.toml" if store.root is not None else None
    return Config.load(path).voc.contacts if path is not None and path.is_file() else ContactsSettings()


def contacts_section(store: Store, rules: JourneyRules | None = None) -> Section | None:
    """Reasons and avoidable contacts; None before journeys are built or without any contact."""
    from journeylens.contacts.analysis import contact_views
    from journeylens.journeys.definitions import JourneyRules
    from journeylens.specs.contacts import ContactsSpec, ContactsView

    rules = rules or JourneyRules()
    settings = _settings(store)
    try:
        views = contact_views(store, rules, settings, ContactsSpec(limit=10), ["reasons", "avoidable"])
    except JourneyLensError:
        return None
    reasons, avoidable = views[ContactsView.reasons], views[ContactsView.avoidable]
    if not reasons.context["contacts"]:
        return None
    priced = not reasons.context["cost_reason"]
    r = reasons.to_pandas()[
        ["reason", "department", "contacts", "share", "last", "previous", "ratio", "q", "self_service_rate",
         "assisted_rate", "decided", *(["cost"] if priced else [])]
    ]  # fmt: skip
    a = avoidable.to_pandas()
    tables = [("Contacts by reason", r)]
    if not a.empty:
        columns = ["rank", "touchpoint", "exposures", "contact_rate", "peer_rate", "excess_contacts"]
        tables.append(("Avoidable contacts", a[columns + (["avoidable_cost"] if priced else [])]))
    notes = [] if priced else [f"Cost is not defined: {reasons.context['cost_reason']}."]
    if a.empty:
        notes.append("No digital touchpoint has peers to be compared with, so none is ranked as avoidable.")
    # A trend needs at least two periods: one period is not drawn as a line of one point.
    periods = {p["period"] for p in reasons.parts.get("periods", [])}
    figures = [reasons.plot()] if len(periods) > 1 else []
    tops = [t for t in avoidable.parts.get("by_reason", []) if t["rank"] == 1]
    facts = {"assisted contacts": f"{reasons.context['contacts']:,}"}
    if tops:
        facts["top avoidable"] = str(a.iloc[0]["touchpoint"])
    return Section(TITLE, intro=INTRO, facts=facts, figures=figures, tables=tables, notes=notes)
