"""Root causes as backlog candidates: the ``causes`` source of ``journeylens backlog``.

For every outcome that carries money, and every journey type that defines outcomes, ``journeylens
causes`` runs on the journeys of that type (touchpoints, channels and event properties: the
defaults that exist and the contacts' variant properties, e.g. the message template; no pairs,
no examples, to keep the run short). Each cause (kept by every check, q at most the level, raising
the outcome) becomes a ``friction cause`` candidate sized as

    excess outcome journeys = journeys with it x (rate with - rate without)

with the 95% interval of the rate difference, times the money of one outcome journey
(:data:`UNITS`), times 365 / the data's span in days. A touchpoint cause's subject is the touchpoint
(``channel:touchpoint``; a variant property value names its variant label,
``sms:delivery_update[template=...]``), so it merges with the avoidable-contact item of the same
touchpoint. An outcome the type cannot contrast (no journey has it, or every one) adds nothing.
A cause most journeys without the outcome also have, or nearly every journey with it has
(:data:`STEP_SHARE`), is a step of the journey or a precondition of the outcome, not a friction:
``app:checkout`` is "associated with" every failed purchase without being the thing to fix (the
payment error there is, and it decides the outcome, so it is no candidate of ``failed``).

Example:
    >>> from journeylens.decisions.backlog_sources import SourceContext
    >>> items = backlog_candidates(SourceContext.of_workspace(ws))  # doctest: +SKIP
    >>> items[0].kind, items[0].subject  # doctest: +SKIP
    ('friction cause', 'app:payment_error')
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ibis.expr.types as ir

from journeylens.decisions.backlog import Evidence, Opportunity, confidence, sized
from journeylens.decisions.backlog_sources import NOT_PRICED, SourceAbsent, _reached, _scaled
from journeylens.decisions.causes import causes
from journeylens.decisions.causes_features import present_properties
from journeylens.errors import JourneyLensError
from journeylens.specs.causes import DEFAULT_PROPERTIES, CausesSpec

if TYPE_CHECKING:
    from journeylens.decisions.backlog_sources import SourceContext

__all__ = ["UNITS", "backlog_candidates", "unit_values_expr"]

FAMILIES = ["touchpoint", "channel", "event"]
STEP_SHARE, PRECONDITION_SHARE = 0.5, 0.95
"""A cause that more than ``STEP_SHARE`` of the journeys *without* the outcome also have, or that at
least ``PRECONDITION_SHARE`` of the journeys *with* it have, is a step of the journey or a
precondition of the outcome (on the synthetic world every failed purchase went through the app's
checkout, where the payment error happens), not a friction to fix: it stays in ``journeylens
causes`` and is no backlog item."""


def _a_step(r: dict[str, Any], outcome_journeys: int, spared: int) -> bool:
    """Whether a cause is a step of the journey or a precondition of the outcome (see above)."""
    common = bool(spared) and (r["journeys_with"] - r["outcome_with"]) / spared > STEP_SHARE
    return common or (bool(outcome_journeys) and r["outcome_with"] / outcome_journeys >= PRECONDITION_SHARE)


UNITS = {
    "leakage": "excess journeys that leaked to an assisted contact (one contact each) x mean cost of an "
    "assisted contact ([journeys.costs]) x 365/days",
    "contact_after": "excess follow-up journeys with an assisted contact x mean cost to serve of journeys "
    "with an assisted contact x 365/days",
    "failed": "lost conversions (excess failed journeys) x mean value of the type's successful journeys "
    "x 365/days",
    "abandoned": "lost conversions (excess abandoned journeys) x mean value of the type's successful "
    "journeys x 365/days",
    "repeat_journey": "excess repeat journeys x mean cost to serve of the type's journeys x 365/days",
}
"""The outcomes that carry money, and how one excess outcome journey is priced."""
NO_VALUE = "the type's successful journeys carry no value"
COUNT_UNITS = {
    "leakage": "excess journeys with an assisted contact",
    "contact_after": "excess follow-up journeys with an assisted contact",
    "failed": "lost conversions",
    "abandoned": "lost conversions",
    "repeat_journey": "excess repeat journeys",
}


def unit_values_expr(journeys: ir.Table) -> ir.Table:
    """Per journey type: mean value of its successful journeys, mean cost to serve, and the cost
    and count of its journeys with an assisted contact (one aggregation)."""
    j = journeys
    contacted = j.assisted_contacts > 0
    return j.group_by("journey_type").agg(
        success_value=j.value.fill_null(0.0).mean(where=j.outcome == "success"),
        cost=j.cost_to_serve.mean(),
        contacted_cost=j.cost_to_serve.sum(where=contacted),
        contacted=contacted.sum(),
    )


def _units(ctx: SourceContext) -> dict[tuple[str, str], float | None]:
    """(outcome, type) -> money of one excess outcome journey (None when not priced)."""
    rows = ctx.store.execute(unit_values_expr(ctx.store.backend.table("journeys"))).to_pylist()
    priced = ctx.rules.priced()
    n = sum(int(r["contacted"] or 0) for r in rows)
    follow_up = sum(float(r["contacted_cost"] or 0.0) for r in rows) / n if priced and n else None
    per_contact = ctx.cost_per_contact()
    units: dict[tuple[str, str], float | None] = {}
    for r in rows:
        t = r["journey_type"]
        value = r["success_value"] if (r["success_value"] or 0.0) > 0 else None
        units |= {
            ("leakage", t): per_contact, ("contact_after", t): follow_up, ("failed", t): value,
            ("abandoned", t): value, ("repeat_journey", t): r["cost"] if priced else None,
        }  # fmt: skip
    return units


def backlog_candidates(ctx: SourceContext) -> list[Opportunity]:
    """Every money-carrying cause of every outcome of every type that defines outcomes."""
    if ctx.workspace is None:
        raise SourceAbsent("root causes need the workspace")
    names = present_properties(ctx.store, [*DEFAULT_PROPERTIES, *ctx.contacts.variant_properties])
    units = _units(ctx)
    out = []
    for journey_type, jt in ctx.rules.types.items():
        if not jt.defines_outcome():
            continue
        for outcome in UNITS:
            spec = CausesSpec(
                outcome=outcome, families=FAMILIES, properties=names, max_pair_features=0, examples=0,
                filter={"journey_type": [journey_type]},
            )  # fmt: skip
            try:
                result = causes(ctx.workspace, spec)
            except JourneyLensError:
                continue  # the type cannot contrast this outcome (none or all have it): no finding
            level, unit = result.context["level"], units.get((outcome, journey_type))
            spared = result.context["journeys"] - result.context["outcome_journeys"]
            for r in result.causes():
                if r["q"] is None or r["q"] > level or r["excess_journeys"] is None:
                    continue
                if _a_step(r, result.context["outcome_journeys"], spared):
                    continue
                out.append(_candidate(ctx, r, outcome, journey_type, unit))
    return out


def _subject(ctx: SourceContext, r: dict[str, Any]) -> str:
    """The touchpoint (or its variant label) a feature names, else the feature's label."""
    family, value = r["family"], r["label"].split(" ", 1)[1]
    if family == "touchpoint":
        return value
    if family == "event" and value.split("=", 1)[0] in ctx.contacts.variant_properties:
        variants = [label for label in ctx.reach.rows if label.endswith(f"[{value}]")]
        if len(variants) == 1:
            return variants[0]
    return r["label"]


