"""Identical rows without a key are real records (issue 12, item 5): a customer who buys the same
thing twice in a day has two purchases. They are keyed by content and occurrence number in the
file, so every row loads, re-ingesting loads nothing, and an overlapping export loads only what is
new."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import table_rows, write_csv
from journeylens import InputError, Workspace

HEADER = ("user_id", "timestamp", "channel", "touchpoint", "value")
BUY = {
    "user_id": "c7",
    "timestamp": "2024-01-15",
    "channel": "store",
    "touchpoint": "purchase",
    "value": 15.98,
}
OTHER = {
    "user_id": "c8",
    "timestamp": "2024-01-16",
    "channel": "web",
    "touchpoint": "purchase",
    "value": 9.99,
}
NEW = {"user_id": "c9", "timestamp": "2024-01-17", "channel": "web", "touchpoint": "purchase", "value": 1.0}


def _ingest(ws: Workspace, path: Path, **spec: Any) -> Any:
    (report,) = ws.ingest(paths=[str(path)], **spec)
    assert report.rows_read == report.loaded + report.duplicates + report.quarantined_total
    return report


def _purchases(ws: Workspace) -> Counter[str]:
    return Counter(r["user_id"] for r in table_rows(ws, "events"))


def test_every_identical_row_of_a_file_loads_and_re_ingest_loads_nothing(
    workspace: Workspace, tmp_path: Path
) -> None:
    path = write_csv(tmp_path, "cdnow.csv", [BUY, BUY, OTHER, BUY], HEADER)

    first = _ingest(workspace, path)
    again = _ingest(workspace, path)

    assert (first.rows_read, first.loaded, first.duplicates) == (4, 4, 0)
    assert (again.loaded, again.duplicates) == (0, 4)
    assert _purchases(workspace) == {"c7": 3, "c8": 1}
    keys = [r["event_id"] for r in table_rows(workspace, "events")]
    assert len(set(keys)) == 4


def test_an_overlapping_export_loads_only_the_new_rows(workspace: Workspace, tmp_path: Path) -> None:
    monday = write_csv(tmp_path, "monday.csv", [BUY, BUY, OTHER], HEADER)
    # Tuesday's export repeats Monday's rows (in another order) and adds a third identical
    # purchase and one new purchase: only those two are new.
    tuesday = write_csv(tmp_path, "tuesday.csv", [OTHER, BUY, NEW, BUY, BUY], HEADER)

    _ingest(workspace, monday)
    report = _ingest(workspace, tuesday)

    assert (report.loaded, report.duplicates) == (2, 3)
    assert _purchases(workspace) == {"c7": 3, "c8": 1, "c9": 1}


def test_occurrences_continue_across_batches_of_a_streamed_file(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("journeylens.ingest.pipeline.SMALL_FILE_BYTES", 0)  # streamed, not read whole
    workspace.config.ingest.batch_rows = 1000
    filler = [{**OTHER, "touchpoint": f"page_{i}"} for i in range(1500)]
    # Two copies in the first batch, two in the second: four purchases, whatever the cut.
    rows = [BUY, *filler[:900], BUY, *filler[900:], BUY, BUY]
    path = write_csv(tmp_path, "big.csv", rows, HEADER)

    first = _ingest(workspace, path)
    again = _ingest(workspace, path)

    assert first.loaded == 1504
    assert again.loaded == 0
    assert _purchases(workspace)["c7"] == 4
    # The same rows in one batch give the same keys: nothing new when read unbatched.
    monkeypatch.setattr("journeylens.ingest.pipeline.SMALL_FILE_BYTES", 1 << 30)
    assert _ingest(workspace, path).loaded == 0


def test_small_files_loaded_together_count_copies_per_file(workspace: Workspace, tmp_path: Path) -> None:
    """Two small files in one transaction behave as if ingested one after the other."""
    a = write_csv(tmp_path, "a.csv", [BUY, BUY], HEADER)
    b = write_csv(tmp_path, "b.csv", [BUY, BUY, BUY, NEW], HEADER)

    ra, rb = workspace.ingest(paths=[str(a), str(b)])

    assert (ra.loaded, ra.duplicates) == (2, 0)
    assert (rb.loaded, rb.duplicates) == (2, 2)
    assert _purchases(workspace) == {"c7": 3, "c9": 1}


def test_repeated_event_ids_are_still_duplicates(workspace: Workspace, tmp_path: Path) -> None:
    header = ("event_id", *HEADER)
    path = write_csv(tmp_path, "ids.csv", [{"event_id": "m1", **BUY}, {"event_id": "m1", **BUY}, BUY], header)

    report = _ingest(workspace, path)

    assert (report.loaded, report.duplicates) == (2, 1)


def test_identical_links_are_one_link(workspace: Workspace, tmp_path: Path) -> None:
    """Identities, customers, agents and assignments state facts: a repeated row is a duplicate."""
    row = {"identifier_type": "crm_id", "identifier_value": "CRM-1", "user_id": "c7"}
    path = write_csv(tmp_path, "ids.csv", [row, row])

    report = _ingest(workspace, path, table="identities")

    assert (report.loaded, report.duplicates) == (1, 1)


def test_keep_identical_is_accepted_and_changes_nothing(workspace: Workspace, tmp_path: Path) -> None:
    path = write_csv(tmp_path, "cdnow.csv", [BUY, BUY], HEADER)
    assert _ingest(workspace, path, keep_identical=True).loaded == 2
    assert _ingest(workspace, path).loaded == 0


def test_xes_identical_events_stay_separate(workspace: Workspace, tmp_path: Path) -> None:
    event = (
        '<event><string key="concept:name" value="check"/>'
        '<date key="time:timestamp" value="2024-01-15T10:00:00+01:00"/></event>'
    )
    path = tmp_path / "log.xes"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<log xmlns="http://www.xes-standard.org/">\n'
        f'<trace><string key="concept:name" value="case-1"/>{event}{event}{event}</trace>\n</log>\n',
        encoding="utf-8",
    )

    assert _ingest(workspace, path).loaded == 3
    assert _ingest(workspace, path).loaded == 0
    assert [json.loads(r["properties"] or "{}").get("concept:name") for r in table_rows(workspace, "events")]


def test_unknown_map_target_is_an_error(workspace: Workspace, tmp_path: Path) -> None:
    path = write_csv(tmp_path, "x.csv", [BUY], HEADER)
    with pytest.raises(InputError, match=r"--map.*usr_id.*not a column of table events"):
        workspace.ingest(paths=[str(path)], mapping={"usr_id": "user_id_typo"})


@pytest.mark.realdata
def test_cdnow_sample_loads_every_purchase(
    workspace: Workspace, tmp_path: Path, shared_file: Callable[[str], Path]
) -> None:
    """The CD retailer's rows include identical purchases (same customer, day, CDs and amount):
    all of them load, and loading the file again adds nothing."""
    import pandas as pd

    names = ["customer_id", "customer_index", "date", "number_of_cds", "dollar_value"]
    raw = pd.read_csv(
        shared_file("journeys/CDNOW_sample.txt"), sep=r"\s+", header=None, names=names, dtype=str
    )
    identical = int(raw.duplicated().sum())
    path = tmp_path / "cdnow.csv"
    raw.assign(touchpoint="cd_purchase").to_csv(path, index=False)
    mapping = {"user_id": "customer_id", "timestamp": "date", "value": "dollar_value"}

    first = _ingest(workspace, path, mapping=mapping, channel="store")
    again = _ingest(workspace, path, mapping=mapping, channel="store")

    assert identical > 0, "the sample has identical rows, so this test means something"
    assert (first.rows_read, first.loaded, first.duplicates) == (len(raw), len(raw), 0)
    assert (again.loaded, again.duplicates) == (0, len(raw))
