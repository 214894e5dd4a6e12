"""Hostile input the pipeline must survive (issue 12, items 11-13, 15, 16, 17): a bad file among good
ones, non-finite money, impossible timestamps and daylight-saving gaps, thousands of small files,
repeated ingests of bad records, contradictory flags and a workspace another process holds."""

from __future__ import annotations

import datetime as _dt
import gzip
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import EVENT_HEADER, quarantine_rows, table_rows, write_csv
from journeylens import InputError, Workspace
from journeylens.errors import BackendError, IngestFailedError
from journeylens.ingest.spec import parse_mapping

UTC = _dt.UTC
GOOD = {"user_id": "u1", "timestamp": "2024-01-15T10:00:00Z", "channel": "web", "touchpoint": "home"}


def _row(**changes: Any) -> dict[str, Any]:
    return {**GOOD, **changes}


# --- 11: one bad file does not stop the others ---------------------------------------------------


def _bad_files(tmp_path: Path) -> tuple[Path, Path, Path]:
    empty = tmp_path / "a_empty.csv"
    empty.write_bytes(b"")
    garbage = tmp_path / "b_garbage.csv.gz"
    garbage.write_bytes(b"\x1f\x8b" + bytes(range(256)) * 4)
    ok = write_csv(tmp_path, "c_ok.csv", [GOOD, _row(touchpoint="faq")], EVENT_HEADER)
    return empty, garbage, ok


@pytest.mark.parametrize("streamed", [False, True], ids=["small-files", "streamed"])
def test_a_bad_file_first_does_not_stop_the_files_after_it(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, streamed: bool
) -> None:
    if streamed:
        monkeypatch.setattr("journeylens.ingest.pipeline.SMALL_FILE_BYTES", 0)
    empty, garbage, ok = _bad_files(tmp_path)

    with pytest.raises(IngestFailedError) as caught:
        workspace.ingest(paths=[str(empty), str(garbage), str(ok)])

    reports = {Path(r.source).name: r for r in caught.value.reports}
    assert reports["c_ok.csv"].loaded == 2 and not reports["c_ok.csv"].failed
    assert reports["a_empty.csv"].error and "empty" in reports["a_empty.csv"].error
    assert reports["b_garbage.csv.gz"].error and str(garbage) in reports["b_garbage.csv.gz"].error
    assert str(empty) in caught.value.message and str(garbage) in caught.value.message
    assert workspace.store.count("events") == 2
    assert [Path(r["source"]).name for r in table_rows(workspace, "ingests")] == ["c_ok.csv"]


def test_cli_prints_every_failed_file_and_exits_non_zero(
    workspace: Workspace, tmp_path: Path, run_journeylens: Any
) -> None:
    empty, garbage, ok = _bad_files(tmp_path)
    root = workspace.root
    workspace.close()

    done = run_journeylens(["ingest", empty, garbage, ok, "-w", root])

    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert f"Failed: {empty}" in done.stderr and f"Failed: {garbage}" in done.stderr
    assert "2 of 3 file(s) could not be loaded" in done.stderr
    assert "c_ok.csv" in done.stdout  # the summary of what loaded


# --- 12: non-finite numbers ----------------------------------------------------------------------


def test_non_finite_values_are_quarantined(workspace: Workspace, tmp_path: Path) -> None:
    bad = ["NaN", "inf", "-inf", "Infinity", "1e309"]
    rows = [_row(touchpoint=f"t{i}", value=v) for i, v in enumerate(["12.5", *bad, "-3"])]
    path = write_csv(tmp_path, "money.csv", rows, [*EVENT_HEADER, "value"])

    (report,) = workspace.ingest(paths=[str(path)])

    assert report.loaded == 2 and report.quarantined == {"not_finite": 5}
    quarantined = quarantine_rows(workspace)
    assert [q["line"] for q in quarantined] == [3, 4, 5, 6, 7]
    assert {q["field"] for q in quarantined} == {"value"}
    assert all(f"'{v}'" in q["message"] for q, v in zip(quarantined, bad, strict=True))
    assert sorted(e["value"] for e in table_rows(workspace, "events")) == [-3.0, 12.5]


def test_non_finite_scores_are_quarantined(workspace: Workspace, tmp_path: Path) -> None:
    rows = [{"user_id": "u1", "timestamp": "2024-01-15", "metric": "nps", "score": s} for s in ("9", "nan")]
    path = write_csv(tmp_path, "nps.csv", rows)
    (report,) = workspace.ingest(paths=[str(path)], table="feedback")
    assert report.loaded == 1 and report.quarantined == {"not_finite": 1}


