"""Benchmark stages for the HTTP collector: durable acknowledgement next to a floor endpoint of the
same server that parses and checks the same payloads and answers 200 without writing anything.

Both stages send the run's events as Segment ``track`` messages in batches of :data:`BATCH` from
:data:`CLIENTS` keep-alive connections to a ``journeylens serve`` app forked on 127.0.0.1 (the
floor route is added to that app for the benchmark only). The ``collector`` stage then measures,
against both endpoints of the same server: single-event requests per second, the p99 latency of
single events sent at half the durable maximum rate, and the loader's rate from the log into
DuckDB (a fresh workspace, its log filled first). Its figures go to ``collector_figures.json``.

The stage times include starting the server (a fork, well under a second); the figures time only
the requests.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import orjson
import pyarrow.parquet as pq
from fastapi import Depends, FastAPI, Request

from journeylens.benchmark.stages import stage
from journeylens.server.app import ServerSettings, create_app
from journeylens.server.collector import _parsed, messages, require_write
from journeylens.server.keys import KEYS_FILE, Credential, KeyStore
from journeylens.workspace import Workspace

BATCH, CLIENTS = 100, 8
SINGLE_REQUESTS = 2_000
FIGURES = "collector_figures.json"
FLOOR_FIGURES = "collector_floor_figures.json"
FLOOR_PATH = "/bench/floor/v1/batch"


def _messages(data: Path) -> list[dict[str, Any]]:
    table = pq.read_table(
        data / "events.parquet",
        columns=["event_id", "timestamp", "user_id", "anonymous_id", "channel", "touchpoint"],
    )
    return [
        {"type": "track", "messageId": r["event_id"], "userId": r["user_id"],
         "anonymousId": r["anonymous_id"], "event": r["touchpoint"],
         "timestamp": r["timestamp"].isoformat(), "context": {"channel": r["channel"]}}
        for r in table.to_pylist()
    ]  # fmt: skip


def _fresh(path: Path) -> None:
    """A new workspace at ``path`` (an earlier run's is removed: its log and store would count)."""
    shutil.rmtree(path, ignore_errors=True)
    Workspace.init(path).close()


def _workspace(path: Path) -> str:
    _fresh(path)
    return KeyStore(path / KEYS_FILE).create("write", source="bench").secret


def _with_floor(app: FastAPI) -> FastAPI:
    async def floor(request: Request, _: Annotated[Credential, Depends(require_write)]) -> dict[str, bool]:
        body, value = await _parsed(request)
        messages(body, value, None if request.url.path.endswith("batch") else "track")
        return {"success": True}

    app.add_api_route(FLOOR_PATH, floor, methods=["POST"])
    app.add_api_route("/bench/floor/v1/track", floor, methods=["POST"])
    return app


class _Server:
    """The app with its floor route, in a forked child process."""

    def __init__(self, root: Path) -> None:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.pid = os.fork()
        if self.pid == 0:  # the child: serve until SIGTERM (which drains the log)
            import uvicorn

            try:
                app = _with_floor(create_app(root, settings=ServerSettings(auth_failures_per_minute=10**9)))
                uvicorn.run(app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False)
            finally:
                os._exit(0)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            con = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
            try:
                con.request("GET", "/health")
                if con.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.05)
            finally:
                con.close()
        raise TimeoutError("the benchmark server did not start")

    def stop(self) -> None:
        os.kill(self.pid, signal.SIGTERM)
        os.waitpid(self.pid, 0)


def _post_all(port: int, path: str, key: str, bodies: list[bytes], clients: int) -> list[float]:
    """POST every body (each must get 200) from ``clients`` connections; the latencies."""
    import base64

    headers = {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}
    headers["Content-Type"] = "application/json"
    work: queue.SimpleQueue[bytes] = queue.SimpleQueue()
    for body in bodies:
        work.put(body)
    latencies: list[float] = []
    failures: list[int] = []

    def client() -> None:
        con = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            try:
                body = work.get_nowait()
            except queue.Empty:
                break
            started = time.perf_counter()
            con.request("POST", path, body, headers)
            response = con.getresponse()
            response.read()
            latencies.append(time.perf_counter() - started)
            if response.status != 200:
                failures.append(response.status)
        con.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed, e.g. HTTP {failures[0]}")
    return latencies


def _batches(msgs: list[dict[str, Any]]) -> list[bytes]:
    return [orjson.dumps({"batch": msgs[i : i + BATCH]}) for i in range(0, len(msgs), BATCH)]


def _send(
    data: Path, work: Path, name: str, path: str
) -> tuple[int, float, _Server, str, list[dict[str, Any]]]:
    msgs = _messages(data)
    key = _workspace(work / name)
    server = _Server(work / name)
    started = time.perf_counter()
    _post_all(server.port, path, key, _batches(msgs), CLIENTS)
    return len(msgs), time.perf_counter() - started, server, key, msgs


