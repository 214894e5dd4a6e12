"""Validation rules found by review: timestamps that look like numbers, personal data never stored
in clear (not even in quarantine), junk identifiers, reserved names, channels, idempotency keys."""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any

import pytest

import journeylens as jl
from journeylens.errors import ConfigError

UTC = _dt.UTC


def _ingest(
    ws: jl.Workspace, tmp_path: Path, text: str, name: str = "in.csv", **spec: Any
) -> jl.IngestReport:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    (report,) = ws.ingest(paths=[str(path)], **spec)
    return report


def _rows(ws: jl.Workspace, table: str) -> list[dict[str, Any]]:
    return ws.store.execute(ws.store.table(table)).to_pylist()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("20240315", _dt.datetime(2024, 3, 15, tzinfo=UTC)),
        ("20240315103000", _dt.datetime(2024, 3, 15, 10, 30, tzinfo=UTC)),
        ("1710498600", _dt.datetime(2024, 3, 15, 10, 30, tzinfo=UTC)),
        ("1710498600500", _dt.datetime(2024, 3, 15, 10, 30, 0, 500000, tzinfo=UTC)),
        ("1710498600.25", _dt.datetime(2024, 3, 15, 10, 30, 0, 250000, tzinfo=UTC)),
    ],
)
def test_numbers_that_are_timestamps(
    workspace: jl.Workspace, tmp_path: Path, value: str, expected: Any
) -> None:
    report = _ingest(workspace, tmp_path, f"user_id,timestamp,channel,touchpoint\nu1,{value},web,home\n")
    assert report.loaded == 1
    assert _rows(workspace, "events")[0]["timestamp"] == expected


@pytest.mark.parametrize("value", ["1710498600000000", "99999999999999999999", "12345", "2024"])
def test_numbers_outside_the_epoch_range_are_quarantined(
    workspace: jl.Workspace, tmp_path: Path, value: str
) -> None:
    report = _ingest(workspace, tmp_path, f"user_id,timestamp,channel,touchpoint\nu1,{value},web,home\n")
    assert report.loaded == 0 and report.quarantined == {"bad_timestamp": 1}


def test_personal_data_is_hashed_in_quarantine_too(make_workspace: Any, tmp_path: Path) -> None:
    ws = make_workspace(country_code="31")
    identities = (
        "identifier_type,identifier_value,user_id,timestamp\n"
        "E-Mail,carol@example.com,u1,not-a-date\n"
        "Mobile,06-87654321,u2,also-bad\n"
    )
    report = _ingest(ws, tmp_path, identities, "ids.csv", table="identities")
    assert report.quarantined == {"bad_timestamp": 2}
    events = "user_id,timestamp,channel,touchpoint,Email Address\nu1,nope,web,home,dave@example.com\n"
    _ingest(ws, tmp_path, events, "ev.csv")
    dump = json.dumps(_rows(ws, "quarantine")).lower()
    for secret in ("carol", "example.com", "87654321", "dave"):
        assert secret not in dump


def test_junk_phone_values_are_rejected_not_hashed_together(make_workspace: Any, tmp_path: Path) -> None:
    ws = make_workspace(country_code="31")
    report = _ingest(
        ws, tmp_path,
        "identifier_type,identifier_value,user_id\nphone,n/a,u1\nphone,-,u2\nphone,06-12345678,u3\nemail,unknown,u4\n",
        "ids.csv", table="identities",
    )  # fmt: skip
    assert report.loaded == 1
    assert report.quarantined == {"bad_value": 3}
    messages = [r["message"] for r in _rows(ws, "quarantine")]
    assert all("not a valid" in m and "n/a" not in m for m in messages)
    stored = _rows(ws, "identities")
    assert [r["identifier_type"] for r in stored] == ["phone"]


def test_identifier_types_are_canonical(workspace: jl.Workspace, tmp_path: Path) -> None:
    _ingest(
        workspace, tmp_path,
        "identifier_type,identifier_value,user_id\n"
        "E-Mail,a@b.nl,u1\nTelephone,+31612345678,u1\nCRM ID,42,u1\n",
        table="identities",
    )  # fmt: skip
    assert sorted(r["identifier_type"] for r in _rows(workspace, "identities")) == [
        "crm_id",
        "email",
        "phone",
    ]


def test_a_source_column_named_source_is_kept(workspace: jl.Workspace, tmp_path: Path) -> None:
    _ingest(
        workspace,
        tmp_path,
        "user_id,timestamp,channel,touchpoint,source\nu1,2024-01-01,web,home,newsletter\n",
    )
    [row] = _rows(workspace, "events")
    assert json.loads(row["properties"]) == {"source": "newsletter"}
    assert row["source"].endswith("in.csv")


def test_unknown_channel_keeps_its_original_and_aliases_win(workspace: jl.Workspace, tmp_path: Path) -> None:
    workspace.config.channels.aliases["mail"] = "email"  # override a canonical name on purpose
    _ingest(
        workspace,
        tmp_path,
        "user_id,timestamp,channel,touchpoint\nu1,2024-01-01,Carrier Pigeon,x\nu2,2024-01-01,mail,y\n",
    )
    rows = {r["user_id"]: r for r in _rows(workspace, "events")}
    assert rows["u1"]["channel"] == "other"
    assert json.loads(rows["u1"]["properties"]) == {"channel_raw": "Carrier Pigeon"}
    assert rows["u2"]["channel"] == "email" and rows["u2"]["properties"] is None


def test_init_force_keeps_the_salt_and_bad_settings_leave_nothing(tmp_path: Path) -> None:
    ws = jl.Workspace.init(tmp_path / "w")
    salt = ws.config.privacy.salt
    ws.close()
    again = jl.Workspace.init(tmp_path / "w", force=True, timezone="Europe/Paris")
    assert again.config.privacy.salt == salt
    assert again.config.workspace.timezone == "Europe/Paris"
    with pytest.raises(ConfigError, match="timezone"):
        jl.Workspace.init(tmp_path / "new", timezone="Mars/Olympus")
    assert not (tmp_path / "new").exists()
