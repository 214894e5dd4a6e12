"""The classic journey-map layout in HTML: stages as columns, lanes as rows, data in the cells.

Lanes: customer goal (and what we want them to do), touchpoints (journeys reaching the stage,
channel mix, the busiest touchpoints), time in stage against the target, success, the emotion line
(expected from the map; the actual series is drawn empty until feedback is linked to stages), pain
points, deviations and their cost (from ``map check``), owner, KPI targets and opportunities the
data points to. :func:`map_fragment` is one ``<div>`` (the report embeds it); :func:`map_page` is
a whole self-contained page (plotly.js inlined, no network) with a print stylesheet.
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from journeylens._units import duration_text
from journeylens.report.sections import CHANNEL_COLORS
from journeylens.specs.feedback import MIN_EMOTION_ANSWERS

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from journeylens.maps.model import Stage
    from journeylens.maps.show import MapView

_ENV = Environment(
    loader=PackageLoader("journeylens.report", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
)
TOP_TOUCHPOINTS = 5
EMOTIONS = {-2: "very negative", -1: "negative", 0: "neutral", 1: "positive", 2: "very positive"}
RUN_CHECK = "Not checked yet: run `journeylens map check {name}` for the deviations and what they cost."
"""The deviations lane when no conformance result is given."""
_OTHER_COLOR = "#7F7F7F"


def _pct(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.0%}"


def _rate(n: int, d: int, lo: float | None, hi: float | None) -> str:
    if not d or lo is None or hi is None:
        return "not defined (no decided journey)"
    return f"{n / d:.0%} ({lo:.0%}–{hi:.0%}) · {n:,}/{d:,}"


def _emotion(value: int | None) -> str:
    return "not set" if value is None else f"{value:+d} {EMOTIONS[value]}".replace("+0", "0")


def _felt(view: MapView, s: dict[str, Any]) -> str:
    """The actual emotion of a stage, from the answers about it (or why there is none)."""
    if not view.emotions_linked:
        return "actual: drawn for the map's whole journeys only"
    n, value = s["emotion_answers"], s["actual_emotion"]
    if not n:
        return "actual: no answer is about this stage"
    if value is None:
        return f"actual not defined ({n:,} answers, fewer than {MIN_EMOTION_ANSWERS})"
    return (
        f"actual {value:+.2f} ({s['actual_emotion_lo']:+.2f}–{s['actual_emotion_hi']:+.2f}) · {n:,} answers"
    )


def _mix(channels: dict[str, int]) -> list[dict[str, Any]]:
    total = sum(channels.values())
    return [
        {
            "width": f"{100 * n / total:.2f}",
            "color": CHANNEL_COLORS.get(c, _OTHER_COLOR),
            "label": f"{c} {n / total:.0%}",
        }
        for c, n in channels.items()
        if total
    ]


def _touchpoints(view: MapView, stage: str) -> tuple[list[str], str]:
    """The busiest touchpoints of a stage (channels each), and how many more there are."""
    per: dict[str, dict[str, int]] = {}
    for row in view.touchpoints:
        if row["stage"] == stage:
            per.setdefault(row["touchpoint"], {})[row["channel"]] = row["events"]
    ranked = sorted(per.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
    lines = [
        f"{name} — {sum(by.values()):,} ({', '.join(c for c in sorted(by, key=lambda c: -by[c]))})"
        for name, by in ranked[:TOP_TOUCHPOINTS]
    ]
    more = len(ranked) - TOP_TOUCHPOINTS
    return lines, (f"+{more} more touchpoint{'s' if more > 1 else ''}" if more > 0 else "")


def _time(s: dict[str, Any]) -> tuple[str, str, str]:
    """(time text, target text, its css class)."""
    time = ""
    if s["median_s"] is not None:
        time = f"median {duration_text(s['median_s'])} · p80 {duration_text(s['p80_s'])}"
    if s["target_s"] is None:
        return time, "", ""
    at, pct = s["at_target_percentile_s"], s["target_percentile"]
    within = s["within_target_d"] and s["within_target_n"] / s["within_target_d"]
    if at is None:
        return time, f"target {pct} ≤ {duration_text(s['target_s'])}: no journey timed", "jm-empty"
    verdict = "met" if s["target_met"] else "missed"
    text = (
        f"target {pct} ≤ {duration_text(s['target_s'])}: {verdict} ({pct} is {duration_text(at)}; "
        f"{_pct(within)} within)"
    )
    return time, text, "jm-ok" if s["target_met"] else "jm-miss"


def _kpis(stage: Stage, s: dict[str, Any]) -> list[str]:
    """KPI targets; the ones this view measures (volume, conversion, resolution) with their value."""
    measured = {
        "volume": float(s["journeys"]),
        "conversion": s["success_rate"],
        "resolution": s["success_rate"],
    }
    lines = []
    for kpi in stage.kpis:
        bound = " and ".join(
            part
            for part in (
                f"≥ {kpi.min:g}" if kpi.min is not None else "",
                f"≤ {kpi.max:g}" if kpi.max is not None else "",
            )
            if part
        )
        value = measured.get(kpi.metric.value)
        if value is None:
            lines.append(f"KPI {kpi.metric.value} {bound}")
            continue
        ok = (kpi.min is None or value >= kpi.min) and (kpi.max is None or value <= kpi.max)
        shown = f"{value:,.0f}" if kpi.metric.value == "volume" else f"{value:.0%}"
        lines.append(f"KPI {kpi.metric.value} {bound}: {shown} {'✓' if ok else '✗ off target'}")
    return lines


def _opportunities(view: MapView, i: int) -> list[str]:
    """What the data says is worth a look at this stage."""
    s = view.stages[i]
    found = []
    if s["target_met"] is False:
        found.append(
            f"Shorten the stage: {s['target_percentile']} is {duration_text(s['at_target_percentile_s'])} "
            f"against a target of {duration_text(s['target_s'])}."
        )
    if s["journeys"] and i + 1 < len(view.stages):
        ended = sum(f["journeys"] for f in view.flows if f["from"] == s["stage"] and f["to"] is None)
        if ended / s["journeys"] >= 0.2:
            found.append(
                f"{ended / s['journeys']:.0%} of the journeys reaching it end here, before a later stage."
            )
    if s["success_d"] and s["success_rate"] is not None and s["success_rate"] < 0.5:
        found.append(f"Only {s['success_rate']:.0%} of the decided journeys reaching it succeed.")
    if s["deviation_share"] is not None and s["deviation_share"] >= 0.2:
        found.append(f"{s['deviation_share']:.0%} of its journeys deviate from the plan.")
    return found


def _deviations(s: dict[str, Any]) -> list[str]:
    """The deviations lane of a stage: share, and for its deviating journeys against conforming
    ones the success and cost-to-serve differences (95% intervals) and the money implied."""
    if s["deviation_share"] is None:
        return ["no deviation recorded"]
    journeys = s["deviation_journeys"]
    lines = [
        f"{s['deviation_share']:.0%} deviate here"
        + (f" ({journeys:,} journeys)" if journeys is not None else "")
    ]
    success = s["deviation_success_diff"]
    if success is not None:
        lo, hi = s["deviation_success_diff_lo"], s["deviation_success_diff_hi"]
        band = f" ({100 * lo:+.0f} to {100 * hi:+.0f})" if lo is not None and hi is not None else ""
        lines.append(f"success {100 * success:+.0f} pts{band} vs conforming")
    cost = s["deviation_cost_to_serve_diff"]
    if cost is not None:
        lo, hi = s["deviation_cost_to_serve_diff_lo"], s["deviation_cost_to_serve_diff_hi"]
        band = f" ({lo:+,.2f} to {hi:+,.2f})" if lo is not None and hi is not None else ""
        lines.append(f"cost to serve {cost:+,.2f}{band} per journey")
    if s["deviation_cost"] is not None:
        per = s["deviation_cost_per_journey"]
        each = f" ({per:,.2f} per journey)" if per is not None else ""
        lines.append(f"money implied {s['deviation_cost']:,.2f}{each}; an association, not a saving")
    return lines


def _columns(view: MapView) -> list[dict[str, Any]]:
    columns = []
    for i, s in enumerate(view.stages):
        stage = view.journey_map.stages[i]
        touchpoints, more = _touchpoints(view, s["stage"])
        time, target, target_class = _time(s)
        mix = _mix(s["channels"])
        columns.append(
            {
                "rank": s["rank"],
                "name": s["stage"],
                "required": s["required"],
                "required_text": "required" if s["required"] else "optional",
                "description": stage.description,
                "customer_goal": stage.customer_goal,
                "intent": stage.intent,
                "journeys": f"{s['journeys']:,}",
                "reach": _pct(s["reach"]),
                "events": f"{s['events']:,}",
                "mix": mix,
                "mix_title": ", ".join(c["label"] for c in mix),
                "touchpoints": touchpoints,
                "more": more,
                "time": time,
                "target": target,
                "target_class": target_class,
                "success": _rate(s["success_n"], s["success_d"], s["success_lo"], s["success_hi"]),
                "emotion": f"expected {_emotion(s['expected_emotion'])} · {_felt(view, s)}",
                "pain_points": stage.pain_points,
                "deviations": _deviations(s),
                "owner": stage.owner,
                "kpis": _kpis(stage, s),
                "opportunities": _opportunities(view, i),
            }
        )
    return columns


def emotion_figure(view: MapView) -> go.Figure:
    """The emotion line: expected per stage from the map, and the actual one from the answers about
    each stage (``voc.emotion_curve.stage_emotions``; gaps where a stage has too few answers)."""
    import plotly.graph_objects as go

    names = [s["stage"] for s in view.stages]
    expected = [s["expected_emotion"] for s in view.stages]
    actual = [s["actual_emotion"] for s in view.stages]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(x=names, y=expected, mode="lines+markers", name="expected (map)", connectgaps=True)
    )
    fig.add_trace(
        go.Scatter(x=names, y=actual, mode="lines+markers", name="actual (feedback)", line={"dash": "dot"})
    )
    fig.update_layout(
        height=200,
        margin={"l": 40, "r": 10, "t": 10, "b": 30},
        legend={"orientation": "h", "y": 1.15, "x": 0},
        yaxis={
            "range": [-2.4, 2.4],
            "tickvals": [-2, -1, 0, 1, 2],
            "ticktext": ["−2", "−1", "0", "+1", "+2"],
            "zeroline": True,
        },
        xaxis={"categoryorder": "array", "categoryarray": names},
        plot_bgcolor="#fff",
    )
    return fig


def _summary(view: MapView) -> str:
    t = view.totals
    outside = t["events_outside_stages"] / t["events"] if t["events"] else 0.0
    m = view.journey_map
    who = f"{m.journey_type} journeys" + (f" of segment {m.segment}" if m.segment else "")
    return (
        f"{t['journeys']:,} {who}; {t['journeys_in_stages']:,} reach at least one stage. "
        f"{t['events']:,} events, {outside:.0%} of them outside the stages."
        + (f" Map owner: {m.owner}." if m.owner else "")
        + f" Map version {m.version}."
    )


def map_fragment(view: MapView, *, figure: bool = True, anchor: str | None = None) -> str:
    """The map as one ``<div>`` (its styles inside); the emotion chart needs plotly.js on the page."""
    m = view.journey_map
    chart = None
    if figure:
        fig = emotion_figure(view)
        chart = Markup(fig.to_html(full_html=False, include_plotlyjs=False, config={"responsive": True}))
    channels: dict[str, int] = {}
    for s in view.stages:
        for c, n in s["channels"].items():
            channels[c] = channels.get(c, 0) + n
    legend = [{"channel": c, "color": CHANNEL_COLORS.get(c, _OTHER_COLOR)} for c in sorted(channels)]
    outside = ", ".join(f"{o['touchpoint']} ({o['events']:,})" for o in view.outside)
    header = {
        "title": f"{view.name} map",
        "goal": m.goal,
        "summary": _summary(view),
        "outside": outside,
    }
    return _ENV.get_template("journey_map.html.j2").render(
        anchor=anchor or f"map-{view.name}",
        m=header,
        stages=_columns(view),
        figure=chart,
        legend=legend,
        deviations_missing=RUN_CHECK.format(name=view.name) if view.deviations is None else "",
    )


def map_page(view: MapView) -> str:
    """A whole self-contained HTML page of the map (plotly.js inlined; prints on A4 landscape)."""
    from plotly.offline import get_plotlyjs

    return _ENV.get_template("journey_map_page.html.j2").render(
        title=f"Journey map: {view.name}",
        generated=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        source=str(view.file) if view.file else "a map",
        fragment=Markup(map_fragment(view)),
        plotly_js=Markup(get_plotlyjs()),
    )
