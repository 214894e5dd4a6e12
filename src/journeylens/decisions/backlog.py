"""``journeylens backlog``: every finding of the analyses as a candidate opportunity, sized in money
per year with a 95% interval, de-duplicated, ranked, and joined with the team's ``backlog.yaml``.

Findings come from *sources* (:data:`journeylens.decisions.backlog_sources.SOURCES`): one function
per analysis returning :class:`Opportunity` candidates, so adding an analysis (root causes) is
adding one function. Money is *associated with* the finding, not what a fix would save: the
journeys that had it differ in other ways too.

- **Per year**: counts over the data are scaled by 365 / the data's span in days.
- **Money interval**: every size is linear in one estimated count (excess contacts, contacts a team
  left unresolved beyond its case mix, lost conversions), so the count's 95% interval is carried
  to money by the same factors (cost per contact and the year factor taken as known). Map
  deviations add their parts' bounds (a conservative interval, wider than 95%).
- **Confidence**: ``high`` when the interval excludes zero with half-width at most 25% of the
  estimate (and q < 0.01 when the source has one); ``medium`` when it excludes zero (q < 0.05) with
  half-width at most 60%; ``low`` otherwise (also when there is no money interval).
- **De-duplication**: two candidates about the same subject (the touchpoint, ``channel:touchpoint``,
  or the map stage) are one item: the one with the larger money is kept, the other's evidence and
  kind are added to it, and the money is not summed (the same journeys would be counted twice).
- **Ranking**: by money per year (default; items without money, e.g. an unpriced workspace,
  follow by the count per year the money would be built on), or by money per day of effort
  (``backlog.yaml``; items without an effort follow, by money).

Example:
    >>> result = ws.backlog()  # doctest: +SKIP
    >>> result.records()[0]["title"]  # doctest: +SKIP
    'web:billing_faq is associated with 246 excess assisted contacts'
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa

from journeylens.decisions.backlog_plan import Plan, load_plan
from journeylens.discovery._result import TableResult

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from journeylens.specs.backlog import BacklogSpec
    from journeylens.workspace import Workspace

__all__ = ["BacklogResult", "Evidence", "Opportunity", "backlog", "confidence", "rank", "sized", "slug"]

KINDS = (
    "friction cause", "map deviation", "missed time target", "avoidable contact", "team performance",
    "negative theme",
)  # fmt: skip
CONFIDENCE_RULE = (
    "high: the 95% interval excludes zero and its half-width is at most 25% of the estimate (q < 0.01 "
    "where the source tests); medium: it excludes zero (q < 0.05) with half-width at most 60%; low: otherwise"
)


def slug(kind: str, subject: str) -> str:
    """The stable id of an opportunity: ``avoidable-contact-web-billing-faq``."""
    return re.sub(r"[^a-z0-9]+", "-", f"{kind} {subject}".lower()).strip("-")


def confidence(estimate: float | None, lo: float | None, hi: float | None, q: float | None = None) -> str:
    """High / medium / low by the interval's width and q (:data:`CONFIDENCE_RULE`)."""
    if estimate is None or lo is None or hi is None or estimate == 0 or (lo <= 0 <= hi):
        return "low"
    width = (hi - lo) / 2 / abs(estimate)
    if width <= 0.25 and (q is None or q < 0.01):
        return "high"
    if width <= 0.6 and (q is None or q < 0.05):
        return "medium"
    return "low"


def sized(
    money: tuple[float | None, float | None, float | None], method: str, why_not: str
) -> dict[str, Any]:
    """An opportunity's money fields: (money, lo, hi) per year and the method, or why there is none."""
    value, lo, hi = money
    reason = None if value is not None else why_not
    return {"money": value, "money_lo": lo, "money_hi": hi, "money_method": method, "money_reason": reason}


