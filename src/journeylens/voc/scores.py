"""Feedback scores per group with honest intervals: NPS, CSAT and CES top box, mean scores.

Answers (``feedback`` rows with a score) are read with their ``feedback_links`` row, so each can be
grouped by what the survey names (its touchpoint and channel, else the step of the journey it is
about), by the linked journey (type, outcome), by the respondent's segment, by its agent and the
agent's team (``agents``), or by the period it was given in. The engine reduces every group to
sufficient statistics — promoters, detractors and answers for NPS; top-box count and answers for
a share; count, mean and variance for a mean — and only those rows reach Python, where
``voc/score_stats.py`` and ``discovery/_stats.py`` turn them into intervals and tests.

Every score carries its denominator (``answers``) and a 95% interval; each group is compared with
all other answers together (Benjamini-Hochberg ``q`` over the table's tests). Not defined is never
a number (the conventions of ``journeys/undefined.py``): a group with fewer than ``min_answers``
answers of a metric shows its count and ``reason``, not a score. Answers not linked to a journey
are kept: grouped by journey type or outcome they form the ``(unlinked)`` group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from journeylens.discovery._compare import plan_for, utc_literal
from journeylens.discovery._result import TableResult
from journeylens.discovery._stats import (
    NO_TEST,
    Moments,
    Proportion,
    Test,
    benjamini_hochberg,
    compare_means,
    compare_proportions,
)
from journeylens.errors import NotFoundError
from journeylens.journeys.summary import UNKNOWN
from journeylens.specs.feedback import FeedbackScoresSpec, ScoresBy
from journeylens.specs.summary import Period
from journeylens.store import Store
from journeylens.voc.score_stats import NetPromoter, compare_nps

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from journeylens.maps.model import JourneyMap
    from journeylens.workspace import Workspace

UNLINKED = "(unlinked)"
"""The group of answers linked to no journey, by journey type or outcome."""
NO_AGENT = "(no agent)"
NO_STAGE = "(no stage)"
"""By stage: answers about the map's journeys that are about none of its stages."""
GROUP = "_group"
PROMOTER, DETRACTOR = 9, 6
"""NPS: 9-10 promote, 0-6 detract (7-8 are passives)."""
Stat = NetPromoter | Proportion | Moments


@dataclass(frozen=True)
class ScoreMetric:
    """One score: ``kind`` nps (in points, -100 to 100), top_box (a share) or mean (score units)."""

    name: str
    metric: str
    kind: str
    about: str

    def aggregations(self, t: ir.Table, spec: FeedbackScoresSpec) -> dict[str, ir.Value]:
        mine = t.metric == self.metric
        key = self.name
        if self.kind == "nps":
            return {
                f"{key}__n": mine.cast("int64").sum(),
                f"{key}__p": (mine & (t.score >= PROMOTER)).cast("int64").sum(),
                f"{key}__d": (mine & (t.score <= DETRACTOR)).cast("int64").sum(),
            }
        if self.kind == "top_box":
            return {
                f"{key}__n": mine.cast("int64").sum(),
                f"{key}__top": (mine & (t.score >= self.box(spec))).cast("int64").sum(),
            }
        return {
            f"{key}__n": t.score.count(where=mine),
            f"{key}__mean": t.score.mean(where=mine),
            f"{key}__var": t.score.var(how="sample", where=mine),
        }

    def box(self, spec: FeedbackScoresSpec) -> float:
        return spec.csat_top_box if self.metric == "csat" else spec.ces_top_box

    def statistic(self, row: dict[str, Any]) -> Stat:
        n = int(row[f"{self.name}__n"] or 0)
        if self.kind == "nps":
            return NetPromoter(int(row[f"{self.name}__p"] or 0), int(row[f"{self.name}__d"] or 0), n)
        if self.kind == "top_box":
            return Proportion(int(row[f"{self.name}__top"] or 0), n)
        return Moments.of(n, row[f"{self.name}__mean"], row[f"{self.name}__var"])


METRICS: dict[str, ScoreMetric] = {
    "nps": ScoreMetric("nps", "nps", "nps", "promoters (9-10) minus detractors (0-6), in points"),
    "csat": ScoreMetric("csat", "csat", "top_box", "share of CSAT answers in the top box"),
    "ces": ScoreMetric("ces", "ces", "top_box", "share of CES answers in the top box (7 = very easy)"),
    **{
        f"{m}_mean": ScoreMetric(f"{m}_mean", m, "mean", f"mean {m} score")
        for m in ("nps", "csat", "ces", "rating")
    },
}


