"""Batches of raw rows appended as an ingest writes them, for the incremental-build tests
(``test_incremental_build.py`` and the parity case ``build_incremental``)."""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any

import pyarrow as pa

from journeylens.identity.stitch import LINKS
from journeylens.journeys.segment import BREAKS
from journeylens.model import DERIVED_TABLES
from journeylens.store import Store
from journeylens.store.schema import INGESTS_SCHEMA, RAW_TABLES

T0 = _dt.datetime(2026, 3, 1, tzinfo=_dt.UTC)


def _rows(name: str, ingest: int, records: list[dict[str, Any]]) -> pa.Table:
    schema = RAW_TABLES[name].schema().to_pyarrow()
    for line, r in enumerate(records, start=1):
        r.update(source=f"batch{ingest}", ingest_seq=(ingest << 32) + line)
    return pa.Table.from_pylist([{f.name: r.get(f.name) for f in schema} for r in records], schema=schema)


def append_batch(store: Store, ingest: int, data: dict[str, Any]) -> None:
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
    # A link is (e-mail, user id) or (e-mail, None, device): the e-mail's owner.
    links = [
        {"record_id": f"i{ingest}_{i}", "identifier_type": "email", "identifier_value": v, "user_id": u,
         "anonymous_id": device[0] if device else None}
        for i, (v, u, *device) in enumerate(data["links"])
    ]  # fmt: skip
    log = []
    for name, records in (("events", events), ("feedback", answers), ("identities", links)):
        if records:
            store.insert(name, _rows(name, ingest, records))
            log.append(
                {"ingest_id": ingest, "table": name, "source": f"batch{ingest}", "loaded": len(records)}
            )
    store.insert("ingests", pa.Table.from_pylist(log, schema=INGESTS_SCHEMA.to_pyarrow()))


def derived_tables(store: Store) -> dict[str, list[dict[str, Any]]]:
    """Every derived table's rows, sorted, and those of the working tables a build keeps for the
    next one (an incremental build must leave them as a full build would)."""
    out = {}
    for name in (*DERIVED_TABLES, LINKS, BREAKS):
        t = store.backend.table(name)
        out[name] = store.execute(t.order_by(*t.columns)).to_pylist()
    return out
