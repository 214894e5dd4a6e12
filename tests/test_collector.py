"""The Segment-compatible collector in process: mapping to the canonical tables, validation and
Segment's limits, CORS, exactly-once storage across retries and replays, and the storage-fault
answer (503 + Retry-After, then recovery)."""

from __future__ import annotations

import errno
import gzip
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from collector_world import World, app, basic, stored, world
from journeylens.server import wal as wal_module
from journeylens.server.collector_messages import Envelope, event_time, records
from journeylens.server.keys import KEYS_FILE, KeyStore
from journeylens.server.wal import WriteAheadLog, read_segment


@pytest.fixture()
def w(tmp_path: Path) -> Iterator[World]:
    made = world(tmp_path)
    yield made
    made.close()


def test_mapping_of_every_call_type() -> None:
    env = Envelope("web", None, "2026-03-01T10:00:00+00:00")
    out = records(
        [
            {"type": "track", "event": "Order Completed", "userId": "u1", "messageId": "m1",
             "properties": {"revenue": 12.5}, "context": {"ip": "1.2.3.4", "channel": "app"}, "extra": 1},
            {"type": "page", "anonymousId": "a1", "properties": {"path": "/pricing"}},
            {"type": "screen", "name": "Home", "anonymousId": "a1"},
            {"type": "identify", "userId": "u1", "anonymousId": "a1",
             "traits": {"email": "Ann@Example.com", "phone": "+44 20 7946 0000", "plan": "pro"}},
            {"type": "alias", "previousId": "old-1", "userId": "u1"},
            {"type": "group", "groupId": "acme", "userId": "u1", "traits": {"tier": "gold"}},
        ],
        env,
    )  # fmt: skip
    track, page, screen = out["events"]
    assert (track["touchpoint"], track["channel"], track["value"], track["event_id"]) == (
        "Order Completed", "app", 12.5, "m1",
    )  # fmt: skip
    props = json.loads(str(track["properties"]))
    assert props["context"] == {"ip": "1.2.3.4", "channel": "app"} and props["extra"] == 1
    assert props["type"] == "track" and props["revenue"] == 12.5
    assert (page["touchpoint"], page["channel"]) == ("/pricing", "web")
    assert (screen["touchpoint"], screen["channel"]) == ("Home", "app")
    links = {(r["identifier_type"], r["identifier_value"]) for r in out["identities"]}
    assert links == {
        ("anonymous_id", "a1"), ("email", "Ann@Example.com"),
        ("phone", "+44 20 7946 0000"), ("alias", "old-1"),
    }  # fmt: skip
    person, group = out["customers"]
    assert json.loads(str(person["traits"])) == {"plan": "pro"} and person["email"] == "Ann@Example.com"
    assert json.loads(str(group["traits"])) == {"group_id": "acme", "group_traits": {"tier": "gold"}}


def test_clock_skew_is_removed() -> None:
    # the device clock is 1 hour fast: it stamped 11:00 and sent at 11:00:05, we got it at 10:00:06
    message = {"originalTimestamp": "2026-03-01T11:00:00Z", "sentAt": "2026-03-01T11:00:05Z"}
    assert event_time(message, "2026-03-01T10:00:06+00:00") == "2026-03-01T10:00:01+00:00"
    assert event_time({"timestamp": "yesterday"}, "2026-03-01T10:00:06+00:00") == "yesterday"
    assert event_time({}, "2026-03-01T10:00:06+00:00") == "2026-03-01T10:00:06+00:00"


