"""Benchmark stages for process logs (issue 18, item 3): journeys of a case log, where every
event carries a ``case_id``, next to a hand-written floor that only groups and numbers steps.

The case log is generated with DuckDB (untimed): the run's size in events, one case per ten
events, each case's events minutes apart with touchpoints the default journey types claim (so
typing each case has work to do), and some calls with an agent. It is ingested and stitched into
a workspace of its own before the stages run.

- ``floor_cases``: plain DuckDB SQL, ``row_number()`` over each case in time order (ties in load
  order, then event id) into a table of (event_id, journey_id, step).
- ``cases_fast``: what ``journeylens build`` does to place a case log's events in journeys:
  the one-aggregate check that every event has a case, ``assign_journeys`` on the case-log path
  (the step-order columns outcomes reads, the case's type and journey id) written once by
  ``journeys.build.place_events`` (on DuckDB as ``journey_events`` with the working columns,
  narrowed to its own afterwards). Outcomes are not part of it.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from journeylens.benchmark.discovery_stages import _world_duckdb
from journeylens.benchmark.stages import _fresh_workspace, preparation, run_size, stage
from journeylens.identity import stitch
from journeylens.identity.stitch import events_with_customers
from journeylens.ingest import IngestSpec
from journeylens.journeys.build import ASSIGNED, is_case_log, narrow_events, place_events
from journeylens.journeys.segment import assign_journeys
from journeylens.store._backend import capabilities
from journeylens.store._working import drop_scratch
from journeylens.workspace import Workspace

CASELOG, CASELOG_FILE = "caselog", "caselog.parquet"
EVENTS_PER_CASE = 10
# Touchpoints of the default journey types (support, purchase, information) and some no type
# claims, with the channel each comes from.
ACTIVITIES = [
    ("web", "help_article"), ("web", "track_order"), ("call_center", "ivr_menu"), ("call_center", "call"),
    ("web", "product_page"), ("web", "add_to_cart"), ("web", "checkout"), ("email", "order_confirmation"),
    ("web", "faq"), ("web", "home"), ("chat", "chatbot"), ("sms", "delivery_update"),
]  # fmt: skip
CASELOG_SQL = """
COPY (
    SELECT 'case' || lpad(CAST(i % $cases AS VARCHAR), 8, '0') AS case_id,
           TIMESTAMPTZ '2024-01-01 00:00:00+00'
               + to_seconds((i % $cases) * 37 + (i // $cases) * 600 + hash(i) % 300) AS timestamp,
           a.channel, a.touchpoint,
           CASE WHEN a.touchpoint = 'call' THEN 'agent' || CAST(hash(i) % 50 AS VARCHAR) END AS agent_id
    FROM range($events) t(i)
    JOIN activities a ON a.code = hash(i * 7) % $activities
) TO '{path}' (FORMAT parquet)
"""


@preparation(CASELOG)
def write_caselog(data: Path, work: Path, memory_limit: str | None) -> int:
    """The case log file and a workspace with it ingested and stitched."""
    events = run_size(data)
    path = work / CASELOG_FILE
    con = duckdb.connect()
    rows = [(i, channel, touchpoint) for i, (channel, touchpoint) in enumerate(ACTIVITIES)]
    con.execute("CREATE TABLE activities (code UBIGINT, channel VARCHAR, touchpoint VARCHAR)")
    con.executemany("INSERT INTO activities VALUES (?, ?, ?)", rows)
    params = {"cases": max(1, events // EVENTS_PER_CASE), "events": events, "activities": len(ACTIVITIES)}
    con.execute(CASELOG_SQL.format(path=path), params)
    con.close()
    ws = _fresh_workspace(work, CASELOG)
    ws.config.backend.memory_limit = memory_limit
    [report] = ws.ingest(IngestSpec(paths=[str(path)]))
    stitch(ws.store, ws.config.identity)
    ws.close()
    return report.loaded


@stage(
    "floor_cases",
    "hand-written DuckDB SQL: row_number over each case in time order into (event, case, step) (the floor)",
    needs=CASELOG,
    unit="case events",
)
def floor_cases(data: Path, work: Path) -> int:
    con = _world_duckdb(work, CASELOG)
    con.execute(
        """CREATE OR REPLACE TABLE floor_cases_events AS
        SELECT event_id, case_id AS journey_id,
               row_number() OVER (PARTITION BY case_id ORDER BY timestamp, ingest_seq, event_id) AS step
        FROM events"""
    )
    rows = con.execute("SELECT count(*) FROM floor_cases_events").fetchone()
    con.close()
    return int(rows[0]) if rows else 0


@stage(
    "cases_fast",
    "journeylens: case-log check, assign_journeys on the case-log path into the build's working "
    "table, journey_events (no outcomes)",
    floor="floor_cases",
    needs=CASELOG,
    unit="case events",
)
def cases_fast(data: Path, work: Path) -> int:
    ws = Workspace.open(work / CASELOG)
    store = ws.store
    if not is_case_log(store):
        raise RuntimeError("the generated case log has events without a case")
    backend = store.backend
    in_place = capabilities(backend).drops_columns
    try:
        _, journey_events = place_events(
            backend,
            assign_journeys(backend, events_with_customers(store), ws.config.journeys, case_log=True),
            lambda name, rows: backend.create_table(name, rows, overwrite=True),
            in_place=in_place,
        )
        placed = int(store.execute(journey_events.count()).as_py())
    finally:
        drop_scratch(backend, ASSIGNED)
        if in_place:
            narrow_events(backend)
        ws.close()
    return placed
