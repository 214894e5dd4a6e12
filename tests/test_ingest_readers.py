"""The file readers on their own: what each hands the pipeline, line by line and value by value.

These are regression tests for a review of ``ingest/readers.py`` and ``ingest/xes.py``. Where a
bug showed up in the store (a shifted timestamp, a wrong quarantine line) the test ingests through
the workspace like a user would; where it lives in the reader alone it reads the batches directly.
"""

from __future__ import annotations

import csv
import datetime as _dt
import errno
import gzip
import io
import json
import random
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import EVENT_HEADER, customer, quarantine_rows, table_rows, write_csv, write_jsonl
from journeylens import InputError, Workspace
from journeylens.ingest import _resync, delimited, jsonlines, readers, whitespace, xes
from journeylens.ingest.delimited import CsvOptions, read_csv
from journeylens.ingest.jsonlines import read_jsonl
from journeylens.ingest.readers import (
    LINE,
    RawBatch,
    default_delimiter,
    read_parquet,
    records_to_table,
    redact_identifiers,
)
from journeylens.ingest.xes import read_xes

UTC = _dt.UTC
HEADER = ",".join(EVENT_HEADER)


def _by_touchpoint(ws: Workspace) -> dict[str, dict[str, Any]]:
    return {e["touchpoint"]: e for e in table_rows(ws, "events")}


def _drain(batches: Iterator[RawBatch]) -> tuple[pa.Table, list[readers.Reject]]:
    """Every record and every reject a reader yields, in file order."""
    got = list(batches)
    tables = [b.data for b in got if b.data.num_rows]
    data = pa.concat_tables(tables, promote_options="permissive") if tables else pa.table({})
    return data, [r for b in got for r in b.rejects]


# --- JSON Lines: values keep their text ---------------------------------------------------------


def test_jsonl_timestamps_are_the_right_instants_in_an_amsterdam_workspace(
    make_workspace: Any, tmp_path: Path
) -> None:
    ws = make_workspace(timezone="Europe/Amsterdam")
    forms = {
        "iso_z": "2024-01-15T10:00:00Z",
        "iso_offset": "2024-01-15T12:00:00+02:00",
        "winter_naive": "2024-01-15 10:00:00",
        "summer_naive": "2024-07-15T10:00:00",
    }
    records = [
        {"user_id": "ann", "timestamp": v, "channel": "web", "touchpoint": k} for k, v in forms.items()
    ]
    # No blank or bad line: the whole file goes through pyarrow's fast path.
    path = write_jsonl(tmp_path, "times.jsonl", records)

    (report,) = ws.ingest(paths=[str(path)])

    assert report.loaded == 4 and report.quarantined_total == 0
    stored = {k: e["timestamp"] for k, e in _by_touchpoint(ws).items()}
    assert stored == {
        "iso_z": _dt.datetime(2024, 1, 15, 10, tzinfo=UTC),
        "iso_offset": _dt.datetime(2024, 1, 15, 10, tzinfo=UTC),
        "winter_naive": _dt.datetime(2024, 1, 15, 9, tzinfo=UTC),  # CET = UTC+1
        "summer_naive": _dt.datetime(2024, 7, 15, 8, tzinfo=UTC),  # CEST = UTC+2
    }


def test_jsonl_date_like_text_stays_text_even_for_keys_absent_from_line_one(tmp_path: Path) -> None:
    records = [
        {"user_id": "ann", "timestamp": "2024-01-15T10:00:00Z",
         "meta": {"sent": "2024-01-15T12:00:00+02:00"}},
        {"user_id": "bob", "timestamp": "2024-01-15 10:00:00", "meta": {"sent": "2024-01-15"},
         "renewal": "2024-02-01T00:00:00+01:00", "tags": ["2024-03-01"]},
    ]  # fmt: skip
    path = write_jsonl(tmp_path, "events.jsonl", records)

    data, rejects = _drain(read_jsonl(path, max_record_bytes=1 << 20))

    assert rejects == []
    assert all(not pa.types.is_timestamp(f.type) for f in data.schema)
    rows = data.to_pylist()
    assert [r["timestamp"] for r in rows] == ["2024-01-15T10:00:00Z", "2024-01-15 10:00:00"]
    assert rows[1]["renewal"] == "2024-02-01T00:00:00+01:00"
    meta = [r["meta"] if isinstance(r["meta"], dict) else json.loads(r["meta"]) for r in rows]
    assert meta == [{"sent": "2024-01-15T12:00:00+02:00"}, {"sent": "2024-01-15"}]
    assert [r[LINE] for r in rows] == [1, 2]


def test_records_to_table_spells_mixed_values_as_json() -> None:
    table = records_to_table(
        [{"x": True}, {"x": "yes"}, {"x": False}, {"x": 1.5}, {"x": None}, {"x": 7}, {"x": 10**15}]
    )

    assert table.column("x").type == pa.string()
    assert table.column("x").to_pylist() == ["true", "yes", "false", "1.5", None, "7", "1000000000000000"]