@dataclass(frozen=True)
class FeedbackScores(TableResult):
    """Scores per group: ``table`` has one row per group and metric with answers.

    ``value`` (NPS in points -100..100, a top-box share 0..1, or a mean score) with its 95% interval
    (``lo``, ``hi``: Adjusted-Wald for NPS, Wilson for shares, t for means) and its denominator
    ``answers`` (with ``promoters``/``detractors`` or ``top_box`` counts, or ``sd``); against
    ``baseline`` (``rest``: all other answers; with two groups the second): ``diff`` with its
    interval, ``test`` (``z``, ``fisher`` or ``welch``), ``statistic``, ``p``, Benjamini-Hochberg
    ``q`` over the table's tests and ``significant`` (q < 0.05). A group with too few answers has
    ``value`` None and ``reason``. ``groups`` lists every group's answers and how many are linked
    to a journey; ``context`` the metrics, the top boxes and the unlinked count.
    """

    #: The JSON contract (docs/cli.md reads it): ``to_dict()`` keys, with the record fields.
    JSON_FIELDS: ClassVar[tuple[str, ...]] = (
        "by, metrics, metrics_reason, min_answers, csat_top_box, ces_top_box",
        "map, outside_map (by stage: the map, and scored answers not about its journeys, left out)",
        "answers, linked, unlinked (answers with a score; linked to a journey or not)",
        "reason, hint (set when no answer has a score)",
        "groups (records: group, answers, linked)",
        "rows (records: group, metric, kind, about, value, lo, hi, answers, top_box, promoters, "
        "detractors, sd, reason, baseline, baseline_value, diff, diff_lo, diff_hi, test, statistic, p, q, "
        "significant)",
    )

    groups: list[dict[str, Any]] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    hint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**self.context, "reason": self.reason, "hint": self.hint, "groups": self.groups,
                "rows": self.records()}  # fmt: skip

    def plot(self) -> go.Figure:
        """One bar chart per metric: each group's score with its 95% interval."""
        from plotly.subplots import make_subplots

        rows = [r for r in self.records() if r["value"] is not None]
        metrics = list(dict.fromkeys(r["metric"] for r in rows))
        fig = make_subplots(rows=1, cols=max(len(metrics), 1), subplot_titles=metrics)
        for col, metric in enumerate(metrics, start=1):
            bars = {r["group"]: r for r in rows if r["metric"] == metric}.values()
            fig.add_bar(
                x=[r["group"] for r in bars],
                y=[r["value"] for r in bars],
                error_y={
                    "type": "data",
                    "array": [r["hi"] - r["value"] for r in bars],
                    "arrayminus": [r["value"] - r["lo"] for r in bars],
                },
                text=[f"n={r['answers']}" + (" *" if r["significant"] else "") for r in bars],
                showlegend=False,
                row=1,
                col=col,
            )
        fig.update_layout(title=f"Scores by {self.context.get('by')}: 95% intervals (* q < 0.05 vs the rest)")
        return fig

    def groups_arrow(self) -> pa.Table:
        return pa.Table.from_pylist(self.groups)


def answers_with_links(store: Store, spec: FeedbackScoresSpec) -> ir.Table:
    """Scored answers of the spec's period with their ``feedback_links`` row."""
    if "feedback_links" not in store.backend.list_tables():
        raise NotFoundError(
            "Feedback has not been linked to journeys yet (no feedback_links table).",
            hint="Run `journeylens build` (analyses build it when the model is stale).",
        )
    fb = store.table("feedback")
    fb = fb.filter(fb.score.notnull())
    if spec.since is not None:
        fb = fb.filter(fb.timestamp >= utc_literal(spec.since))
    if spec.until is not None:
        fb = fb.filter(fb.timestamp < utc_literal(spec.until))
    links = store.backend.table("feedback_links").rename(
        _fid="feedback_id", step_touchpoint="touchpoint", step_channel="channel", link_agent="agent_id"
    )
    joined = fb.left_join(links, fb.feedback_id == links._fid)
    return joined.select(
        *fb.columns, "customer_id", "journey_id", "link", "step_touchpoint", "step_channel", "link_agent"
    )


