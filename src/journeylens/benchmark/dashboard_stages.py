"""Benchmark stages for the dashboard: every page of
:data:`~journeylens.server.dashboard_pages.PAGES` loaded as a browser loads it, cold and warm, side
by side with the same analyses from the Python API.

A page load is the page itself and then each panel htmx fetches (the URLs in its ``hx-get``
attributes), one after the other through the ASGI app in process (FastAPI's TestClient, a read
token); the page time is their sum. *Cold* empties the runner's cache first (the first load after a
build: every panel's analysis runs); *warm* repeats the load (answers cached per spec and data
version). ``dashboard_python`` runs each page's distinct analyses with the same option values
(:func:`~journeylens.server.dashboard_pages.panel_values`) through ``ws.analysis``, and the journeys
page's list with the function the dashboard calls; it has no cache.

The world is the agents world (events, identities, customers, agents, feedback) with the world's
assignments and the demo's journey maps added and the model built (untimed), so every page has
data: a customer key, funnel steps, a map and an experiment are filled in from it. The targets
(issue 20): warm p95 < 1 s and cold p95 < 3 s per page, cold p50 within 1.3x of the Python API's.
``JOURNEYLENS_BENCH_PAGES`` (comma-separated page slugs) times only those pages: the backlog page
alone takes half a minute cold on a 6,000-event world.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from journeylens.benchmark.agent_stages import AGENTS_WORLD
from journeylens.benchmark.api_stages import percentiles, reader, timed
from journeylens.benchmark.stages import metrics_path, preparation, stage
from journeylens.errors import InputError, JourneyLensError
from journeylens.workspace import Workspace

DASHBOARD_WORLD = "dashboard_world"
LATENCY = "dashboard_latency-{stage}.json"
COLD, WARM = 3, 10
"""Loads per page: cold ones (cache emptied first) and warm ones (cached)."""
TARGETS = {"warm_p95_ms": 1000.0, "cold_p95_ms": 3000.0, "cold_to_python": 1.3}
"""Each page's limits: warm and cold p95 (ms) and cold p50 over the Python API's p50."""
STEPS = "product_page add_to_cart checkout order_confirmation"
PAGES_ENV = "JOURNEYLENS_BENCH_PAGES"
_PANEL_URL = re.compile(r'hx-get="(/dashboard/[^"]+/panel/[^"]+)"')


@preparation(DASHBOARD_WORLD, after=AGENTS_WORLD)
def prepare_dashboard_world(data: Path, work: Path, memory_limit: str | None) -> int:
    """Copy the agents world, add assignments and the demo maps, build the model (returns events)."""
    from journeylens.ingest import IngestSpec
    from journeylens.maps._demo_maps import write_demo_maps

    target = work / DASHBOARD_WORLD
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(work / AGENTS_WORLD, target)
    ws = Workspace.open(target)
    ws.ingest(IngestSpec(paths=[str(data / "world" / "assignments")], table="assignments"))
    write_demo_maps(ws.root)
    ws.ensure_model()
    events = int(ws.store.count("events"))
    ws.close()
    return events


def page_queries(ws: Workspace) -> dict[str, dict[str, str]]:
    """The URL query of each page: no filters, and its form filled from the world."""
    store = ws.store
    customer = store.execute(store.backend.table("journeys").customer_id.min()).as_py()
    experiment = store.execute(store.table("assignments").experiment.min()).as_py()
    filled = {
        "customer": {"key": str(customer)},
        "funnel": {"steps": STEPS},
        "maps": {"map": "purchase"},
        "experiments": {"name": str(experiment)},
    }
    return {slug: filled.get(slug, {}) for slug in chosen_pages()}


def chosen_pages() -> list[str]:
    """The pages timed: those named in ``JOURNEYLENS_BENCH_PAGES``, else every page."""
    from journeylens.server.dashboard_pages import PAGES

    named = [s.strip() for s in os.environ.get(PAGES_ENV, "").split(",") if s.strip()]
    unknown = [s for s in named if s not in PAGES]
    if unknown:
        raise InputError.unknown_choice(f"page in {PAGES_ENV}", unknown[0], PAGES)
    return named or list(PAGES)


def _python_calls(ws: Workspace, slug: str, query: dict[str, str]) -> list[Callable[[], object]]:
    """What page ``slug`` computes, as Python API calls: its distinct analyses (the runner would
    cache repeats within a page) and, on the journeys page, the journeys list."""
    from journeylens.analyses import ANALYSES
    from journeylens.analyses._build import build_spec
    from journeylens.server.dashboard_journeys import journeys_behind
    from journeylens.server.dashboard_pages import PAGES, Panel, panel_values
    from journeylens.specs.discovery import MapSpec

    page, seen = PAGES[slug], set()
    calls: list[Callable[[], object]] = []
    for panel in page.panels:
        values = panel_values(page, panel, query)
        key = json.dumps([panel.analysis, values], sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            calls.append(partial(_analysis, ws, panel.analysis, values))
    if slug == "journeys":
        spec = build_spec(ANALYSES["dfg"], panel_values(page, Panel("dfg", ""), query))
        assert isinstance(spec, MapSpec)
        calls.append(partial(journeys_behind, ws.store, spec.filter))
    return calls


def _analysis(ws: Workspace, name: str, values: dict[str, Any]) -> object:
    return ws.analysis(name, dict(values))  # a fresh dict per call, as a caller builds it


def _run_all(calls: list[Callable[[], object]]) -> int:
    """Run ``calls``; how many refused with the analysis's own message (counted, not hidden)."""
    refused = 0
    for call in calls:
        try:
            call()
        except JourneyLensError:
            refused += 1
    return refused