def test_jsonl_mixed_boolean_property_lands_as_json_true(workspace: Workspace, tmp_path: Path) -> None:
    first, second = customer("ann", [("web", "home"), ("web", "faq")])
    path = write_jsonl(tmp_path, "events.jsonl", [{**first, "opted_in": True}, {**second, "opted_in": "n/a"}])

    workspace.ingest(paths=[str(path)])

    props = {k: json.loads(e["properties"]) for k, e in _by_touchpoint(workspace).items()}
    assert props == {"home": {"opted_in": "true"}, "faq": {"opted_in": "n/a"}}


# --- JSON Lines: chunking, oversized lines, arrays ----------------------------------------------


def _padded_lines(n: int, width: int) -> list[str]:
    """``n`` JSON objects of exactly ``width`` bytes each including the newline."""
    lines = []
    for i in range(n):
        bare = json.dumps({"user_id": f"u{i}", "pad": ""})
        lines.append(json.dumps({"user_id": f"u{i}", "pad": "x" * (width - 1 - len(bare))}))
        assert len(lines[-1]) == width - 1
    return lines


def test_jsonl_chunk_ending_exactly_on_a_newline_does_not_end_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jsonlines, "_JSON_CHUNK", 64)
    path = write_jsonl(tmp_path, "events.jsonl", _padded_lines(10, width=32))

    data, rejects = _drain(read_jsonl(path, max_record_bytes=1 << 20))

    assert rejects == []
    assert data.column("user_id").to_pylist() == [f"u{i}" for i in range(10)]
    assert data.column(LINE).to_pylist() == list(range(1, 11))


@pytest.mark.parametrize("where", ["middle", "last_without_newline"])
def test_jsonl_line_larger_than_max_record_bytes_is_skipped_not_buffered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    monkeypatch.setattr(jsonlines, "_JSON_CHUNK", 256)
    huge = json.dumps({"user_id": "big", "note": "n" * 20_000, "email": "big@example.com"})
    lines = [json.dumps({"user_id": f"u{i}"}) for i in range(3)]
    if where == "middle":
        data_bytes = "\n".join([*lines[:2], huge, lines[2]]).encode() + b"\n"
        expected_users, expected_lines, huge_line = ["u0", "u1", "u2"], [1, 2, 4], 3
    else:
        data_bytes = "\n".join([*lines, huge]).encode()
        expected_users, expected_lines, huge_line = ["u0", "u1", "u2"], [1, 2, 3], 4
    path = tmp_path / "events.jsonl"
    path.write_bytes(data_bytes)

    data, rejects = _drain(read_jsonl(path, max_record_bytes=4096))

    assert data.column("user_id").to_pylist() == expected_users
    assert data.column(LINE).to_pylist() == expected_lines
    assert [(r.line, r.reason.value) for r in rejects] == [(huge_line, "record_too_large")]
    assert str(len(huge)) in rejects[0].message
    assert len(rejects[0].raw) < 300 and "big@example.com" not in rejects[0].raw


@pytest.mark.parametrize("prefix", [b"", b"\xef\xbb\xbf", b"  \n"])
def test_json_array_file_is_refused_with_a_jq_hint(
    workspace: Workspace, tmp_path: Path, prefix: bytes
) -> None:
    path = tmp_path / "export.json"
    path.write_bytes(
        prefix + json.dumps(customer("ann", [("web", "home"), ("web", "faq")]), indent=2).encode()
    )

    with pytest.raises(InputError) as caught:
        workspace.ingest(paths=[str(path)])

    assert str(path) in caught.value.message
    assert "JSON array" in caught.value.message
    assert caught.value.hint and "jq -c '.[]'" in caught.value.hint
    assert workspace.store.counts()["events"] == 0


# --- CSV: physical line numbers -----------------------------------------------------------------


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_csv_bad_timestamp_after_a_blank_line_is_reported_on_its_line(
    workspace: Workspace, tmp_path: Path, newline: str
) -> None:
    lines = [
        HEADER,  # 1
        "ann,2024-01-15T09:00:00Z,web,home",  # 2
        "",  # 3 blank
        "ann,2024-01-15T09:05:00Z,web,faq",  # 4
        "bob,not-a-time,app,login",  # 5
        "bob,2024-01-15T09:10:00Z,app,upgrade",  # 6
        "",  # 7 blank, trailing
    ]
    path = tmp_path / "events.csv"
    path.write_bytes(newline.join(lines).encode() + newline.encode())

    (report,) = workspace.ingest(paths=[str(path)])

    assert (report.rows_read, report.loaded) == (4, 3)
    got = [(q["line"], q["reason"]) for q in quarantine_rows(workspace)]
    assert got == [(5, "bad_timestamp")]  # the blank lines themselves are not quarantined


def test_csv_malformed_row_after_blank_lines_and_quoted_newlines(
    workspace: Workspace, tmp_path: Path
) -> None:
    path = tmp_path / "notes.csv"
    path.write_text(
        "user_id,timestamp,channel,touchpoint,note\n"  # 1
        "\n"  # 2 blank
        'ann,2024-01-15T09:05:00Z,web,form,"line a\n\nline c"\n'  # 3-5, a blank line inside quotes
        "\n"  # 6 blank
        "bob,2024-01-15T09:00:00Z,app,login,plain,EXTRA\n"  # 7 too many
        "bob,not-a-time,app,upgrade,plain\n"  # 8
        "\n"  # 9 blank
        "cid,2024-01-15T09:00:00Z,email\n"  # 10 too few
        "cid,2024-01-15T09:05:00Z,email,open,plain\n"  # 11
    )

    (report,) = workspace.ingest(paths=[str(path)])

    assert report.loaded == 2
    got = [(q["line"], q["reason"]) for q in quarantine_rows(workspace)]
    assert got == [(7, "malformed_row"), (8, "bad_timestamp"), (10, "malformed_row")]
    form = _by_touchpoint(workspace)["form"]
    assert json.loads(form["properties"]) == {"note": "line a\n\nline c"}