@dataclass(frozen=True)
class Evidence:
    """One analysis's numbers behind an opportunity and the command that reproduces them."""

    source: str
    summary: str
    command: str
    numbers: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Opportunity:
    """A candidate improvement, sized. Money and counts are per year; ``*_reason`` says why a size
    is None."""

    kind: str
    subject: str
    title: str
    evidence: tuple[Evidence, ...]
    journeys: float | None
    customers: float | None
    money: float | None
    money_lo: float | None
    money_hi: float | None
    money_method: str
    owner: str | None
    confidence: str
    money_reason: str | None = None
    count: float | None = None
    """The estimated count per year the money is built on (ranks the items without money)."""
    count_unit: str | None = None
    journey_value: float | None = None
    customer_value: float | None = None
    value_reason: str | None = None
    also_kinds: tuple[str, ...] = ()
    also_ids: tuple[str, ...] = ()
    """Ids of the candidates merged into this one (a backlog.yaml entry may name any of them)."""
    effort_days: float | None = None
    status: str = "new"
    decision: str | None = None
    notes: str | None = None

    @property
    def id(self) -> str:
        return slug(self.kind, self.subject)

    def record(self) -> dict[str, Any]:
        """The flat row (evidence as text; ``to_dict`` keeps its numbers)."""
        row = {k: v for k, v in asdict(self).items() if k not in ("evidence", "also_kinds", "also_ids")}
        per_day = self.money / self.effort_days if self.money is not None and self.effort_days else None
        return {
            "id": self.id, **row, "kinds": ", ".join((self.kind, *self.also_kinds)),
            "value_per_effort": per_day,
            "evidence": " | ".join(f"{e.summary} (`{e.command}`)" for e in self.evidence),
            "association": "associated with, not caused by: see docs/decisions.md, 'Backlog'",
        }  # fmt: skip


def merge(candidates: list[Opportunity]) -> list[Opportunity]:
    """One item per subject: the larger money is kept, the others' evidence and kinds added."""
    by: dict[str, Opportunity] = {}
    for c in sorted(candidates, key=lambda o: (-(o.money or 0.0), o.kind, o.subject)):
        key = c.subject.lower()
        kept = by.get(key)
        if kept is None:
            by[key] = c
            continue
        kinds = tuple(k for k in dict.fromkeys((*kept.also_kinds, c.kind, *c.also_kinds)) if k != kept.kind)
        value = kept.journey_value if kept.journey_value is not None else c.journey_value
        by[key] = replace(
            kept, evidence=(*kept.evidence, *c.evidence), also_kinds=kinds,
            also_ids=(*kept.also_ids, c.id, *c.also_ids), owner=kept.owner or c.owner, journey_value=value,
        )  # fmt: skip
    return list(by.values())


def rank(items: list[Opportunity], by: str = "money") -> list[Opportunity]:
    """By money per year (then the count behind it and journey value: unpriced items follow by
    their count), or by money per effort day (unsized effort last)."""

    def money_key(o: Opportunity) -> tuple[Any, ...]:
        return (o.money is None, -(o.money or 0.0), -(o.count or 0.0), -(o.journey_value or 0.0), o.id)

    if by == "value_per_effort":
        return sorted(
            items,
            key=lambda o: (
                not (o.money is not None and o.effort_days),
                -((o.money or 0.0) / (o.effort_days or 1.0)),
                *money_key(o),
            ),
        )
    return sorted(items, key=money_key)


def with_plan(items: list[Opportunity], plan: Plan) -> list[Opportunity]:
    """Each item with the effort, status, decision and notes of its backlog.yaml entry (by id or
    the id of a candidate merged into it)."""
    out = []
    for o in items:
        entry = next((plan.entries[i] for i in (o.id, *o.also_ids) if i in plan.entries), None)
        out.append(o if entry is None else replace(
            o, effort_days=entry.effort_days, status=entry.status.value, decision=entry.decision,
            notes=entry.notes,
        ))  # fmt: skip
    return out


