"""Benchmark stages for contact-centre signals: ``journeylens contacts`` (reasons, avoidable and
repeats views) next to hand-written DuckDB SQL of the same aggregates.

The floor computes the contacts with their reason (event, disposition, IVR, journey), counts and
costs per reason and week, the avoidable-contact cells (each digital exposure with the first
journey-opening contact within 72 hours) and the repeat-contact counts; Python's share of the
stage (intervals, tests, ranking) is on a few hundred rows. Both write their totals, so a run can
check that they agree.
"""

from __future__ import annotations

import json
from pathlib import Path

from journeylens.benchmark.discovery_stages import _world_duckdb
from journeylens.benchmark.stages import JOURNEYS, WORLD, stage
from journeylens.contacts.analysis import contact_views
from journeylens.specs.contacts import ContactsSpec, ContactsView
from journeylens.workspace import Workspace

TOTALS = "contact_totals-{stage}.json"
"""Each stage writes (contacts, exposures followed by a contact, repeats) here."""

FLOOR_SQL = """
CREATE OR REPLACE TEMP TABLE floor_contacts AS
WITH ivr AS (
    SELECT je.journey_id, arg_min(e.properties->>'contact_reason', je.step) AS ivr_reason
    FROM events e JOIN journey_events je USING (event_id)
    WHERE e.touchpoint = 'ivr_menu' AND coalesce(e.properties->>'contact_reason', '') <> ''
    GROUP BY 1
)
SELECT e.event_id, je.journey_id, j.customer_id, je.step, e.timestamp, e.channel, e.agent_id,
       coalesce(nullif(trim(e.properties->>'contact_reason'), ''),
                nullif(trim(e.properties->>'disposition'), ''), nullif(trim(ivr.ivr_reason), ''),
                nullif(trim(j.contact_reason), ''), '(not stated)') AS reason,
       CASE e.channel WHEN 'call_center' THEN 6.5 WHEN 'chat' THEN 3.2 WHEN 'whatsapp' THEN 2.8
            WHEN 'email' THEN 4.0 WHEN 'social' THEN 3.5 WHEN 'store' THEN 9.0 ELSE 0 END AS cost,
       row_number() OVER (PARTITION BY je.journey_id ORDER BY je.step) = 1 AS first
FROM events e JOIN journey_events je USING (event_id) JOIN journeys j USING (journey_id)
LEFT JOIN ivr USING (journey_id)
WHERE e.channel IN ('call_center', 'chat', 'whatsapp', 'social', 'email', 'store') AND e.agent_id IS NOT NULL;
CREATE OR REPLACE TEMP TABLE floor_reasons AS
SELECT reason, date_trunc('week', timestamp AT TIME ZONE 'UTC') AS week, count(*) AS contacts,
       sum(cost) AS cost
FROM floor_contacts GROUP BY ALL;
CREATE OR REPLACE TEMP TABLE floor_exposures AS
SELECT e.event_id, j.customer_id, e.timestamp, coalesce(j.journey_type, 'other') AS journey_type, e.channel,
       e.channel || ':' || e.touchpoint
           || coalesce('[template=' || (e.properties->>'template') || ']', '') AS label
FROM events e JOIN journey_events je USING (event_id) JOIN journeys j USING (journey_id)
WHERE (e.channel IN ('web', 'app') OR (e.channel IN ('sms', 'email') AND e.agent_id IS NULL))
  AND e.touchpoint <> 'contact_form';
CREATE OR REPLACE TEMP TABLE floor_avoidable AS
WITH nearest AS (
    SELECT x.event_id, arg_min(c.reason, (c.timestamp, c.event_id)) AS reason,
           arg_min(c.cost, (c.timestamp, c.event_id)) AS cost
    FROM floor_exposures x JOIN floor_contacts c
      ON c.customer_id = x.customer_id AND c.first AND c.timestamp > x.timestamp
     AND epoch(c.timestamp) - epoch(x.timestamp) <= 259200
    GROUP BY 1
)
SELECT label, journey_type, channel, n.reason, count(*) AS exposures, count(n.event_id) AS followed,
       sum(n.cost) AS cost
FROM floor_exposures x LEFT JOIN nearest n USING (event_id) GROUP BY ALL;
CREATE OR REPLACE TEMP TABLE floor_repeats AS
SELECT count(*) FILTER (WHERE repeat) AS repeats,
       count(*) FILTER (WHERE repeat AND (channel <> prev_channel OR agent_id <> prev_agent)) AS switched,
       count(*) FILTER (WHERE repeat AND (channel <> prev_channel OR agent_id <> prev_agent)
                        AND reason = prev_reason AND reason <> '(not stated)') AS repeated_reason
FROM (
    SELECT *, coalesce(epoch(timestamp) - epoch(lag(timestamp) OVER w) <= 604800, FALSE) AS repeat,
           lag(channel) OVER w AS prev_channel, lag(agent_id) OVER w AS prev_agent,
           lag(reason) OVER w AS prev_reason
    FROM floor_contacts WINDOW w AS (PARTITION BY customer_id ORDER BY timestamp, event_id)
);
"""


@stage(
    "floor_contacts",
    "hand-written DuckDB SQL: contacts with reasons, per reason and week, avoidable cells, repeats "
    "(the floor)",
    needs=JOURNEYS,
)
def floor_contacts(data: Path, work: Path) -> int:
    con = _world_duckdb(work)
    con.execute(FLOOR_SQL)
    contacts = con.execute("SELECT count(*) FROM floor_contacts").fetchone()
    followed = con.execute("SELECT sum(followed) FROM floor_avoidable").fetchone()
    repeats = con.execute("SELECT repeats FROM floor_repeats").fetchone()
    con.execute("SELECT * FROM floor_reasons").fetchall()
    con.close()
    totals = [int(contacts[0]) if contacts else 0, int(followed[0] or 0) if followed else 0]
    totals.append(int(repeats[0] or 0) if repeats else 0)
    (work / TOTALS.format(stage="floor_contacts")).write_text(json.dumps(totals))
    return totals[0]


@stage(
    "contacts",
    "journeylens contacts: reasons (trend, resolution, cost), avoidable contacts, repeated reasons",
    floor="floor_contacts",
    needs=JOURNEYS,
)
def contacts_stage(data: Path, work: Path) -> int:
    ws = Workspace.open(work / WORLD)
    ws.config.journeys.costs = {"call_center": 6.5, "chat": 3.2, "whatsapp": 2.8, "email": 4.0, "social": 3.5,
                                "store": 9.0}  # fmt: skip
    runs = contact_views(
        ws.store,
        ws.config.journeys,
        ws.config.voc.contacts,
        ContactsSpec(),
        ["reasons", "avoidable", "repeats"],
    )
    ws.close()
    contacts = int(runs[ContactsView.reasons].context["contacts"])
    followed = int(runs[ContactsView.avoidable].context["followed"])
    repeats = int(runs[ContactsView.repeats].records()[0]["repeats"])
    (work / TOTALS.format(stage="contacts")).write_text(json.dumps([contacts, followed, repeats]))
    return contacts
