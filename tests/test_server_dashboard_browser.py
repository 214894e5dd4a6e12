"""The dashboard in a real browser (Debian's /usr/bin/chromium through Playwright) against a live
uvicorn server on 127.0.0.1: log in, every page loads with no script errors and no request
leaving the server, a funnel built in the form, a filter and a property filter (match any) show
the Python API's numbers (and the filters are in the URL), drill-down reaches a journey and its
customer, the CSV download is the CSV route's, and a saved view reloads identically. Screenshots
land in the test's tmp dir."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from conftest import built_world
from journeylens.cli._output import csv_text
from journeylens.server.app import ServerSettings, create_app
from journeylens.server.dashboard_pages import PAGES
from journeylens.server.dashboard_render import cell
from journeylens.server.keys import KEYS_FILE, KeyStore

pytestmark = pytest.mark.browser
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
STEPS = ["home", "product_page", "checkout"]
WHERE = "device in ios,android; customer.plan=premium"
# Where the process map draws its first activity node (the last trace), in page pixels.
NODE_XY = """(id) => {
  const div = document.getElementById(id), layout = div._fullLayout, nodes = div.data[div.data.length - 1];
  const box = div.getBoundingClientRect();
  return [box.left + layout.xaxis._offset + layout.xaxis.l2p(nodes.x[0]),
          box.top + layout.yaxis._offset + layout.yaxis.l2p(nodes.y[0]), nodes.text[0]];
}"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A live server on a small built world, with the Python API's answers computed first."""
    import uvicorn

    root = tmp_path_factory.mktemp("dash-browser")
    _, ws = built_world(root, ["events", "identities", "customers", "feedback"], customers=30, seed=7)
    expected = {
        "funnel": ws.funnel(STEPS, window="2h", order="any").records(),
        "web": ws.touchpoints(channel="web").records(),
        "mid": str(
            ws.store.execute(ws.store.backend.table("journeys").start.min()).as_py().date()
            + dt.timedelta(days=14)
        ),
        "where": ws.touchpoints(where=WHERE.split(";"), match="any").records(),
    }
    assert expected["where"] and expected["where"] != ws.touchpoints().records()
    ws.close()
    token = KeyStore(root / "ws" / KEYS_FILE).create("read").secret
    app = create_app(root / "ws", settings=ServerSettings(auth_failures_per_minute=1000))
    port = _free_port()
    live = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=live.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not live.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live.started, "the server did not start within 30 s"
    yield {"base": f"http://127.0.0.1:{port}", "token": token, "expected": expected, "root": root / "ws"}
    live.should_exit = True
    thread.join(timeout=15)


