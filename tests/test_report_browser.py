"""The HTML report renders its charts in a real browser with the network cut off."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import journeylens as jl
from journeylens.report import write_report

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

    page = browser.new_page()  # type: ignore[attr-defined]
    outside: list[str] = []

    def block(route: object) -> None:
        outside.append(route.request.url)  # type: ignore[attr-defined]
        route.abort()  # type: ignore[attr-defined]

    page.route("http*://**", block)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(report.as_uri())
    page.wait_for_selector(".js-plotly-plot .main-svg", timeout=20_000)
    plots = page.locator(".js-plotly-plot").count()
    traces = page.evaluate("() => [...document.querySelectorAll('.js-plotly-plot')].map(p => p.data.length)")
    page.screenshot(path=str(tmp_path / "report.png"), full_page=False)

    assert plots >= 2
    assert all(n > 0 for n in traces), traces
    assert errors == []
    assert outside == [], f"the report tried to fetch {outside}"
    assert "call_center" in page.content()