def _candidate(
    ctx: SourceContext, r: dict[str, Any], outcome: str, journey_type: str, unit: float | None
) -> Opportunity:
    excess, lo, hi = r["excess_journeys"], r["excess_lo"], r["excess_hi"]
    subject = _subject(ctx, r)
    command = f"journeylens causes --outcome {outcome} --type {journey_type}"
    summary = (
        f"{outcome} in {r['outcome_with']:,} of {r['journeys_with']:,} {journey_type} journeys with "
        f"{r['label']} ({r['rate_with']:.0%} against {r['rate_without']:.0%} without, q={r['q']:.2g}): "
        f"{excess:,.0f} excess [{lo:,.0f}–{hi:,.0f}] in the data"
    )
    keys = ("label", "journeys_with", "outcome_with", "rate_with", "rate_without", "difference",
            "difference_lo", "difference_hi", "excess_journeys", "excess_lo", "excess_hi", "q")  # fmt: skip
    reached = _reached(ctx, subject) if subject in ctx.reach.rows else {
        "journeys": r["journeys_with"] * ctx.reach.per_year, "customers": None,
        "value_reason": "the feature is not a touchpoint: journeys are those of the causes run",
    }  # fmt: skip
    return Opportunity(
        kind="friction cause",
        subject=subject,
        title=f"{subject} is associated with {excess:,.0f} more {outcome} {journey_type} journeys",
        evidence=(Evidence("causes", summary, command, {"unit": unit, **{k: r[k] for k in keys}}),),
        **reached,
        count=excess * ctx.reach.per_year,
        count_unit=COUNT_UNITS[outcome],
        **sized(
            _scaled(ctx, excess, lo, hi, unit),
            UNITS[outcome],
            NO_VALUE if outcome in ("failed", "abandoned") else NOT_PRICED,
        ),
        owner=None,
        confidence=confidence(excess, lo, hi, r["q"]),
    )