# --- 13: impossible timestamps, daylight-saving gaps --------------------------------------------


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("2024-01-15T10:00:00+25:00", "offset"),
        ("2024-01-15T10:00:00-19:00", "offset"),
        ("10000-01-01", "years"),
        ("10000-01-01T00:00:00Z", "years"),
    ],
)
def test_impossible_timestamps_are_quarantined(
    workspace: Workspace, tmp_path: Path, value: str, why: str
) -> None:
    path = write_csv(tmp_path, "t.csv", [GOOD, _row(timestamp=value)], EVENT_HEADER)

    (report,) = workspace.ingest(paths=[str(path)])

    assert report.loaded == 1 and report.quarantined == {"impossible_timestamp": 1}
    (bad,) = quarantine_rows(workspace)
    assert (bad["line"], bad["field"]) == (3, "timestamp")
    assert value in bad["message"] and why in bad["message"]


def test_largest_real_offsets_are_fine(workspace: Workspace, tmp_path: Path) -> None:
    rows = [_row(timestamp=t) for t in ("2024-01-15T10:00:00+14:00", "2024-01-15T10:00:00-12:00")]
    (report,) = workspace.ingest(paths=[str(write_csv(tmp_path, "t.csv", rows, EVENT_HEADER))])
    assert report.loaded == 2


def test_local_time_in_a_dst_gap_is_shifted_forward_and_counted(
    make_workspace: Any, tmp_path: Path, run_journeylens: Any
) -> None:
    ws = make_workspace(timezone="Europe/Amsterdam")
    rows = [
        _row(timestamp="2024-03-31T02:30:00", touchpoint="gap"),  # clocks jump 02:00 -> 03:00
        _row(timestamp="2024-03-31T01:30:00", touchpoint="before"),
        _row(timestamp="2024-03-31T03:30:00", touchpoint="after"),
        _row(timestamp="2024-03-31T02:30:00+02:00", touchpoint="explicit"),  # an instant: no gap
        _row(timestamp="2024-10-27T02:30:00", touchpoint="fall_back"),  # ambiguous, not a gap
    ]
    path = write_csv(tmp_path, "dst.csv", rows, EVENT_HEADER)

    (report,) = ws.ingest(paths=[str(path)])

    assert report.loaded == 5 and report.dst_shifted == 1
    stored = {e["touchpoint"]: e["timestamp"] for e in table_rows(ws, "events")}
    # 02:30 is read with the offset before the change (+01:00), as zoneinfo does with fold=0.
    assert stored["gap"] == _dt.datetime(2024, 3, 31, 1, 30, tzinfo=UTC)
    wall = _dt.datetime(2024, 3, 31, 2, 30, fold=0, tzinfo=_zone("Europe/Amsterdam"))
    assert stored["gap"] == wall.astimezone(UTC)
    assert stored["before"] == _dt.datetime(2024, 3, 31, 0, 30, tzinfo=UTC)

    other = write_csv(
        tmp_path, "dst2.csv", [_row(timestamp="2024-03-31T02:15:00", touchpoint="g2")], EVENT_HEADER
    )
    root = ws.root
    ws.close()
    done = run_journeylens(["ingest", other, "-w", root])
    assert done.returncode == 0, done.stderr
    assert "1 local time(s) fell in a daylight-saving gap of Europe/Amsterdam" in done.stderr


@pytest.mark.parametrize(
    ("gap", "stored_utc"),
    [
        ("20240331023000", _dt.datetime(2024, 3, 31, 1, 30, tzinfo=UTC)),  # compact YYYYMMDDHHMMSS
        ("2024-03-31 02:30", _dt.datetime(2024, 3, 31, 1, 30, tzinfo=UTC)),  # ISO with a space
    ],
)
def test_every_naive_text_form_in_a_dst_gap_is_counted(
    make_workspace: Any, tmp_path: Path, gap: str, stored_utc: _dt.datetime
) -> None:
    """The count covers every text form the ingest reads without an offset, not only ISO."""
    ws = make_workspace(timezone="Europe/Amsterdam")
    rows = [
        _row(timestamp=gap, touchpoint="gap"),
        _row(timestamp="20240331013000", touchpoint="compact_before"),
        _row(timestamp="20240331033000", touchpoint="compact_after"),
        _row(timestamp="20240331", touchpoint="compact_date"),  # midnight: no gap
        _row(timestamp="31-Mar-24", touchpoint="month_name"),
        _row(timestamp="1711848600", touchpoint="epoch"),  # 2024-03-31T01:30Z: an instant, no gap
    ]
    (report,) = ws.ingest(paths=[str(write_csv(tmp_path, "dst.csv", rows, EVENT_HEADER))])

    assert report.loaded == 6 and report.dst_shifted == 1
    stored = {e["touchpoint"]: e["timestamp"] for e in table_rows(ws, "events")}
    assert stored["gap"] == stored_utc
    assert stored["compact_before"] == _dt.datetime(2024, 3, 31, 0, 30, tzinfo=UTC)
    assert stored["compact_after"] == _dt.datetime(2024, 3, 31, 1, 30, tzinfo=UTC)
    assert stored["month_name"] == stored["compact_date"] == _dt.datetime(2024, 3, 30, 23, tzinfo=UTC)
    assert stored["epoch"] == _dt.datetime(2024, 3, 31, 1, 30, tzinfo=UTC)


