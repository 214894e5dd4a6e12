"""The journey-level feature matrix of ``journeylens drivers``, built in the engine.

One row per analysed journey, aggregated to its **distinct feature patterns** with a count
(exact: every correlation the decomposition needs is a weighted moment of the patterns), which
is all that reaches Python.

- **Target**: ``success`` is 1 for a successful journey and 0 for any other final outcome;
  journeys whose outcome is open or unknown are left out (as the summary's rates do) and counted.
  ``nps``/``csat``/``ces``/``rating`` is the mean score of the journey's answers of that metric
  (``feedback_links``: by case, else the feedback window); journeys without one are left out.
- **The events that count** are those the customer experienced (outbound messages no agent
  handled — a cart reminder, a survey invitation — are the company speaking, as for
  ``feedback_links``) and that came **before the outcome was decided**: a journey whose outcome
  an event decided (``outcome_touchpoint``) counts its events before the first event of that
  touchpoint — and, when it failed, that failure event too (a payment error is what the customer
  went through; the success event is the goal itself). Otherwise the success event, and what
  follows an order, would "drive" success. ``--exclude`` leaves out more touchpoints (a funnel
  step that is the outcome in all but name, such as a payment that always precedes the order).
- **Families** (``specs.drivers.FAMILIES``): an indicator per touchpoint and per channel visited,
  the ``top`` most supported of each (at least ``min_support`` journeys with it and without it);
  an indicator per stage of ``--map`` reached (``maps.stage_assignment.stage_rank``); the number
  of steps and the duration as ordinal bands (:data:`STEP_BANDS`, :data:`DURATION_BANDS`); an
  assisted contact (an agent-handled event).

Engine passes: the analysed journeys with their target; the feature supports (touchpoints,
channels and stages together); the per-journey indicators, counts and times (one aggregation of
the events); the pattern counts. No loop over rows or per candidate query.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import numpy as np

from journeylens.discovery.selection import UNKNOWN_SEGMENT, customer_segments, select_journeys
from journeylens.journeys.feedback_link import experienced
from journeylens.journeys.undefined import UNDECIDED
from journeylens.maps.stage_assignment import stage_name, stage_rank
from journeylens.specs.drivers import DriversSpec, DriverTarget

if TYPE_CHECKING:
    from journeylens.maps.model import JourneyMap
    from journeylens.store import Store

STEP_BANDS = (1, 3, 6, 10)
"""Steps before the outcome, banded 0: 0-1, 1: 2-3, 2: 4-6, 3: 7-10, 4: 11 or more."""
DURATION_BANDS = ((600, "10 min"), (3_600, "1 h"), (86_400, "1 day"), (604_800, "7 days"))
"""Seconds from the first event to the last one before the outcome, banded 0: under 10 min, 1:
under 1 h, 2: under 1 day, 3: under 7 days, 4: longer."""
VALUED = ("touchpoint", "channel", "stage")


@dataclass(frozen=True)
class Feature:
    """One predictor: its label, family, engine column and journeys with it (bands: above 0)."""

    name: str
    family: str
    column: str
    support: int


@dataclass
class Patterns:
    """The aggregated matrix: distinct patterns ``x`` (rows x features), target ``y``, ``counts``
    of journeys per pattern, and (``by_segment``) each pattern's ``segment``."""

    features: list[Feature]
    x: np.ndarray[Any, Any]
    y: np.ndarray[Any, Any]
    counts: np.ndarray[Any, Any]
    segments: list[str] | None
    journeys: int
    selected: int
    dropped: list[dict[str, Any]] = field(default_factory=list)


def analysed_journeys(store: Store, spec: DriversSpec, journey_map: JourneyMap | None) -> ir.Table:
    """Selected journeys with a defined target ``_y`` (and ``_segment`` when asked)."""
    journeys = select_journeys(store, spec.filter)
    if journey_map is not None:
        journeys = journeys.filter(journeys.journey_type == journey_map.journey_type)
    if spec.target is DriverTarget.success:
        decided = journeys.filter(~journeys.outcome.isin(UNDECIDED))
        t = decided.mutate(_y=(decided.outcome == "success").cast("float64"))
    else:
        t = journeys.join(journey_scores(store, spec.target.value), "journey_id")
    if spec.by_segment:
        seg = customer_segments(store, spec.segment_trait)
        t = t.left_join(seg, "customer_id")
        t = t.mutate(_segment=t.segment.fill_null(UNKNOWN_SEGMENT))
    return t.select(
        "journey_id", "outcome", "outcome_touchpoint", "_y", *(["_segment"] if spec.by_segment else [])
    )


def journey_scores(store: Store, metric: str) -> ir.Table:
    """``journey_id``, ``_y``: the mean score of each journey's linked answers of ``metric``."""
    fb = store.table("feedback")
    fb = fb.filter((fb.metric == metric) & fb.score.notnull()).select(_fid="feedback_id", _score="score")
    links = store.backend.table("feedback_links")
    linked = links.filter(links.journey_id.notnull()).join(fb, links.feedback_id == fb._fid)
    mean = linked._score.cast("float64").mean()
    # Rounded so that engines that add in another order still group equal means together.
    return linked.group_by("journey_id").agg(_y=mean.round(9))


def answer_counts(store: Store, metric: str) -> tuple[int, int]:
    """(answers of ``metric`` with a score, of which linked to a journey): for the error message."""
    fb = store.table("feedback")
    fb = fb.filter((fb.metric == metric) & fb.score.notnull())
    links = store.backend.table("feedback_links")
    linked = fb.semi_join(links.filter(links.journey_id.notnull()), "feedback_id")
    return int(store.execute(fb.count()).as_py()), int(store.execute(linked.count()).as_py())


