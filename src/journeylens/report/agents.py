"""The report section "Agents and employees": teams raw and adjusted, the funnel plot, and the
links of engagement and training to first-contact resolution."""

from __future__ import annotations

import pandas as pd

from journeylens.errors import NotFoundError
from journeylens.journeys.definitions import JourneyRules
from journeylens.report.sections import Section
from journeylens.specs.agents import AgentsSpec
from journeylens.store import Store

TITLE = "Agents and employees"
INTRO = (
    "Each journey with a contact counts for the agent of its first contact. First-contact resolution "
    "is shown raw and case-mix adjusted (journey type, contact reason, segment, channel, time of day): "
    "observed / expected by indirect standardisation, with funnel-plot limits (95% and 99.8%, "
    "Spiegelhalter 2005), and empirical-Bayes shrinkage. These are associations: customers are not "
    "assigned to agents at random."
)
COLUMNS = {
    "unit": "team", "journeys": "journeys", "fcr": "FCR raw", "fcr_lo": "lo", "fcr_hi": "hi",
    "oe": "O/E", "adjusted": "FCR adjusted", "eb_rate": "FCR (EB)", "funnel": "funnel",
    "repeat": "repeat", "transferred": "transfer", "csat": "CSAT top box", "csat_n": "CSAT n",
}  # fmt: skip


def agents_section(store: Store, rules: JourneyRules | None = None) -> Section | None:
    """Teams table, agents' funnel plot and the engagement and training links."""
    from journeylens.workforce.agents import agents

    try:
        teams = agents(store, AgentsSpec(by="team"))
        people = agents(store, AgentsSpec(by="agent", no_shrinkage=True))
    except NotFoundError:
        return None
    if not teams.records():
        return None
    table = pd.DataFrame(teams.records())[list(COLUMNS)].rename(columns=COLUMNS)
    notes = []
    for key, label in (("engagement", "per engagement point, within teams"), ("training", "after training")):
        link = teams.context[key]
        value = link.get("slope" if key == "engagement" else "effect")
        notes.append(
            f"{key.capitalize()}: not estimated ({link.get('reason')})."
            if value is None
            else f"{key.capitalize()}: adjusted FCR {value * 100:+.1f} points {label} "
            f"(95% CI {link['lo'] * 100:+.1f} to {link['hi'] * 100:+.1f}); an association."
        )
    population = teams.context["population_fcr"]
    facts = {"journeys with a contact": f"{teams.context['journeys']:,}"}
    if population is not None:
        facts["population FCR"] = f"{population * 100:.1f}%"
    else:
        notes.append("First-contact resolution is not defined: no first contact has a decided outcome.")
    figures = []
    if any(r["oe"] is not None for r in people.records()):
        figures.append(people.plot())
    else:
        notes.append(
            "No funnel plot: no agent has the decided first contacts a case-mix adjusted rate needs "
            f"(min_contacts = {AgentsSpec().min_contacts})."
        )
    return Section(TITLE, intro=INTRO, facts=facts, figures=figures, tables=[("Teams", table)], notes=notes)
