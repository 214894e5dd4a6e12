"""The HTML report renders its charts in a real browser with the network cut off."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import journeylens as jl
from journeylens.identity import stitch
from journeylens.journeys import build_journeys
from journeylens.report import write_report
from journeylens.synth import generate_world

pytestmark = pytest.mark.browser
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/run_tests.py installs Debian's chromium package.")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield chromium
        chromium.close()


def open_offline(browser: object, report: Path) -> tuple[Any, list[str], list[str]]:
    """Open ``report`` with every network request refused; returns the page, the URLs it tried
    to fetch and the script errors it raised."""
    page = browser.new_page()  # type: ignore[attr-defined]
    outside: list[str] = []

    def block(route: object) -> None:
        outside.append(route.request.url)  # type: ignore[attr-defined]
        route.abort()  # type: ignore[attr-defined]

    page.route("http*://**", block)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(report.as_uri())
    return page, outside, errors


def test_report_charts_render_offline(tmp_path: Path, browser: object) -> None:
    ws = jl.Workspace.init(tmp_path / "ws")
    events = tmp_path / "events.csv"
    events.write_text(
        "user_id,timestamp,channel,touchpoint\n"
        + "".join(
            f"u{i % 7},2024-03-{1 + i % 20:02d}T10:00:00Z,{('web', 'app', 'call')[i % 3]},t{i % 5}\n"
            for i in range(200)
        )
    )
    ws.ingest(paths=[str(events)])
    report = write_report(ws.store, tmp_path / "report.html")
    ws.close()

    page, outside, errors = open_offline(browser, report)
    page.wait_for_selector(".js-plotly-plot .main-svg", timeout=20_000)
    plots = page.locator(".js-plotly-plot").count()
    traces = page.evaluate("() => [...document.querySelectorAll('.js-plotly-plot')].map(p => p.data.length)")
    page.screenshot(path=str(tmp_path / "report.png"), full_page=False)

    assert plots >= 2
    assert all(n > 0 for n in traces), traces
    assert errors == []
    assert outside == [], f"the report tried to fetch {outside}"
    assert "call_center" in page.content()


def test_journeys_section_renders_offline(tmp_path: Path, browser: object) -> None:
    generate_world(tmp_path / "data", customers=120, seed=5)
    ws = jl.Workspace.init(tmp_path / "ws", timezone="UTC")
    for table in ("agents", "customers", "identities", "events"):
        ws.ingest(paths=[str(tmp_path / "data" / table)], table=table)
    stitch(ws.store, ws.config.identity)
    build_journeys(ws.store, ws.config.journeys)
    report = write_report(ws.store, tmp_path / "report.html")
    ws.close()

    page, outside, errors = open_offline(browser, report)
    journeys = page.locator("section").filter(has=page.get_by_role("heading", name="Journeys", exact=True))
    journeys.locator(".js-plotly-plot .main-svg").first.wait_for(timeout=20_000)
    traces = journeys.evaluate_all(
        "ss => [...ss[0].querySelectorAll('.js-plotly-plot')].map(p => p.data.length)"
    )
    headings = page.locator("section h2").all_inner_texts()
    cells = journeys.locator("table.data td").all_inner_texts()
    facts = journeys.locator(".fact .v").all_inner_texts()
    page.screenshot(path=str(tmp_path / "journeys.png"), full_page=True)

    assert journeys.count() == 1
    # Right after the customers, as registered.
    assert headings.index("Journeys") == headings.index("Customers across channels") + 1
    assert len(traces) >= 4 and all(n > 0 for n in traces), traces
    rate = r"\d+\.\d% \(\d+\.\d–\d+\.\d%\) [\d,]+/[\d,]+"
    assert any(re.fullmatch(rate, c) for c in cells), cells[:20]
    assert re.fullmatch(rate, facts[1]), facts

    # Journey discovery follows: process map, funnel, Sankey paths and segments all drawn.
    discovery = page.locator("section").filter(
        has=page.get_by_role("heading", name="Journey discovery", exact=True)
    )
    discovery.locator(".js-plotly-plot .main-svg").first.wait_for(timeout=20_000)
    found = discovery.evaluate_all(
        "ss => [...ss[0].querySelectorAll('.js-plotly-plot')].map(p => p.data.map(t => t.type))"
    )
    assert headings.index("Journey discovery") == headings.index("Journeys") + 1
    drawn = {kind for plot in found for kind in plot}
    assert len(found) >= 4 and all(found), found
    assert {"funnel", "sankey"} <= drawn, drawn
    assert any(re.fullmatch(rate, c) for c in discovery.locator("table.data td").all_inner_texts())
    assert errors == []
    assert outside == [], f"the report tried to fetch {outside}"
