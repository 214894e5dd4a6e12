"""A drawn map as text other tools render: a Mermaid ``journey`` diagram and a Graphviz DOT stage map.

Mermaid's journey diagram has sections (the stages) of tasks (the busiest touchpoints) with a
score from 1 to 5 and actors: the score is the stage's expected emotion (-2..2 -> 1..5, 3 when
not set) and the actors are the channels the touchpoint is used on. The DOT map has one node per
stage (journeys reaching it, time against target) and the journeys flowing between stages: the
planned flow (one stage to the next) solid, skips forward dashed, going back red.

Example:
    >>> print(to_mermaid(view))  # doctest: +SKIP
    journey
        title purchase: Buy the right product without help
        section discover (812 journeys)
          home 1,204 events: 4: web, app
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from journeylens._units import duration_text

if TYPE_CHECKING:
    from journeylens.maps.show import MapView

TASKS_PER_SECTION = 5
_MERMAID_UNSAFE = re.compile(r"[:;#\n\r]+")


def _mermaid_text(text: str) -> str:
    """Mermaid ends a task's name at ':' and a statement at ';' or '#': replace them."""
    return " ".join(_MERMAID_UNSAFE.sub(" ", text).split())


def _score(emotion: int | None) -> int:
    return 3 if emotion is None else emotion + 3


def to_mermaid(view: MapView) -> str:
    """The map as a Mermaid ``journey`` diagram (one section per stage)."""
    m = view.journey_map
    lines = ["journey", f"    title {_mermaid_text(f'{view.name} — {m.goal}')}"]
    for s in view.stages:
        lines.append(f"    section {_mermaid_text(s['stage'])} ({s['journeys']:,} journeys)")
        per: dict[str, dict[str, int]] = {}
        for row in view.touchpoints:
            if row["stage"] == s["stage"]:
                per.setdefault(row["touchpoint"], {})[row["channel"]] = row["events"]
        ranked = sorted(per.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))[:TASKS_PER_SECTION]
        score = _score(s["expected_emotion"])
        if not ranked:
            planned = ", ".join(m.stages[s["rank"] - 1].touchpoints) or "planned touchpoints"
            lines.append(f"      {_mermaid_text(planned)} (not reached): {score}: customer")
        for name, by in ranked:
            actors = ", ".join(_mermaid_text(c) for c in sorted(by, key=lambda c: (-by[c], c)))
            lines.append(f"      {_mermaid_text(name)} {sum(by.values()):,} events: {score}: {actors}")
    return "\n".join(lines) + "\n"


def _dot_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _node_label(s: dict[str, Any], total: int) -> str:
    journeys = int(s["journeys"])
    parts = [str(s["stage"]), f"{journeys:,} journeys ({journeys / total:.0%})" if total else "0 journeys"]
    if s["p80_s"] is not None:
        parts.append(f"p80 {duration_text(s['p80_s'])}")
    if s["target_s"] is not None:
        verdict = {True: "met", False: "missed", None: "not timed"}[s["target_met"]]
        parts.append(f"target {s['target_percentile']} {duration_text(s['target_s'])}: {verdict}")
    return "\\n".join(p.replace("\\", "\\\\").replace('"', '\\"') for p in parts)


def to_dot(view: MapView) -> str:
    """The stage map as a Graphviz DOT digraph (``dot -Tsvg map.dot > map.svg``)."""
    total = view.totals["journeys"]
    ids = {s["stage"]: f"s{s['rank']}" for s in view.stages}
    ranks = {s["stage"]: s["rank"] for s in view.stages}
    lines = [
        f"digraph {_dot_string(view.name)} {{",
        "  rankdir=LR;",
        '  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname="Helvetica"];',
        '  edge [fontname="Helvetica", fontsize=10];',
        '  start [shape=circle, label="start", fillcolor="#ffffff"];',
        '  end [shape=doublecircle, label="end", fillcolor="#ffffff"];',
    ]
    for s in view.stages:
        style = "" if s["required"] else ', style="rounded,filled,dashed"'
        lines.append(f'  {ids[s["stage"]]} [label="{_node_label(s, total)}"{style}];')
    entries: dict[str, int] = {}
    drawn: set[tuple[str, str]] = set()
    for f in view.flows:
        entries[f["from"]] = entries.get(f["from"], 0) + f["entries"]
        source = ids[f["from"]]
        if f["to"] is None:
            lines.append(f'  {source} -> end [label="{f["journeys"]:,}", color="#8a97a6"];')
            continue
        target = ids[f["to"]]
        step = ranks[f["to"]] - ranks[f["from"]]
        attrs = (
            "" if step == 1 else (", style=dashed" if step > 1 else ', color="#c62828", fontcolor="#c62828"')
        )
        lines.append(f'  {source} -> {target} [label="{f["journeys"]:,}"{attrs}];')
        drawn.add((f["from"], f["to"]))
    for name, n in entries.items():
        if n:
            lines.append(f'  start -> {ids[name]} [label="{n:,}", color="#8a97a6"];')
    # The planned flow is drawn even where no journey took it, so the design stays visible.
    for a, b in zip(view.stages, view.stages[1:], strict=False):
        if (a["stage"], b["stage"]) not in drawn:
            lines.append(f'  {ids[a["stage"]]} -> {ids[b["stage"]]} [label="0", style=dotted];')
    lines.append("}")
    return "\n".join(lines) + "\n"
