"""The emotion curve: how customers feel along a journey, next to how the map expected them to.

Every answer linked to a journey (``feedback_links``) is put on the map's scale of **-2 (very
negative) to 2 (very positive)**:

* a scored answer by its score, linearly: NPS and ratings ``(score - 5) / 2.5`` (0-10), CSAT
  ``score - 3`` (1-5), CES ``(score - 4) * 2 / 3`` (1-7, 7 = very easy);
* a text-only answer (or a scored one of a metric without a scale) by its comment's sentiment
  (``feedback_sentiment``, -1..1) times 2.

A point of the curve is where in the journey the answer is about: with a map, the stage the
answer is about (``maps.stage_assignment.answer_stage_ranks``: the stage of the step ``feedback_links``
found, unless the survey names another touchpoint; answers about no stage are left out and
counted), as map check and ``feedback scores --by stage`` place them; without one, the
touchpoint of the step ``feedback_links`` found,
ordered by its mean relative position in the journey (step / events of the journey). Each point
has the mean emotion with its Student t interval and the answers behind it; with a map, the
stage's ``expected_emotion`` and the gap (actual minus expected, with the same interval shifted).

**Peak and end** (Kahneman et al. 1993: remembered experience follows the most intense moment
and the last one): per journey with answers, the peak is the answer with the largest absolute
emotion (ties: the later step, then the smaller feedback id) and the end the answer about its last
step (ties: the later answer, then the smaller feedback id). Per group: mean peak, mean end and
the peak-end mean with t intervals, the share of journeys whose peak is negative (Wilson), and
where the negative peaks are (the point with most of them). Everything is aggregated in the
engine; Python sees one row per point and per group.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis
import ibis.expr.datatypes as dt

from journeylens.errors import NotFoundError

if TYPE_CHECKING:
    from collections.abc import Sequence

    import ibis.expr.types as ir

    from journeylens.maps.model import Stage
    from journeylens.store import Store

ALL = "all"
"""The group of every journey when the curve is not split by segment."""
SCALES: dict[str, tuple[float, float]] = {
    "nps": (5.0, 2.5),
    "rating": (5.0, 2.5),
    "csat": (3.0, 1.0),
    "ces": (4.0, 1.5),
}
"""metric -> (centre, half-width per emotion unit): emotion = (score - centre) / width."""


def emotion_value(
    score: ir.NumericValue, metric: ir.StringValue, sentiment: ir.NumericValue
) -> ir.FloatingValue:
    """The answer on the -2..2 scale: by its score when its metric has a scale, else by its
    comment's sentiment (-1..1, doubled); NULL with neither."""
    scored = [
        ((metric == name) & score.notnull(), (score.cast(dt.float64) - centre) / width)
        for name, (centre, width) in SCALES.items()
    ]
    value: ir.FloatingValue = ibis.cases(*scored, else_=sentiment.cast(dt.float64) * 2.0)
    return value


def _require(store: Store, *names: str) -> None:
    present = set(store.backend.list_tables())
    missing = [n for n in names if n not in present]
    if missing:
        raise NotFoundError(
            f"The model has no {', '.join(missing)} table yet.",
            hint="Run `journeylens build` (analyses build it when the model is stale).",
        )


