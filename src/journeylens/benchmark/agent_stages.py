"""Benchmark stages for ``journeylens agents`` (issue 15): the analysis next to hand-written DuckDB
SQL of the same aggregates, and the empirical-Bayes model timed on its own.

A preparation copies the journeys-built world workspace (untimed) and adds what agents need and
the event world lacks: the ``agents`` and ``employee_feedback`` tables and the survey answers
(``feedback``) of the synthetic world, linked to journeys (``feedback_links``, as a journey build
writes them; the journeys themselves are not rebuilt). The other stages keep the world as it was.

- ``floor_agents``: one hand-written SQL script (:data:`FLOOR_SQL`): agent-handled contacts with
  the same customer's next contact, the first contact of every journey (agent, team, channel,
  case-mix cell), outcomes (FCR, repeat within ``repeat_days``, transfer, handle time, the next
  journey's success), per agent the raw counts, contacts handled and the scores of the answers
  about them, O/E of FCR by indirect standardisation, the case-mix cell counts of the mixed
  model, the team-month O/E the engagement link reads and the trained/after groups of the
  training link, and the counts of unknown agents.
- ``agents``: ``agents(store, AgentsSpec(no_shrinkage=True))``: the same aggregates plus the
  intervals, funnel limits and the engagement slope and training difference in differences.
- ``agents_shrinkage``: the part ``--no-shrinkage`` skips: the cell counts from the engine and
  statsmodels' ``BinomialBayesMixedGLM`` fit (its own column in docs/benchmarks.md).

Both compared stages write per-agent figures (:data:`FIGURES`), so a run can check they agree.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import duckdb

from journeylens.benchmark.discovery_stages import _world_duckdb
from journeylens.benchmark.stages import JOURNEYS, WORLD, preparation, stage
from journeylens.ingest import IngestSpec
from journeylens.journeys.feedback_link import feedback_links
from journeylens.specs.agents import AgentsSpec
from journeylens.voc.score_stats import NetPromoter
from journeylens.workspace import Workspace

AGENTS_WORLD = "agents_world"
"""The world workspace with agents, employee feedback and linked answers (a copy)."""
FIGURES = "agent_figures-{stage}.json"
"""Per agent, what both stages report (:func:`result_figures`); a run checks they are equal."""
COUNTED = ("fcr", "repeat", "transferred", "next_success")

# $days: the repeat window; $tz: the workspace time zone (local hour and month). Each statement is
# what a person fluent in SQL would write for the aggregate agents reports.
FLOOR_SQL = [
    """
CREATE OR REPLACE TEMP TABLE fa_contacts AS
SELECT e.event_id, je.journey_id, j.customer_id, je.step, e.timestamp, e.agent_id, e.channel,
       TRY_CAST(json_extract_string(e.properties, '$."handle_time_s"') AS DOUBLE) AS handle_s,
       CASE WHEN j.customer_id IS NOT NULL THEN lead(e.timestamp) OVER (
           PARTITION BY j.customer_id ORDER BY e.timestamp, e.event_id) END AS next_at
FROM events e JOIN journey_events je USING (event_id) JOIN journeys j USING (journey_id)
WHERE e.agent_id IS NOT NULL
""",
    """
