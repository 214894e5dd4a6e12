"""The dashboard's time series: which panels plot over time, the overview's chart of journeys
started per period by outcome, the workspace's annotations drawn on them as labelled vertical
lines, and the auto-refresh choices.

Everything here works on already-aggregated rows (a result's records, a figure's JSON): the
numbers come from the runner's cached answers, as on every other panel.

Example:
    >>> rows = [{"group": "2024-03-04", "journeys": 3, "success_n": 2, "abandoned_n": 1},
    ...         {"group": "2024-03-11", "journeys": 4, "success_n": 4}]
    >>> figure = outcome_figure(rows)
    >>> drawn, shown = annotate(figure, [Annotation(date="2024-03-05", label="release 4.2")])
    >>> [n.label for n in shown], "release 4.2" in drawn
    (['release 4.2'], True)
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from journeylens.server.annotations import Annotation
from journeylens.server.problems import Problem

if TYPE_CHECKING:
    from journeylens.server.app import ServerContext
    from journeylens.server.dashboard_pages import Panel

__all__ = [
    "LOCK_WAIT",
    "REFRESH",
    "annotate",
    "current_version",
    "is_time_series",
    "outcome_figure",
    "refresh_seconds",
]

REFRESH: dict[str, int] = {"off": 0, "1m": 60, "5m": 300}
"""Auto-refresh choices (the ``refresh=`` query value) and their polling interval in seconds: never
below 30 s, so a page left open cannot hammer the server."""
LOCK_WAIT = 2.0
"""Seconds the version endpoint waits for the store (an analysis or build may hold it); after
that it answers "unchanged" and the next poll asks again, so a poll never hangs."""
_OUTCOMES = (
    ("success", "success_n"),
    ("abandoned", "abandoned_n"),
    ("open", "open_outcomes"),
    ("unknown", "unknown_outcomes"),
)
_PERIODS: dict[str, int | str] = {"day": 86_400_000, "week": 7 * 86_400_000, "month": "M1"}
"""Plotly's ``xperiod`` (milliseconds, or months) of each summary period."""
_STAGGER = 4
"""Labels of nearby annotations are drawn at this many heights, so they do not overprint."""


def is_time_series(panel: Panel) -> bool:
    """Whether ``panel`` plots over time: the map monitor's series, contacts per period (every view
    but ``avoidable``), or a journeys summary by period."""
    if panel.analysis == "contacts":
        return panel.values.get("view", "reasons") != "avoidable"
    return panel.analysis == "map monitor" or (
        panel.analysis == "journeys summary" and panel.values.get("by") == "period"
    )


def refresh_seconds(query: Mapping[str, str]) -> int:
    """The polling interval ``refresh=`` asks for (0: off); another value is a 400 naming it."""
    value = query.get("refresh") or "off"
    if value not in REFRESH:
        raise Problem(
            400,
            "Invalid request",
            f"refresh: {value!r} is not an auto-refresh choice.",
            errors=[{"field": "refresh", "in": "query", "message": "one of " + ", ".join(REFRESH)}],
        )
    return REFRESH[value]


def current_version(ctx: ServerContext, *, wait: float = LOCK_WAIT) -> str | None:
    """The data version, or None when the store stayed busy for ``wait`` seconds."""
    from journeylens.server.runs import data_version

    if not ctx.runner.lock.acquire(timeout=wait):
        return None
    try:
        return data_version(ctx.workspace)
    finally:
        ctx.runner.lock.release()


def outcome_figure(records: Sequence[Mapping[str, Any]], period: str = "week") -> str:
    """Journeys started per ``period`` (the summary's ``group``: the period's first day), stacked
    by outcome, as plotly JSON. Each bar spans its period, so an annotation falls inside the bar of
    its day. "other" holds journeys in none of the outcome counts (an inferred success that
    negative feedback overrode), so each bar's height is the period's journeys."""
    import plotly.graph_objects as go

    rows = sorted(records, key=lambda r: str(r["group"]))
    periods = [str(r["group"]) for r in rows]
    span: dict[str, Any] = {"xperiod": _PERIODS.get(period, _PERIODS["week"]), "xperiodalignment": "middle"}
    fig = go.Figure()
    counted = [0] * len(rows)
    for name, column in _OUTCOMES:
        values = [int(r.get(column) or 0) for r in rows]
        counted = [a + b for a, b in zip(counted, values, strict=True)]
        fig.add_bar(x=periods, y=values, name=name, **span)
    other = [int(r["journeys"]) - c for r, c in zip(rows, counted, strict=True)]
    if any(other):
        fig.add_bar(x=periods, y=other, name="other", **span)
    fig.update_layout(
        barmode="stack",
        title=f"Journeys started per {period}, by outcome",
        xaxis={"title": "period start", "type": "date"},
        yaxis={"title": "journeys"},
        margin={"t": 90},
    )
    return _safe(fig.to_json())


def _safe(text: str) -> str:
    return text.replace("</", "<\\/")  # inside <script type="application/json">


def _dates(figure: Mapping[str, Any]) -> list[dt.date]:
    """The dates on the figure's x axis (ISO text: dates, datetimes, periods)."""
    found = []
    for trace in figure.get("data", []):
        xs = trace.get("x")
        for x in xs if isinstance(xs, list) else []:
            try:
                found.append(dt.date.fromisoformat(str(x)[:10]))
            except ValueError:
                continue
    return sorted(set(found))


def annotate(figure: str | None, notes: Iterable[Annotation]) -> tuple[str | None, list[Annotation]]:
    """``figure`` (plotly JSON) with each annotation inside its date range drawn as a dotted
    vertical line and its label; returns the figure and the annotations drawn. A figure with no
    dates (nothing alerted yet) gets none: a line alone would invent an axis."""
    if figure is None:
        return None, []
    spec = json.loads(figure.replace("<\\/", "</"))
    days = _dates(spec)
    if not days:
        return figure, []
    step = min((b - a for a, b in itertools.pairwise(days)), default=dt.timedelta(days=1))
    shown = [n for n in notes if days[0] <= n.day < days[-1] + step]
    if not shown:
        return figure, []
    layout = spec.setdefault("layout", {})
    shapes, labels = layout.setdefault("shapes", []), layout.setdefault("annotations", [])
    for i, note in enumerate(shown):
        shapes.append(
            {
                "type": "line", "xref": "x", "yref": "paper", "x0": note.x, "x1": note.x, "y0": 0, "y1": 1,
                "line": {"dash": "dot", "width": 1.5, "color": "#444"}, "name": f"annotation {note.id}",
            }
        )  # fmt: skip
        labels.append(
            {
                "x": note.x, "xref": "x", "y": 1.02 + 0.06 * (i % _STAGGER), "yref": "paper",
                "text": note.label, "hovertext": note.description or note.label, "showarrow": False,
                "xanchor": "left", "yanchor": "bottom", "font": {"size": 11},
            }
        )  # fmt: skip
    layout.setdefault("margin", {})["t"] = max(
        layout.get("margin", {}).get("t", 0), 60 + 20 * len(shown[:_STAGGER])
    )
    return _safe(json.dumps(spec)), shown
