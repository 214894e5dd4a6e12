"""The registry of parity cases: one function per analysis (or variant of one), run on both engines.

Adding an analysis to the parity run is adding one function here::

    @case("my_analysis")
    def my_analysis_case(side: Side) -> Any:
        return my_analysis(side.store, MySpec(...)).to_dict()

A case receives one engine's copy of the world (:class:`~tests.parity.conftest.Side`: its
``store``, ``config`` and ``ingest_reports``) and returns plain Python data (dicts, lists,
numbers, strings, datetimes). ``test_parity.py`` runs it on DuckDB and on PySpark and compares the
two results field by field:

* Order is compared as returned. Results whose order is part of the contract (ranked variants,
  funnel steps, Sankey links) are returned as they are; unordered tables are sorted with
  :func:`rows`.
* Floats are equal within :data:`FLOAT` (relative 1e-9) unless the case names a wider
  :class:`Tolerance` for a field, and says why. Everything else must be equal exactly.
* ``expect`` (optional) asserts facts about the DuckDB result that make the comparison mean
  something (the stories are in it, the tie is ordered by ingestion), so that two equally wrong or
  equally empty results cannot pass.
* ``xfail`` (a reason naming the precise cause) marks a known engine gap as a strict xfail: the
  case keeps running and the test fails as soon as the gap is fixed, so the mark is removed.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa

from journeylens.discovery import (
    BuiltinCohort,
    InventorySpec,
    JourneyFilter,
    PathsSpec,
    RfmRules,
    SegmentComparisonSpec,
    compare_periods,
    compare_segments,
    parse_cohort,
    paths,
    rfm_segments,
    touchpoint_inventory,
)
from journeylens.discovery.dfg import MapSpec, process_map
from journeylens.discovery.funnel import FunnelSpec, funnel
from journeylens.discovery.selection import ActivityKey
from journeylens.discovery.variants import VariantSpec, variants
from journeylens.identity import stitch
from journeylens.identity.stitch import IdentityRules
from journeylens.journeys.summary import JourneySummarySpec, journey_summary
from journeylens.maps import JourneyMap
from journeylens.maps._demo_maps import DEMO_MAPS
from journeylens.maps.check import check_map
from journeylens.maps.loading import parse_map
from journeylens.maps.show import show_map
from journeylens.specs.map_check import MapCheckSpec
from journeylens.store import Store
from parity.conftest import Side


@dataclass(frozen=True)
class Tolerance:
    """How far a float field may differ between engines, and why it may differ at all."""

    why: str
    rel: float = 0.0
    abs: float = 0.0


FLOAT = Tolerance(
    "sums and means of doubles depend on the order values are added in, which differs between "
    "engines and partitionings (last-digit differences, never more)",
    rel=1e-9,
    abs=1e-9,
)


@dataclass(frozen=True)
class ParityCase:
    name: str
    run: Callable[[Side], Any]
    tolerances: Mapping[str, Tolerance] = field(default_factory=dict)
    """Wider tolerances by field name (the key of the value in its dict)."""
    expect: Callable[[Any], None] | None = None
    xfail: str | None = None
    xfail_raises: type[BaseException] = AssertionError
    """What the known gap raises (any other failure fails the test): AssertionError when the
    engines disagree, the engine's exception when the case cannot run there."""


CASES: dict[str, ParityCase] = {}


def case(
    name: str,
    *,
    tolerances: Mapping[str, Tolerance] | None = None,
    expect: Callable[[Any], None] | None = None,
    xfail: str | None = None,
    xfail_raises: type[BaseException] = AssertionError,
) -> Callable[[Callable[[Side], Any]], Callable[[Side], Any]]:
    """Register ``fn`` as the parity case ``name``."""

    def register(fn: Callable[[Side], Any]) -> Callable[[Side], Any]:
        if name in CASES:
            raise ValueError(f"parity case {name!r} is registered twice")
        CASES[name] = ParityCase(name, fn, dict(tolerances or {}), expect, xfail, xfail_raises)
        return fn

    return register


# --- comparison -----------------------------------------------------------------------------------


def differences(duck: Any, spark: Any, tolerances: Mapping[str, Tolerance], path: str = "$") -> list[str]:
    """Every place where ``spark`` differs from ``duck``, as ``path: duckdb value != pyspark value``."""
    if isinstance(duck, Mapping) and isinstance(spark, Mapping):
        return _mapping_differences(duck, spark, tolerances, path)
    if isinstance(duck, list | tuple) and isinstance(spark, list | tuple):
        return _sequence_differences(duck, spark, tolerances, path)
    if isinstance(duck, float) and isinstance(spark, float | int) and not isinstance(spark, bool):
        return _float_difference(duck, float(spark), tolerances, path)
    return [] if type(duck) is type(spark) and duck == spark else [f"{path}: {duck!r} != {spark!r}"]


def _mapping_differences(
    duck: Mapping[str, Any], spark: Mapping[str, Any], tolerances: Mapping[str, Tolerance], path: str
) -> list[str]:
    out = [
        f"{path}: key {k!r} only on {'duckdb' if k in duck else 'pyspark'}"
        for k in duck.keys() ^ spark.keys()
    ]
    for key in duck.keys() & spark.keys():
        out += differences(duck[key], spark[key], tolerances, f"{path}.{key}")
    return out


def _sequence_differences(
    duck: Sequence[Any], spark: Sequence[Any], tolerances: Mapping[str, Tolerance], path: str
) -> list[str]:
    if len(duck) != len(spark):
        return [f"{path}: {len(duck)} items on duckdb, {len(spark)} on pyspark"]
    out = []
    for i, (a, b) in enumerate(zip(duck, spark, strict=True)):
        out += differences(a, b, tolerances, f"{path}[{i}]")
    return out


def _float_difference(duck: float, spark: float, tolerances: Mapping[str, Tolerance], path: str) -> list[str]:
    name = path.rsplit(".", 1)[-1].split("[", 1)[0]
    tol = tolerances.get(name, FLOAT)
    if duck == spark or abs(duck - spark) <= max(tol.abs, tol.rel * max(abs(duck), abs(spark))):
        return []
    return [f"{path}: {duck!r} != {spark!r} (tolerance for {name}: rel {tol.rel}, abs {tol.abs})"]


# --- normalisation helpers ------------------------------------------------------------------------


