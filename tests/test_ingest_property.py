"""Property: files mixing valid rows (often identical ones) with damaged ones (non-finite money,
impossible timestamps), ingested together and then again, load every valid row exactly once and
put every damaged record in quarantine exactly once with its line; the counts add up and nothing
raises. The reference is plain Python: the k-th identical copy of a record in any file is one
stored record."""

from __future__ import annotations

import csv
import tempfile
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import table_rows
from journeylens import Workspace

HEADER = ["user_id", "timestamp", "channel", "touchpoint", "value"]
DAMAGE = {
    "nan": ("value", "NaN", "not_finite"),
    "inf": ("value", "-Infinity", "not_finite"),
    "huge": ("value", "1e309", "not_finite"),
    "offset": ("timestamp", "2024-01-15T10:00:00+25:00", "impossible_timestamp"),
    "year": ("timestamp", "10000-01-01", "impossible_timestamp"),
}

valid_rows = st.fixed_dictionaries(
    {
        "user_id": st.sampled_from(["c1", "c2"]),
        "timestamp": st.sampled_from(["2024-01-15", "2024-01-16T09:30:00Z"]),
        "channel": st.just("store"),
        "touchpoint": st.sampled_from(["purchase", "refund"]),
        "value": st.sampled_from(["15.98", "", "3"]),
    }
)
damaged_rows = st.tuples(valid_rows, st.sampled_from(sorted(DAMAGE))).map(
    lambda pair: {**pair[0], DAMAGE[pair[1]][0]: DAMAGE[pair[1]][1], "_damage": pair[1]}
)
files = st.lists(st.one_of(valid_rows, valid_rows, damaged_rows), min_size=1, max_size=12)


def _write(folder: Path, name: str, rows: list[dict[str, str]]) -> Path:
    path = folder / name
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows([row[h] for h in HEADER] for row in rows)
    return path


def _content(row: dict[str, str]) -> tuple[str, ...]:
    value = "" if row["value"] == "" else str(float(row["value"]))
    return (row["user_id"], row["timestamp"], row["touchpoint"], value)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=files, second=files)
def test_valid_rows_load_once_and_damaged_ones_are_quarantined_once(
    first: list[dict[str, str]], second: list[dict[str, str]]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ws = Workspace.init(folder / "ws")
        try:
            a, b = _write(folder, "a.csv", first), _write(folder, "b.csv", second)
            together = ws.ingest(paths=[str(a), str(b)], max_bad=1000)
            (again,) = ws.ingest(paths=[str(a)], max_bad=1000)

            stored: Counter[tuple[str, ...]] = Counter()
            for rows, report in zip((first, second), together, strict=True):
                valid = [_content(r) for r in rows if "_damage" not in r]
                copies = Counter(valid)
                new = sum(max(0, n - stored[c]) for c, n in copies.items())
                for c, n in copies.items():
                    stored[c] = max(stored[c], n)
                expected_bad = Counter(DAMAGE[r["_damage"]][2] for r in rows if "_damage" in r)
                assert report.rows_read == len(rows)
                assert report.loaded == new
                assert report.quarantined == expected_bad
                assert report.rows_read == report.loaded + report.duplicates + report.quarantined_total
            assert again.loaded == 0 and again.duplicates + again.quarantined_total == len(first)

            events = table_rows(ws, "events")
            assert len(events) == sum(stored.values())
            assert len({e["event_id"] for e in events}) == len(events)
            quarantined = sorted((Path(q["source"]).name, q["line"]) for q in table_rows(ws, "quarantine"))
            expected = sorted(
                (name, line)
                for name, rows in (("a.csv", first), ("b.csv", second))
                for line, row in enumerate(rows, start=2)
                if "_damage" in row
            )
            assert quarantined == expected
        finally:
            ws.close()
