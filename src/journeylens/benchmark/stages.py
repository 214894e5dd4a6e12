"""Benchmark stages. Each runs in a fresh subprocess (``python -m journeylens.benchmark._run``)
so that its peak memory is its own; each JourneyLens stage names the floor it is compared with.

A stage is a function ``(data_dir, work_dir) -> rows``; register one with :func:`stage`.

Stages that read a prepared workspace (stitching, journeys and their floor) or prepared files (the
folder of small CSVs) name the state they need (``needs``, see :data:`PREPARATIONS`). The runner
prepares a missing state in a process of its own before the stage starts, untimed, unless an
earlier stage of the same run left it (``leaves``): the stitch stage leaves a stitched workspace
for the journeys stage.

A stage's rate counts the run's events unless it names another ``unit`` (files, for the folder of
small CSVs), and a stage may carry an absolute ``target`` rate that every run reports as met or not.

An ``accuracy`` stage measures how right results are, not how fast: it makes its own data, writes
its figures and target verdicts to :func:`metrics_path`, and the run reports them with the stage
(its ``target_met`` says whether every accuracy target was met; it has no rate target).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from journeylens.config import CONFIG_FILE
from journeylens.identity import stitch
from journeylens.ingest import IngestSpec
from journeylens.journeys import build_journeys
from journeylens.journeys.definitions import seconds as duration_seconds
from journeylens.workspace import Workspace

StageFn = Callable[[Path, Path], int]
PrepareFn = Callable[[Path, Path, str | None], int]
"""``(data_dir, work_dir, memory_limit) -> rows``: the limit is the world workspace's DuckDB cap."""


@dataclass(frozen=True)
class Stage:
    name: str
    run: StageFn
    floor: str | None
    """Name of the stage this one is compared with (the hand-written floor), if any."""
    doc: str
    needs: str | None = None
    """Workspace state (a key of :data:`PREPARATIONS`) that must exist before the stage starts."""
    leaves: str | None = None
    """Workspace state the stage leaves behind for later stages of the same run."""
    requires: tuple[str, str] | None = None
    """(module, extra): an optional package the stage imports and the extra that installs it."""
    unit: str = "events"
    """What the stage's rate counts: the run's events, or another unit (``files``) that the rows
    it returns count; a stage and its floor count the same unit."""
    target: float | None = None
    """An absolute rate (``unit`` per second) the stage must reach; each run says met or missed."""
    accuracy: bool = False
    """An accuracy stage: it makes its own data (not the run's files) and writes its figures to
    :func:`metrics_path`, including ``targets_met`` and the ``events`` it measured."""
    peer: str | None = None
    """Name of another tool's stage doing the same job (pm4py), compared besides the floor."""
    explicit: bool = False
    """Runs only when named (``--stage``), never in a run of every stage: it starts a cluster."""


@dataclass(frozen=True)
class Preparation:
    """Untimed set-up of a workspace state (or of files), run in its own process when no stage left it."""

    name: str
    run: PrepareFn
    after: str | None
    """The state this one builds on (prepared first)."""


STAGES: dict[str, Stage] = {}
PREPARATIONS: dict[str, Preparation] = {}


def stage(
    name: str,
    doc: str,
    floor: str | None = None,
    *,
    needs: str | None = None,
    leaves: str | None = None,
    requires: tuple[str, str] | None = None,
    unit: str = "events",
    target: float | None = None,
    accuracy: bool = False,
    peer: str | None = None,
    explicit: bool = False,
) -> Callable[[StageFn], StageFn]:
    def register(fn: StageFn) -> StageFn:
        STAGES[name] = Stage(
            name, fn, floor, doc, needs, leaves, requires, unit, target, accuracy, peer, explicit
        )
        return fn

    return register


DATA_FOLDER = "data-{events}"
"""The run's data folder inside ``--out``: one per run size (its files are cached there)."""


def run_size(data: Path) -> int:
    """The events a run was asked for, from its data folder's name (see :data:`DATA_FOLDER`).

    Example:
        >>> run_size(Path("bench/out/data-1000000"))
        1000000
    """
    return int(data.name.removeprefix(DATA_FOLDER.format(events="")))


def metrics_path(work: Path, name: str) -> Path:
    """Where accuracy stage ``name`` writes its figures for the runner (JSON)."""
    return work / f"metrics-{name}.json"


def preparation(name: str, after: str | None = None) -> Callable[[PrepareFn], PrepareFn]:
    def register(fn: PrepareFn) -> PrepareFn:
        PREPARATIONS[name] = Preparation(name, fn, after)
        return fn

    return register


def _fresh_workspace(work: Path, name: str) -> Workspace:
    root = work / name
    shutil.rmtree(root, ignore_errors=True)
    return Workspace.init(root)