def test_csv_lines_are_physical_across_many_small_blocks(tmp_path: Path) -> None:
    rnd = random.Random(11)
    text = ["\n", "user_id,note\n"]  # a blank line before the header too
    expected: list[tuple[str, int]] = []  # (user_id, line) of each parsed record
    bad: list[int] = []
    line = 3
    for i in range(400):
        kind = rnd.choice(["plain", "plain", "quoted", "blank", "ragged"])
        if kind == "plain":
            text.append(f"u{i},n{i}\n")
            expected.append((f"u{i}", line))
            line += 1
        elif kind == "quoted":
            text.append(f'u{i},"a\nb\n\nc"\n')
            expected.append((f"u{i}", line))
            line += 4
        elif kind == "blank":
            text.append("\n")
            line += 1
        else:
            text.append(f"u{i},n{i},extra\n")
            bad.append(line)
            line += 1
    path = tmp_path / "notes.csv"
    path.write_text("".join(text))

    data, rejects = _drain(read_csv(path, CsvOptions(block_size=256), batch_rows=50))

    assert (
        list(zip(data.column("user_id").to_pylist(), data.column(LINE).to_pylist(), strict=True)) == expected
    )
    assert [r.line for r in rejects] == bad
    assert {r.reason.value for r in rejects} == {"malformed_row"}


def test_csv_header_with_spaces_after_commas(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        "user_id, timestamp, channel , touchpoint\n"
        "ann,2024-01-15T10:00:00Z,web,home\n"
        "bob,2024-01-15T11:00:00+01:00,app,login\n"
    )

    data, rejects = _drain(read_csv(path, CsvOptions(), batch_rows=1000))
    (report,) = workspace.ingest(paths=[str(path)])

    assert rejects == []
    assert data.column_names == [*EVENT_HEADER, LINE]
    assert all(data.schema.field(n).type == pa.string() for n in EVENT_HEADER)
    assert data.column("timestamp").to_pylist() == ["2024-01-15T10:00:00Z", "2024-01-15T11:00:00+01:00"]
    assert report.loaded == 2
    stored = {k: e["timestamp"] for k, e in _by_touchpoint(workspace).items()}
    assert stored == {"home": _dt.datetime(2024, 1, 15, 10, tzinfo=UTC), "login": stored["home"]}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("calls.tsv", "\t"),
        ("calls.TSV", "\t"),
        ("calls.tsv.gz", "\t"),
        ("export.2024.tsv.gzip", "\t"),
        ("calls.csv", None),
        ("calls.csv.gz", None),
        ("calls.txt", None),
        ("calls.jsonl", None),
        ("tsv", None),
    ],
)
def test_default_delimiter(name: str, expected: str | None) -> None:
    assert default_delimiter(Path("exports") / name) == expected


def test_tsv_read_with_its_default_delimiter(tmp_path: Path) -> None:
    rows = customer("ann", [("web", "home"), ("app", "login")])
    path = write_csv(tmp_path, "events.tsv.gz", rows, EVENT_HEADER, delimiter="\t", compress=True)

    delimiter = default_delimiter(path)
    assert delimiter is not None
    data, rejects = _drain(read_csv(path, CsvOptions(delimiter=delimiter), batch_rows=1000))

    assert rejects == []
    assert data.select(list(EVENT_HEADER)).to_pylist() == rows


# --- XES ----------------------------------------------------------------------------------------


def _xes_file(path: Path, traces: int, events_per_trace: int) -> Path:
    with path.open("w") as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n<log xmlns="http://www.xes-standard.org/">\n')
        fh.write('<string key="concept:name" value="log"/>\n')
        for t in range(traces):
            fh.write(f'<trace><string key="concept:name" value="case-{t}"/>\n')
            for e in range(events_per_trace):
                fh.write(
                    f'<event><string key="concept:name" value="step {e % 7}"/>'
                    f'<date key="time:timestamp" value="2024-01-15T10:{e % 60:02d}:00Z"/></event>\n'
                )
            fh.write("</trace>\n")
        fh.write("</log>\n")
    return path


def _peak_bytes_while_reading(path: Path) -> int:
    tracemalloc.start()
    try:
        events = sum(batch.data.num_rows for batch in read_xes(path, batch_rows=1_000))
        return tracemalloc.get_traced_memory()[1] if events else 0
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(("traces", "events_per_trace"), [(4_000, 1), (1, 4_000)], ids=["traces", "events"])
def test_xes_memory_does_not_grow_with_the_file(tmp_path: Path, traces: int, events_per_trace: int) -> None:
    small = _xes_file(tmp_path / "small.xes", traces, events_per_trace)
    large = _xes_file(tmp_path / "large.xes", traces * 5, events_per_trace * 5)

    _peak_bytes_while_reading(small)  # warm-up: first calls allocate lazily-built library state
    small_peak, large_peak = _peak_bytes_while_reading(small), _peak_bytes_while_reading(large)

    # Finished elements stay attached to the tree unless freed: ~16,000 more of them would add
    # well over a megabyte. Freed, the peak is set by one batch of rows, whatever the file size.
    assert large_peak < small_peak + 400_000, (small_peak, large_peak)


