"""The REST API on a small built world: answers equal the Python API's, CSV equals the CLI's,
pagination, cache and data-version headers, problem details for bad options, and the committed
OpenAPI schema."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from conftest import built_world
from journeylens.analyses import ANALYSES
from journeylens.cli._commands import command_options
from journeylens.cli._output import json_bytes
from journeylens.cli.app import app as cli
from journeylens.server.api import api_schema, openapi_text
from journeylens.server.api_requests import LOCAL_FILES, NOT_SERVED, endpoint_path, served
from journeylens.server.app import ServerSettings, create_app
from journeylens.server.keys import KEYS_FILE, KeyStore
from journeylens.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Workspace, Path]]:
    root = tmp_path_factory.mktemp("api")
    _, ws = built_world(root, ["events", "identities", "feedback"], customers=120, seed=11)
    ws.close()
    token = KeyStore(root / "ws" / KEYS_FILE).create("read").secret
    app = create_app(root / "ws", settings=ServerSettings(auth_failures_per_minute=10_000))
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as client:
        yield client, app.state.ctx.workspace, root / "ws"


def _plain(value: Any) -> Any:
    return json.loads(json_bytes(value))


def _same(a: Any, b: Any) -> bool:
    """Equal, floats to 1e-9 relative: the engine sums in parallel, so two runs of one analysis may
    differ in the last bits of a mean."""
    if isinstance(a, float) or isinstance(b, float):
        return (
            isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(a, b, rel_tol=1e-9)
        )
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@pytest.mark.parametrize(
    ("path", "params", "method", "kwargs"),
    [
        ("journeys/summary", {"by": "channel"}, "journeys_summary", {"by": "channel"}),
        ("dfg", {"type": ["purchase"], "min_count": 2}, "dfg", {"type": "purchase", "min_count": 2}),
        ("variants", {"limit": 4}, "variants", {"limit": 4}),
        ("funnel", {"steps": ["home", "checkout"], "window": "2h"}, "funnel", {"window": "2h", "steps": ["home", "checkout"]}),  # noqa: E501
        ("paths", {"steps": 3, "top": 4}, "paths", {"steps": 3, "top": 4}),
        ("touchpoints", {"channel": ["web", "app"]}, "touchpoints", {"channel": ["web", "app"]}),
        ("feedback/scores", {"by": "channel"}, "feedback_scores", {"by": "channel"}),
        ("contacts", {"view": "repeats"}, "contacts", {"view": "repeats"}),
    ],
)  # fmt: skip
def test_get_and_post_equal_the_python_api(
    api: tuple[TestClient, Workspace, Path],
    path: str,
    params: dict[str, Any],
    method: str,
    kwargs: dict[str, Any],
) -> None:
    client, ws, _ = api
    analysis = next(a for a in ANALYSES.values() if a.method == method)
    expected = getattr(getattr(ws, method)(**kwargs), analysis.json)
    expected = _plain(expected() if callable(expected) else expected)
    got = client.get(f"/api/v1/{path}", params=params)
    assert got.status_code == 200, got.text
    assert _same(got.json(), expected)
    assert got.headers["x-data-version"] and got.headers["x-cache"] in ("hit", "miss")
    posted = client.post(f"/api/v1/{path}", json=params)
    assert posted.status_code == 200, posted.text
    assert _same(posted.json(), expected)
    assert posted.headers["x-cache"] == "hit"  # the same spec, from either surface
    assert posted.headers["x-data-version"] == got.headers["x-data-version"]


def test_customer_and_path_segments(api: tuple[TestClient, Workspace, Path]) -> None:
    client, ws, _ = api
    customer = ws.store.execute(ws.store.backend.table("journeys").customer_id.max()).as_py()
    got = client.get(f"/api/v1/customer/{customer}", params={"limit": 5})
    assert got.status_code == 200, got.text
    assert _same(got.json(), _plain(ws.customer(customer, limit=5).to_dict()))
    missing = client.get("/api/v1/customer/nobody-at-all")
    assert missing.status_code == 404 and "No customer 'nobody-at-all'" in missing.json()["detail"]


def test_csv_equals_the_cli(api: tuple[TestClient, Workspace, Path]) -> None:
    client, _, root = api
    for args, params in (
        (["variants", "--limit", "5"], {"limit": 5}),
        (["journeys", "summary", "--by", "channel"], {"by": "channel"}),
        (["dfg", "--type", "support"], {"type": "support"}),
    ):
        cli_out = CliRunner().invoke(cli, [*args, "-f", "csv", "-w", str(root)])
        assert cli_out.exit_code == 0, cli_out.output
        path = "/".join(a for a in args if a.isalpha() and a not in params.values())
        got = client.get(f"/api/v1/{path}", params=params, headers={"Accept": "text/csv"})
        assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
        assert _same(_cells(got.text), _cells(cli_out.stdout))


def _cells(text: str) -> list[list[Any]]:
    """CSV cells, numbers as floats (compared by :func:`_same`)."""

    def cell(value: str) -> Any:
        try:
            return float(value)
        except ValueError:
            return value

    return [[cell(v) for v in row] for row in csv.reader(io.StringIO(text))]


def test_pagination_of_lists(api: tuple[TestClient, Workspace, Path]) -> None:
    client, _, _ = api
    whole = client.get("/api/v1/journeys/summary", params={"by": "channel"})
    total = len(whole.json())
    assert total >= 3 and whole.headers["x-total-count"] == str(total) and "link" not in whole.headers
    pages: list[Any] = []
    url: str | None = "/api/v1/journeys/summary?by=channel&page_limit=2"
    for _ in range(total):  # bounded: at most one page per row
        if url is None:
            break
        page = client.get(url)
        assert page.status_code == 200 and page.headers["x-total-count"] == str(total)
        assert len(page.json()) <= 2
        pages.extend(page.json())
        link = page.headers.get("link")
        url = link.split(">")[0].lstrip("<") if link else None
    assert pages == whole.json()
    csv_accept = {"Accept": "text/csv"}
    page = client.get("/api/v1/variants", params={"page_offset": 2, "page_limit": 3}, headers=csv_accept)
    every = client.get("/api/v1/variants", headers=csv_accept)
    assert list(csv.DictReader(io.StringIO(page.text))) == list(csv.DictReader(io.StringIO(every.text)))[2:5]
    bad = client.get("/api/v1/variants", params={"page_limit": 0})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "page_limit"


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["detail"]
    return body


def test_bad_options_are_problems_naming_the_field(api: tuple[TestClient, Workspace, Path]) -> None:
    client, _, _ = api
    unknown = _problem(client.get("/api/v1/variants", params={"limt": 3}), 400)
    assert unknown["errors"][0]["field"] == "limt" and "not permitted" in unknown["detail"]
    assert _problem(client.post("/api/v1/variants", json={"limt": 3}), 400)["errors"][0]["field"] == "limt"
    for wrong in (
        client.get("/api/v1/variants", params={"limit": "false"}),
        client.post("/api/v1/variants", json={"limit": False}),
        client.post("/api/v1/variants", json={"limit": "3"}),
    ):
        assert _problem(wrong, 400)["errors"][0]["field"] == "limit"  # never coerced
    out_of_range = _problem(client.get("/api/v1/dfg", params={"min_count": 0}), 400)
    assert out_of_range["field"] == "min_count" and "greater than or equal to 1" in out_of_range["detail"]
    enum = _problem(client.get("/api/v1/journeys/summary", params={"by": "colour"}), 400)
    assert enum["errors"][0]["field"] == "by"
    assert _problem(client.get("/api/v1/no/such/analysis"), 404)
    assert _problem(client.post("/api/v1/funnel", json={}), 400)["errors"][0]["field"] == "steps"
    for content, kind in (
        (b"not json", "text/plain"),
        (b"{broken", "application/json"),
        (b"[1]", "application/json"),
    ):
        _problem(client.post("/api/v1/nba", content=content, headers={"Content-Type": kind}), 400)


def test_nothing_selected_says_what_the_cli_says(api: tuple[TestClient, Workspace, Path]) -> None:
    client, _, root = api
    body = _problem(client.get("/api/v1/dfg", params={"type": "no_such_type"}), 400)
    # schemathesis found the emotion curve answering 200 (an empty curve) to ?type=false
    assert _problem(client.get("/api/v1/feedback/emotion", params={"type": "false"}), 400)["detail"] == (
        body["detail"].replace("no_such_type", "false")
    )
    cli_out = CliRunner().invoke(cli, ["dfg", "--type", "no_such_type", "-w", str(root)])
    assert cli_out.exit_code != 0
    assert body["detail"] in " ".join(cli_out.output.split()) or body["detail"] in " ".join(
        str(cli_out.exception).split()
    )


def test_server_files_are_refused(api: tuple[TestClient, Workspace, Path]) -> None:
    client, _, _ = api
    for path, name in (("attribution", "paths"), ("backlog", "markdown"), ("nba", "actions")):
        for response in (
            client.get(f"/api/v1/{path}", params={name: "/etc/passwd"}),
            client.post(f"/api/v1/{path}", json={name: "/etc/passwd"}),
        ):
            assert _problem(response, 400)["field"] == name
    assert _problem(client.get("/api/v1/map/check/secret.yaml"), 400)["field"] == "map"
    assert _problem(client.get("/api/v1/feedback/scores", params={"by": "stage", "map": "/tmp/x.yaml"}), 400)
    unknown_map = _problem(client.get("/api/v1/map/check/nomap"), 400)
    assert "nomap" in unknown_map["detail"]


def test_every_analysis_is_served_or_says_why_not(api: tuple[TestClient, Workspace, Path]) -> None:
    client, _, _ = api
    routes = {(r.path, m) for r in client.app.routes if isinstance(r, APIRoute) for m in r.methods}  # type: ignore[attr-defined]
    for analysis in served():
        assert (endpoint_path(analysis), "GET") in routes and (endpoint_path(analysis), "POST") in routes
    assert set(ANALYSES) == {a.name for a in served()} | set(NOT_SERVED)
    for name, names in LOCAL_FILES.items():
        assert set(names) <= {o.name for o in command_options(ANALYSES[name])}, name


def test_openapi_is_served_to_readers_and_committed(api: tuple[TestClient, Workspace, Path]) -> None:
    client, _, _ = api
    served_schema = client.get("/api/v1/openapi.json").json()
    assert served_schema == api_schema(client.app)  # type: ignore[arg-type]
    assert served_schema["openapi"].startswith("3.1")
    assert client.get("/api/v1/openapi.json", headers={"Authorization": ""}).status_code == 401
    assert (REPO / "docs" / "openapi.json").read_text() == openapi_text(), (
        "docs/openapi.json is stale: run `python -m journeylens._docs`"
    )