def _ingest(data: Path, work: Path, file: str, name: str) -> int:
    ws = _fresh_workspace(work, name)
    [report] = ws.ingest(IngestSpec(paths=[str(data / file)]))
    ws.close()
    return report.loaded


def _floor(data: Path, work: Path, reader: str, name: str) -> int:
    path = work / f"{name}.duckdb"
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    con.execute("SET preserve_insertion_order = false")
    source = str(data / ("events.parquet" if reader == "read_parquet" else "events.csv"))
    con.execute(f"CREATE TABLE events AS SELECT * FROM {reader}(?)", [source])
    rows = con.execute("SELECT count(*) FROM events").fetchone()
    con.close()
    return int(rows[0]) if rows else 0


@stage("floor_parquet", "DuckDB read_parquet into a table: no validation, no dedupe (the floor)")
def floor_parquet(data: Path, work: Path) -> int:
    return _floor(data, work, "read_parquet", "floor_parquet")


@stage("ingest_parquet", "journeylens ingest of one Parquet file into a new workspace", floor="floor_parquet")
def ingest_parquet(data: Path, work: Path) -> int:
    return _ingest(data, work, "events.parquet", "ingest_parquet")


@stage("reingest_parquet", "the same Parquet file again: everything is a duplicate", floor="floor_parquet")
def reingest_parquet(data: Path, work: Path) -> int:
    ws = Workspace.open(work / "ingest_parquet")
    [report] = ws.ingest(IngestSpec(paths=[str(data / "events.parquet")]))
    ws.close()
    return report.duplicates


@stage("floor_csv", "DuckDB read_csv (sniffed, parallel) into a table: no validation (the floor)")
def floor_csv(data: Path, work: Path) -> int:
    return _floor(data, work, "read_csv", "floor_csv")


@stage("ingest_csv", "journeylens ingest of one CSV file into a new workspace", floor="floor_csv")
def ingest_csv(data: Path, work: Path) -> int:
    return _ingest(data, work, "events.csv", "ingest_csv")


# The world workspace: customers, identities and events of the synthetic world, shared by the
# identity and journey stages of one run.
WORLD = "world"
INGESTED, STITCHED = "ingested", "stitched"
JOURNEYS = "journeys_built"
"""Journeys built on the stitched world (prepared in discovery_stages; left by ``journeys``)."""


@preparation(INGESTED)
def ingest_world(data: Path, work: Path, memory_limit: str | None) -> int:
    """A fresh workspace with the world's customers, identities and events (events.parquet).

    ``memory_limit`` becomes the workspace's ``[backend] memory_limit``: stitching, journeys and
    their floor run under it (None: DuckDB's default, 80% of RAM), spilling to disk above it.
    """
    ws = _fresh_workspace(work, WORLD)
    ws.config.backend.memory_limit = memory_limit
    # The synthetic world writes national phone numbers of this country (see its ground_truth.json),
    # as the demo does; without it those identities could not be hashed and linked.
    ws.config.privacy.default_country_code = "31"
    ws.config.dump(ws.root / CONFIG_FILE)
    loaded = 0
    for table, source in (
        ("customers", data / "world" / "customers"),
        ("identities", data / "world" / "identities"),
        ("events", data / "events.parquet"),
    ):
        loaded += sum(r.loaded for r in ws.ingest(IngestSpec(paths=[str(source)], table=table)))
    ws.close()
    return loaded


def _stitch_world(work: Path) -> int:
    ws = Workspace.open(work / WORLD)
    result = stitch(ws.store, ws.config.identity)
    identifiers = int(ws.store.execute(result.customer_map.count()).as_py())
    ws.close()
    return identifiers


@preparation(STITCHED, after=INGESTED)
def stitch_world(data: Path, work: Path, memory_limit: str | None) -> int:
    return _stitch_world(work)


@stage(
    "stitch",
    "identity stitching of the world workspace into customer_map (rows: identifiers mapped)",
    needs=INGESTED,
    leaves=STITCHED,
)
def stitch_stage(data: Path, work: Path) -> int:
    return _stitch_world(work)


# Every event with its customer, by user id where known, else by anonymous id (as journeys do):
# the FROM clause of the floors; they select coalesce(by_user.customer_id, by_anon.customer_id).
CUSTOMER_JOIN = """    FROM events e
    LEFT JOIN customer_map by_user
        ON by_user.identifier_type = 'user_id' AND by_user.identifier_value = e.user_id
    LEFT JOIN customer_map by_anon
        ON by_anon.identifier_type = 'anonymous_id' AND by_anon.identifier_value = e.anonymous_id
"""

