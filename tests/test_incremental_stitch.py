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


def test_a_login_on_a_device_makes_its_e_mail_shared_two_hops_away(store: Store) -> None:
    config = Config.new()
    # e5 is the e-mail of device d5, on which u5 logs in: e5 reaches one customer, through d5.
    append_batch(store, 1, {"events": [_event(1, "u5", "d5")], "answers": [], "links": [("e5", None, "d5")]})
    build_model(store, config)
    assert store.execute(store.backend.table("customer_map").count()).as_py() == 3 and not _shared(store)
    # u6 logs in on d5 too: the new link touches d5 only, and e5 now reaches two customers.
    append_batch(store, 2, {"events": [_event(2, "u6", "d5")], "answers": [], "links": []})
    assert build_model(store, config).mode == "incremental"
    assert _shared(store) == {"anonymous_id:d5", "email:e5"}
    incremental = derived_tables(store)
    build_model(store, config, full=True)
    assert incremental == derived_tables(store)


def test_an_e_mail_is_counted_through_neighbours_no_new_link_touches(store: Store) -> None:
    config = Config.new()
    # e7 is the e-mail of devices d7 and d8; u7 logs in on d7: e7 reaches one customer.
    devices = [("e7", None, "d7"), ("e7", None, "d8")]
    append_batch(store, 1, {"events": [_event(1, "u7", "d7")], "answers": [], "links": devices})
    build_model(store, config)
    assert not _shared(store)
    # u8 logs in on d8. The guard counts e7 again (a neighbour of d8), and e7 reaches u7 through
    # d7, which no new link touches: two customers. u7 on d7 again is a link stored already.
    again = [_event(2, "u8", "d8"), _event(3, "u7", "d7")]
    append_batch(store, 2, {"events": again, "answers": [], "links": []})
    assert build_model(store, config).mode == "incremental"
    assert _shared(store) == {"email:e7"}
    incremental = derived_tables(store)
    build_model(store, config, full=True)
    assert incremental == derived_tables(store)


def _shared(store: Store) -> set[str]:
    cmap = store.execute(store.backend.table("customer_map")).to_pylist()
    return {f"{r['identifier_type']}:{r['identifier_value']}" for r in cmap if r["shared"]}


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