def grouped(
    store: Store, t: ir.Table, spec: FeedbackScoresSpec, journey_map: JourneyMap | None = None
) -> ir.Table:
    """``t`` with the group column ``_group`` (never NULL: ``(unknown)``, ``(unlinked)``, ...)."""
    if spec.by == ScoresBy.stage:
        if journey_map is None:
            raise ValueError("grouping by stage needs the map (scores_in_workspace loads it)")
        return _by_stage(store, t, journey_map)
    return _GROUPS[spec.by](store, t, spec)


def _by_stage(store: Store, t: ir.Table, journey_map: JourneyMap) -> ir.Table:
    """Answers linked to the map's journeys, by the stage they are about (``answer_stage_ranks``:
    the stage of the step they were linked to, unless the survey names another touchpoint);
    answers about no stage form :data:`NO_STAGE`. Other answers are left out (and counted)."""
    from journeylens.discovery.selection import select_journeys
    from journeylens.maps.check import map_filter
    from journeylens.maps.stage_assignment import answer_stage_ranks, stage_name

    mapped = select_journeys(store, map_filter(journey_map, None)).select(_mj="journey_id")
    ranks = answer_stage_ranks(store, journey_map.stages).rename(_rid="feedback_id")
    t = t.join(mapped, t.journey_id == mapped._mj)
    t = t.left_join(ranks, t.feedback_id == ranks._rid)
    name = stage_name(t.stage_rank, journey_map.stages).fill_null(NO_STAGE)
    return t.mutate(**{GROUP: name}).drop("_mj", "_rid", "stage_rank")


def _by_touchpoint(store: Store, t: ir.Table, spec: FeedbackScoresSpec) -> ir.Table:
    """What the survey names, else the step the answer is about."""
    return t.mutate(**{GROUP: ibis.coalesce(t.touchpoint, t.step_touchpoint).fill_null(UNKNOWN)})


def _by_channel(store: Store, t: ir.Table, spec: FeedbackScoresSpec) -> ir.Table:
    return t.mutate(**{GROUP: ibis.coalesce(t.channel, t.step_channel).fill_null(UNKNOWN)})


def _by_agent(store: Store, t: ir.Table, spec: FeedbackScoresSpec) -> ir.Table:
    return t.mutate(**{GROUP: t.link_agent.fill_null(NO_AGENT)})


def _by_team(store: Store, t: ir.Table, spec: FeedbackScoresSpec) -> ir.Table:
    """The agent's team (``agents``; an agent listed twice: the greatest team name)."""
    agents = store.table("agents")
    teams = agents.group_by(_aid=agents.agent_id).agg(_team=agents.team.max())
    t = t.left_join(teams, t.link_agent == teams._aid)
    return t.mutate(**{GROUP: ibis.ifelse(t.link_agent.isnull(), NO_AGENT, t._team.fill_null(UNKNOWN))})


def _by_journey(store: Store, t: ir.Table, spec: FeedbackScoresSpec) -> ir.Table:
    """A column of the linked journey (type, outcome); unlinked answers are one group."""
    journeys = store.backend.table("journeys")
    j = journeys.select(_jid=journeys.journey_id, _value=journeys[spec.by.value])
    t = t.left_join(j, t.journey_id == j._jid)
    return t.mutate(**{GROUP: ibis.ifelse(t.journey_id.isnull(), UNLINKED, t._value.fill_null(UNKNOWN))})


def _by_period(store: Store, t: ir.Table, spec: FeedbackScoresSpec) -> ir.Table:
    """The day, week (its Monday) or month of the answer, in the workspace zone."""
    return t.mutate(**{GROUP: period_label(store, t.timestamp, spec.period)})


def period_label(store: Store, timestamp: ir.TimestampValue, period: Period) -> ir.StringValue:
    """``2026-03-02`` (a day, or a week's Monday) or ``2026-03`` (a month), in the workspace zone."""
    fmt = {"day": "%Y-%m-%d", "week": "%Y-%m-%d", "month": "%Y-%m"}[period.value]
    unit = {"day": "D", "week": "W", "month": "M"}[period.value]
    return store.local_time(timestamp).truncate(unit).strftime(fmt)


