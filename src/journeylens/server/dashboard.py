"""The web dashboard: server-rendered pages (Jinja2 + vendored htmx + plotly.js from the plotly
package; nothing from a CDN) over the same cached results as the REST API.

Routes: ``/login`` (the only page without a credential), ``/logout``, ``/dashboard/{page}`` for
each page of :data:`~journeylens.server.dashboard_pages.PAGES`, ``/dashboard/{page}/csv`` (every
table as CSV), ``/dashboard/views`` (saved views, kept as ``WORKSPACE/views/NAME.json``) and
``/dashboard/static/{file}``. Global filters live in the URL query, so every view is a link;
htmx requests get ``HX-Push-Url`` so the address bar follows the filters.

Example:
    >>> client.post("/login", data={"token": read_token, "csrf": csrf})  # doctest: +SKIP
    >>> client.get("/dashboard/funnel?steps=home+checkout").status_code  # doctest: +SKIP
    200
"""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from journeylens.server.auth import require_page
from journeylens.server.dashboard_render import PanelView, Renderer
from journeylens.server.problems import Problem
from journeylens.server.sessions import COOKIE, LOGIN_COOKIE, same_secret

if TYPE_CHECKING:
    from journeylens.server.app import ServerContext

__all__ = ["VIEWS_DIR", "install"]

VIEWS_DIR = "views"
_STATIC = Path(__file__).parent / "static"
_FILES = {"htmx.min.js", "dashboard.js", "dashboard.css"}
_VIEW_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_COOKIE_FLAGS: dict[str, Any] = {"httponly": True, "samesite": "strict", "path": "/"}


async def _form(request: Request) -> dict[str, str]:
    """An url-encoded form body (the dashboard's forms send nothing else)."""
    return dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))


def _check_csrf(request: Request, form: dict[str, str]) -> None:
    # Forms come from a session's pages only: a browser may replay cached Basic credentials on a
    # forged cross-site POST, so a header-authenticated form is refused like a missing token.
    session = getattr(request.state, "session", None)
    if session is None or not same_secret(form.get("csrf"), session.csrf):
        raise Problem(
            403,
            "CSRF check failed",
            "The form did not carry this session's CSRF token.",
            hint="Reload the page and submit the form again.",
        )


def _plotly_js() -> Path:
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def _safe_next(target: str | None) -> str:
    # Only back into the dashboard: an absolute or scheme-relative URL would be an open redirect.
    if target and target.startswith("/dashboard") and not target.startswith("//"):
        return target
    return "/dashboard/overview"


def install(app: FastAPI, ctx: ServerContext) -> None:
    """Add the login, static, page, CSV and saved-view routes."""
    renderer = Renderer(ctx)
    _install_login(app, ctx, renderer)
    _install_static(app, ctx, renderer)
    _install_pages(app, ctx, renderer)