def test_xes_trace_level_lists_are_flattened_like_event_ones(tmp_path: Path) -> None:
    path = tmp_path / "log.xes"
    path.write_text(
        '<log xmlns="http://www.xes-standard.org/"><trace><string key="concept:name" value="c1"/>'
        '<list key="tags"><string key="segment" value="gold"/><int key="rank" value="3"/></list>'
        '<container key="owner"><string key="team" value="billing"/></container>'
        '<event><string key="concept:name" value="register"/>'
        '<list key="items"><string key="sku" value="A1"/></list></event></trace>'
        '<trace><string key="concept:name" value="c2"/>'
        '<event><string key="concept:name" value="pay"/></event>'
        "</trace></log>"
    )

    data, _ = _drain(read_xes(path, batch_rows=100))

    rows = data.to_pylist()
    assert rows[0] == {
        "case:concept:name": "c1",
        "case:tags.segment": "gold",
        "case:tags.rank": "3",
        "case:owner.team": "billing",
        "concept:name": "register",
        "items.sku": "A1",
        LINE: 1,
    }
    assert (rows[1]["case:concept:name"], rows[1]["case:tags.segment"], rows[1][LINE]) == ("c2", None, 2)


# --- files the OS will not hand over ------------------------------------------------------------


def _read_all(fmt: str, path: Path) -> None:
    readers_by_format = {
        "csv": lambda: read_csv(path, CsvOptions(), batch_rows=1000),
        "jsonl": lambda: read_jsonl(path, max_record_bytes=1 << 20),
        "xes": lambda: read_xes(path, batch_rows=1000),
        "parquet": lambda: read_parquet(path, batch_rows=1000),
    }
    for _ in readers_by_format[fmt]():
        pass


FORMATS = ["csv", "jsonl", "xes", "parquet"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_directory_is_reported_as_unreadable_not_corrupt(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"events.{fmt}"
    path.mkdir()

    with pytest.raises(InputError) as caught:
        _read_all(fmt, path)

    assert caught.value.message == f"{path}: cannot read: Is a directory."
    assert caught.value.hint and "ls -l" in caught.value.hint


@pytest.mark.parametrize("fmt", FORMATS)
def test_permission_denied_is_reported_as_unreadable_not_corrupt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    path = tmp_path / f"events.{fmt}"
    path.write_bytes(b"user_id\nann\n")
    real_open = Path.open

    # The tests may run as root, for whom chmod 000 changes nothing: the OS refusal is injected.
    def refuse(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self == path:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refuse)

    with pytest.raises(InputError) as caught:
        _read_all(fmt, path)

    assert caught.value.message == f"{path}: cannot read: Permission denied."
    assert "truncated" not in str(caught.value)


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "xes"])
def test_gzip_garbage_is_still_reported_as_corrupt(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"events.{fmt}.gz"
    path.write_bytes(b"\x1f\x8b" + b"garbage" * 50)

    with pytest.raises(InputError) as caught:
        _read_all(fmt, path)

    assert "truncated or corrupt" in caught.value.message
    assert caught.value.hint and "gzip -t" in caught.value.hint


def test_parquet_that_is_not_parquet_keeps_its_own_message(tmp_path: Path) -> None:
    path = tmp_path / "events.parquet"
    path.write_bytes(b"user_id\nann\n")

    with pytest.raises(InputError) as caught:
        _read_all("parquet", path)

    # It says what the file is instead, and which flag reads it.
    assert "the file is text, not Parquet" in caught.value.message
    assert caught.value.hint and "--input-format csv" in caught.value.hint


def test_parquet_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "events.parquet"
    pq.write_table(pa.table({"user_id": ["ann", "bob"]}), path)

    data, _ = _drain(read_parquet(path, batch_rows=1000))

    assert data.to_pylist() == [{"user_id": "ann", LINE: 1}, {"user_id": "bob", LINE: 2}]


# --- personal identifiers in reader rejects -----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ann.lee+tag@mail.example.co.uk", "[redacted-email]"),
        ("+31 6 1234 5678", "[redacted-phone]"),
        ("call (020) 555-0199 now", "call [redacted-phone] now"),
        ("0612345678,web", "[redacted-phone],web"),
        ('{"phone": "+1-202-555-0143"}', '{"phone": "[redacted-phone]"}'),
        ("2024-01-15T09:00:00Z,web", "2024-01-15T09:00:00Z,web"),
        ("2024-01-15 09:00:00,order 12345", "2024-01-15 09:00:00,order 12345"),
        ("no identifiers here", "no identifiers here"),
    ],
)
def test_redact_identifiers(text: str, expected: str) -> None:
    assert redact_identifiers(text) == expected
    assert redact_identifiers(expected) == expected


