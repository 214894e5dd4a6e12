"""Declare rules of a map, decided per journey in the engine (first/last positions and ``lead``).

A rule names an *activity*: a stage of the map (an event of that stage) or a touchpoint (an event
with that touchpoint name). Positions are the journey's ``step``. The semantics are pm4py's
(``pm4py.conformance_declare``, classic variant), which the tests check on real logs:

* ``existence A (min k)`` — A happens at least k times;
* ``absence A`` — A never happens;
* ``response A -> B`` — every A is followed by a later B (equivalently: no A, or the last A comes
  before the last B); ``within d``: the first B after each A comes at most d after it;
* ``precedence A -> B`` — no B, or the first A comes before the first B;
* ``chain_response A -> B`` — the event right after every A is a B (an A that ends the journey
  breaks the rule).

Rules that are not triggered (no A in a response) hold vacuously, as in Declare.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

from journeylens._units import parse_duration
from journeylens.maps.model import Absence, ChainResponse, Existence, JourneyMap, Precedence, Response

if TYPE_CHECKING:
    from journeylens.maps.model import Rule

__all__ = ["broken_rules", "broken_without_events", "event_flags", "rule_aggregates", "rule_label"]


def rule_label(rule: Rule) -> str:
    """A rule as people write it: ``response checkout -> confirmation within 2h``."""
    if isinstance(rule, Existence):
        return f"existence {rule.activity}" + (f" (at least {rule.min})" if rule.min > 1 else "")
    if isinstance(rule, Absence):
        return f"absence {rule.activity}"
    text = f"{rule.rule} {rule.first} -> {rule.then}"
    if isinstance(rule, Response) and rule.within:
        text += f" within {rule.within}"
    return text


def _is(staged: ir.Table, name: str, stages: set[str]) -> ir.BooleanValue:
    column = staged.stage if name in stages else staged.touchpoint
    return (column == name).fill_null(False)


def event_flags(journey_map: JourneyMap, staged: ir.Table) -> dict[str, ir.Value]:
    """Per event, one column per rule (``_a{j}``, and ``_b{j}`` for precedence): does this event
    break the rule (response, chain response), or count towards it (existence, absence,
    precedence: the step of an A or B event). Windows are over the journey's ``step``."""
    stages = {s.name for s in journey_map.stages}
    order = ibis.window(group_by=staged.journey_id, order_by=staged.step)
    after = ibis.window(group_by=staged.journey_id, order_by=staged.step, rows=(1, None))
    cols: dict[str, ir.Value] = {}
    for j, rule in enumerate(journey_map.rules):
        if isinstance(rule, (Existence, Absence)):
            cols[f"_a{j}"] = _is(staged, rule.activity, stages)
        elif isinstance(rule, Precedence):
            a, b = _is(staged, rule.first, stages), _is(staged, rule.then, stages)
            cols[f"_a{j}"] = ibis.cases((a, staged.step), else_=ibis.null("int64"))
            cols[f"_b{j}"] = ibis.cases((b, staged.step), else_=ibis.null("int64"))
        elif isinstance(rule, Response):
            a, b = _is(staged, rule.first, stages), _is(staged, rule.then, stages)
            # Whole epoch seconds, not timestamps: a CASE mixing the stored instants with a NULL
            # timestamp is typed differently by each engine.
            at = staged.timestamp.epoch_seconds().cast("int64")
            next_b = ibis.cases((b, at), else_=ibis.null("int64")).min().over(after)
            late = next_b.isnull()
            if rule.within:
                late = late | ((next_b - at) > parse_duration(rule.within))
            cols[f"_a{j}"] = a & late
        elif isinstance(rule, ChainResponse):
            a, b = _is(staged, rule.first, stages), _is(staged, rule.then, stages)
            cols[f"_a{j}"] = a & ~b.lead().over(order).fill_null(False)
    return cols


def rule_aggregates(journey_map: JourneyMap, flags: ir.Table) -> dict[str, ir.Value]:
    """Per journey (aggregations over ``flags``, which carry :func:`event_flags`): ``_r{j}``, is
    rule j (0-based) broken. A journey without events is not aggregated: fill with
    :func:`broken_without_events`."""
    aggs: dict[str, ir.Value] = {}
    for j, rule in enumerate(journey_map.rules):
        if isinstance(rule, Existence):
            aggs[f"_r{j}"] = flags[f"_a{j}"].cast("int64").sum() < rule.min
        elif isinstance(rule, Precedence):
            first_a, first_b = flags[f"_a{j}"].min(), flags[f"_b{j}"].min()
            aggs[f"_r{j}"] = first_b.notnull() & (first_a.isnull() | (first_a > first_b))
        else:  # absence, response, chain response: some event breaks it
            aggs[f"_r{j}"] = flags[f"_a{j}"].any()
    return aggs


def broken_without_events(rule: Rule) -> bool:
    """Whether a journey with no event breaks ``rule``: only existence rules need an event."""
    return isinstance(rule, Existence)


def broken_rules(journey_map: JourneyMap, journeys: ir.Table, staged: ir.Table) -> ir.Table | None:
    """One row per (journey, rule) the journey breaks: journey_id, _group, rule (1-based index in
    the map), rule_label. None when the map has no rules."""
    from journeylens.maps.conformance import GROUP

    if not journey_map.rules:
        return None
    flags = staged.mutate(**event_flags(journey_map, staged))
    per = flags.group_by("journey_id").agg(**rule_aggregates(journey_map, flags))
    base = journeys.select("journey_id", GROUP).left_join(per, "journey_id")
    parts = []
    for j, rule in enumerate(journey_map.rules):
        broken = base[f"_r{j}"].fill_null(broken_without_events(rule))
        part = base.filter(broken).select(
            base.journey_id,
            base[GROUP],
            rule=ibis.literal(j + 1, "int64"),
            rule_label=ibis.literal(rule_label(rule)),
        )
        parts.append(part)
    out = parts[0]
    for part in parts[1:]:
        out = out.union(part, distinct=False)
    return out
