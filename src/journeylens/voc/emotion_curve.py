"""``journeylens feedback emotion``: the emotion curve per journey type (and map stage), its gap to
the map's expected emotion, and the peak and end moments (see :mod:`journeylens.voc.emotion`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa

from journeylens.discovery._result import TableResult
from journeylens.discovery._stats import Moments, Proportion
from journeylens.voc.emotion import emotion_answers, moment_aggregates, point_aggregates

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from journeylens.maps.model import JourneyMap
    from journeylens.specs.feedback import EmotionSpec
    from journeylens.store import Store
    from journeylens.workspace import Workspace


@dataclass(frozen=True)
class EmotionCurve(TableResult):
    """``table``: one row per (journey type, group, point) in journey order — ``answers``,
    ``journeys``, ``emotion`` with its 95% t interval (``lo``, ``hi``; -2..2), ``position`` (mean
    relative position in the journey), with a map ``expected`` and ``gap`` (actual minus expected,
    ``gap_lo``/``gap_hi``), and ``negative_peaks`` (journeys whose most intense answer is here and
    negative). A point with fewer than ``min_answers`` answers has ``emotion`` None and ``reason``.
    ``moments``: per (journey type, group) the peak, the end and the peak-end mean with intervals,
    the share of journeys whose peak is negative (Wilson) and where most negative peaks are.
    ``context``: the map, what the points are (``stage`` or ``touchpoint``), ``min_answers``, the
    linked ``answers`` read and those ``unplaced`` (about no stage of the map)."""

    JSON_FIELDS: ClassVar[tuple[str, ...]] = (
        "map, points, min_answers, answers, unplaced",
        "rows (records: journey_type, group, point, rank, position, answers, journeys, emotion, lo, hi, "
        "sd, expected, gap, gap_lo, gap_hi, negative_peaks, reason)",
        "moments (records: journey_type, group, journeys, peak, peak_lo, peak_hi, end, end_lo, end_hi, "
        "peak_end, peak_end_lo, peak_end_hi, negative_peak_share, negative_peak_lo, negative_peak_hi, "
        "worst_point)",
    )

    moments: list[dict[str, Any]] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**self.context, "rows": self.records(), "moments": self.moments}

    def plot(self) -> go.Figure:
        """Actual emotion per point with its interval, and the expected line with a map."""
        import plotly.graph_objects as go

        fig = go.Figure()
        rows = [r for r in self.records() if r["emotion"] is not None]
        for key in dict.fromkeys((r["journey_type"], r["group"]) for r in rows):
            line = [r for r in rows if (r["journey_type"], r["group"]) == key]
            name = key[0] if key[1] == "all" else f"{key[0]} · {key[1]}"
            fig.add_scatter(
                x=[r["point"] for r in line],
                y=[r["emotion"] for r in line],
                mode="lines+markers",
                name=f"{name}: actual",
                error_y={
                    "type": "data",
                    "array": [(r["hi"] or r["emotion"]) - r["emotion"] for r in line],
                    "arrayminus": [r["emotion"] - (r["lo"] or r["emotion"]) for r in line],
                },
            )
            if any(r["expected"] is not None for r in line):
                fig.add_scatter(
                    x=[r["point"] for r in line],
                    y=[r["expected"] for r in line],
                    mode="lines+markers",
                    line={"dash": "dash"},
                    name=f"{name}: expected (map)",
                )
        fig.update_layout(
            title="Emotion along the journey (-2 very negative .. 2 very positive; 95% intervals)",
            yaxis={"range": [-2.1, 2.1], "title": "emotion"},
        )
        return fig


def emotion_curve(ws: Workspace, spec: EmotionSpec) -> EmotionCurve:
    """The curve of ``spec`` in ``ws``: with ``spec.map``, over that map's stages and journey type."""
    journey_map = None
    if spec.map is not None:
        from journeylens.maps.loading import open_map

        journey_map, _ = open_map(ws, spec.map)
    return curve(ws.store, spec, journey_map)


def stage_emotions(store: Store, journey_map: JourneyMap) -> dict[str, dict[str, Any]]:
    """Stage name -> ``actual_emotion`` with ``actual_emotion_lo``/``_hi`` and ``emotion_answers``:
    the emotion lane of ``map show`` (every segment together)."""
    from journeylens.specs.feedback import EmotionSpec

    if "feedback_links" not in store.backend.list_tables() or not store.count("feedback"):
        return {}
    rows = curve(store, EmotionSpec(), journey_map).records()
    return {
        r["point"]: {
            "actual_emotion": r["emotion"],
            "actual_emotion_lo": r["lo"],
            "actual_emotion_hi": r["hi"],
            "emotion_answers": r["answers"],
        }
        for r in rows
    }