def test_calls_are_stored_with_hashed_identifiers_and_typed_quarantine(w: World) -> None:
    application = app(w)
    client = TestClient(application)
    ok = client.post(
        "/v1/identify", headers=basic(w.web),
        json={"userId": "u1", "anonymousId": "a1", "traits": {"email": "ann@example.com", "plan": "pro"}},
    )  # fmt: skip
    assert ok.status_code == 200 and ok.json() == {"success": True}
    # analytics.js: a short path, text/plain, the key in the body only
    body = {"writeKey": w.web, "event": "Signed Up", "anonymousId": "a1", "messageId": "node-next-1-x"}
    assert (
        client.post("/v1/t", content=json.dumps(body), headers={"Content-Type": "text/plain"}).status_code
        == 200
    )
    bad = [
        {"type": "track", "event": "x", "userId": "u2", "timestamp": "not a time", "messageId": "b1"},
        {"type": "track", "event": "x", "timestamp": "2026-01-01T00:00:00Z", "messageId": "b2"},
    ]
    assert client.post("/v1/batch", headers=basic(w.bare), json={"batch": bad}).status_code == 200
    assert (
        client.post("/v1/track", headers=basic(w.bare), json={"event": "y", "userId": "u3"}).status_code
        == 200
    )
    events = stored(application, "events")
    assert [(e["event_id"], e["channel"], e["source"]) for e in events if e["touchpoint"] == "Signed Up"] == [
        ("node-next-1-x", "web", "collector:web")
    ]
    assert "writeKey" not in json.dumps([e["properties"] for e in events])
    identities = stored(application, "identities")
    email = next(i for i in identities if i["identifier_type"] == "email")
    assert email["identifier_value"] != "ann@example.com" and len(email["identifier_value"]) == 64
    traits = json.loads(stored(application, "customers")[0]["traits"])
    assert traits["plan"] == "pro" and traits["email"] == email["identifier_value"]
    reasons = {(q["reason"], q["field"]) for q in stored(application, "quarantine")}
    # a time that does not parse; no user/anonymous id; a key without channel and none in the message
    assert ("bad_timestamp", "timestamp") in reasons
    assert any(r == "missing_field" for r, _ in reasons)
    assert all(q["source"].startswith("collector:") for q in stored(application, "quarantine"))


def test_retries_and_replayed_log_store_once(w: World) -> None:
    application = app(w)
    client = TestClient(application)
    batch = {
        "batch": [{"type": "track", "event": "e", "userId": "u", "messageId": f"m{i}"} for i in range(5)]
    }
    for _ in range(3):  # a client retrying after lost answers
        assert client.post("/v1/batch", headers=basic(w.web), json=batch).status_code == 200
    # a crash after the store committed but before the log was deleted: the segments come back
    folder = w.root / "collector" / "wal"
    kept = w.root / "kept"
    shutil.copytree(folder, kept)
    assert len(stored(application, "events")) == 5
    shutil.rmtree(folder)
    shutil.copytree(kept, folder)
    assert len(stored(application, "events")) == 5
    seen = stored(application, "collector_seen")
    assert sorted(s["message_id"] for s in seen) == [f"m{i}" for i in range(5)]
    assert not list(folder.glob("*.wal"))


@pytest.mark.parametrize(
    ("path", "body", "reason"),
    [
        ("/v1/track", {"event": False, "userId": "u"}, "invalid_message"),
        ("/v1/track", {"event": "e", "userId": 7}, "invalid_message"),
        ("/v1/track", {"event": "e", "userId": "u", "messageId": "x" * 100}, "invalid_message"),
        (
            "/v1/track",
            {"event": "e", "userId": "u", "properties": {"p": "x" * (33 << 10)}},
            "message_too_large",
        ),
        ("/v1/batch", {"batch": [{"event": "e", "userId": "u"}]}, "invalid_message"),
        ("/v1/batch", {"batch": [{"type": "track", "userId": "u"}] * 2501}, "batch_too_many"),
        ("/v1/batch", {"batch": [{"type": "track", "p": "x" * (30 << 10)}] * 20}, "batch_too_large"),
        ("/v1/batch", {"batch": "no"}, "invalid_message"),
        ("/v1/track", [1, 2], "bad_json"),
    ],
)
def test_bad_payloads_get_400_with_a_reason(w: World, path: str, body: Any, reason: str) -> None:
    client = TestClient(app(w))
    answer = client.post(path, headers=basic(w.web), content=orjson.dumps(body))
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["reason"] == reason and answer.json()["detail"]


