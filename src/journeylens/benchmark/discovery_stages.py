"""Benchmark stages for discovery: process map + variants next to hand-written DuckDB SQL, a
20-step funnel, and a file-to-process-map run next to pm4py on the same CSV.

The process log both tools read is written from the world's journeys (untimed): one row per
journey event, ``case:concept:name`` = journey, ``concept:name`` = touchpoint,
``time:timestamp`` = the instant, in step order — the layout pm4py documents for CSV logs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb

from journeylens.benchmark.stages import (
    CUSTOMER_JOIN,
    JOURNEYS,
    STITCHED,
    WORLD,
    _fresh_workspace,
    preparation,
    stage,
)
from journeylens.discovery.dfg import process_map
from journeylens.discovery.funnel import FunnelSpec, funnel
from journeylens.discovery.variants import variants
from journeylens.errors import InputError
from journeylens.identity import stitch
from journeylens.ingest import IngestSpec
from journeylens.journeys import build_journeys
from journeylens.specs.discovery import MapSpec, VariantSpec
from journeylens.store import Store
from journeylens.workspace import Workspace

PROCESS_CSV = "process_csv"
PROCESS_FILE = "process.csv"
FUNNEL_STEPS = 20
PM4PY_MAPPING = {
    "case_id": "case:concept:name",
    "touchpoint": "concept:name",
    "timestamp": "time:timestamp",
}


@preparation(JOURNEYS, after=STITCHED)
def build_world_journeys(data: Path, work: Path, memory_limit: str | None) -> int:
    ws = Workspace.open(work / WORLD)
    built = build_journeys(ws.store, ws.config.journeys)
    rows = int(ws.store.execute(built.journeys.count()).as_py())
    ws.close()
    return rows


@preparation(PROCESS_CSV, after=JOURNEYS)
def write_process_csv(data: Path, work: Path, memory_limit: str | None) -> int:
    con = _world_duckdb(work)
    path = str(work / PROCESS_FILE)
    con.execute(
        f"""COPY (
            SELECT je.journey_id AS "case:concept:name", e.touchpoint AS "concept:name",
                   strftime(e.timestamp AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%gZ') AS "time:timestamp"
            FROM journey_events je JOIN events e USING (event_id)
            ORDER BY je.journey_id, je.step
        ) TO '{path}' (HEADER, DELIMITER ',')"""
    )
    rows = con.execute(f"SELECT count(*) FROM read_csv('{path}')").fetchone()
    con.close()
    return int(rows[0]) if rows else 0


def _world_duckdb(work: Path, workspace: str = WORLD) -> duckdb.DuckDBPyConnection:
    """A plain DuckDB connection to the world workspace's file, under its memory limit."""
    ws = Workspace.open(work / workspace)
    url, limit = ws.url.removeprefix("duckdb://"), ws.config.backend.memory_limit
    ws.close()
    config: dict[str, str | bool | int | float | list[str]] = {"preserve_insertion_order": False}
    if limit:
        config["memory_limit"] = limit
    return duckdb.connect(url, config=config)


# The same results as process_map + variants, written by hand: edges with count, journeys and
# median / mean / p90 transition time; start and end activities; activity counts; variants as
# ordered strings with count and median duration. One window pass over the log, as a person
# fluent in SQL would write it.
FLOOR_DFG = """
CREATE OR REPLACE TEMP TABLE floor_log AS
SELECT je.journey_id, je.step, e.touchpoint AS activity, e.timestamp,
       lead(e.touchpoint) OVER w AS next_activity,
       epoch(lead(e.timestamp) OVER w) - epoch(e.timestamp) AS seconds
FROM journey_events je JOIN events e USING (event_id)
WINDOW w AS (PARTITION BY je.journey_id ORDER BY je.step);
CREATE OR REPLACE TEMP TABLE floor_edges AS
SELECT activity AS source, next_activity AS target, count(*) AS count,
       count(DISTINCT journey_id) AS journeys, median(seconds) AS median_s, avg(seconds) AS mean_s,
       quantile_cont(seconds, 0.9) AS p90_s
FROM floor_log WHERE next_activity IS NOT NULL GROUP BY ALL;
CREATE OR REPLACE TEMP TABLE floor_nodes AS
SELECT activity, count(*) AS events, count(DISTINCT journey_id) AS journeys,
       count(*) FILTER (WHERE step = 1) AS starts, count(*) FILTER (WHERE next_activity IS NULL) AS ends
FROM floor_log GROUP BY ALL;
CREATE OR REPLACE TEMP TABLE floor_variants AS
SELECT steps, count(*) AS count, median(duration_s) AS median_duration_s
FROM (
    SELECT journey_id, string_agg(activity, chr(31) ORDER BY step) AS steps,
           epoch(max(timestamp)) - epoch(min(timestamp)) AS duration_s
    FROM floor_log GROUP BY journey_id
) GROUP BY steps;
"""


@stage(
    "floor_dfg",
    "hand-written DuckDB SQL: DFG with timings, start/end activities, variants (the floor)",
    needs=JOURNEYS,
)
def floor_dfg(data: Path, work: Path) -> int:
    con = _world_duckdb(work)
    con.execute(FLOOR_DFG)
    rows = con.execute("SELECT count(*) FROM floor_log").fetchone()
    con.close()
    return int(rows[0]) if rows else 0


@stage(
    "process_map",
    "process_map (DFG + performance + start/end) and variants over all journeys",
    floor="floor_dfg",
    needs=JOURNEYS,
)
def process_map_stage(data: Path, work: Path) -> int:
    ws = Workspace.open(work / WORLD)
    pm = process_map(ws.store, MapSpec())
    variants(ws.store, VariantSpec(coverage=1.0))
    events = sum(int(n["events"]) for n in pm.nodes.to_pylist())
    ws.close()
    return events


FUNNEL_WINDOW_DAYS = 14
FUNNEL_COUNTS = "funnel_counts-{stage}.json"
"""Each funnel stage writes its units per step here, so that a run can check floor and funnel agree."""

# The most frequent touchpoints in the order they typically happen: a long, plausible funnel.
FUNNEL_STEP_CHOICE = f"""
SELECT touchpoint FROM (
    SELECT touchpoint, count(*) AS n, min(timestamp) AS first_seen FROM events
    GROUP BY touchpoint ORDER BY n DESC, touchpoint LIMIT {FUNNEL_STEPS}
) ORDER BY first_seen, touchpoint
"""


def _floor_funnel_steps(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [str(row[0]) for row in con.execute(FUNNEL_STEP_CHOICE).fetchall()]


def funnel_steps(store: Store) -> list[str]:
    """The same choice as :data:`FUNNEL_STEP_CHOICE`, in Ibis (it runs on every engine)."""
    events = store.table("events")
    common = events.group_by("touchpoint").agg(n=events.count(), first_seen=events.timestamp.min())
    top = store.execute(common.order_by([common.n.desc(), "touchpoint"]).limit(FUNNEL_STEPS)).to_pylist()
    return [r["touchpoint"] for r in sorted(top, key=lambda r: (r["first_seen"], r["touchpoint"]))]


def _write_counts(work: Path, stage_name: str, counts: list[int]) -> None:
    (work / FUNNEL_COUNTS.format(stage=stage_name)).write_text(json.dumps(counts))


# The same ordered funnel written by hand, as a person fluent in DuckDB would: each customer's
# events numbered once (with the event that follows each), then one ASOF join per step (the first
# event of the next step after the current one), kept within the window from the attempt's first
# step. Every step-1 event starts an attempt; each customer counts with its best attempt (furthest
# step, earliest there, latest start), as `funnel` defines it. Like `funnel` it reports units and
# median time from the first step per step, and where the customers who dropped off went next.
FLOOR_FUNNEL_EVENTS = f"""
CREATE OR REPLACE TEMP TABLE floor_funnel_events AS
WITH located AS (
    SELECT e.timestamp, e.ingest_seq, e.event_id, e.touchpoint,
           coalesce(by_user.customer_id, by_anon.customer_id) AS customer_id
{CUSTOMER_JOIN}),
numbered AS (
    SELECT customer_id, list_position($steps, touchpoint) AS step, epoch_ms(timestamp) AS ms,
           row_number() OVER w AS pos, lead(touchpoint) OVER w AS next_activity,
           epoch_ms(lead(timestamp) OVER w) AS next_ms
    FROM located WHERE customer_id IS NOT NULL
    WINDOW w AS (PARTITION BY customer_id ORDER BY timestamp, ingest_seq, event_id)
)
SELECT * FROM numbered WHERE step IS NOT NULL
"""


def _floor_funnel_sql(steps: int, window_ms: int) -> list[str]:
    sql = [
        "CREATE OR REPLACE TEMP TABLE floor_reach_1 AS SELECT customer_id, pos AS start_pos, pos, ms AS t1, "
        "next_activity, next_ms FROM floor_funnel_events WHERE step = 1"
    ]
    for k in range(2, steps + 1):
        kept = ", ".join(f"a.t{i}" for i in range(1, k))
        sql.append(
            f"CREATE OR REPLACE TEMP TABLE floor_reach_{k} AS "
            f"SELECT a.customer_id, a.start_pos, s.pos, {kept}, s.ms AS t{k}, s.next_activity, s.next_ms "
            f"FROM floor_reach_{k - 1} a "
            f"ASOF JOIN (SELECT * FROM floor_funnel_events WHERE step = {k}) s "
            f"ON a.customer_id = s.customer_id AND a.pos < s.pos WHERE s.ms <= a.t1 + {window_ms}"
        )
    levels = " UNION ALL BY NAME ".join(
        f"SELECT *, {k} AS level FROM floor_reach_{k}" for k in range(1, steps + 1)
    )
    sql.append(
        f"CREATE OR REPLACE TEMP TABLE floor_best AS SELECT * FROM ({levels}) "
        "QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY level DESC, pos, start_pos DESC) = 1"
    )
    per_step = ", ".join(
        f"count(*) FILTER (WHERE level >= {k}) AS units_{k}, median(t{k} - t1) AS median_ms_{k}"
        for k in range(1, steps + 1)
    )
    sql.append(f"CREATE OR REPLACE TEMP TABLE floor_funnel AS SELECT {per_step} FROM floor_best")
    sql.append(
        "CREATE OR REPLACE TEMP TABLE floor_went AS SELECT level, count(*) AS units, "
        f"CASE WHEN next_ms <= t1 + {window_ms} THEN next_activity ELSE '(none)' END AS went "
        f"FROM floor_best WHERE level < {steps} GROUP BY ALL"
    )
    return sql


@stage(
    "floor_funnel",
    f"hand-written DuckDB SQL: the same {FUNNEL_STEPS}-step funnel, one ASOF join per step (the floor)",
    needs=JOURNEYS,
)
def floor_funnel(data: Path, work: Path) -> int:
    con = _world_duckdb(work)
    steps = _floor_funnel_steps(con)
    con.execute(FLOOR_FUNNEL_EVENTS, {"steps": steps})
    for statement in _floor_funnel_sql(len(steps), FUNNEL_WINDOW_DAYS * 86_400_000):
        con.execute(statement)
    row = con.execute("SELECT * FROM floor_funnel").fetchone()
    con.close()
    counts = [int(row[2 * i]) for i in range(len(steps))] if row else []
    _write_counts(work, "floor_funnel", counts)
    return len(counts)


@stage(
    "funnel_20",
    f"an ordered {FUNNEL_STEPS}-step funnel per customer ({FUNNEL_WINDOW_DAYS}-day window) over every event "
    "(rows: step rows)",
    floor="floor_funnel",
    needs=JOURNEYS,
)
def funnel_stage(data: Path, work: Path) -> int:
    ws = Workspace.open(work / WORLD)
    steps = funnel_steps(ws.store)
    result = funnel(ws.store, FunnelSpec(steps=steps, window=f"{FUNNEL_WINDOW_DAYS}d"))
    ws.close()
    records = result.records()
    _write_counts(work, "funnel_20", [int(r["units"]) for r in records])
    return len(records)


# pm4py is a test-only reference (AGPL): the product never imports it. The peer is a script of
# the source checkout, run as a process of its own (its time includes starting Python and pm4py).
PM4PY_PEER = Path(__file__).resolve().parents[3] / "scripts" / "pm4py_peer.py"


@stage(
    "pm4py_e2e",
    "pm4py: read process.csv (pandas), format_dataframe, DFG, variants, performance DFG (the peer)",
    needs=PROCESS_CSV,
    requires=("pm4py", "test"),
)
def pm4py_stage(data: Path, work: Path) -> int:
    import subprocess
    import sys

    if not PM4PY_PEER.is_file():
        raise InputError(
            f"The pm4py peer {PM4PY_PEER} is missing: it is part of the source checkout, not the package.",
            hint="Run `journeylens bench` from a clone of the repository, or leave out --stage pm4py_e2e.",
        )
    done = subprocess.run(
        [sys.executable, str(PM4PY_PEER), str(work / PROCESS_FILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"pm4py peer failed:\n{done.stderr[-2000:]}")
    return int(done.stdout.split()[-1])


@stage(
    "process_e2e",
    "journeylens: ingest process.csv into a new workspace, build, process map + variants",
    floor="pm4py_e2e",
    needs=PROCESS_CSV,
)
def process_e2e_stage(data: Path, work: Path) -> int:
    ws = _fresh_workspace(work, "process_e2e")
    ws.ingest(IngestSpec(paths=[str(work / PROCESS_FILE)], mapping=PM4PY_MAPPING, channel="web"))
    stitch(ws.store, ws.config.identity)
    build_journeys(ws.store, ws.config.journeys)
    pm = process_map(ws.store, MapSpec())
    variants(ws.store, VariantSpec(coverage=1.0))
    events = sum(int(n["events"]) for n in pm.nodes.to_pylist())
    ws.close()
    return events


# README's quickstart for a pm4py-layout CSV, each command its own process as a user types it:
# start-up, the automatic build before the first analysis, and terminal output all count.
NEWCOMER = "newcomer"
NEWCOMER_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("init", "{workspace}"),
    ("ingest", "{csv}", *(f"--map={target}={source}" for target, source in PM4PY_MAPPING.items())),
    ("dfg",),
    ("variants",),
)


@stage(
    NEWCOMER,
    "journeylens CLI as a newcomer runs it on process.csv: init, ingest, dfg (builds), variants "
    "(separate processes)",
    floor="pm4py_e2e",
    needs=PROCESS_CSV,
)
def newcomer_stage(data: Path, work: Path) -> int:
    import shutil
    import subprocess
    import sys

    root = work / NEWCOMER
    shutil.rmtree(root, ignore_errors=True)
    values = {"workspace": str(root), "csv": str(work / PROCESS_FILE)}
    env = {**os.environ, "COLUMNS": "120"}
    for command in NEWCOMER_COMMANDS:
        args = [part.format(**values) for part in command]
        if command[0] != "init":
            args += ["--workspace", str(root)]
        done = subprocess.run(
            [sys.executable, "-m", "journeylens", *args], env=env, capture_output=True, text=True, check=False
        )
        if done.returncode:
            raise RuntimeError(f"journeylens {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    ws = Workspace.open(root)
    events = ws.store.count("events")
    ws.close()
    return events
