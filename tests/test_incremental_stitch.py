"""The incremental stitch (``identity.extend``) relabels touched customers only, exactly.

Stories: a login on a device that was anonymous so far merges two customers; an e-mail that a
second customer's CRM row names becomes shared (the guard cuts it out of its old customer); a
customer no new row touches keeps its rows. Each ends equal to a full stitch of the same rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from incremental_batches import append_batch, derived_tables
from journeylens.config import Config
from journeylens.model import build_model, build_plan
from journeylens.store import Store


def _event(hour: int, user: str | None, device: str | None) -> dict[str, Any]:
    return {"hour": hour, "user": user, "device": device, "case": None, "step": ("web", "home", None),
            "outbound": False, "reason": None}  # fmt: skip


def _customers(store: Store) -> dict[str, str]:
    cmap = store.execute(store.backend.table("customer_map")).to_pylist()
    return {f"{r['identifier_type']}:{r['identifier_value']}": r["customer_id"] for r in cmap}


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store.connect("duckdb://", timezone="UTC")
    yield s
    s.close()


def test_merges_and_new_shared_identifiers_relabel_only_touched_customers(store: Store) -> None:
    config = Config.new()
    base = [_event(1, "u1", None), _event(2, None, "d1"), _event(3, "u2", "d2"), _event(4, "u3", None)]
    append_batch(store, 1, {"events": base, "answers": [], "links": [("e1", "u2")]})
    build_model(store, config)
    before = _customers(store)
    assert before["email:e1"] == before["user_id:u2"] == before["anonymous_id:d2"]
    # u1 logs in on d1 (two customers merge); u3's CRM row names e1 too (e1 becomes shared).
    append_batch(store, 2, {"events": [_event(5, "u1", "d1")], "answers": [], "links": [("e1", "u3")]})
    plan = build_plan(store, config)
    assert (plan.mode, plan.full_stitch) == ("incremental", False)
    summary = build_model(store, config)
    assert summary.mode == "incremental" and summary.shared_identifiers == 1
    after = _customers(store)
    # The merged customer is named after its smallest identifier, anonymous_id:d1.
    assert after["user_id:u1"] == after["anonymous_id:d1"] == before["anonymous_id:d1"]
    assert after["user_id:u1"] != before["user_id:u1"]
    assert after["email:e1"] not in {after["user_id:u2"], after["user_id:u3"]}
    assert after["user_id:u2"] == after["anonymous_id:d2"] == before["user_id:u2"]
    incremental = derived_tables(store)
    build_model(store, config, full=True)
    assert incremental == derived_tables(store)


def test_identifier_limits_stitch_in_full_and_say_why(store: Store) -> None:
    config = Config.new()
    config.identity.max_per_customer = {"email": 1}
    append_batch(store, 1, {"events": [_event(1, "u1", "d1")], "answers": [], "links": [("e1", "u1")]})
    build_model(store, config)
    append_batch(store, 2, {"events": [_event(2, "u2", None)], "answers": [], "links": [("e2", "u1")]})
    plan = build_plan(store, config)
    assert plan.full_stitch and "max_per_customer is set" in plan.reason
    assert build_model(store, config).mode == "incremental"
    incremental = derived_tables(store)
    build_model(store, config, full=True)
    assert incremental == derived_tables(store)