def counted_steps(
    store: Store, analysed: ir.Table, journey_map: JourneyMap | None, exclude: list[str]
) -> ir.Table:
    """The experienced events of ``analysed`` before their outcome was decided, with ``stage``."""
    je, events = store.backend.table("journey_events"), store.table("events")
    ev = events.filter(experienced(events))
    rows = je.join(analysed.select("journey_id", "outcome", "outcome_touchpoint"), "journey_id").join(
        ev, je.event_id == ev.event_id
    )
    rows = rows.select(
        "journey_id", "outcome", "outcome_touchpoint", "touchpoint", "channel", "properties", "agent_id",
        "timestamp", step=je.step.cast("int64"),
    )  # fmt: skip
    deciding = ibis.ifelse(rows.touchpoint == rows.outcome_touchpoint, rows.step, ibis.null("int64"))
    rows = rows.mutate(_cut=deciding.min().over(ibis.window(group_by="journey_id")))
    failure_event = (rows.step == rows._cut) & (rows.outcome != "success")
    rows = rows.filter(rows._cut.isnull() | (rows.step < rows._cut) | failure_event)
    if exclude:
        rows = rows.filter(~rows.touchpoint.isin(exclude))
    stage = ibis.null("string")
    if journey_map is not None:
        stage = stage_name(stage_rank(rows, journey_map.stages), journey_map.stages)
    return rows.select("journey_id", "touchpoint", "channel", "agent_id", "timestamp", stage=stage)


def supports(store: Store, steps: ir.Table) -> dict[str, dict[str, int]]:
    """Journeys with each touchpoint, channel and stage: one aggregation over a union."""
    parts = [
        steps.filter(steps[family].notnull()).select(
            "journey_id", _family=ibis.literal(family), _value=steps[family]
        )
        for family in VALUED
    ]
    seen = parts[0].union(parts[1]).union(parts[2]).distinct()
    counted = store.execute(seen.group_by("_family", "_value").agg(_support=seen.count())).to_pylist()
    out: dict[str, dict[str, int]] = {family: {} for family in VALUED}
    for r in counted:
        out[r["_family"]][r["_value"]] = int(r["_support"])
    return out


def choose(
    spec: DriversSpec, found: dict[str, dict[str, int]], journeys: int
) -> tuple[list[tuple[str, str, int]], list[dict[str, Any]]]:
    """(family, value, support) kept per family, most supported first; and the dropped ones."""
    kept: list[tuple[str, str, int]] = []
    dropped: list[dict[str, Any]] = []
    limit = {"touchpoint": spec.top, "channel": spec.top, "stage": None}
    for family in VALUED:
        if f"{family}s" not in spec.features:
            continue
        ranked = sorted(found[family].items(), key=lambda kv: (-kv[1], kv[0]))
        usable = [(v, s) for v, s in ranked if spec.min_support <= s <= journeys - spec.min_support]
        cap = limit[family]
        for v, s in ranked:
            if s > journeys - spec.min_support:
                why = "in (nearly) every journey: no contrast"
            elif s < spec.min_support:
                why = f"fewer than min_support = {spec.min_support} journeys"
            elif cap is not None and (v, s) not in usable[:cap]:
                why = f"not among the top {cap} {family}s by support"
            else:
                kept.append((family, v, s))
                continue
            dropped.append({"feature": f"{family}:{v}", "support": s, "reason": why})
    return kept, dropped


def _band(value: ir.NumericValue, edges: tuple[float, ...]) -> ir.IntegerValue:
    return ibis.cases(*((value <= edge, i) for i, edge in enumerate(edges)), else_=len(edges)).cast("int64")


def journey_features(
    analysed: ir.Table, steps: ir.Table, kept: list[tuple[str, str, int]], spec: DriversSpec
) -> tuple[ir.Table, list[tuple[str, str, str]]]:
    """Each analysed journey with its feature columns ``_f0 ...``; and (name, family, column)."""
    aggs: dict[str, ir.Value] = {}
    named: list[tuple[str, str, str]] = []
    for i, (family, value, _) in enumerate(kept):
        column = f"_f{i}"
        aggs[column] = (steps[family] == value).fill_null(False).any().cast("int64")
        named.append((f"{family}:{value}", f"{family}s", column))
    seconds = steps.timestamp.max().epoch_seconds() - steps.timestamp.min().epoch_seconds()
    aggs.update(_steps=steps.count(), _seconds=seconds, _agent=steps.agent_id.notnull().any().cast("int64"))
    per = steps.group_by("journey_id").agg(**aggs)
    t = analysed.left_join(per, "journey_id")
    cols: dict[str, ir.Value] = {c: t[c].fill_null(0) for _, _, c in named}
    if "steps" in spec.features:
        cols["_fsteps"] = _band(t._steps.fill_null(0), STEP_BANDS)
        named.append(("steps (band)", "steps", "_fsteps"))
    if "duration" in spec.features:
        cols["_fduration"] = _band(t._seconds.fill_null(0), tuple(e for e, _ in DURATION_BANDS))
        named.append(("duration (band)", "duration", "_fduration"))
    if "assisted" in spec.features:
        cols["_fassisted"] = t._agent.fill_null(0)
        named.append(("assisted contact", "assisted", "_fassisted"))
    extra = ["_segment"] if spec.by_segment else []
    return t.select("_y", *extra, **cols), named


def pattern_counts(features: ir.Table) -> ir.Table:
    """Distinct rows of ``features`` (target, segment, feature columns) with ``_n`` journeys."""
    return features.group_by(*features.columns).agg(_n=features.count())
