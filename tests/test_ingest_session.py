"""The ingest engine's session while a file loads: memory capped, inserts free of row order, and
both settings back as they were afterwards (a workspace's later queries run as before)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import EVENT_HEADER, write_csv
from journeylens import Workspace
from journeylens.errors import IngestFailedError


def _settings(workspace: Workspace) -> tuple[bool, str]:
    (row,) = workspace.store.backend.con.execute(
        "SELECT current_setting('preserve_insertion_order'), current_setting('memory_limit')"
    ).fetchall()
    return bool(row[0]), str(row[1])


def test_a_streamed_file_loads_unordered_under_the_cap_and_the_session_is_restored(
    workspace: Workspace, tmp_path: Path
) -> None:
    # Larger than a small file (256 KB), so it is streamed, with progress inside its transaction.
    rows = [
        (f"user{i}", f"2024-01-15T09:{i // 60 % 60:02d}:{i % 60:02d}Z", "web", f"page_{i}")
        for i in range(9_000)
    ]
    path = write_csv(tmp_path, "big.csv", rows, EVENT_HEADER)
    assert path.stat().st_size > 256 << 10
    before = _settings(workspace)
    during: list[tuple[bool, str]] = []
    (report,) = workspace.ingest(
        paths=[str(path)], progress=lambda source, n: during.append(_settings(workspace))
    )
    assert report.loaded == 9_000
    assert during and all(order is False and limit != before[1] for order, limit in during)
    assert _settings(workspace)[0] is before[0]
    events = workspace.store.table("events")
    stored = workspace.store.execute(events.select("touchpoint")).column("touchpoint").to_pylist()
    assert sorted(stored) == sorted(f"page_{i}" for i in range(9_000))


def test_a_file_that_fails_mid_transaction_restores_the_session(workspace: Workspace, tmp_path: Path) -> None:
    # Big enough to be streamed, and refused once read: no channel column, no --channel.
    rows = [(f"user{i}", "2024-01-15T09:00:00Z", f"page_{i}") for i in range(12_000)]
    path = write_csv(tmp_path, "no_channel.csv", rows, ("user_id", "timestamp", "touchpoint"))
    assert path.stat().st_size > 256 << 10
    before = _settings(workspace)
    with pytest.raises(IngestFailedError, match="channel"):
        workspace.ingest(paths=[str(path)])
    assert _settings(workspace)[0] is before[0]
    assert workspace.store.counts()["events"] == 0