def _by_segment(store: Store, t: ir.Table, spec: FeedbackScoresSpec) -> ir.Table:
    """The respondent's segment trait (as ``journeys summary --by segment`` reads it)."""
    from journeylens.journeys.summary import _group_column
    from journeylens.specs.summary import JourneySummarySpec

    segmented = _group_column(store, t, JourneySummarySpec(by="segment", segment_trait=spec.segment_trait))
    return segmented.mutate(**{GROUP: segmented.group}).drop("group")


_GROUPS = {
    ScoresBy.touchpoint: _by_touchpoint,
    ScoresBy.channel: _by_channel,
    ScoresBy.agent: _by_agent,
    ScoresBy.team: _by_team,
    ScoresBy.journey_type: _by_journey,
    ScoresBy.outcome: _by_journey,
    ScoresBy.period: _by_period,
    ScoresBy.segment: _by_segment,
}


def resolve_metrics(store: Store, t: ir.Table, names: Sequence[str]) -> tuple[list[ScoreMetric], str]:
    """The metrics asked for, or else those of nps, csat and ces the answers have (else the means
    of the metrics they have), and why these."""
    if names:
        return [METRICS[name] for name in names], "as asked"
    present = {str(m) for m in store.execute(t.select("metric").distinct()).column(0).to_pylist()}
    shares = [m for m in ("nps", "csat", "ces") if m in present]
    if shares:
        return [METRICS[m] for m in shares], "nps, csat and ces: those the answers have"
    means = [METRICS[f"{m}_mean"] for m in ("nps", "csat", "ces", "rating") if m in present]
    return means, "the mean of each metric the answers have (no nps, csat or ces answer)"


def scores_in_workspace(ws: Workspace, spec: FeedbackScoresSpec) -> FeedbackScores:
    """The registry's run function: loads the map ``--by stage`` names, then :func:`feedback_scores`."""
    from journeylens.maps.loading import open_map

    journey_map = open_map(ws, spec.map)[0] if spec.map is not None else None
    return feedback_scores(ws.store, spec, journey_map)


def feedback_scores(
    store: Store, spec: FeedbackScoresSpec | None = None, journey_map: JourneyMap | None = None
) -> FeedbackScores:
    """Scores per group, with denominators, 95% intervals and tests against the rest.

    Example:
        >>> scores = feedback_scores(ws.store, FeedbackScoresSpec(metric="nps"))  # doctest: +SKIP
        >>> scores.records()[0]["value"], scores.records()[0]["answers"]  # doctest: +SKIP
    """
    spec = spec or FeedbackScoresSpec()
    answers = answers_with_links(store, spec)
    metrics, why = resolve_metrics(store, answers, spec.metric)
    t = grouped(store, answers, spec, journey_map)
    aggs: dict[str, ir.Value] = {
        "answers": t.count(),
        "linked": t.journey_id.notnull().cast("int64").sum(),
    }
    for metric in metrics:
        aggs.update(metric.aggregations(t, spec))
    rows = store.execute(t.group_by(GROUP).agg(**aggs).order_by(GROUP)).to_pylist()
    if journey_map is not None:  # stages in map order, then (no stage)
        order = {s.name: i for i, s in enumerate(journey_map.stages)}
        rows.sort(key=lambda r: order.get(str(r[GROUP]), len(order)))
    stats = {str(r[GROUP]): {m.name: m.statistic(r) for m in metrics} for r in rows}
    groups: list[dict[str, Any]] = [
        {"group": str(r[GROUP]), "answers": int(r["answers"]), "linked": int(r["linked"])} for r in rows
    ]
    table = score_rows(metrics, stats, spec.min_answers)
    answered, linked = sum(g["answers"] for g in groups), sum(g["linked"] for g in groups)
    context = {
        "by": spec.by.value, "metrics": [m.name for m in metrics], "metrics_reason": why,
        "min_answers": spec.min_answers, "csat_top_box": spec.csat_top_box, "ces_top_box": spec.ces_top_box,
        "answers": answered, "linked": linked, "unlinked": answered - linked,
    }  # fmt: skip
    context["map"] = context["outside_map"] = None
    if journey_map is not None:
        context["map"] = journey_map.name or journey_map.journey_type
        context["outside_map"] = int(store.execute(answers.count()).as_py()) - answered
    reason = hint = None
    if not answered:
        reason = "no feedback answer with a score" + (
            " in the period asked" if spec.since or spec.until else ""
        )
        hint = "Load answers: `journeylens ingest FILE --table feedback` (metric nps, csat, ces or rating)."
    return FeedbackScores(
        pa.Table.from_pylist(table), groups=groups, context=context, reason=reason, hint=hint
    )


