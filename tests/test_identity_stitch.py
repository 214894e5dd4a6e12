"""Identity stitching on small stories: late login, links through hashed e-mail, shared devices."""

from __future__ import annotations

from pathlib import Path

import journeylens as jl
from journeylens.identity.stitch import IdentityRules, stitch

EVENTS = """\
user_id,anonymous_id,timestamp,channel,touchpoint
,dev-ann,2024-01-01T09:00:00Z,web,home
,dev-ann,2024-01-01T09:05:00Z,web,product_page
ann,dev-ann,2024-01-03T10:00:00Z,web,login
bob,,2024-01-02T10:00:00Z,call_center,billing_call
,dev-bob-phone,2024-01-02T08:00:00Z,app,home
carl,tablet,2024-01-04T10:00:00Z,app,login
dora,tablet,2024-01-05T10:00:00Z,app,login
,kiosk,2024-01-06T10:00:00Z,store,kiosk_search
"""
IDENTITIES = """\
identifier_type,identifier_value,user_id,anonymous_id
email,Bob@Example.com,bob,
email, bob@example.com ,,dev-bob-phone
phone,+31 20 000 0000,carl,
phone,+31200000000,dora,
"""


def _customers(
    tmp_path: Path,
) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], bool], jl.Workspace]:
    ws = jl.Workspace.init(tmp_path / "ws")
    (tmp_path / "events.csv").write_text(EVENTS)
    (tmp_path / "identities.csv").write_text(IDENTITIES)
    ws.ingest(paths=[str(tmp_path / "events.csv")])
    ws.ingest(paths=[str(tmp_path / "identities.csv")], table="identities")
    result = stitch(ws.store, IdentityRules(max_customers_per_identifier=1))
    rows = ws.store.execute(result.customer_map).to_pylist()
    ids = {(r["identifier_type"], r["identifier_value"]): r["customer_id"] for r in rows}
    shared = {(r["identifier_type"], r["identifier_value"]): r["shared"] for r in rows}
    return ids, shared, ws


def test_late_login_and_hashed_email_join_the_customer(tmp_path: Path) -> None:
    ids, _, ws = _customers(tmp_path)
    # Anonymous browsing before the login belongs to Ann.
    assert ids[("anonymous_id", "dev-ann")] == ids[("user_id", "ann")]
    # Bob's phone app is linked through the same e-mail, written differently, stored hashed.
    assert ids[("anonymous_id", "dev-bob-phone")] == ids[("user_id", "bob")]
    emails = [k for k in ids if k[0] == "email"]
    assert len(emails) == 1 and "@" not in emails[0][1]
    assert ids[emails[0]] == ids[("user_id", "bob")]
    assert len({ids[("user_id", u)] for u in ("ann", "bob", "carl", "dora")}) == 4
    ws.close()


def test_shared_tablet_and_default_number_do_not_merge_customers(tmp_path: Path) -> None:
    ids, shared, ws = _customers(tmp_path)
    assert ids[("user_id", "carl")] != ids[("user_id", "dora")]
    assert shared[("anonymous_id", "tablet")]
    phones = [k for k in ids if k[0] == "phone"]
    assert len(phones) == 1 and shared[phones[0]]  # one number after normalising, linked to two
    assert not shared[("anonymous_id", "kiosk")]  # never seen with a login: not evidence of sharing
    ws.close()


def test_customer_ids_are_stable_across_runs(tmp_path: Path) -> None:
    first, _, ws = _customers(tmp_path)
    again = {
        (r["identifier_type"], r["identifier_value"]): r["customer_id"]
        for r in ws.store.execute(stitch(ws.store).customer_map).to_pylist()
    }
    assert again == first
    assert all(v.startswith("c_") and len(v) == 18 for v in first.values())
    ws.close()


def test_build_customer_and_export_from_the_cli(tmp_path: Path) -> None:
    import csv
    import json
    import subprocess
    import sys

    _, _, ws = _customers(tmp_path)
    root = str(ws.root)
    ws.close()

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "journeylens", *args, "-w", root],
            capture_output=True,
            text=True,
            check=False,
        )

    built = cli("build", "--format", "json")
    assert built.returncode == 0, built.stderr
    summary = json.loads(built.stdout)
    # 4 people, the kiosk (never seen with a login) and the 2 shared identifiers kept on their own.
    assert summary["customers"] == 7 and summary["shared_identifiers"] == 2
    profile = json.loads(cli("customer", "ann", "--format", "json").stdout)
    assert {i["identifier_type"] for i in profile["identifiers"]} == {"user_id", "anonymous_id"}
    assert [e["touchpoint"] for e in profile["timeline"]] == ["home", "product_page", "login"]
    assert profile["events"] == 3
    # Browsing then a login two days later: a purchase journey and a journey of its own.
    assert [(j["journey_type"], j["touchpoints"]) for j in profile["journeys"]] == [
        ("purchase", 2),
        ("other", 1),
    ]
    missing = cli("customer", "annn")
    assert missing.returncode == 2 and "No customer 'annn'" in missing.stderr and "ann" in missing.stderr
    out = tmp_path / "cm.csv"
    exported = cli("export", "customer-map", "--out", str(out), "--format", "csv")
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(out.open()))
    assert {r["identifier_type"] for r in rows} >= {"user_id", "anonymous_id", "email", "phone"}