@dataclass(frozen=True)
class BacklogResult(TableResult):
    """Ranked opportunities (``table``), the typed warnings and what each source did (``context``)."""

    JSON_FIELDS: ClassVar[tuple[str, ...]] = (
        "rank_by, days, per_year, confidence_rule, dedup_rule, plan",
        "sources (name, items, note)",
        "warnings (kind, id, line, path, hint)",
        "rows (records: rank, id, kind, kinds, subject, title, journeys, customers, money, money_lo, "
        "money_hi, money_reason, money_method, count, count_unit, journey_value, customer_value, "
        "value_reason, owner, confidence, effort_days, value_per_effort, status, decision, notes, "
        "evidence, association)",
        "evidence (per id: source, summary, command, numbers)",
        "proposed_experiments (per id: id, metric, unit, base_rate, denominator, mde, mde_source, variance, "
        "alpha, power, per_variant, total, eligible_per_day, days, design, reason)",
    )

    items: tuple[Opportunity, ...] = ()
    context: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        evidence = {o.id: [asdict(e) for e in o.evidence] for o in self.items}
        return {**self.context, "rows": self.records(), "evidence": evidence,
                "proposed_experiments": self.proposed_experiments()}  # fmt: skip

    def proposed_experiments(self) -> dict[str, dict[str, Any]]:
        """Per item id, a proposed A/B test with its power calculation (``backlog_experiments``)."""
        from journeylens.decisions.backlog_experiments import proposed_experiment

        days = float(self.context.get("days") or 1.0)
        return {o.id: proposed_experiment(o, days) for o in self.items}

    def to_csv(self) -> str:
        buffer = io.StringIO()
        rows = self.records()
        if rows:
            writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        return buffer.getvalue()

    def to_markdown(self) -> str:
        """A roadmap table: rank, opportunity, money per year [95%], owner, confidence, effort, status."""
        lines = [
            "| # | opportunity | kind | money / year [95%] | journeys / year | owner | confidence | effort "
            "| status |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in self.records():
            money = (
                "-"
                if r["money"] is None
                else f"{r['money']:,.0f} [{r['money_lo']:,.0f}–{r['money_hi']:,.0f}]"
            )
            effort = "-" if r["effort_days"] is None else f"{r['effort_days']:g} d"
            journeys = "-" if r["journeys"] is None else f"{r['journeys']:,.0f}"
            lines.append(
                f"| {r['rank']} | {r['title']} (`{r['id']}`) | {r['kinds']} | {money} | {journeys} | "
                f"{r['owner'] or '-'} | {r['confidence']} | {effort} | {r['status']} |"
            )
        return "\n".join(lines) + "\n\nMoney is associated with each finding, not a promised saving.\n"

    def plot(self) -> go.Figure:
        """Money per year with its 95% interval, one bar per opportunity (top 15)."""
        import plotly.graph_objects as go

        rows = [r for r in self.records() if r["money"] is not None][:15]
        fig = go.Figure()
        fig.add_bar(
            y=[r["title"] for r in rows], x=[r["money"] for r in rows], orientation="h",
            error_x={"type": "data", "symmetric": False, "array": [r["money_hi"] - r["money"] for r in rows],
                     "arrayminus": [r["money"] - r["money_lo"] for r in rows]},
        )  # fmt: skip
        fig.update_layout(title="Opportunities: money per year associated with each (95% interval)")
        fig.update_yaxes(autorange="reversed")
        return fig


def build_backlog(context: Any, spec: BacklogSpec, plan: Plan) -> BacklogResult:
    """Run the sources on ``context`` (:class:`~journeylens.decisions.backlog_sources.SourceContext`),
    merge, join the plan and rank."""
    from journeylens.decisions.backlog_sources import DEDUP_RULE, SOURCES, run_sources

    found, notes = run_sources(context, [s for s in SOURCES if s in spec.sources])
    items = rank(with_plan(merge(found), plan), spec.rank.value)
    warnings = [w.to_dict() for w in plan.unknown({i for o in items for i in (o.id, *o.also_ids)})]
    if spec.kinds:
        items = [o for o in items if o.kind in spec.kinds]
    records = [{"rank": i, **o.record()} for i, o in enumerate(items[: spec.limit], start=1)]
    ctx = {
        "rank_by": spec.rank.value, "days": context.reach.days, "per_year": context.reach.per_year,
        "confidence_rule": CONFIDENCE_RULE, "dedup_rule": DEDUP_RULE, "sources": notes,
        "warnings": warnings, "plan": str(plan.path) if plan.path else None,
    }  # fmt: skip
    return BacklogResult(pa.Table.from_pylist(records), items=tuple(items[: spec.limit]), context=ctx)


def backlog(ws: Workspace, spec: BacklogSpec) -> BacklogResult:
    """The registry's run function: the workspace's sources and its ``backlog.yaml``."""
    from journeylens.decisions.backlog_sources import SourceContext

    plan = load_plan(Path(spec.plan) if spec.plan else ws.root / "backlog.yaml")
    result = build_backlog(SourceContext.of_workspace(ws), spec, plan)
    if spec.markdown:
        Path(spec.markdown).write_text(result.to_markdown(), encoding="utf-8")
    return result
