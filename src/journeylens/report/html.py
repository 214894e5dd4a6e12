"""Self-contained HTML report: one file, plotly.js inlined, opens offline (no CDN)."""

from __future__ import annotations

import datetime as _dt
import html
from pathlib import Path

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from plotly.offline import get_plotlyjs

from journeylens.journeys.definitions import JourneyRules
from journeylens.report.sections import SECTIONS, Section
from journeylens.store import Store

_ENV = Environment(
    loader=PackageLoader("journeylens.report", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
)
_MAX_TABLE_ROWS = 50


def _table_html(frame: pd.DataFrame) -> Markup:
    shown = frame.head(_MAX_TABLE_ROWS).astype(object)
    shown = shown.where(shown.notna(), "")  # None in text columns too, not only NaN
    text = shown.to_html(index=False, border=0, classes="data", na_rep="", float_format=lambda v: f"{v:,.4g}")
    more = len(frame) - len(shown)
    note = f'<p class="more">{more:,} more rows not shown.</p>' if more > 0 else ""
    return Markup(text + note)


def build_sections(
    store: Store, only: list[str] | None = None, rules: JourneyRules | None = None
) -> list[Section]:
    """Compute every registered section (or those named in ``only``) that has something to show.

    ``rules`` are the workspace's journey rules (``workspace.config.journeys``): the touchpoint
    inventory prices contacts with their ``costs``; without them no cost is shown for it.
    """
    built = []
    for key, fn in SECTIONS:
        if only and key not in only:
            continue
        result = fn(store, rules)
        if result is not None:
            built.append(result)
    return built


def write_report(
    store: Store, out: Path, *, title: str = "JourneyLens report", rules: JourneyRules | None = None
) -> Path:
    """Write the report to ``out`` and return its path (``rules``: see :func:`build_sections`).

    Example:
        >>> write_report(Store.connect("duckdb://", timezone="UTC"), Path("/tmp/r.html"))  # doctest: +SKIP
    """
    sections = build_sections(store, rules=rules)
    rendered = [
        {
            "title": s.title,
            "anchor": "s" + str(i),
            "intro": s.intro,
            "facts": s.facts,
            "notes": s.notes,
            "figures": [
                Markup(fig.to_html(full_html=False, include_plotlyjs=False, config={"responsive": True}))
                for fig in s.figures
            ],
            "tables": [(name, _table_html(frame)) for name, frame in s.tables],
            "blocks": [Markup(block) for block in s.blocks],
        }
        for i, s in enumerate(sections)
    ]
    page = _ENV.get_template("report.html.j2").render(
        title=title,
        generated=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        sections=rendered,
        plotly_js=Markup(get_plotlyjs()),
        escape=html.escape,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out
