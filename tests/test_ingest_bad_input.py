"""Every kind of bad input a user can hand ``ingest``: what is refused, what is quarantined, what loads.

Most cases go through the Python API (``ws.ingest``); the ones a user meets on the command line
also run ``python -m journeylens`` in a subprocess, where the one error translation lives, and
check the exit code and that stderr names the file and gives the hint.
"""

from __future__ import annotations

import datetime as _dt
import gzip
import hashlib
import json
import random
import re
import resource
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import (
    EVENT_HEADER,
    Step,
    counts_at,
    customer,
    journeys,
    numbered_events,
    quarantine_rows,
    table_rows,
    write_csv,
    write_jsonl,
)
from journeylens import InputError, Workspace
from journeylens.cli._ingest_cmd import parse_mapping

UTC = _dt.UTC
HEX64 = re.compile(r"^[0-9a-f]{64}$")

STORIES: dict[str, list[Step]] = {
    "ann": [("web", "billing_faq"), ("call_center", "billing_call", {"agent_id": "a7"})],
    "bob": [("app", "login"), ("app", "upgrade")],
    "cid": [("email", "newsletter_open")],
}


def _nothing_loaded(ws: Workspace) -> None:
    counts = ws.store.counts()
    assert (counts["events"], counts["quarantine"], counts["ingests"]) == (0, 0, 0), counts


def _by_touchpoint(ws: Workspace) -> dict[str, dict[str, Any]]:
    return {e["touchpoint"]: e for e in table_rows(ws, "events")}


# --- files that cannot be read at all -----------------------------------------------------------


def test_missing_required_column_is_named_with_the_available_columns(
    workspace: Workspace, tmp_path: Path
) -> None:
    rows = [{k: v for k, v in r.items() if k != "timestamp"} for r in journeys(STORIES)]
    path = write_csv(tmp_path, "no_time.csv", rows, ["user_id", "channel", "touchpoint", "agent_id"])

    with pytest.raises(InputError) as caught:
        workspace.ingest(paths=[str(path)])

    message = caught.value.message
    assert str(path) in message
    assert "'timestamp'" in message
    assert "Available columns" in message
    for column in ("user_id", "channel", "touchpoint", "agent_id"):
        assert f"'{column}'" in message.split("Available columns", 1)[1]
    assert caught.value.hint and "--map" in caught.value.hint
    assert isinstance(caught.value, ValueError)  # library users may catch the builtin
    _nothing_loaded(workspace)


def test_unparseable_timestamp_on_line_17_of_1000(workspace: Workspace, tmp_path: Path) -> None:
    rows = numbered_events(1000)
    rows[15]["timestamp"] = "2024-13-45 25:61"  # record 16 sits on line 17 (header is line 1)
    path = write_csv(tmp_path, "events.csv", rows, EVENT_HEADER)

    (report,) = workspace.ingest(paths=[str(path)])

    assert (report.rows_read, report.loaded, report.duplicates) == (1000, 999, 0)
    assert report.quarantined == Counter({"bad_timestamp": 1})
    assert workspace.store.count("events") == 999
    (bad,) = quarantine_rows(workspace)
    assert (bad["source"], bad["line"], bad["reason"], bad["field"], bad["table"]) == (
        str(path),
        17,
        "bad_timestamp",
        "timestamp",
        "events",
    )
    assert json.loads(bad["raw"]) == {k: str(v) for k, v in rows[15].items()}
    assert "2024-13-45 25:61" in bad["message"]
    (logged,) = table_rows(workspace, "ingests")
    assert (logged["rows_read"], logged["loaded"], logged["quarantined"]) == (1000, 999, 1)


def test_wrong_delimiter_hints_at_delimiter(workspace: Workspace, tmp_path: Path) -> None:
    path = write_csv(tmp_path, "semicolons.csv", journeys(STORIES), EVENT_HEADER, delimiter=";")

    with pytest.raises(InputError) as caught:
        workspace.ingest(paths=[str(path)])

    assert str(path) in caught.value.message
    assert caught.value.hint and "--delimiter" in caught.value.hint and "';'" in caught.value.hint
    _nothing_loaded(workspace)

    (report,) = workspace.ingest(paths=[str(path)], delimiter=";")
    assert report.loaded == 5


def test_wrong_encoding_in_the_header_refuses_the_file(workspace: Workspace, tmp_path: Path) -> None:
    rows = numbered_events(600)
    rows[500]["touchpoint"] = "Bénédicte's café"
    path = write_csv(tmp_path, "latin1.csv", rows, [*EVENT_HEADER, "Straße"], encoding="latin-1")

    with pytest.raises(InputError) as caught:
        workspace.ingest(paths=[str(path)])

    assert str(path) in caught.value.message
    assert "header (line 1)" in caught.value.message and "0xdf" in caught.value.message
    assert caught.value.hint and "--encoding" in caught.value.hint
    _nothing_loaded(workspace)

    (report,) = workspace.ingest(paths=[str(path)], encoding="latin-1")
    assert report.loaded == 600
    assert "Bénédicte's café" in _by_touchpoint(workspace)


def test_one_latin1_byte_quarantines_its_record_and_the_rest_loads(
    workspace: Workspace, tmp_path: Path
) -> None:
    rows = numbered_events(600)
    rows[500]["touchpoint"] = "Bénédicte's café"  # record 501 sits on line 502
    path = write_csv(tmp_path, "latin1.csv", rows, [*EVENT_HEADER, "note"], encoding="latin-1")

    (report,) = workspace.ingest(paths=[str(path)])

    assert (report.rows_read, report.loaded, report.quarantined_total) == (600, 599, 1)
    (bad,) = quarantine_rows(workspace)
    assert (bad["line"], bad["reason"], bad["source"]) == (502, "encoding", str(path))
    assert "0xe9" in bad["message"] and "byte offset 1" in bad["message"]  # the "é" after "B"
    assert "'touchpoint'" in bad["message"] and "--encoding" in bad["message"]
    assert "Bénédicte" not in {e["touchpoint"] for e in table_rows(workspace, "events")}

    # Read with the right encoding, the record loads too and nothing else twice.
    (again,) = workspace.ingest(paths=[str(path)], encoding="latin-1")
    assert (again.loaded, again.duplicates) == (1, 599)
    assert "Bénédicte's café" in _by_touchpoint(workspace)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("empty.csv", b""),
        ("empty.jsonl", b""),
        ("empty.csv.gz", gzip.compress(b"")),
        ("empty.xes", b""),
        ("empty.parquet", b""),
    ],
    ids=["csv", "jsonl", "csv.gz", "xes", "parquet"],
)
def test_empty_file_is_refused_as_empty(
    workspace: Workspace, tmp_path: Path, name: str, content: bytes
) -> None:
    path = tmp_path / name
    path.write_bytes(content)

    with pytest.raises(InputError) as caught:
        workspace.ingest(paths=[str(path)])

    assert str(path) in caught.value.message
    # (the temporary folder's name contains 'empty' too, so look only at the words after it)
    assert "empty" in caught.value.message.replace(str(path), "<file>").lower()
    _nothing_loaded(workspace)


