"""The REST API: one endpoint per registered analysis, generated from the registry, and the
app's OpenAPI 3.1 schema behind a read token.

``GET /api/v1/<command path>`` takes the analysis's options as query parameters and ``POST`` of the
same path takes them as a JSON body (:mod:`journeylens.server.api_requests`); both build the spec
the CLI and the Python API build, and run it through the shared runner (serially, cached per spec
and data version). The answer is the result's JSON (the registry's ``json`` attribute), or its
records as CSV with ``Accept: text/csv`` (the ``csv`` attribute, as ``--format csv`` writes
them). List answers page with ``page_offset``/``page_limit``: ``X-Total-Count`` has the whole
count and ``Link: <...>; rel="next"`` the next page. Every answer says its data version
(``X-Data-Version``) and whether it came from the cache (``X-Cache: hit|miss``). While a build,
an ingest or a deletion runs, a request is answered from the previous version's cache, labelled
``X-Data-State: stale; running=build`` (and, in an object body, ``data_state``), or refused with
a 503 and ``Retry-After`` when that version has no such answer (:mod:`journeylens.server.runs`).
Errors are problem details (:mod:`journeylens.server.problems`).

Example:
    >>> client.get("/api/v1/variants", params={"limit": 3}, headers=auth).json()  # doctest: +SKIP
    {'variants': [...], 'totals': {...}}
"""

from __future__ import annotations

import inspect
import pathlib
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Body, Depends, FastAPI, Path, Query, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from journeylens.analyses import Analysis
from journeylens.analyses._generate import MAP_OPTION
from journeylens.cli._output import csv_text, json_bytes
from journeylens.server.api_requests import (
    API_PREFIX,
    LOCAL_FILES,
    PAGE_LIMIT,
    PAGE_OFFSET,
    body_model,
    endpoint_path,
    path_options,
    query_model,
    served,
    spec_values,
)
from journeylens.server.auth import require
from journeylens.server.problems import PROBLEM_JSON, Problem

if TYPE_CHECKING:
    from journeylens.server.app import ServerContext
    from journeylens.server.runs import Answer

__all__ = ["OPENAPI_PATH", "api_schema", "install"]

OPENAPI_PATH = f"{API_PREFIX}/openapi.json"
_MAP_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")
CSV = "text/csv"
_PROBLEM = {"content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
_HEADERS = {
    "X-Data-Version": {
        "description": "The data version the answer was computed on.",
        "schema": {"type": "string"},
    },
    "X-Cache": {
        "description": "hit: served from the cache; miss: computed now.",
        "schema": {"type": "string"},
    },
    "X-Data-State": {
        "description": "current, or 'stale; running=build' (ingest, forget): a previous version's "
        "answer served while the store is being written.",
        "schema": {"type": "string"},
    },
}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The result: JSON (the result's to_dict) or, with Accept: text/csv, its records.",
        "content": {"application/json": {"schema": {}}, CSV: {"schema": {"type": "string"}}},
        "headers": _HEADERS,
    },
    400: {"description": "An option is invalid, unknown, or names a server file.", **_PROBLEM},
    401: {"description": "No credential, or an unknown or revoked one.", **_PROBLEM},
    403: {"description": "The credential lacks the read scope.", **_PROBLEM},
    404: {"description": "Unknown analysis, or an object (customer, map) that does not exist.", **_PROBLEM},
    429: {"description": "Too many failed authentication attempts.", **_PROBLEM},
    503: {
        "description": "A build, ingest or deletion is running and the previous data version has "
        "no cached answer; retry after Retry-After seconds.",
        **_PROBLEM,
    },
}


def _page(
    request: Request, rows: Sequence[Any], offset: int, limit: int | None
) -> tuple[list[Any], dict[str, str]]:
    """One page of ``rows`` and the headers saying how many there are and where the next page is."""
    end = len(rows) if limit is None else min(len(rows), offset + limit)
    headers = {"X-Total-Count": str(len(rows))}
    if limit is not None and end < len(rows):
        url = request.url.include_query_params(**{PAGE_OFFSET: end, PAGE_LIMIT: limit})
        headers["Link"] = f'<{url}>; rel="next"'
    return list(rows[offset:end]), headers


def _part(result: Any, attribute: str) -> Any:
    part = getattr(result, attribute)
    return part() if callable(part) else part


def _respond(
    request: Request, analysis: Analysis, answer: Answer, offset: int, limit: int | None
) -> Response:
    headers = {
        "X-Data-Version": answer.version,
        "X-Cache": "hit" if answer.cached else "miss",
        "X-Data-State": answer.state,
    }
    if CSV in request.headers.get("accept", ""):
        records = _part(answer.result, analysis.csv)
        rows, more = _page(request, [records] if isinstance(records, Mapping) else records, offset, limit)
        return Response(csv_text(rows), media_type=CSV, headers={**headers, **more})
    body = _part(answer.result, analysis.json)
    if isinstance(body, Sequence) and not isinstance(body, str):
        body, more = _page(request, body, offset, limit)
        headers.update(more)
    elif answer.stale is not None and isinstance(body, Mapping):
        body = {**body, "data_state": {"version": answer.version, "stale": True, "running": answer.stale}}
    return Response(json_bytes(body), media_type="application/json", headers=headers)


