"""Who served each journey, and what happened next: the per-journey frame of agent analytics.

A **contact** is an event handled by an agent (``agent_id`` present). Each journey with a
contact is attributed to the agent of its **first** contact (the agent who had the chance to
resolve it first) and to that agent's team (``agents``; an agent missing there is counted under
the team ``(unknown agent)``, never dropped). Its outcomes, all from ``journeys``:

- ``fcr``: first-contact resolution (NULL where the journey model leaves it undefined);
- ``repeat``: the customer's next contact, in this journey or another, came within
  ``repeat_days`` of the first one (NULL without a known customer);
- ``transferred``: the journey had a transfer between agents;
- ``next_success``: the customer's next journey (by start) ended in success (NULL without one or
  while its outcome is open or unknown);
- ``handle_s``: the sum of the ``handle_time_s`` property (seconds) over the journey's contacts,
  NULL when no contact carries it (the synthetic world does not).

Its case-mix cell: journey type, contact reason (``(none)`` when absent), the customer's segment,
the first contact's channel and its local time-of-day band. Everything is one Ibis expression.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from journeylens.discovery.selection import select_journeys
from journeylens.journeys.build import require_journeys
from journeylens.journeys.undefined import UNDECIDED
from journeylens.specs.agents import AgentsSpec
from journeylens.specs.discovery import JourneyFilter
from journeylens.specs.summary import JourneySummarySpec
from journeylens.store import Store
from journeylens.store._backend import json_text

UNKNOWN_AGENT = "(unknown agent)"
SCORE_COLUMNS = ("csat_n", "csat_top", "nps_n", "nps_promoters", "nps_detractors")
NO_REASON = "(none)"
HANDLE_TIME = "handle_time_s"
"""Event property holding a contact's handle time in seconds (optional)."""
TIME_OF_DAY = ((8, "night"), (12, "morning"), (17, "afternoon"), (24, "evening"))
"""Local-hour bands of the first contact: before 8, 8-12, 12-17, 17-24."""


def contact_events(store: Store) -> ir.Table:
    """Every agent-handled event with its journey, step and customer."""
    journeys = require_journeys(store).select("journey_id", "customer_id")
    ev = store.table("events")
    ev = ev.filter(ev.agent_id.notnull())
    je = store.backend.table("journey_events")
    joined = ev.join(je, "event_id").join(journeys, "journey_id")
    return joined.select(
        "event_id", "journey_id", "customer_id", "step", "timestamp", "agent_id", "channel",
        handle_s=json_text(joined.properties, HANDLE_TIME).try_cast("float64"),
    )  # fmt: skip


def _next_contact(contacts: ir.Table) -> ir.Table:
    """Each contact with the time of the same customer's next contact (any journey)."""
    by_customer = ibis.window(group_by="customer_id", order_by=["timestamp", "event_id"])
    nxt = contacts.timestamp.lead().over(by_customer)
    return contacts.mutate(_next_at=ibis.ifelse(contacts.customer_id.isnull(), ibis.null(nxt.type()), nxt))


