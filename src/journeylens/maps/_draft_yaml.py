"""The text of a drafted map: commented YAML that validates against the map format.

Comments say what the data showed (reach, position, observed times) and what is left for people
(goal, expected emotions, owners). Lines stay within 100 characters.
"""

from __future__ import annotations

import json
import math
from typing import Any

from journeylens._units import duration_text
from journeylens.specs.maps import MapDraftSpec

SCHEMA_LINE = "# yaml-language-server: $schema=map.schema.json"
"""Editors validate the file against ``map.schema.json`` beside it (``map draft --out`` writes it;
``journeylens map schema > maps/map.schema.json`` otherwise)."""


def _q(text: str) -> str:
    """A YAML scalar that reads back as the same string (JSON strings are valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def target_duration(seconds: float) -> str:
    """An observed time rounded up to a duration people write: 14m, 3h, 2d (at least 1m).

    Example:
        >>> target_duration(61), target_duration(3 * 3600 + 1), target_duration(50 * 3600)
        ('2m', '4h', '3d')
    """
    for unit, size, limit in (("m", 60, 120 * 60), ("h", 3600, 48 * 3600)):
        if seconds <= limit:
            return f"{max(1, math.ceil(seconds / size))}{unit}"
    return f"{math.ceil(seconds / 86400)}d"


def draft_yaml(
    spec: MapDraftSpec,
    touchpoints: list[dict[str, Any]],
    stages: list[dict[str, Any]],
    transitions: list[dict[str, Any]],
    total: int,
    *,
    source: str = "",
) -> str:
    """The commented YAML of a drafted map."""
    who = f"{spec.journey_type} journeys" + (f" of segment {spec.segment}" if spec.segment else "")
    lines = [
        SCHEMA_LINE,
        f"# Journey map drafted by `journeylens map draft` from {total:,} {who}{source}.",
        "# Stages, their order and time targets come from the data; goals, intents, expected",
        "# emotions and owners are for people to fill in. Rename the stages as the team says them.",
        "# The format: docs/maps.md; every field: `journeylens map schema`.",
        f"journey_type: {_q(spec.journey_type)}",
    ]
    if spec.segment:
        lines.append(f"segment: {_q(spec.segment)}")
    lines += [
        f"goal: {_q('TODO: what customers want from their ' + spec.journey_type + ' journeys')}",
        "owner:  # who answers for this journey",
        "version: 1",
        "stages:",
    ]
    for stage in stages:
        lines += _stage_lines(stage, touchpoints)
    lines += _unplanned_lines(touchpoints)
    lines += _flow_comment(transitions)
    lines += [
        "rules: []",
        "# Declare rules over touchpoints or stages, for example:",
        "#   - {rule: existence, activity: STAGE_OR_TOUCHPOINT}",
        "#   - {rule: response, first: A, then: B, within: 2h}",
        "# costs: {assisted_contact: 6.5, hour_of_delay: 1.0, lost_conversion: 40}  # default:",
        "#   [journeys.costs] in journeylens.toml and the journey value",
        'monitor: {false_alarm_budget: "1/month", period: day}',
    ]
    return "\n".join(lines) + "\n"


def _stage_lines(stage: dict[str, Any], touchpoints: list[dict[str, Any]]) -> list[str]:
    rows = {r["touchpoint"]: r for r in touchpoints}
    lines = [
        f"  - name: {_q(stage['stage'])}",
        f"    # reached by {stage['share']:.0%} of the journeys ({stage['journeys']:,})",
        "    touchpoints:",
    ]
    for tp in stage["touchpoints"]:
        r = rows[tp]
        share, position = r["share"], r["position"]
        lines.append(f"      - {_q(tp)}  # {share:.0%} of journeys, typical position {position:.2f}")
    lines += [
        f"    required: {'true' if stage['required'] else 'false'}",
        "    customer_goal:  # what the customer wants here",
        "    intent:  # what we want them to feel and do here",
        "    expected_emotion:  # -2 (very negative) .. 2 (very positive): for people to decide",
    ]
    p80, median = stage["p80_s"], stage["median_s"]
    if p80 is not None and p80 > 0:
        lines += [
            f"    # observed time in stage: median {duration_text(median)}, p80 {duration_text(p80)}",
            f'    time_target: {{duration: "{target_duration(p80)}", percentile: p80}}',
        ]
    else:
        lines.append("    # no time observed in this stage (one event, journeys end here): no time target")
    lines += ["    owner:", "    pain_points: []", "    kpis: []"]
    return lines


def _unplanned_lines(touchpoints: list[dict[str, Any]]) -> list[str]:
    extra = [r for r in touchpoints if r["role"] == "unplanned"]
    if not extra:
        return ["unplanned: []"]
    lines = [
        "# Touchpoints outside the stages: rare, or without a consistent place in the journey.",
        "unplanned:",
    ]
    for r in extra:
        lines += [f"  - name: {_q(r['touchpoint'])}", f"    touchpoints: [{_q(r['touchpoint'])}]"]
        lines.append(f"    note: {_q(str(r['reason']))}")
    return lines


def _flow_comment(transitions: list[dict[str, Any]], min_share: float = 0.05) -> list[str]:
    """The stage-level process map as comments: transitions of at least ``min_share`` of journeys."""
    shown = [t for t in transitions if t["share"] >= min_share]
    if not shown:
        return []
    lines = ["# Stage flow in the data (journeys; at least 5% of them):"]
    for t in shown:
        target = t["target"] if t["target"] is not None else "(end)"
        lines.append(f"#   {t['source']} -> {target}: {t['journeys']:,} ({t['share']:.0%})")
    return lines
