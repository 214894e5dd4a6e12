"""Benchmark stages for the REST API: a set of analyses requested through the ASGI app (in process,
FastAPI's TestClient), cold and warm, side by side with the same analyses from the Python API.

Cold is the first request after a build: the runner's cache is emptied before each cold request,
so the analysis runs; warm repeats the request and is answered from the cache (same spec, same
data version). The Python API has no cache: every call runs. Each stage writes its latencies
(p50/p95 per analysis) to ``api_latency-{stage}.json``; :func:`latency_rows` joins the two into
the table docs/benchmarks.md records, with the cold HTTP p50 over the Python p50 as the ratio.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from journeylens.benchmark.stages import JOURNEYS, WORLD, stage
from journeylens.workspace import Workspace

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

    from journeylens.server.runs import AnalysisRunner

LATENCY = "api_latency-{stage}.json"
COLD, WARM = 5, 20
"""Requests per analysis: cold ones (cache emptied first) and warm ones (cached)."""

CALLS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("journeys summary", {"by": "channel"}),
    ("dfg", {"type": ["purchase"], "max_nodes": 15}),
    ("variants", {"limit": 25}),
    ("funnel", {"steps": ["product_page", "add_to_cart", "checkout", "order_confirmation"]}),
    ("paths", {"steps": 3}),
    ("touchpoints", {}),
    ("contacts", {}),
)
"""The analyses timed, with the options sent: the dashboard's overview and discovery pages."""


def percentiles(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000, 1)

    return {"p50_ms": at(0.5), "p95_ms": at(0.95)}


def timed(call: Callable[[], object], times: int, before: Callable[[], None] = lambda: None) -> list[float]:
    spent = []
    for _ in range(times):
        before()
        start = time.perf_counter()
        call()
        spent.append(time.perf_counter() - start)
    return spent


@stage(
    "api_python",
    "the api stage's analyses from the Python API (ws.analysis), each run 5 times (the peer of api; "
    "rows: calls)",
    needs=JOURNEYS,
    unit="calls",
)
def api_python(data: Path, work: Path) -> int:
    ws = Workspace.open(work / WORLD)
    latency = {}
    for name, values in CALLS:
        latency[name] = percentiles(timed(lambda: ws.analysis(name, dict(values)), COLD))  # noqa: B023
    ws.close()
    (work / LATENCY.format(stage="api_python")).write_text(json.dumps(latency))
    return COLD * len(CALLS)


@stage(
    "api",
    "the same analyses as GET requests through the ASGI app: 5 cold (cache emptied) and 20 warm "
    "(cached) each (rows: requests)",
    needs=JOURNEYS,
    unit="calls",
    peer="api_python",
)
def api_stage(data: Path, work: Path) -> int:
    from journeylens.analyses import ANALYSES
    from journeylens.server.api_requests import endpoint_path

    latency = {}
    with reader(work / WORLD) as (client, runner):
        for name, values in CALLS:
            path = endpoint_path(ANALYSES[name])

            def get() -> None:
                response = client.get(path, params=values)  # noqa: B023
                if response.status_code != 200:
                    raise RuntimeError(f"{path}: {response.status_code} {response.text[:300]}")  # noqa: B023

            cold = timed(get, COLD, before=runner.clear)
            warm = timed(get, WARM)
            latency[name] = {"cold": percentiles(cold), "warm": percentiles(warm)}
    (work / LATENCY.format(stage="api")).write_text(json.dumps(latency))
    return (COLD + WARM) * len(CALLS)


@contextmanager
def reader(root: Path) -> Iterator[tuple[TestClient, AnalysisRunner]]:
    """A client of the app on workspace ``root`` (in process, with a new read token) and the
    app's runner (to empty its cache)."""
    from fastapi.testclient import TestClient

    from journeylens.server.app import create_app
    from journeylens.server.keys import KEYS_FILE, KeyStore

    token = KeyStore(root / KEYS_FILE).create("read", name="benchmark").secret
    app = create_app(root)
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as client:
        yield client, app.state.ctx.runner


def latency_rows(work: Path) -> list[dict[str, Any]]:
    """Per analysis: HTTP cold and warm p50/p95, the Python API's p50/p95, and cold p50 / Python
    p50 (both stages must have run in ``work``)."""
    http = json.loads((work / LATENCY.format(stage="api")).read_text())
    python = json.loads((work / LATENCY.format(stage="api_python")).read_text())
    rows = []
    for name, _ in CALLS:
        cold, warm, direct = http[name]["cold"], http[name]["warm"], python[name]
        rows.append(
            {
                "analysis": name,
                "cold_p50_ms": cold["p50_ms"],
                "cold_p95_ms": cold["p95_ms"],
                "warm_p50_ms": warm["p50_ms"],
                "warm_p95_ms": warm["p95_ms"],
                "python_p50_ms": direct["p50_ms"],
                "python_p95_ms": direct["p95_ms"],
                "cold_to_python": round(cold["p50_ms"] / direct["p50_ms"], 2) if direct["p50_ms"] else None,
            }
        )
    return rows
