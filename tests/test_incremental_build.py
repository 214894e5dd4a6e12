"""The incremental build equals a full build, table by table, whatever the new batches hold.

Batches are appended straight into the raw tables (with an ``ingests`` row each, as an ingest
writes them) so that one hypothesis example takes about a second: a base batch, a full build, then
random batches, each followed by a build that must take the incremental path. The last state is
compared with a full build of the same data: every derived table, every column, sorted rows.
Batches mix late-arriving old events, logins that merge two customers (an event with both ids, an
``identities`` row sharing an e-mail), new events of old cases, and feedback.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeylens.config import Config
from journeylens.model import DERIVED_TABLES, build_model, build_plan
from journeylens.store import Store
from journeylens.store.schema import INGESTS_SCHEMA, RAW_TABLES

T0 = _dt.datetime(2026, 3, 1, tzinfo=_dt.UTC)
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


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store.connect("duckdb://", timezone="UTC")
    yield s
    s.close()


def _rows(name: str, ingest: int, records: list[dict[str, Any]]) -> pa.Table:
    schema = RAW_TABLES[name].schema().to_pyarrow()
    for line, r in enumerate(records, start=1):
        r.update(source=f"batch{ingest}", ingest_seq=(ingest << 32) + line)
    return pa.Table.from_pylist([{f.name: r.get(f.name) for f in schema} for r in records], schema=schema)


def _append(store: Store, ingest: int, data: dict[str, Any]) -> None:
    """Write one batch as an ingest would: rows with their ingest_seq, and an ``ingests`` row."""
    events = [
        {
            "event_id": f"e{ingest}_{i}",
            "timestamp": T0 + _dt.timedelta(hours=e["hour"]),
            "user_id": e["user"],
            "anonymous_id": e["device"],
            "case_id": e["case"],
            "channel": e["step"][0],
            "touchpoint": e["step"][1],
            "agent_id": e["step"][2],
            "direction": "outbound" if e["outbound"] and e["step"][0] == "email" else "inbound",
            "properties": json.dumps({"contact_reason": e["reason"]} if e["reason"] else {}),
        }
        for i, e in enumerate(data["events"])
    ]
    answers = [
        {
            "feedback_id": f"f{ingest}_{i}",
            "timestamp": T0 + _dt.timedelta(hours=a["hour"]),
            "user_id": a["user"],
            "case_id": a["case"],
            "channel": "email",
            "touchpoint": "survey",
            "metric": "csat",
            "score": float(a["score"]),
            "comment": a["comment"],
        }
        for i, a in enumerate(data["answers"])
    ]
    links = [
        {"record_id": f"i{ingest}_{i}", "identifier_type": "email", "identifier_value": v, "user_id": u}
        for i, (v, u) in enumerate(data["links"])
    ]
    log = []
    for name, records in (("events", events), ("feedback", answers), ("identities", links)):
        if records:
            store.insert(name, _rows(name, ingest, records))
            log.append(
                {"ingest_id": ingest, "table": name, "source": f"batch{ingest}", "loaded": len(records)}
            )
    store.insert("ingests", pa.Table.from_pylist(log, schema=INGESTS_SCHEMA.to_pyarrow()))


def _tables(store: Store) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for name in DERIVED_TABLES:
        t = store.backend.table(name)
        out[name] = store.execute(t.order_by(*t.columns)).to_pylist()
    return out


@settings(max_examples=20, deadline=None)
@given(base=batch, appended=st.lists(batch, min_size=1, max_size=3))
def test_incremental_build_equals_a_full_build(base: dict[str, Any], appended: list[dict[str, Any]]) -> None:
    config = Config.new()
    store = Store.connect("duckdb://", timezone="UTC")
    try:
        _append(store, 1, base)
        assert build_model(store, config).mode == "full"
        for ingest, data in enumerate(appended, start=2):
            _append(store, ingest, data)
            summary = build_model(store, config)
            assert summary.mode == "incremental", summary.reason
        incremental = _tables(store)
        assert build_model(store, config, full=True).mode == "full"
        assert incremental == _tables(store)
    finally:
        store.close()


def test_deleted_rows_and_changed_settings_fall_back_to_a_full_build(store: Store) -> None:
    config = Config.new()
    _append(store, 1, {"events": [{"hour": 1, "user": "u1", "device": "d1", "case": None,
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
