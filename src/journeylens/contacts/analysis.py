"""``journeylens contacts``: one view of the assisted contacts, as a typed result.

Views (``--view``): ``reasons`` (volume, trend, self-service and assisted resolution, cost by
reason), ``avoidable`` (digital touchpoints ranked by the contacts they are associated with beyond
their peers), ``repeats`` (repeat contacts and repeated reasons by channel pair) and ``signals``
(the last complete period per owning department). Each view is one small function in
:data:`VIEWS`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa

from journeylens.contacts import avoidable, repeats, signals, volume
from journeylens.contacts.reasons import contact_events
from journeylens.contacts.settings import ContactsSettings
from journeylens.discovery._result import TableResult
from journeylens.errors import NotFoundError
from journeylens.journeys.definitions import JourneyRules
from journeylens.journeys.undefined import COST_REASON
from journeylens.specs.contacts import ContactsSpec, ContactsView
from journeylens.store import Store
from journeylens.store._working import drop_scratch, scratch_table

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from journeylens.workspace import Workspace


@dataclass(frozen=True)
class ContactsResult(TableResult):
    """The rows of one view (``table``), the view's other parts (``parts``) and ``context``.

    ``reasons``: per reason ``contacts`` and ``share``; the trend ``last`` against ``previous``
    complete period as a rate ``ratio`` [``ratio_lo``, ``ratio_hi``] with the exact ``p``,
    Benjamini-Hochberg ``q`` and ``grew``; over journeys of the reason with a final outcome
    (``decided``), ``self_service_rate`` and ``assisted_rate`` with Wilson intervals and
    ``inferred`` successes; ``cost`` and ``cost_per_contact``. Parts: ``periods``.
    ``avoidable``: per digital touchpoint ``exposures``, ``followed`` (by a contact within the
    window), ``contact_rate`` [Wilson], ``peer_rate``, ``excess_contacts`` [95%],
    ``avoidable_cost``. Parts: ``by_reason``. ``repeats``: per channel pair ``repeats``,
    ``switched``, ``stated``, ``repeated_reason`` and its rate [Wilson]. ``signals``: per
    department and reason the trend, ``cost`` and ``examples``. ``cost`` fields are None with
    ``cost_reason`` when ``[journeys.costs]`` is not set.
    """

    #: The JSON contract: ``to_dict()`` keys.
    JSON_FIELDS: ClassVar[tuple[str, ...]] = (
        "view, period, window, last_period, previous_period, contacts, reason_sources, cost_reason",
        "exposures, followed (avoidable: digital exposures, and those followed by a contact; else null)",
        "rows (records of the view)",
        "parts (reasons: periods; avoidable: by_reason)",
    )

    parts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**self.context, "rows": self.records(), "parts": self.parts}

    def plot(self) -> go.Figure:
        """Contacts per period and reason (reasons, signals) or excess contacts per touchpoint."""
        import plotly.graph_objects as go

        fig = go.Figure()
        if self.context.get("view") == "avoidable":
            rows = self.records()
            fig.add_bar(x=[r["touchpoint"] for r in rows], y=[r["excess_contacts"] for r in rows])
            fig.update_layout(title="Excess contacts after each digital touchpoint (vs its peers)")
            return fig
        for reason in sorted({r["reason"] for r in self.parts.get("periods", [])}):
            pts = [r for r in self.parts["periods"] if r["reason"] == reason]
            fig.add_scatter(x=[r["period"] for r in pts], y=[r["contacts"] for r in pts], name=reason)
        fig.update_layout(title="Assisted contacts per period, by reason")
        return fig


CONTACTS = "_jl_contacts"
"""The working table of the contacts of one run (dropped when it ends)."""
Viewed = tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]], dict[str, Any]]
"""What a view returns: its rows, its other parts, and what it adds to the context."""


@dataclass(frozen=True)
class Inputs:
    store: Store
    rules: JourneyRules
    settings: ContactsSettings
    spec: ContactsSpec

    @property
    def priced(self) -> bool:
        return self.rules.priced()


def _reasons(i: Inputs, c: Any) -> Viewed:
    per = volume.periods(i.store, c, i.spec)
    counts = i.store.execute(c.group_by("reason").agg(contacts=c.count(), cost=c.cost.sum())).to_pylist()
    resolution = volume.resolution_counts(i.store, c, i.spec)
    rows = volume.reason_rows(counts, per, resolution, i.settings, i.priced)
    periods = [
        {**r, "period": r["period"].isoformat(), "cost": r["cost"] if i.priced else None} for r in per.rows
    ]
    return rows, {"periods": periods}, _compared(per)


def _avoidable(i: Inputs, c: Any) -> Viewed:
    cells, reasons = avoidable.aggregates(i.store, c, i.rules, i.settings)
    rows, by_reason = avoidable.ranking(cells, reasons, i.priced, i.spec.limit)
    totals = {
        "exposures": sum(int(c["exposures"]) for c in cells),
        "followed": sum(int(c["followed"]) for c in cells),
    }
    return rows, {"by_reason": by_reason}, totals


def _repeats(i: Inputs, c: Any) -> Viewed:
    return repeats.repeat_rows(i.store, c, i.rules), {}, {}


def _signals(i: Inputs, c: Any) -> Viewed:
    per = volume.periods(i.store, c, i.spec)
    comments = (
        signals.examples(i.store, c, per.last, i.spec.period.value, i.settings.examples) if per.last else {}
    )
    return signals.signal_rows(per, comments, i.settings, i.priced), {}, _compared(per)


def _compared(per: volume.Periods) -> dict[str, Any]:
    """The two periods the trend compares (None when the data has fewer than two complete ones)."""
    return {
        "last_period": per.last.isoformat() if per.last else None,
        "previous_period": per.previous.isoformat() if per.previous else None,
    }


VIEWS: dict[ContactsView, Callable[[Inputs, Any], Viewed]] = {
    ContactsView.reasons: _reasons,
    ContactsView.avoidable: _avoidable,
    ContactsView.repeats: _repeats,
    ContactsView.signals: _signals,
}


def contact_signals(
    store: Store, rules: JourneyRules, settings: ContactsSettings, spec: ContactsSpec | None = None
) -> ContactsResult:
    """One view of the contact-centre signals (``spec.view``).

    Example:
        >>> result = contact_signals(ws.store, ws.config.journeys, ws.config.voc.contacts,
        ...                          ContactsSpec(view="avoidable"))  # doctest: +SKIP
        >>> result.records()[0]["touchpoint"]  # doctest: +SKIP
        'web:billing_faq'
    """
    spec = spec or ContactsSpec()
    return contact_views(store, rules, settings, spec, [spec.view])[spec.view]


def contact_views(
    store: Store, rules: JourneyRules, settings: ContactsSettings, spec: ContactsSpec,
    views: Sequence[ContactsView | str],
) -> dict[ContactsView, ContactsResult]:  # fmt: skip
    """Several views of one spec's contacts (its ``view`` aside), reading the contacts once.

    Example:
        >>> both = contact_views(ws.store, ws.config.journeys, ws.config.voc.contacts,
        ...                      ContactsSpec(), ["reasons", "avoidable"])  # doctest: +SKIP
    """
    if "journeys" not in store.backend.list_tables():
        raise NotFoundError(
            "No journeys have been built yet, so contacts have no customer or journey.",
            hint="Run `journeylens build` (analyses build the model when it is stale).",
        )
    # Every view reads the contacts several times: they are computed once, into a working table.
    c = scratch_table(store.backend, CONTACTS, volume.within(contact_events(store, rules, settings), spec))
    out: dict[ContactsView, ContactsResult] = {}
    try:
        n = int(store.execute(c.count()).as_py())
        for view in map(ContactsView, views):
            rows, parts, extra = VIEWS[view](Inputs(store, rules, settings, spec), c)
            context = {
                "view": view.value, "period": spec.period.value, "window": settings.window,
                "last_period": None, "previous_period": None, "contacts": n,
                "exposures": None, "followed": None,
                "reason_sources": list(settings.reason_sources),
                "cost_reason": None if rules.priced() else COST_REASON,
                **extra,
            }  # fmt: skip
            out[view] = ContactsResult(pa.Table.from_pylist(rows), parts=parts, context=context)
    finally:
        drop_scratch(store.backend, CONTACTS)
    return out


def contacts(ws: Workspace, spec: ContactsSpec) -> ContactsResult:
    """The registry's run function: the workspace's journey rules and ``[voc.contacts]``."""
    return contact_signals(ws.store, ws.config.journeys, ws.config.voc.contacts, spec)
