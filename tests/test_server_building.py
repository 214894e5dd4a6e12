"""Requests while the store is being written: a build started by the first request after an
ingest is held open (a slow build), and concurrent API and dashboard requests are answered within
a bounded time from the previous consistent data version, labelled as such, or refused with a 503
and Retry-After when that version has no answer; never a frozen request, never a 500."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from conftest import built_world, numbered_events, write_csv
from journeylens import model
from journeylens.server.app import ServerSettings, create_app
from journeylens.server.keys import KEYS_FILE, KeyStore
from journeylens.server.problems import PROBLEM_JSON

BOUND = 15.0
"""Seconds any request may take while the build is held, which is until the test releases it
(the runner waits 0.1 s; the rest is a loaded machine's margin)."""
VARIANTS = "/api/v1/variants"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, TestClient]]:
    _, ws = built_world(tmp_path_factory.mktemp("building"), ["events", "identities"], customers=40, seed=11)
    root = ws.root
    ws.close()
    app = create_app(root, settings=ServerSettings(auth_failures_per_minute=1000))
    app.state.ctx.runner.wait = 0.1
    token = KeyStore(root / KEYS_FILE).create("read").secret
    client = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    yield app, client
    app.state.ctx.close()


def _held_build(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event]:
    """Builds that have written their tables and then wait for ``release`` before finishing."""
    started, release = threading.Event(), threading.Event()
    real = model.build_model

    def build(*args: Any, **kwargs: Any) -> Any:
        summary = real(*args, **kwargs)
        started.set()
        assert release.wait(30), "the test never released the build"
        return summary

    monkeypatch.setattr(model, "build_model", build)
    return started, release


def _timed_get(client: TestClient, url: str, **params: Any) -> httpx.Response:
    start = time.monotonic()
    response = client.get(url, params=params)
    assert time.monotonic() - start < BOUND, f"{url} waited for the build"
    return response


def test_requests_during_a_build_get_the_previous_version(
    served: tuple[Any, TestClient], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, client = served
    ctx = app.state.ctx
    before = client.get(VARIANTS, params={"limit": 3})
    assert before.status_code == 200 and before.headers["X-Data-State"] == "current"
    version = before.headers["X-Data-Version"]
    panel = client.get("/dashboard/overview/panel/1")  # variants, limit 10: now cached
    assert panel.status_code == 200 and "Showing data as of" not in panel.text

    more = write_csv(tmp_path, "more.csv", numbered_events(8, user_prefix="late"))
    with ctx.runner.writing("ingest"):
        ctx.workspace.ingest(paths=[str(more)], table="events")
    started, release = _held_build(monkeypatch)
    first: list[httpx.Response] = []
    builder = threading.Thread(target=lambda: first.append(client.get(VARIANTS, params={"limit": 3})))
    builder.start()
    try:
        assert started.wait(60), "the first request after the ingest did not build"
        assert ctx.runner.writer == "build"

        stale = _timed_get(client, VARIANTS, limit=3)
        assert stale.status_code == 200
        assert stale.headers["X-Data-State"] == "stale; running=build"
        assert stale.headers["X-Data-Version"] == version and stale.headers["X-Cache"] == "hit"
        body = stale.json()
        assert body.pop("data_state") == {"version": version, "stale": True, "running": "build"}
        assert body == before.json()  # the previous version's answer, unchanged

        refused = _timed_get(client, VARIANTS, limit=4)  # never asked before: nothing to serve
        assert refused.status_code == 503 and refused.headers["content-type"] == PROBLEM_JSON
        assert int(refused.headers["Retry-After"]) >= 1
        problem = refused.json()
        assert problem["title"] == "Build in progress" and problem["running"] == "build"
        assert problem["data_version"] == version

        shown = _timed_get(client, "/dashboard/overview/panel/1")
        assert shown.status_code == 200
        assert f"Showing data as of version {version}; a build of customers and journeys" in shown.text
        waiting = _timed_get(client, "/dashboard/overview/panel/0")  # journeys summary: not cached
        assert waiting.status_code == 200
        assert 'hx-trigger="load delay:' in waiting.text and "/dashboard/overview/panel/0" in waiting.text
        assert "A build of customers and journeys is running" in waiting.text
        csv = _timed_get(client, "/dashboard/overview/csv", panel="0")
        assert csv.status_code == 503 and "Retry-After" in csv.headers
        listing = _timed_get(client, "/dashboard/journeys/panel/list")  # reads the store directly
        assert listing.status_code == 200 and 'hx-trigger="load delay:' in listing.text
    finally:
        release.set()
        builder.join(60)
    assert not builder.is_alive()
    fresh = first[0]
    assert fresh.status_code == 200 and fresh.headers["X-Data-State"] == "current"
    assert fresh.headers["X-Data-Version"] != version  # the build's own request: the new data
    after = client.get(VARIANTS, params={"limit": 3})
    assert after.headers["X-Data-State"] == "current" and "data_state" not in after.json()
    assert after.headers["X-Data-Version"] == fresh.headers["X-Data-Version"]


def test_an_ingest_holding_the_store_and_a_forget_clearing_the_cache(served: tuple[Any, TestClient]) -> None:
    app, client = served
    runner = app.state.ctx.runner
    before = client.get(VARIANTS, params={"limit": 2})
    assert before.status_code == 200
    inside, leave = threading.Event(), threading.Event()

    def ingest() -> None:
        with runner.writing("ingest"):
            inside.set()
            leave.wait(30)

    writer = threading.Thread(target=ingest)
    writer.start()
    try:
        assert inside.wait(10)
        stale = _timed_get(client, VARIANTS, limit=2)
        assert stale.headers["X-Data-State"] == "stale; running=ingest"
        refused = _timed_get(client, "/api/v1/journeys/summary")
        assert refused.status_code == 503 and refused.json()["title"] == "Ingest in progress"
    finally:
        leave.set()
        writer.join(30)
    with runner.writing("forget"):
        pass
    inside.clear()
    leave.clear()
    writer = threading.Thread(target=ingest)
    writer.start()
    try:
        assert inside.wait(10)
        # After a deletion no earlier answer is served: it could name the forgotten person.
        assert _timed_get(client, VARIANTS, limit=2).status_code == 503
    finally:
        leave.set()
        writer.join(30)