def test_contradicting_identity_rules_are_refused(tmp_path: Path) -> None:
    import pytest

    ws = jl.Workspace.init(tmp_path / "ws")
    path = ws.root / "journeylens.toml"
    path.write_text(
        path.read_text().replace("never_link = []", 'never_link = ["phone"]\nlink_types = ["phone", "email"]')
    )
    with pytest.raises(jl.ConfigError, match="both link_types and never_link"):
        jl.Workspace.open(ws.root)


# --- identifier limits, settled by priority ------------------------------------------------------

LIMIT_EVENTS = """\
user_id,anonymous_id,timestamp,channel,touchpoint
u1,d1,2024-01-01T09:00:00Z,app,login
u2,d1,2024-01-02T09:00:00Z,app,login
u1,d-own,2024-01-03T09:00:00Z,web,login
u3,a3,2024-01-04T09:00:00Z,app,login
"""
LIMIT_IDENTITIES = """\
identifier_type,identifier_value,user_id,anonymous_id
email,one@example.com,u1,
email,two@example.com,u1,
email,three@example.com,u1,
crm_id,C9,u4,
crm_id,C9,,a3
"""


def _limited(tmp_path: Path, **rules: object) -> tuple[dict[tuple[str, str], str], list[dict[str, object]]]:
    ws = jl.Workspace.init(tmp_path / "ws")
    (tmp_path / "events.csv").write_text(LIMIT_EVENTS)
    (tmp_path / "identities.csv").write_text(LIMIT_IDENTITIES)
    ws.ingest(paths=[str(tmp_path / "events.csv")])
    ws.ingest(paths=[str(tmp_path / "identities.csv")], table="identities")
    # The guard is relaxed so that the limits, not the guard, decide.
    result = stitch(ws.store, IdentityRules(max_customers_per_identifier=9, **rules))  # type: ignore[arg-type]
    ids = {
        (r["identifier_type"], r["identifier_value"]): r["customer_id"]
        for r in ws.store.execute(result.customer_map).to_pylist()
    }
    report = ws.store.execute(result.shared).to_pylist()
    ws.close()
    return ids, report


def test_without_limits_a_device_seen_with_two_logins_merges_them(tmp_path: Path) -> None:
    ids, report = _limited(tmp_path)
    assert ids[("user_id", "u1")] == ids[("user_id", "u2")]
    assert report == []


def test_one_login_per_customer_leaves_the_bridging_device_unlinked(tmp_path: Path) -> None:
    ids, report = _limited(tmp_path, max_per_customer={"user_id": 1})
    u1, u2 = ids[("user_id", "u1")], ids[("user_id", "u2")]
    assert u1 != u2
    # The shared device stays on its own; u1's own device is still linked (no over-splitting).
    assert ids[("anonymous_id", "d1")] not in (u1, u2)
    assert ids[("anonymous_id", "d-own")] == u1
    # a3 is tied to u4 by a CRM id (trusted more than a device), so u3's login on it is not used.
    assert {(r["identifier_type"], r["identifier_value"], r["reason"]) for r in report} == {
        ("anonymous_id", "d1", "limit:anonymous_id"),
        ("anonymous_id", "a3", "limit:anonymous_id"),
    }
    assert ids[("anonymous_id", "a3")] == ids[("user_id", "u4")] != ids[("user_id", "u3")]


def test_at_most_two_emails_keep_the_smallest_values(tmp_path: Path) -> None:
    ids, report = _limited(tmp_path, max_per_customer={"email": 2})
    u1 = ids[("user_id", "u1")]
    emails = sorted(value for kind, value in ids if kind == "email")
    assert [ids[("email", e)] == u1 for e in emails] == [True, True, False]
    assert [r["reason"] for r in report] == ["limit:email"]


def test_priority_decides_which_link_wins(tmp_path: Path) -> None:
    # C9 (a CRM id) names u4 and also device a3, on which u3 logged in. One login per customer:
    # with CRM ids trusted above devices, a3 stays with u4; trusted below, a3 stays with u3.
    crm_first, _ = _limited(tmp_path / "a", max_per_customer={"user_id": 1})
    assert crm_first[("anonymous_id", "a3")] == crm_first[("user_id", "u4")]
    assert crm_first[("user_id", "u3")] != crm_first[("user_id", "u4")]
    devices_first, report = _limited(
        tmp_path / "b", max_per_customer={"user_id": 1}, priority=["user_id", "anonymous_id", "crm_id"]
    )
    assert devices_first[("anonymous_id", "a3")] == devices_first[("user_id", "u3")]
    assert devices_first[("crm_id", "C9")] not in (
        devices_first[("user_id", "u3")],
        devices_first[("user_id", "u4")],
    )
    assert ("crm_id", "C9", "limit:crm_id") in {
        (r["identifier_type"], r["identifier_value"], r["reason"]) for r in report
    }


def test_limits_that_contradict_the_rules_are_refused() -> None:
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="in never_link"):
        IdentityRules(never_link=["phone"], max_per_customer={"phone": 1})
    with pytest.raises(ValidationError, match="at least 1"):
        IdentityRules(max_per_customer={"email": 0})
    with pytest.raises(ValidationError, match="more than once"):
        IdentityRules(priority=["email", "crm_id", "email"])