CREATE OR REPLACE TEMP TABLE fa_rows AS
WITH per AS (
    SELECT journey_id, arg_min(agent_id, step) AS agent_id, min(timestamp) AS first_at,
           arg_min(channel, step) AS channel, arg_min(next_at, step) AS next_at,
           sum(handle_s) AS handle_s, count(*) AS contacts
    FROM fa_contacts GROUP BY journey_id
), nxt AS (
    SELECT *, CASE WHEN customer_id IS NOT NULL THEN lead(outcome) OVER (
               PARTITION BY customer_id ORDER BY start, journey_id) END AS next_outcome
    FROM journeys
), seg AS (
    SELECT m.customer_id, max(json_extract_string(c.traits, '$."segment"')) AS segment
    FROM customer_map m JOIN customers c ON m.identifier_value = c.user_id
    WHERE m.identifier_type = 'user_id' GROUP BY m.customer_id
), teams AS (
    SELECT agent_id, max(team) AS team FROM agents GROUP BY agent_id
), t AS (
    SELECT per.*, j.customer_id, j.journey_type, j.contact_reason, j.outcome, j.transfers,
           j.first_contact_resolution, j.next_outcome, coalesce(s.segment, '(unknown)') AS segment,
           teams.agent_id IS NOT NULL AS known_agent,
           CASE WHEN teams.agent_id IS NULL THEN '(unknown agent)' ELSE coalesce(teams.team, '(no team)')
           END AS team,
           hour(timezone($tz, per.first_at)) AS hour
    FROM per JOIN nxt j USING (journey_id) LEFT JOIN seg s USING (customer_id)
    LEFT JOIN teams USING (agent_id)
)
SELECT journey_id, agent_id, team, known_agent, first_at, handle_s,
       coalesce(journey_type, '(none)') AS journey_type, coalesce(contact_reason, '(none)') AS contact_reason,
       segment, channel,
       CASE WHEN hour < 8 THEN 'night' WHEN hour < 12 THEN 'morning' WHEN hour < 17 THEN 'afternoon'
            ELSE 'evening' END AS time_of_day,
       CASE WHEN outcome NOT IN ('unknown', 'open') THEN first_contact_resolution::BIGINT END AS fcr,
       CASE WHEN customer_id IS NOT NULL THEN
           coalesce(epoch(next_at) - epoch(first_at) <= $days * 86400, FALSE)::BIGINT END AS repeat,
       coalesce(transfers > 0, FALSE)::BIGINT AS transferred,
       CASE WHEN next_outcome IS NOT NULL AND next_outcome NOT IN ('unknown', 'open') THEN
           (next_outcome = 'success')::BIGINT END AS next_success
FROM t
""",
    # Expected FCR of each first contact: its case-mix cell's rate, over all rows (O/E) and over
    # the known agents' rows (the mixed model, engagement and training).
    """
CREATE OR REPLACE TEMP TABLE fa_expected AS
SELECT *, avg(fcr::DOUBLE) OVER (
           PARTITION BY journey_type, contact_reason, segment, channel, time_of_day) AS p_all,
       CASE WHEN known_agent THEN avg(fcr::DOUBLE) OVER (
           PARTITION BY known_agent, journey_type, contact_reason, segment, channel, time_of_day) END
           AS p_known
FROM fa_rows WHERE fcr IS NOT NULL
""",
    """
CREATE OR REPLACE TEMP TABLE fa_agents AS
WITH raw AS (
    SELECT agent_id, count(*) AS journeys, avg(handle_s) AS handle_s, max(team) AS team,
           count(fcr) AS fcr_n, sum(fcr) AS fcr_k, count(repeat) AS repeat_n, sum(repeat) AS repeat_k,
           count(transferred) AS transferred_n, sum(transferred) AS transferred_k,
           count(next_success) AS next_success_n, sum(next_success) AS next_success_k
    FROM fa_rows GROUP BY agent_id
), handled AS (
    SELECT agent_id, count(*) AS handled FROM events WHERE agent_id IS NOT NULL GROUP BY agent_id
), scores AS (
    SELECT l.agent_id,
           count(*) FILTER (WHERE f.metric = 'csat') AS csat_n,
           count(*) FILTER (WHERE f.metric = 'csat' AND f.score >= 4) AS csat_top,
           count(*) FILTER (WHERE f.metric = 'nps') AS nps_n,
           count(*) FILTER (WHERE f.metric = 'nps' AND f.score >= 9) AS nps_promoters,
           count(*) FILTER (WHERE f.metric = 'nps' AND f.score <= 6) AS nps_detractors
    FROM feedback f JOIN feedback_links l USING (feedback_id)
    WHERE l.agent_id IS NOT NULL AND f.score IS NOT NULL GROUP BY l.agent_id
), oe AS (
    SELECT agent_id, count(*) AS oe_n, sum(fcr) AS observed, sum(p_all) AS expected,
           sum(p_all * (1 - p_all)) AS variance
    FROM fa_expected GROUP BY agent_id
)
SELECT * FROM raw LEFT JOIN handled USING (agent_id) LEFT JOIN scores USING (agent_id)
LEFT JOIN oe USING (agent_id)
""",
    """
CREATE OR REPLACE TEMP TABLE fa_cells AS
SELECT agent_id, team, p_known AS rate, count(*) AS trials, sum(fcr) AS successes
FROM fa_expected WHERE known_agent GROUP BY ALL
""",
    """