def _refuse_local_files(analysis: Analysis) -> Callable[[Request], Any]:
    """A dependency refusing the options of ``analysis`` that name a server file, query or body."""
    names = LOCAL_FILES.get(analysis.name, ())

    async def local_files(request: Request) -> None:
        given: dict[str, Any] = {**request.query_params, **request.path_params}
        if request.method == "POST" and await request.body():
            try:
                body = await request.json()
            except ValueError:  # not JSON: the body's validation says so, naming it
                body = None
            given.update(body if isinstance(body, dict) else {})
        chosen = given.get(MAP_OPTION)
        if isinstance(chosen, str) and not _MAP_NAME.fullmatch(chosen):
            # The CLI also takes a map file's path; over HTTP only the name of a map in WORKSPACE/maps.
            raise Problem(
                400,
                "Server files are not accessible",
                f"Map {chosen!r} is not a map name; the API takes the name of a map in the "
                "workspace's maps folder, not a path.",
                field=MAP_OPTION,
                hint="Name the map as `journeylens map list` does, e.g. 'purchase'.",
            )
        for name in names:
            if name in given:
                raise Problem(
                    400,
                    "Server files are not accessible",
                    f"Option {name!r} names a file on the server; the API neither reads nor writes "
                    "server files.",
                    field=name,
                    hint=f"Run `journeylens {analysis.name}` where the file is, or leave out {name!r}.",
                )

    return local_files


def _endpoints(
    ctx: ServerContext, analysis: Analysis
) -> tuple[Callable[..., Response], Callable[..., Response]]:
    """The GET and POST handlers of ``analysis``, with signatures FastAPI reads."""
    segments = [o.name for o in path_options(analysis)]
    query, body = query_model(analysis), body_model(analysis)

    def answer(request: Request, given: dict[str, Any], offset: int, limit: int | None) -> Response:
        spec = ctx.runner.spec(analysis.name, spec_values(analysis, given))  # the CLI's validation
        return _respond(request, analysis, ctx.runner.run(analysis.name, spec), offset, limit)

    def get(request: Request, **params: Any) -> Response:
        options: BaseModel = params.pop("options")
        values = {**options.model_dump(), **params}
        offset, limit = values.pop(PAGE_OFFSET), values.pop(PAGE_LIMIT)
        return answer(request, values, offset, limit)

    def post(request: Request, **params: Any) -> Response:
        options: BaseModel = params.pop("options")
        offset, limit = params.pop(PAGE_OFFSET), params.pop(PAGE_LIMIT)
        return answer(request, {**options.model_dump(exclude_unset=False), **params}, offset, limit)

    kind = inspect.Parameter.KEYWORD_ONLY
    request_param = inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request)
    in_path = [inspect.Parameter(n, kind, annotation=Annotated[str, Path()]) for n in segments]
    get.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [request_param, *in_path, inspect.Parameter("options", kind, annotation=Annotated[query, Query()])]
    )
    paging = [
        inspect.Parameter(PAGE_OFFSET, kind, annotation=Annotated[int, Query(ge=0)], default=0),
        inspect.Parameter(PAGE_LIMIT, kind, annotation=Annotated[int | None, Query(ge=1)], default=None),
    ]
    post.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            request_param,
            *in_path,
            inspect.Parameter("options", kind, annotation=Annotated[body, Body()]),
            *paging,
        ]
    )
    return get, post


def install(app: FastAPI, ctx: ServerContext) -> None:
    """Add one GET and one POST endpoint per served analysis, and the schema route."""
    for analysis in served():
        get, post = _endpoints(ctx, analysis)
        common: dict[str, Any] = {
            "dependencies": [Depends(require("read")), Depends(_refuse_local_files(analysis))],
            "responses": _RESPONSES,
            "response_class": Response,
            "summary": analysis.summary,
            "description": analysis.help,
            "tags": ["analyses"],
        }
        path = endpoint_path(analysis)
        app.add_api_route(path, get, methods=["GET"], operation_id=f"{analysis.method}_get", **common)
        app.add_api_route(path, post, methods=["POST"], operation_id=f"{analysis.method}_post", **common)

    @app.get(OPENAPI_PATH, include_in_schema=False, dependencies=[Depends(require("read"))])
    def openapi() -> JSONResponse:
        return JSONResponse(api_schema(app))


def api_schema(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI 3.1 schema: FastAPI's, with the problem-details errors it really returns
    (400, not 422) and the credentials every route but ``/health`` needs."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
        components = schema.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        schemas["Problem"] = _PROBLEM_SCHEMA
        components["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer", "description": "A read token."},
            "basic": {"type": "http", "scheme": "basic", "description": "A key as the user name."},
        }
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                responses = operation.get("responses", {})
                if responses.pop("422", None) is not None:
                    responses.setdefault("400", _RESPONSES[400])
                if path != "/health":
                    operation["security"] = [{"bearer": []}, {"basic": []}]
        app.openapi_schema = schema
    return app.openapi_schema


_PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "description": "RFC 9457 problem details.",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "hint": {"type": "string"},
        "field": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
    "required": ["type", "title", "status", "detail"],
}


def openapi_text() -> str:
    """The schema of a fresh app as committed in docs/openapi.json (``python -m journeylens._docs``
    writes it; a test fails when the committed copy drifts)."""
    import json
    import tempfile

    from journeylens.server.app import create_app
    from journeylens.workspace import Workspace

    with tempfile.TemporaryDirectory() as folder:
        Workspace.init(pathlib.Path(folder) / "ws").close()
        app = create_app(pathlib.Path(folder) / "ws")
        try:
            return json.dumps(api_schema(app), indent=2, sort_keys=False) + "\n"
        finally:
            app.state.ctx.close()