def curve(store: Store, spec: EmotionSpec, journey_map: JourneyMap | None = None) -> EmotionCurve:
    """The curve over ``store``'s linked answers (the engine part is :mod:`journeylens.voc.emotion`)."""
    from journeylens.discovery.selection import EmptySelectionError, select_journeys
    from journeylens.specs.discovery import JourneyFilter

    journeys = select_journeys(store, spec.filter)
    if spec.filter != JourneyFilter() and not int(store.execute(journeys.count()).as_py()):
        # the same refusal as every other analysis of journeys: an empty curve would read as
        # "nobody said anything" when the filter (an unknown type, a typo) selected nobody
        raise EmptySelectionError.for_filter(spec.filter)
    stages = None
    if journey_map is not None:
        journeys = journeys.filter(journeys.journey_type == journey_map.journey_type)
        stages = journey_map.stages
    answers = emotion_answers(store, journeys, stages, spec.segment_trait if spec.by_segment else None)
    points = store.execute(point_aggregates(answers)).to_pylist()
    moments = store.execute(moment_aggregates(answers)).to_pylist()
    total = store.execute(answers.count()).as_py()
    unplaced = int(total) - sum(int(p["answers"]) for p in points if p["point"] is not None)
    rows = [_point_row(p, journey_map, spec.min_answers) for p in points if p["point"] is not None]
    rows.sort(key=lambda r: (r["journey_type"] or "", r["group"] or "", r["rank"], r["point"]))
    worst = _worst_points(rows)
    context = {
        "map": journey_map.name if journey_map is not None else None,
        "points": "stage" if journey_map is not None else "touchpoint",
        "min_answers": spec.min_answers,
        "answers": int(total),
        "unplaced": unplaced,
    }
    table = pa.Table.from_pylist(rows) if rows else pa.table({"journey_type": pa.array([], pa.string())})
    moment_rows = [
        _moment_row(m, worst) for m in sorted(moments, key=lambda m: (m["journey_type"], m["_group"]))
    ]
    return EmotionCurve(table=table, moments=moment_rows, context=context)


def _point_row(p: dict[str, Any], journey_map: JourneyMap | None, min_answers: int) -> dict[str, Any]:
    n = int(p["answers"])
    stats = Moments.of(n, p["mean"], p["var"])
    lo, hi = stats.interval()
    rank, point, expected = _place(p["point"], p["position"], journey_map)
    shown = n >= min_answers
    mean = stats.value if shown else None
    gap = mean - expected if mean is not None and expected is not None else None
    return {
        "journey_type": p["journey_type"],
        "group": p["_group"],
        "point": point,
        "rank": rank,
        "position": round(float(p["position"]), 4) if p["position"] is not None else None,
        "answers": n,
        "journeys": int(p["journeys"]),
        "emotion": mean,
        "lo": lo if shown else None,
        "hi": hi if shown else None,
        "sd": stats.std if shown else None,
        "expected": expected,
        "gap": gap,
        "gap_lo": lo - expected if gap is not None and lo is not None and expected is not None else None,
        "gap_hi": hi - expected if gap is not None and hi is not None and expected is not None else None,
        "negative_peaks": int(p["negative_peaks"]),
        "reason": None if shown else f"{n} answers here, fewer than --min-answers {min_answers}",
    }


def _place(
    value: str, position: float | None, journey_map: JourneyMap | None
) -> tuple[float, str, float | None]:
    """(sort rank, point name, expected emotion) of a point: the stage's map order and name, or a
    touchpoint ranked by its mean relative position."""
    if journey_map is None:
        return (float(position) if position is not None else 1.0), value, None
    stage = journey_map.stages[int(value)]
    expected = float(stage.expected_emotion) if stage.expected_emotion is not None else None
    return float(int(value)), stage.name, expected


def _worst_points(rows: list[dict[str, Any]]) -> dict[tuple[str, str], str | None]:
    """Per (journey type, group), the point where most journeys had their negative peak."""
    worst: dict[tuple[str, str], tuple[int, str | None]] = {}
    for r in rows:
        key = (r["journey_type"], r["group"])
        if r["negative_peaks"] > worst.get(key, (0, None))[0]:
            worst[key] = (r["negative_peaks"], r["point"])
    return {k: v[1] for k, v in worst.items()}


def _moment_row(m: dict[str, Any], worst: dict[tuple[str, str], str | None]) -> dict[str, Any]:
    n = int(m["journeys"])
    out: dict[str, Any] = {"journey_type": m["journey_type"], "group": m["_group"], "journeys": n}
    for name in ("peak", "end", "peak_end"):
        stats = Moments.of(n, m[f"{name}_mean"], m[f"{name}_var"])
        lo, hi = stats.interval()
        out |= {name: stats.value, f"{name}_lo": lo, f"{name}_hi": hi}
    share = Proportion(int(m["negative_peaks"]), n)
    lo, hi = share.interval()
    out |= {"negative_peak_share": share.rate, "negative_peak_lo": lo, "negative_peak_hi": hi}
    out["worst_point"] = worst.get((m["journey_type"], m["_group"]))
    return out
