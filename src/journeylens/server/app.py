"""The one FastAPI app ``journeylens serve`` runs: ``/health``, then the parts listed in
:data:`PARTS` (collector, REST API, dashboard), each installed with the shared context.

A part is a module with ``install(app: FastAPI, ctx: ServerContext) -> None`` that adds its routes;
every route it adds (except ``/health``) must depend on :func:`journeylens.server.auth.require`.
The context holds the workspace, its key store and the guard; one process owns the workspace's
store (DuckDB allows one writer), so ``--workers`` above 1 is for parts that do not touch it.

Example:
    >>> from fastapi.testclient import TestClient  # doctest: +SKIP
    >>> TestClient(create_app("demo-ws")).get("/health").json()  # doctest: +SKIP
    {'status': 'ok'}
"""

from __future__ import annotations

import importlib
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from journeylens import __version__
from journeylens.server.auth import Guard
from journeylens.server.keys import KEYS_FILE, KeyStore
from journeylens.server.problems import install_handlers
from journeylens.server.runs import AnalysisRunner
from journeylens.server.sessions import SessionStore

if TYPE_CHECKING:
    from journeylens.workspace import Workspace

__all__ = ["PARTS", "ServerContext", "ServerSettings", "app_from_env", "create_app"]

WORKSPACE_ENV = "JOURNEYLENS_WORKSPACE"

PARTS: tuple[str, ...] = (
    "journeylens.server.collector",  # the Segment tracking API (docs/collector.md)
    "journeylens.server.api",  # one endpoint per registry analysis (docs/api.md)
    "journeylens.server.admin",  # DELETE /v1/users/{id}: forget a person (docs/privacy.md)
    "journeylens.server.dashboard_annotations",  # annotations, auto-refresh (before /dashboard/{page})
    "journeylens.server.dashboard",  # the web dashboard (docs/dashboard.md)
)
"""Modules whose ``install(app, ctx)`` adds their routes, in order."""


@dataclass(frozen=True)
class ServerSettings:
    """How the server runs; the ``serve`` command's options."""

    host: str = "127.0.0.1"
    port: int = 8321
    workers: int = 1
    cors_origins: tuple[str, ...] = ()
    auth_failures_per_minute: int = 20


@dataclass
class ServerContext:
    """What every part of the app shares."""

    root: Path
    settings: ServerSettings
    keys: KeyStore
    guard: Guard
    _workspace: Workspace | None = field(default=None, repr=False)
    _runner: AnalysisRunner | None = field(default=None, repr=False)
    sessions: SessionStore = field(default_factory=SessionStore, repr=False)
    """Dashboard sessions (in memory: they end when the server stops)."""
    on_close: list[Callable[[], None]] = field(default_factory=list, repr=False)
    """Called (last added first) when the server stops, before the workspace closes."""

    @property
    def runner(self) -> AnalysisRunner:
        """Runs registry analyses for every part, serially and cached per data version."""
        if self._runner is None:
            self._runner = AnalysisRunner(self.workspace)
        return self._runner

    @property
    def workspace(self) -> Workspace:
        """The workspace, opened on first use (so ``/health`` never touches the store)."""
        if self._workspace is None:
            from journeylens.workspace import Workspace

            self._workspace = Workspace.open(self.root)
        return self._workspace

    def close(self) -> None:
        while self.on_close:
            self.on_close.pop()()
        if self._workspace is not None:
            self._workspace.close()
            self._workspace = None
            self._runner = None


def create_app(root: str | Path, *, settings: ServerSettings | None = None) -> FastAPI:
    """The app for the workspace at ``root`` (which must exist)."""
    from journeylens.workspace import Workspace

    settings = settings or ServerSettings()
    workspace = Workspace.open(root)  # fails now, with the CLI's message, when there is none
    keys = KeyStore(workspace.root / KEYS_FILE)
    ctx = ServerContext(
        workspace.root, settings, keys, Guard(keys, limit=settings.auth_failures_per_minute), workspace
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        ctx.close()

    app = FastAPI(
        lifespan=lifespan,
        title="JourneyLens",
        version=__version__,
        summary="Customer journey analytics: collector, REST API and dashboard.",
        # No public schema or docs pages: every route but /health needs a credential; the API part
        # serves its schema behind a read token.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.ctx = ctx
    install_handlers(app)
    if settings.cors_origins:  # closed unless origins are configured
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "Content-Encoding"],
            max_age=600,
        )

    @app.get("/health", tags=["health"], summary="Liveness: the server answers (no credential needed).")
    async def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    for part in PARTS:
        importlib.import_module(part).install(app, ctx)

    return app


def app_from_env() -> FastAPI:
    """The app for ``uvicorn --factory`` (more than one worker): the workspace comes from
    ``JOURNEYLENS_WORKSPACE``."""
    return create_app(os.environ.get(WORKSPACE_ENV, "."))
