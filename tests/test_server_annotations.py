"""Annotations on the dashboard's time series and auto-refresh, in process (FastAPI's TestClient):
the annotations.toml round trip, the dashboard forms (CSRF, validation naming the field), the
REST list, the overview's chart of journeys started per week with the annotation drawn and
listed, a broken file named with its line and field, and the data-version poll."""

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
from journeylens.errors import InputError
from journeylens.server.annotations import ANNOTATIONS_FILE, Annotation, add_annotation, load_annotations
from journeylens.server.app import ServerSettings, create_app
from journeylens.server.dashboard_timeline import annotate
from journeylens.server.keys import KEYS_FILE, KeyStore
from journeylens.server.runs import data_version
from journeylens.workspace import Workspace
from test_server_dashboard import login, shown


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Workspace]]:
    root = tmp_path_factory.mktemp("notes")
    _, ws = built_world(root, ["events", "identities", "customers", "feedback"], customers=30, seed=5)
    yield ws.root, ws
    ws.close()


@pytest.fixture(scope="module")
def app(world: tuple[Path, Workspace]) -> Any:
    return create_app(world[0], settings=ServerSettings(auth_failures_per_minute=1000))


@pytest.fixture()
def clean(world: tuple[Path, Workspace]) -> Iterator[Path]:
    (world[0] / ANNOTATIONS_FILE).unlink(missing_ok=True)
    yield world[0]
    (world[0] / ANNOTATIONS_FILE).unlink(missing_ok=True)


def _mid_week(ws: Workspace) -> dt.date:
    """A day inside the world's journeys (so the weekly chart's axis covers it)."""
    journeys = ws.store.backend.table("journeys")
    first = ws.store.execute(journeys.start.min()).as_py().date()
    last = ws.store.execute(journeys.start.max()).as_py().date()
    return first + (last - first) / 2


def test_file_round_trip_and_errors_name_file_line_and_field(tmp_path: Path) -> None:
    release = Annotation(date="2024-03-04", label=" release 4.2 ", description="new checkout")
    outage = Annotation(date="2024-02-10T09:30:00+01:00", label="billing outage", journey_type="support")
    add_annotation(tmp_path, release)
    notes = add_annotation(tmp_path, outage)
    assert [n.label for n in notes] == ["billing outage", "release 4.2"]  # date order, stripped
    assert notes[0].x == "2024-02-10 08:30:00" and notes[1].date == dt.date(2024, 3, 4)  # UTC
    assert load_annotations(tmp_path) == notes  # what was written reads back equal
    text = (tmp_path / ANNOTATIONS_FILE).read_text()
    assert text.startswith("#") and "[[annotation]]" in text and "date = 2024-03-04" in text
    with pytest.raises(InputError, match="already exists"):
        add_annotation(tmp_path, release)
    broken = text.replace('label = "release 4.2"', 'label = ""')
    (tmp_path / ANNOTATIONS_FILE).write_text(broken)
    line = broken.splitlines().index('label = ""') + 1
    with pytest.raises(InputError, match=rf"annotations.toml, line {line}: field 'annotation.1.label'"):
        load_annotations(tmp_path)
    (tmp_path / ANNOTATIONS_FILE).write_text("[[annotation]]\ndate = 2024-01-01\nlabel = 'x'\ncolour = 1\n")
    with pytest.raises(InputError, match=r"line 4: field 'annotation.0.colour': unknown field") as exc:
        load_annotations(tmp_path)
    assert "Hint" in str(exc.value) or exc.value.hint
    (tmp_path / ANNOTATIONS_FILE).write_text("[[annotation]\n")
    with pytest.raises(InputError, match="not valid TOML"):
        load_annotations(tmp_path)