@stage(
    "floor_collector", "HTTP batches of 100 parsed and checked, answered 200 without durability (the floor)"
)
def floor_collector(data: Path, work: Path) -> int:
    n, seconds, server, _, _ = _send(data, work, "floor_collector", FLOOR_PATH)
    server.stop()
    (work / FLOOR_FIGURES).write_text(json.dumps({"events": n, "batched_events_per_s": round(n / seconds)}))
    return n


def _single_rate(port: int, path: str, key: str, msgs: list[dict[str, Any]]) -> float:
    bodies = [orjson.dumps(m) for m in msgs[:SINGLE_REQUESTS]]
    started = time.perf_counter()
    _post_all(port, path, key, bodies, CLIENTS * 4)
    return len(bodies) / (time.perf_counter() - started)


def _p99_at(
    port: int, key: str, msgs: list[dict[str, Any]], rate: float, seconds: float = 3.0
) -> tuple[float, int]:
    """p99 latency (ms) of single events sent at ``rate`` per second (paced, several senders), and
    how many were sent."""
    senders = 8
    count = max(senders, int(rate * seconds))
    bodies = [orjson.dumps({**msgs[i % len(msgs)], "messageId": f"p99-{i}"}) for i in range(count)]
    latencies: list[float] = []
    gap = senders / rate

    def sender(part: list[bytes]) -> None:
        start = time.perf_counter()
        for i, body in enumerate(part):
            wait = start + i * gap - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            latencies.extend(_post_all(port, "/v1/track", key, [body], 1))

    parts = [bodies[i::senders] for i in range(senders)]
    threads = [threading.Thread(target=sender, args=(p,)) for p in parts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies.sort()
    return 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], count


def _stored_messages(root: Path) -> int:
    """Distinct messages the collector stored in the workspace at ``root`` (its dedup index)."""
    ws = Workspace.open(root)
    try:
        return int(ws.store.count("collector_seen"))
    finally:
        ws.close()


def _loader_rate(work: Path, msgs: list[dict[str, Any]]) -> float:
    """Rows per second from a filled log into DuckDB through the ingest path."""
    root = work / "collector_loader"
    _fresh(root)
    app = create_app(root)
    collector = app.state.collector
    envelope = {"s": "bench", "c": None, "r": "2026-01-01T00:00:00+00:00"}
    futures = [
        collector.wal.submit(orjson.dumps({**envelope, "m": msgs[i : i + BATCH]}))
        for i in range(0, len(msgs), BATCH)
    ]
    for future in futures:
        future.result()
    started = time.perf_counter()
    collector.drain()
    seconds = time.perf_counter() - started
    app.state.ctx.close()
    return len(msgs) / seconds


@stage(
    "collector",
    "HTTP batches of 100 acknowledged once durable (group-committed log); figures: single-event "
    "requests/s, p99 at half that rate, loader rate into DuckDB",
    floor="floor_collector",
)
def collector_stage(data: Path, work: Path) -> int:
    n, seconds, server, key, msgs = _send(data, work, "collector", "/v1/batch")
    floor_single = _single_rate(server.port, "/bench/floor/v1/track", key, msgs)
    single = _single_rate(
        server.port, "/v1/track", key, [{**m, "messageId": "s-" + str(m["messageId"])} for m in msgs]
    )
    p99, paced = _p99_at(server.port, key, msgs, single / 2)
    server.stop()  # drains the log into the store
    # Every request got its 200; a messageId sent twice is stored once (the dedup index).
    batched = {str(m["messageId"]) for m in msgs}
    singles = {f"s-{m['messageId']}" for m in msgs[:SINGLE_REQUESTS]}
    acknowledged = len(batched) + len(singles) + paced
    stored = _stored_messages(work / "collector")
    if stored != acknowledged:
        raise RuntimeError(f"{acknowledged:,} messages were acknowledged but {stored:,} are stored")
    floor = work / FLOOR_FIGURES  # the floor stage's batched rate, when it ran in this run
    floor_rate = json.loads(floor.read_text())["batched_events_per_s"] if floor.exists() else None
    figures = {
        "events": n,
        "batched_events_per_s": round(n / seconds),
        "floor_batched_events_per_s": floor_rate,
        "batched_ratio_to_floor": round(floor_rate / (n / seconds), 2) if floor_rate else None,
        "single_requests_per_s": round(single),
        "floor_single_requests_per_s": round(floor_single),
        "single_ratio_to_floor": round(floor_single / single, 2),
        "p99_ms_at_half_single_rate": round(p99, 1),
        "loader_rows_per_s": round(_loader_rate(work, msgs)),
        "acknowledged_messages": acknowledged,
        "stored_messages": stored,
    }
    (work / FIGURES).write_text(json.dumps(figures, indent=2))
    return n
