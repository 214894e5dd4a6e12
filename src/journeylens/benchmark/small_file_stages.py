"""Benchmark stages for a folder of many one-row CSV files (issue 12, item 15).

Exports from tools that write one file per event or per minute arrive as thousands of tiny files.
The folder is written once from the run's events (untimed, cached with the data): one file per
:data:`EVENTS_PER_FILE` events of the run, at most :data:`MAX_FILES`, each holding the header and
one row of ``events.parquet`` in order — the same 11 canonical columns as ``events.csv``.

- ``ingest_small_csv``: ``Workspace.ingest`` of the folder into a new workspace, the path a user
  takes (validation, de-duplication, quarantine, one report, ingest id and ``ingests`` row per
  file; small files grouped into one transaction per batch).
- ``floor_small_csv`` (its floor): DuckDB ``read_csv`` over the same files with ``filename =
  true`` into a table, one statement, no validation.

Both count files per second; the ingest must reach :data:`TARGET_FILES_PER_S`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from journeylens.benchmark.stages import _fresh_workspace, preparation, stage
from journeylens.ingest import IngestSpec

SMALL_CSV = "small_csv"
"""The prepared folder of one-row CSV files (a folder of the run's data)."""
EVENTS_PER_FILE = 100
MAX_FILES = 10_000
"""Reached from ``--events 2M`` (1,966,775 events); ``--events 6k`` gives a few dozen files."""
TARGET_FILES_PER_S = 200.0
"""Issue 12, item 15: a folder of 10,000 one-row CSVs loaded at about 4 files/s."""
_COUNT = "files.count"


def small_file_count(events: int) -> int:
    """How many one-row files the run's ``events`` yield: one per 100 events, at most 10,000.

    Example:
        >>> small_file_count(1_966_775), small_file_count(5_900)
        (10000, 59)
    """
    return max(1, min(MAX_FILES, events // EVENTS_PER_FILE))


def _folder(data: Path) -> Path:
    return data / SMALL_CSV


@preparation(SMALL_CSV)
def write_small_csv(data: Path, work: Path, memory_limit: str | None) -> int:
    """Write the folder, unless the data folder already has it (the content depends only on the data)."""
    folder = _folder(data)
    files = small_file_count(int((data / "events.count").read_text()))
    marker = folder / _COUNT
    if marker.exists() and int(marker.read_text()) == files:
        return files
    partial = data / f"{SMALL_CSV}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    head = _first_events(data / "events.parquet", files)
    width = len(str(files - 1))
    for i in range(files):
        pacsv.write_csv(head.slice(i, 1), partial / f"event-{i:0{width}d}.csv")
    (partial / _COUNT).write_text(str(files))
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    return files


def _first_events(path: Path, rows: int) -> pa.Table:
    batches, got = [], 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=rows):
        batches.append(batch)
        got += batch.num_rows
        if got >= rows:
            break
    return pa.Table.from_batches(batches).slice(0, rows)


@stage(
    "floor_small_csv",
    "DuckDB read_csv over the folder of one-row CSVs (filename = true) into a table (the floor; rows: files)",
    needs=SMALL_CSV,
    unit="files",
)
def floor_small_csv(data: Path, work: Path) -> int:
    path = work / "floor_small_csv.duckdb"
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    con.execute("SET preserve_insertion_order = false")
    glob = str(_folder(data) / "*.csv")
    con.execute("CREATE TABLE events AS SELECT * FROM read_csv(?, filename = true)", [glob])
    files = con.execute("SELECT count(DISTINCT filename) FROM events").fetchone()
    con.close()
    return int(files[0]) if files else 0


@stage(
    "ingest_small_csv",
    "journeylens ingest of the folder of one-row CSVs into a new workspace (rows: files loaded)",
    floor="floor_small_csv",
    needs=SMALL_CSV,
    unit="files",
    target=TARGET_FILES_PER_S,
)
def ingest_small_csv(data: Path, work: Path) -> int:
    ws = _fresh_workspace(work, "ingest_small_csv")
    reports = ws.ingest(IngestSpec(paths=[str(_folder(data))]))
    ws.close()
    # Only files whose one row was stored count: a file quarantined or skipped is not loaded.
    return sum(1 for r in reports if r.loaded == 1)
