"""Ingest the real reference logs in ../shared/data and check the published counts exactly.

Expected numbers come from ../shared/data/README.md; where the README gives none (customers of
the help desk, topics of BPI 2016), a plain-stdlib reading of the same file is the reference.
"""

from __future__ import annotations

import csv
import datetime as _dt
import gzip
import json
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import table_rows
from journeylens import Workspace

pytestmark = pytest.mark.realdata

RECEIPT_CSV_MAPPING = {
    "case_id": "case:concept:name",
    "touchpoint": "concept:name",
    "timestamp": "time:timestamp",
}
BPI2016_MAPPING = {
    "user_id": "CustomerID",
    "timestamp": "ContactDate",
    "touchpoint": "ComplaintTopic_EN",
}
UTC = _dt.UTC
SharedFile = Callable[[str], Path]


def _ingest_receipt(ws: Workspace, kind: str, csv_path: Path, xes_path: Path) -> Path:
    """Ingest the receipt log from its CSV (pm4py layout, via --map) or XES copy; return the file."""
    if kind == "csv":
        ws.ingest(paths=[str(csv_path)], mapping=RECEIPT_CSV_MAPPING, channel="web")
        return csv_path
    ws.ingest(paths=[str(xes_path)], channel="web")
    return xes_path


def _events(ws: Workspace, source: Path) -> list[dict[str, Any]]:
    return [r for r in table_rows(ws, "events") if r["source"] == str(source)]


def _shape(events: list[dict[str, Any]]) -> tuple[int, int, int]:
    """(cases, events, distinct touchpoints)."""
    return (
        len({e["case_id"] for e in events}),
        len(events),
        len({e["touchpoint"] for e in events}),
    )


def _variants(events: list[dict[str, Any]]) -> int:
    """Distinct touchpoint sequences per case, ordered by time then file order (stable on ties)."""
    traces: dict[str, list[tuple[_dt.datetime, int, str]]] = {}
    for e in events:
        traces.setdefault(e["case_id"], []).append((e["timestamp"], e["ingest_seq"], e["touchpoint"]))
    return len({tuple(t for *_, t in sorted(steps)) for steps in traces.values()})


