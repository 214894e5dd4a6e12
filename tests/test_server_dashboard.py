"""The dashboard in-process (FastAPI's TestClient): every page renders for a read session, the
numbers on a page are the Python API's for the same spec, filters and drill-down, CSV per table,
saved views, CSRF refusals and sessions that end when their token is revoked."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conftest import built_world
from journeylens.analyses import ANALYSES
from journeylens.cli._output import csv_text
from journeylens.server.app import ServerSettings, create_app
from journeylens.server.dashboard_pages import PAGES
from journeylens.server.dashboard_render import cell
from journeylens.server.keys import KEYS_FILE, KeyStore
from journeylens.workspace import Workspace


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Workspace]]:
    root = tmp_path_factory.mktemp("dash")
    _, ws = built_world(root, ["events", "identities", "customers", "feedback"], customers=40, seed=5)
    yield ws.root, ws
    ws.close()


@pytest.fixture(scope="module")
def app(world: tuple[Path, Workspace]) -> Any:
    return create_app(world[0], settings=ServerSettings(auth_failures_per_minute=1000))


def login(app: Any, root: Path, kind: str = "read") -> tuple[TestClient, str, str]:
    """A client with a session: (client, the token, the session's CSRF token)."""
    token = KeyStore(root / KEYS_FILE).create(kind).secret
    client = TestClient(app)
    form = client.get("/login?next=/dashboard/overview")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    done = client.post("/login", data={"token": token, "csrf": csrf, "next": "/dashboard/overview"},
                       follow_redirects=False)  # fmt: skip
    assert done.status_code == 303 and done.headers["location"] == "/dashboard/overview"
    cookie = done.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    page = client.get("/dashboard/overview")
    session_csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    return client, token, session_csrf


def shown(client: TestClient, url: str) -> str:
    """A page as the browser ends up showing it: the page, then each panel htmx loads into it."""
    page = client.get(url)
    assert page.status_code == 200, (url, page.text[:300])
    assert "Computing…" in page.text or "/panel/" not in page.text
    parts = [page.text]
    for panel in re.findall(r'hx-get="(/dashboard/[^"]+/panel/[^"]+)"', page.text):
        answer = client.get(panel.replace("&amp;", "&"), headers={"HX-Request": "true"})
        assert answer.status_code == 200 and "HX-Push-Url" not in answer.headers, panel
        parts.append(answer.text)
    return "".join(parts)


def cells(html: str, column: str) -> list[str]:
    return re.findall(rf'<td data-col="{column}">([^<]*)</td>', html)


def test_pages_name_registered_analyses() -> None:
    for page in PAGES.values():
        assert set(page.analyses) <= set(ANALYSES), page.slug
        assert (Path(__file__).parents[1] / "src/journeylens/server/templates" / page.template).is_file()


def test_every_page_renders_for_a_read_session(app: Any, world: tuple[Path, Workspace]) -> None:
    client, _, _ = login(app, world[0])
    for slug, page in PAGES.items():
        html = shown(client, f"/dashboard/{slug}")
        assert f"<h1>{page.title}</h1>" in html.replace("&amp;", "&")
        assert 'aria-label="Dashboard pages"' in html
        assert html.count('class="panel"') == len(page.panels) + (slug == "journeys"), slug
    ids = re.findall(r'class="jl-plot" id="([^"]+)"', shown(client, "/dashboard/overview"))
    ids += re.findall(r'class="jl-plot" id="([^"]+)"', shown(client, "/dashboard/overview"))
    assert ids and len(ids) == len(set(ids))  # every render gets new plot ids
    assert client.get("/dashboard/static/htmx.min.js").text.startswith("var htmx")
    assert "plotly" in client.get("/dashboard/static/plotly.min.js").text[:2000].lower()
    assert client.get("/dashboard/nowhere").status_code == 404
    assert client.get("/dashboard/overview/panel/9").json()["errors"][0]["field"] == "panel"


def test_funnel_numbers_equal_the_python_api(app: Any, world: tuple[Path, Workspace]) -> None:
    root, ws = world
    client, _, _ = login(app, root)
    query = "steps=home+product_page+checkout&window=2h&order=any"
    html = shown(client, f"/dashboard/funnel?{query}")
    expected = ws.funnel(["home", "product_page", "checkout"], window="2h", order="any").records()
    assert cells(html, "units") == [cell(r["units"]) for r in expected]
    assert cells(html, "step_name") == [r["step_name"] for r in expected]
    assert expected[0]["units"] > expected[-1]["units"] > 0  # numbers that could differ
    exported = client.get(f"/dashboard/funnel/csv?{query}&panel=0")
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.text == csv_text(expected)


def test_filters_compare_and_push_url(app: Any, world: tuple[Path, Workspace]) -> None:
    root, ws = world
    client, _, _ = login(app, root)
    full = client.get("/dashboard/touchpoints/csv?panel=0").text
    web = client.get("/dashboard/touchpoints/csv?panel=0&channel=web").text
    assert web == csv_text(ws.touchpoints(channel="web").records()) and web != full
    swapped = client.get("/dashboard/touchpoints?channel=web", headers={"HX-Request": "true"})
    assert swapped.headers["HX-Push-Url"] == "/dashboard/touchpoints?channel=web"
    last = ws.store.execute(ws.store.backend.table("journeys").start.max()).as_py().date()
    since, until = last - dt.timedelta(days=20), last + dt.timedelta(days=1)
    query = f"since={since}&until={until}&compare=1"
    page = shown(client, f"/dashboard/touchpoints?{query}")
    assert "Previous period" in page
    previous = client.get(f"/dashboard/touchpoints/csv?{query}&panel=0&period=previous").text
    before = ws.touchpoints(since=str(since - (until - since)), until=str(since)).records()
    assert previous == csv_text(before) and before
    current = client.get(f"/dashboard/touchpoints/csv?{query}&panel=0").text
    assert current == csv_text(ws.touchpoints(since=str(since), until=str(until)).records()) != previous
    bad = client.get("/dashboard/touchpoints?since=yesterday&until=2030-01-01&compare=1")
    assert bad.status_code == 400 and "since" in bad.json()["detail"]


def test_drill_down_from_a_transition_to_a_customer(app: Any, world: tuple[Path, Workspace]) -> None:
    root, ws = world
    client, _, _ = login(app, root)
    html = shown(client, "/dashboard/process-map")
    link = re.search(r'class="drill-journeys" href="([^"]+)"', html).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
    top = ws.dfg().records()[0]
    assert f"source={top['source']}" in link and f"target={top['target']}" in link
    journeys = shown(client, link)
    listed = cells(journeys, "journey_id")
    # the reference: journeys whose events have `source` directly followed by `target`
    je = ws.store.execute(ws.store.backend.table("journey_events")).to_pandas()
    events = ws.store.execute(ws.store.table("events").select("event_id", "touchpoint")).to_pandas()
    log = je.merge(events, on="event_id").sort_values(["journey_id", "step"])
    log["next"] = log.groupby("journey_id").touchpoint.shift(-1)
    behind = set(log[(log.touchpoint == top["source"]) & (log.next == top["target"])].journey_id)
    assert f"{len(behind)} journeys with {top['source']} then {top['target']}" in journeys
    assert set(listed) <= behind and len(listed) == min(len(behind), 50)
    customer = re.search(r'class="drill-customer" href="([^"]+)"', journeys).group(1)  # type: ignore[union-attr]
    profile = shown(client, customer.replace("&amp;", "&"))
    assert "Fill in key" not in profile
    assert cells(profile, "touchpoint") and cells(profile, "identifier_type")  # timeline, ids


def test_saved_view_round_trip_and_unknown_view(app: Any, world: tuple[Path, Workspace]) -> None:
    root, _ = world
    client, _, csrf = login(app, root)
    form = {"csrf": csrf, "name": "web-touchpoints", "page": "touchpoints", "query": "channel=web"}
    saved = client.post("/dashboard/views", data=form, follow_redirects=False)
    assert saved.status_code == 303
    stored = json.loads((root / "views" / "web-touchpoints.json").read_text())
    assert stored == {"page": "touchpoints", "query": {"channel": "web"}}
    opened = client.get("/dashboard/views/web-touchpoints")
    assert str(opened.url).endswith("/dashboard/touchpoints?channel=web")
    events = cells(shown(client, "/dashboard/views/web-touchpoints"), "events")
    assert events and events == cells(shown(client, "/dashboard/touchpoints?channel=web"), "events")
    assert "/dashboard/views/web-touchpoints" in opened.text  # listed in the navigation
    unknown = client.get("/dashboard/views/nope")
    assert unknown.status_code == 404 and unknown.headers["content-type"].startswith("application/problem")
    assert "web-touchpoints" in unknown.json()["hint"]
    (root / "views" / "broken.json").write_text('{"page": "nowhere"}')
    broken = client.get("/dashboard/views/broken")
    assert broken.status_code == 409 and "broken.json" in broken.json()["detail"]
    bad = client.post("/dashboard/views", data={**form, "name": "../x"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "name"


def test_csrf_is_required_on_every_form(app: Any, world: tuple[Path, Workspace]) -> None:
    root, _ = world
    client, token, csrf = login(app, root)
    form = {"name": "v", "page": "overview", "query": ""}
    for data in (form, {**form, "csrf": "wrong"}):
        refused = client.post("/dashboard/views", data=data)
        assert refused.status_code == 403 and "CSRF" in refused.json()["title"]
    assert client.post("/logout", data={}).status_code == 403
    bearer = {"Authorization": f"Bearer {token}"}  # forms need a session, not replayable credentials
    assert (
        TestClient(app).post("/dashboard/views", data={**form, "csrf": csrf}, headers=bearer).status_code
        == 403
    )
    stranger = TestClient(app)  # a login form posted without the form's own cookie
    assert stranger.post("/login", data={"token": token, "csrf": "x"}).status_code == 403
    out = client.post("/logout", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/dashboard/overview", follow_redirects=False).status_code == 303


def test_revoked_token_ends_its_sessions_and_bad_tokens_are_refused(
    app: Any, world: tuple[Path, Workspace]
) -> None:
    root, _ = world
    client, token, _ = login(app, root)
    key_id = token.split("_")[2]
    KeyStore(root / KEYS_FILE).revoke(key_id)
    gone = client.get("/dashboard/overview", follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"].startswith("/login?next=")
    page = TestClient(app).get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    again = TestClient(app, cookies=page.cookies)
    refused = again.post("/login", data={"token": token, "csrf": csrf})
    assert refused.status_code == 401 and 'role="alert"' in refused.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', refused.text).group(1)  # type: ignore[union-attr]
    write = KeyStore(root / KEYS_FILE).create("write").secret
    assert again.post("/login", data={"token": write, "csrf": csrf}).status_code == 401


def test_a_warm_panel_reuses_its_rows_and_figure(
    app: Any, world: tuple[Path, Workspace], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cached answer's rows and figure are made once: turning a large part into rows (a map
    check's verdicts at 1M events) took seconds on every warm load before."""
    from journeylens.server import dashboard_render

    made: list[str] = []
    rows, figure = dashboard_render._records, dashboard_render._figure
    monkeypatch.setattr(dashboard_render, "_records", lambda p, r: made.append("rows") or rows(p, r))
    monkeypatch.setattr(dashboard_render, "_figure", lambda r: made.append("figure") or figure(r))
    client, _, _ = login(app, world[0])
    first = shown(client, "/dashboard/paths?type=purchase")
    assert made == ["rows", "figure"]
    again = shown(client, "/dashboard/paths?type=purchase")
    plot_id = re.compile(r"plot-[0-9a-f]{12}")  # unique per render (htmx settling reuses ids)
    assert plot_id.sub("plot", again).replace(" (cached)", "") == plot_id.sub("plot", first)
    assert made == ["rows", "figure"]  # the second load made neither again
