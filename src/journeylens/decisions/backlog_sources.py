"""Where backlog candidates come from: one function per analysis, each returning typed
:class:`~journeylens.decisions.backlog.Opportunity` candidates from a :class:`SourceContext`.

A source that cannot run on this workspace (no agents, no feedback, no map)
returns nothing and a note saying why; the note is in the result's ``sources``, never silent.

Adding a source is one function and one entry in :data:`SOURCES`. Root causes
(``journeylens causes``) are :func:`journeylens.decisions.causes_backlog.backlog_candidates`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from journeylens.decisions.backlog import Evidence, Opportunity, confidence, sized
from journeylens.decisions.backlog_reach import Reach, touchpoint_reach
from journeylens.errors import JourneyLensError

if TYPE_CHECKING:
    from journeylens.contacts.analysis import ContactsResult
    from journeylens.contacts.settings import ContactsSettings
    from journeylens.journeys.definitions import JourneyRules
    from journeylens.store import Store
    from journeylens.workspace import Workspace

__all__ = ["DEDUP_RULE", "SOURCES", "SourceContext", "run_sources"]

DEDUP_RULE = (
    "candidates about the same subject (touchpoint as channel:touchpoint, or map:stage) are one item: "
    "the larger money is kept, the other's evidence and kind are added, money is not summed"
)
PER_CONTACT = "excess contacts x mean cost of the contacts that followed ([journeys.costs]) x 365/days"
THEME_MONEY = (
    "comments carry no money; the contacts and journeys of the theme's touchpoints are sized by the "
    "other sources"
)
TEAM_METHOD = (
    "(expected - observed first-contact resolutions) x mean cost of a contact x 365/days: each "
    "unresolved first contact is taken to need one more contact"
)
NOT_PRICED = "[journeys.costs] is not set, so a contact has no cost"


@dataclass
class SourceContext:
    """What the sources read: the store, the workspace's settings and the shared contact views."""

    store: Store
    rules: JourneyRules
    contacts: ContactsSettings
    root: Path | None = None
    workspace: Workspace | None = None
    _views: dict[str, ContactsResult] = field(default_factory=dict)
    _reach: Reach | None = None

    @classmethod
    def of_workspace(cls, ws: Workspace) -> SourceContext:
        return cls(ws.store, ws.config.journeys, ws.config.voc.contacts, ws.root, ws)

    def view(self, name: str) -> ContactsResult:
        """A ``journeylens contacts`` view (avoidable, reasons), both read in one pass, kept."""
        if not self._views:
            from journeylens.contacts.analysis import contact_views
            from journeylens.specs.contacts import ContactsSpec

            views = contact_views(self.store, self.rules, self.contacts, ContactsSpec(limit=10_000),
                                  ["avoidable", "reasons"])  # fmt: skip
            self._views = {str(k.value): v for k, v in views.items()}
        return self._views[name]

    @property
    def reach(self) -> Reach:
        if self._reach is None:
            self._reach = touchpoint_reach(self.store, self.rules, self.contacts)
        return self._reach

    def cost_per_contact(self) -> float | None:
        """Mean cost of an assisted contact in the data (None when the workspace is not priced)."""
        if not self.rules.priced():
            return None
        rows = self.view("reasons").records()
        n = sum(int(r["contacts"]) for r in rows)
        return sum(float(r["cost"] or 0.0) for r in rows) / n if n else None


Source = Callable[[SourceContext], list[Opportunity]]


def _scaled(ctx: SourceContext, count: float, lo: float, hi: float, unit: float | None) -> tuple[Any, ...]:
    """(money, lo, hi) per year of a count with interval at ``unit`` money each (None unpriced)."""
    if unit is None:
        return None, None, None
    k = unit * ctx.reach.per_year
    return count * k, lo * k, hi * k