def test_add_list_draw_and_remove_through_the_dashboard(
    app: Any, world: tuple[Path, Workspace], clean: Path
) -> None:
    root, ws = world
    client, token, csrf = login(app, root)
    day = _mid_week(ws)
    form = {"csrf": csrf, "date": day.isoformat(), "label": "release 4.2", "description": "new checkout",
            "next": "/dashboard/overview?channel=web"}  # fmt: skip
    added = client.post("/dashboard/annotations", data=form, follow_redirects=False)
    assert added.status_code == 303 and added.headers["location"] == "/dashboard/overview?channel=web"
    assert "release 4.2" in (root / ANNOTATIONS_FILE).read_text()  # a reviewable workspace file
    scoped = {**form, "label": "billing outage", "journey_type": "no_such_type", "page": "overview"}
    assert client.post("/dashboard/annotations", data=scoped, follow_redirects=False).status_code == 303

    api = client.get("/api/v1/annotations", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 200
    listed = api.json()["annotations"]
    assert [(n["label"], n["date"]) for n in listed] == [
        ("billing outage", day.isoformat()),
        ("release 4.2", day.isoformat()),
    ]
    csv = client.get(
        "/api/v1/annotations", headers={"Authorization": f"Bearer {token}", "Accept": "text/csv"}
    )
    assert csv.text.splitlines()[0] == "id,date,label,description,journey_type,page"
    assert client.get("/dashboard/annotations/csv").text == csv.text

    html = shown(client, "/dashboard/overview")
    plot_id = re.search(r'id="(plot-\w+)-title">Journeys started per week<', html)
    assert plot_id is not None
    spec = re.search(rf'id="{plot_id.group(1)}-spec">(.*?)</script>', html, re.S)
    assert spec is not None and f'class="jl-plot" id="{plot_id.group(1)}"' in html
    figure = json.loads(spec.group(1).replace("<\\/", "</"))
    assert {t["name"] for t in figure["data"]} >= {"success", "abandoned"}
    assert [a["text"] for a in figure["layout"]["annotations"]] == ["billing outage", "release 4.2"]
    assert [s["x0"] for s in figure["layout"]["shapes"]] == [day.isoformat()] * 2
    assert "Annotations on this chart" in html and "<strong>release 4.2</strong>: new checkout" in html
    # a journey-type filter hides an annotation scoped to another type; the list follows the chart
    filtered = client.get("/dashboard/overview/panel/2?type=purchase").text
    assert "release 4.2" in filtered and "billing outage" not in filtered
    # the chart's bars are the summary's numbers
    weekly = ws.journeys_summary(by="period", period="week").rows
    bars = {t["name"]: t["y"] for t in figure["data"]}
    assert sum(sum(v) for v in bars.values()) == sum(r["journeys"] for r in weekly)
    assert bars["success"] == [r["success_n"] for r in sorted(weekly, key=lambda r: r["group"])]

    contacts = shown(client, "/dashboard/contacts")  # contacts per period: a time series too
    assert contacts.count("<strong>release 4.2</strong>") == 2  # on its chart, and in the admin list
    assert '"text": "release 4.2"' in contacts or '"text":"release 4.2"' in contacts
    note_id = next(n["id"] for n in listed if n["label"] == "release 4.2")
    gone = client.post(
        f"/dashboard/annotations/{note_id}/delete", data={"csrf": csrf}, follow_redirects=False
    )
    assert gone.status_code == 303 and gone.headers["location"] == "/dashboard/overview"
    assert [n.label for n in load_annotations(root)] == ["billing outage"]
    again = client.post(f"/dashboard/annotations/{note_id}/delete", data={"csrf": csrf})
    assert again.status_code == 404 and "billing outage" in again.json()["hint"]


def test_annotate_draws_only_inside_the_time_axis() -> None:
    monitor = json.dumps({"data": [{"x": ["2024-03-04T00:00:00", "2024-03-11T00:00:00"], "y": [1, 2]}]})
    notes = [
        Annotation(date="2024-03-01", label="before"),
        Annotation(date="2024-03-12T23:00:00Z", label="inside the last week"),
        Annotation(date="2024-03-18", label="after"),
    ]
    drawn, shown_notes = annotate(monitor, notes)
    assert [n.label for n in shown_notes] == ["inside the last week"]
    layout = json.loads(drawn or "")["layout"]
    assert (
        layout["shapes"][0]["x0"] == "2024-03-12 23:00:00"
        and layout["annotations"][0]["text"] == "inside the last week"
    )
    assert annotate(json.dumps({"data": [{"x": [], "y": []}]}), notes)[1] == []  # no axis, no lines
    assert annotate(None, notes) == (None, [])


def test_bad_annotations_are_refused_naming_the_field(
    app: Any, world: tuple[Path, Workspace], clean: Path
) -> None:
    root, _ = world
    client, token, csrf = login(app, root)
    good = {"csrf": csrf, "date": "2024-03-04", "label": "release"}
    for change, field in (
        ({"date": "yesterday"}, "date"),
        ({"date": "2024-02-30"}, "date"),
        ({"label": "   "}, "label"),
        ({"label": "x" * 81}, "label"),
        ({"page": "nowhere"}, "page"),
    ):
        refused = client.post("/dashboard/annotations", data={**good, **change})
        assert refused.status_code == 400, change
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in refused.json()["errors"]] == [field], change
    missing = client.post("/dashboard/annotations", data={"csrf": csrf, "label": "x"})
    assert missing.status_code == 400 and missing.json()["errors"][0]["field"] == "date"
    assert client.post("/dashboard/annotations", data=good, follow_redirects=False).status_code == 303
    twice = client.post("/dashboard/annotations", data=good)
    assert twice.status_code == 409 and "already exists" in twice.json()["detail"]
    # CSRF: a form without this session's token, or sent with a header credential, is refused
    for data in ({k: v for k, v in good.items() if k != "csrf"}, {**good, "csrf": "wrong"}):
        assert client.post("/dashboard/annotations", data={**data, "label": "other"}).status_code == 403
    bearer = {"Authorization": f"Bearer {token}"}
    assert TestClient(app).post("/dashboard/annotations", data=good, headers=bearer).status_code == 403
    note_id = load_annotations(root)[0].id
    assert client.post(f"/dashboard/annotations/{note_id}/delete", data={}).status_code == 403
    assert len(load_annotations(root)) == 1  # nothing refused was written or removed
    # a hand-edited file that is broken: the API names file, line and field; the page says so too
    (root / ANNOTATIONS_FILE).write_text("[[annotation]]\ndate = 2024-03-04\nlabel = 'ok'\npage = 3\n")
    broken = client.get("/api/v1/annotations", headers=bearer)
    assert broken.status_code == 409
    assert "annotations.toml, line 4: field 'annotation.0.page'" in broken.json()["detail"]
    page = client.get("/dashboard/overview")
    assert page.status_code == 200 and 'role="alert">' in page.text and "line 4" in page.text
    kept = client.post("/dashboard/annotations", data={**good, "label": "new"})
    assert kept.status_code == 409 and "line 4" in kept.json()["detail"]  # nothing overwritten
    assert "page = 3" in (root / ANNOTATIONS_FILE).read_text()