def test_message_ids_and_gzip(w: World) -> None:
    client = TestClient(app(w))
    for mid in ("x" * 99, "node-next-1733480000000-8e4f6c1a-1111-4a4a-9b9b-123456789abc", "1"):
        body = {"event": "e", "userId": "u", "messageId": mid}
        assert client.post("/v1/track", headers=basic(w.web), json=body).status_code == 200
    packed = gzip.compress(orjson.dumps({"event": "e", "userId": "u"}))
    zipped = {**basic(w.web), "Content-Encoding": "gzip"}
    assert client.post("/v1/track", headers=zipped, content=packed).status_code == 200
    truncated = client.post("/v1/track", headers=zipped, content=packed[:-6])
    assert truncated.status_code == 400 and truncated.json()["reason"] == "bad_gzip"
    bomb = gzip.compress(b" " * (2 << 20))
    assert client.post("/v1/track", headers=zipped, content=bomb).json()["reason"] == "batch_too_large"


def test_cors_is_closed_by_default_and_open_for_configured_origins(w: World) -> None:
    preflight = {"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"}
    closed = TestClient(app(w)).options("/v1/t", headers=preflight)
    assert closed.status_code >= 400 and "access-control-allow-origin" not in closed.headers
    client = TestClient(app(w, cors_origins=("https://shop.example",)))
    opened = client.options("/v1/t", headers=preflight)
    assert opened.status_code == 200
    assert opened.headers["access-control-allow-origin"] == "https://shop.example"
    other = client.options("/v1/t", headers={**preflight, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_storage_fault_answers_503_then_recovers(w: World, monkeypatch: pytest.MonkeyPatch) -> None:
    application = app(w)
    client = TestClient(application)

    def full(fd: int, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(wal_module, "write_all", full)
    for i in range(3):
        body = {"event": "e", "userId": "u", "messageId": f"lost{i}"}
        refused = client.post("/v1/track", headers=basic(w.web), json=body)
        assert refused.status_code == 503 and int(refused.headers["Retry-After"]) >= 1
    monkeypatch.setattr(wal_module, "sync", lambda fd: (_ for _ in ()).throw(OSError(errno.EIO, "I/O error")))
    monkeypatch.setattr(wal_module, "write_all", WriteAheadLog.__init__.__globals__["write_all"])
    assert (
        client.post("/v1/track", headers=basic(w.web), json={"event": "e", "userId": "u"}).status_code == 503
    )
    monkeypatch.undo()
    body = {"event": "e", "userId": "u", "messageId": "lost0"}  # the sender's retry
    assert client.post("/v1/track", headers=basic(w.web), json=body).status_code == 200
    events = stored(application, "events")
    # the write whose sync failed may or may not have reached the disk; no 200 was given for it
    assert [e["event_id"] for e in events if e["event_id"] == "lost0"] == ["lost0"]
    assert not {"lost1", "lost2"} & {e["event_id"] for e in events}


def test_log_reading_stops_at_a_torn_frame(tmp_path: Path) -> None:
    log = WriteAheadLog(tmp_path)
    log.append_sync(b"one")
    log.append_sync(b"two")
    (segment,) = log.seal()
    log.close()
    segment.write_bytes(segment.read_bytes()[:-1])
    assert list(read_segment(segment)) == [b"one"]


def test_a_cancelled_request_does_not_stop_the_log(tmp_path: Path) -> None:
    # a client that goes away cancels its request's future while the group is being written
    log = WriteAheadLog(tmp_path, window=0.05)
    log.submit(b"gone").cancel()
    log.append_sync(b"next")
    log.append_sync(b"after")
    assert [p for segment in log.seal() for p in read_segment(segment)] == [b"gone", b"next", b"after"]
    log.close()


def test_the_collector_works_again_after_a_lifespan_ended(w: World) -> None:
    application = app(w)
    for round_ in range(2):  # each `with` runs startup and shutdown (which drains and stops)
        with TestClient(application) as client:
            body = {"event": "e", "userId": "u", "messageId": f"r{round_}"}
            assert client.post("/v1/track", headers=basic(w.web), json=body).status_code == 200
    assert sorted(e["event_id"] for e in stored(application, "events")) == ["r0", "r1"]


def test_a_full_queue_answers_429_with_retry_after(w: World) -> None:
    application = app(w)
    client = TestClient(application)
    application.state.collector.wal.max_pending = 0  # every record would wait: the queue is full
    busy = client.post("/v1/track", headers=basic(w.web), json={"event": "e", "userId": "u"})
    assert busy.status_code == 429 and int(busy.headers["Retry-After"]) >= 1
    application.state.collector.wal.max_pending = 100
    assert (
        client.post("/v1/track", headers=basic(w.web), json={"event": "e", "userId": "u"}).status_code == 200
    )


def test_forgetting_a_person_reaches_what_the_collector_acknowledged(w: World) -> None:
    """DELETE /v1/users/{id} loads the write-ahead log first: an event acknowledged a moment
    before is deleted with the rest, the log holds nothing of it, and a later message naming the
    person is dropped by the suppression list."""
    application = app(w)
    client = TestClient(application)
    admin = KeyStore(w.root / KEYS_FILE).create("admin").secret
    for user, message in (("gone", "m1"), ("kept", "m2")):
        sent = client.post(
            "/v1/track", headers=basic(w.web), json={"event": "Viewed", "userId": user, "messageId": message}
        )
        assert sent.status_code == 200
    answer = client.delete("/v1/users/gone", headers=basic(admin))
    assert answer.status_code == 200, answer.text
    assert answer.json()["found"] is True  # the log was loaded before the person was looked up
    assert not list((w.root / "collector" / "wal").glob("*")) or all(
        b"gone" not in p.read_bytes() for p in (w.root / "collector" / "wal").glob("*") if p.is_file()
    )
    later = client.post(
        "/v1/track", headers=basic(w.web), json={"event": "Viewed", "userId": "gone", "messageId": "m3"}
    )
    assert later.status_code == 200
    users = sorted(e["user_id"] for e in stored(application, "events"))
    assert users == ["kept"]


def test_the_loader_waits_longer_when_its_cycles_take_long() -> None:
    """Under a high rate the loader takes larger groups less often (its cycle has a fixed cost and
    shares the interpreter with the request handlers), and the store is never staler than MAX_PAUSE."""
    from journeylens.server.loader import MAX_PAUSE, Loader

    loader = Loader.__new__(Loader)
    loader.interval = 0.25
    assert loader._pause(0.01) == 0.25
    assert loader._pause(0.8) == 1.6
    assert loader._pause(60.0) == MAX_PAUSE


def test_a_segment_opened_while_sealing_is_not_handed_to_the_loader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer may open the next segment between sealing and listing the folder; that segment
    is still being appended to, and the loader deletes what it stored, so handing it over lost
    every record appended after (42,568 acknowledged messages in a wrk run before the fix)."""
    log = WriteAheadLog(tmp_path)
    log.append_sync(b"before")
    listing = Path.glob

    def late_append_then_list(self: Path, pattern: str) -> Any:
        if self == tmp_path:
            log.append_sync(b"late")  # opens the next segment, as a request arriving now would
        return listing(self, pattern)

    monkeypatch.setattr(Path, "glob", late_append_then_list)
    sealed = log.seal()
    monkeypatch.setattr(Path, "glob", listing)
    assert [list(read_segment(p)) for p in sealed] == [[b"before"]]
    for path in sealed:
        path.unlink()  # what the loader does once stored
    log.append_sync(b"after")
    assert [r for p in log.seal() for r in read_segment(p)] == [b"late", b"after"]
    log.close()


def test_sealing_while_appending_loses_nothing(tmp_path: Path) -> None:
    """Writers append while a loader seals, reads and deletes, as fast as it can: every record
    acknowledged is read exactly once."""
    import threading

    log = WriteAheadLog(tmp_path, window=0.0005)
    done = threading.Event()
    acknowledged: list[bytes] = []

    def writer(n: int) -> None:
        for i in range(400):
            payload = f"{n}-{i}".encode()
            log.append_sync(payload)
            acknowledged.append(payload)

    read: list[bytes] = []

    def loader() -> None:
        while not done.is_set():
            for path in log.seal():
                read.extend(read_segment(path))
                path.unlink()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    drainer = threading.Thread(target=loader)
    drainer.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    done.set()
    drainer.join(timeout=60)
    for path in log.seal():
        read.extend(read_segment(path))
    log.close()
    assert len(acknowledged) == 1_600
    assert sorted(read) == sorted(acknowledged)