def test_rejected_csv_and_json_records_are_stored_without_identifiers(
    workspace: Workspace, tmp_path: Path
) -> None:
    csv_path = tmp_path / "events.csv"
    csv_path.write_text(
        f"{HEADER}\n"
        "ann,2024-01-15T09:00:00Z,web,home\n"
        "bob,2024-01-15T09:05:00Z,app,login,bob.smith@example.com,+31 6 1234 5678\n"
    )
    jsonl_path = write_jsonl(
        tmp_path,
        "events.jsonl",
        [
            customer("cid", [("web", "home")])[0],
            '{"user_id": "dan", "email": "dan@example.org", "phone": "(020) 555-0199",',
            '["eve@example.net", "06-12345678"]',
        ],
    )

    workspace.ingest(paths=[str(csv_path), str(jsonl_path)])

    bad = quarantine_rows(workspace)
    assert Counter(q["reason"] for q in bad) == Counter(
        {"malformed_row": 1, "bad_json": 1, "not_an_object": 1}
    )
    raws = " ".join(q["raw"] for q in bad)
    for secret in ("bob.smith", "example", "1234 5678", "dan@", "555-0199", "eve@", "12345678"):
        assert secret not in raws
    by_reason = {q["reason"]: q["raw"] for q in bad}
    assert (
        by_reason["malformed_row"] == "bob,2024-01-15T09:05:00Z,app,login,[redacted-email],[redacted-phone]"
    )
    assert by_reason["not_an_object"] == '["[redacted-email]", "[redacted-phone]"]'
    assert '"user_id": "dan"' in by_reason["bad_json"]