def _reached(ctx: SourceContext, label: str) -> dict[str, Any]:
    r = ctx.reach.rows.get(label, {})
    py = ctx.reach.per_year
    return {
        "journeys": r["journeys"] * py if r else None,
        "customers": r["customers"] * py if r else None,
        "journey_value": r.get("journey_value"),
        "customer_value": r.get("customer_value"),
        "value_reason": None if r else "the touchpoint is on no journey of the model",
    }


def avoidable_contacts(ctx: SourceContext) -> list[Opportunity]:
    """Digital touchpoints followed by more assisted contacts than their peers (lower bound > 0)."""
    result = ctx.view("avoidable")
    reasons: dict[str, tuple[int, str]] = {}
    for r in result.parts.get("by_reason", []):
        if r["followed"] > reasons.get(r["touchpoint"], (0, ""))[0]:
            reasons[r["touchpoint"]] = (r["followed"], r["reason"])
    out = []
    for r in result.records():
        if r["excess_lo"] <= 0:
            continue
        tp = r["touchpoint"]
        money, lo, hi = _scaled(
            ctx, r["excess_contacts"], r["excess_lo"], r["excess_hi"], r["cost_per_contact"]
        )
        reason = reasons.get(tp, (0, None))[1]
        numbers = {
            k: r[k]
            for k in (
                "exposures",
                "followed",
                "contact_rate",
                "peer_rate",
                "excess_contacts",
                "excess_lo",
                "excess_hi",
                "cost_per_contact",
            )
        }
        summary = (
            f"{r['followed']:,} of {r['exposures']:,} exposures followed by a contact within "
            f"{result.context['window']} ({r['contact_rate']:.0%} against {r['peer_rate']:.0%} for its "
            f"peers): {r['excess_contacts']:,.0f} excess contacts [{r['excess_lo']:,.0f}–"
            f"{r['excess_hi']:,.0f}] in the data"
        )
        out.append(
            Opportunity(
                kind="avoidable contact",
                subject=tp,
                title=f"{tp} is associated with {r['excess_contacts']:,.0f} excess assisted contacts",
                evidence=(Evidence("contacts", summary, "journeylens contacts --view avoidable", numbers),),
                **_reached(ctx, tp),
                count=r["excess_contacts"] * ctx.reach.per_year,
                count_unit="excess assisted contacts",
                **sized((money, lo, hi), PER_CONTACT, NOT_PRICED),
                owner=ctx.contacts.department(reason) if reason else None,
                confidence=confidence(r["excess_contacts"], r["excess_lo"], r["excess_hi"]),
            )
        )
    return out


def team_performance(ctx: SourceContext) -> list[Opportunity]:
    """Teams whose case-mix adjusted first-contact resolution is below expected (O/E interval < 1)."""
    from journeylens.specs.agents import AgentsSpec
    from journeylens.workforce.agents import agents

    result = agents(ctx.store, AgentsSpec(by="team"))
    unit = ctx.cost_per_contact()
    out = []
    for r in result.records():
        if r.get("oe_hi") is None or r["oe_hi"] >= 1 or not r.get("expected"):
            continue
        expected = float(r["expected"])
        gap, lo, hi = (
            expected - float(r["observed"]),
            expected * (1 - r["oe_hi"]),
            expected * (1 - r["oe_lo"]),
        )
        money, m_lo, m_hi = _scaled(ctx, gap, lo, hi, unit)
        summary = (
            f"first-contact resolution {r['observed']:,.0f} of {r['fcr_n']:,} against {expected:,.0f} "
            f"expected for its case mix (O/E {r['oe']:.2f} [{r['oe_lo']:.2f}–{r['oe_hi']:.2f}])"
        )
        out.append(
            Opportunity(
                kind="team performance",
                subject=f"team:{r['unit']}",
                title=f"team {r['unit']} is associated with {gap:,.0f} first contacts left unresolved "
                "beyond its case mix",
                evidence=(
                    Evidence(
                        "agents",
                        summary,
                        "journeylens agents --by team",
                        {k: r.get(k) for k in ("fcr_n", "observed", "expected", "oe", "oe_lo", "oe_hi")},
                    ),
                ),
                journeys=gap * ctx.reach.per_year,
                customers=None,
                count=gap * ctx.reach.per_year,
                count_unit="first contacts unresolved beyond the case mix",
                **sized((money, m_lo, m_hi), TEAM_METHOD, NOT_PRICED),
                owner=f"team {r['unit']}",
                value_reason="a team serves every kind of journey: no journey value",
                confidence=confidence(gap, lo, hi),
            )
        )
    return out


