"""Forgetting a person (docs/privacy.md): after ``forget``, no table of the store, enumerated from
the engine, holds any trace of them (ids, the stored hashes of their e-mail and phone, their
customer id, the e-mail in a comment or in a quarantined raw record); everyone else's rows are
unchanged; files naming them are dropped and counted when ingested again; the HTTP route needs an
admin token."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import ibis
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from conftest import built_world, customer, table_rows, write_csv
from journeylens import Workspace
from journeylens.cli.app import app
from journeylens.ingest.pii import hash_identifier, normalize_email, normalize_phone
from journeylens.model import Staleness, model_state
from journeylens.privacy import forget
from journeylens.server.app import create_app
from journeylens.server.keys import KEYS_FILE, KeyStore

ANN = "ann01"
EMAIL, PHONE = "Ann.Lee@Example.com", "+31 6 1234 5678"
CLEAR = (ANN, "dev-ann-1", "dev-ann-2", "CASE-ANN-7", "ann.lee@example.com", "31612345678")
OTHER = "u00000003"
"""A customer of the synthetic world who shares the kiosk with Ann."""


def _person_files(folder: Path) -> dict[str, Path]:
    """Ann on web, app and the phone, linked by a login, an e-mail on a second device and a case;
    her comment and an anonymous review give her e-mail; two of her records are bad (quarantined)."""
    folder.mkdir()
    events = [
        {"anonymous_id": "dev-ann-1", "timestamp": "2026-01-10T08:00:00Z", "channel": "web",
         "touchpoint": "home"},
        *customer(ANN, [("web", "login", {"anonymous_id": "dev-ann-1"}), ("web", "billing_faq"),
                        ("call_center", "billing_call", {"case_id": "CASE-ANN-7", "agent_id": "ag0001"})]),
        {"case_id": "CASE-ANN-7", "timestamp": "2024-01-15T10:00:00Z", "channel": "call_center",
         "touchpoint": "callback"},
        {"anonymous_id": "dev-ann-2", "timestamp": "2026-01-11T08:00:00Z", "channel": "app",
         "touchpoint": "home"},
        {"user_id": ANN, "anonymous_id": "kiosk-9", "timestamp": "2026-01-12T08:00:00Z", "channel": "store",
         "touchpoint": "kiosk"},
        {"user_id": OTHER, "anonymous_id": "kiosk-9", "timestamp": "2026-01-12T09:00:00Z", "channel": "store",
         "touchpoint": "kiosk"},
        {"user_id": ANN, "timestamp": "yesterday-ish", "channel": "web", "touchpoint": "home"},
    ]  # fmt: skip
    identities = [
        {"identifier_type": "email", "identifier_value": EMAIL, "user_id": ANN},
        {"identifier_type": "email", "identifier_value": " ann.lee@EXAMPLE.com", "anonymous_id": "dev-ann-2"},
        {"identifier_type": "phone", "identifier_value": PHONE, "user_id": ANN},
        {"identifier_type": "", "identifier_value": EMAIL, "user_id": ""},  # quarantined, raw has the e-mail
    ]
    feedback = [
        {"user_id": ANN, "timestamp": "2024-01-15T11:00:00Z", "metric": "nps", "score": 2,
         "comment": f"Nobody called back. Mail me at {EMAIL}!", "case_id": "CASE-ANN-7"},
        {"timestamp": "2024-01-16T11:00:00Z", "metric": "text",
         "comment": f"I am ann ({EMAIL.upper()}) and I am angry"},
        {"timestamp": "2024-01-16T12:00:00Z", "metric": "text", "comment": "Great store, friendly staff."},
    ]  # fmt: skip
    others = [
        {
            "user_id": ANN,
            "experiment": "checkout_redesign",
            "variant": "treatment",
            "timestamp": "2024-01-15T09:00:00Z",
        }
    ]
    return {
        "events": write_csv(folder, "events.csv", events),
        "identities": write_csv(folder, "identities.csv", identities),
        "feedback": write_csv(folder, "feedback.csv", feedback),
        "assignments": write_csv(folder, "assignments.csv", others),
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Workspace, dict[str, Path], Path]]:
    root = tmp_path_factory.mktemp("forget")
    _, ws = built_world(
        root, ["events", "identities", "customers", "feedback", "decisions"], customers=20, seed=19
    )
    files = _person_files(root / "ann")
    for table, path in files.items():
        ws.ingest(paths=[str(path)], table=table)
    ws.build()
    yield ws, files, root
    ws.close()


def _needles(ws: Workspace) -> set[str]:
    """Everything that would identify Ann: clear ids, stored hashes, her customer id."""
    salt, cc = ws.config.privacy.salt, ws.config.privacy.default_country_code
    hashes = ibis.memtable({"e": [EMAIL], "p": [PHONE]})
    stored = ws.store.execute(
        hashes.select(
            e=hash_identifier(normalize_email(hashes.e), salt),
            p=hash_identifier(normalize_phone(hashes.p, cc), salt),
        )
    ).to_pylist()[0]
    cmap = ws.store.backend.table("customer_map")
    theirs = ws.store.execute(cmap.filter(cmap.identifier_value == ANN).customer_id).to_pylist()
    return {*(c.lower() for c in CLEAR), stored["e"], stored["p"], *theirs}


def _traces(ws: Workspace, needles: set[str]) -> dict[str, list[Any]]:
    """Cells of every table the engine lists that contain a needle (small tables: read whole)."""
    found: dict[str, list[Any]] = {}
    for name in ws.store.backend.list_tables():
        for row in ws.store.execute(ws.store.backend.table(name)).to_pylist():
            text = json.dumps(row, default=str).lower()
            hits = [n for n in needles if n in text]
            if hits:
                found.setdefault(name, []).append(hits)
    return found


def _others(ws: Workspace) -> dict[str, list[Any]]:
    """Every row of the raw tables that is not Ann's, in a stable order."""
    out = {}
    for name in ("events", "identities", "customers", "decisions", "assignments"):
        rows = [r for r in table_rows(ws, name) if r.get("user_id") not in (ANN, None)]
        out[name] = sorted(json.dumps(r, sort_keys=True, default=str) for r in rows)
    return out


