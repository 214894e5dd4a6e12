"""The main job end to end, as a user runs it: `journeylens demo DIR` on a small world."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import journeylens as jl
from journeylens.demo import LEGACY_FLAWS, LEGACY_MALFORMED_LINE


def test_demo_creates_workspace_ingests_everything_and_writes_the_report(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "journeylens", "demo", str(target), "--customers", "300"],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "report.html" in result.stderr and "works offline" in result.stderr
    report = target / "report.html"
    assert report.is_file() and report.stat().st_size > 1_000_000  # plotly.js is inlined
    html = report.read_text()
    for title in ("Volumes by channel and touchpoint", "Customers across channels", "Data quality"):
        assert title in html
    assert ">None<" not in html
    ws = jl.Workspace.open(target)
    counts = ws.store.counts()
    truth = json.loads((target / "data" / "ground_truth.json").read_text())
    for table in ("events", "identities", "customers", "feedback", "agents", "assignments"):
        assert counts[table] > 0, table
    assert counts["customers"] == truth["customers"] == 300
    # The legacy IVR export's planted flaws are quarantined with their lines; the rest loaded.
    quarantined = ws.store.execute(ws.store.table("quarantine").select("line", "reason")).to_pylist()
    lines = {r["line"] for r in quarantined}
    assert lines == set(LEGACY_FLAWS) | {LEGACY_MALFORMED_LINE}
    events = ws.store.table("events")
    telefoon = ws.store.execute(
        events.filter(events.source.endswith("ivr_export.csv")).channel.value_counts()
    )
    assert telefoon.to_pylist() == [{"channel": "call_center", "channel_count": 400 - len(LEGACY_FLAWS)}]
    ws.close()
    # Running it again into the same folder starts over instead of refusing.
    again = subprocess.run(
        [sys.executable, "-m", "journeylens", "demo", str(target), "--customers", "300"],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
