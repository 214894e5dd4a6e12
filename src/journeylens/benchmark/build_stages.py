"""Benchmark stages for the incremental build: ``build_incremental`` next to ``build_full``.

Prepared untimed: a workspace with the world's customers, identities and the first 99% of its
events by time, built in full, then the last 1% ingested (a day's new data: it moves the data's
end, so the journeys near it are recomputed too), and a copy of that workspace. ``build_full``
rebuilds the copy with ``--full``; ``build_incremental`` builds the original, which takes the
incremental path. Both end with the same tables (``tests/test_incremental_build.py`` checks that
on small data); the ratio is the point.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import duckdb

from journeylens.benchmark.stages import _fresh_workspace, preparation, stage
from journeylens.config import CONFIG_FILE
from journeylens.ingest import IngestSpec
from journeylens.model import build_model
from journeylens.workspace import Workspace

APPENDED = "appended"
INCREMENTAL, FULL = "build_incremental_ws", "build_full_ws"
SHARE = 0.01
"""The share of the events, the latest by time, that arrives after the first build."""
SUMMARY = "build-{stage}.json"


@preparation(APPENDED)
def append_one_percent(data: Path, work: Path, memory_limit: str | None) -> int:
    """Build the world on 99% of its events, then ingest the last 1% (returns its rows)."""
    con = duckdb.connect()
    source = str(data / "events.parquet")
    events = con.read_parquet(source)
    # fetchall, not fetchone: the connection must have no unfinished result before the writes.
    rows = con.execute(
        "SELECT quantile_disc(timestamp, ?) FROM read_parquet(?)", [1 - SHARE, source]
    ).fetchall()
    cut = duckdb.ConstantExpression(rows[0][0])
    at = duckdb.ColumnExpression("timestamp")
    events.filter(at <= cut).write_parquet(str(work / "events-base.parquet"))
    events.filter(at > cut).write_parquet(str(work / "events-tail.parquet"))
    con.close()
    ws = _fresh_workspace(work, INCREMENTAL)
    ws.config.backend.memory_limit = memory_limit
    ws.config.privacy.default_country_code = "31"  # as the world workspace (see stages.ingest_world)
    ws.config.dump(ws.root / CONFIG_FILE)
    for table, path in (
        ("customers", data / "world" / "customers"),
        ("identities", data / "world" / "identities"),
        ("events", work / "events-base.parquet"),
    ):
        ws.ingest(IngestSpec(paths=[str(path)], table=table))
    build_model(ws.store, ws.config)
    [report] = ws.ingest(IngestSpec(paths=[str(work / "events-tail.parquet")]))
    ws.close()
    shutil.rmtree(work / FULL, ignore_errors=True)
    shutil.copytree(work / INCREMENTAL, work / FULL)
    return report.loaded


def _build(work: Path, name: str, stage_name: str, *, full: bool) -> int:
    ws = Workspace.open(work / name)
    # CPU seconds of this process next to wall: on a shared machine wall time is mostly waiting.
    cpu, wall = time.process_time(), time.perf_counter()
    summary = build_model(ws.store, ws.config, full=full)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    ws.close()
    facts = {"mode": summary.mode, "recomputed_customers": summary.recomputed_customers,
             "redecided_journeys": summary.redecided_journeys, "from_cut": summary.from_cut,
             "customers": summary.customers, "journeys": summary.journeys,
             "cpu_seconds": round(cpu, 2), "wall_seconds": round(wall, 2)}  # fmt: skip
    (work / SUMMARY.format(stage=stage_name)).write_text(json.dumps(facts))
    return summary.journeys


@stage(
    "build_full",
    "journeylens build --full after 1% new events (rows: journeys)",
    needs=APPENDED,
    unit="journeys",
)
def build_full(data: Path, work: Path) -> int:
    return _build(work, FULL, "build_full", full=True)


@stage(
    "build_incremental",
    "journeylens build after 1% new events: only the customers they touch (rows: journeys)",
    floor="build_full",
    needs=APPENDED,
    unit="journeys",
)
def build_incremental(data: Path, work: Path) -> int:
    return _build(work, INCREMENTAL, "build_incremental", full=False)
