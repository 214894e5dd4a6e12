"""Turning a page request into HTML: run each panel's analysis through the shared runner, shape
its records into a table (with drill-down links and a CSV link) and its ``plot()`` into a plotly
figure with a unique element id (htmx settling reuses ids, which would wipe plotly's state).

A panel whose analysis refuses (no journey map yet, a filter that selects nothing) shows the
analysis's own message and hint, the CLI's words, instead of numbers.

Example:
    >>> Renderer(ctx).render_page("overview", {"since": "2024-03-01"}, csrf="...", views=[])  # doctest: +SKIP
    '<!doctype html>...'
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, select_autoescape

from journeylens.analyses import ANALYSES
from journeylens.cli._output import csv_text
from journeylens.errors import JourneyLensError
from journeylens.server.annotations import Annotation, load_annotations
from journeylens.server.dashboard_pages import FILTERS, PAGES, Page, Panel, panel_values, previous_period
from journeylens.server.dashboard_timeline import (
    annotate,
    current_version,
    is_time_series,
    outcome_figure,
    refresh_seconds,
)
from journeylens.server.problems import Problem
from journeylens.server.runs import WRITERS

if TYPE_CHECKING:
    from journeylens.server.app import ServerContext

__all__ = ["SHOWN_ROWS", "PanelView", "Renderer"]

SHOWN_ROWS = 50
"""Rows a table shows; its CSV link has them all."""
_DRILL = ("touchpoint", "source", "target")
FIGURES = 64
"""Drawn figures and made records kept (their results are the runner's cached answers)."""


@dataclass
class PanelView:
    """One rendered panel: the records (all of them, for CSV), what the table shows, a figure."""

    title: str
    analysis: str
    records: list[dict[str, Any]] = field(default_factory=list)
    figure: str | None = None
    plot_id: str = field(default_factory=lambda: f"plot-{uuid.uuid4().hex[:12]}")
    message: str | None = None
    hint: str | None = None
    csv_url: str = ""
    version: str = ""
    cached: bool = False
    previous: PanelView | None = None
    links: list[dict[str, str]] = field(default_factory=list)
    file_stem: str = "table"
    drill: str | None = None
    """Where a click on a chart mark goes (the journeys page with this page's filters)."""
    notes: list[Annotation] = field(default_factory=list)
    """The annotations drawn on this panel's time series (listed under it too)."""
    stale: str | None = None
    """What is writing the store while this previous version's answer is shown (``build``)."""
    retry: str | None = None
    """The panel's own URL, loaded again after ``busy``'s Retry-After (a build left no answer)."""
    busy: Problem | None = None

    @property
    def running(self) -> str:
        what = WRITERS[self.stale][1] if self.stale else ""
        return what[:1].lower() + what[1:]

    @property
    def retry_after(self) -> str:
        return self.busy.headers.get("Retry-After", "2") if self.busy else ""

    def waiting(self, problem: Problem, url: str) -> PanelView:
        """This panel while the store is written and the previous version has no answer: the
        problem's words and a reload of ``url`` after its Retry-After."""
        if problem.status != 503:
            raise problem
        self.message, self.hint = problem.detail, str(problem.extra.get("hint") or "") or None
        self.retry, self.busy = url, problem
        return self

    @property
    def columns(self) -> list[str]:
        """The columns of the rows shown (the CSV has every row's)."""
        return list(dict.fromkeys(k for row in self.shown for k in row))

    @property
    def shown(self) -> list[dict[str, Any]]:
        return self.records[:SHOWN_ROWS]

    def csv(self) -> str:
        if self.busy is not None:
            raise self.busy
        if self.message is not None:
            raise Problem(409, "Nothing to export", self.message, hint=self.hint or "")
        return csv_text(self.records)


def cell(value: Any) -> str:
    """A value as a person reads it in a table cell."""
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if not math.isfinite(value) else f"{value:.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def _records(panel: Panel, result: Any) -> list[dict[str, Any]]:
    part = getattr(result, panel.part or ANALYSES[panel.analysis].csv)
    part = part() if callable(part) else part
    if part is None:
        return []
    return [dict(part)] if isinstance(part, Mapping) else [dict(r) for r in part]


def _figure(result: Any) -> str | None:
    plot = getattr(result, "plot", None)
    if plot is None:
        return None
    text: str = plot().to_json()
    return text.replace("</", "<\\/")  # inside <script type="application/json">


def _first(page: Page, panel: Panel) -> int:
    """The first panel of ``page`` showing ``panel``'s analysis: the one that draws its figure."""
    return next(i for i, p in enumerate(page.panels) if p.analysis == panel.analysis)


class Renderer:
    """Renders the dashboard's pages for one server context."""

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self.env = Environment(
            loader=PackageLoader("journeylens.server", "templates"),
            autoescape=select_autoescape(["j2", "html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["cell"] = cell
        self._figures: OrderedDict[tuple[int, str], tuple[Any, Any]] = OrderedDict()
        self._figures_lock = threading.Lock()

    def _once(self, result: Any, what: str, make: Callable[[Any], Any]) -> Any:
        """``make(result)`` for a (cached) result, computed once per result: a figure (``plot()``
        and its JSON) or the records of a large part (a map check's 185,000 verdicts at 1M events
        take seconds to turn into rows) cost more than a cached answer, so a warm page would spend
        its time redoing them."""
        key = (id(result), what)
        with self._figures_lock:
            hit = self._figures.get(key)
            if hit is not None and hit[0] is result:
                self._figures.move_to_end(key)
                return hit[1]
        made = make(result)
        with self._figures_lock:
            self._figures[key] = (result, made)  # the result is kept, so its id is not reused
            while len(self._figures) > FIGURES:
                self._figures.popitem(last=False)
        return made

    def _figure(self, result: Any, draw: Callable[[Any], str | None] | None = None) -> str | None:
        figure: str | None = self._once(result, "figure", draw or _figure)
        return figure

    def _records(self, panel: Panel, result: Any) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self._once(
            result, "records:" + (panel.part or ""), lambda r: _records(panel, r)
        )
        return rows

    def page(self, slug: str) -> Page:
        if slug not in PAGES:
            raise Problem(
                404, "Unknown page", f"No dashboard page {slug!r}.", hint="Pages: " + ", ".join(PAGES) + "."
            )
        return PAGES[slug]

    def login(self, *, next: str, csrf: str, error: str) -> str:
        return self.env.get_template("login.j2").render(next=next, csrf=csrf, error=error)

    def _panel(self, page: Page, index: int, panel: Panel, query: Mapping[str, str]) -> PanelView:
        view = PanelView(panel.title, panel.analysis, file_stem=panel.analysis.replace(" ", "-"))
        view.csv_url = f"/dashboard/{page.slug}/csv?" + urlencode({**query, "panel": str(index)})
        missing = [name for name in panel.needs if not query.get(name)]
        if missing:
            view.message = "Fill in " + ", ".join(missing) + " to run this analysis."
            return view
        try:
            answer = self.ctx.runner.run(panel.analysis, panel_values(page, panel, query))
            view.records = self._records(panel, answer.result)
            if is_time_series(panel):
                self._time_series(view, page, panel, answer.result, query)
            elif index == _first(page, panel):
                view.figure = self._figure(answer.result)
        except JourneyLensError as exc:
            view.message, view.hint = exc.message, exc.hint or None
            return view
        except Problem as busy:
            return view.waiting(busy, f"/dashboard/{page.slug}/panel/{index}?" + urlencode(query))
        view.version, view.cached, view.stale = answer.version, answer.cached, answer.stale
        view.links = [self._drill(page, row, query) for row in view.shown]
        if panel.analysis == "dfg":
            view.drill = "/dashboard/journeys?" + urlencode({k: v for k, v in query.items() if k in FILTERS})
        return view

    def _time_series(
        self, view: PanelView, page: Page, panel: Panel, result: Any, query: Mapping[str, str]
    ) -> None:
        """A chart over time, with the annotations that apply to it (a broken annotations file
        is reported on the page, above the panels, and leaves the chart unannotated)."""
        if panel.analysis == "journeys summary":
            view.figure = self._figure(result, lambda r: outcome_figure(r.rows, r.spec.period.value))
        else:
            view.figure = self._figure(result)
        notes, _ = self.annotations(page, query)
        view.figure, view.notes = annotate(view.figure, notes)

    def annotations(self, page: Page, query: Mapping[str, str]) -> tuple[list[Annotation], str | None]:
        """The annotations for ``page``'s charts with this query's journey type, or the message
        of a broken annotations file."""
        try:
            notes = load_annotations(self.ctx.root)
        except JourneyLensError as exc:
            return [], exc.message
        return [n for n in notes if n.applies(page=page.slug, journey_type=query.get("type") or None)], None

    def _drill(self, page: Page, row: Mapping[str, Any], query: Mapping[str, str]) -> dict[str, str]:
        """Links from a table row: to the journeys behind it, and from a journey to its customer."""
        links: dict[str, str] = {}
        kept = {k: v for k, v in query.items() if k in FILTERS}
        if page.slug == "journeys" and row.get("customer_id"):
            links["customer"] = "/dashboard/customer?" + urlencode({"key": row["customer_id"]})
        marks = {k: str(row[k]) for k in _DRILL if isinstance(row.get(k), str)}
        if "source" in marks and "target" in marks:
            links["journeys"] = "/dashboard/journeys?" + urlencode(
                {**kept, "source": marks["source"], "target": marks["target"]}
            )
        elif "touchpoint" in marks:
            links["journeys"] = "/dashboard/journeys?" + urlencode(
                {**kept, "touchpoint": marks["touchpoint"]}
            )
        return links

    def _journeys(self, query: Mapping[str, str]) -> PanelView:
        from journeylens.server.dashboard_journeys import journeys_behind
        from journeylens.specs.discovery import MapSpec

        view = PanelView("Journeys behind the selection", "journeys", file_stem="journeys")
        view.csv_url = "/dashboard/journeys/csv?" + urlencode({**query, "panel": "list"})
        page = PAGES["journeys"]
        try:
            flt = self.ctx.runner.spec("dfg", panel_values(page, Panel("dfg", ""), query))
            assert isinstance(flt, MapSpec)
            with self.ctx.runner.reading():
                self.ctx.runner.ensure_model()
                found = journeys_behind(
                    self.ctx.workspace.store,
                    flt.filter,
                    touchpoint=query.get("touchpoint") or None,
                    source=query.get("source") or None,
                    target=query.get("target") or None,
                )
        except JourneyLensError as exc:
            view.message, view.hint = exc.message, exc.hint or None
            return view
        except Problem as busy:
            return view.waiting(busy, "/dashboard/journeys/panel/list?" + urlencode(query))
        view.title = f"{found.total} {found.behind}" + (
            f" (the latest {len(found.rows)})" if found.total > len(found.rows) else ""
        )
        view.records = found.rows
        view.links = [self._drill(page, row, query) for row in view.shown]
        return view

    def pending(self, page: Page, query: Mapping[str, str]) -> list[dict[str, str]]:
        """The page's panels before they are computed: a title and the URL htmx loads each from,
        so the page shows at once with "Computing…" where numbers are on their way."""
        keys = [str(i) for i in range(len(page.panels))] + (["list"] if page.slug == "journeys" else [])
        titles = [p.title for p in page.panels] + ["Journeys behind the selection"]
        return [
            {"title": title, "url": f"/dashboard/{page.slug}/panel/{key}?" + urlencode(query)}
            for key, title in zip(keys, titles, strict=False)
        ]

    def resolve(self, slug: str, query: Mapping[str, str], key: str, *, previous: bool = False) -> PanelView:
        """Panel ``key`` (its index, or ``list`` for the journeys list) of page ``slug``."""
        page = self.page(slug)
        if previous:
            query = previous_period(query) or query
        if slug == "journeys" and key == "list":
            return self._journeys(query)
        if not key.isdigit() or int(key) >= len(page.panels):
            raise Problem(
                400,
                "Invalid request",
                f"panel: no table {key!r} on page {slug!r}.",
                errors=[{"field": "panel", "in": "query", "message": "unknown table"}],
            )
        return self._panel(page, int(key), page.panels[int(key)], query)

    def render_panel(self, slug: str, query: Mapping[str, str], key: str) -> str:
        """One panel's HTML, with the previous period beside it when the query asks to compare."""
        view = self.resolve(slug, query, key)
        before = previous_period(query) if query.get("compare") == "1" else None
        page = self.page(slug)
        if before is not None and key.isdigit():
            values = panel_values(page, page.panels[int(key)], before)
            if {"since", "until"} <= set(values):
                view.previous = self.resolve(slug, query, key, previous=True)
                view.previous.csv_url += "&period=previous"
        return self.env.get_template("_panel.j2").render(panel=view)

    def render_page(self, slug: str, query: dict[str, str], *, csrf: str, views: list[str]) -> str:
        page = self.page(slug)
        if query.get("compare") == "1":
            previous_period(query)  # a bad range is refused with the page, not in each panel
        refresh = refresh_seconds(query)
        timeline = any(is_time_series(p) for p in page.panels)
        notes, notes_error = self.annotations(page, query) if timeline else ([], None)
        return self.env.get_template(page.template).render(
            refresh=refresh,
            version=self._version() if refresh else "",
            timeline=timeline,
            notes=notes,
            notes_error=notes_error,
            here=f"/dashboard/{slug}" + (f"?{urlencode(query)}" if query else ""),
            page=page,
            pages=PAGES,
            query=query,
            pending=self.pending(page, query),
            csrf=csrf,
            views=views,
            compare=query.get("compare") == "1",
            query_string=urlencode(query),
            maps=self._maps(),
        )

    def _version(self) -> str:
        return current_version(self.ctx) or ""

    def _maps(self) -> list[str]:
        folder = self.ctx.root / "maps"
        return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []
