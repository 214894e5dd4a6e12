"""Benchmark stages. Each runs in a fresh subprocess (``python -m journeylens.benchmark.stages``)
so that its peak memory is its own; each JourneyLens stage names the floor it is compared with.

A stage is a function ``(data_dir, work_dir) -> rows``; register one with :func:`stage`.
"""

from __future__ import annotations

import json
import resource
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from journeylens.ingest import IngestSpec
from journeylens.workspace import Workspace

StageFn = Callable[[Path, Path], int]


@dataclass(frozen=True)
class Stage:
    name: str
    run: StageFn
    floor: str | None
    """Name of the stage this one is compared with (the hand-written floor), if any."""
    doc: str


STAGES: dict[str, Stage] = {}


def stage(name: str, doc: str, floor: str | None = None) -> Callable[[StageFn], StageFn]:
    def register(fn: StageFn) -> StageFn:
        STAGES[name] = Stage(name, fn, floor, doc)
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


def main(argv: list[str]) -> None:
    """Run one stage and print ``{"rows", "seconds", "peak_rss_mb"}`` as JSON."""
    name, data, work = argv[0], Path(argv[1]), Path(argv[2])
    start = time.perf_counter()
    rows = STAGES[name].run(data, work)
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rows": rows, "seconds": seconds, "peak_rss_mb": peak_kb / 1024}))


if __name__ == "__main__":
    main(sys.argv[1:])