def _install_login(app: FastAPI, ctx: ServerContext, renderer: Renderer) -> None:
    read = Depends(require_page("read"))

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_page(next: str = "", error: str = "") -> HTMLResponse:
        token = secrets.token_urlsafe(32)
        page = renderer.login(next=_safe_next(next), csrf=token, error=error)
        response = HTMLResponse(page, status_code=401 if error else 200)
        response.set_cookie(LOGIN_COOKIE, token, **_COOKIE_FLAGS)
        return response

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        form = await _form(request)
        if not same_secret(form.get("csrf"), request.cookies.get(LOGIN_COOKIE, "")):
            raise Problem(
                403,
                "CSRF check failed",
                "The login form did not carry its CSRF token.",
                hint="Open /login again and submit the form from there.",
            )
        client = request.client.host if request.client else "unknown"
        try:
            ctx.guard.check(form.get("token", "").strip(), "read", client)
        except Problem as refused:
            if refused.status not in (401, 403):
                raise
            return login_page(next=form.get("next", ""), error=refused.detail)
        session = ctx.sessions.open(form["token"].strip())
        response = RedirectResponse(_safe_next(form.get("next")), status_code=303)
        response.set_cookie(COOKIE, session.id, **_COOKIE_FLAGS)
        response.delete_cookie(LOGIN_COOKIE, path="/")
        return response

    @app.post("/logout", dependencies=[read], include_in_schema=False)
    async def logout(request: Request) -> Response:
        _check_csrf(request, await _form(request))
        ctx.sessions.close(request.cookies.get(COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response


def _install_static(app: FastAPI, ctx: ServerContext, renderer: Renderer) -> None:
    read = Depends(require_page("read"))

    @app.get("/dashboard/static/{name}", dependencies=[read], include_in_schema=False)
    def static(name: str) -> FileResponse:
        if name == "plotly.min.js":
            return FileResponse(_plotly_js(), media_type="text/javascript")
        if name not in _FILES:
            raise Problem(404, None, f"No dashboard file {name!r}.")
        kind = "text/css" if name.endswith(".css") else "text/javascript"
        return FileResponse(_STATIC / name, media_type=kind)

    @app.get("/dashboard", dependencies=[read], include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/dashboard/overview", status_code=303)


def _install_pages(app: FastAPI, ctx: ServerContext, renderer: Renderer) -> None:
    read = Depends(require_page("read"))
    views_dir = ctx.root / VIEWS_DIR

    @app.post("/dashboard/views", dependencies=[read], include_in_schema=False)
    async def save_view(request: Request) -> Response:
        form = await _form(request)
        _check_csrf(request, form)
        name, slug = form.get("name", "").strip(), form.get("page", "")
        if not _VIEW_NAME.match(name):
            raise Problem(
                400,
                "Invalid view name",
                f"View name {name!r} is not valid.",
                errors=[{"field": "name", "in": "body", "message": "letters, digits, '_' or '-', up to 64"}],
            )
        renderer.page(slug)  # an unknown page is refused before anything is written
        query = dict(parse_qsl(form.get("query", "")))
        views_dir.mkdir(exist_ok=True)
        text = json.dumps({"page": slug, "query": query}, indent=2, sort_keys=True)
        (views_dir / f"{name}.json").write_text(text + "\n", encoding="utf-8")
        return RedirectResponse(f"/dashboard/views/{name}", status_code=303)

    @app.get("/dashboard/views/{name}", dependencies=[read], include_in_schema=False)
    def open_view(name: str) -> RedirectResponse:
        path = views_dir / f"{name}.json"
        if not _VIEW_NAME.match(name) or not path.is_file():
            known = sorted(p.stem for p in views_dir.glob("*.json")) if views_dir.is_dir() else []
            raise Problem(
                404,
                "Unknown saved view",
                f"No saved view named {name!r} in {views_dir}.",
                hint="Saved views: " + (", ".join(known) or "none yet") + ".",
            )
        try:  # a file edited by hand (views are meant to be reviewed in git) may be broken
            view = json.loads(path.read_text(encoding="utf-8"))
            query, slug = urlencode(dict(view.get("query", {}))), renderer.page(view["page"]).slug
        except (ValueError, KeyError, TypeError, AttributeError, Problem) as exc:
            raise Problem(
                409,
                "Saved view is not valid",
                f"{path}: {exc}",
                hint='A view is {"page": "touchpoints", "query": {"channel": "web"}}; save it again.',
            ) from None
        return RedirectResponse(f"/dashboard/{slug}" + (f"?{query}" if query else ""), 303)

    @app.get("/dashboard/{slug}", dependencies=[read], include_in_schema=False)
    def page(slug: str, request: Request) -> HTMLResponse:
        query = dict(request.query_params)
        csrf = request.state.session.csrf if getattr(request.state, "session", None) else ""
        html = renderer.render_page(slug, query, csrf=csrf, views=_views(views_dir))
        headers = {}
        if request.headers.get("hx-request"):
            headers["HX-Push-Url"] = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return HTMLResponse(html, headers=headers)

    @app.get("/dashboard/{slug}/panel/{key}", dependencies=[read], include_in_schema=False)
    def panel(slug: str, key: str, request: Request) -> HTMLResponse:
        return HTMLResponse(renderer.render_panel(slug, dict(request.query_params), key))

    @app.get("/dashboard/{slug}/csv", dependencies=[read], include_in_schema=False)
    def csv(slug: str, request: Request, panel: str = "0", period: str = "current") -> Response:
        query = {k: v for k, v in request.query_params.items() if k not in ("panel", "period")}
        view: PanelView = renderer.resolve(slug, query, panel, previous=period == "previous")
        return Response(
            view.csv(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{slug}-{view.file_stem}.csv"'},
        )


def _views(views_dir: Path) -> list[str]:
    return sorted(p.stem for p in views_dir.glob("*.json")) if views_dir.is_dir() else []
