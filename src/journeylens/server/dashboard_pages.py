"""What each dashboard page shows: the registry analyses it runs (one panel each), the inputs of
its own form, and how the global filters in the URL become the analyses' option values.

Every number on a page comes from ``ctx.runner.run(name, values)``, the same call (and cache) the
REST API uses, with the option values the CLI takes: the dashboard never computes anything twice.
A filter is passed to an analysis only when the analysis has that option (``--since``,
``--segment``, ...), so a page never invents an option an analysis does not know.

Example:
    >>> PAGES["funnel"].analyses
    ('funnel',)
    >>> page = PAGES["funnel"]
    >>> panel_values(page, page.panels[0], {"steps": "home checkout", "since": "2024-03-01"})
    {'steps': ['home', 'checkout'], 'since': '2024-03-01'}
    >>> panel_values(page, page.panels[0], {"steps": "home", "where": "plan!=free; amount>1", "match": "any"})
    {'steps': ['home'], 'where': ['plan!=free', 'amount>1'], 'match': 'any'}
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from journeylens.analyses import ANALYSES
from journeylens.analyses._options import options
from journeylens.errors import InputError

__all__ = ["FILTERS", "PAGES", "Input", "Page", "Panel", "panel_values", "previous_period"]

FILTERS = ("since", "until", "segment", "type", "channel", "where", "match")
"""The global filters: URL query parameters with the analyses' option names. ``where`` holds the
property conditions of ``--where`` separated by ``;`` (``plan!=free; amount>100``), ``match``
all or any."""


@dataclass(frozen=True)
class Input:
    """A field of a page's own form; its value goes to the analyses as option ``name``."""

    name: str
    label: str
    placeholder: str = ""
    choices: tuple[str, ...] = ()
    many: bool = False
    """Split on spaces and commas into a list (funnel steps)."""


@dataclass(frozen=True)
class Panel:
    """One analysis shown on a page, with fixed option values."""

    analysis: str
    title: str
    values: Mapping[str, Any] = field(default_factory=dict)
    needs: tuple[str, ...] = ()
    """Inputs that must be filled before the analysis can run (a customer key, funnel steps)."""
    part: str | None = None
    """The result attribute tabulated (default: the analysis's CSV part). Panels showing other
    parts of the same spec's result share one (cached) run."""


@dataclass(frozen=True)
class Page:
    """One page of the dashboard."""

    slug: str
    title: str
    intro: str
    panels: tuple[Panel, ...] = ()
    inputs: tuple[Input, ...] = ()

    @property
    def analyses(self) -> tuple[str, ...]:
        return tuple(p.analysis for p in self.panels)

    @property
    def template(self) -> str:
        return f"page_{self.slug.replace('-', '_')}.j2"


def _option_names(analysis: str) -> set[str]:
    return {o.name for m in ANALYSES[analysis].spec_models() for o in options(m)}


def panel_values(page: Page, panel: Panel, query: Mapping[str, str]) -> dict[str, Any]:
    """The option values of ``panel``'s analysis for a request of ``page`` with query ``query``:
    the global filters and the page's inputs, where the analysis has such an option."""
    names = _option_names(panel.analysis) & {*FILTERS, *(i.name for i in page.inputs)}
    values: dict[str, Any] = dict(panel.values)
    for name, raw in query.items():
        if name not in names or raw in ("", None):
            continue
        values[name] = _split(name, raw)
    return values


def _split(name: str, raw: str) -> Any:
    """A URL text as the option takes it: funnel steps split on spaces and commas, property
    conditions on ``;`` (commas belong to ``KEY in A,B``)."""
    if name == "steps":
        return [s for s in raw.replace(",", " ").split() if s]
    if name == "where":
        return [s.strip() for s in raw.split(";") if s.strip()]
    return raw


def previous_period(query: Mapping[str, str]) -> dict[str, str] | None:
    """The same query moved back by its own length (``since``..``until``), for compare-to-previous;
    None when the range is not closed."""
    since, until = query.get("since"), query.get("until")
    if not since or not until:
        return None
    try:
        start, end = dt.date.fromisoformat(since[:10]), dt.date.fromisoformat(until[:10])
    except ValueError as exc:
        raise InputError(
            f"Filter since/until {since!r}..{until!r}: {exc}.",
            hint="Give dates as YYYY-MM-DD to compare with the previous period.",
        ) from None
    length = end - start
    return {**query, "since": (start - length).isoformat(), "until": start.isoformat()}


