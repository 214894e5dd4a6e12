"""Official Segment SDKs against a live ``journeylens serve`` on 127.0.0.1: every message arrives
exactly once with the right fields, with gzip on and off.

Each SDK is a *driver*: a function that sends the scenario's calls to a URL with a write key and
returns the messages it sent (as the SDK built them). Adding the Node or browser SDK means adding a
driver (a subprocess running ``@segment/analytics-node`` with ``host``, for instance) to
:data:`DRIVERS`; the checks stay the same.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from collector_server import LiveServer
from collector_world import world
from journeylens.workspace import Workspace

Driver = Callable[[str, str, bool], list[dict[str, Any]]]


def python_sdk(url: str, key: str, gzip: bool) -> list[dict[str, Any]]:
    """segment-analytics-python: single calls in sync mode, then a queued batch flushed."""
    from segment.analytics.client import Client

    tag = "gz" if gzip else "plain"
    sent: list[dict[str, Any]] = []
    one = Client(write_key=key, host=url, gzip=gzip, sync_mode=True, max_retries=2, timeout=10)
    sent.append(one.track(user_id=f"u-{tag}", event="Order Completed", properties={"revenue": 30.0})[1])
    sent.append(
        one.identify(user_id=f"u-{tag}", anonymous_id=f"a-{tag}", traits={"email": f"{tag}@example.com"})[1]
    )
    sent.append(one.page(anonymous_id=f"a-{tag}", name="Pricing", properties={"path": "/pricing"})[1])
    batched = Client(write_key=key, host=url, gzip=gzip, upload_size=10, max_retries=2, timeout=10)
    for i in range(25):
        sent.append(batched.track(anonymous_id=f"a-{tag}", event=f"Step {i}", properties={"i": i})[1])
    batched.flush()
    batched.join()
    return sent


DRIVERS: dict[str, Driver] = {"python": python_sdk}


@pytest.mark.parametrize("sdk", sorted(DRIVERS))
def test_official_sdk_messages_arrive_exactly_once(tmp_path: Path, sdk: str) -> None:
    w = world(tmp_path)
    with LiveServer(w.root) as server:
        sent = DRIVERS[sdk](server.url, w.web, False) + DRIVERS[sdk](server.url, w.web, True)
        server.stop()  # a clean shutdown stores everything acknowledged
    ws = Workspace.open(w.root)
    try:
        store = ws.store
        events = store.execute(store.table("events")).to_pylist()
        identities = store.execute(store.table("identities")).to_pylist()
        seen = store.execute(store.table("collector_seen")).to_pylist()
        quarantined = store.count("quarantine")
    finally:
        ws.close()
    assert quarantined == 0
    ids = [m["messageId"] for m in sent]
    assert sorted(s["message_id"] for s in seen) == sorted(ids)  # each exactly once
    by_id = {e["event_id"]: e for e in events}
    assert len(by_id) == len(events) == sum(m["type"] != "identify" for m in sent)
    for message in sent:
        if message["type"] == "identify":
            continue
        event = by_id[message["messageId"]]
        expected = message.get("event") or message.get("name")
        assert (event["touchpoint"], event["channel"]) == (expected, "web")
        assert (event["user_id"], event["anonymous_id"]) == (
            message.get("userId"),
            message.get("anonymousId"),
        )
        properties = json.loads(event["properties"])
        assert properties["context"]["library"]["name"] == "analytics-python"
        for name, value in message.get("properties", {}).items():
            assert properties[name] == value
    revenue = [e["value"] for e in events if e["touchpoint"] == "Order Completed"]
    assert revenue == [30.0, 30.0]
    emails = [i for i in identities if i["identifier_type"] == "email"]
    assert len(emails) == 2 and all("@" not in i["identifier_value"] for i in emails)
