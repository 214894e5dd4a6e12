"""kill -9 under load: an acknowledged message is never lost and never stored twice.

Several client threads send batches of messages with unique ids to a live ``journeylens serve``
and, like the SDKs, retry a batch (same ids) after a connection error, a 5xx or a 429 until it is
acknowledged. The server is killed with SIGKILL at random moments three times and restarted. At
the end every acknowledged id is stored exactly once and nothing else is: retries of batches that
were stored but whose answer was lost, and log segments stored just before a kill, load nothing
twice. Bounded: a fixed number of kills and batches, timeouts everywhere, 127.0.0.1 only.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from collector_server import LiveServer
from collector_world import basic, world
from journeylens.workspace import Workspace

CLIENTS, BATCH, KILLS = 4, 20, 3


@dataclass
class Tally:
    acknowledged: set[str] = field(default_factory=set)
    retried: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _client(n: int, url: str, key: str, stop: threading.Event, tally: Tally, deadline: float) -> None:
    rng = random.Random(n)
    with httpx.Client(base_url=url, headers=basic(key), timeout=5) as http:
        batch_no = 0
        while not stop.is_set() and time.monotonic() < deadline:
            ids = [f"c{n}-b{batch_no}-m{i}" for i in range(BATCH)]
            body = {
                "batch": [{"type": "track", "event": "tick", "userId": f"u{n}", "messageId": m} for m in ids]
            }
            while time.monotonic() < deadline:
                try:
                    if http.post("/v1/batch", json=body).status_code == 200:
                        with tally.lock:
                            tally.acknowledged.update(ids)
                        break
                except httpx.HTTPError:
                    pass
                with tally.lock:
                    tally.retried += 1
                time.sleep(rng.uniform(0.02, 0.1))
            batch_no += 1


def test_kill_9_under_load_loses_nothing_and_stores_nothing_twice(tmp_path: Path) -> None:
    started = time.monotonic()
    w = world(tmp_path)
    tally, stop = Tally(), threading.Event()
    rng = random.Random(19)
    with LiveServer(w.root) as server:
        deadline = time.monotonic() + 150  # a safety net only; the test ends long before
        clients = [
            threading.Thread(target=_client, args=(n, server.url, w.web, stop, tally, deadline))
            for n in range(CLIENTS)
        ]
        for thread in clients:
            thread.start()
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.3, 1.5))
            server.kill()
            server.start()
        time.sleep(0.5)
        stop.set()
        for thread in clients:
            thread.join(timeout=60)
        assert not any(t.is_alive() for t in clients)
        server.stop()
    ws = Workspace.open(w.root)
    try:
        store = ws.store
        events = store.execute(store.table("events").select("event_id")).column("event_id").to_pylist()
        seen = store.execute(store.table("collector_seen").select("message_id")).column(0).to_pylist()
    finally:
        ws.close()
    stored = Counter(events)
    lost = tally.acknowledged - set(stored)
    duplicated = [m for m, n in (stored + Counter(seen)).items() if n != 2]
    print(
        f"acknowledged={len(tally.acknowledged)} retried={tally.retried} stored={len(stored)} "
        f"lost={len(lost)} duplicated={len(duplicated)} kills={KILLS} "
        f"seconds={time.monotonic() - started:.1f}"
    )
    assert tally.acknowledged and tally.retried  # the kills did interrupt the senders
    assert not lost and not duplicated
    assert set(stored) == tally.acknowledged  # every batch was retried until acknowledged
