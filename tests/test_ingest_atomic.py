"""A file is ingested in one transaction: ``kill -9`` in the middle leaves no trace of it.

The test starts ``python -m journeylens ingest`` on a large generated CSV, waits until the
engine is visibly writing that file's rows (the DuckDB file grows inside the open transaction),
kills the process with SIGKILL and reopens the workspace.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import EVENT_HEADER, customer, journeys, table_rows, write_csv
from journeylens import InputError, Workspace

BIG_ROWS = 3_000_000
GROWTH_BYTES = 4 << 20  # the store file must grow by this much before the kill: rows are being written
KILL_DEADLINE_S = 60.0  # the loop stops at the first sign of writing; a busy machine needs the slack


def _write_big_csv(path: Path, rows: int) -> None:
    """``rows`` valid events, written fast by repeating one block (keys differ by line number)."""
    block_rows = 10_000
    block = "".join(
        f"user{i % 997},2024-01-15T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z,"
        f"{('web', 'app', 'email')[i % 3]},page_{i % 41}\n"
        for i in range(block_rows)
    ).encode()
    with path.open("wb") as fh:
        fh.write((",".join(EVENT_HEADER) + "\n").encode())
        # Each block gets its own day: key-less identical records would be duplicates.
        for day in range(rows // block_rows):
            fh.write(block.replace(b"2024-01-15T", f"2024-{1 + day // 28:02d}-{1 + day % 28:02d}T".encode()))


def _store_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.glob("journeylens.duckdb*") if p.is_file())


def test_kill_9_during_ingest_leaves_the_store_as_it_was(workspace: Workspace, tmp_path: Path) -> None:
    first = write_csv(
        tmp_path, "first.csv", journeys({"ann": [("web", "home"), ("web", "faq")]}), EVENT_HEADER
    )
    (report,) = workspace.ingest(paths=[str(first)])
    assert report.loaded == 2
    before = workspace.store.counts()
    root = workspace.root
    workspace.close()  # the subprocess needs the DuckDB file lock

    second = write_csv(
        tmp_path,
        "second.csv",
        customer("bob", [("app", "login"), ("app", "upgrade"), ("app", "logout")]),
        EVENT_HEADER,
    )
    big = tmp_path / "big.csv"
    _write_big_csv(big, BIG_ROWS)
    baseline = _store_bytes(root)

    log = (tmp_path / "ingest.stderr").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "journeylens", "ingest", str(second), str(big), "-w", str(root)],
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        started = time.monotonic()
        while time.monotonic() - started < KILL_DEADLINE_S and proc.poll() is None:
            if _store_bytes(root) - baseline > GROWTH_BYTES:
                break
            time.sleep(0.05)
        still_running = proc.poll() is None
        grew = _store_bytes(root) - baseline
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        log.close()

    assert still_running, (
        "the ingest finished before it could be killed; make the input larger. stderr: "
        + (tmp_path / "ingest.stderr").read_text()
    )
    assert grew > GROWTH_BYTES, f"the store grew by only {grew} bytes: the kill came before any write"
    assert proc.returncode == -signal.SIGKILL

    reopened = Workspace.open(root)
    try:
        after = reopened.store.counts()
        # The file that was committed before the kill (second.csv) is there; nothing of big.csv.
        assert after["events"] == before["events"] + 3
        assert after["quarantine"] == before["quarantine"]
        sources = sorted(Path(r["source"]).name for r in table_rows(reopened, "ingests"))
        assert sources == ["first.csv", "second.csv"]
        assert {Path(e["source"]).name for e in table_rows(reopened, "events")} == {"first.csv", "second.csv"}

        # The workspace is usable afterwards, and the killed file can simply be ingested again.
        third = write_csv(tmp_path, "third.csv", customer("cid", [("email", "open")]), EVENT_HEADER)
        (again,) = reopened.ingest(paths=[str(third)])
        assert again.loaded == 1
        assert reopened.store.count("events") == before["events"] + 4
    finally:
        reopened.close()


def test_error_in_a_later_file_keeps_earlier_files_committed(workspace: Workspace, tmp_path: Path) -> None:
    """The same guarantee without a kill: an error in one file rolls back that file only."""
    good = write_csv(
        tmp_path, "a_good.csv", journeys({"ann": [("web", "home"), ("web", "faq")]}), EVENT_HEADER
    )
    broken = tmp_path / "b_broken.csv"
    # A latin-1 byte in the header refuses the file (in a record it would quarantine that record).
    broken.write_bytes(
        (",".join([*EVENT_HEADER, "Straße"]) + "\nzoë,2024-01-15,web,café,x\n").encode("latin-1")
    )

    with pytest.raises(InputError, match=r"b_broken\.csv"):
        workspace.ingest(paths=[str(good), str(broken)])

    assert workspace.store.count("events") == 2
    assert [Path(r["source"]).name for r in table_rows(workspace, "ingests")] == ["a_good.csv"]
