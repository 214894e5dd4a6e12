"""Credentials for `journeylens serve`: keys stored as hashes, scopes, revocation, failed-attempt
limits, and every route of the app (except /health) refusing anonymous, wrong-scope and revoked
credentials. The route walk reads the app itself, so routes added later are covered too."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from journeylens.cli.app import app as cli
from journeylens.errors import InputError
from journeylens.server.app import ServerSettings, create_app
from journeylens.server.auth import token_from_header
from journeylens.server.keys import KEYS_FILE, KeyStore
from journeylens.workspace import Workspace

PUBLIC = {"/health", "/login"}
# a key of another kind for each scope a route may require
WRONG = {"write": "read", "read": "write", "admin": "read"}


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    Workspace.init(tmp_path / "ws").close()
    return tmp_path / "ws"


def _basic(token: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{token}:".encode()).decode()}


def _scope(route: APIRoute) -> str:
    names = [d.call.__name__ for d in route.dependant.dependencies if d.call is not None]
    scopes = [n.removeprefix("require_") for n in names if n.startswith("require_")]
    assert scopes, f"{route.path} {sorted(route.methods)} has no credential check (auth.require)"
    return scopes[0]


def _sends_to_login(route: APIRoute) -> bool:
    """Dashboard pages (auth.require_page) may answer a browser without a credential with a 303 to
    /login instead of a 401; everything else about them is checked as for any route."""
    return any(getattr(d.call, "login_redirect", False) for d in route.dependant.dependencies)


def test_keys_are_hashed_scoped_and_revocable(root: Path) -> None:
    store = KeyStore(root / KEYS_FILE)
    write = store.create("write", source="web", channel="web", name="site")
    read = store.create("read")
    admin = store.create("admin")
    text = (root / KEYS_FILE).read_text()
    for issued in (write, read, admin):
        assert issued.secret not in text and issued.secret.split("_")[-1] not in text
    assert store.verify(write.secret).scopes == {"write"}  # type: ignore[union-attr]
    assert store.verify(write.secret).source == "web"  # type: ignore[union-attr]
    assert store.verify(read.secret).scopes == {"read"}  # type: ignore[union-attr]
    assert store.verify(admin.secret).scopes == {"read", "admin"}  # type: ignore[union-attr]
    # a wrong secret with a right id, a kind letter swapped, garbage: all refused
    assert store.verify(read.secret[:-2] + ("AA" if not read.secret.endswith("AA") else "BB")) is None
    assert store.verify(read.secret.replace("jl_r_", "jl_a_")) is None
    assert store.verify("nonsense") is None and store.verify("") is None
    store.revoke(read.record.id)
    assert store.verify(read.secret) is None
    assert KeyStore(root / KEYS_FILE).verify(read.secret) is None  # persisted


def test_key_errors_name_the_problem(root: Path) -> None:
    store = KeyStore(root / KEYS_FILE)
    with pytest.raises(InputError, match=r"Unknown key kind 'wirte'.*\n.*write"):
        store.create("wirte")
    with pytest.raises(InputError, match="belong to write keys"):
        store.create("read", source="web")
    with pytest.raises(InputError, match="Source name"):
        store.create("write", source="no spaces")
    with pytest.raises(InputError, match="No key with id"):
        store.revoke("abc")
    (root / KEYS_FILE).write_text("{not json")
    with pytest.raises(InputError, match="key file is not valid"):
        store.records()


def test_header_parsing() -> None:
    assert token_from_header("Bearer abc") == "abc"
    assert token_from_header(_basic("jl_w_x")["Authorization"]) == "jl_w_x"
    for bad in (
        None,
        "",
        "Basic !!!",
        "Basic " + base64.b64encode(b"\xff\xfe").decode(),
        "Digest x",
        "Bearer ",
    ):
        assert token_from_header(bad) is None


def test_every_route_refuses_anonymous_wrong_scope_and_revoked(root: Path) -> None:
    store = KeyStore(root / KEYS_FILE)
    good = {kind: store.create(kind, **({"source": "web"} if kind == "write" else {})) for kind in WRONG}
    revoked = {kind: store.create(kind, **({"source": "web"} if kind == "write" else {})) for kind in WRONG}
    for issued in revoked.values():
        store.revoke(issued.record.id)
    app = create_app(root, settings=ServerSettings(auth_failures_per_minute=10_000))
    client = TestClient(app)
    assert client.get("/health").json()["status"] == "ok"
    routes = [r for r in app.routes if isinstance(r, APIRoute) and r.path not in PUBLIC]
    for route in routes:
        scope = _scope(route)
        path = re.sub(r"\{[^}]+\}", "x", route.path)
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            attempts = {
                "anonymous": ({}, 401),
                "revoked": (_basic(revoked[scope].secret), 401),
                "wrong scope": (_basic(good[WRONG[scope]].secret), 403),
            }
            for what, (headers, refused) in attempts.items():
                status = refused
                response = client.request(
                    method, path, headers=headers, content=b"{}", follow_redirects=False
                )
                if status == 401 and _sends_to_login(route) and response.status_code == 303:
                    assert response.headers["location"].startswith("/login?next="), route.path
                    status = 303
                assert response.status_code == status, (method, route.path, what, response.text)
                assert response.headers["content-type"].startswith("application/problem+json")
                body = response.json()
                assert body["status"] == status and body["detail"]
    assert any(_sends_to_login(r) for r in routes)  # the dashboard's pages were walked too
    # the app has no public schema or docs pages
    assert client.get("/openapi.json").status_code == 404
    assert client.get("/docs").status_code == 404


def test_failed_attempts_are_rate_limited(root: Path) -> None:
    app = create_app(root, settings=ServerSettings(auth_failures_per_minute=3))
    guard = app.state.ctx.guard
    from journeylens.server.problems import Problem

    for _ in range(3):
        with pytest.raises(Problem) as refused:
            guard.check("jl_r_000000000000_" + "A" * 43, "read", "10.0.0.1")
        assert refused.value.status == 401
    with pytest.raises(Problem) as limited:
        guard.check(None, "read", "10.0.0.1")
    assert limited.value.status == 429 and int(limited.value.headers["Retry-After"]) >= 1
    # another address is not affected
    with pytest.raises(Problem) as other:
        guard.check(None, "read", "10.0.0.2")
    assert other.value.status == 401


def test_keys_cli(root: Path) -> None:
    runner = CliRunner()
    made = runner.invoke(
        cli, ["keys", "create", "write", "--source", "web", "--channel", "web", "-w", str(root)]
    )
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip().splitlines()[-1]
    assert secret.startswith("jl_w_")
    listed = runner.invoke(cli, ["keys", "list", "-w", str(root), "--format", "json"])
    rows = json.loads(listed.stdout)
    assert rows[0]["source"] == "web" and "hash" not in rows[0] and secret not in listed.stdout
    gone = runner.invoke(cli, ["keys", "revoke", rows[0]["id"], "-w", str(root)])
    assert gone.exit_code == 0
    assert KeyStore(root / KEYS_FILE).verify(secret) is None
    bad = runner.invoke(cli, ["keys", "create", "reed", "-w", str(root)])
    assert isinstance(bad.exception, InputError) and "Did you mean read?" in str(bad.exception)
