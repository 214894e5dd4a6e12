"""A workspace with write keys and a collector app, shared by the collector tests."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from journeylens.server.app import ServerSettings, create_app
from journeylens.server.keys import KEYS_FILE, KeyStore
from journeylens.workspace import Workspace


@dataclass
class World:
    root: Path
    web: str
    """Write key of source ``web`` (channel web)."""
    bare: str
    """Write key of source ``backend`` with no channel."""
    apps: list[FastAPI] = field(default_factory=list)

    def close(self) -> None:
        """Stop every app's collector threads (a clean shutdown, which stores what is left)."""
        for application in self.apps:
            application.state.ctx.close()


def world(tmp: Path) -> World:
    root = tmp / "ws"
    Workspace.init(root).close()
    keys = KeyStore(root / KEYS_FILE)
    web = keys.create("write", source="web", channel="web").secret
    bare = keys.create("write", source="backend").secret
    return World(root, web, bare)


def app(w: World, **settings: Any) -> FastAPI:
    application = create_app(w.root, settings=ServerSettings(auth_failures_per_minute=100_000, **settings))
    w.apps.append(application)
    return application


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def stored(application: FastAPI, table: str) -> list[dict[str, Any]]:
    """Rows of ``table`` once everything acknowledged is stored."""
    application.state.collector.drain()
    store = application.state.ctx.workspace.store
    with application.state.ctx.runner.lock:
        rows: list[dict[str, Any]] = store.execute(store.table(table)).to_pylist()
    return rows
