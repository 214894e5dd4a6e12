"""Benchmark stages for root causes: ``journeylens causes --outcome leakage`` next to hand-written
DuckDB SQL of the single-feature contrast counts over the same tables.

The floor computes what the engine must at least compute: the leakage outcome over journeys that
used a digital channel, their events before the first event on an assisted channel, and per
feature (touchpoint, channel, channel switch, entry channel, segment, device) the journeys with it
and the leaking journeys among them. ``causes`` does that and the rest (pairs, the stratified
counts, the presence patterns of the joint model, example ids, and the statistics). Both write the
supported single features (at least 20 journeys with and without), their journeys and outcome
journeys, so a run can check that they agree.
"""

from __future__ import annotations

import json
from pathlib import Path

from journeylens.benchmark.discovery_stages import _world_duckdb
from journeylens.benchmark.stages import JOURNEYS, WORLD, stage
from journeylens.decisions.causes import causes
from journeylens.journeys.definitions import JourneyRules
from journeylens.specs.causes import CausesSpec
from journeylens.workspace import Workspace

TOTALS = "cause_totals-{stage}.json"
"""Each stage writes (supported features, their journeys, their outcome journeys) here."""
MIN_SUPPORT = 20

FLOOR_SQL = """
CREATE OR REPLACE TEMP TABLE floor_outcome AS
SELECT journey_id, customer_id, first_channel, CAST(coalesce(leakage, FALSE) AS INTEGER) AS y
FROM journeys WHERE digital_events > 0;
CREATE OR REPLACE TEMP TABLE floor_events AS
SELECT journey_id, step, channel, touchpoint, device FROM (
    SELECT je.journey_id, je.step, e.channel, e.touchpoint, e.properties->>'device' AS device,
           min(CASE WHEN e.channel IN ({assisted}) THEN je.step END)
               OVER (PARTITION BY je.journey_id) AS first_contact
    FROM journey_events je JOIN floor_outcome o USING (journey_id) JOIN events e USING (event_id)
) WHERE first_contact IS NULL OR step < first_contact;
CREATE OR REPLACE TEMP TABLE floor_counts AS
WITH segments AS (
    SELECT m.customer_id, max(c.traits->>'segment') AS segment
    FROM customer_map m JOIN customers c ON m.identifier_type = 'user_id' AND m.identifier_value = c.user_id
    GROUP BY 1
), switches AS (
    SELECT journey_id, lag(channel) OVER (PARTITION BY journey_id ORDER BY step) AS prev, channel
    FROM floor_events
), features AS (
    SELECT DISTINCT journey_id, 'touchpoint ' || channel || ':' || touchpoint AS label FROM floor_events
    UNION ALL SELECT DISTINCT journey_id, 'channel ' || channel FROM floor_events
    UNION ALL SELECT DISTINCT journey_id, 'switch ' || prev || '->' || channel FROM switches
        WHERE prev IS NOT NULL AND prev <> channel
    UNION ALL SELECT journey_id, 'entry ' || first_channel FROM floor_outcome WHERE first_channel IS NOT NULL
    UNION ALL SELECT o.journey_id, 'segment ' || s.segment
        FROM floor_outcome o JOIN segments s USING (customer_id) WHERE s.segment IS NOT NULL
    UNION ALL SELECT DISTINCT journey_id, 'event device=' || device FROM floor_events WHERE device IS NOT NULL
)
SELECT label, count(*) AS n, sum(y) AS k FROM features JOIN floor_outcome USING (journey_id) GROUP BY label;
"""


@stage(
    "floor_causes",
    "hand-written DuckDB SQL: leakage, the events before the contact, per feature the journeys with it "
    "and the leaking ones (the floor)",
    needs=JOURNEYS,
)
def floor_causes(data: Path, work: Path) -> int:
    con = _world_duckdb(work)
    assisted = ", ".join(f"'{c}'" for c in JourneyRules().assisted_channels)
    con.execute(FLOOR_SQL.format(assisted=assisted))
    total = con.execute("SELECT count(*) FROM floor_outcome").fetchone()
    n_all = int(total[0]) if total else 0
    found = con.execute(
        "SELECT count(*), sum(n), sum(k) FROM floor_counts WHERE n >= ? AND ? - n >= ?",
        [MIN_SUPPORT, n_all, MIN_SUPPORT],
    ).fetchone()
    con.close()
    totals = [int(v or 0) for v in found] if found else [0, 0, 0]
    (work / TOTALS.format(stage="floor_causes")).write_text(json.dumps(totals))
    return n_all


@stage(
    "causes",
    "journeylens causes --outcome leakage: contrasts, BH, stratified checks, pairs, joint model",
    floor="floor_causes",
    needs=JOURNEYS,
)
def causes_stage(data: Path, work: Path) -> int:
    ws = Workspace.open(work / WORLD)
    spec = CausesSpec(outcome="leakage", properties=["device"], min_support=MIN_SUPPORT)
    result = causes(ws, spec)
    ws.close()
    singles = [r for r in result.records() if r["family"] != "pair"]
    totals = [len(singles), sum(r["journeys_with"] for r in singles), sum(r["outcome_with"] for r in singles)]
    (work / TOTALS.format(stage="causes")).write_text(json.dumps(totals))
    return int(result.context["journeys"])