@stage(
    "dashboard_python",
    "each dashboard page's analyses from the Python API (ws.analysis), 3 times per page (the peer "
    "of dashboard; rows: page loads)",
    needs=DASHBOARD_WORLD,
    unit="calls",
)
def dashboard_python(data: Path, work: Path) -> int:
    ws = Workspace.open(work / DASHBOARD_WORLD)
    latency = {}
    for slug, query in page_queries(ws).items():
        calls, refused = _python_calls(ws, slug, query), []
        spent = timed(lambda: refused.append(_run_all(calls)), COLD)  # noqa: B023
        latency[slug] = {**percentiles(spent), "calls": len(calls), "refused": refused[-1]}
    ws.close()
    (work / LATENCY.format(stage="dashboard_python")).write_text(json.dumps(latency))
    return COLD * len(latency)


def _load(client: Any, slug: str, query: dict[str, str]) -> dict[str, int]:
    """Load page ``slug`` as a browser does: the page, then each panel it names."""
    page = client.get(f"/dashboard/{slug}", params=query)
    if page.status_code != 200:
        raise RuntimeError(f"/dashboard/{slug}: {page.status_code} {page.text[:300]}")
    notices = 0
    urls = [html.unescape(u) for u in _PANEL_URL.findall(page.text)]
    for url in urls:
        panel = client.get(url)
        if panel.status_code != 200:
            raise RuntimeError(f"{url}: {panel.status_code} {panel.text[:300]}")
        notices += panel.text.count('class="notice"')
    return {"panels": len(urls), "notices": notices}


@stage(
    "dashboard",
    "every dashboard page and its panels through the ASGI app: 3 cold loads (cache emptied) and "
    "10 warm (cached) per page, against the targets (rows: page loads)",
    needs=DASHBOARD_WORLD,
    unit="calls",
    peer="dashboard_python",
)
def dashboard_stage(data: Path, work: Path) -> int:
    latency = {}
    with reader(work / DASHBOARD_WORLD) as (client, runner):
        for slug, query in page_queries(runner.workspace).items():
            shapes: list[dict[str, int]] = []
            load = partial(lambda s, q: shapes.append(_load(client, s, q)), slug, query)  # noqa: B023
            cold, warm = timed(load, COLD, before=runner.clear), timed(load, WARM)
            latency[slug] = {"cold": percentiles(cold), "warm": percentiles(warm), **shapes[-1]}
    (work / LATENCY.format(stage="dashboard")).write_text(json.dumps(latency))
    rows = dashboard_rows(work) if (work / LATENCY.format(stage="dashboard_python")).is_file() else []
    if rows:
        verdicts = [t for r in rows for t in r["targets"]]
        metrics = {"targets_met": all(t["met"] for t in verdicts), "pages": rows, "targets": verdicts}
        metrics_path(work, "dashboard").write_text(json.dumps(metrics))
    return (COLD + WARM) * len(latency)


def dashboard_rows(work: Path) -> list[dict[str, Any]]:
    """Per page: cold and warm p50/p95 over HTTP, the Python API's p50/p95, cold p50 / Python p50,
    and a verdict per target (both stages must have run in ``work``)."""
    http = json.loads((work / LATENCY.format(stage="dashboard")).read_text())
    python = json.loads((work / LATENCY.format(stage="dashboard_python")).read_text())
    rows = []
    for slug, page in http.items():
        cold, warm, direct = page["cold"], page["warm"], python[slug]
        ratio = round(cold["p50_ms"] / direct["p50_ms"], 2) if direct["p50_ms"] else None
        values = {"warm_p95_ms": warm["p95_ms"], "cold_p95_ms": cold["p95_ms"], "cold_to_python": ratio}
        rows.append(
            {
                "page": slug,
                "panels": page["panels"],
                "notices": page["notices"],
                "cold_p50_ms": cold["p50_ms"],
                "cold_p95_ms": cold["p95_ms"],
                "warm_p50_ms": warm["p50_ms"],
                "warm_p95_ms": warm["p95_ms"],
                "python_p50_ms": direct["p50_ms"],
                "python_p95_ms": direct["p95_ms"],
                "cold_to_python": ratio,
                "targets": [
                    {
                        "name": f"{slug} {name}",
                        "value": value,
                        "requirement": f"<= {limit:g}",
                        "met": value is not None and value <= limit,
                    }
                    for name, limit in TARGETS.items()
                    for value in [values[name]]
                ],
            }
        )
    return rows