# Sessions by one inactivity gap over each customer's events, with a step number per event, and
# one row per session: the least work that yields what journeys yield (journey_events, journeys),
# without journey types, intents, cases or outcomes. Same order and customer join as journeys.
FLOOR_SESSION_EVENTS = f"""
CREATE OR REPLACE TABLE floor_session_events AS
WITH located AS (
    SELECT e.event_id, e.timestamp, e.ingest_seq,
           coalesce(by_user.customer_id, by_anon.customer_id) AS customer_id
{CUSTOMER_JOIN}),
gaps AS (
    SELECT *, CASE WHEN epoch(timestamp) - epoch(lag(timestamp) OVER by_time) <= ? THEN 0 ELSE 1 END
        AS opens
    FROM located
    WINDOW by_time AS (PARTITION BY customer_id ORDER BY timestamp, ingest_seq, event_id)
),
sessions AS (
    SELECT *, sum(opens) OVER (
        PARTITION BY customer_id ORDER BY timestamp, ingest_seq, event_id ROWS UNBOUNDED PRECEDING
    ) AS session
    FROM gaps
)
SELECT event_id, customer_id, session, timestamp,
       row_number() OVER (PARTITION BY customer_id, session ORDER BY timestamp, ingest_seq, event_id)
           AS step
FROM sessions
"""
FLOOR_SESSIONS = """
CREATE OR REPLACE TABLE floor_sessions AS
SELECT customer_id, session, count(*) AS events, min(timestamp) AS started, max(timestamp) AS ended
FROM floor_session_events
GROUP BY customer_id, session
"""


@stage(
    "floor_sessionize",
    "plain DuckDB: customer join, gap sessions (lag + running sum), per-session table (the floor)",
    needs=STITCHED,
)
def floor_sessionize(data: Path, work: Path) -> int:
    ws = Workspace.open(work / WORLD)
    gap = duration_seconds(ws.config.journeys.neutral_gap)
    # The workspace's own engine settings, so the floor and journeys run under the same limits.
    config: dict[str, str | bool | int | float | list[str]] = {"preserve_insertion_order": False}
    if ws.config.backend.memory_limit:
        config["memory_limit"] = ws.config.backend.memory_limit
    con = duckdb.connect(ws.url.removeprefix("duckdb://"), config=config)
    con.execute(FLOOR_SESSION_EVENTS, [gap])
    con.execute(FLOOR_SESSIONS)
    rows = con.execute("SELECT count(*) FROM floor_session_events").fetchone()
    con.close()
    return int(rows[0]) if rows else 0


@stage(
    "journeys",
    "build_journeys on the stitched world workspace (rows: events placed in journeys)",
    floor="floor_sessionize",
    needs=STITCHED,
    leaves=JOURNEYS,
)
def journeys_stage(data: Path, work: Path) -> int:
    ws = Workspace.open(work / WORLD)
    built = build_journeys(ws.store, ws.config.journeys)
    placed = int(ws.store.execute(built.journey_events.count()).as_py())
    ws.close()
    return placed


def main(argv: list[str]) -> None:
    """Run one stage or preparation and print ``{"rows", "seconds", "peak_rss_mb"}`` as JSON.

    Arguments: ``NAME DATA_DIR WORK_DIR [MEMORY_LIMIT]`` (the limit only for preparations).
    """
    name, data, work = argv[0], Path(argv[1]), Path(argv[2])
    start = time.perf_counter()
    if name in STAGES:
        rows = STAGES[name].run(data, work)
    else:
        rows = PREPARATIONS[name].run(data, work, argv[3] if len(argv) > 3 else None)
    seconds = time.perf_counter() - start
    # Helpers still running (Spark's JVM) and the largest finished child (the CLI processes of a
    # stage that runs commands one after another) add to the stage's own peak.
    finished = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + finished + _helpers_peak_kb(os.getpid())
    print(json.dumps({"rows": rows, "seconds": seconds, "peak_rss_mb": peak_kb / 1024}))


def _helpers_peak_kb(pid: int) -> int:
    """Peak RSS (``VmHWM``) of every live descendant of ``pid``, summed, in KiB.

    A stage that starts helpers — PySpark's JVM — counts their memory too. The sum of peaks may
    exceed the true joint peak, never undercut it. 0 where ``/proc`` is missing.
    """
    total = 0
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            kids = [int(c) for c in children.read_text().split()]
        except OSError:
            continue
        for kid in kids:
            try:
                status = Path(f"/proc/{kid}/status").read_text()
            except OSError:
                continue
            hwm = [line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")]
            total += int(hwm[0]) if hwm else 0
            total += _helpers_peak_kb(kid)
    return total