def _sort_key(row: Mapping[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, default=str)


def rows(data: pa.Table | Iterable[Mapping[str, Any]], *, drop: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The rows of an unordered result as dicts, in a canonical order, without ``drop`` columns."""
    records = data.to_pylist() if isinstance(data, pa.Table) else list(data)
    return sorted(({k: v for k, v in r.items() if k not in drop} for r in records), key=_sort_key)


def table(side: Side, name: str, *, drop: Sequence[str] = ()) -> list[dict[str, Any]]:
    """A whole stored table, canonically ordered."""
    return rows(side.store.execute(side.store.backend.table(name)), drop=drop)


@contextmanager
def kept_customer_map(store: Store) -> Any:
    """Run a block that re-stitches, then put the world's ``customer_map`` back as it was."""
    backend = store.backend
    backend.create_table("_parity_customer_map", backend.table("customer_map"), overwrite=True)
    try:
        yield
    finally:
        backend.create_table("customer_map", backend.table("_parity_customer_map"), overwrite=True)
        backend.drop_table("_parity_customer_map")


def _has(condition: bool, message: str) -> None:
    assert condition, message


# --- ingest ---------------------------------------------------------------------------------------


def _reports_expect(reports: list[dict[str, Any]]) -> None:
    edge = [r for r in reports if str(r["source"]).endswith("edge_cases.csv")]
    _has(len(edge) == 2, f"edge_cases.csv is ingested twice: {edge}")
    first, again = edge
    _has((first["loaded"], first["duplicates"]) == (8, 1), f"first ingest: {first}")
    _has(
        first["quarantined_by_reason"] == {"bad_timestamp": 1, "missing_field": 1, "bad_value": 1}, str(first)
    )
    _has((again["loaded"], again["duplicates"]) == (0, 9), f"re-ingest loads nothing: {again}")


@case("ingest_reports", expect=_reports_expect)
def ingest_reports(side: Side) -> Any:
    return side.ingest_reports


def _events_expect(events: list[dict[str, Any]]) -> None:
    by_id = {r["event_id"]: r for r in events}
    utc = _dt.UTC
    _has(by_id["e2"]["timestamp"] == _dt.datetime(2024, 1, 15, 9, 5, tzinfo=utc), "naive: Amsterdam")
    _has(by_id["e4"]["timestamp"] == _dt.datetime(2024, 1, 15, 10, 0, 0, 123000, tzinfo=utc), "epoch ms")
    _has(
        by_id["e5"]["timestamp"] == _dt.datetime(2024, 1, 15, 23, 0, tzinfo=utc), "a date: Amsterdam midnight"
    )
    _has(
        [by_id[i]["channel"] for i in ("e2", "e3", "e4", "e7")]
        == ["call_center", "whatsapp", "email", "other"],
        "",
    )
    _has(len(events) > 4000, f"the synthetic world is in the events ({len(events)} rows)")
    twins = {r["event_id"] for r in events if r["user_id"] == "u4"}
    _has(len(twins) == 2, f"two identical purchases are two events: {twins}")


@case("events", expect=_events_expect)
def events_table(side: Side) -> Any:
    # ``source`` is the path of the file: identical on both sides, but noise in a diff.
    return table(side, "events", drop=("source",))


def _quarantine_expect(quarantined: list[dict[str, Any]]) -> None:
    lines = sorted(r["line"] for r in quarantined if str(r["source"]).endswith("edge_cases.csv"))
    # Lines 7, 10 and 11, once: the second ingest of the file finds them quarantined already.
    _has(lines == [7, 10, 11], f"quarantined lines of edge_cases.csv: {lines}")


@case("quarantine", expect=_quarantine_expect)
def quarantine_table(side: Side) -> Any:
    return table(side, "quarantine")


@case("identities_customers_feedback_assignments")
def other_raw_tables(side: Side) -> Any:
    return {
        name: table(side, name, drop=("source",))
        for name in ("identities", "customers", "feedback", "assignments")
    }


def _feedback_files_expect(result: dict[str, Any]) -> None:
    reports = {(r["source"].rsplit("/", 1)[-1], r["loaded"]): r for r in result["reports"]}
    first, again = reports[("reviews.tsv", 3)], reports[("reviews.tsv", 0)]
    _has((first["unlinked"], first["quarantined"]) == (3, 0), f"every review loads, unlinked: {first}")
    _has((again["duplicates"], again["unlinked"]) == (3, 3), f"re-ingest loads nothing: {again}")
    survey = reports[("survey.csv", 2)]
    _has(survey["quarantined_by_reason"] == {"bad_timestamp": 1}, f"survey: {survey}")
    _has(survey["dst_shifted"] == 1, f"one time in the daylight-saving gap: {survey}")
    at = {(r["comment"] or "")[:10]: r["timestamp"] for r in result["feedback"]}
    utc = _dt.UTC
    _has(at["Love my Ec"] == _dt.datetime(2018, 7, 30, 22, tzinfo=utc), "31-Jul-18: Amsterdam midnight")
    _has(at["Stopped wo"] == _dt.datetime(2018, 12, 31, 23, tzinfo=utc), "1-jan-2019")
    _has(at["in the gap"] == _dt.datetime(2024, 3, 31, 1, 30, tzinfo=utc), "02:30 shifted to 03:30 CEST")
    _has(at["2 January"] == _dt.datetime(2018, 1, 2, 9, tzinfo=utc), "%d/%m/%y: the day comes first")
    (bad,) = result["quarantine"]
    _has(bad["line"] == 4 and "--timestamp-format '%d/%m/%y %H:%M'" in bad["message"], str(bad))


@case("feedback_unlinked_metric_timestamp_format", expect=_feedback_files_expect)
def feedback_files(side: Side) -> Any:
    """Anonymous reviews with one ``--metric`` and 31-Jul-18 dates, and a survey read with
    ``--timestamp-format``: the stored answers, their reports and the quarantined line."""
    files = ("reviews.tsv", "survey.csv")
    stored = table(side, "feedback")
    quarantined = table(side, "quarantine", drop=("source", "ingest_id"))
    return {
        "reports": [r for r in side.ingest_reports if str(r["source"]).endswith(files)],
        "feedback": [
            {k: v for k, v in r.items() if k != "source"} for r in stored if str(r["source"]).endswith(files)
        ],
        "quarantine": [r for r in quarantined if r["table"] == "feedback"],
    }


@case("events_per_local_day_and_channel")
def daily_by_channel(side: Side) -> Any:
    store = side.store
    events = store.table("events")
    day = store.local_time(events.timestamp).truncate("D").date().name("day")
    expr = events.group_by([day, "channel"]).agg(n=events.count(), value=events.value.sum())
    return rows(store.execute(expr))


# --- identity -------------------------------------------------------------------------------------


def _stitch_expect(cmap: list[dict[str, Any]]) -> None:
    by_id = {(r["identifier_type"], r["identifier_value"]): r["customer_id"] for r in cmap}
    _has(by_id[("anonymous_id", "dev-ann")] == by_id[("user_id", "ann")], "ann's device joins her")
    _has(by_id[("anonymous_id", "dev-bob")] == by_id[("user_id", "bob")], "bob's device joins him")
    _has(by_id[("user_id", "carl")] != by_id[("user_id", "dora")], "a shared tablet joins no one")


@case("customer_map", expect=_stitch_expect)
def customer_map(side: Side) -> Any:
    return table(side, "customer_map")


def _limits_expect(result: dict[str, Any]) -> None:
    reasons = {r["reason"] for r in result["report"]}
    _has(any(r.startswith("limit:") for r in reasons), f"the limits leave some links unused: {reasons}")
    kinds: dict[tuple[str, str], int] = {}
    for r in result["customer_map"]:
        key = (r["customer_id"], r["identifier_type"])
        kinds[key] = kinds.get(key, 0) + 1
    _has(max(n for (_, t), n in kinds.items() if t == "user_id") == 1, "no customer has two logins")
    _has(max(n for (_, t), n in kinds.items() if t == "email") == 2, "ann keeps two of her e-mails")


@case("identity_max_per_customer", expect=_limits_expect)
def identity_limits(side: Side) -> Any:
    # The shared-identifier guard is relaxed so that the limits, not the guard, decide.
    rules = IdentityRules(max_customers_per_identifier=3, max_per_customer={"user_id": 1, "email": 2})
    with kept_customer_map(side.store):
        result = stitch(side.store, rules)
        return {
            "customer_map": rows(side.store.execute(result.customer_map)),
            "report": rows(side.store.execute(result.shared)),
        }


# --- journeys -------------------------------------------------------------------------------------


def _journeys_expect(journeys: list[dict[str, Any]]) -> None:
    types = {r["journey_type"] for r in journeys}
    _has({"purchase", "support", "information"} <= types, f"journey types: {types}")
    _has(len(journeys) > 500, f"{len(journeys)} journeys")
    evidence = {r["outcome_evidence"] for r in journeys}
    wanted = {"success_event", "failure_event", "no_repeat_after_contact", "no_repeat_self_service",
              "negative_feedback", "open", "no_outcome_event"}  # fmt: skip
    _has(wanted <= evidence, f"outcome evidence: {sorted(evidence)}")
    _has(any(r["contact_reason"] for r in journeys), "journeys state contact reasons")


def _links_expect(links: list[dict[str, Any]]) -> None:
    kinds = {r["link"] for r in links}
    _has(kinds == {"case", "window"}, f"feedback linked by {kinds}")


@case("feedback_links", expect=_links_expect)
def feedback_links(side: Side) -> Any:
    """Answers linked to journeys by case, else by the customer's most recent journey within the
    window (ties on the start go to the smaller journey id), as the outcome evidence reads them."""
    from journeylens.identity.stitch import with_customers
    from journeylens.journeys.feedback_link import link_feedback

    store = side.store
    window = side.config.journeys.feedback.seconds()
    links = link_feedback(store.backend.table("journeys"), with_customers(store, "feedback"), window)
    return rows(store.execute(links))


def _links_table_expect(links: list[dict[str, Any]]) -> None:
    kinds = {r["link"] for r in links}
    _has(kinds == {"case", "window", None}, f"feedback_links keeps unlinked answers: {kinds}")
    _has(any(r["step"] is not None and r["touchpoint"] for r in links), "linked answers name their step")
    _has(any(r["agent_from"] == "feedback" for r in links), "answers name their agent")
    _has(not any(r["touchpoint"] == "survey_invite" for r in links), "the survey invitation is no step")


@case("feedback_links_table", expect=_links_table_expect)
def feedback_links_table(side: Side) -> Any:
    """The derived ``feedback_links``: every answer, linked or not, with the journey's last step at or
    before it (``argmax`` over steps), its touchpoint, channel and agent."""
    return table(side, "feedback_links")


def _scores_expect(result: dict[str, Any]) -> None:
    metrics = {r["metric"] for r in result["rows"] if r["value"] is not None}
    _has(len(metrics) >= 2, f"scores defined for {metrics} of {result['metrics']}")
    _has(any(r["reason"] for r in result["rows"]), "a group too small to score says so")
    _has(any(r["test"] for r in result["rows"]), "groups are tested against the rest")
    _has(result["unlinked"] > 0 and result["linked"] > 0, "linked and unlinked answers are both counted")


@case("feedback_scores_by_touchpoint", expect=_scores_expect)
def feedback_scores_by_touchpoint(side: Side) -> Any:
    """NPS (Adjusted-Wald), CSAT and CES top box (Wilson) per touchpoint from promoter, detractor and
    top-box counts, each against the rest with tests and BH q."""
    from journeylens.specs.feedback import FeedbackScoresSpec
    from journeylens.voc.scores import feedback_scores

    return feedback_scores(side.store, FeedbackScoresSpec(by="touchpoint", min_answers=3)).to_dict()


@case("feedback_scores_means_by_outcome_and_week", expect=_scores_expect)
def feedback_scores_means(side: Side) -> Any:
    """Mean scores (count, mean and sample variance in the engine; t intervals, Welch tests) by the
    linked journey's outcome (unlinked answers their own group), NPS per local week, and NPS by the
    purchase map's stage each answer is about (``answer_stage_ranks``)."""
    from journeylens.specs.feedback import FeedbackScoresSpec
    from journeylens.voc.scores import feedback_scores

    means = FeedbackScoresSpec(by="outcome", metric=["nps_mean", "csat_mean", "ces_mean"])
    weekly = FeedbackScoresSpec(by="period", period="week", metric="nps")
    staged = FeedbackScoresSpec(by="stage", map="purchase", metric="nps", min_answers=3)
    by_outcome = feedback_scores(side.store, means).to_dict()
    by_week = feedback_scores(side.store, weekly).to_dict()
    by_stage = feedback_scores(side.store, staged, PURCHASE_MAP).to_dict()
    _has(any(r["group"] == "confirm" for r in by_stage["rows"]), "NPS about the confirm stage")
    return {
        **by_outcome,
        "weeks": by_week["rows"],
        "stages": by_stage["rows"],
        "outside": by_stage["outside_map"],
    }


def _contacts_expect(result: dict[str, Any]) -> None:
    _has(result["reasons"]["contacts"] > 0 and len(result["reasons"]["rows"]) > 1, "contacts with reasons")
    _has(len(result["avoidable"]["rows"]) > 0 and result["avoidable"]["followed"] > 0, "a ranked touchpoint")
    _has(result["repeats"]["rows"][0]["repeats"] > 0, "repeat contacts")


@case("contacts_views", expect=_contacts_expect)
def contacts_views(side: Side) -> Any:
    """Contact-centre signals: contacts with their reason (event, disposition, IVR, journey),
    counts and costs per reason and local week, resolution by reason, each digital exposure with
    the first journey-opening contact within the window (the avoidable ranking), repeat contacts
    with the previous contact's channel, agent and reason, and the weekly signals with comments."""
    from journeylens.contacts.analysis import contact_signals
    from journeylens.specs.contacts import ContactsSpec

    settings = side.config.voc.contacts
    return {
        view: contact_signals(side.store, side.config.journeys, settings, ContactsSpec(view=view)).to_dict()
        for view in ("reasons", "avoidable", "repeats", "signals")
    }


def _schema(side: Side, name: str) -> dict[str, str]:
    # Spark's TIMESTAMP is an instant without a zone in its type; results carry UTC (to_arrow).
    schema = side.store.backend.table(name).schema()
    return {col: "timestamp" if dtype.is_timestamp() else str(dtype) for col, dtype in schema.items()}


@case("derived_table_types")
def derived_table_types(side: Side) -> Any:
    """The model tables have the same column types on both engines (a DECIMAL or INT where DuckDB
    has DOUBLE or BIGINT would change later arithmetic and unions)."""
    return {
        name: _schema(side, name) for name in ("customer_map", "journeys", "journey_events", "feedback_links")
    }


def _probe_expect(result: dict[str, Any]) -> None:
    _has(result["types"]["cost"] == "float64" and result["types"]["pos"] == "int64", str(result["types"]))
    _has(all(isinstance(r["epoch"], int) for r in result["rows"]), "whole-second epochs")


@case("backend_types_epochs_windows", expect=_probe_expect)
def backend_probe(side: Side) -> Any:
    """The backend layer's compiler fixes, end to end through a materialised table: float literals
    stay doubles on Spark (not DECIMAL), integer window results stay BIGINT (Spark: INT), and
    ``epoch_seconds`` is whole seconds (floor) on both engines, whatever the fraction."""
    from journeylens.store._working import scratch_table

    store = side.store
    ev = store.table("events")
    expr = ev.select(
        ev.event_id,
        cost=ibis.cases((ev.channel == "email", 0.005), (ev.channel == "web", 0.35), else_=0.0),
        pos=ibis.row_number().over(group_by=ev.user_id, order_by=[ev.timestamp, ev.ingest_seq]),
        epoch=ev.timestamp.epoch_seconds().cast("int64"),
        micros=ev.timestamp.delta(ev.timestamp.truncate("s"), unit="microsecond"),
    )
    made = scratch_table(store.backend, "_parity_probe", expr)
    try:
        stored = made.union(expr)  # fails unless the stored types are the promised ones
        per = stored.group_by("event_id").agg(
            cost=stored.cost.sum(), pos=stored.pos.max(), epoch=stored.epoch.max(), micros=stored.micros.max()
        )
        types = {col: str(dtype) for col, dtype in made.schema().items()}
        return {"types": types, "rows": rows(store.execute(per))}
    finally:
        store.backend.drop_table("_parity_probe", force=True)


@case("journeys", expect=_journeys_expect)
def journeys_table(side: Side) -> Any:
    return table(side, "journeys")


def _steps_expect(steps: list[dict[str, Any]]) -> None:
    tie = [r for r in steps if r["touchpoint"] in _TIE and r["timestamp"] == _TIE_AT]
    _has([r["touchpoint"] for r in sorted(tie, key=lambda r: r["step"])] == list(_TIE), f"tie: {tie}")


_TIE = ("product_page", "add_to_cart", "checkout", "payment", "order_confirmation")
_TIE_AT = _dt.datetime(2024, 3, 5, 10, 0, tzinfo=_dt.UTC)


@case("journey_events", expect=_steps_expect)
def journey_events(side: Side) -> Any:
    store = side.store
    je, events = store.backend.table("journey_events"), store.table("events")
    joined = je.join(events, "event_id").select(
        je.journey_id, je.step, je.event_id, events.timestamp, events.touchpoint
    )
    return rows(store.execute(joined))


def _case_log_expect(result: dict[str, Any]) -> None:
    _has(len(result["fast"]) > 100, f"{len(result['fast'])} case events")
    _has(result["fast"] == result["general"], "the case-log path differs from the general one")


@case("journeys_case_log_path", expect=_case_log_expect)
def journeys_case_log_path(side: Side) -> Any:
    """The events that carry a case, as a process log: the case-log path of ``assign_journeys``
    (no intent windows) on both engines, and the general path beside it (they must agree)."""
    from journeylens.identity.stitch import events_with_customers
    from journeylens.journeys.segment import assign_journeys

    store = side.store
    events = events_with_customers(store)
    cases = events.filter(events.case_id.notnull())
    rules = side.config.journeys
    return {
        name: rows(store.execute(assign_journeys(store.backend, cases, rules, case_log=flag)))
        for name, flag in (("fast", True), ("general", False))
    }


def _undefined_expect(result: dict[str, Any]) -> None:
    outcomes = {r["outcome"] for r in result["journeys"]}
    _has({"unknown", "success"} <= outcomes, f"outcomes: {outcomes}")
    _has(all(r["cost_to_serve"] is None for r in result["journeys"]), "a cost without [journeys.costs]")
    unknown = [r for r in result["journeys"] if r["outcome"] == "unknown"]
    _has(all(r["first_contact_resolution"] is None for r in unknown), "FCR of an unknown outcome")


@case("journey_outcomes_unknown_unpriced", expect=_undefined_expect)
def journey_outcomes_unknown_unpriced(side: Side) -> Any:
    """Outcomes under rules with a type that defines no success or failure (``browse``: outcome
    ``unknown``) and no costs (cost to serve NULL)."""
    from journeylens.identity.stitch import events_with_customers
    from journeylens.journeys import Criteria, JourneyRules, JourneyType, default_types
    from journeylens.journeys.outcomes import journey_outcomes
    from journeylens.journeys.segment import CLAIMS, EPISODES, assign_journeys
    from journeylens.store._working import drop_scratch

    defaults = default_types()
    rules = JourneyRules(
        types={
            "support": defaults["support"],
            "browse": JourneyType(priority=2, start=Criteria(touchpoints=["home", "product_page", "search"])),
        }
    )
    store = side.store
    try:
        assigned = assign_journeys(store.backend, events_with_customers(store), rules)
        per = journey_outcomes(assigned, store.table("events"), rules)
        keep = ["journey_type", "outcome", "first_contact_resolution", "cost_to_serve", "assisted_contacts"]
        journeys = rows(store.execute(per.select("journey_id", "customer_id", "start", *keep)))
        return {"journeys": journeys}
    finally:
        drop_scratch(store.backend, CLAIMS, EPISODES)


def _summary(side: Side, spec: JourneySummarySpec) -> list[dict[str, Any]]:
    return journey_summary(side.store, spec).rows


@case("journeys_summary_by_type")
def summary_by_type(side: Side) -> Any:
    return _summary(side, JourneySummarySpec(by="journey_type"))


@case("journeys_summary_by_week")
def summary_by_week(side: Side) -> Any:
    return _summary(side, JourneySummarySpec(by="period", period="week"))


@case("journeys_summary_by_first_channel")
def summary_by_channel(side: Side) -> Any:
    return _summary(side, JourneySummarySpec(by="channel"))


@case("journeys_summary_by_segment")
def summary_by_segment(side: Side) -> Any:
    return _summary(side, JourneySummarySpec(by="segment"))


def _no_contact_expect(result: dict[str, Any]) -> None:
    (row,) = result["summary"]
    _has(row["journeys"] > 0 and row["repeat_contact_d"] == 0, f"type other: {row}")
    _has(row["leakage_rate"] is None and "assisted" in (row["leakage_reason"] or ""), "leakage of no contact")
    leakage = [r for r in result["segments"]["rows"] if r["metric"] == "leakage"]
    _has(bool(leakage) and all(r["value"] is None and r["reason"] for r in leakage), "segment leakage")
    _has(any("assisted" in r["reason"] for r in leakage), "no segment says that no contact can be seen")


@case("leakage_without_assisted_contacts", expect=_no_contact_expect)
def leakage_without_contacts(side: Side) -> Any:
    """Type ``other`` has digital journeys and no assisted contact: leakage is not defined (the
    selection's contacts are summed in the engine), in the summary and between segments."""
    only_other = JourneyFilter(journey_type=["other"])
    spec = SegmentComparisonSpec(
        cohort=parse_cohort("did:channel=web"), filter=only_other, metrics=["leakage", "touchpoints"]
    )
    return {
        "summary": _summary(side, JourneySummarySpec(journey_type="other")),
        "segments": compare_segments(side.store, spec).to_dict(),
    }


# --- discovery ------------------------------------------------------------------------------------


@case("process_map_touchpoint")
def process_map_touchpoint(side: Side) -> Any:
    return process_map(side.store, MapSpec(key=ActivityKey.touchpoint)).to_dict()


def _lifecycle_expect(result: dict[str, Any]) -> None:
    names = {node["activity"] for node in result["nodes"]}
    _has({"billing_call+start", "billing_call+complete"} <= names, "the lifecycle story is in the map")


@case("process_map_touchpoint_lifecycle", expect=_lifecycle_expect)
def process_map_lifecycle(side: Side) -> Any:
    return process_map(side.store, MapSpec(key=ActivityKey.touchpoint_lifecycle)).to_dict()


@case("process_map_channel_support")
def process_map_channel(side: Side) -> Any:
    spec = MapSpec(key=ActivityKey.channel, filter=JourneyFilter(journey_type=["support"]), max_edges=15)
    return process_map(side.store, spec).to_dict()


def _behind_expect(result: dict[str, Any]) -> None:
    edge, mark = result["edge"], result["touchpoint"]
    _has(0 < edge["total"] <= mark["total"] and edge["rows"], "the top transition has journeys behind it")


@case("dashboard_journeys_behind", expect=_behind_expect)
def dashboard_journeys_behind(side: Side) -> Any:
    from journeylens.server.dashboard_journeys import journeys_behind

    top = process_map(side.store, MapSpec()).records()[0]
    edge = journeys_behind(side.store, source=top["source"], target=top["target"], limit=20)
    mark = journeys_behind(side.store, touchpoint=top["source"], limit=20)
    return {
        "top": [top["source"], top["target"]],
        "edge": {"total": edge.total, "rows": edge.rows},
        "touchpoint": {"total": mark.total, "rows": mark.rows},
    }


def _conditions_expect(result: dict[str, Any]) -> None:
    every = set(result["every"])
    for name, chosen in result.items():
        if name != "every":
            _has(0 < len(chosen) < len(every) and set(chosen) <= every, f"{name} selects some journeys")


@case("journeys_selected_by_property_conditions", expect=_conditions_expect)
def property_conditions(side: Side) -> Any:
    """The property filter's operators (``--where``) with all/any: journey ids selected by one
    event meeting all conditions, or any; negations and numbers hold only where the property is;
    ``customer.`` conditions on the traits (a customer without a record has none set)."""
    from journeylens.discovery.selection import select_journeys

    def where(*conditions: str, match: str = "all") -> JourneyFilter:
        return JourneyFilter(properties=list(conditions), match=match)

    filters = {
        "every": JourneyFilter(),
        "all": where("device in ios,android,mobile_web", "contact_reason~BILL"),
        "any": where("error_code?", "utm_source=newsletter", "carrier not in parcelnet", match="any"),
        "negations": where("device!=desktop", "contact_reason!~a"),
        "absent": where("device!?", "contact_reason=delivery"),
        "number": where("order_id>0", "campaign=spring_sale", match="any"),
        "traits": where("customer.plan in plus,premium", "device=ios"),
        "traits_any": where("customer.plan!=basic", "customer.segment!?", "error_code?", match="any"),
    }
    selected = {name: select_journeys(side.store, flt).select("journey_id") for name, flt in filters.items()}
    return {
        name: sorted(r["journey_id"] for r in side.store.execute(t).to_pylist())
        for name, t in selected.items()
    }


@case("variants_touchpoint")
def variants_touchpoint(side: Side) -> Any:
    return variants(side.store, VariantSpec(coverage=1.0)).to_dict()


@case("variants_channel_touchpoint_purchase")
def variants_channel_touchpoint(side: Side) -> Any:
    spec = VariantSpec(
        key=ActivityKey.channel_touchpoint, filter=JourneyFilter(journey_type=["purchase"]), limit=20
    )
    return variants(side.store, spec).to_dict()


@case("paths_after_product_page")
def paths_after(side: Side) -> Any:
    return paths(side.store, PathsSpec(start="product_page", steps=4, top=5)).to_dict()


@case("paths_before_billing_call_by_channel")
def paths_before(side: Side) -> Any:
    spec = PathsSpec(end="call_center:billing_call", steps=3, top=4, key=ActivityKey.channel_touchpoint)
    return paths(side.store, spec).to_dict()


@case("paths_between_home_and_checkout")
def paths_between(side: Side) -> Any:
    return paths(side.store, PathsSpec(start="home", end="checkout", steps=3, top=5)).to_dict()


@case("touchpoint_inventory")
def inventory(side: Side) -> Any:
    return touchpoint_inventory(side.store, InventorySpec(), side.config.journeys).to_dict()


def _draft_expect(result: dict[str, Any]) -> None:
    stages = [s["name"] for s in result["map"]["stages"]]
    _has(len(stages) >= 2, f"drafted stages: {stages}")
    _has(any(r["role"] == "unplanned" for r in result["touchpoints"]), "some touchpoint is unplanned")


@case("map_draft_purchase", expect=_draft_expect)
def map_draft_purchase(side: Side) -> Any:
    """Positions, pairwise order, stage times (p80 via quantile) and the stage flow (lead)."""
    from journeylens.maps.draft import draft_map
    from journeylens.specs.maps import MapDraftSpec

    draft = draft_map(side.store, MapDraftSpec(filter={"journey_type": "purchase"}, min_share=0.05))
    result = {k: v for k, v in draft.to_dict().items() if k != "yaml"}  # text made from the rest
    return result | {"map": draft.map.model_dump(mode="json")}


PURCHASE_STEPS = ["product_page", "add_to_cart", "checkout", "payment", "order_confirmation"]


@case("funnel_ordered_customer")
def funnel_ordered(side: Side) -> Any:
    return funnel(side.store, FunnelSpec(steps=PURCHASE_STEPS, window="7d")).to_dict()


@case("funnel_strict_journey")
def funnel_strict(side: Side) -> Any:
    spec = FunnelSpec(
        steps=["product_page", "add_to_cart", "checkout"], order="strict", unit="journey", window="1d"
    )
    return funnel(side.store, spec).to_dict()


@case("funnel_any_order_journey")
def funnel_any(side: Side) -> Any:
    spec = FunnelSpec(
        steps=["search", "product_reviews", "add_to_cart"], order="any", unit="journey", window="2d"
    )
    return funnel(side.store, spec).to_dict()


@case("funnel_optional_step_alternatives_exclusion")
def funnel_optional_exclusion(side: Side) -> Any:
    spec = FunnelSpec(
        steps=["product_page", "?add_to_cart", "checkout", "order_confirmation|order_confirmation_email"],
        exclusions=["payment_error"],
        window="14d",
    )
    return funnel(side.store, spec).to_dict()


@case("funnel_by_segment")
def funnel_by_segment(side: Side) -> Any:
    spec = FunnelSpec(steps=["product_page", "checkout", "order_confirmation"], window="14d", by="segment")
    return funnel(side.store, spec).to_dict()


@case("funnel_by_experiment_variant")
def funnel_by_variant(side: Side) -> Any:
    spec = FunnelSpec(
        steps=["checkout", "payment", "order_confirmation"],
        window="1d",
        by="variant",
        experiment="checkout_redesign",
    )
    return funnel(side.store, spec).to_dict()


@case("funnel_by_channel_journeys_filtered")
def funnel_by_channel(side: Side) -> Any:
    spec = FunnelSpec(
        steps=["home", "product_page", "checkout"],
        unit="journey",
        window="3d",
        by="channel",
        filter=JourneyFilter(journey_type=["purchase"]),
    )
    return funnel(side.store, spec).to_dict()


def _undefined(result: Any) -> None:
    assert result["reason"] and result["closest_touchpoints"], result["reason"]
    assert [r["units"] for r in result["steps"]] == [0, 0]


@case("funnel_undefined_first_step_says_why", expect=_undefined)
def funnel_undefined(side: Side) -> Any:
    # Support journeys never reach the order confirmation: the result says why, with the
    # closest touchpoint names of the selection (distinct names, an aggregate on each engine).
    support = JourneyFilter(journey_type=["support"])
    spec = FunnelSpec(steps=["order_confirmation", "checkout"], filter=support)
    return funnel(side.store, spec).to_dict()


@case("rfm_segments")
def rfm(side: Side) -> Any:
    return rows(side.store.execute(rfm_segments(side.store)))


@case("compare_segments_builtin")
def segments_builtin(side: Side) -> Any:
    return compare_segments(side.store, SegmentComparisonSpec()).to_dict()


@case("compare_segments_purchase_metrics", expect=lambda r: _has_metrics(r, ["frequency", "recency_days"]))
def segments_purchase_metrics(side: Side) -> Any:
    # Per-customer metrics: each customer of a segment once, joined with the RFM table.
    spec = SegmentComparisonSpec(metrics=["purchases", "value", "recency_days", "frequency"])
    return compare_segments(side.store, spec).to_dict()


def _has_metrics(result: Any, names: list[str]) -> None:
    for name in names:
        assert any(r["metric"] == name and r["n"] for r in result["rows"]), name


def _no_purchase(result: Any) -> None:
    assert result["purchases"] is None and result["reason"].startswith("no purchase in the data")
    (group,) = result["groups"]
    assert group["segment"] is None and group["journeys"] > 0 and group["members"] > 0
    assert [r["value"] for r in result["rows"]] == [None]


@case("compare_segments_without_purchases", expect=_no_purchase)
def segments_without_purchases(side: Side) -> Any:
    # Type other has journeys but no success criteria, so none is a purchase: the built-in segments
    # are not defined (the counts that decide, and the unsegmented group's size, run on each engine).
    rules = RfmRules(purchases="journeys", purchase_types=["other"])
    spec = SegmentComparisonSpec(cohort=BuiltinCohort(rules=rules), metrics=["success"])
    return compare_segments(side.store, spec, rules=side.config.journeys).to_dict()


@case("compare_segments_behaviour_chat")
def segments_did_chat(side: Side) -> Any:
    spec = SegmentComparisonSpec(cohort=parse_cohort("did:channel=chat:60d"), baseline="pairs")
    return compare_segments(side.store, spec).to_dict()


@case("compare_segments_trait_cohort")
def segments_trait(side: Side) -> Any:
    spec = SegmentComparisonSpec(cohort=parse_cohort("trait:segment"), baseline="first")
    return compare_segments(side.store, spec).to_dict()


@case("compare_periods_months")
def periods(side: Side) -> Any:
    return compare_periods(
        side.store,
        ["success", "leakage", "duration_s", "cost_to_serve"],
        "2026-01-01:2026-02-01",
        "2026-03-01:2026-04-01",
    ).to_dict()


def _stage_series_expect(result: dict[str, Any]) -> None:
    stages = result["day"]["stages"]
    _has({r["rank"] for r in stages} == {0, 1, 2, 3}, "every stage of the purchase map is reached")
    _has(any(r["within_target"] for r in stages), "some journeys are within a time target")
    _has(any(r["missing_required"] for r in result["day"]["journeys"]), "some journeys miss a stage")
    _has(bool(result["day"]["feedback"]), "feedback is linked to the map's journeys")
    _has(len(result["week"]["journeys"]) < len(result["day"]["journeys"]), "weeks group days")


@case("map_stage_series", expect=_stage_series_expect)
def map_stage_series(side: Side) -> Any:
    """The living map's per-period aggregates (stage rank per event, time in stage by ``lead``
    over stage ranks, required stages missed, linked feedback), cut in local days and weeks."""
    from journeylens.maps.model import JourneyMap, MonitorPeriod
    from journeylens.maps.stage_series import stage_aggregates

    journey_map = JourneyMap.model_validate(
        {
            "journey_type": "purchase",
            "goal": "buy",
            "stages": [
                {"name": "discover", "touchpoints": ["home", "product_page", "product_reviews"]},
                {"name": "cart", "touchpoints": ["add_to_cart"]},
                {"name": "checkout", "touchpoints": ["checkout", "payment_error"],
                 "time_target": {"duration": "3m"}},
                {"name": "pay", "touchpoints": ["payment", "order_confirmation"], "required": False},
            ],
        }
    )  # fmt: skip
    out = {}
    for period in MonitorPeriod:
        agg = stage_aggregates(side.store, journey_map, period)
        out[period.value] = {
            "stages": rows(agg.stages),
            "journeys": rows(agg.journeys),
            "feedback": rows(agg.feedback),
            "last_day": agg.last_day,
        }
    return out


# --- journey maps ---------------------------------------------------------------------------------


def _map_show_expect(result: dict[str, Any]) -> None:
    stages = result["stages"]
    assert all(s["journeys"] > 0 for s in stages[:4]), [s["journeys"] for s in stages]
    assert any(s["median_s"] for s in stages) and any(s["target_met"] is not None for s in stages)
    assert result["flows"] and result["touchpoints"] and result["totals"]["events_outside_stages"] > 0


@case("map_show_purchase_stages", expect=_map_show_expect)
def map_show_purchase(side: Side) -> Any:
    # The demo's designed purchase map: stage of every event, journeys and events per stage, channel
    # mix, success, time in stage (exact median/p80/target percentile, share within target), flows
    # between stages (a window ordered by first entry, then stage) and the touchpoints outside.
    journey_map = parse_map(DEMO_MAPS["purchase"], Path("purchase.yaml"))
    return show_map(side.store, journey_map).to_dict()


# --- journey maps -----------------------------------------------------------------------------------

PURCHASE_MAP = JourneyMap.model_validate(
    {
        "journey_type": "purchase",
        "name": "purchase",
        "goal": "Buy without help",
        "stages": [
            {"name": "discover",
             "touchpoints": ["home", "search", "category_page", "product_page", "product_reviews"],
             "time_target": {"duration": "30m"}, "kpis": [{"metric": "conversion", "min": 0.3},
                                                            {"metric": "contacts", "max": 0.5}]},
            {"name": "cart", "touchpoints": ["add_to_cart"], "required": False},
            {"name": "pay", "touchpoints": ["checkout", "payment", "payment_error"],
             "time_target": {"duration": "10m", "percentile": "p90"}},
            {"name": "confirm", "touchpoints": ["order_confirmation", "order_confirmation_email"],
             "kpis": [{"metric": "nps", "min": 30}, {"metric": "resolution", "min": 0.9}]},
        ],
        "unplanned": [{"name": "call about payment", "touchpoints": ["payment_call", "payment_chat"]}],
        "rules": [
            {"rule": "response", "first": "add_to_cart", "then": "order_confirmation", "within": "2h"},
            {"rule": "precedence", "first": "product_page", "then": "add_to_cart"},
            {"rule": "chain_response", "first": "checkout", "then": "payment"},
            {"rule": "existence", "activity": "discover"},
            {"rule": "absence", "activity": "payment_error"},
        ],
        "costs": {"assisted_contact": 6.5, "hour_of_delay": 1.0},
    }
)  # fmt: skip


def _map_check_expect(result: dict[str, Any]) -> None:
    (group,) = result["groups"]
    _has(0 < group["conforming"] < group["journeys"], f"conforming and deviating journeys: {group}")
    kinds = {r["kind"] for r in result["deviations"]}
    _has(len(kinds) >= 3, f"several deviation kinds: {kinds}")
    _has(any(r["journeys"] for r in result["rules"]), "some rule is broken")
    _has(any(t["p50"] is not None and t["target"] for t in result["timing"]), "timing against targets")
    _has(bool(result["verdicts"]) and bool(result["patterns"]), "verdicts and patterns")
    staged = {r["stage"] for r in result["stage_costs"] if r["stage"] is not None and r["diff"] is not None}
    _has(len(staged) >= 2, f"per-stage deviation costs against conforming journeys: {staged}")
    nps = [k for k in result["kpis"] if k["metric"] == "nps"]
    _has(bool(nps) and nps[0]["n"] > 0, f"NPS answers on the confirmation: {nps}")


@case("map_check_verdicts_and_timing", expect=_map_check_expect)
def map_check_case(side: Side) -> Any:
    """Every journey's verdict and deviations, shares by kind, stage and rule, costs (whole-map and
    per stage), patterns and the timing table (order statistics picked by rank in the engine) of a
    purchase map."""
    result = check_map(side.store, PURCHASE_MAP, rules=side.config.journeys)
    return {**result.to_dict(), "verdicts": rows(result.table), "deviation_list": rows(result.deviation_list)}


@case("map_check_two_periods")
def map_check_periods(side: Side) -> Any:
    periods = ["2026-01-01:2026-02-15", "2026-02-15:2026-04-01"]
    spec = MapCheckSpec(map="purchase", compare_periods=periods)
    result = check_map(side.store, PURCHASE_MAP, spec, rules=side.config.journeys)
    return {"groups": result.groups, "comparison": result.comparison, "timing": result.timing}


def _sentiment_expect(result: dict[str, Any]) -> None:
    _has(result["lexicon"]["model"] == "lexicon" and len(result["lexicon"]["rows"]) > 0, "lexicon scored")
    _has(result["learned"]["model"] == "learned", f"a model was learned: {result['learned']['note']}")
    _has({r["label"] for r in result["learned"]["rows"]} >= {"negative", "positive"}, "both labels")


@case("feedback_sentiment_lexicon_and_learned", expect=_sentiment_expect)
def feedback_sentiment(side: Side) -> Any:
    """Weak labels in the engine, the training sample (ordered by MD5 of feedback_id), and every
    comment's scores joined back: with the lexicon, then with a model learned on this world."""
    from journeylens.voc.scoring import SENTIMENT, labelled_comments, write_sentiment
    from journeylens.voc.settings import SentimentSettings

    negative = side.config.journeys.feedback.negative
    lenient = {"nps": 8.0, "csat": 3.0, "ces": 5.0, "rating": 8.0}  # more negatives in a small world
    out: dict[str, Any] = {}
    for mode, settings, bad in (
        ("lexicon", SentimentSettings(mode="lexicon"), negative),
        ("learned", SentimentSettings(mode="learned", min_labelled=20, min_per_class=5, folds=2), lenient),
    ):
        built = write_sentiment(side.store, settings, bad, retrain=True)
        out[mode] = {
            "model": built.model,
            "note": built.note,
            "counts": [built.comments, built.labelled, built.negative],
            "metrics": {k: v for k, v in built.metrics.items() if k != "cv_auc_folds"},
            "rows": table(side, SENTIMENT),
        }
    tagged = SentimentSettings(label_property="variation", negative_labels=["black dot"])
    out["labels"] = rows(
        side.store.execute(labelled_comments(side.store.table("feedback"), negative, tagged))
    )
    return out


def _emotion_expect(result: dict[str, Any]) -> None:
    _has(len(result["touchpoints"]["rows"]) > 3, "points on touchpoints")
    _has(any(r["emotion"] is not None for r in result["stages"]["rows"]), "a stage with an emotion")
    _has(all(m["journeys"] > 0 for m in result["touchpoints"]["moments"]), "peak and end per type")


@case("feedback_emotion_curve", expect=_emotion_expect)
def feedback_emotion(side: Side) -> Any:
    """Answers on the -2..2 scale at their steps (score or sentiment), points by touchpoint in
    journey order and by the demo purchase map's stages (stage rank of the step's event), per
    segment, and the peak and end moments (row_number over |emotion| and step)."""
    from journeylens.specs.feedback import EmotionSpec
    from journeylens.voc.emotion_curve import curve

    by_touchpoint = curve(side.store, EmotionSpec(min_answers=3))
    by_stage = curve(side.store, EmotionSpec(min_answers=3, by_segment=True), PURCHASE_MAP)
    return {"touchpoints": by_touchpoint.to_dict(), "stages": by_stage.to_dict()}


def _agents_expect(result: dict[str, Any]) -> None:
    _has(len(result["contacts"]) > 0 and len(result["rows"]) > 0, "journeys with an agent contact exist")
    _has(any(r["oe"] is not None for r in result["rows"]), "some agent has an adjusted rate")
    _has(result["engagement"].get("slope") is not None, f"an engagement slope: {result['engagement']}")
    _has(len(result["engagement"]["cells"]) >= 10, "team-months with engagement answers and contacts")
    _has(result["training"].get("effect") is not None, f"a training effect: {result['training']}")
    _has(result["unknown_agent_employee_feedback"] > 0, "employee rows of an agent missing from agents")


@case("agents_raw_and_case_mix", expect=_agents_expect)
def agents_raw_and_case_mix(side: Side) -> Any:
    """Each journey's first agent, case-mix cell and outcomes (next contact, next journey); per agent
    the raw rates, observed / expected by indirect standardisation (window means over the cell),
    handled contacts, scores, unknown agents; the per agent x cell counts the mixed model reads; the
    engagement link (team-month O/E joined to monthly engagement answers in the workspace zone) and
    the training link (first training per agent, the median split of the untrained, O/E by trained
    and after)."""
    from journeylens.specs.agents import AgentsSpec
    from journeylens.workforce import casemix
    from journeylens.workforce.agents import agents
    from journeylens.workforce.contacts import first_contacts

    spec = AgentsSpec(min_contacts=1, no_shrinkage=True)
    result = agents(side.store, spec).to_dict()
    contacts = first_contacts(side.store, spec)
    cells = casemix.cell_counts(contacts, "fcr", spec.case_mix, ["agent_id", "team"])
    return {
        **result,
        # By unit: the canonical JSON order would let last-digit float differences (within the
        # tolerance) swap two agents with near-equal adjusted rates.
        "rows": sorted(result["rows"], key=lambda r: str(r["unit"])),
        "contacts": rows(side.store.execute(contacts)),
        "cells": rows(side.store.execute(cells)),
    }


def _drivers_expect(result: dict[str, Any]) -> None:
    families = {f["family"] for f in result["success"]["features"]}
    _has({"touchpoints", "channels", "stages", "steps"} <= families, f"feature families {families}")
    _has(len(set(result["success"]["segments"])) >= 2, "patterns per segment")
    _has(len(result["csat"]["y"]) > 0 and result["drivers"]["rows"], "score patterns and drivers")


@case("drivers_feature_patterns", expect=_drivers_expect)
def drivers_feature_patterns(side: Side) -> Any:
    """Key drivers' feature matrix: analysed journeys (final outcomes; mean linked CSAT), the events
    experienced before the outcome (``min`` window over the deciding step), the supports of
    touchpoints, channels and stages of the demo purchase map (a union), per-journey indicators,
    step and duration bands, and the distinct patterns with counts per segment; then the drivers."""
    from journeylens.decisions.drivers import feature_patterns, key_drivers
    from journeylens.specs.drivers import DriversSpec

    journey_map = parse_map(DEMO_MAPS["purchase"], Path("purchase.yaml"))
    spec = DriversSpec(top=6, min_support=5, by_segment=True, bootstrap=20)

    def matrix(p: Any) -> dict[str, Any]:
        return {
            "features": [vars(f) for f in p.features], "dropped": p.dropped, "journeys": p.journeys,
            "x": p.x.tolist(), "y": p.y.tolist(), "counts": p.counts.tolist(), "segments": p.segments,
        }  # fmt: skip

    return {
        "success": matrix(feature_patterns(side.store, spec, journey_map)),
        "csat": matrix(feature_patterns(side.store, DriversSpec(target="csat", top=6, min_support=5))),
        "drivers": key_drivers(side.store, spec, journey_map).to_dict(),
    }


def _themes_expect(result: dict[str, Any]) -> None:
    sources = {r["source"] for r in result["table"]}
    _has(sources == {"taxonomy", "classifier"}, f"both sources wrote themes: {sources}")
    _has(any(r["comments"] and r["share_lo"] is not None for r in result["rows"]), "shares with intervals")
    _has(len(result["trend"]) > 0, "a trend per period")
    _has(result["labels"] and result["matches"], "reason labels and keyword matches in the engine")
    _has(len(result["uncovered_negative"]) > 0, "negative comments no theme covers")


@case("feedback_themes_taxonomy_classifier_discovery", expect=_themes_expect)
def feedback_themes_case(side: Side) -> Any:
    """Keyword and pattern matching in the engine (whole-word regular expressions), labels from the
    linked journeys' contact reasons, the classifier's training sample (MD5 order) and its themes
    joined back by MD5 key, the per-theme and per-month aggregates, and the NMF sample of uncovered
    negative comments."""
    from journeylens.specs.feedback import FeedbackThemesSpec
    from journeylens.voc.scoring import write_sentiment
    from journeylens.voc.settings import SentimentSettings, ThemeSettings
    from journeylens.voc.taxonomy import STARTER, parse_taxonomy
    from journeylens.voc.theme_discovery import uncovered_negative
    from journeylens.voc.theme_summary import _period_comments, summarise_themes
    from journeylens.voc.themes import said, taxonomy_matches, theme_labels

    taxonomy = parse_taxonomy(
        STARTER.replace(
            "    reasons: [billing]\n", "    reasons: [billing]\n    patterns: {en: ['charged \\w+']}\n"
        ),
        Path("themes.yaml"),
    )
    settings = ThemeSettings(min_labelled=20, min_per_class=5, folds=2, min_probability=0.5)
    config = side.config.model_copy(deep=True)
    config.voc.themes = settings
    config.journeys.feedback.negative = {"nps": 8.0, "csat": 3.0, "ces": 5.0, "rating": 8.0}  # more negatives
    write_sentiment(side.store, SentimentSettings(mode="lexicon"), config.journeys.feedback.negative)
    # Two themes keep their keywords; the others keep their reasons but no word of this world, so
    # the classifier has comments to classify and discovery has comments no theme covers.
    thin = taxonomy.model_copy(
        update={
            "themes": taxonomy.themes[:2]
            + [
                t.model_copy(update={"keywords": {"en": ["qqq"]}, "patterns": {}})
                for t in taxonomy.themes[2:]
            ]
        }
    )
    result = summarise_themes(side.store, config, thin, FeedbackThemesSpec(discover=True, candidates=3))
    comments = said(side.store.table("feedback"))
    labels = theme_labels(side.store, comments, taxonomy, settings)
    period = _period_comments(side.store, config, FeedbackThemesSpec())
    uncovered = side.store.execute(uncovered_negative(side.store, period))
    return {
        **{k: v for k, v in result.to_dict().items() if k != "build"},
        "build": {k: v for k, v in result.build.items() if k != "classifier"},
        "table": table(side, "feedback_themes"),
        "uncovered_negative": rows(uncovered),
        "matches": rows(side.store.execute(taxonomy_matches(comments, taxonomy))),
        "labels": rows(
            side.store.execute(
                labels.select("feedback_id", "_theme_label").filter(labels._theme_label.notnull())
            )
        ),
    }


def _attribution_expect(result: dict[str, Any]) -> None:
    paths = result["paths"]
    _has(len(paths) > 5 and any(len(r["steps"]) > 2 for r in paths), "several multi-step channel paths")
    _has(sum(r["conversions"] for r in paths) > 0 and sum(r["nulls"] for r in paths) > 0, "both outcomes")
    _has(any(r["step"] == "sms" for r in result["time_decay"]), "time-decayed credit per channel")


@case("attribution_paths_and_time_decay", expect=_attribution_expect)
def attribution_paths_case(side: Side) -> Any:
    """Each journey's channel path in step order (ordered collect, or sorted (step, channel) pairs
    on Spark), counted per path with conversions, value, nulls and undecided journeys; the
    time-decay shares (window max and sum per journey) per channel; and the whole result."""
    from journeylens.decisions.attribution import journey_attribution
    from journeylens.decisions.attribution_journeys import paths_expression, time_decay_expression
    from journeylens.specs.attribution import AttributionSpec

    spec = AttributionSpec(half_life="1d")
    found = side.store.execute(paths_expression(side.store, spec)).to_pylist()
    return {
        "paths": sorted(found, key=lambda r: r["steps"]),
        "time_decay": rows(side.store.execute(time_decay_expression(side.store, spec))),
        "result": journey_attribution(side.store, spec.model_copy(update={"order": 2})).to_dict(),
    }


def _backlog_expect(result: dict[str, Any]) -> None:
    reach = result["reach"]
    _has(result["days"] > 1 and len(reach) > 5, "touchpoints reached over several days")
    _has(any("[" in r["label"] for r in reach), "a variant label (message template)")
    _has(any(r["journey_value"] for r in reach), "journeys with value")
    _has(len(result["backlog"]["rows"]) > 0, "backlog items")
    _has(any(r["success_value"] for r in result["units"]), "successful journeys with value")


@case("backlog_touchpoint_reach", expect=_backlog_expect)
def backlog_reach_case(side: Side) -> Any:
    """The backlog's reach per touchpoint label (plain and variant labels: distinct journeys and
    customers, mean journey value, the customers' mean total value), the data's span, and the
    backlog of the contacts source at the example costs; the causes source's money per outcome
    journey per type."""
    from journeylens.decisions.backlog import build_backlog
    from journeylens.decisions.backlog_plan import Plan
    from journeylens.decisions.backlog_reach import touchpoint_reach
    from journeylens.decisions.backlog_sources import SourceContext
    from journeylens.decisions.causes_backlog import unit_values_expr
    from journeylens.journeys.definitions import EXAMPLE_COSTS
    from journeylens.specs.backlog import BacklogSpec

    rules = side.config.journeys.model_copy(update={"costs": dict(EXAMPLE_COSTS)})
    reach = touchpoint_reach(side.store, rules, side.config.voc.contacts)
    context = SourceContext(side.store, rules, side.config.voc.contacts)
    result = build_backlog(context, BacklogSpec(sources="contacts", limit=20), Plan(None, {}, {}))
    return {
        "days": reach.days,
        "reach": sorted(({"label": k, **v} for k, v in reach.rows.items()), key=lambda r: r["label"]),
        "backlog": result.to_dict(),
        "units": rows(side.store.execute(unit_values_expr(side.store.backend.table("journeys")))),
    }


def _experiment_expect(result: dict[str, Any]) -> None:
    variants = {r["variant"] for r in result["sums"]}
    _has({"control", "treatment"} <= variants, f"both variants have units ({variants})")
    _has(all(r["n"] > 0 for r in result["sums"]), "units per variant")
    _has(any(r["success_rate__d_sum"] > 0 for r in result["sums"]), "journeys after exposure")


@case("experiment_units_and_variant_sums", expect=_experiment_expect)
def experiment_units_case(side: Side) -> Any:
    """checkout_redesign: units (assignments stitched to customers, first exposure, variants per
    unit), per-variant sufficient statistics of every metric after exposure with the pre-exposure
    covariate and cross-products, per entry channel, the exclusions, the journeys after exposure
    per variant (the per-variant process maps read them), and the tested result."""
    from journeylens.experiments.experiment import experiment
    from journeylens.experiments.journeys_view import exposed_journeys
    from journeylens.experiments.units import METRICS, assigned_units, exclusions, unit_values, variant_sums
    from journeylens.specs.experiment import ExperimentSpec

    metrics = list(METRICS.values())
    units = assigned_units(side.store, "checkout_redesign")
    values = unit_values(side.store, units, metrics, JourneyFilter(), 30, "entry_channel")
    spec = ExperimentSpec(name="checkout_redesign", metric=list(METRICS), by="segment")
    return {
        "units": rows(side.store.execute(units)),
        "sums": rows(side.store.execute(variant_sums(values, metrics))),
        "excluded": rows(side.store.execute(exclusions(units))),
        "exposed_journeys": rows(side.store.execute(exposed_journeys(side.store, "checkout_redesign"))),
        "result": experiment(side.store, spec).to_dict(),
    }


def _journey_view_expect(result: dict[str, Any]) -> None:
    _has(any(r.get("p_value") is not None for r in result["funnel"]["steps"]), "a tested funnel step")
    _has(bool(result["maps"]["transitions"]), "map transitions per variant")


@case("experiment_journey_view_funnel_and_maps", expect=_journey_view_expect)
def experiment_journey_view_case(side: Side) -> Any:
    """checkout_redesign per variant: the funnel of customers' journeys after exposure (semi-join
    on the exposed journeys) and the per-variant process maps' transition shares with tests."""
    from journeylens.experiments.experiment import experiment
    from journeylens.specs.experiment import ExperimentSpec

    spec = ExperimentSpec(
        name="checkout_redesign", metric="converted", funnel="checkout,payment,order_confirmation", maps=True
    )
    ctx = experiment(side.store, spec).to_dict()
    return {"funnel": ctx["funnel"], "maps": ctx["maps"]}


# --- causes (journeylens causes) -------------------------------------------------------------
def _causes_tables(side: Side) -> tuple[Any, Any, Any]:
    """The abandoned outcome over purchase journeys, its feature tables (every family the world
    has, device and carrier properties, the plan trait) and the spec."""
    from journeylens.decisions.causes_features import cut_events, families
    from journeylens.decisions.causes_outcomes import CUTS, outcome_table
    from journeylens.discovery.selection import select_journeys
    from journeylens.specs.causes import CausesSpec

    spec = CausesSpec(outcome="abandoned", properties=["device", "carrier"], traits=["plan"], min_support=5,
                      max_values=4, max_pair_features=8, filter={"journey_type": ["purchase"]})  # fmt: skip
    journeys = select_journeys(side.store, spec.filter)
    outcome = outcome_table(side.store, journeys, spec.outcome, side.config.journeys)
    events = cut_events(side.store, outcome, CUTS[spec.outcome], side.config.journeys)
    return ibis.union(*families(side.store, spec, outcome, journeys, events).values()), outcome, spec


def _causes_counts_expect(result: dict[str, Any]) -> None:
    found = {r["family"] for r in result["counts"]}
    _has(
        {"touchpoint", "channel", "switch", "entry", "segment", "event", "trait"} <= found,
        f"families {found}",
    )
    _has(any(r["values"] > 4 and r["family"] == "event" for r in result["counts"]), "a key over the cap")
    _has(result["totals"][0]["k"] > 0, "abandoned purchase journeys")


@case("causes_family_counts", expect=_causes_counts_expect)
def causes_family_counts(side: Side) -> Any:
    """Every feature family (a union of one expression per family) in one aggregation: journeys
    with each feature and the outcome among them, over the events before the deciding event and
    the customer's last inbound one (window min/max over the journey), with the cardinality cap of
    properties and traits (window count and row_number over the key)."""
    from journeylens.decisions import causes_features as counts

    features, outcome, spec = _causes_tables(side)
    found = side.store.execute(counts.feature_counts(features, outcome, spec.max_values))
    return {"counts": rows(found), "totals": rows(side.store.execute(counts.totals(outcome)))}


def _causes_strata_expect(result: dict[str, Any]) -> None:
    _has(len(result["patterns"]) > 2, "presence patterns")
    verdicts = {r["verdict"].split(" of ")[0] for r in result["causes"]["rows"]}
    _has({"kept", "proxy"} <= verdicts, f"kept features and proxies: {verdicts}")


@case("causes_stratified_counts", expect=_causes_strata_expect)
def causes_stratified_counts(side: Side) -> Any:
    """The presence patterns (bit masks summed per journey, then journeys and outcome journeys per
    mask) that give the pair counts, the 2x2x2 tables of the stratified checks and the joint model's
    data; the smallest example ids per feature (row_number by id); the whole search on top."""
    from journeylens.decisions import causes_features as counts
    from journeylens.decisions.causes import result
    from journeylens.decisions.causes_search import Settings, search

    features, outcome, spec = _causes_tables(side)
    top = side.store.execute(counts.feature_counts(features, outcome, 99)).to_pylist()
    top = [r for r in top if r["family"] == "touchpoint"]
    labels = [r["label"] for r in sorted(top, key=lambda r: (-r["n"], r["label"]))[:6]]
    found = search(features, outcome, side.store.execute, Settings(5, 4, 8, 0.05, 3))
    return {
        "patterns": rows(side.store.execute(counts.patterns(features, outcome, labels))),
        "examples": rows(side.store.execute(counts.examples(features, outcome, labels, 2))),
        "causes": result(found, spec).to_dict(),
    }


def _nba_expect(result: dict[str, Any]) -> None:
    _has(len(result["cells"]) >= 8 and len(result["transitions"]) > 10, "decision cells and transitions")
    _has(any(r["source"] == "transitions" for r in result["result"]["states"]), "transition evidence")
    _has(result["result"]["offline"]["candidate"]["dr"] is not None, "an offline DR estimate")


@case("nba_decisions_transitions_and_scoring", expect=_nba_expect)
def nba_case(side: Side) -> Any:
    """Next best action: the (state, action) sums of the logged decisions (IPS/SNIPS/DR inputs), the
    state -> next touchpoint counts of closed journeys (``lead`` per journey, distinct pairs, a
    union with the per-state totals), open journeys' states with segments, and the scoring join
    of open journeys to the ranked actions (the T-learner's sklearn output left out)."""
    from journeylens.nba import transitions
    from journeylens.nba.catalogue import NbaSettings
    from journeylens.nba.evaluation import decision_cells
    from journeylens.nba.recommend import recommend
    from journeylens.specs.nba import NbaSpec

    settings = NbaSettings.model_validate(
        {"actions": [{"name": "offer_chat", "touchpoint": "delivery_chat"},
                     {"name": "sms_tracking_link", "touchpoint": "delivery_update"}]}
    )  # fmt: skip
    result = recommend(side.store, settings, NbaSpec(top=2)).to_dict()
    return {
        "cells": rows(side.store.execute(decision_cells(side.store.table("decisions")))),
        "transitions": rows(side.store.execute(transitions.transition_counts(side.store))),
        "open": rows(side.store.execute(transitions.open_states(side.store))),
        "segments": rows(side.store.execute(transitions.decision_segments(side.store))),
        "result": {
            **result,
            "rows": rows(result["rows"], drop=["model_uplift", "model_uplift_lo", "model_uplift_hi"]),
        },
    }


def _forget_expect(result: dict[str, Any]) -> None:
    ann = result["ann"]
    _has(sum(r["kind"] == "email" for r in ann["ids"]) == 3, "ann's three e-mails stitched to her")
    _has({"kind": "anonymous_id", "value": "tablet"} not in result["carl"]["ids"], "the shared tablet")
    _has(result["jx"]["would_remove"].get("journeys", 0) >= 1, "jx's journeys")
    _has(result["jx"]["deleted"] > 0 and ann["suppressed_events"] > 0, "rows deleted and suppressed")


def _forget_one(side: Side, person: str) -> dict[str, Any]:
    from journeylens.ingest.pii import hash_identifier
    from journeylens.privacy.erase import erase
    from journeylens.privacy.subject import IDS, find_subject
    from journeylens.privacy.suppression import suppressed
    from journeylens.store._delete import delete_where
    from journeylens.store._working import drop_scratch, scratch_table

    salt, cc = side.config.privacy.salt, side.config.privacy.default_country_code
    backend, copy = side.store.backend, "_jl_parity_forget_events"
    ids = find_subject(side.store, person)
    found: dict[str, Any] = {"ids": rows(side.store.execute(ids))}
    found["would_remove"] = erase(side.store, ids, salt, cc, dry_run=True)
    events = side.store.table("events")
    flag = suppressed(events, ids.select(identifier_hash=hash_identifier(ids.value, salt)), salt, cc)
    found["suppressed_events"] = int(side.store.execute(events.filter(flag).count()).as_py())
    scratch_table(backend, copy, events, large=True)
    found["deleted"] = delete_where(backend, copy, lambda t: t.user_id.isin(ids.value))
    found["left"] = int(side.store.execute(backend.table(copy).count()).as_py())
    drop_scratch(backend, copy, IDS)
    return found


@case("privacy_forget_subject_and_erasure", expect=_forget_expect)
def privacy_forget_case(side: Side) -> Any:
    """Forgetting a person without forgetting them (the world is shared): the identifiers found
    through customer_map and the raw links, the rows every table would lose (mentions in comments
    and quarantine included), the ingest suppression flag on stored events, and the DELETE path
    (DuckDB in place, Spark by rewrite) on a copy of the events."""
    return {person: _forget_one(side, person) for person in ("ann", "carl", "jx")}


# The incremental build (issue 18): a fresh small store per engine, a full build, then batches of
# a late event, a login that merges two customers, a new event of an old case and feedback.
_INC = [("web", "billing_faq", None), ("call_center", "billing_call", "a1"), ("web", "home", None)]
_INC_BATCHES = [
    {"events": [{"hour": h, "user": u, "device": d, "case": k, "step": _INC[i % 3], "outbound": False,
                 "reason": "billing"} for i, (h, u, d, k) in enumerate(
        [(1, "u1", "d1", None), (3, "u1", None, "k1"), (30, "u2", "d2", None), (200, None, "d3", "k2")])],
     "answers": [{"hour": 5, "user": "u1", "case": "k1", "score": 1, "comment": "terrible"}], "links": []},
    {"events": [{"hour": 2, "user": "u2", "device": "d1", "case": None, "step": _INC[0], "outbound": False,
                 "reason": None}, {"hour": 240, "user": None, "device": "d3", "case": "k1", "step": _INC[1],
                 "outbound": False, "reason": None}],
     "answers": [{"hour": 250, "user": "u2", "case": None, "score": 5, "comment": None}],
     "links": [("e1", "u2"), ("e1", "u3")]},
    # A month later u5 is new, and u2 is back about billing after five weeks: u2 is recomputed
    # from that break (earlier journeys kept), and the open journeys of the others are re-decided
    # in place.
    {"events": [{"hour": 960, "user": "u5", "device": None, "case": None, "step": _INC[0], "outbound": False,
                 "reason": None}, {"hour": 1000, "user": "u2", "device": None, "case": None, "step": _INC[0],
                 "outbound": False, "reason": "billing"}], "answers": [], "links": []},
]  # fmt: skip


def _incremental_expect(result: dict[str, Any]) -> None:
    _has(result["modes"] == ["full"] + ["incremental"] * 2, "later builds are incremental")
    _has(result["redecided"][2] > 0, "the last build re-decides open journeys without their events")
    _has(result["from_cut"][2] == 1, "the last build recomputes u2 from their last break")


@case("build_incremental", expect=_incremental_expect)
def build_incremental(side: Side) -> Any:
    """The incremental build's deletes and inserts (``store._rows``: DELETE on DuckDB, a rewrite
    through a working table on Spark), its affected-set closure, its customer_map diff, the
    incremental stitch (``identity.extend``), open journeys re-decided (``journeys.redecide``) and a
    customer recomputed from their last break (the cut's window and claims).

    On DuckDB the incremental tables must also equal a full build's; Spark's must equal DuckDB's
    (so a Spark full build of the same rows would prove nothing more here: the world's cases
    compare full builds)."""
    import tempfile

    from incremental_batches import append_batch, derived_tables
    from journeylens.model import build_model
    from parity.conftest import spark_store

    fresh = Store.connect("duckdb://", timezone="UTC")
    if side.engine == "pyspark":
        fresh = spark_store(Path(tempfile.mkdtemp(prefix="jl_parity_inc_")))
    built = []
    for ingest, batch in enumerate(_INC_BATCHES, start=1):
        append_batch(fresh, ingest, json.loads(json.dumps(batch)))
        built.append(build_model(fresh, side.config))
    incremental = derived_tables(fresh)
    if side.engine == "duckdb":
        build_model(fresh, side.config, full=True)
        _has(incremental == derived_tables(fresh), "the incremental build equals a full build")
    return {"modes": [b.mode for b in built], "redecided": [b.redecided_journeys for b in built],
            "from_cut": [b.from_cut for b in built], "incremental": incremental}  # fmt: skip


def _collector_expect(result: list[dict[str, Any]]) -> None:
    found = sorted((r["source"], r["message_id"], r["_pos"]) for r in result)
    _has(
        found == [("app", "m1", 4), ("web", "m2", 1), ("web", "m3", 3)], "unseen keys at their first position"
    )


@case("collector_unseen_messages", expect=_collector_expect)
def collector_unseen_case(side: Side) -> Any:
    """The collector loader's exactly-once filter: keys not yet in ``collector_seen`` (an anti-join
    on source and messageId), each at its first position in the log."""
    from journeylens.server.loader import unseen

    keys = pa.table(
        {
            "source": ["web"] * 4 + ["app"],
            "message_id": ["m1", "m2", "m2", "m3", "m1"],
            "_pos": [0, 1, 2, 3, 4],
        }
    )
    seen = pa.table({"source": ["web", "app"], "message_id": ["m1", "m9"]})
    return rows(side.store.execute(unseen(ibis.memtable(keys), ibis.memtable(seen))))