def negative_themes(ctx: SourceContext) -> list[Opportunity]:
    """Feedback themes whose negative share is above that of all judged comments (its lower 95%
    bound above the overall share); sized by the negative comments beyond the overall share."""
    if ctx.workspace is None:
        raise SourceAbsent("feedback themes need the workspace's taxonomy")
    from journeylens.specs.feedback import FeedbackThemesSpec
    from journeylens.voc.theme_summary import feedback_themes

    rows = [r for r in feedback_themes(ctx.workspace, FeedbackThemesSpec()).records() if r["judged"]]
    judged = sum(int(r["judged"]) for r in rows)
    overall = sum(int(r["negative"]) for r in rows) / judged if judged else 0.0
    out = []
    for r in rows:
        if r["negative_lo"] is None or r["negative_lo"] <= overall:
            continue
        n = int(r["judged"])
        excess, lo, hi = (
            n * (x - overall) for x in (r["negative_share"], r["negative_lo"], r["negative_hi"])
        )
        summary = (
            f"{r['negative']:,} of {n:,} judged comments negative ({r['negative_share']:.0%} "
            f"[{r['negative_lo']:.0%}–{r['negative_hi']:.0%}]) against {overall:.0%} of all judged comments"
        )
        numbers = {k: r[k] for k in ("comments", "negative", "judged", "negative_share")}
        out.append(
            Opportunity(
                kind="negative theme",
                subject=f"theme:{r['theme']}",
                title=f"theme {r['theme']} is associated with {excess:,.0f} more negative comments "
                "than the average theme",
                evidence=(Evidence("feedback themes", summary, "journeylens feedback themes", numbers),),
                journeys=r["comments"] * ctx.reach.per_year,
                customers=None,
                count=excess * ctx.reach.per_year,
                count_unit="negative comments beyond the overall share",
                **sized((None, None, None), "-", THEME_MONEY),
                owner=r["owner"],
                value_reason="comments are not tied to journey value here",
                confidence=confidence(excess, lo, hi),
            )
        )
    return out


def causes_source(ctx: SourceContext) -> list[Opportunity]:
    """Root causes (``journeylens causes``) of the outcomes that carry money (``causes_backlog``)."""
    from journeylens.decisions.causes_backlog import backlog_candidates

    return backlog_candidates(ctx)


class SourceAbsent(Exception):
    """A source that does not apply to this workspace; its message is the note."""


def _maps(ctx: SourceContext) -> list[Opportunity]:
    from journeylens.decisions.backlog_maps import map_opportunities

    return map_opportunities(ctx)


SOURCES: dict[str, Source] = {
    "contacts": avoidable_contacts,
    "maps": _maps,
    "agents": team_performance,
    "themes": negative_themes,
    "causes": causes_source,
}
"""Every source by name, in the order they run."""


def run_sources(ctx: SourceContext, names: list[str]) -> tuple[list[Opportunity], list[dict[str, Any]]]:
    """All candidates of the named sources, and per source how many it found or why none."""
    found: list[Opportunity] = []
    notes = []
    for name in names:
        try:
            items = SOURCES[name](ctx)
        except SourceAbsent as exc:
            notes.append({"name": name, "items": 0, "note": str(exc)})
            continue
        except JourneyLensError as exc:
            notes.append({"name": name, "items": 0, "note": f"not run: {exc.message}"})
            continue
        notes.append({"name": name, "items": len(items), "note": None})
        found.extend(items)
    return found, notes