def test_forget_leaves_no_trace_in_any_table_and_keeps_everyone_else(
    world: tuple[Workspace, dict[str, Path], Path],
) -> None:
    ws, files, _ = world
    needles = _needles(ws)
    before = _traces(ws, needles)
    assert {"events", "identities", "feedback", "quarantine", "customer_map", "journeys"} <= set(before)
    others = _others(ws)
    kiosk_other = [
        r for r in table_rows(ws, "events") if r["user_id"] == OTHER and r["anonymous_id"] == "kiosk-9"
    ]
    assert kiosk_other

    report = forget(ws, ANN, requested_by="cli:test")

    assert report.found and report.identifiers["email"] == 1 and report.identifiers["anonymous_id"] == 2
    assert report.removed["quarantine"] == 2 and report.removed["feedback"] == 2
    assert {"events", "journeys", "journey_events", "customer_map", "assignments"} <= set(report.removed)
    assert _others(ws) == others  # the kiosk they shared is not Ann's: her co-user keeps it
    ws.close()
    reopened = Workspace.open(ws.root)  # a fresh connection: only what is stored
    try:
        assert _traces(reopened, needles) == {}
        audit = table_rows(reopened, "privacy_audit")
        assert [a["request_id"] for a in audit] == [report.request_id]
        assert audit[0]["rows_removed"] == report.rows_removed and audit[0]["requested_by"] == "cli:test"
        assert json.loads(audit[0]["removed_by_table"]) == report.removed
        # stale after a forget: the next analysis rebuilds aggregates and learned models without her
        assert Staleness.FORGOTTEN in model_state(reopened.store, reopened.config).reasons
        # Files naming her again: every record of hers is dropped and counted, nothing else.
        reports = {r.table: r for p in files.values() for r in reopened.ingest(paths=[str(p)], table=p.stem)}
        assert reports["events"].suppressed == 8 and reports["events"].loaded == 0
        assert reports["events"].quarantined_total == 0 and reports["events"].duplicates == 1
        assert reports["feedback"].suppressed == 2 and reports["feedback"].duplicates == 1
        assert reports["identities"].suppressed == 4 and reports["identities"].quarantined_total == 0
        assert reports["assignments"].suppressed == 1
        ingests = table_rows(reopened, "ingests")[-4:]
        assert sum(r["suppressed"] for r in ingests) == 15
        again = forget(reopened, ANN, requested_by="cli:test")
        assert not again.found and again.suppressed == 0  # idempotent
        assert _traces(reopened, needles) == {}
    finally:
        reopened.close()


def _basic(secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{secret}:".encode()).decode()}


def test_delete_route_needs_admin_and_answers_after_commit(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws")
    events = write_csv(
        tmp_path, "events.csv", [*customer("zed9", [("web", "home")]), *customer("amy", [("web", "x")])]
    )
    ws.ingest(paths=[str(events)])
    ws.close()
    keys = KeyStore(ws.root / KEYS_FILE)
    read, admin = keys.create("read"), keys.create("admin")
    with TestClient(create_app(ws.root)) as client:
        refused = client.delete("/v1/users/zed9", headers=_basic(read.secret))
        assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"
        done = client.delete("/v1/users/zed9", headers=_basic(admin.secret))
        assert done.status_code == 200, done.text
        body = done.json()
        assert body["found"] and body["removed"]["events"] == 1
        assert body["requested_by"] == f"key:{admin.record.id}"
        unknown = client.delete("/v1/users/nobody", headers=_basic(admin.secret))
        assert (
            unknown.status_code == 200 and not unknown.json()["found"] and unknown.json()["suppressed"] == 1
        )
    reopened = Workspace.open(ws.root)
    try:
        assert [r["user_id"] for r in table_rows(reopened, "events")] == ["amy"]
    finally:
        reopened.close()


def test_cli_asks_first_and_forgets_an_unknown_person_idempotently(
    tmp_path: Path, run_cli: Callable[[Sequence[str]], Result]
) -> None:
    ws = Workspace.init(tmp_path / "ws")
    ws.close()
    refused = CliRunner().invoke(app, ["forget", "nobody", "-w", str(ws.root)], input="n\n")
    assert refused.exit_code == 1 and "for good?" in refused.output
    done = run_cli(["forget", "nobody", "--yes", "-w", ws.root, "--format", "json"])
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert not report["found"] and report["suppressed"] == 1 and report["requested_by"].startswith("cli:")
    reopened = Workspace.open(ws.root)
    try:  # the refused request left no trace; the done one is audited
        assert [a["request_id"] for a in table_rows(reopened, "privacy_audit")] == [report["request_id"]]
        assert reopened.store.count("suppressions") == 1
    finally:
        reopened.close()