def test_csv_lines_after_a_header_spanning_two_lines(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_bytes(b'user_id,"note\r\n(free text)"\r\nann,hi\r\n\r\nbob,hi,EXTRA\r\ncid,hi\r\n')

    data, rejects = _drain(read_csv(path, CsvOptions(), batch_rows=1000))

    assert data.column_names == ["user_id", "note\r\n(free text)", LINE]
    assert data.column("user_id").to_pylist() == ["ann", "cid"]
    assert data.column(LINE).to_pylist() == [3, 6]
    assert [(r.line, r.raw) for r in rejects] == [(5, "bob,hi,EXTRA")]


# --- damaged delimited text: only the damaged lines are lost ------------------------------------

QUOTED_DAMAGE = {
    # An unbalanced quote on line 5 of 8, in the shapes that swallowed the rest of the file.
    "fields-differ": 'dan,"2024-01-15T09:00:00Z,web,home',
    "fields-match-at-end": 'dan,2024-01-15T09:00:00Z,web,"home',
    "closed-by-a-later-quote": 'dan,2024-01-15T09:00:00Z,web,"home',
}


@pytest.mark.parametrize("shape", list(QUOTED_DAMAGE))
def test_unbalanced_quote_costs_its_line_and_reading_resumes_at_the_next(tmp_path: Path, shape: str) -> None:
    good = [f"u{i},2024-01-15T09:0{i}:00Z,web,p{i}" for i in range(6)]
    if shape == "closed-by-a-later-quote":
        good[4] = 'u4,2024-01-15T09:04:00Z,web,"p4"'  # its quotes would close line 5's
    lines = [HEADER, *good[:3], QUOTED_DAMAGE[shape], *good[3:]]  # 1 header, 7 records
    path = tmp_path / "events.csv"
    path.write_text("\n".join(lines) + "\n")

    data, rejects = _drain(read_csv(path, CsvOptions(), batch_rows=1000))

    assert data.column("touchpoint").to_pylist() == [f"p{i}" for i in range(6)]
    assert data.column(LINE).to_pylist() == [2, 3, 4, 6, 7, 8]
    (reject,) = rejects
    assert (reject.line, reject.reason.value) == (5, "malformed_row")
    assert reject.raw == QUOTED_DAMAGE[shape]
    assert "quote" in reject.message and "Hint:" in reject.message


def test_unbalanced_quote_in_a_file_larger_than_a_block_is_read_line_by_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With the quote never closed, pyarrow finds no record end in any block and stops.
    monkeypatch.setattr(delimited, "CSV_BLOCK_LARGE", 4096)
    rows = [f"u{i},2024-01-15T09:00:00Z,web,p{i}" for i in range(400)]
    rows[250] = 'u250,2024-01-15T09:00:00Z,web,"p250'
    path = tmp_path / "events.csv"
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n")

    with pytest.raises(delimited.RecordLargerThanBlock):  # small blocks: the pipeline retries
        _drain(read_csv(path, CsvOptions(block_size=1024), batch_rows=100))
    data, rejects = _drain(read_csv(path, CsvOptions(block_size=4096), batch_rows=100))

    assert [(r.line, r.reason.value) for r in rejects] == [(252, "malformed_row")]
    lines = data.column(LINE).to_pylist()
    assert lines == [i + 2 for i in range(400) if i != 250]
    assert data.column("touchpoint").to_pylist() == [f"p{i}" for i in range(400) if i != 250]


def test_legit_quoted_newlines_still_load_at_the_end_of_a_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text('user_id,note\nann,plain\nbob,"two\nlines"\n')

    data, rejects = _drain(read_csv(path, CsvOptions(), batch_rows=1000))

    assert rejects == []
    assert data.to_pylist() == [
        {"user_id": "ann", "note": "plain", LINE: 2},
        {"user_id": "bob", "note": "two\nlines", LINE: 3},
    ]


@pytest.mark.parametrize(
    ("encoding", "damaged", "where"),
    [
        ("utf-8", b"dan,2024-01-15T09:00:00Z,web,caf\xe9", "field 'touchpoint': byte 0xe9 at byte offset 3"),
        ("utf-8", b"dan,caf\xe9,web", "byte 0xe9 at byte offset"),  # also malformed: read line by line
        ("cp1252", b"dan,2024-01-15T09:00:00Z,web,\x81", "byte 0x81 at byte offset {offset} of the file"),
    ],
    ids=["utf8-value", "utf8-malformed-row", "cp1252-undefined-byte"],
)
def test_undecodable_byte_quarantines_its_record_only(
    tmp_path: Path, encoding: str, damaged: bytes, where: str
) -> None:
    good = [f"u{i},2024-01-15T09:0{i}:00Z,web,p{i}".encode() for i in range(5)]
    path = tmp_path / "events.csv"
    path.write_bytes(b"\n".join([HEADER.encode(), *good[:3], damaged, *good[3:]]) + b"\n")

    data, rejects = _drain(read_csv(path, CsvOptions(encoding=encoding), batch_rows=1000))

    assert data.column("touchpoint").to_pylist() == [f"p{i}" for i in range(5)]
    assert data.column(LINE).to_pylist() == [2, 3, 4, 6, 7]
    (reject,) = rejects
    assert (reject.line, reject.reason.value) == (5, "encoding")
    offset = path.read_bytes().index(damaged) + len(damaged) - 1
    assert where.format(offset=offset) in reject.message and "--encoding" in reject.message


def test_a_header_of_a_million_columns_is_refused_with_its_count(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_bytes(b",".join(b"c%d" % i for i in range(1_000_006)) + b"\n" + b"1,2\n")

    with pytest.raises(InputError) as caught:
        _drain(read_csv(path, CsvOptions(), batch_rows=1000))

    assert str(path) in caught.value.message and "1,000,006 columns" in caught.value.message
    assert f"{delimited.MAX_COLUMNS:,}" in caught.value.message
    assert caught.value.hint and "--delimiter" in caught.value.hint


def test_the_column_limit_counts_a_short_header_exactly(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    names = [f"c{i}" for i in range(delimited.MAX_COLUMNS + 1)]
    path.write_text(",".join(names) + "\n" + ",".join("1" for _ in names) + "\n")

    with pytest.raises(InputError, match="10,001 columns"):
        _drain(read_csv(path, CsvOptions(), batch_rows=1000))


def test_header_less_csv_takes_its_names_from_columns(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("ann,2024-01-15T09:00:00Z\n\nbob,2024-01-15T09:05:00Z\n")

    data, _ = _drain(read_csv(path, CsvOptions(columns=("user_id", "timestamp")), batch_rows=1000))

    assert data.to_pylist() == [
        {"user_id": "ann", "timestamp": "2024-01-15T09:00:00Z", LINE: 1},
        {"user_id": "bob", "timestamp": "2024-01-15T09:05:00Z", LINE: 3},
    ]


# --- whitespace-aligned text ----------------------------------------------------------------------

ALIGNED = (
    b"  customer   day        cds  dollars\r\n"  # 1 header, indented
    b" 00004      19970101     2    29.33\r\n"  # 2
    b" 00004\t19970118\t2\t29.73\r\n"  # 3 tabs
    b"\r\n"  # 4 blank
    b" 00021      19970101     3\r\n"  # 5 a field short
    b' "00022"    19970102     1    "9.99"\r\n'  # 6 quotes are ordinary characters
    b" 00023      19970103     1    caf\xe9\r\n"  # 7 not UTF-8
    b" 00024      19970104     1    1.00"  # 8 no final line break
)


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_whitespace_aligned_text_splits_at_runs_of_spaces_and_tabs(tmp_path: Path, compress: bool) -> None:
    path = tmp_path / ("cd.txt.gz" if compress else "cd.txt")
    path.write_bytes(gzip.compress(ALIGNED) if compress else ALIGNED)

    data, rejects = _drain(read_csv(path, CsvOptions(delimiter="whitespace"), batch_rows=1000))

    assert data.column_names == ["customer", "day", "cds", "dollars", LINE]
    assert data.to_pylist() == [
        {"customer": "00004", "day": "19970101", "cds": "2", "dollars": "29.33", LINE: 2},
        {"customer": "00004", "day": "19970118", "cds": "2", "dollars": "29.73", LINE: 3},
        {"customer": '"00022"', "day": "19970102", "cds": "1", "dollars": '"9.99"', LINE: 6},
        {"customer": "00024", "day": "19970104", "cds": "1", "dollars": "1.00", LINE: 8},
    ]
    assert [(r.line, r.reason.value) for r in rejects] == [(5, "malformed_row"), (7, "encoding")]
    assert "expected 4 fields" in rejects[0].message and "found 3" in rejects[0].message
    offset = ALIGNED.index(b"\xe9")
    assert f"byte 0xe9 at byte offset {offset}" in rejects[1].message and "--encoding" in rejects[1].message


def test_whitespace_text_streams_in_batches_with_file_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(whitespace, "_BLOCK", 256)  # many blocks, lines cut across them
    rows = [f"  c{i:05d}  {i}\t{i % 7}  " for i in range(3000)]
    path = tmp_path / "aligned.txt"
    path.write_text("\n".join(rows) + "\n")
    options = CsvOptions(delimiter="whitespace", columns=("customer", "n", "k"))

    batches = list(read_csv(path, options, batch_rows=1000))

    assert len(batches) >= 3 and all(b.data.num_rows <= 1000 + 100 for b in batches)
    data, rejects = _drain(iter(batches))
    assert rejects == []
    assert data.column("customer").to_pylist() == [f"c{i:05d}" for i in range(3000)]
    assert data.column("k").to_pylist() == [str(i % 7) for i in range(3000)]
    assert data.column(LINE).to_pylist() == list(range(1, 3001))


# --- JSON Lines nested too deep ---------------------------------------------------------------------


def test_json_depth_is_measured_without_recursion() -> None:
    assert jsonlines.json_depth(b'{"a": [{"b": "[[[{{{"}]}') == 3
    assert jsonlines.json_depth(b'{"a": "\\"[["}') == 1
    deep = b"[" * 100_000 + b"]" * 100_000
    assert jsonlines.json_depth(deep) == jsonlines.MAX_JSON_DEPTH + 1  # stops just past the limit


@pytest.mark.parametrize("blank_line", [False, True], ids=["fast-path", "line-by-line"])
def test_jsonl_line_at_the_depth_limit_loads_and_one_deeper_is_quarantined(
    tmp_path: Path, blank_line: bool
) -> None:
    limit = jsonlines.MAX_JSON_DEPTH

    def nested(depth: int) -> str:  # the record itself is one level
        return '{"user_id": "ann", "p": ' + '{"a": ' * (depth - 1) + "1" + "}" * (depth - 1) + "}"

    lines = [nested(limit), nested(limit + 1), '{"user_id": "bob"}']
    path = tmp_path / "deep.jsonl"
    path.write_text("\n".join(lines) + ("\n\n" if blank_line else "\n"))

    data, rejects = _drain(read_jsonl(path, max_record_bytes=1 << 20))

    assert data.column("user_id").to_pylist() == ["ann", "bob"]
    assert data.column(LINE).to_pylist() == [1, 3]
    assert [(r.line, r.reason.value) for r in rejects] == [(2, "too_deep")]
    assert str(limit) in rejects[0].message and "Hint:" in rejects[0].message


# --- property: damaged records cost themselves, valid ones are read exactly once ----------------

# Commas and line breaks need quoting; no quotes inside. A note starts with a letter: a stray quote
# closes at the next quote, and if a comma or line break followed it there, the text would be
# valid CSV that means something else (no reader can tell), rather than damage.
_NOTE = st.one_of(
    st.just(""), st.builds(str.__add__, st.sampled_from("ab"), st.text(alphabet="ab ,\n", max_size=5))
)
_DAMAGE = {
    "quote": lambda i: f'u{i},2024-01-15T09:00:00Z,web,"p{i},x'.encode(),  # opens, never closes
    "byte": lambda i: f"u{i},2024-01-15T09:00:00Z,web,p{i},caf".encode() + b"\xe9",
    "ragged": lambda i: f"u{i},2024-01-15T09:00:00Z".encode(),
}
_REASON = {"quote": "malformed_row", "byte": "encoding", "ragged": "malformed_row", "deep": "too_deep"}


def damaged_csv(kinds: list[str | None], notes: list[str]) -> tuple[bytes, dict[str, int], dict[int, str]]:
    """A CSV of valid rows (``None``) and damaged lines; returns the file, the line of each valid
    row by its touchpoint, and the reason expected on each damaged line."""
    out, valid, damaged, line = [b"user_id,timestamp,channel,touchpoint,note"], {}, {}, 2
    for i, (kind, note) in enumerate(zip(kinds, notes, strict=True)):
        if kind is None:
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="\n").writerow(
                [f"u{i}", "2024-01-15T09:00:00Z", "web", f"p{i}", note]
            )
            out.append(buffer.getvalue().removesuffix("\n").encode())
            valid[f"p{i}"] = line
            line += note.count("\n") + 1
        else:
            out.append(_DAMAGE[kind](i))
            damaged[line] = _REASON[kind]
            line += 1
    return b"\n".join(out) + b"\n", valid, damaged


def _read_like_the_pipeline(path: Path, block_size: int) -> tuple[pa.Table, list[readers.Reject]]:
    """Small blocks first; a record larger than a block reads the file again with large ones."""
    try:
        return _drain(read_csv(path, CsvOptions(block_size=block_size), batch_rows=1000))
    except delimited.RecordLargerThanBlock:
        return _drain(read_csv(path, CsvOptions(block_size=delimited.CSV_BLOCK_LARGE), batch_rows=1000))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(
        st.tuples(st.one_of(st.none(), st.none(), st.sampled_from(sorted(_DAMAGE))), _NOTE),
        min_size=1,
        max_size=25,
    ),
    small_blocks=st.booleans(),
)
def test_csv_damage_costs_only_the_damaged_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows: list[tuple[str | None, str]], small_blocks: bool
) -> None:
    # Small blocks: several pyarrow batches, and a quote never closed outgrows even "large" ones;
    # the line reader then hands back to pyarrow after three clean records.
    monkeypatch.setattr(delimited, "CSV_BLOCK_LARGE", 512 if small_blocks else 64 << 20)
    monkeypatch.setattr(_resync, "CALM_LINES", 3 if small_blocks else 10_000)
    data_bytes, valid, damaged = damaged_csv([k for k, _ in rows], [n for _, n in rows])
    path = tmp_path / "mixed.csv"
    path.write_bytes(data_bytes)

    data, rejects = _read_like_the_pipeline(path, 256 if small_blocks else delimited.CSV_BLOCK)

    if not valid:
        data = pa.table(
            {"touchpoint": pa.array([], pa.string()), "note": pa.array([], pa.string()), LINE: []}
        )
    got = dict(zip(data.column("touchpoint").to_pylist(), data.column(LINE).to_pylist(), strict=True))
    assert got == valid and data.num_rows == len(valid)  # each valid row once, on its own line
    assert {r.line: r.reason.value for r in rejects} == damaged and len(rejects) == len(damaged)
    notes = dict(zip(data.column("touchpoint").to_pylist(), data.column("note").to_pylist(), strict=True))
    for i, (kind, note) in enumerate(rows):
        if kind is None:
            assert (notes[f"p{i}"] or "") == note


def _deep(depth: int) -> str:
    return '{"user_id": "x", "p": ' + "[" * (depth - 1) + "1" + "]" * (depth - 1) + "}"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kinds=st.lists(
        st.one_of(st.none(), st.none(), st.sampled_from(["deep", "byte"])), min_size=1, max_size=25
    ),
    depth=st.integers(jsonlines.MAX_JSON_DEPTH + 1, 5_000),
)
def test_jsonl_damage_costs_only_the_damaged_lines(
    tmp_path: Path, kinds: list[str | None], depth: int
) -> None:
    lines, valid, damaged = [], {}, {}
    for i, kind in enumerate(kinds, start=1):
        if kind is None:
            lines.append(json.dumps({"user_id": f"u{i}", "touchpoint": f"p{i}"}).encode())
            valid[f"p{i}"] = i
        elif kind == "deep":
            lines.append(_deep(depth).encode())
            damaged[i] = "too_deep"
        else:
            lines.append(b'{"user_id": "caf\xe9"}')
            damaged[i] = "encoding"
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")

    data, rejects = _drain(read_jsonl(path, max_record_bytes=1 << 20))

    if valid:
        got = dict(zip(data.column("touchpoint").to_pylist(), data.column(LINE).to_pylist(), strict=True))
        assert got == valid and data.num_rows == len(valid)
    assert {r.line: r.reason.value for r in rejects} == damaged and len(rejects) == len(damaged)