def _xes_events(path: Path) -> list[dict[str, str]]:
    """Reference reader: every event's own attributes plus its trace's, with plain ElementTree."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        root = ET.parse(fh).getroot()
    out = []
    for trace in (el for el in root if el.tag.rsplit("}", 1)[-1] == "trace"):
        case = {
            "case:" + a.get("key", ""): a.get("value", "")
            for a in trace
            if a.tag.rsplit("}", 1)[-1] != "event" and a.get("key")
        }
        for event in (el for el in trace if el.tag.rsplit("}", 1)[-1] == "event"):
            attrs = {a.get("key", ""): a.get("value", "") for a in event if a.get("key")}
            out.append({**case, **attrs})
    return out


# --- receipt ------------------------------------------------------------------------------------


@pytest.fixture
def receipt_csv(shared_file: SharedFile) -> Path:
    return shared_file("process-logs/receipt.csv")


@pytest.fixture
def receipt_xes(shared_file: SharedFile) -> Path:
    return shared_file("process-logs/receipt.xes.gz")


def test_receipt_csv_matches_published_counts(workspace: Workspace, receipt_csv: Path) -> None:
    (report,) = workspace.ingest(paths=[str(receipt_csv)], mapping=RECEIPT_CSV_MAPPING, channel="web")

    assert (report.rows_read, report.loaded, report.duplicates, report.quarantined_total) == (
        8577,
        8577,
        0,
        0,
    )
    events = _events(workspace, receipt_csv)
    assert _shape(events) == (1434, 8577, 27)
    assert _variants(events) == 116
    assert {e["channel"] for e in events} == {"web"}


def test_receipt_xes_matches_published_counts(workspace: Workspace, receipt_xes: Path) -> None:
    (report,) = workspace.ingest(paths=[str(receipt_xes)], channel="web")

    assert (report.rows_read, report.loaded, report.quarantined_total) == (8577, 8577, 0)
    events = _events(workspace, receipt_xes)
    assert _shape(events) == (1434, 8577, 27)
    assert _variants(events) == 116


def test_receipt_csv_and_xes_hold_the_same_events(
    workspace: Workspace, receipt_csv: Path, receipt_xes: Path
) -> None:
    workspace.ingest(paths=[str(receipt_csv)], mapping=RECEIPT_CSV_MAPPING, channel="web")
    workspace.ingest(paths=[str(receipt_xes)], channel="web")

    def triples(source: Path) -> Counter[tuple[str, str, _dt.datetime]]:
        return Counter((e["case_id"], e["touchpoint"], e["timestamp"]) for e in _events(workspace, source))

    from_csv, from_xes = triples(receipt_csv), triples(receipt_xes)
    assert sum(from_csv.values()) == 8577
    assert from_csv == from_xes


@pytest.mark.parametrize("kind", ["csv", "xes"])
def test_receipt_first_event_is_stored_as_a_utc_instant(
    workspace: Workspace, receipt_csv: Path, receipt_xes: Path, kind: str
) -> None:
    # The first record of receipt.csv: case-10011, 'Confirmation of receipt',
    # 2011-10-11 13:45:40.276+02:00, i.e. 11:45:40.276 UTC.
    source = _ingest_receipt(workspace, kind, receipt_csv, receipt_xes)

    first = min(_events(workspace, source), key=lambda e: e["ingest_seq"])
    assert (first["case_id"], first["touchpoint"]) == ("case-10011", "Confirmation of receipt")
    assert first["timestamp"] == _dt.datetime(2011, 10, 11, 11, 45, 40, 276000, tzinfo=UTC)
    assert first["timestamp"].utcoffset() == _dt.timedelta(0)


@pytest.mark.parametrize("kind", ["csv", "xes"])
def test_receipt_keeps_lifecycle_transition_in_properties(
    workspace: Workspace, receipt_csv: Path, receipt_xes: Path, kind: str
) -> None:
    source = _ingest_receipt(workspace, kind, receipt_csv, receipt_xes)

    events = _events(workspace, source)
    props = [json.loads(e["properties"]) for e in events]
    transitions = Counter(p.get("lifecycle:transition") for p in props)
    assert sum(transitions.values()) == 8577
    assert None not in transitions, "every receipt event has a lifecycle:transition"
    assert "complete" in transitions
    # Mapped columns are not repeated in properties.
    assert not any("concept:name" in p or "time:timestamp" in p for p in props)


@pytest.mark.parametrize("kind", ["csv", "xes"])
def test_reingesting_receipt_loads_nothing_and_counts_duplicates(
    workspace: Workspace, receipt_csv: Path, receipt_xes: Path, kind: str
) -> None:
    source = receipt_csv if kind == "csv" else receipt_xes
    spec: dict[str, Any] = {"paths": [str(source)], "channel": "web"}
    if kind == "csv":
        spec["mapping"] = RECEIPT_CSV_MAPPING

    (first,) = workspace.ingest(**spec)
    (second,) = workspace.ingest(**spec)

    assert first.loaded == 8577
    assert (second.rows_read, second.loaded, second.duplicates, second.quarantined_total) == (
        8577,
        0,
        8577,
        0,
    )
    assert workspace.store.count("events") == 8577
    logged = sorted((r["ingest_id"], r["loaded"], r["duplicates"]) for r in table_rows(workspace, "ingests"))
    assert logged == [(first.ingest_id, 8577, 0), (second.ingest_id, 0, 8577)]


# --- help desk ----------------------------------------------------------------------------------


def test_helpdesk_xes_matches_published_counts(workspace: Workspace, shared_file: SharedFile) -> None:
    source = shared_file("process-logs/helpdesk.xes.gz")

    (report,) = workspace.ingest(paths=[str(source)], channel="call_center")

    assert (report.rows_read, report.loaded, report.quarantined_total) == (21348, 21348, 0)
    events = _events(workspace, source)
    assert _shape(events) == (4580, 21348, 14)
    assert _variants(events) == 226  # needs file order kept on the 129 traces with equal timestamps
    assert {e["channel"] for e in events} == {"call_center"}
    # org:resource is the agent by default; the other event attributes stay in properties.
    assert all(e["agent_id"] for e in events)
    assert all("customer" in json.loads(e["properties"]) for e in events)


def test_helpdesk_with_customer_as_user_id(workspace: Workspace, shared_file: SharedFile) -> None:
    source = shared_file("process-logs/helpdesk.xes.gz")
    reference = _xes_events(source)

    (report,) = workspace.ingest(paths=[str(source)], channel="call_center", mapping={"user_id": "customer"})

    assert report.loaded == len(reference) == 21348
    events = sorted(_events(workspace, source), key=lambda e: e["ingest_seq"])
    assert _shape(events) == (4580, 21348, 14)
    # Each event's user_id is its own 'customer' attribute, in file order.
    assert [e["user_id"] for e in events] == [r["customer"] for r in reference]
    assert len({e["user_id"] for e in events}) == len({r["customer"] for r in reference})
    assert [e["case_id"] for e in events] == [r["case:concept:name"] for r in reference]


# --- BPI Challenge 2016 complaints --------------------------------------------------------------


def _bpi_reference(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="latin-1", newline="") as fh:
        return list(csv.DictReader(fh, delimiter=";"))


@pytest.mark.parametrize("channel_from", ["ContactChannelID", "constant"])
def test_bpi2016_complaints(workspace: Workspace, shared_file: SharedFile, channel_from: str) -> None:
    source = shared_file("journeys/BPI2016_Complaints.csv")
    reference = _bpi_reference(source)
    mapping = dict(BPI2016_MAPPING)
    channel = None
    if channel_from == "constant":
        channel = "call_center"
    else:
        mapping["channel"] = "ContactChannelID"

    (report,) = workspace.ingest(
        paths=[str(source)], delimiter=";", encoding="latin-1", mapping=mapping, channel=channel
    )

    assert (report.rows_read, report.loaded, report.quarantined_total) == (289, 289, 0)
    events = _events(workspace, source)
    assert len(events) == 289
    assert len({e["user_id"] for e in events}) == 226
    assert {e["touchpoint"] for e in events} == {r["ComplaintTopic_EN"] for r in reference}
    # ContactDate is a date only: midnight in the workspace zone (UTC here).
    assert Counter(e["timestamp"] for e in events) == Counter(
        _dt.datetime.fromisoformat(r["ContactDate"]).replace(tzinfo=UTC) for r in reference
    )
    # Channel ids are codes, not channel names: unknown values become 'other'.
    assert {e["channel"] for e in events} == ({"call_center"} if channel else {"other"})
    # Latin-1 text is decoded, not mangled: the Dutch topic keeps its diaeresis.
    dutch_topics = {json.loads(e["properties"])["ComplaintTopic"] for e in events}
    assert dutch_topics == {r["ComplaintTopic"] for r in reference}
    assert "boos over beëindiging gesprek" in dutch_topics


# --- running example ----------------------------------------------------------------------------


def test_running_example_xes(workspace: Workspace, shared_file: SharedFile) -> None:
    source = shared_file("process-logs/running-example.xes")

    (report,) = workspace.ingest(paths=[str(source)], channel="web")

    assert report.loaded == 42
    events = _events(workspace, source)
    assert _shape(events) == (6, 42, 8)
    assert _variants(events) == 6
    # Costs is an event attribute outside the model: it travels in properties.
    assert all("Costs" in json.loads(e["properties"]) for e in events)


def test_process_logs_ingest_without_a_channel(workspace: Workspace, shared_file: SharedFile) -> None:
    """XES and pm4py-layout CSV have no channel concept: events get 'other', and the report says
    how to set one; every event is loaded."""
    xes, csv_path = shared_file("process-logs/receipt.xes.gz"), shared_file("process-logs/receipt.csv")
    (from_xes,) = workspace.ingest(paths=[str(xes)])
    (from_csv,) = workspace.ingest(paths=[str(csv_path)], mapping=RECEIPT_CSV_MAPPING)
    for report in (from_xes, from_csv):
        assert report.loaded == 8577 and report.quarantined_total == 0
        (note,) = report.notes
        assert "'other'" in note and "--channel" in note and "--map channel=" in note
    assert {e["channel"] for e in table_rows(workspace, "events")} == {"other"}


def test_ordinary_csv_without_channel_is_still_refused(
    workspace: Workspace, shared_file: SharedFile, run_journeylens: Callable[..., Any]
) -> None:
    """Only process logs get a default channel: a plain CSV without one names the column and the flag."""
    source = shared_file("journeys/BPI2016_Complaints.csv")
    done = run_journeylens(
        ["ingest", source, "--delimiter", ";", "--encoding", "latin-1", "-w", workspace.root,
         *(f"--map={t}={s}" for t, s in BPI2016_MAPPING.items())]
    )  # fmt: skip
    assert done.returncode == 2
    assert "channel" in done.stderr and "--channel" in done.stderr
    assert workspace.store.count("events") == 0


def test_process_log_keeps_a_channel_it_has(workspace: Workspace, tmp_path: Path) -> None:
    """A pm4py-layout file that does carry a channel column keeps it; gaps in it become 'other'."""
    path = tmp_path / "log.csv"
    path.write_text(
        "case:concept:name,concept:name,time:timestamp,channel\n"
        "c1,register,2024-01-01T10:00:00Z,chat\n"
        "c1,answer,2024-01-01T11:00:00Z,\n",
        encoding="utf-8",
    )
    (report,) = workspace.ingest(paths=[str(path)], mapping=RECEIPT_CSV_MAPPING)
    assert report.loaded == 2 and report.notes == []
    channels = {e["touchpoint"]: e["channel"] for e in table_rows(workspace, "events")}
    assert channels == {"register": "chat", "answer": "other"}