def emotion_answers(
    store: Store,
    journeys: ir.Table,
    stages: Sequence[Stage] | None = None,
    segment_trait: str | None = None,
) -> ir.Table:
    """One row per answer linked to one of ``journeys`` (rows of the journeys table) with an
    emotion: ``feedback_id``, ``journey_id``,
    ``journey_type``, ``_group`` (the respondent's segment, or :data:`ALL`), ``step``,
    ``answered_at``, ``emotion``, ``point`` (stage rank with ``stages``, else the step's
    touchpoint) and ``position`` (relative position of the step in its journey, 0..1)."""
    from journeylens.journeys.summary import _group_column
    from journeylens.maps.stage_assignment import answer_stage_ranks
    from journeylens.specs.summary import JourneySummarySpec

    _require(store, "feedback_links", "feedback_sentiment", "journeys")
    backend = store.backend
    fb = store.table("feedback")
    links = backend.table("feedback_links")
    links = links.filter(links.journey_id.notnull() & links.step.notnull())
    tone = backend.table("feedback_sentiment").select(_fid="feedback_id", _sentiment="sentiment")
    journeys = journeys.select("journey_id", "customer_id", "journey_type", "touchpoints")
    answers = fb.select("feedback_id", "metric", "score", answered_at="timestamp")
    joined = (
        links.select("feedback_id", "journey_id", "step", "event_id", step_touchpoint="touchpoint")
        .join(answers, "feedback_id")
        .join(journeys, "journey_id")
    )
    joined = joined.left_join(tone, joined.feedback_id == tone._fid).drop("_fid")
    joined = joined.mutate(emotion=emotion_value(joined.score, joined.metric, joined._sentiment))
    joined = joined.filter(joined.emotion.notnull())
    span = ibis.greatest(joined.touchpoints - 1, 1).cast(dt.float64)
    joined = joined.mutate(position=(joined.step - 1).cast(dt.float64) / span)  # steps count from 1
    if stages:
        ranks = answer_stage_ranks(store, stages).rename(_rid="feedback_id")
        placed = joined.left_join(ranks, joined.feedback_id == ranks._rid)
        joined = placed.mutate(point=placed.stage_rank.cast(dt.string)).drop("_rid", "stage_rank")
    else:
        joined = joined.mutate(point=joined.step_touchpoint)
    if segment_trait:
        grouped = _group_column(store, joined, JourneySummarySpec(by="segment", segment_trait=segment_trait))
        joined = grouped.mutate(_group=grouped.group).drop("group")
    else:
        joined = joined.mutate(_group=ibis.literal(ALL))
    return joined.select(
        "feedback_id",
        "journey_id",
        "journey_type",
        "_group",
        "step",
        "answered_at",
        "emotion",
        "point",
        "position",
    )


def point_aggregates(answers: ir.Table) -> ir.Table:
    """Per (journey type, group, point): answers, journeys, mean and variance of the emotion, the
    mean relative position, and how many journeys' negative peak is there."""
    placed = answers.filter(answers.point.notnull())
    peaks = _moments(answers).filter(ibis._.is_peak & (ibis._.emotion < 0))
    peak_counts = peaks.group_by("journey_type", "_group", "point").agg(negative_peaks=ibis._.count())
    points = placed.group_by("journey_type", "_group", "point").agg(
        answers=placed.count(),
        journeys=placed.journey_id.nunique(),
        mean=placed.emotion.mean(),
        var=placed.emotion.var(),
        position=placed.position.mean(),
    )
    joined = points.left_join(peak_counts, ["journey_type", "_group", "point"])
    return joined.select(
        "journey_type", "_group", "point", "answers", "journeys", "mean", "var", "position",
        negative_peaks=joined.negative_peaks.fill_null(0),
    )  # fmt: skip


def _moments(answers: ir.Table) -> ir.Table:
    """``answers`` with ``is_peak`` and ``is_end`` (one of each per journey)."""
    by_peak = ibis.window(
        group_by="journey_id",
        order_by=[ibis.desc(answers.emotion.abs()), ibis.desc(answers.step), answers.feedback_id],
    )
    by_end = ibis.window(
        group_by="journey_id",
        order_by=[ibis.desc(answers.step), ibis.desc(answers.answered_at), answers.feedback_id],
    )
    return answers.mutate(
        is_peak=ibis.row_number().over(by_peak) == 0, is_end=ibis.row_number().over(by_end) == 0
    )


def moment_aggregates(answers: ir.Table) -> ir.Table:
    """Per (journey type, group): journeys with answers, and the count, mean and variance of the
    peak, the end and the peak-end mean, and how many peaks are negative."""
    marked = _moments(answers)
    peak = marked.filter(marked.is_peak).select("journey_id", "journey_type", "_group", peak=marked.emotion)
    end = marked.filter(marked.is_end).select(_jid="journey_id", end=marked.emotion)
    both = peak.join(end, peak.journey_id == end._jid)
    both = both.mutate(peak_end=(both.peak + both.end) / 2.0)
    return both.group_by("journey_type", "_group").agg(
        journeys=both.count(),
        negative_peaks=(both.peak < 0).cast("int64").sum(),
        peak_mean=both.peak.mean(),
        peak_var=both.peak.var(),
        end_mean=both.end.mean(),
        end_var=both.end.var(),
        peak_end_mean=both.peak_end.mean(),
        peak_end_var=both.peak_end.var(),
    )
