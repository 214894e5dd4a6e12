"""Dashboard sessions: a random id in an HttpOnly, SameSite=Strict cookie names a credential kept
on the server, with the CSRF token every form of that session must send back.

The session keeps the token itself (in memory, never on disk) and verifies it on every request,
so revoking the token (``journeylens keys revoke``) ends its sessions at once. Sessions end on
logout, after ``ttl`` seconds, and when the server stops.

Example:
    >>> sessions = SessionStore()
    >>> sid = sessions.open("jl_r_...").id
    >>> sessions.get(sid).token
    'jl_r_...'
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field

__all__ = ["COOKIE", "LOGIN_COOKIE", "Session", "SessionStore", "same_secret"]

COOKIE = "jl_session"
LOGIN_COOKIE = "jl_login"
"""The login form's CSRF cookie (double submit): there is no session to hold it yet."""


def same_secret(sent: str | None, expected: str) -> bool:
    """Whether ``sent`` equals ``expected``, compared in constant time."""
    return bool(sent) and hmac.compare_digest(str(sent), expected)


@dataclass(frozen=True)
class Session:
    """One logged-in browser."""

    id: str
    token: str
    csrf: str
    started: float = field(default_factory=time.monotonic)


class SessionStore:
    """The open sessions of one server process."""

    def __init__(self, *, ttl: float = 12 * 3600) -> None:
        self.ttl = ttl
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def open(self, token: str) -> Session:
        session = Session(secrets.token_urlsafe(32), token, secrets.token_urlsafe(32))
        with self._lock:
            self._sessions[session.id] = session
        return session

    def get(self, sid: str | None) -> Session | None:
        """The live session ``sid`` names, or None (unknown or expired)."""
        if not sid:
            return None
        with self._lock:
            session = self._sessions.get(sid)
            if session is not None and time.monotonic() - session.started > self.ttl:
                del self._sessions[sid]
                return None
        return session

    def close(self, sid: str | None) -> None:
        with self._lock:
            self._sessions.pop(sid or "", None)
