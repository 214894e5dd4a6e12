"""``journeys``, ``journey_events`` and ``feedback_links``: the journey model every analysis reads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from journeylens.errors import NotFoundError
from journeylens.identity.profile import require_customer_map
from journeylens.identity.stitch import events_with_customers, with_customers
from journeylens.journeys.definitions import JourneyRules
from journeylens.journeys.feedback_link import feedback_links
from journeylens.journeys.outcomes import journey_outcomes
from journeylens.journeys.segment import BREAKS, CLAIMS, EPISODES, assign_journeys, break_rows
from journeylens.store import Store
from journeylens.store._backend import capabilities
from journeylens.store._working import drop_scratch, keep_columns, scratch_table

ASSIGNED = "_jl_journey_assigned"
STEP_COLUMNS = ("event_id", "journey_id", "step")
"""The columns of ``journey_events``."""


@dataclass(frozen=True)
class JourneyBuild:
    journeys: ir.Table
    journey_events: ir.Table
    feedback_links: ir.Table
    """Every answer with its journey and step (see ``journeys.feedback_link``)."""


def check_vocabulary(store: Store, rules: JourneyRules) -> None:
    """Declared journey types may only name touchpoints the events have."""
    if not rules.declared():
        return
    events = store.table("events")
    present = store.execute(events.select("touchpoint").distinct()).column(0).to_pylist()
    rules.check_vocabulary({str(tp) for tp in present})


def check_inputs(store: Store, rules: JourneyRules) -> None:
    """Refuse, before anything is written, what the user must fix: no events, or declared journey
    types naming touchpoints the events do not have."""
    if store.count("events") == 0:
        raise NotFoundError(
            "There are no events to build customers and journeys from.",
            hint="Load events first: `journeylens ingest FILE`.",
        )
    check_vocabulary(store, rules)


def build_journeys(store: Store, rules: JourneyRules | None = None) -> JourneyBuild:
    """Split every customer's events into journeys and compute their outcomes.

    Needs ``customer_map`` (run ``identity.stitch`` first). Replaces both tables, and
    ``feedback_sentiment`` (scored with the default ``[voc.sentiment]``; ``model.build_model`` uses
    the workspace's).

    Example:
        >>> built = build_journeys(workspace.store, workspace.config.journeys)  # doctest: +SKIP
        >>> built.journeys.outcome.value_counts().execute()  # doctest: +SKIP
    """
    from journeylens.voc.scoring import write_sentiment
    from journeylens.voc.settings import SentimentSettings

    rules = rules or JourneyRules()
    require_customer_map(store)
    check_inputs(store, rules)
    write_sentiment(store, SentimentSettings(), rules.feedback.negative)
    return write_journeys(store, rules)


Sink = Callable[[str, ir.Table], ir.Table]
"""Writes the rows of a derived table (name, rows) and returns them as a table to read on."""


def write_journeys(store: Store, rules: JourneyRules) -> JourneyBuild:
    """:func:`build_journeys` once its inputs are checked (``journeylens.model`` checks them
    before it records a build, so they are not read twice)."""
    backend = store.backend

    def replace(name: str, rows: ir.Table) -> ir.Table:
        return backend.create_table(name, rows, overwrite=True)

    return derive_journeys(
        store,
        rules,
        events_with_customers(store),
        store.table("events"),
        replace,
        in_place=capabilities(backend).drops_columns,
    )


def derive_journeys(
    store: Store,
    rules: JourneyRules,
    events: ir.Table,
    raw: ir.Table,
    sink: Sink,
    *,
    answers: Callable[[ir.Table], ir.BooleanValue] | None = None,
    as_of: ir.TimestampValue | None = None,
    in_place: bool = False,
    large: bool = True,
) -> JourneyBuild:
    """Journeys, journey_events and feedback_links of ``events`` (with ``customer_id``; ``raw``:
    the same events as stored), each handed to ``sink``, and the customers' breaks
    (``segment.BREAKS``). ``answers`` keeps only some feedback
    (the incremental build: the answers of the customers it recomputes) and ``as_of`` is then the
    data's end (see ``journeys.incremental``). ``in_place``: ``sink`` stores ``journey_events``
    under that name on an engine that drops columns in place (see :func:`place_events`);
    ``large``: see ``journeys.segment.assign_journeys``."""
    backend = store.backend
    try:
        # decided on every stored event, so an incremental build takes the path a full one would
        case_log = is_case_log(store)
        journeys = assign_journeys(backend, events, rules, case_log=case_log, large=large)
        assigned, journey_events = place_events(backend, journeys, sink, in_place=in_place, large=large)
        sink(BREAKS, break_rows(backend, events, case_log=case_log))
        feedback = _feedback(store, rules)
        if feedback is not None and answers is not None:
            feedback = feedback.filter(answers(feedback))
        journeys = sink("journeys", journey_outcomes(assigned, raw, rules, feedback, as_of))
        said = with_customers(store, "feedback")
        said = said if answers is None else said.filter(answers(said))
        links = sink(
            "feedback_links", feedback_links(journeys, journey_events, raw, said, rules.feedback.seconds())
        )
    finally:
        drop_scratch(backend, CLAIMS, EPISODES, ASSIGNED)
        if in_place:
            narrow_events(backend)
    if in_place:
        journey_events = backend.table("journey_events")
    return JourneyBuild(journeys=journeys, journey_events=journey_events, feedback_links=links)


def place_events(
    backend: ibis.BaseBackend, journeys: ir.Table, sink: Sink, *, in_place: bool, large: bool = True
) -> tuple[ir.Table, ir.Table]:
    """Write ``assign_journeys``' rows once: the working table outcomes reads, and
    ``journey_events`` handed to ``sink``. With ``in_place`` they are one table, ``journey_events``
    with the working columns after its own, which :func:`narrow_events` drops once read: copying
    journey_events out of a working table took a fifth of placing a case log's events at 10M
    events (docs/benchmarks.md)."""
    if in_place:
        rest = [c for c in journeys.columns if c not in STEP_COLUMNS]
        assigned = sink("journey_events", journeys.select(*STEP_COLUMNS, *rest))
        return assigned, assigned.select(*STEP_COLUMNS)
    assigned = scratch_table(backend, ASSIGNED, journeys, large=large)
    return assigned, sink("journey_events", assigned.select(*STEP_COLUMNS))


def narrow_events(backend: ibis.BaseBackend) -> None:
    """Leave ``journey_events`` with only its own columns after :func:`place_events` with
    ``in_place`` (also after a failed build, so its working columns never outlive it)."""
    if "journey_events" in backend.list_tables():
        keep_columns(backend, "journey_events", STEP_COLUMNS)


def is_case_log(store: Store) -> bool:
    """Every event carries a ``case_id`` (a process log): its journeys are its cases, grouped and
    numbered without intent segmentation (``journeys.cases``). Counted, not scanned for a NULL:
    DuckDB answers both counts from its statistics (0.002 s against 0.06 s at 10M events)."""
    events = store.table("events")
    return bool(store.execute(events.case_id.count() == events.count()).as_py())


def _feedback(store: Store, rules: JourneyRules) -> ir.Table | None:
    """The answers that can be outcome evidence, with their customer and, when comments count,
    ``negative_comment`` (the lexicon's score of the comment at or below ``comment_threshold``,
    from ``feedback_sentiment``); ``None`` when there are none or feedback evidence is off."""
    from journeylens.voc.scoring import SENTIMENT

    evidence = rules.feedback
    if not evidence.enabled or not store.count("feedback"):
        return None
    feedback = with_customers(store, "feedback")
    if not evidence.comments:
        return feedback
    tone = store.backend.table(SENTIMENT)
    marked = tone.filter(tone.lexicon <= evidence.comment_threshold).select(_said="feedback_id")
    joined = feedback.left_join(marked, feedback.feedback_id == marked._said)
    return joined.mutate(negative_comment=joined._said.notnull()).drop("_said")


def require_journeys(store: Store) -> ir.Table:
    """The ``journeys`` table, or an error that says how to build it."""
    if "journeys" not in store.backend.list_tables():
        require_customer_map(store)
        raise NotFoundError(
            "Journeys have not been built yet (no journeys table).",
            hint="Run `journeylens build` to stitch customers and split their events into journeys.",
        )
    return store.backend.table("journeys")