def score_rows(
    metrics: Sequence[ScoreMetric], stats: dict[str, dict[str, Stat]], min_answers: int
) -> list[dict[str, Any]]:
    """One row per group and metric with answers; each group against the rest (or, with two groups,
    the first against the second); q over every test of the table."""
    out: list[dict[str, Any]] = []
    for metric in metrics:
        order = [g for g, by_metric in stats.items() if _count(by_metric[metric.name])]
        for group, baseline, parts in plan_for(order, "rest") if order else []:
            own = stats[group][metric.name]
            base = _total([stats[p][metric.name] for p in parts]) if parts else None
            out.append(_row(group, baseline, metric, own, base, min_answers))
    qs = benjamini_hochberg([row["p"] for row in out])
    for row, q in zip(out, qs, strict=True):
        row["q"] = q
        row["significant"] = None if q is None else q < 0.05
    return out


def _total(parts: Sequence[Stat]) -> Stat:
    """The answers of several groups together (the "rest"): counts add, moments merge exactly."""
    acc = parts[0]
    for part in parts[1:]:
        acc = acc + part  # type: ignore[operator]  # parts are all of one metric, so of one type
    return acc


def _count(stat: Stat) -> int:
    if isinstance(stat, NetPromoter):
        return stat.answers
    return stat.trials if isinstance(stat, Proportion) else stat.count


def _value(stat: Stat) -> float | None:
    if isinstance(stat, NetPromoter):
        return stat.value
    return stat.rate if isinstance(stat, Proportion) else stat.value


def _compare(a: Stat, b: Stat) -> Test:
    if isinstance(a, NetPromoter) and isinstance(b, NetPromoter):
        return compare_nps(a, b)
    if isinstance(a, Proportion) and isinstance(b, Proportion):
        return compare_proportions(a, b)
    if isinstance(a, Moments) and isinstance(b, Moments):
        return compare_means(a, b)
    raise TypeError(f"cannot compare {type(a).__name__} with {type(b).__name__}")


def too_few(answers: int, min_answers: int) -> str:
    """Why a group shows its count and no score."""
    return (
        f"{answers} answer{'s' if answers != 1 else ''}, fewer than min_answers = {min_answers}: too few "
        "for a score worth reading; lower --min-answers, or group more coarsely"
    )


def _row(
    group: str, baseline: str | None, metric: ScoreMetric, own: Stat, base: Stat | None, min_answers: int
) -> dict[str, Any]:
    answers = _count(own)
    small = answers < min_answers
    scale = 100.0 if metric.kind == "nps" else 1.0
    lo, hi = (None, None) if small else own.interval()
    value = None if small else _value(own)
    reason = too_few(answers, min_answers) if small else None
    if value is not None and lo is None:  # a mean of one answer: no spread, so no interval
        value, reason = None, "one answer: a mean needs two for an interval"
    test = _compare(own, base) if base is not None and not small and _count(base) >= min_answers else NO_TEST
    base_value = None if base is None or _count(base) < min_answers else _value(base)
    return {
        "group": group, "metric": metric.name, "kind": metric.kind, "about": metric.about,
        "value": _scaled(value, scale), "lo": _scaled(lo, scale), "hi": _scaled(hi, scale),
        "answers": answers,
        "top_box": own.successes if isinstance(own, Proportion) else None,
        "promoters": own.promoters if isinstance(own, NetPromoter) else None,
        "detractors": own.detractors if isinstance(own, NetPromoter) else None,
        "sd": own.std if isinstance(own, Moments) and not small else None,
        "reason": reason, "baseline": baseline, "baseline_value": _scaled(base_value, scale),
        "diff": _scaled(test.diff, scale), "diff_lo": _scaled(test.diff_lo, scale),
        "diff_hi": _scaled(test.diff_hi, scale), "test": test.test, "statistic": test.statistic, "p": test.p,
    }  # fmt: skip


def _scaled(value: float | None, scale: float) -> float | None:
    return None if value is None else value * scale
