"""Backlog candidates from the workspace's journey maps (``journeylens map check``): per stage, the
journeys with a deviation there against conforming journeys, sized by the money their differences
imply (the map check's ``stage_money``), and stage time targets that are missed.

The money interval: each part of a stage's money is a known factor times one difference (assisted
contacts, cost to serve, hours, success rate) whose 95% interval the check gives; the part's
interval is that factor times the difference's bounds, and the stage's interval is the sum of its
parts' bounds (conservative: wider than a joint 95% interval).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from journeylens.decisions.backlog import Evidence, Opportunity, confidence, sized

if TYPE_CHECKING:
    from journeylens.decisions.backlog_sources import SourceContext
    from journeylens.maps.model import JourneyMap

__all__ = ["map_opportunities"]

PART_METRIC = {
    "assisted_contacts": "assisted_contacts",
    "cost_to_serve": "cost_to_serve",
    "delay": "duration_s",
    "lost_conversions": "success",
}
TIME_MONEY = (
    "the time beyond target is sized in the stage's deviation money when the map sets "
    "costs.hour_of_delay; not again here"
)
METHOD = (
    "journeys deviating at the stage x their per-journey difference from conforming journeys (extra "
    "assisted contacts x cost per contact, or cost to serve; lost conversions x mean value of successful "
    "journeys; hours x the map's hour of delay) x 365/days; interval: sum of the parts' bounds"
)


def map_opportunities(ctx: SourceContext) -> list[Opportunity]:
    """Deviations and missed time targets of every valid map in the workspace's maps folder."""
    from journeylens.decisions.backlog_sources import SourceAbsent
    from journeylens.maps.check import check_map
    from journeylens.maps.loading import list_maps

    entries = list_maps(ctx.root, ctx.rules) if ctx.root is not None else []
    maps = [e for e in entries if e.map is not None]
    if not maps:
        raise SourceAbsent("no valid journey map in the workspace's maps folder")
    out: list[Opportunity] = []
    for entry in maps:
        assert entry.map is not None
        checked = check_map(ctx.store, entry.map, rules=ctx.rules, path=entry.file)
        name = entry.map.name or entry.file.stem
        out += _deviations(ctx, entry.map, name, checked.stage_money, checked.stage_costs)
        out += _time_targets(ctx, entry.map, name, checked.timing)
    return out


def _owner(jm: JourneyMap, stage: str) -> str | None:
    return next((s.owner for s in jm.stages if s.name == stage and s.owner), None) or jm.owner


def _deviations(
    ctx: SourceContext, jm: JourneyMap, name: str, money: list[dict[str, Any]], costs: list[dict[str, Any]]
) -> list[Opportunity]:
    diffs = {(r["stage"], r["metric"]): r for r in costs if r["stage"] is not None}
    out = []
    for m in money:
        stage, per = m["stage"], m["per_journey"]
        if stage is None or per is None or per <= 0:
            continue
        lo = hi = 0.0
        for part, value in m["parts"].items():
            d = diffs.get((stage, PART_METRIC[part]))
            if value is None or d is None or not d["diff"] or d["diff_lo"] is None:
                continue
            factor = value / d["diff"]
            a, b = factor * d["diff_lo"], factor * d["diff_hi"]
            lo, hi = lo + min(a, b), hi + max(a, b)
        qs = [d["q"] for (s, _), d in diffs.items() if s == stage and d.get("q") is not None]
        q = min(qs) if qs else None
        k = m["journeys"] * ctx.reach.per_year
        parts = {p: v for p, v in m["parts"].items() if v is not None}
        summary = (
            f"{m['journeys']:,} journeys deviate at stage {stage}: {per:,.2f} more per journey than "
            f"conforming journeys ({', '.join(f'{p} {v:,.2f}' for p, v in parts.items())})"
        )
        out.append(
            Opportunity(
                kind="map deviation",
                subject=f"map:{name}:{stage}",
                title=f"deviations at {name} / {stage} are associated with {per:,.2f} per journey",
                evidence=(
                    Evidence(
                        "map check",
                        summary,
                        f"journeylens map check {name}",
                        {"journeys": m["journeys"], "per_journey": per, "parts": m["parts"], "q": q},
                    ),
                ),
                journeys=k,
                customers=None,
                count=k,
                count_unit="journeys deviating at the stage",
                **sized((per * k, lo * k, hi * k), METHOD, "-"),
                owner=_owner(jm, stage),
                value_reason="per stage, the journeys' value is in lost_conversions",
                confidence=confidence(per, lo, hi, q),
            )
        )
    return out


def _time_targets(
    ctx: SourceContext, jm: JourneyMap, name: str, timing: list[dict[str, Any]]
) -> list[Opportunity]:
    out = []
    groups = [r["group"] for r in timing]
    for r in timing:
        if r["group"] != groups[0] or r["target_met"] is not False or r["share_hi"] is None:
            continue
        over = r["journeys"] - r["within_target"]
        goal = next((s.time_target.share for s in jm.stages if s.name == r["stage"] and s.time_target), None)
        gap = (goal - r["share_within"]) if goal is not None else None
        summary = (
            f"{r['within_target']:,} of {r['journeys']:,} journeys within {r['target']} at {r['stage']} "
            f"({r['share_within']:.0%} [{r['share_lo']:.0%}–{r['share_hi']:.0%}])"
        )
        out.append(
            Opportunity(
                kind="missed time target",
                subject=f"map:{name}:{r['stage']}:time",
                title=f"{name} / {r['stage']}: {over:,} journeys over the {r['target']} time target",
                evidence=(
                    Evidence(
                        "map check",
                        summary,
                        f"journeylens map check {name}",
                        {k: r[k] for k in ("journeys", "within_target", "share_within", "target")},
                    ),
                ),
                journeys=over * ctx.reach.per_year,
                customers=None,
                count=over * ctx.reach.per_year,
                count_unit="journeys over the time target",
                **sized((None, None, None), "-", TIME_MONEY),
                owner=_owner(jm, r["stage"].split(" -> ")[0]),
                value_reason="see the stage's deviations",
                confidence=confidence(
                    gap,
                    None if gap is None else goal - r["share_hi"],
                    None if gap is None else goal - r["share_lo"],
                ),
            )
        )
    return out