def test_file_that_does_not_exist(workspace: Workspace, tmp_path: Path) -> None:
    good = write_csv(tmp_path, "good.csv", journeys(STORIES), EVENT_HEADER)
    missing = tmp_path / "exports" / "2024-01-15.csv"

    with pytest.raises(InputError) as caught:
        workspace.ingest(paths=[str(good), str(missing)])

    assert str(missing) in caught.value.message
    assert caught.value.hint
    # Inputs are checked before anything is read: the good file was not half-ingested.
    _nothing_loaded(workspace)

    with pytest.raises(InputError) as caught:
        workspace.ingest(paths=[str(tmp_path / "exports" / "*.csv")])
    assert "exports" in caught.value.message


def test_truncated_gzip_csv_loads_nothing(workspace: Workspace, tmp_path: Path) -> None:
    full = write_csv(tmp_path, "full.csv.gz", numbered_events(5000), EVENT_HEADER, compress=True)
    data = full.read_bytes()
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(data[: len(data) * 2 // 3])

    with pytest.raises(InputError) as caught:
        workspace.ingest(paths=[str(path)])

    assert str(path) in caught.value.message
    assert "truncated or corrupt" in caught.value.message
    assert caught.value.hint and "gzip -t" in caught.value.hint
    _nothing_loaded(workspace)


def test_truncated_gzip_jsonl_loads_nothing(workspace: Workspace, tmp_path: Path) -> None:
    full = write_jsonl(tmp_path, "full.jsonl.gz", numbered_events(5000), compress=True)
    data = full.read_bytes()
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])

    with pytest.raises(InputError) as caught:
        workspace.ingest(paths=[str(path)])

    assert str(path) in caught.value.message
    assert "truncated or corrupt" in caught.value.message
    _nothing_loaded(workspace)


def _xes(traces: int, events_per_trace: int, seed: int = 7) -> bytes:
    rnd = random.Random(seed)  # random words keep gzip from squeezing the file to nothing
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n<log xmlns="http://www.xes-standard.org/">\n']
    for t in range(traces):
        out.append(f'<trace><string key="concept:name" value="case-{t}"/>\n')
        for e in range(events_per_trace):
            word = "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(12))
            out.append(
                f'<event><string key="concept:name" value="step {e % 7}"/>'
                f'<date key="time:timestamp" value="2024-01-{1 + t % 28:02d}T10:{e % 60:02d}:00+01:00"/>'
                f'<string key="org:resource" value="agent-{e % 5}"/>'
                f'<string key="note" value="{word}"/></event>\n'
            )
        out.append("</trace>\n")
    out.append("</log>\n")
    return "".join(out).encode()


