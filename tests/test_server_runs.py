"""The server's analysis runner: answers equal the Python API's, repeat calls are cached, and an
ingest or an edited map changes the data version so no cached answer outlives its data."""

from __future__ import annotations

from pathlib import Path

from conftest import built_world, numbered_events, write_csv
from journeylens.server.runs import AnalysisRunner, data_version


def test_runner_caches_per_data_version(tmp_path: Path) -> None:
    _, ws = built_world(tmp_path, ["events", "identities"], customers=150, seed=5)
    runner = AnalysisRunner(ws)
    first = runner.run("variants", {"limit": 3})
    assert not first.cached
    assert first.result.to_dict() == ws.variants(limit=3).to_dict()
    again = runner.run("variants", {"limit": 3})
    assert again.cached and again.version == first.version and again.result is first.result
    assert not runner.run("variants", {"limit": 4}).cached  # another spec, another entry

    before = data_version(ws)
    (ws.root / "maps" / "x.yaml").write_text("name: x\n")
    assert data_version(ws) != before  # an edited map folder is new data for map analyses

    more = write_csv(tmp_path, "more.csv", numbered_events(5, user_prefix="late"))
    ws.ingest(paths=[str(more)], table="events")
    after = runner.run("variants", {"limit": 3})
    assert not after.cached and after.version != first.version  # rebuilt, recomputed