def test_month_name_dates_in_a_midnight_dst_gap_are_counted(make_workspace: Any, tmp_path: Path) -> None:
    """A date is midnight local; where the clocks skip midnight (America/Santiago, 2024-09-08:
    00:00 -> 01:00) 8-Sep-24 and 20240908 are stored as 01:00 and counted, like 2024-09-08."""
    ws = make_workspace(timezone="America/Santiago")
    dates = ("8-Sep-24", "20240908", "2024-09-08")
    rows = [_row(timestamp=t, touchpoint=f"t{i}") for i, t in enumerate(dates)]
    (report,) = ws.ingest(paths=[str(write_csv(tmp_path, "dates.csv", rows, EVENT_HEADER))])

    assert report.loaded == 3 and report.dst_shifted == 3
    local = _dt.datetime(2024, 9, 8, 1, 0, tzinfo=_zone("America/Santiago"))
    assert {e["timestamp"] for e in table_rows(ws, "events")} == {local.astimezone(UTC)}


def _zone(name: str) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


# --- 15: many small files -------------------------------------------------------------------------


def test_a_folder_of_small_files_keeps_per_file_accounting(workspace: Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    for i in range(120):
        row = _row(user_id=f"u{i}", touchpoint=f"page_{i}")
        if i % 40 == 7:
            row["timestamp"] = "not a time"
        write_csv(folder, f"f{i:04d}.csv", [row], EVENT_HEADER)
    (folder / "f0050.csv").write_text("user_id,channel,touchpoint\nu,web,x\n", encoding="utf-8")

    started = time.perf_counter()
    with pytest.raises(IngestFailedError) as caught:
        workspace.ingest(paths=[str(folder)])
    elapsed = time.perf_counter() - started

    reports = caught.value.reports
    assert len(reports) == 120
    failed = [r for r in reports if r.failed]
    assert [Path(r.source).name for r in failed] == ["f0050.csv"]
    assert "'timestamp'" in (failed[0].error or "")
    done = [r for r in reports if not r.failed]
    assert sum(r.loaded for r in done) == 116 and sum(r.quarantined_total for r in done) == 3
    assert len({r.ingest_id for r in done}) == 119
    logged = table_rows(workspace, "ingests")
    assert len(logged) == 119 and all(r["rows_read"] == 1 for r in logged)
    bad = quarantine_rows(workspace)
    assert [(Path(q["source"]).name, q["line"]) for q in bad] == [
        ("f0007.csv", 2),
        ("f0047.csv", 2),
        ("f0087.csv", 2),
    ]
    by_source = {Path(e["source"]).name: e for e in table_rows(workspace, "events")}
    assert by_source["f0003.csv"]["touchpoint"] == "page_3"
    assert by_source["f0003.csv"]["ingest_seq"] >> 32 == next(
        r.ingest_id for r in done if r.source.endswith("f0003.csv")
    )
    assert elapsed < 30  # one transaction per group, not per file (seconds, not minutes)


def test_a_group_the_engine_fails_on_is_loaded_file_by_file(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = [write_csv(tmp_path, f"f{i}.csv", [_row(user_id=f"u{i}")], EVENT_HEADER) for i in range(4)]

    def broken(*args: Any, **kwargs: Any) -> None:
        workspace.store.insert("events", workspace.store.execute(workspace.store.table("events")))
        raise RuntimeError("engine trouble")

    monkeypatch.setattr("journeylens.ingest.pipeline.Ingestor._load_group", broken)
    reports = workspace.ingest(paths=[str(p) for p in paths])

    assert [r.loaded for r in reports] == [1, 1, 1, 1]
    assert workspace.store.count("events") == 4


# --- 16: quarantine is idempotent -----------------------------------------------------------------


def test_re_ingest_does_not_duplicate_quarantine_rows(workspace: Workspace, tmp_path: Path) -> None:
    rows = [GOOD, _row(timestamp="soon"), _row(value="inf", touchpoint="x")]
    path = write_csv(tmp_path, "bad.csv", rows, [*EVENT_HEADER, "value"])
    malformed = tmp_path / "malformed.csv"
    malformed.write_text(
        "user_id,timestamp,channel,touchpoint\nu1,2024-01-15,web,x,extra\n", encoding="utf-8"
    )

    for _ in range(3):
        (report,) = workspace.ingest(paths=[str(path)])
        assert report.quarantined == {"bad_timestamp": 1, "not_finite": 1}  # still reported each time
        (again,) = workspace.ingest(paths=[str(malformed)], max_bad=5)
        assert again.quarantined == {"malformed_row": 1}

    assert [(Path(q["source"]).name, q["line"]) for q in quarantine_rows(workspace)] == [
        ("bad.csv", 3),
        ("bad.csv", 4),
        ("malformed.csv", 2),
    ]


# --- 17: contradictory flags, a workspace someone else holds --------------------------------------


def test_two_sources_for_one_target_is_an_error_naming_the_flags() -> None:
    with pytest.raises(InputError) as caught:
        parse_mapping(["user_id=cust", "user_id=cust2"])
    assert "--map 'user_id=cust2'" in caught.value.message and "user_id=cust" in caught.value.message
    assert parse_mapping(["user_id=cust", "user_id=cust"]) == {
        "user_id": "cust"
    }  # repeated, not contradictory


def test_cli_reports_every_bad_option_and_missing_path_at_once(
    workspace: Workspace, tmp_path: Path, run_journeylens: Any
) -> None:
    good = write_csv(tmp_path, "good.csv", [GOOD], EVENT_HEADER)
    missing = tmp_path / "nowhere.csv"

    done = run_journeylens(
        ["ingest", good, missing, "--map", "user_id=a", "--map", "user_id=b", "--map", "usr=c",
         "--delimiter", ";;", "-w", workspace.root]
    )  # fmt: skip

    assert done.returncode == 2 and "Traceback" not in done.stderr
    for text in ("--map 'user_id=b'", "'usr'", "--delimiter", str(missing)):
        assert text in done.stderr, text
    assert workspace.store.count("events") == 0


def test_a_workspace_locked_by_another_process_says_so(
    workspace: Workspace, tmp_path: Path, run_journeylens: Any
) -> None:
    good = write_csv(tmp_path, "good.csv", [GOOD], EVENT_HEADER)
    workspace.store.count("events")  # this process now holds the DuckDB file

    done = run_journeylens(["ingest", good, "-w", workspace.root])

    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "in use by another process" in done.stderr and "PID" in done.stderr
    assert "[backend] url" not in done.stderr and "--map" not in done.stderr


def test_a_read_only_store_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Root ignores file modes, so the engine's refusal is simulated; the message is the point."""
    import duckdb
    import ibis

    ws = Workspace.init(tmp_path / "ws")
    ws.close()

    def refuse(path: str, **_: Any) -> Any:
        raise duckdb.IOException(f'IO Error: Cannot open file "{path}": Read-only file system')

    monkeypatch.setattr(ibis.duckdb, "connect", refuse)
    with pytest.raises(BackendError) as caught:
        Workspace.open(ws.root).store  # noqa: B018
    assert "cannot be written" in caught.value.message and "Read-only file system" in caught.value.message
    assert caught.value.hint and "writable" in caught.value.hint


def test_garbage_gzip_message_has_no_traceback(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "x.csv.gz"
    path.write_bytes(gzip.compress(b"user_id,timestamp,channel,touchpoint\n")[:10])
    done = subprocess.run(
        [sys.executable, "-m", "journeylens", "ingest", str(path), "-w", str(workspace.root)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr and str(path) in done.stderr


def test_an_unknown_channel_is_reported_with_the_other_bad_options(
    workspace: Workspace, tmp_path: Path, run_journeylens: Any
) -> None:
    """--channel needs the workspace's aliases, yet it is checked with every other option and
    path, before anything is read."""
    good = write_csv(tmp_path, "good.csv", [GOOD], EVENT_HEADER)
    missing = tmp_path / "nowhere.csv"

    done = run_journeylens(
        ["ingest", good, missing, "--delimiter", ";;", "--channel", "carrier-pigeon", "-w", workspace.root]
    )

    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "3 problems with the ingest options; nothing was loaded" in done.stderr
    for text in ("--delimiter", "--channel 'carrier-pigeon'", "not a known channel", str(missing)):
        assert text in done.stderr, text
    assert workspace.store.count("events") == 0


def test_the_python_api_checks_channel_aliases_with_the_other_options(
    workspace: Workspace, tmp_path: Path
) -> None:
    good = str(write_csv(tmp_path, "good.csv", [GOOD], EVENT_HEADER))
    with pytest.raises(InputError) as caught:
        workspace.ingest(paths=[good, str(tmp_path / "nowhere.csv")], channel="carrier-pigeon")
    assert "2 problems" in caught.value.message and "--channel" in caught.value.message
    assert workspace.ingest(paths=[good], channel="Website")[0].loaded == 1  # an alias of web
    assert workspace.store.count("events") == 1
