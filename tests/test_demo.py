"""The main job end to end, as a user runs it: `journeylens demo DIR` on a small world."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import journeylens as jl
from journeylens.demo import LEGACY_FLAWS, LEGACY_MALFORMED_LINE, DemoProgress, run_demo
from journeylens.model import model_state
from journeylens.server.keys import KEYS_FILE, KeyStore


def test_demo_creates_workspace_ingests_everything_and_writes_the_report(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "journeylens", "demo", str(target), "--customers", "300"],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "report.html" in result.stderr and "works offline" in result.stderr
    # It offers the dashboard on the demo workspace, with a read token it created that works.
    assert f"journeylens serve -w {target.resolve()}" in " ".join(result.stderr.split())
    token = re.search(r"^\s+(jl_r_\S+)$", result.stderr, re.MULTILINE)
    assert token is not None
    credential = KeyStore(target / KEYS_FILE).verify(token.group(1))
    assert credential is not None and credential.scopes == {"read"}
    report = target / "report.html"
    assert report.is_file() and report.stat().st_size > 1_000_000  # plotly.js is inlined
    html = report.read_text()
    for title in (
        "Volumes by channel and touchpoint",
        "Customers across channels",
        "Journeys",
        "Data quality",
    ):
        assert f"<h2>{title}</h2>" in html
    assert ">None<" not in html
    # The demo's designed maps (maps/purchase.yaml, maps/support.yaml) are drawn with the data.
    assert "<h2>Journey maps</h2>" in html and html.count('class="jmap"') == 2
    assert "purchase map</strong>" in html and "support map</strong>" in html
    assert (target / "maps" / "purchase.yaml").is_file() and (target / "maps" / "support.yaml").is_file()
    ws = jl.Workspace.open(target)
    counts = ws.store.counts()
    truth = json.loads((target / "data" / "ground_truth.json").read_text())
    for table in ("events", "identities", "customers", "feedback", "agents", "assignments"):
        assert counts[table] > 0, table
    assert counts["customers"] == truth["customers"] == 300
    # Journeys were built from the stitched customers: every journey belongs to one of them.
    journeys = ws.store.backend.table("journeys")
    cmap = ws.store.backend.table("customer_map")
    orphans = journeys.anti_join(cmap, "customer_id")
    assert ws.store.execute(journeys.count()).as_py() > 0
    assert ws.store.execute(orphans.count()).as_py() == 0
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


class _Stages(DemoProgress):
    def __init__(self) -> None:
        self.names: list[str] = []

    def stage(self, name: str, total: int | None) -> None:
        self.names.append(name)


def test_demo_builds_journeys_as_its_own_stage_before_the_report(tmp_path: Path) -> None:
    stages = _Stages()
    result = run_demo(tmp_path / "demo", customers=300, progress=stages)
    stitched = stages.names.index("Stitching identities into customers")
    assert stages.names[stitched + 1 :] == [
        "Scoring feedback text",
        "Building journeys",
        "Finding themes in comments",
        "Writing the report",
    ]
    ws = jl.Workspace.open(result.workspace)
    journeys = ws.store.backend.table("journeys")
    assert result.journeys == ws.store.execute(journeys.count()).as_py() > 0
    # The demo's build is recorded: the next analysis finds the model fresh and builds nothing.
    assert model_state(ws.store, ws.config).fresh
    assert ws.ensure_model(build=False) is None
    ws.close()
    # The report's headline counts the same journeys, and it shows the themes of the comments.
    html = result.report.read_text()
    assert f"{result.journeys:,}</div>" in html
    assert "Themes of comments" in html and "billing" in html.split("Themes of comments", 1)[1][:4000]