@pytest.fixture(scope="module")
def page(server: dict[str, Any]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/run_tests.py installs Debian's chromium package.")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        context = browser.new_context(accept_downloads=True)
        tab = context.new_page()
        tab.set_default_timeout(60_000)
        tab.outside, tab.errors = [], []
        base = server["base"]

        def gate(route: Any) -> None:
            if route.request.url.startswith(base + "/"):
                route.continue_()
            else:
                tab.outside.append(route.request.url)
                route.abort()

        tab.route("**/*", gate)
        tab.on("pageerror", lambda exc: tab.errors.append(str(exc)))
        tab.on("console", lambda msg: tab.errors.append(msg.text) if msg.type == "error" else None)
        yield tab
        context.close()
        browser.close()


def settled(tab: Any) -> None:
    """Wait until every panel htmx loads into the page has arrived."""
    tab.wait_for_function("() => !document.querySelector('.jl-pending')")


def column(tab: Any, name: str, within: str = "section.panel") -> list[str]:
    return list(tab.locator(f"{within} >> nth=0").locator(f'td[data-col="{name}"]').all_inner_texts())


def test_dashboard_in_a_real_browser(server: dict[str, Any], page: Any, tmp_path: Path) -> None:
    base, shots = server["base"], tmp_path / "screenshots"
    shots.mkdir()
    page.goto(base + "/dashboard/overview")
    assert page.url.startswith(base + "/login")  # no session yet
    page.fill("#token", server["token"])
    page.click("button[type=submit]")
    page.wait_for_url(base + "/dashboard/overview")

    for slug in PAGES:
        started = time.monotonic()
        page.goto(f"{base}/dashboard/{slug}")
        settled(page)
        if page.locator("div.jl-plot").count():
            page.wait_for_selector("div.jl-plot .main-svg")
        page.screenshot(path=str(shots / f"{slug}.png"))
        assert page.locator("h1").inner_text() == PAGES[slug].title
        print(f"{slug}: {time.monotonic() - started:.1f} s")

    # a funnel built in the form: the Python API's numbers, and the spec in the address bar
    page.goto(base + "/dashboard/funnel")
    page.fill("#in-steps", " ".join(STEPS))
    page.fill("#in-window", "2h")
    page.select_option("#in-order", "any")
    page.click("#apply")
    page.wait_for_url("**/dashboard/funnel?*steps=*")
    settled(page)
    page.wait_for_selector("div.jl-plot .main-svg")  # the figure is drawn after the htmx swap
    assert column(page, "units") == [cell(r["units"]) for r in server["expected"]["funnel"]]
    page.screenshot(path=str(shots / "funnel-built.png"))

    # a filter changes the URL and the numbers agree with the Python API
    page.goto(base + "/dashboard/touchpoints")
    page.fill('input[name="channel"]', "web")
    page.click("#apply")
    page.wait_for_url("**/dashboard/touchpoints?*channel=web*")
    settled(page)
    web = [cell(r["events"]) for r in server["expected"]["web"]][:50]
    assert column(page, "events") == web

    # the CSV download is the CSV route's answer
    with page.expect_download() as download:
        page.click("a.csv >> nth=0")
    saved = Path(download.value.path()).read_text(encoding="utf-8")
    route = page.request.get(base + (page.locator("a.csv >> nth=0").get_attribute("href") or ""))
    assert saved == route.text() == csv_text(server["expected"]["web"])

    # a saved view reloads identically
    page.fill("#view-name", "web-touchpoints")
    page.click(".save-view button")
    page.wait_for_url("**/dashboard/touchpoints?channel=web")
    settled(page)
    assert column(page, "events") == web
    page.reload()
    settled(page)
    assert column(page, "events") == web
    assert (server["root"] / "views" / "web-touchpoints.json").is_file()

    # a property filter with match any is kept in the URL and agrees with the Python API
    page.goto(base + "/dashboard/touchpoints")
    page.fill("#in-where", WHERE)
    page.select_option("#in-match", "any")
    page.click("#apply")
    page.wait_for_url("**/dashboard/touchpoints?*match=any*")
    settled(page)
    assert parse_qs(urlsplit(page.url).query)["where"] == [WHERE]
    assert column(page, "events") == [cell(r["events"]) for r in server["expected"]["where"]][:50]

    # drill-down from a chart mark: a process-map node (a stepped mouse move, then a real click)
    page.goto(base + "/dashboard/process-map")
    settled(page)
    plot = page.locator("div.jl-plot").first
    plot.scroll_into_view_if_needed()
    page.wait_for_selector("div.jl-plot .main-svg")
    x, y, node = page.evaluate(NODE_XY, plot.get_attribute("id"))
    page.evaluate("(dy) => window.scrollBy(0, dy)", y - 300)  # the node into the viewport
    x, y, node = page.evaluate(NODE_XY, plot.get_attribute("id"))
    page.mouse.move(x - 40, y - 40)
    page.mouse.move(x, y, steps=8)
    page.mouse.click(x, y)
    page.wait_for_url("**/dashboard/journeys?*touchpoint=*")
    settled(page)
    assert f"journeys with {node}" in page.locator("main").inner_text()

    # drill-down from a table row: a transition -> the journeys behind it -> a journey's customer
    page.goto(base + "/dashboard/process-map")
    settled(page)
    page.click("a.drill-journeys >> nth=0")
    page.wait_for_url("**/dashboard/journeys?*source=*")
    settled(page)
    assert page.locator("a.drill-customer").count() > 0
    page.click("a.drill-customer >> nth=0")
    page.wait_for_url("**/dashboard/customer?key=*")
    settled(page)
    assert page.locator('td[data-col="identifier_type"]').count() > 0
    page.screenshot(path=str(shots / "customer-drilled.png"))

    # an annotation added on the overview is drawn on its weekly chart; when the version poll
    # reports a data change the panels re-render in place (no full reload)
    page.goto(base + "/dashboard/overview?refresh=1m")
    settled(page)
    page.fill("#note-date", server["expected"]["mid"])
    page.fill("#note-label", "release 4.2")
    page.click(".add-annotation button")
    page.wait_for_url("**/dashboard/overview?refresh=1m")
    settled(page)
    page.wait_for_selector("div.jl-plot text.annotation-text:has-text('release 4.2')")
    first = page.locator("div.jl-plot").first.get_attribute("id")
    page.evaluate("window.jlSamePage = true")
    page.evaluate("htmx.ajax('GET', '/dashboard/version?seen=stale', {source: '.jl-refresh', swap: 'none'})")
    page.wait_for_function(
        "(old) => { const d = document.querySelector('div.jl-plot');"
        " return d && d.id !== old && !document.querySelector('.jl-pending'); }",
        arg=first,
    )
    assert page.evaluate("window.jlSamePage") is True
    page.screenshot(path=str(shots / "overview-annotated.png"))

    assert page.errors == [], page.errors
    assert page.outside == [], f"the dashboard tried to fetch {page.outside}"