CREATE OR REPLACE TEMP TABLE fa_engagement AS
WITH eng AS (
    SELECT a.team, strftime(date_trunc('month', timezone($tz, f.timestamp)), '%Y-%m') AS month,
           count(*) AS answers, avg(f.score) AS engagement
    FROM employee_feedback f JOIN (SELECT agent_id, max(team) AS team FROM agents GROUP BY agent_id) a
      USING (agent_id)
    WHERE f.metric = 'engagement' AND f.score IS NOT NULL GROUP BY ALL
), oe AS (
    SELECT team, strftime(date_trunc('month', timezone($tz, first_at)), '%Y-%m') AS month, count(*) AS n,
           sum(fcr) AS observed, sum(p_known) AS expected, sum(p_known * (1 - p_known)) AS variance
    FROM fa_expected WHERE known_agent GROUP BY ALL
)
SELECT * FROM oe JOIN eng USING (team, month)
""",
    """
CREATE OR REPLACE TEMP TABLE fa_trained AS
SELECT agent_id, min(timestamp) AS trained_at FROM employee_feedback WHERE metric = 'training' GROUP BY 1
""",
    """
CREATE OR REPLACE TEMP TABLE fa_training AS
WITH split AS (
    SELECT trained_at AS median FROM fa_trained ORDER BY trained_at
    OFFSET (SELECT count(*) // 2 FROM fa_trained) LIMIT 1
), marked AS (
    SELECT x.*, t.trained_at IS NOT NULL AS trained,
           x.first_at >= coalesce(t.trained_at, (SELECT median FROM split)) AS after
    FROM fa_expected x LEFT JOIN fa_trained t USING (agent_id) WHERE x.known_agent
)
SELECT trained, after, count(*) AS n, sum(fcr) AS observed, sum(p_known) AS expected,
       sum(p_known * (1 - p_known)) AS variance
FROM marked GROUP BY ALL
""",
    """
CREATE OR REPLACE TEMP TABLE fa_unknown AS
SELECT (SELECT count(*) FROM fa_rows WHERE NOT known_agent) AS journeys,
       (SELECT count(*) FROM feedback_links WHERE agent_id IS NOT NULL
          AND agent_id NOT IN (SELECT agent_id FROM agents WHERE agent_id IS NOT NULL)) AS feedback,
       (SELECT count(*) FROM employee_feedback
          WHERE agent_id NOT IN (SELECT agent_id FROM agents WHERE agent_id IS NOT NULL))
           AS employee_feedback
""",
]


def run_floor(con: duckdb.DuckDBPyConnection, timezone: str, repeat_days: int) -> dict[str, Any]:
    """Run :data:`FLOOR_SQL` on a workspace's DuckDB connection and read back its results."""
    for sql in FLOOR_SQL:
        params = {k: v for k, v in (("tz", timezone), ("days", repeat_days)) if f"${k}" in sql}
        con.execute(sql, params)

    def rows(sql: str) -> list[dict[str, Any]]:
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    return {
        "agents": rows("SELECT * FROM fa_agents ORDER BY agent_id"),
        "cells": rows("SELECT * FROM fa_cells ORDER BY agent_id, rate"),
        "engagement": rows("SELECT * FROM fa_engagement ORDER BY team, month"),
        "training": rows("SELECT * FROM fa_training ORDER BY trained, after"),
        "unknown": rows("SELECT * FROM fa_unknown")[0],
    }


def floor_figures(agents: list[dict[str, Any]], min_contacts: int) -> dict[str, list[Any]]:
    """Per agent, from the floor's rows: what :func:`result_figures` reads from the analysis."""
    out = {}
    for a in agents:
        counted = [int(a[f"{rate}_{x}"] or 0) for rate in COUNTED for x in "nk"]
        nps = NetPromoter(int(a["nps_promoters"] or 0), int(a["nps_detractors"] or 0), int(a["nps_n"] or 0))
        enough = (a["oe_n"] or 0) >= min_contacts
        out[str(a["agent_id"])] = [
            int(a["journeys"]), int(a["handled"] or 0), *counted, int(a["csat_n"] or 0),
            int(a["csat_top"] or 0), nps.answers, None if nps.value is None else round(nps.value * 100, 9),
            int(a["observed"]) if enough else None, round(a["expected"], 6) if enough else None,
        ]  # fmt: skip
    return out


def result_figures(records: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Per agent of an ``AgentsResult`` (by agent): journeys, contacts handled, each rate's
    (n, k), CSAT answers and top box, NPS answers and value, O and E of FCR (None below
    ``min_contacts``)."""
    out = {}
    for r in records:
        counted = [x for rate in COUNTED for x in (r[f"{rate}_n"], round((r[rate] or 0) * r[f"{rate}_n"]))]
        out[str(r["unit"])] = [
            r["journeys"], r["handled"] or 0, *counted, r["csat_n"], round((r["csat"] or 0) * r["csat_n"]),
            r["nps_n"], None if r["nps"] is None else round(r["nps"], 9),
            None if r["observed"] is None else int(r["observed"]),
            None if r["expected"] is None else round(r["expected"], 6),
        ]  # fmt: skip
    return out


def _agents_workspace(work: Path) -> Workspace:
    return Workspace.open(work / AGENTS_WORLD)


@preparation(AGENTS_WORLD, after=JOURNEYS)
def prepare_agents_world(data: Path, work: Path, memory_limit: str | None) -> int:
    """Copy the world and add agents, employee feedback and linked answers (module doc)."""
    target = work / AGENTS_WORLD
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(work / WORLD, target)
    ws = Workspace.open(target)
    loaded = 0
    for table in ("agents", "employee_feedback", "feedback"):
        loaded += sum(
            r.loaded for r in ws.ingest(IngestSpec(paths=[str(data / "world" / table)], table=table))
        )
    from journeylens.identity.stitch import with_customers

    store, backend = ws.store, ws.store.backend
    links = feedback_links(
        backend.table("journeys"), backend.table("journey_events"), store.table("events"),
        with_customers(store, "feedback"), ws.config.journeys.feedback.seconds(),
    )  # fmt: skip
    backend.create_table("feedback_links", links, overwrite=True)
    ws.close()
    return loaded


def _write(work: Path, name: str, figures: dict[str, list[Any]]) -> None:
    (work / FIGURES.format(stage=name)).write_text(json.dumps(figures, sort_keys=True))


@stage(
    "floor_agents",
    "hand-written DuckDB SQL: first contacts with outcomes and case-mix cells, per-agent counts, "
    "handled contacts, scores, O/E, mixed-model cells, engagement and training groups (the floor)",
    needs=AGENTS_WORLD,
)
def floor_agents(data: Path, work: Path) -> int:
    zone = _agents_workspace(work).config.workspace.timezone
    con = _world_duckdb(work, AGENTS_WORLD)
    spec = AgentsSpec()
    agents = run_floor(con, zone, spec.repeat_days)["agents"]
    con.close()
    _write(work, "floor_agents", floor_figures(agents, spec.min_contacts))
    return sum(int(a["journeys"]) for a in agents)


@stage(
    "agents",
    "journeylens agents --no-shrinkage: raw rates with intervals, O/E and funnel limits, engagement "
    "and training links (rows: journeys with a contact)",
    floor="floor_agents",
    needs=AGENTS_WORLD,
)
def agents_stage(data: Path, work: Path) -> int:
    from journeylens.workforce.agents import agents

    ws = _agents_workspace(work)
    result = agents(ws.store, AgentsSpec(no_shrinkage=True))
    ws.close()
    _write(work, "agents", result_figures(result.records()))
    return int(result.context["journeys"])


@stage(
    "agents_shrinkage",
    "the empirical-Bayes model agents fits unless --no-shrinkage: case-mix cell counts from the "
    "engine and statsmodels BinomialBayesMixedGLM (rows: journeys with a contact)",
    needs=AGENTS_WORLD,
)
def agents_shrinkage(data: Path, work: Path) -> int:
    from journeylens.workforce.agents import _effects
    from journeylens.workforce.casemix import with_expected
    from journeylens.workforce.contacts import first_contacts

    ws = _agents_workspace(work)
    spec = AgentsSpec()
    rows = first_contacts(ws.store, spec).cache()
    known = with_expected(rows.filter(rows.known_agent), "fcr", spec.case_mix)
    effects, model = _effects(ws.store, known, spec)
    ws.close()
    assert effects, model.get("reason")
    return int(model["contacts"])