def _nested_container(depth: int) -> str:
    inner = '<string key="leaf" value="1"/>'
    for level in range(depth):
        inner = f'<container key="c{level}">{inner}</container>'
    return inner


@pytest.mark.parametrize("where", ["event", "trace"])
def test_xes_attributes_nested_too_deep_quarantine_their_events(tmp_path: Path, where: str) -> None:
    deep = _nested_container(5_000)  # far past Python's recursion limit
    event = '<event><string key="concept:name" value="{}"/>{}</event>'
    path = tmp_path / "deep.xes"
    path.write_text(
        "<log>"
        f'<trace><string key="concept:name" value="c1"/>{deep if where == "trace" else ""}'
        f"{event.format('a', deep if where == 'event' else '')}{event.format('b', '')}</trace>"
        f'<trace><string key="concept:name" value="c2"/>{event.format("c", _nested_container(3))}</trace>'
        "</log>"
    )

    data, rejects = _drain(read_xes(path, batch_rows=100))

    quarantined = [1] if where == "event" else [1, 2]  # a deep trace attribute costs all its events
    assert [(r.line, r.reason.value) for r in rejects] == [(n, "too_deep") for n in quarantined]
    assert "'c1'" in rejects[0].raw and str(xes.MAX_XES_DEPTH) in rejects[0].message
    rows = data.to_pylist()
    assert [r["concept:name"] for r in rows] == (["b", "c"] if where == "event" else ["c"])
    assert rows[-1]["c2.c1.c0.leaf"] == "1"  # shallow nesting still flattens to dotted keys


@pytest.mark.parametrize("delimiter", [",", "whitespace"])
def test_a_byte_order_mark_is_not_part_of_the_first_value_of_a_header_less_file(
    tmp_path: Path, delimiter: str
) -> None:
    path = tmp_path / "events.txt"
    sep = "," if delimiter == "," else "  "
    path.write_bytes(b"\xef\xbb\xbf" + f"ann{sep}1\nbob{sep}2\n".encode())

    data, rejects = _drain(read_csv(path, CsvOptions(delimiter=delimiter, columns=("u", "n")), batch_rows=10))

    assert rejects == []
    assert data.column("u").to_pylist() == ["ann", "bob"] and data.column(LINE).to_pylist() == [1, 2]
