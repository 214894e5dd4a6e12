"""The incremental build equals a full build, table by table, whatever the new batches hold.

Batches are appended straight into the raw tables (with an ``ingests`` row each, as an ingest
writes them) so that one hypothesis example takes about a second: a base batch, a full build, then
random batches, each followed by a build that must take the incremental path. The last state is
compared with a full build of the same data: every derived table, every column, sorted rows.
Batches mix late-arriving old events, logins that merge two customers (an event with both ids, an
``identities`` row sharing an e-mail), new events of old cases, and feedback.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from incremental_batches import append_batch, derived_tables
from journeylens.config import Config
from journeylens.journeys import incremental as incremental_build
from journeylens.model import BuildSummary, build_model, build_plan
from journeylens.store import Store
from journeylens.store._backend import deferred_checkpoints

TOUCHPOINTS = [
    ("web", "home", None),
    ("web", "product_page", None),
    ("web", "add_to_cart", None),
    ("web", "order_confirmation", None),
    ("web", "payment_error", None),
    ("web", "billing_faq", None),
    ("web", "faq", None),
    ("call_center", "ivr_menu", None),
    ("call_center", "billing_call", "a1"),
    ("call_center", "ticket_resolved", "a2"),
    ("email", "promo_newsletter", None),
    ("email", "delivery_update", None),
]
USERS = [None, "u1", "u2", "u3", "u4"]
DEVICES = [None, "d1", "d2", "d3", "d4", "d5"]
CASES = [None, None, None, "k1", "k2", "k3"]

event = st.fixed_dictionaries(
    {
        "hour": st.integers(0, 24 * 20),
        "user": st.sampled_from(USERS),
        "device": st.sampled_from(DEVICES),
        "case": st.sampled_from(CASES),
        "step": st.sampled_from(TOUCHPOINTS),
        "outbound": st.booleans(),
        "reason": st.sampled_from([None, "billing", "payment", "delivery"]),
    }
).filter(lambda e: e["user"] or e["device"] or e["case"])
answer = st.fixed_dictionaries(
    {
        "hour": st.integers(0, 24 * 20),
        "user": st.sampled_from(USERS),
        "case": st.sampled_from(CASES),
        "score": st.integers(1, 5),
        "comment": st.sampled_from([None, "terrible, nobody helped", "great service"]),
    }
)
link = st.tuples(st.sampled_from(["e1", "e2", "e3"]), st.sampled_from(USERS[1:]))
batch = st.fixed_dictionaries(
    {
        "events": st.lists(event, min_size=1, max_size=12),
        "answers": st.lists(answer, max_size=3),
        "links": st.lists(link, max_size=2),
    }
)


def _assert_equals_a_full_build(store: Store, config: Config) -> None:
    """Every derived table, every column, sorted rows: as a full build of the same data."""
    incremental = derived_tables(store)
    assert build_model(store, config, full=True).mode == "full"
    assert incremental == derived_tables(store)


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store.connect("duckdb://", timezone="UTC")
    yield s
    s.close()


@settings(max_examples=10, deadline=None)
@given(base=batch, appended=st.lists(batch, min_size=1, max_size=2))
def test_incremental_build_equals_a_full_build(base: dict[str, Any], appended: list[dict[str, Any]]) -> None:
    config = Config.new()
    store = Store.connect("duckdb://", timezone="UTC")
    try:
        append_batch(store, 1, base)
        assert build_model(store, config).mode == "full"
        for ingest, data in enumerate(appended, start=2):
            append_batch(store, ingest, data)
            summary = build_model(store, config)
            assert summary.mode == "incremental" or _was_a_process_log(summary), summary.reason
        _assert_equals_a_full_build(store, config)
    finally:
        store.close()


# A day's new data comes after the old (a customer back after weeks: from their last break, see
# journeys.incremental), mixed with late events of old days: mostly known users, new cases and
# no case, sometimes an old case.
later = st.fixed_dictionaries(
    {
        "hour": st.integers(24 * 18, 24 * 38),
        "user": st.sampled_from(USERS[1:]),
        "device": st.sampled_from([None, None, None, "d1"]),
        "case": st.sampled_from([None, None, None, "k4", "k5", "k1"]),
        # A break needs an intent of its own: billing FAQ, cart, FAQ more often than the rest.
        "step": st.sampled_from([*TOUCHPOINTS, *[TOUCHPOINTS[i] for i in (5, 2, 6)] * 3]),
        "outbound": st.booleans(),
        "reason": st.sampled_from([None, None, None, "billing", "payment", "delivery"]),
    }
)
later_batch = st.fixed_dictionaries(
    {
        "events": st.lists(st.one_of(later, later, event), min_size=1, max_size=12),
        "answers": st.lists(answer.map(lambda a: {**a, "hour": a["hour"] + 24 * 18}), max_size=2),
        "links": st.lists(link, max_size=1),
    }
)


@settings(max_examples=10, deadline=None)
@given(base=batch, appended=st.lists(later_batch, min_size=1, max_size=2))
def test_recomputing_from_the_last_break_equals_a_full_build(
    base: dict[str, Any], appended: list[dict[str, Any]]
) -> None:
    config = Config.new()
    store = Store.connect("duckdb://", timezone="UTC")
    try:
        append_batch(store, 1, base)
        build_model(store, config)
        for ingest, data in enumerate(appended, start=2):
            append_batch(store, ingest, data)
            summary = build_model(store, config)
            assert summary.mode == "incremental" or _was_a_process_log(summary), summary.reason
        _assert_equals_a_full_build(store, config)
    finally:
        store.close()


def _was_a_process_log(summary: BuildSummary) -> bool:
    """A build after one of a process log whose events all had a case is full (its build kept no
    breaks: test_a_process_log_that_gains_events_without_a_case_is_built_in_full)."""
    return summary.mode == "full" and "split a process log" in summary.reason


def _at(hour: int, user: str, step: int, case: str | None = None) -> dict[str, Any]:
    return {"hour": hour, "user": user, "device": None, "case": case, "step": TOUCHPOINTS[step],
            "outbound": False, "reason": "billing"}  # fmt: skip


def test_a_customer_back_after_a_quiet_week_keeps_the_journeys_before(store: Store) -> None:
    config = Config.new()
    # u1 reads the billing FAQ and calls about ticket k1 on day 0, and browses on day 3; u2 calls.
    first = [_at(1, "u1", 5), _at(2, "u1", 8, "k1"), _at(72, "u1", 0), _at(5, "u2", 8)]
    append_batch(store, 1, {"events": first, "answers": [], "links": []})
    build_model(store, config)
    kept = {r["journey_id"]: r for r in store.execute(store.backend.table("journeys")).to_pylist()}
    # Eleven days later u1 is back about billing (an intent of its own after more than 7 days).
    append_batch(store, 2, {"events": [_at(24 * 11, "u1", 5), _at(24 * 11 + 1, "u1", 8)],
                            "answers": [], "links": []})  # fmt: skip
    summary = build_model(store, config)
    assert (summary.recomputed_customers, summary.from_cut) == (1, 1)
    after = {r["journey_id"]: r for r in store.execute(store.backend.table("journeys")).to_pylist()}
    assert len(after) == len(kept) + 1
    _assert_equals_a_full_build(store, config)
    # A new event of k1, u1's ticket from before the break: u1 is recomputed whole.
    append_batch(store, 3, {"events": [_at(24 * 12, "u1", 9, "k1")], "answers": [], "links": []})
    summary = build_model(store, config)
    assert (summary.mode, summary.recomputed_customers, summary.from_cut) == ("incremental", 1, 0)
    _assert_equals_a_full_build(store, config)


def test_a_ticket_open_across_a_break_recomputes_the_customer_whole(store: Store) -> None:
    config = Config.new()
    # u1 opens ticket k1 on day 0; back after nine days of quiet (a break) and the same ticket
    # goes on: k1 spans the break.
    history = [_at(1, "u1", 5, "k1"), _at(24 * 9, "u1", 5), _at(24 * 9 + 1, "u1", 8, "k1")]
    append_batch(store, 1, {"events": history, "answers": [], "links": []})
    build_model(store, config)
    # New data names only u1, not k1.
    append_batch(store, 2, {"events": [_at(24 * 9 + 2, "u1", 0)], "answers": [], "links": []})
    summary = build_model(store, config)
    assert (summary.recomputed_customers, summary.from_cut) == (1, 0)
    _assert_equals_a_full_build(store, config)


def test_a_new_device_of_a_known_customer_moves_no_identifier(store: Store) -> None:
    config = Config.new()
    laptop = [{**_at(1, "u1", 5), "device": "d1"}, _at(2, "u1", 8)]
    append_batch(store, 1, {"events": laptop, "answers": [], "links": []})
    build_model(store, config)
    # u1 is back ten days later on a phone first seen now: the customer keeps its id (named by its
    # smallest identifier, the laptop's "d1"), so no stored row moves.
    back = {**_at(24 * 10, "u1", 5), "device": "d9"}
    append_batch(store, 2, {"events": [back], "answers": [], "links": []})
    summary = build_model(store, config)
    assert (summary.recomputed_customers, summary.from_cut) == (1, 1)
    _assert_equals_a_full_build(store, config)


def test_a_process_log_that_gains_events_without_a_case_is_built_in_full(store: Store) -> None:
    config = Config.new()
    # Every event of a case: journeys are the cases, and the build keeps no breaks.
    append_batch(
        store, 1, {"events": [_at(1, "u1", 5, "k1"), _at(2, "u2", 8, "k2")], "answers": [], "links": []}
    )
    build_model(store, config)
    append_batch(store, 2, {"events": [_at(3, "u1", 0)], "answers": [], "links": []})
    plan = build_plan(store, config)
    assert plan.mode == "full" and "split a process log" in plan.reason
    build_model(store, config)
    append_batch(store, 3, {"events": [_at(24 * 9, "u2", 5)], "answers": [], "links": []})
    assert build_model(store, config).mode == "incremental"
    _assert_equals_a_full_build(store, config)


def test_deleted_rows_and_changed_settings_fall_back_to_a_full_build(store: Store) -> None:
    config = Config.new()
    append_batch(store, 1, {"events": [{"hour": 1, "user": "u1", "device": "d1", "case": None,
                                   "step": TOUCHPOINTS[0], "outbound": False, "reason": None}] * 2,
                       "answers": [], "links": []})  # fmt: skip
    first = build_model(store, config)
    assert (first.mode, first.reason) == ("full", "they have not been built yet")
    assert build_plan(store, config).mode == "incremental"
    assert build_plan(store, config, full=True).reason == "asked for (--full)"
    store.backend.raw_sql("DELETE FROM events WHERE event_id = 'e1_1'")
    plan = build_plan(store, config)
    assert plan.mode == "full" and "events: 2 → 1" in plan.reason
    build_model(store, config)
    edited = config.model_copy(update={"journeys": config.journeys.model_copy(update={"neutral_gap": "2h"})})
    assert build_plan(store, edited).mode == "full"
    # What a build keeps for the next one (a forget drops every working table): full without it.
    for kept in ("_jl_identity_links", "_jl_journey_breaks"):
        assert build_plan(store, config).mode == "incremental"
        store.backend.drop_table(kept)
        plan = build_plan(store, config)
        assert plan.mode == "full" and f"kept for the next one is gone ({kept})" in plan.reason
        build_model(store, config)


@pytest.mark.parametrize("few", [True, False], ids=["temporary working tables", "stored working tables"])
def test_open_journeys_of_untouched_customers_are_re_decided_without_their_events(
    store: Store, few: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The recomputed events' working tables are temporary when they fit in memory (always, at this
    # size): the other way is taken too.
    monkeypatch.setattr(incremental_build, "fits_in_memory", lambda backend, events: few)
    config = Config.new()

    def at(hour: int, user: str, step: int) -> dict[str, Any]:
        return {"hour": hour, "user": user, "device": None, "case": None, "step": TOUCHPOINTS[step],
                "outbound": False, "reason": "billing"}  # fmt: skip

    # u1 and u2 call about billing; u2 then answers a survey badly (negative feedback).
    calls = [at(1, "u1", 5), at(2, "u1", 8), at(1, "u2", 5), at(2, "u2", 8)]
    survey = [{"hour": 3, "user": "u2", "case": None, "score": 1, "comment": None}]
    append_batch(store, 1, {"events": calls, "answers": survey, "links": []})
    build_model(store, config)
    journeys = store.backend.table("journeys")
    assert set(store.execute(journeys.outcome_evidence).to_pylist()) == {"open"}
    # Three weeks later only u3 is seen: the data's end moves past both repeat windows.
    append_batch(store, 2, {"events": [at(24 * 21, "u3", 0)], "answers": [], "links": []})
    summary = build_model(store, config)
    assert (summary.mode, summary.recomputed_customers, summary.redecided_journeys) == ("incremental", 1, 2)
    decided = store.execute(journeys.select("outcome_evidence", "time_to_resolution_s")).to_pylist()
    assert {(r["outcome_evidence"], r["time_to_resolution_s"]) for r in decided} >= {
        ("no_repeat_after_contact", 3600),
        ("negative_feedback", None),
    }
    _assert_equals_a_full_build(store, config)


def _wal_bytes(path: Path) -> int:
    wal = path.with_name(path.name + ".wal")
    return wal.stat().st_size if wal.exists() else 0


def test_checkpoints_wait_for_the_end_of_an_incremental_build(tmp_path: Path) -> None:
    """Inside ``deferred_checkpoints`` DuckDB's log grows past its 16 MiB threshold without a
    checkpoint; after it the setting is back (even when the block fails) and the next commit
    checkpoints. An incremental build runs inside it, and leaves the setting as it found it."""
    path = tmp_path / "store.duckdb"
    store = Store.connect(f"duckdb://{path}", timezone="UTC")
    con = store.backend.con
    threshold = con.execute("SELECT current_setting('checkpoint_threshold')").fetchall()[0][0]
    try:
        store.backend.raw_sql("CREATE TABLE rows_ (i BIGINT, s VARCHAR)")
        # Inserts below a row group's size are logged: about 7.6 MB each.
        many = "INSERT INTO rows_ SELECT range, repeat(md5(range::VARCHAR), 2) FROM range(100000)"
        with pytest.raises(RuntimeError, match="the block failed"), deferred_checkpoints(store.backend):
            for _ in range(3):
                store.backend.raw_sql(many)
            assert _wal_bytes(path) > 16 * 2**20
            raise RuntimeError("the block failed")
        assert con.execute("SELECT current_setting('checkpoint_threshold')").fetchall()[0][0] == threshold
        store.backend.raw_sql("INSERT INTO rows_ VALUES (0, NULL)")
        assert _wal_bytes(path) < 2**20, "the first commit after the block checkpoints"

        config = Config.new()
        append_batch(store, 1, {"events": [_at(1, "u1", 5), _at(2, "u2", 8)], "answers": [], "links": []})
        build_model(store, config)
        append_batch(store, 2, {"events": [_at(3, "u1", 0)], "answers": [], "links": []})
        assert build_model(store, config).mode == "incremental"
        assert con.execute("SELECT current_setting('checkpoint_threshold')").fetchall()[0][0] == threshold
        _assert_equals_a_full_build(store, config)
    finally:
        store.close()
