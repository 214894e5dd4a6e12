"""Every HTTP error as RFC 9457 problem details, translated here and nowhere else.

Handlers raise :class:`Problem` (or a :class:`~journeylens.errors.JourneyLensError`, which becomes a
400 naming what was wrong and the hint); request validation failures become a 400 whose ``errors``
list names each field. Bad input never produces a 500: only a real defect does, and its body says
nothing about the internals.

Example:
    >>> Problem(404, "Unknown saved view", "No view named 'x'.").body()["status"]
    404
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from journeylens.errors import JourneyLensError, NotFoundError

__all__ = ["PROBLEM_JSON", "Problem", "install_handlers", "problem_response"]

PROBLEM_JSON = "application/problem+json"
_log = logging.getLogger("journeylens.server")
_TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}


class Problem(Exception):
    """An HTTP error with a problem-details body; ``extra`` adds members (``errors``, ``hint``)."""

    def __init__(
        self,
        status: int,
        title: str | None = None,
        detail: str = "",
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        self.status = status
        self.title = title or _TITLES.get(status, "Error")
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra
        super().__init__(f"{status} {self.title}: {detail}")

    def body(self) -> dict[str, Any]:
        return {
            "type": "about:blank",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            **self.extra,
        }


def problem_response(problem: Problem) -> JSONResponse:
    return JSONResponse(
        problem.body(), status_code=problem.status, headers=problem.headers, media_type=PROBLEM_JSON
    )


def _field(location: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in location if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or "body"


async def _on_problem(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(exc)


async def _on_validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "field": _field(e.get("loc", ())),
            "in": str((e.get("loc") or ["body"])[0]),
            "message": e.get("msg", ""),
        }
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"field": "body", "message": "invalid"}
    detail = f"{first['field']}: {first['message']}" + (
        f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    )
    return problem_response(Problem(400, "Invalid request", detail, errors=errors))


async def _on_http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    return problem_response(Problem(exc.status_code, None, str(exc.detail or ""), headers=headers))


_OPTION = re.compile(r"^Option (--[a-z0-9-]+|[A-Z][A-Z0-9_]*) ")


async def _on_journeylens(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, JourneyLensError)
    # A missing object (customer, map, experiment) is 404; any other refusal is bad input.
    problem = Problem(404 if isinstance(exc, NotFoundError) else 400, type(exc).__name__, exc.message)
    option = _OPTION.match(exc.message)
    if option:  # "Option --min-count '0': ..." (the specs' message) names the field min_count
        problem.extra["field"] = option.group(1).removeprefix("--").replace("-", "_").lower()
    if exc.hint:
        problem.extra["hint"] = exc.hint
    return problem_response(problem)


async def _on_anything(request: Request, exc: Exception) -> JSONResponse:
    _log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(
        Problem(500, None, "The server failed to handle this request; the log has details.")
    )


def install_handlers(app: FastAPI) -> None:
    """Route every error the app can raise through the problem-details translation."""
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(JourneyLensError, _on_journeylens)
    app.add_exception_handler(Exception, _on_anything)