def test_truncated_gzip_xes_rolls_back_batches_already_loaded(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = gzip.compress(_xes(traces=600, events_per_trace=10))
    path = tmp_path / "cut.xes.gz"
    path.write_bytes(data[: len(data) * 3 // 4])
    workspace.config.ingest.batch_rows = 1000  # several batches are inserted before the cut
    # Streamed like a large file (small files are read whole before anything is inserted).
    monkeypatch.setattr("journeylens.ingest.pipeline.SMALL_FILE_BYTES", 0)
    progressed: list[int] = []

    with pytest.raises(InputError) as caught:
        workspace.ingest(paths=[str(path)], channel="web", progress=lambda _src, n: progressed.append(n))

    assert progressed and progressed[-1] >= 1000, "the reader must have loaded batches before failing"
    assert str(path) in caught.value.message
    assert "truncated or corrupt" in caught.value.message
    _nothing_loaded(workspace)


# --- records that cannot be used: quarantined, the rest loads -----------------------------------


def test_json_line_that_is_not_an_object(workspace: Workspace, tmp_path: Path) -> None:
    good = journeys(STORIES)
    path = write_jsonl(
        tmp_path,
        "events.jsonl",
        [
            good[0],
            good[1],
            "[1, 2, 3]",
            good[2],
            '"just a string"',
            "42",
            good[3],
            '{"user_id": "x",',
            good[4],
        ],
    )

    (report,) = workspace.ingest(paths=[str(path)])

    assert report.loaded == 5
    assert report.quarantined == Counter({"not_an_object": 3, "bad_json": 1})
    got = [(q["line"], q["reason"], q["raw"]) for q in quarantine_rows(workspace)]
    assert got == [
        (3, "not_an_object", "[1, 2, 3]"),
        (5, "not_an_object", '"just a string"'),
        (6, "not_an_object", "42"),
        (8, "bad_json", '{"user_id": "x",'),
    ]
    assert sorted(e["touchpoint"] for e in table_rows(workspace, "events")) == sorted(
        r["touchpoint"] for r in good
    )


@pytest.mark.parametrize(
    "content", [b"this is not XML, it is a CSV,with,commas\n", b"<log><trace></log>", b"\x1f\x8bgarbage"]
)
def test_xes_file_that_is_not_xml(workspace: Workspace, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "log.xes"
    path.write_bytes(content)

    with pytest.raises(InputError) as caught:
        workspace.ingest(paths=[str(path)], channel="web")

    assert str(path) in caught.value.message
    assert caught.value.hint
    _nothing_loaded(workspace)


def test_xes_without_org_resource_is_accepted(workspace: Workspace, tmp_path: Path) -> None:
    # org:resource is optional in XES; the default XES mapping must not make it required.
    path = tmp_path / "minimal.xes"
    path.write_text(
        '<log xmlns="http://www.xes-standard.org/"><trace><string key="concept:name" value="c1"/>'
        '<event><string key="concept:name" value="register"/>'
        '<date key="time:timestamp" value="2024-01-15T10:00:00+01:00"/></event>'
        '<event><string key="concept:name" value="decide"/>'
        '<date key="time:timestamp" value="2024-01-15T11:00:00+01:00"/></event>'
        "</trace></log>"
    )

    (report,) = workspace.ingest(paths=[str(path)], channel="web")

    assert report.loaded == 2
    assert {e["touchpoint"]: e["timestamp"] for e in table_rows(workspace, "events")} == {
        "register": _dt.datetime(2024, 1, 15, 9, tzinfo=UTC),
        "decide": _dt.datetime(2024, 1, 15, 10, tzinfo=UTC),
    }


def test_xes_attributes_absent_from_the_first_event_are_kept(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "log.xes"
    path.write_text(
        '<log xmlns="http://www.xes-standard.org/"><trace><string key="concept:name" value="c1"/>'
        '<event><string key="concept:name" value="register"/><string key="org:resource" value="Pete"/>'
        '<date key="time:timestamp" value="2024-01-15T10:00:00Z"/></event>'
        '<event><string key="concept:name" value="pay"/><string key="org:resource" value="Sara"/>'
        '<date key="time:timestamp" value="2024-01-15T11:00:00Z"/><float key="amount" value="49.5"/>'
        "</event></trace></log>"
    )

    (report,) = workspace.ingest(paths=[str(path)], channel="web")

    assert report.loaded == 2
    pay = _by_touchpoint(workspace)["pay"]
    assert pay["agent_id"] == "Sara"
    assert json.loads(pay["properties"]) == {"amount": "49.5"}


def test_jsonl_keys_absent_from_the_first_line_survive_a_bad_line(
    workspace: Workspace, tmp_path: Path
) -> None:
    # A bad line sends the chunk down the line-by-line path; that path must keep every key.
    first = customer("ann", [("web", "home")])[0]
    second = {**customer("bob", [("call_center", "refund_call")])[0], "agent_id": "a7", "value": -20}
    path = write_jsonl(tmp_path, "events.jsonl", [first, "not json", second])

    (report,) = workspace.ingest(paths=[str(path)])

    assert report.loaded == 2 and report.quarantined == Counter({"bad_json": 1})
    call = _by_touchpoint(workspace)["refund_call"]
    assert (call["agent_id"], call["value"]) == ("a7", -20.0)


def test_ten_megabyte_field_is_quarantined_as_field_too_large(workspace: Workspace, tmp_path: Path) -> None:
    huge = "x" * (10 * 1024 * 1024)
    rows = customer(
        "ann",
        [
            ("web", "home", {"note": "short"}),
            ("web", "form", {"note": huge}),
            ("web", "thanks", {"note": "ok"}),
        ],
    )
    path = write_csv(tmp_path, "huge.csv", rows)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux

    (report,) = workspace.ingest(paths=[str(path)])

    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 400, f"peak memory grew by {grown_mib:.0f} MiB for one 10 MiB field"
    assert report.loaded == 2
    assert report.quarantined == Counter({"field_too_large": 1})
    (bad,) = quarantine_rows(workspace)
    assert (bad["line"], bad["reason"], bad["field"]) == (3, "field_too_large", "note")
    assert len(bad["raw"]) < 64 * 1024, "the quarantine keeps a bounded excerpt, not 10 MB"
    assert json.loads(bad["raw"])["touchpoint"] == "form"
    assert set(_by_touchpoint(workspace)) == {"home", "thanks"}


def test_same_file_twice_loads_once(workspace: Workspace, tmp_path: Path) -> None:
    path = write_csv(tmp_path, "events.csv", journeys(STORIES), EVENT_HEADER)

    (first,) = workspace.ingest(paths=[str(path)])
    (second,) = workspace.ingest(paths=[str(path)])
    third, fourth = workspace.ingest(paths=[str(path), str(path)])

    assert (first.loaded, first.duplicates) == (5, 0)
    for again in (second, third, fourth):
        assert (again.rows_read, again.loaded, again.duplicates, again.quarantined_total) == (5, 0, 5, 0)
    assert workspace.store.count("events") == 5
    assert [r["loaded"] for r in sorted(table_rows(workspace, "ingests"), key=lambda r: r["ingest_id"])] == [
        5,
        0,
        0,
        0,
    ]


def test_duplicate_event_id_inside_one_file(workspace: Workspace, tmp_path: Path) -> None:
    rows = [
        {"event_id": "e1", **customer("ann", [("web", "first_sight")])[0]},
        {"event_id": "e2", **customer("bob", [("app", "login")])[0]},
        {"event_id": "e1", **customer("ann", [("web", "resent_copy")])[0]},
        {"event_id": "e3", **customer("cid", [("email", "open")])[0]},
    ]
    path = write_csv(tmp_path, "events.csv", rows)

    (report,) = workspace.ingest(paths=[str(path)])

    assert (report.rows_read, report.loaded, report.duplicates) == (4, 3, 1)
    stored = {e["event_id"]: e["touchpoint"] for e in table_rows(workspace, "events")}
    assert stored == {"e1": "first_sight", "e2": "login", "e3": "open"}


def test_csv_row_with_wrong_number_of_fields(workspace: Workspace, tmp_path: Path) -> None:
    header = ",".join(EVENT_HEADER)
    path = tmp_path / "ragged.csv"
    path.write_text(
        f"{header}\n"  # 1
        "ann,2024-01-15T09:00:00Z,web,home\n"  # 2
        "ann,2024-01-15T09:05:00Z,web,faq\n"  # 3
        "bob,2024-01-15T09:00:00Z,app,login,EXTRA\n"  # 4 too many
        "bob,2024-01-15T09:05:00Z,app,upgrade\n"  # 5
        "cid,2024-01-15T09:00:00Z\n"  # 6 too few
        "cid,2024-01-15T09:05:00Z,email,open\n"  # 7
        "dan,yesterday-ish,web,home\n"  # 8 bad timestamp
        "dan,2024-01-15T09:10:00Z,web,checkout\n"  # 9
    )

    (report,) = workspace.ingest(paths=[str(path)])

    assert report.rows_read == 8
    assert report.loaded == 5
    assert report.quarantined == Counter({"malformed_row": 2, "bad_timestamp": 1})
    got = [(q["line"], q["reason"]) for q in quarantine_rows(workspace)]
    assert got == [(4, "malformed_row"), (6, "malformed_row"), (8, "bad_timestamp")]
    raws = {q["line"]: q["raw"] for q in quarantine_rows(workspace)}
    assert "EXTRA" in raws[4]
    assert "cid" in raws[6]
    assert {e["touchpoint"] for e in table_rows(workspace, "events")} == {
        "home",
        "faq",
        "upgrade",
        "open",
        "checkout",
    }


def test_line_numbers_after_quoted_newlines(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text(
        "user_id,timestamp,channel,touchpoint,note\n"  # 1
        "ann,2024-01-15T09:00:00Z,web,home,plain\n"  # 2
        'ann,2024-01-15T09:05:00Z,web,form,"line a\nline b\nc"\n'  # 3-5
        "bob,2024-01-15T09:00:00Z,app,login,plain\n"  # 6
        "bob,not-a-time,app,upgrade,plain\n"  # 7
        'cid,2024-01-15T09:00:00Z,email,open,"x\ny"\n'  # 8-9
        "cid,also-not-a-time,email,click,plain\n"  # 10
    )

    (report,) = workspace.ingest(paths=[str(path)])

    assert report.loaded == 4
    got = [(q["line"], q["reason"]) for q in quarantine_rows(workspace)]
    assert got == [(7, "bad_timestamp"), (10, "bad_timestamp")]
    form = _by_touchpoint(workspace)["form"]
    assert json.loads(form["properties"]) == {"note": "line a\nline b\nc"}


def test_malformed_row_line_after_quoted_newlines(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text(
        "user_id,timestamp,channel,touchpoint,note\n"  # 1
        'ann,2024-01-15T09:05:00Z,web,form,"line a\nline b\nc"\n'  # 2-4
        "bob,2024-01-15T09:00:00Z,app,login,plain,EXTRA\n"  # 5 too many
        "bob,not-a-time,app,upgrade,plain\n"  # 6
        "cid,2024-01-15T09:00:00Z,email,open,plain\n"  # 7
    )

    (report,) = workspace.ingest(paths=[str(path)])

    assert report.loaded == 2
    got = [(q["line"], q["reason"]) for q in quarantine_rows(workspace)]
    assert got == [(5, "malformed_row"), (6, "bad_timestamp")]


@pytest.mark.parametrize(
    ("table", "rows", "expected"),
    [
        pytest.param(
            "events",
            [
                {"direction": "inbound", "touchpoint": "ok_in"},
                {"direction": "Out", "touchpoint": "ok_out"},
                {"direction": "sideways", "touchpoint": "bad"},
            ],
            [(4, "bad_value", "direction")],
            id="direction",
        ),
        pytest.param(
            "feedback",
            [
                {"metric": "nps", "score": "9"},
                {"metric": "stars", "score": "4"},
                {"metric": "nps", "score": "11"},
                {"metric": "csat", "score": "0"},
                {"metric": "CES", "score": "7"},
                {"metric": "rating", "score": "-1"},
                {"metric": "csat", "score": "five"},
                {"metric": "nps", "score": "0"},
            ],
            [
                (3, "bad_value", "metric"),
                (4, "bad_value", "score"),
                (5, "bad_value", "score"),
                (7, "bad_value", "score"),
                (8, "bad_number", "score"),
            ],
            id="metric-and-score",
        ),
    ],
)
def test_invalid_values_are_quarantined_as_bad_value(
    workspace: Workspace, tmp_path: Path, table: str, rows: list[dict[str, str]], expected: list[Any]
) -> None:
    base = {"user_id": "ann", "timestamp": "2024-01-15T09:00:00Z", "channel": "web", "touchpoint": "survey"}
    path = write_csv(tmp_path, f"{table}.csv", [{**base, **r} for r in rows])

    (report,) = workspace.ingest(paths=[str(path)], table=table)

    got = [(q["line"], q["reason"], q["field"]) for q in quarantine_rows(workspace)]
    assert got == expected
    assert report.loaded == len(rows) - len(expected)
    assert workspace.store.count(table) == len(rows) - len(expected)
    if table == "events":
        assert {e["touchpoint"]: e["direction"] for e in table_rows(workspace, "events")} == {
            "ok_in": "inbound",
            "ok_out": "outbound",
        }
    else:
        stored = sorted((f["metric"], f["score"]) for f in table_rows(workspace, "feedback"))
        assert stored == [("ces", 7.0), ("nps", 0.0), ("nps", 9.0)]


# --- flags --------------------------------------------------------------------------------------


def test_unknown_channel_flag(workspace: Workspace, tmp_path: Path) -> None:
    path = write_csv(tmp_path, "events.csv", journeys(STORIES), EVENT_HEADER)

    with pytest.raises(InputError) as caught:
        workspace.ingest(paths=[str(path)], channel="carrier pigeon")

    assert "--channel" in caught.value.message and "'carrier pigeon'" in caught.value.message
    assert caught.value.hint and "call_center" in caught.value.hint
    _nothing_loaded(workspace)


@pytest.mark.parametrize("pair", ["case_id", "=concept:name", "case_id=", "  =  "])
def test_bad_map_syntax(pair: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_mapping([pair])
    assert "--map" in caught.value.message and "TARGET=SOURCE" in caught.value.message


def test_map_naming_a_column_the_file_lacks(workspace: Workspace, tmp_path: Path) -> None:
    rows = [{"page" if k == "touchpoint" else k: v for k, v in r.items()} for r in journeys(STORIES)]
    path = write_csv(tmp_path, "events.csv", rows, ["user_id", "timestamp", "channel", "page"])

    with pytest.raises(InputError) as caught:
        workspace.ingest(paths=[str(path)], mapping={"touchpoint": "page_name"})

    message = caught.value.message
    assert str(path) in message and "'page_name'" in message
    assert "'page'" in message.split("Available columns", 1)[1]
    assert caught.value.hint and "--map touchpoint=page_name" in caught.value.hint
    _nothing_loaded(workspace)

    (report,) = workspace.ingest(paths=[str(path)], mapping={"touchpoint": "page"})
    assert report.loaded == 5


def test_map_naming_a_missing_column_is_not_ignored_when_the_target_exists(
    workspace: Workspace, tmp_path: Path
) -> None:
    # The user asked for touchpoint to come from 'page_name'; quietly keeping the file's own
    # 'touchpoint' column instead would load different data than asked for.
    path = write_csv(tmp_path, "events.csv", journeys(STORIES), EVENT_HEADER)

    with pytest.raises(InputError) as caught:
        workspace.ingest(paths=[str(path)], mapping={"touchpoint": "page_name"})

    assert str(path) in caught.value.message and "'page_name'" in caught.value.message
    _nothing_loaded(workspace)


# --- values that need normalising ---------------------------------------------------------------

_INSTANT = _dt.datetime(2024, 1, 15, 10, 0, tzinfo=UTC)


def test_timestamp_forms_in_a_utc_workspace(workspace: Workspace, tmp_path: Path) -> None:
    forms = {
        "epoch_seconds": "1705312800",
        "epoch_seconds_fraction": "1705312800.5",
        "epoch_millis": "1705312800000",
        "iso_z": "2024-01-15T10:00:00Z",
        "iso_offset": "2024-01-15T12:00:00+02:00",
        "iso_fraction": "2024-01-15T10:00:00.250Z",
        "naive": "2024-01-15 10:00:00",
        "date_only": "2024-01-15",
    }
    rows = [{"user_id": "ann", "timestamp": v, "channel": "web", "touchpoint": k} for k, v in forms.items()]
    path = write_csv(tmp_path, "times.csv", rows)

    (report,) = workspace.ingest(paths=[str(path)])

    assert report.loaded == len(forms)
    stored = {k: e["timestamp"] for k, e in _by_touchpoint(workspace).items()}
    assert stored == {
        "epoch_seconds": _INSTANT,
        "epoch_seconds_fraction": _INSTANT + _dt.timedelta(milliseconds=500),
        "epoch_millis": _INSTANT,
        "iso_z": _INSTANT,
        "iso_offset": _INSTANT,
        "iso_fraction": _INSTANT + _dt.timedelta(milliseconds=250),
        "naive": _INSTANT,
        "date_only": _dt.datetime(2024, 1, 15, tzinfo=UTC),
    }


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_naive_timestamps_take_the_workspace_timezone(make_workspace: Any, tmp_path: Path, fmt: str) -> None:
    ws = make_workspace(timezone="Europe/Amsterdam")
    forms = {
        "winter_naive": "2024-01-15 10:00:00",
        "summer_naive": "2024-07-15 10:00:00",
        "date_only": "2024-01-15",
        "explicit_utc": "2024-01-15T10:00:00Z",
        "epoch_seconds": "1705312800",
    }
    if fmt == "csv":
        rows = [
            {"user_id": "ann", "timestamp": v, "channel": "web", "touchpoint": k} for k, v in forms.items()
        ]
        path = write_csv(tmp_path, "times.csv", rows)
        expected_names = set(forms)
    else:
        # Parquet carries real types: a naive timestamp column is local wall-clock time too.
        naive = [_dt.datetime(2024, 1, 15, 10), _dt.datetime(2024, 7, 15, 10)]
        path = tmp_path / "times.parquet"
        pq.write_table(
            pa.table(
                {
                    "user_id": ["ann", "ann"],
                    "timestamp": pa.array(naive, pa.timestamp("us")),
                    "channel": ["web", "web"],
                    "touchpoint": ["winter_naive", "summer_naive"],
                }
            ),
            path,
        )
        expected_names = {"winter_naive", "summer_naive"}

    ws.ingest(paths=[str(path)])

    stored = {k: e["timestamp"] for k, e in _by_touchpoint(ws).items()}
    expected = {
        "winter_naive": _dt.datetime(2024, 1, 15, 9, 0, tzinfo=UTC),  # CET = UTC+1
        "summer_naive": _dt.datetime(2024, 7, 15, 8, 0, tzinfo=UTC),  # CEST = UTC+2
        "date_only": _dt.datetime(2024, 1, 14, 23, 0, tzinfo=UTC),  # local midnight
        "explicit_utc": _INSTANT,
        "epoch_seconds": _INSTANT,
    }
    assert stored == {k: v for k, v in expected.items() if k in expected_names}


def test_channel_aliases_are_normalised(workspace: Workspace, tmp_path: Path) -> None:
    given = {
        "Phone": "call_center",
        "IVR": "call_center",
        "WhatsApp": "whatsapp",
        "e-mail": "email",
        "E-Mail": "email",
        " Web ": "web",
        "Call Center": "call_center",
        "carrier pigeon": "other",
        "fax": "other",
    }
    rows = [
        {"user_id": "ann", "timestamp": "2024-01-15T10:00:00Z", "channel": raw, "touchpoint": f"t{i}"}
        for i, raw in enumerate(given)
    ]
    path = write_csv(tmp_path, "channels.csv", rows)

    (report,) = workspace.ingest(paths=[str(path)])

    assert report.loaded == len(given)
    stored = _by_touchpoint(workspace)
    assert {raw: stored[f"t{i}"]["channel"] for i, raw in enumerate(given)} == given

    # The --channel flag takes aliases too.
    path2 = write_csv(
        tmp_path, "calls.csv", [{"user_id": "bob", "timestamp": "2024-01-15", "touchpoint": "x"}]
    )
    workspace.ingest(paths=[str(path2)], channel="Phone")
    assert _by_touchpoint(workspace)["x"]["channel"] == "call_center"


_EMAILS = [" Ann.Lee@Example.COM ", "ann.lee@example.com"]
_PHONES = ["06-12345678", "+31 6 1234 5678", "0031612345678"]


def _identity_file(tmp_path: Path) -> Path:
    rows = [{"identifier_type": "email", "identifier_value": v, "user_id": "ann"} for v in _EMAILS]
    rows += [{"identifier_type": "phone", "identifier_value": v, "user_id": "ann"} for v in _PHONES]
    rows.append({"identifier_type": "crm_id", "identifier_value": "CRM-0042", "user_id": "ann"})
    return write_csv(tmp_path, "identities.csv", rows)


def test_email_and_phone_are_normalised_then_salted_and_hashed(make_workspace: Any, tmp_path: Path) -> None:
    ws = make_workspace(country_code="31")
    path = _identity_file(tmp_path)

    (report,) = ws.ingest(paths=[str(path)], table="identities")

    # Two spellings of one e-mail and three of one phone, all linked to the same user: once
    # normalised and hashed they are the same link, so they count as duplicates.
    assert (report.loaded, report.duplicates, report.quarantined_total) == (3, 3, 0)
    stored = table_rows(ws, "identities")
    values = {
        t: [r["identifier_value"] for r in stored if r["identifier_type"] == t]
        for t in ("email", "phone", "crm_id")
    }
    assert len(values["email"]) == 1 and len(values["phone"]) == 1
    email_hash, phone_hash = values["email"][0], values["phone"][0]
    assert HEX64.match(email_hash) and HEX64.match(phone_hash)
    assert email_hash != phone_hash
    assert values["crm_id"] == ["CRM-0042"]  # not personal contact data: kept as given
    # Salted: not the bare SHA-256 of the normalised value.
    assert email_hash != hashlib.sha256(b"ann.lee@example.com").hexdigest()
    assert phone_hash != hashlib.sha256(b"+31612345678").hexdigest()
    # The raw value appears nowhere in the stored table, in any column.
    dump = json.dumps(stored, default=str).lower()
    for raw in ("ann.lee", "example.com", "12345678", "1234 5678", "612345678"):
        assert raw not in dump

    # Another workspace has another salt: the same person hashes differently there.
    other = make_workspace("other", country_code="31")
    other.ingest(paths=[str(path)], table="identities")
    other_emails = {
        r["identifier_value"] for r in table_rows(other, "identities") if r["identifier_type"] == "email"
    }
    assert other_emails and email_hash not in other_emails


def test_email_column_in_event_properties_is_hashed_like_identities(
    make_workspace: Any, tmp_path: Path
) -> None:
    ws = make_workspace(country_code="31")
    ws.ingest(paths=[str(_identity_file(tmp_path))], table="identities")
    email_hash = next(
        r["identifier_value"] for r in table_rows(ws, "identities") if r["identifier_type"] == "email"
    )
    rows = customer("ann", [("web", "signup", {"email": " ANN.LEE@example.com", "plan": "pro"})])
    events = write_csv(tmp_path, "signup.csv", rows)

    ws.ingest(paths=[str(events)])

    (event,) = table_rows(ws, "events")
    assert json.loads(event["properties"]) == {"email": email_hash, "plan": "pro"}


# --- formats and inputs -------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["one_chunk", "with_blank_line"])
def test_jsonl_nested_properties_merge_with_extra_keys(
    workspace: Workspace, tmp_path: Path, layout: str
) -> None:
    def event(user: str, **extra: Any) -> dict[str, Any]:
        return {
            "user_id": user,
            "timestamp": "2024-01-15T10:00:00Z",
            "channel": "web",
            "touchpoint": "home",
            **extra,
        }

    records: list[Any] = [
        event("ann", properties={"plan": "pro", "device": {"os": "ios"}}, campaign="spring", items=3),
        event("bob", properties={"coupon": "WELCOME"}, referrer="google"),
        event("cid", campaign="summer"),
    ]
    if layout == "with_blank_line":
        records.insert(1, "")  # a blank line is allowed; it must not change how values are typed
    path = write_jsonl(tmp_path, "events.jsonl", records)

    (report,) = workspace.ingest(paths=[str(path)])

    assert report.loaded == 3 and report.quarantined_total == 0
    props = {e["user_id"]: json.loads(e["properties"]) for e in table_rows(workspace, "events")}
    assert props == {
        "ann": {"plan": "pro", "device": {"os": "ios"}, "campaign": "spring", "items": 3},
        "bob": {"coupon": "WELCOME", "referrer": "google"},
        "cid": {"campaign": "summer"},
    }


def test_parquet_input(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "events.parquet"
    pq.write_table(
        pa.table(
            {
                "user_id": ["ann", "ann", "bob", "bob"],
                "timestamp": pa.array(
                    [_INSTANT, _INSTANT + _dt.timedelta(minutes=5), _INSTANT, _INSTANT],
                    pa.timestamp("ms", tz="UTC"),
                ),
                "channel": ["web", "Phone", "app", "app"],
                "touchpoint": ["cart", "order_call", None, "login"],
                "value": pa.array([None, 49.5, None, None], pa.float64()),
                "items": pa.array([2, 2, None, 1], pa.int64()),
            }
        ),
        path,
        row_group_size=2,
    )

    (report,) = workspace.ingest(paths=[str(path)])

    assert (report.rows_read, report.loaded) == (4, 3)
    (bad,) = quarantine_rows(workspace)
    assert (bad["line"], bad["reason"], bad["field"]) == (3, "missing_field", "touchpoint")
    stored = _by_touchpoint(workspace)
    assert stored["order_call"]["channel"] == "call_center"
    assert stored["order_call"]["value"] == 49.5
    assert stored["order_call"]["timestamp"] == _INSTANT + _dt.timedelta(minutes=5)
    assert json.loads(stored["cart"]["properties"]) == {"items": 2}


@pytest.mark.parametrize("name", ["events.csv.gz", "events_gzipped_without_suffix.csv"])
def test_gzip_csv_input(workspace: Workspace, tmp_path: Path, name: str) -> None:
    path = write_csv(tmp_path, name, journeys(STORIES), EVENT_HEADER, compress=True)

    (report,) = workspace.ingest(paths=[str(path)])

    assert (report.loaded, report.quarantined_total) == (5, 0)
    assert sorted(e["touchpoint"] for e in table_rows(workspace, "events")) == sorted(
        r["touchpoint"] for r in journeys(STORIES)
    )


def test_directory_and_glob_inputs(workspace: Workspace, tmp_path: Path, run_cli: Any) -> None:
    drop = tmp_path / "drop"
    (drop / "2024-02").mkdir(parents=True)
    write_csv(drop, "a.csv", customer("ann", [("web", "a1"), ("web", "a2")]), EVENT_HEADER)
    write_csv(drop, "b.csv", customer("bob", [("app", "b1")]), EVENT_HEADER)
    write_jsonl(drop / "2024-02", "c.jsonl", customer("cid", [("email", "c1")]))
    (drop / "README.md").write_text("exports land here\n")

    reports = workspace.ingest(paths=[str(drop)])

    # Sorted by path, README.md skipped (not an input format), sub-folders included.
    assert [Path(r.source).name for r in reports] == ["c.jsonl", "a.csv", "b.csv"]
    assert sum(r.loaded for r in reports) == 4
    workspace.close()

    result = run_cli(["ingest", str(drop / "*.csv"), "-w", str(workspace.root), "--format", "json"])

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert [Path(s["source"]).name for s in summary] == ["a.csv", "b.csv"]
    assert [(s["loaded"], s["duplicates"]) for s in summary] == [(0, 2), (0, 1)]
    assert counts_at(workspace.root)["events"] == 4


# --- the same mistakes on the command line ------------------------------------------------------


@pytest.fixture
def cli_files(tmp_path: Path) -> dict[str, Path]:
    full = write_csv(tmp_path, "full.csv.gz", numbered_events(3000), EVENT_HEADER, compress=True)
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(full.read_bytes()[:2000])
    return {
        "good": write_csv(tmp_path, "good.csv", journeys(STORIES), EVENT_HEADER),
        "semicolons": write_csv(tmp_path, "semicolons.csv", journeys(STORIES), EVENT_HEADER, delimiter=";"),
        # A latin-1 byte in the header refuses the file (one in a value quarantines its record).
        "latin1": write_csv(
            tmp_path,
            "latin1.csv",
            customer("zoë", [("web", "café")]),
            [*EVENT_HEADER, "Straße"],
            encoding="latin-1",
        ),
        "no_time": write_csv(
            tmp_path, "no_time.csv", [{"user_id": "a", "channel": "web", "touchpoint": "t"}]
        ),
        "no_touchpoint": write_csv(
            tmp_path,
            "pages.csv",
            [{"user_id": "a", "timestamp": "2024-01-15", "channel": "web", "page": "p"}],
        ),
        "cut": cut,
        "missing": tmp_path / "nowhere" / "events.csv",
    }


@pytest.mark.parametrize(
    ("file", "extra", "names_file", "must_say"),
    [
        ("no_time", [], True, ["'timestamp'", "Available columns", "Hint:", "--map"]),
        ("semicolons", [], True, ["Hint:", "--delimiter"]),
        ("latin1", [], True, ["Hint:", "--encoding"]),
        ("missing", [], True, ["No such file", "Hint:"]),
        ("cut", [], True, ["truncated or corrupt", "Hint:", "gzip -t"]),
        ("good", ["--channel", "carrier pigeon"], False, ["--channel", "carrier pigeon", "Hint:"]),
        ("good", ["--map", "touchpoint"], False, ["--map", "TARGET=SOURCE", "Hint:"]),
        (
            "no_touchpoint",
            ["--map", "touchpoint=page_name"],
            True,
            ["'page_name'", "Available columns", "Hint:"],
        ),
    ],
    ids=[
        "missing-column",
        "delimiter",
        "encoding",
        "no-such-file",
        "truncated-gzip",
        "channel",
        "map-syntax",
        "map-column",
    ],
)
def test_cli_reports_bad_input_with_exit_code_file_and_hint(
    *,
    workspace: Workspace,
    cli_files: dict[str, Path],
    run_journeylens: Any,
    file: str,
    extra: list[str],
    names_file: bool,
    must_say: list[str],
) -> None:
    path = cli_files[file]

    done = run_journeylens(["ingest", path, *extra, "-w", workspace.root])

    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("Error: ")
    if names_file:
        assert str(path) in done.stderr
    for text in must_say:
        assert text in done.stderr
    assert counts_at(workspace.root)["events"] == 0


@pytest.mark.parametrize(("max_bad", "exit_code"), [(None, 1), (1, 1), (2, 0), (5, 0)])
def test_cli_max_bad(
    make_workspace: Any, tmp_path: Path, run_journeylens: Any, max_bad: int | None, exit_code: int
) -> None:
    rows = journeys(STORIES)
    rows[1]["timestamp"] = "soon"
    rows[3]["timestamp"] = "later"
    path = write_csv(tmp_path, "events.csv", rows, EVENT_HEADER)
    ws = make_workspace()
    flags = [] if max_bad is None else ["--max-bad", str(max_bad)]

    done = run_journeylens(["ingest", path, *flags, "-w", ws.root])

    assert done.returncode == exit_code, done.stderr
    assert "Traceback" not in done.stderr
    if exit_code:
        assert "2 record(s) were quarantined" in done.stderr and "--max-bad" in done.stderr
    counts = counts_at(ws.root)
    assert (counts["events"], counts["quarantine"]) == (3, 2)  # valid records load either way


@pytest.mark.parametrize("args", [["--max-bad", "many"], ["--no-such-flag"]])
def test_cli_usage_errors_are_reported_not_crashed(
    workspace: Workspace, tmp_path: Path, run_journeylens: Any, args: list[str]
) -> None:
    path = write_csv(tmp_path, "events.csv", journeys(STORIES), EVENT_HEADER)

    done = run_journeylens(["ingest", path, *args, "-w", workspace.root])

    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert args[0] in done.stderr


def test_cli_unknown_extension_hint_names_the_real_flag(
    workspace: Workspace, tmp_path: Path, run_journeylens: Any
) -> None:
    # On `ingest`, --format is the *output* format; the input format flag is --input-format.
    path = write_csv(tmp_path, "export.dat", journeys(STORIES), EVENT_HEADER)

    done = run_journeylens(["ingest", path, "-w", workspace.root])

    assert done.returncode == 2, done.stderr
    assert str(path) in done.stderr
    assert "--input-format" in done.stderr

    followed = run_journeylens(["ingest", path, "--input-format", "csv", "-w", workspace.root])
    assert followed.returncode == 0, followed.stderr
    assert counts_at(workspace.root)["events"] == 5


# --- damaged files: the damaged records are quarantined, the rest loads -------------------------


def test_deeply_nested_json_lines_are_quarantined_as_too_deep(workspace: Workspace, tmp_path: Path) -> None:
    good = journeys(STORIES)
    deep = '{"user_id": "x", "p": ' + "[" * 10_000 + "]" * 10_000 + "}"
    path = write_jsonl(tmp_path, "deep.jsonl", [good[0], deep, good[1], good[2], deep, good[3], good[4]])

    (report,) = workspace.ingest(paths=[str(path)])

    assert (report.rows_read, report.loaded) == (7, 5)
    assert report.quarantined == Counter({"too_deep": 2})
    got = [(q["line"], q["reason"]) for q in quarantine_rows(workspace)]
    assert got == [(2, "too_deep"), (5, "too_deep")]
    assert all(len(q["raw"]) < 300 for q in quarantine_rows(workspace))  # a preview, not 20 KB


def test_unbalanced_quote_on_line_5_of_8_costs_that_line_only(workspace: Workspace, tmp_path: Path) -> None:
    rows = [
        ",".join((r["user_id"], r["timestamp"], r["channel"], r["touchpoint"])) for r in numbered_events(7)
    ]
    rows[3] = rows[3].replace(",web,", ',"web,', 1).replace(",app,", ',"app,', 1)  # line 5
    path = tmp_path / "quote.csv"
    path.write_text(HEADER_LINE + "\n" + "\n".join(rows) + "\n")
    assert rows[3].count('"') == 1

    (report,) = workspace.ingest(paths=[str(path)])

    assert (report.rows_read, report.loaded, report.quarantined_total) == (7, 6, 1)  # 8 lines, 1 header
    (bad,) = quarantine_rows(workspace)
    assert (bad["line"], bad["reason"]) == (5, "malformed_row")
    assert "quote" in bad["message"] and "Hint:" in bad["message"]
    assert workspace.store.count("events") == 6


def test_utf16_files_load_with_encoding_utf16(workspace: Workspace, tmp_path: Path) -> None:
    text = (
        HEADER_LINE
        + "\n"
        + "\n".join(
            ",".join((r["user_id"], r["timestamp"], r["channel"], r["touchpoint"])) for r in journeys(STORIES)
        )
    )
    little = tmp_path / "little.csv"
    little.write_bytes(text.encode("utf-16"))  # with its byte-order mark
    big = tmp_path / "big.csv"
    big.write_bytes(b"\xfe\xff" + text.encode("utf-16-be"))

    reports = workspace.ingest(paths=[str(little), str(big)], encoding="utf-16")

    assert [r.loaded for r in reports] == [5, 0] and [r.duplicates for r in reports] == [0, 5]


HEADER_LINE = ",".join(EVENT_HEADER)


def _gzip_twice(data: bytes) -> bytes:
    return gzip.compress(gzip.compress(data))


def _parquet_bytes(tmp_path: Path) -> bytes:
    pq.write_table(pa.table({"user_id": ["ann"]}), tmp_path / "real.parquet")
    return (tmp_path / "real.parquet").read_bytes()


def _zip_bytes(tmp_path: Path) -> bytes:
    import zipfile

    with zipfile.ZipFile(tmp_path / "real.zip", "w") as archive:
        archive.writestr("events.csv", HEADER_LINE + "\n")
    return (tmp_path / "real.zip").read_bytes()


_CSV_TEXT = (HEADER_LINE + "\nann,2024-01-15T09:00:00Z,web,home\n").encode()
GARBAGE: dict[str, tuple[str, Any, list[str]]] = {
    "random-bytes-named-csv-gz": ("events.csv.gz", lambda _: random.Random(7).randbytes(5000),
                                  ["binary data", "not gzip-compressed"]),
    "random-bytes-named-jsonl": ("events.jsonl", lambda _: random.Random(8).randbytes(5000),
                                 ["binary data", "--input-format"]),
    "parquet-named-csv": ("events.csv", _parquet_bytes, ["a Parquet file", "--input-format parquet"]),
    "parquet-named-jsonl": ("events.jsonl", _parquet_bytes, ["a Parquet file", "--input-format parquet"]),
    "zip-named-csv": ("events.csv", _zip_bytes, ["zip archive", "unzip"]),
    "utf16-le": ("events.csv", lambda _: _CSV_TEXT.decode().encode("utf-16"),
                 ["UTF-16", "--encoding utf-16"]),
    "utf16-be": ("events.csv", lambda _: b"\xfe\xff" + _CSV_TEXT.decode().encode("utf-16-be"),
                 ["UTF-16", "--encoding utf-16"]),
    "utf16-jsonl": ("events.jsonl", lambda _: b'{"user_id": "ann"}\n'.decode().encode("utf-16"),
                    ["UTF-16", "iconv"]),
    "gzip-inside-gzip": ("events.csv.gz", lambda _: _gzip_twice(_CSV_TEXT), ["gzip inside gzip", "gunzip"]),
    "csv-named-parquet": ("events.parquet", lambda _: _CSV_TEXT, ["text, not Parquet", "--input-format csv"]),
    "binary-named-xes": ("log.xes", lambda _: b"PK\x03\x04" + bytes(range(256)), ["zip archive"]),
}  # fmt: skip


@pytest.mark.parametrize("case", list(GARBAGE))
def test_garbage_and_misnamed_files_say_what_they_are_without_a_traceback(
    workspace: Workspace, tmp_path: Path, run_journeylens: Any, case: str
) -> None:
    name, content, must_say = GARBAGE[case]
    path = tmp_path / name
    path.write_bytes(content(tmp_path))

    done = run_journeylens(["ingest", path, "-w", workspace.root])

    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("Error: ") and str(path) in done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
    assert all(c.isprintable() or c == "\n" for c in done.stderr), done.stderr  # no raw bytes
    for text in must_say:
        assert text in done.stderr
    assert "Hint:" in done.stderr


def test_a_bad_byte_in_a_malformed_row_prints_nothing_but_the_summary(
    workspace: Workspace, tmp_path: Path, run_journeylens: Any
) -> None:
    # pyarrow decodes a malformed row before its handler sees it; a bad byte there made it print
    # "Exception ignored ... UnicodeDecodeError" and give up on the file.
    path = tmp_path / "events.csv"
    path.write_bytes(
        _CSV_TEXT + b"bob,2024-01-15T09:05:00Z,caf\xe9\n" + b"cid,2024-01-15T09:06:00Z,app,login\n"
    )

    done = run_journeylens(["ingest", path, "-w", workspace.root, "--max-bad", "1", "--format", "json"])

    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
    (summary,) = json.loads(done.stdout)
    assert (summary["rows_read"], summary["loaded"], summary["quarantined_by_reason"]) == (
        3,
        2,
        {"encoding": 1},
    )


def test_whitespace_aligned_file_on_the_command_line(
    workspace: Workspace, tmp_path: Path, run_journeylens: Any
) -> None:
    path = tmp_path / "purchases.txt"
    path.write_text(
        " 00004 0001 19970101  2   29.33\n 00004 0001 19970118  2   29.73\n 00021 0002 19970101  3\n"
    )
    columns = "user_id,index,timestamp,cds,value"

    done = run_journeylens(
        ["ingest", path, "-w", workspace.root, "--delimiter", "whitespace", "--columns", columns,
         "--touchpoint", "purchase", "--channel", "store", "--max-bad", "1", "--format", "json"]
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    (summary,) = json.loads(done.stdout)
    assert (summary["loaded"], summary["quarantined_by_reason"]) == (2, {"malformed_row": 1})
    ws = Workspace.open(workspace.root)
    try:
        events = sorted(table_rows(ws, "events"), key=lambda e: e["timestamp"])
        assert [(e["user_id"], e["touchpoint"], e["value"]) for e in events] == [
            ("00004", "purchase", 29.33), ("00004", "purchase", 29.73),
        ]  # fmt: skip
        assert [q["line"] for q in quarantine_rows(ws)] == [3]
    finally:
        ws.close()


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--delimiter", "spaces"], "--delimiter"),
        (["--columns", "a,,b"], "--columns"),
        (["--touchpoint", "home"], "--touchpoint"),  # the file has a touchpoint column
    ],
)
def test_bad_reader_flags_are_named(
    workspace: Workspace, tmp_path: Path, run_journeylens: Any, flags: list[str], says: str
) -> None:
    path = tmp_path / "events.csv"
    path.write_bytes(_CSV_TEXT)

    done = run_journeylens(["ingest", path, "-w", workspace.root, *flags])

    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and says in done.stderr and "Hint:" in done.stderr


_LINE_DAMAGE = {
    "quote": lambda i: f'u{i},2024-01-15T09:00:00Z,web,"p{i}'.encode(),  # a quote never closed
    "byte": lambda i: f"u{i},2024-01-15T09:00:00Z,web,p{i}-caf".encode() + b"\xe9",
    "deep": lambda i: ('{"user_id": "x", "p": ' + "[" * 500 + "]" * 500 + "}").encode(),
}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=st.lists(st.sampled_from([None, None, "quote", "byte", "deep"]), min_size=1, max_size=14))
def test_every_valid_row_loads_once_and_every_damaged_record_is_quarantined_once(
    tmp_path_factory: pytest.TempPathFactory, kinds: list[str | None]
) -> None:
    folder = tmp_path_factory.mktemp("damage")
    csv_lines, jsonl_lines = [HEADER_LINE.encode()], []
    valid: set[str] = set()
    damaged: dict[tuple[str, int], str] = {}
    for i, kind in enumerate(kinds):
        touchpoint = f"p{i}"
        if kind is None:  # the same row in both files, with its own touchpoint in each
            csv_lines.append(f"u{i},2024-01-15T09:00:00Z,web,{touchpoint}".encode())
            jsonl_lines.append(json.dumps({"user_id": f"u{i}", "timestamp": "2024-01-15T09:00:00Z",
                                           "channel": "web", "touchpoint": f"j{i}"}).encode())  # fmt: skip
            valid |= {touchpoint, f"j{i}"}
        elif kind == "deep":
            jsonl_lines.append(_LINE_DAMAGE[kind](i))
            damaged[("events.jsonl", len(jsonl_lines))] = "too_deep"
        else:
            csv_lines.append(_LINE_DAMAGE[kind](i))
            damaged[("events.csv", len(csv_lines))] = "malformed_row" if kind == "quote" else "encoding"
    (folder / "events.csv").write_bytes(b"\n".join(csv_lines) + b"\n")
    (folder / "events.jsonl").write_bytes(b"\n".join(jsonl_lines) + b"\n" if jsonl_lines else b"\n")
    # (a file with no record at all is refused as empty: each file here holds at least one line)
    files = [
        f
        for f, n in ((folder / "events.csv", len(csv_lines) - 1), (folder / "events.jsonl", len(jsonl_lines)))
        if n
    ]
    ws = Workspace.init(folder / "ws")
    try:
        reports = ws.ingest(paths=[str(f) for f in files])

        events = [e["touchpoint"] for e in table_rows(ws, "events")]
        assert sorted(events) == sorted(valid)  # every valid row, once
        quarantined = [(Path(q["source"]).name, q["line"], q["reason"]) for q in quarantine_rows(ws)]
        assert sorted(quarantined) == sorted((f, line, reason) for (f, line), reason in damaged.items())
        lines = {"events.csv": len(csv_lines) - 1, "events.jsonl": len(jsonl_lines)}
        for report in reports:
            assert (
                report.rows_read
                == lines[Path(report.source).name]
                == report.loaded + report.quarantined_total
            )
    finally:
        ws.close()