def test_version_poll_and_auto_refresh_control(app: Any, world: tuple[Path, Workspace]) -> None:
    root, ws = world
    client, _, _ = login(app, root)
    now = data_version(ws)
    same = client.get("/dashboard/version", params={"seen": now})
    assert same.json() == {"version": now, "changed": False, "busy": False}
    assert "HX-Trigger" not in same.headers and same.headers["cache-control"] == "no-store"
    moved = client.get("/dashboard/version", params={"seen": "0000"})
    assert moved.json()["changed"] and moved.headers["HX-Trigger"] == "jl-data-changed"
    off = client.get("/dashboard/overview").text
    assert "/dashboard/version" not in off and 'name="refresh"' in off
    on = client.get("/dashboard/overview?refresh=1m").text
    poll = re.search(r'hx-get="/dashboard/version\?seen=(\w+)" hx-trigger="every (\d+)s"', on)
    assert poll is not None and poll.group(1) == now and int(poll.group(2)) == 60
    assert '<option value="1m" selected>' in on
    five = client.get("/dashboard/touchpoints?refresh=5m").text
    assert 'hx-trigger="every 300s"' in five
    # the pages with a chart over time offer the annotation form; the others do not
    for slug, offered in (("overview", True), ("contacts", True), ("maps", True), ("touchpoints", False)):
        assert ('id="annotations-title"' in client.get(f"/dashboard/{slug}").text) is offered, slug
    bad = client.get("/dashboard/overview?refresh=5s")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "refresh"
    anonymous = TestClient(app).get("/dashboard/version", follow_redirects=False)
    assert anonymous.status_code == 303
    write = KeyStore(root / KEYS_FILE).create("write").secret
    assert (
        TestClient(app).get("/dashboard/version", headers={"Authorization": f"Bearer {write}"}).status_code
        == 403
    )