def first_contacts(store: Store, spec: AgentsSpec) -> ir.Table:
    """One row per journey with a contact: agent, team, case-mix cell and outcomes (module doc)."""
    contacts = _next_contact(contact_events(store))
    per = contacts.group_by("journey_id").agg(
        agent_id=contacts.agent_id.argmin(contacts.step),
        first_at=contacts.timestamp.min(),
        channel=contacts.channel.argmin(contacts.step),
        _next_at=contacts._next_at.argmin(contacts.step),
        handle_s=contacts.handle_s.sum(),
        contacts=contacts.count(),
    )
    journeys = _with_next_journey(require_journeys(store))
    j = journeys.select(
        "journey_id", "customer_id", "journey_type", "contact_reason", "outcome", "transfers",
        "first_contact_resolution", "_next_outcome",
    )  # fmt: skip
    t = per.join(j, "journey_id")
    if spec.filter != JourneyFilter():
        t = t.semi_join(select_journeys(store, spec.filter).select("journey_id"), "journey_id")
    t = _with_segment(store, t, spec)
    t = _with_team(store, t)
    hour = store.local_time(t.first_at).hour()
    band = ibis.cases(*((hour < end, name) for end, name in TIME_OF_DAY[:-1]), else_=TIME_OF_DAY[-1][1])
    seconds = t._next_at.epoch_seconds() - t.first_at.epoch_seconds()
    decided = ~t.outcome.isin(UNDECIDED)
    return t.select(
        "journey_id", "agent_id", "team", "known_agent", "first_at", "contacts", "handle_s",
        journey_type=t.journey_type.fill_null(NO_REASON),
        contact_reason=t.contact_reason.fill_null(NO_REASON),
        segment=t.segment,
        channel=t.channel,
        time_of_day=band,
        fcr=ibis.ifelse(decided, t.first_contact_resolution.cast("int64"), ibis.null("int64")),
        repeat=ibis.ifelse(
            t.customer_id.isnull(), ibis.null("int64"),
            (seconds <= spec.repeat_days * 86_400).fill_null(False).cast("int64"),
        ),
        transferred=(t.transfers > 0).fill_null(False).cast("int64"),
        next_success=ibis.ifelse(
            t._next_outcome.isnull() | t._next_outcome.isin(UNDECIDED), ibis.null("int64"),
            (t._next_outcome == "success").cast("int64"),
        ),
    )  # fmt: skip


def _with_next_journey(journeys: ir.Table) -> ir.Table:
    by_customer = ibis.window(group_by="customer_id", order_by=["start", "journey_id"])
    nxt = journeys.outcome.lead().over(by_customer)
    return journeys.mutate(_next_outcome=ibis.ifelse(journeys.customer_id.isnull(), ibis.null("string"), nxt))


def _with_segment(store: Store, t: ir.Table, spec: AgentsSpec) -> ir.Table:
    from journeylens.journeys.summary import _group_column

    segmented = _group_column(store, t, JourneySummarySpec(by="segment", segment_trait=spec.segment_trait))
    return segmented.rename(segment="group")


def agent_teams(store: Store) -> ir.Table:
    """``agent_id`` -> ``team`` (an agent listed twice: the greatest team name)."""
    agents = store.table("agents")
    return agents.group_by(_aid=agents.agent_id).agg(_team=agents.team.max(), _listed=agents.count())


def _with_team(store: Store, t: ir.Table) -> ir.Table:
    teams = agent_teams(store)
    t = t.left_join(teams, t.agent_id == teams._aid)
    known = t._listed.notnull()
    return t.mutate(
        team=ibis.ifelse(known, t._team.fill_null("(no team)"), UNKNOWN_AGENT), known_agent=known
    ).drop("_aid", "_team", "_listed")


def handled_contacts(store: Store) -> ir.Table:
    """Contacts handled per agent (every agent-handled event, not only journeys' first)."""
    ev = store.table("events")
    ev = ev.filter(ev.agent_id.notnull())
    return ev.group_by("agent_id").agg(handled=ev.count())


def scores_by_agent(store: Store, linked: bool | None = None) -> ir.Table:
    """CSAT top box (4-5 of 1-5) and NPS counts per agent of each answer (``feedback_links``; no
    rows before feedback has been linked). ``linked``: whether ``feedback_links`` exists, when the
    caller knows (else it is looked up)."""
    if linked is None:
        linked = "feedback_links" in store.backend.list_tables()
    if not linked:
        return ibis.memtable(
            {"agent_id": [], **{c: [] for c in SCORE_COLUMNS}},
            schema={"agent_id": "string", **dict.fromkeys(SCORE_COLUMNS, "int64")},
        )
    fb = store.table("feedback")
    links = store.backend.table("feedback_links").select(_fid="feedback_id", _agent="agent_id")
    t = fb.join(links, fb.feedback_id == links._fid)
    t = t.filter(t._agent.notnull() & t.score.notnull())
    csat, nps = t.metric == "csat", t.metric == "nps"
    return t.group_by(agent_id=t._agent).agg(
        csat_n=csat.cast("int64").sum(),
        csat_top=(csat & (t.score >= 4)).cast("int64").sum(),
        nps_n=nps.cast("int64").sum(),
        nps_promoters=(nps & (t.score >= 9)).cast("int64").sum(),
        nps_detractors=(nps & (t.score <= 6)).cast("int64").sum(),
    )
