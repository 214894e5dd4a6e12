"""Routes for annotations and auto-refresh.

- ``POST /dashboard/annotations`` adds one (a session's form with its CSRF token, like saving a
  view) and ``POST /dashboard/annotations/{id}/delete`` removes one; both write
  ``WORKSPACE/annotations.toml`` (:mod:`.annotations`) and send the browser back to its page.
- ``GET /dashboard/annotations/csv`` lists them as CSV; ``GET /api/v1/annotations`` as JSON (or CSV
  with ``Accept: text/csv``) for a read token.
- ``GET /dashboard/version?seen=V`` is what an auto-refreshing page polls: the current data
  version (:func:`~journeylens.server.runs.data_version`, a few one-row queries, never an
  analysis) and, when it differs from ``seen``, an ``HX-Trigger: jl-data-changed`` header on which
  the page re-renders its panels.

This part is installed before the dashboard's, whose ``/dashboard/{page}`` would otherwise take
``/dashboard/version``.

Example:
    >>> client.get("/dashboard/version", params={"seen": "0"}).json()["changed"]  # doctest: +SKIP
    True
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError

from journeylens.cli._output import csv_text
from journeylens.errors import InputError
from journeylens.server.annotations import Annotation, add_annotation, load_annotations, remove_annotation
from journeylens.server.auth import require, require_page
from journeylens.server.dashboard import _check_csrf, _form, _safe_next
from journeylens.server.dashboard_pages import PAGES
from journeylens.server.dashboard_timeline import current_version
from journeylens.server.problems import PROBLEM_JSON, Problem

if TYPE_CHECKING:
    from journeylens.server.app import ServerContext

__all__ = ["AnnotationList", "install", "workspace_annotations"]

_FIELDS = ("date", "label", "description", "journey_type", "page")
_PROBLEM = {"content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


class AnnotationOut(BaseModel):
    """An annotation as the API lists it."""

    id: str
    date: str
    label: str
    description: str | None = None
    journey_type: str | None = None
    page: str | None = None


class AnnotationList(BaseModel):
    """``GET /api/v1/annotations``."""

    annotations: list[AnnotationOut]


def workspace_annotations(ctx: ServerContext) -> list[Annotation]:
    """The workspace's annotations; a broken file is a 409 naming its file, line and field."""
    try:
        return load_annotations(ctx.root)
    except InputError as exc:
        raise Problem(409, "Annotations file is not valid", exc.message, hint=exc.hint) from None


def _parsed(form: dict[str, str]) -> Annotation:
    try:
        note = Annotation.model_validate({k: form[k] for k in _FIELDS if form.get(k, "").strip()})
    except ValidationError as exc:
        fields = {str(e["loc"][0]) if e["loc"] else "date": e["msg"] for e in exc.errors()}
        errors = [{"field": name, "in": "body", "message": msg} for name, msg in fields.items()]
        names = ", ".join(fields)
        raise Problem(
            400, "Invalid annotation", f"Annotation field(s) {names} not valid.", errors=errors
        ) from None
    if note.page is not None and note.page not in PAGES:
        raise Problem(
            400,
            "Invalid annotation",
            f"page: no dashboard page {note.page!r}.",
            errors=[{"field": "page", "in": "body", "message": "one of " + ", ".join(PAGES)}],
        )
    return note


def install(app: FastAPI, ctx: ServerContext) -> None:
    """Add the annotation, annotation-list and data-version routes."""
    page_read = Depends(require_page("read"))
    writing = threading.Lock()  # two forms at once must not lose one another's annotation

    @app.post("/dashboard/annotations", dependencies=[page_read], include_in_schema=False)
    async def add(request: Request) -> Response:
        form = await _form(request)
        _check_csrf(request, form)
        note = _parsed(form)
        with writing:
            workspace_annotations(ctx)  # a broken file is named as such, not taken for a duplicate
            try:
                add_annotation(ctx.root, note)
            except InputError as exc:
                raise Problem(409, "Annotation exists", exc.message, hint=exc.hint) from None
        return RedirectResponse(_safe_next(form.get("next")), status_code=303)

    @app.post("/dashboard/annotations/{note_id}/delete", dependencies=[page_read], include_in_schema=False)
    async def delete(note_id: str, request: Request) -> Response:
        form = await _form(request)
        _check_csrf(request, form)
        with writing:
            workspace_annotations(ctx)
            remove_annotation(ctx.root, note_id)
        return RedirectResponse(_safe_next(form.get("next")), status_code=303)

    @app.get("/dashboard/annotations/csv", dependencies=[page_read], include_in_schema=False)
    def annotations_csv() -> Response:
        rows = [n.to_dict() for n in workspace_annotations(ctx)]
        return Response(
            csv_text(rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="annotations.csv"'},
        )

    @app.get("/dashboard/version", dependencies=[page_read], include_in_schema=False)
    def version(seen: str = "") -> JSONResponse:
        now = current_version(ctx)
        changed = now is not None and bool(seen) and now != seen
        headers = {"Cache-Control": "no-store"}
        if changed:
            headers["HX-Trigger"] = "jl-data-changed"
        return JSONResponse(
            {"version": now or seen, "changed": changed, "busy": now is None}, headers=headers
        )

    _install_api(app, ctx)


def _install_api(app: FastAPI, ctx: ServerContext) -> None:
    responses: dict[int | str, dict[str, Any]] = {
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
        401: {"description": "No credential, or an unknown or revoked one.", **_PROBLEM},
        403: {"description": "The credential lacks the read scope.", **_PROBLEM},
        409: {"description": "annotations.toml is not valid (its file, line and field named).", **_PROBLEM},
        429: {"description": "Too many failed authentication attempts.", **_PROBLEM},
    }

    @app.get(
        "/api/v1/annotations",
        dependencies=[Depends(require("read"))],
        response_model=AnnotationList,
        responses=responses,
        summary="The workspace's annotations on time series (annotations.toml), in date order.",
        tags=["dashboard"],
        operation_id="annotations_get",
    )
    def annotations(request: Request) -> Response:
        rows = [n.to_dict() for n in workspace_annotations(ctx)]
        if "text/csv" in request.headers.get("accept", ""):
            return Response(csv_text(rows), media_type="text/csv; charset=utf-8")
        return JSONResponse({"annotations": rows})
