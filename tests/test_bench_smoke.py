"""The benchmark runs end to end on a tiny world: every stage, its floor and a ratio.

No timing assertions here (those belong to `journeylens bench` runs recorded in
docs/benchmarks.md); this only proves the harness works and the stages agree on row counts.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from journeylens.benchmark import parse_size, run_bench
from journeylens.errors import InputError


def test_parse_size() -> None:
    assert [parse_size(s) for s in ("1M", "10m", "500k", "2500", "1.5M")] == [
        1_000_000, 10_000_000, 500_000, 2_500, 1_500_000,
    ]  # fmt: skip
    with pytest.raises(InputError, match="--events"):
        parse_size("lots")


def test_bench_smoke(tmp_path: Path) -> None:
    results = {r.stage: r for r in run_bench(6_000, tmp_path)}
    assert set(results) == {"floor_parquet", "ingest_parquet", "reingest_parquet", "floor_csv", "ingest_csv"}
    events = results["floor_parquet"].events
    assert events > 3_000
    # Every stage saw every event: loaded, re-read as duplicates, or loaded by the floor.
    assert {r.rows for r in results.values()} == {events}
    assert results["ingest_parquet"].ratio_to_floor is not None
    assert results["ingest_csv"].floor == "floor_csv"
    saved = json.loads((tmp_path / "results-6000.json").read_text())
    assert saved["machine"]["cpus"] >= 1 and len(saved["results"]) == 5
