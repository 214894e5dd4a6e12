"""Who is calling: the credential of a request, its scopes, and a limit on failed attempts.

A credential comes as HTTP Basic (the username is the key and the password is empty, as Segment's
SDKs send a write key) or as ``Authorization: Bearer TOKEN``. The collector also accepts the
``writeKey`` member of a body (older SDKs); it calls :meth:`Guard.check` with that token itself.
Every endpoint except ``/health`` depends on :func:`require` with the scope it needs.

Dashboard pages depend on :func:`require_page` instead: it also accepts the session cookie of
:mod:`.sessions` and sends a browser without one to the login page (303) rather than a 401.

Failed attempts are limited per client address: after ``limit`` failures in ``window`` seconds the
client gets 429 with ``Retry-After`` until the window has passed, which turns guessing into a crawl.
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from fastapi import Request

from journeylens.server.keys import Credential, KeyStore
from journeylens.server.problems import Problem
from journeylens.server.sessions import COOKIE

__all__ = ["Guard", "require", "require_page", "token_from_header"]

_CHALLENGE = {"WWW-Authenticate": 'Basic realm="journeylens", Bearer'}


def token_from_header(value: str | None) -> str | None:
    """The key in an ``Authorization`` header (Basic username or Bearer token), if any."""
    if not value:
        return None
    scheme, _, rest = value.strip().partition(" ")
    rest = rest.strip()
    if scheme.lower() == "bearer":
        return rest or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(rest, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        return decoded.partition(":")[0] or None
    return None


class Guard:
    """Verifies credentials against the key store and limits failed attempts per client."""

    def __init__(self, keys: KeyStore, *, limit: int = 20, window: float = 60.0) -> None:
        self.keys = keys
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self._failures.setdefault(client, deque())
        while times and now - times[0] > self.window:
            times.popleft()
        return times

    def check(self, token: str | None, scope: str, client: str) -> Credential:
        """The credential for ``token`` if it may use ``scope``; else a 401/403/429 problem."""
        now = time.monotonic()
        with self._lock:
            times = self._recent(client, now)
            if len(times) >= self.limit:
                wait = max(1, int(self.window - (now - times[0])) + 1)
                raise Problem(
                    429,
                    None,
                    "Too many failed authentication attempts from this address.",
                    headers={"Retry-After": str(wait)},
                )
        credential = self.keys.verify(token) if token else None
        if credential is None:
            with self._lock:
                self._recent(client, now).append(now)
            what = (
                "No credential was sent" if not token else "The credential is unknown, revoked or malformed"
            )
            raise Problem(
                401,
                None,
                f"{what}.",
                headers=_CHALLENGE,
                hint="Send a key as HTTP Basic username or a Bearer token; "
                "create one with `journeylens keys create`.",
            )
        if scope not in credential.scopes:
            raise Problem(
                403,
                None,
                f"A {credential.kind} key cannot do this (needs scope {scope!r}).",
                hint="Write keys only send events; read tokens only query; "
                "deleting people needs an admin token.",
            )
        return credential


def require(scope: str) -> Callable[[Request], Awaitable[Credential]]:
    """A FastAPI dependency: the caller's credential, which must carry ``scope``."""

    async def dependency(request: Request) -> Credential:
        guard: Guard = request.app.state.ctx.guard
        client = request.client.host if request.client else "unknown"
        return guard.check(token_from_header(request.headers.get("authorization")), scope, client)

    dependency.__name__ = f"require_{scope}"
    return dependency


def require_page(scope: str) -> Callable[[Request], Awaitable[Credential]]:
    """Like :func:`require`, for dashboard pages: an ``Authorization`` header is checked as there;
    otherwise the session cookie must name a live session whose token still verifies (a revoked
    token ends its sessions), else the browser is sent to ``/login`` (303). The session is left in
    ``request.state.session`` for the CSRF check of forms."""

    async def dependency(request: Request) -> Credential:
        ctx = request.app.state.ctx
        header = token_from_header(request.headers.get("authorization"))
        if request.headers.get("authorization") is not None:
            client = request.client.host if request.client else "unknown"
            return ctx.guard.check(header, scope, client)
        session = ctx.sessions.get(request.cookies.get(COOKIE))
        credential = ctx.keys.verify(session.token) if session is not None else None
        if session is not None and credential is None:
            ctx.sessions.close(session.id)
        if credential is None:
            back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            login = "/login?next=" + quote(back, safe="")
            raise Problem(
                303,
                "Log in",
                "Log in with a read token to use the dashboard.",
                headers={"Location": login, "HX-Redirect": login},
            )
        if scope not in credential.scopes:
            raise Problem(403, None, f"A {credential.kind} key cannot do this (needs scope {scope!r}).")
        request.state.session = session
        return credential

    dependency.__name__ = f"require_{scope}"
    dependency.login_redirect = True  # type: ignore[attr-defined]  # read by the route walk test
    return dependency