_MAP = Input("map", "Journey map (file name in maps/)", placeholder="purchase")
PAGES: dict[str, Page] = {
    p.slug: p
    for p in (
        Page(
            "overview",
            "Overview",
            "Outcome rates per journey type, with denominators and 95% intervals, the most "
            "common journeys, and journeys started per week by outcome with the team's annotations.",
            (
                Panel("journeys summary", "Journeys by type"),
                Panel("variants", "Most common journeys", {"limit": 10}),
                Panel("journeys summary", "Journeys started per week", {"by": "period", "period": "week"}),
            ),
        ),
        Page(
            "journeys",
            "Journeys",
            "Outcome rates per entry channel; the journeys list below is where every drill-down lands.",
            (Panel("journeys summary", "Journeys by entry channel", {"by": "channel"}),),
        ),
        Page(
            "customer",
            "Customer 360",
            "Identifiers and how each was linked, traits, the cross-channel timeline and feedback.",
            (
                Panel("customer", "Timeline", {"limit": 200}, needs=("key",)),
                Panel("customer", "Identifiers", {"limit": 200}, needs=("key",), part="identifiers"),
                Panel("customer", "Traits", {"limit": 200}, needs=("key",), part="traits"),
                Panel("customer", "Journeys", {"limit": 200}, needs=("key",), part="journeys"),
                Panel("customer", "Feedback", {"limit": 200}, needs=("key",), part="feedback"),
            ),
            (Input("key", "Customer (id, user id, anonymous id or type:value)", "c_0001"),),
        ),
        Page(
            "process-map",
            "Process map",
            "Directly-follows map of the selected journeys; a row's link lists the journeys "
            "behind that transition.",
            (Panel("dfg", "Transitions"),),
        ),
        Page(
            "funnel",
            "Funnel builder",
            "Choose the steps (space separated), the window, the ordering and a breakdown.",
            (Panel("funnel", "Funnel", needs=("steps",)),),
            (
                Input("steps", "Steps", "home product_page checkout", many=True),
                Input("window", "Window", "2h"),
                Input("order", "Ordering", choices=("ordered", "strict", "any")),
                Input("by", "Breakdown", choices=("segment", "channel", "variant")),
            ),
        ),
        Page(
            "paths",
            "Paths",
            "Paths from the start of every journey (or after a touchpoint) as a Sankey diagram.",
            (Panel("paths", "Paths", {"steps": 4}),),
            (Input("start", "After touchpoint", "billing_faq"),),
        ),
        Page(
            "segments",
            "Segments",
            "Journey metrics per segment with intervals, a test and Benjamini-Hochberg q.",
            (Panel("segments", "Segments"),),
        ),
        Page(
            "touchpoints",
            "Touchpoints",
            "Every touchpoint by channel with volume, reach, outcome, time, cost and feedback.",
            (Panel("touchpoints", "Touchpoint inventory"),),
        ),
        Page(
            "maps",
            "Journey maps",
            "A designed map checked against actual behaviour, and its monitor's alerts.",
            (
                Panel("map check", "Conformance", needs=("map",)),
                Panel("map monitor", "Monitor and alerts", needs=("map",)),
            ),
            (_MAP,),
        ),
        Page(
            "voc",
            "Voice of the customer",
            "Scores with intervals, themes of free text and the emotion curve.",
            (
                Panel("feedback scores", "Scores"),
                Panel("feedback themes", "Themes"),
                Panel("feedback emotion", "Emotion curve"),
            ),
        ),
        Page(
            "contacts", "Contact centre", "Contacts, repeats and transfers.", (Panel("contacts", "Contacts"),)
        ),
        Page(
            "agents",
            "Agents",
            "Agents linked to downstream customer outcomes, case-mix adjusted.",
            (Panel("agents", "Agents"),),
        ),
        Page(
            "backlog",
            "What to fix first",
            "Improvements ranked by money, with their evidence.",
            (Panel("backlog", "Backlog"),),
        ),
        Page(
            "experiments",
            "Experiments",
            "An experiment's journey metrics per variant with intervals and a test.",
            (Panel("experiment", "Experiment", needs=("name",)),),
            (Input("name", "Experiment", "checkout_redesign"),),
        ),
        Page(
            "nba",
            "Next best actions",
            "Ranked actions for open journeys, with their evidence.",
            (Panel("nba", "Next best actions"),),
        ),
    )
}
