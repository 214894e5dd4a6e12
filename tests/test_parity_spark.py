"""The same ingestion and aggregate on DuckDB and on PySpark (local mode) give the same answers.

Spark runs in its own CI step conceptually (marker ``spark``); here it is part of the suite because
the machine has Java 17. The Spark-side tables are read back repartitioned, so any hidden reliance
on row order would show up as a difference.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from journeylens.config import Config
from journeylens.ingest import Ingestor, IngestSpec
from journeylens.store import Store

pytestmark = pytest.mark.spark

EDGE_CASES = """\
event_id,user_id,anonymous_id,timestamp,channel,touchpoint,direction,value,device
e1,u1,,2024-01-15T10:00:00+01:00,web,home,inbound,,ios
e2,u1,a1,2024-01-15 10:05:00,Phone,billing_call,in,12.5,
e3,,a2,1705312800,WhatsApp,status_update,outbound,,android
e4,,a2,1705312800123,e-mail,newsletter,outbound,,
e5,u2,,2024-01-16,store,checkout,inbound,99.99,
e6,u2,,not-a-time,web,home,inbound,,
e7,u3,,2024-01-17T08:00:00Z,carrier pigeon,odd_channel,inbound,,
e1,u1,,2024-01-15T10:00:00+01:00,web,home,inbound,,ios
e8,,,2024-01-17T09:00:00Z,web,orphan,inbound,,
e9,u3,,2024-01-17T09:30:00Z,chat,help,sideways,,
"""


@pytest.fixture(scope="module")
def spark_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        pytest.fail(
            "PySpark is missing: scripts/run_tests.py installs the spark extra; parity must not skip."
        )
    store = Store.connect("pyspark://", timezone="Europe/Amsterdam", root=tmp_path_factory.mktemp("spark"))
    yield store


def _ingest(store: Store, path: Path) -> list[dict[str, Any]]:
    config = Config.new(workspace={"timezone": "Europe/Amsterdam"})
    config.privacy.salt = "parity-salt-0123456789"
    reports = Ingestor(store, config).ingest(IngestSpec(paths=[str(path)]))
    return [{k: v for k, v in r.to_dict().items() if k != "seconds"} for r in reports]


def _events(store: Store, repartition: bool) -> list[dict[str, Any]]:
    events = store.table("events").drop("source")
    if repartition:
        frame = store.backend._session.table("events").repartition(7)  # type: ignore[attr-defined]
        frame.createOrReplaceTempView("events_shuffled")
        events = store.backend.table("events_shuffled").drop("source")
    rows = store.execute(events).to_pylist()
    return sorted(rows, key=lambda r: r["event_id"])


def _daily_by_channel(store: Store) -> list[dict[str, Any]]:
    events = store.table("events")
    day = store.local_time(events.timestamp).truncate("D").date().name("day")
    expr = events.group_by([day, "channel"]).agg(n=events.count(), value=events.value.sum())
    return sorted(store.execute(expr).to_pylist(), key=lambda r: (r["day"], r["channel"]))


def test_ingest_and_aggregate_match_duckdb(tmp_path: Path, spark_store: Store) -> None:
    source = tmp_path / "edge_cases.csv"
    source.write_text(EDGE_CASES, encoding="utf-8")
    duck = Store.connect("duckdb://", timezone="Europe/Amsterdam")

    duck_reports, spark_reports = _ingest(duck, source), _ingest(spark_store, source)

    assert duck_reports == spark_reports
    assert duck_reports[0]["loaded"] == 6
    assert duck_reports[0]["duplicates"] == 1
    assert duck_reports[0]["quarantined_by_reason"] == {
        "bad_timestamp": 1,
        "missing_field": 1,
        "bad_value": 1,
    }
    duck_rows, spark_rows = _events(duck, repartition=False), _events(spark_store, repartition=True)
    assert duck_rows == spark_rows
    by_id = {r["event_id"]: r for r in duck_rows}
    utc = _dt.UTC
    assert by_id["e1"]["timestamp"] == _dt.datetime(2024, 1, 15, 9, 0, tzinfo=utc)
    assert by_id["e2"]["timestamp"] == _dt.datetime(2024, 1, 15, 9, 5, tzinfo=utc)  # naive: Amsterdam
    assert by_id["e3"]["timestamp"] == _dt.datetime(2024, 1, 15, 10, 0, tzinfo=utc)  # epoch seconds
    assert by_id["e4"]["timestamp"] == _dt.datetime(2024, 1, 15, 10, 0, 0, 123000, tzinfo=utc)  # ms
    assert by_id["e5"]["timestamp"] == _dt.datetime(2024, 1, 15, 23, 0, tzinfo=utc)  # date, Amsterdam
    assert [by_id[i]["channel"] for i in ("e2", "e3", "e4", "e7")] == [
        "call_center",
        "whatsapp",
        "email",
        "other",
    ]
    assert by_id["e2"]["direction"] == "inbound"

    assert _daily_by_channel(duck) == _daily_by_channel(spark_store)
    q_duck = duck.execute(duck.table("quarantine").select("line", "reason", "field").order_by("line"))
    q_spark = spark_store.execute(
        spark_store.table("quarantine").select("line", "reason", "field").order_by("line")
    )
    assert q_duck.to_pylist() == q_spark.to_pylist()
    assert [r["line"] for r in q_duck.to_pylist()] == [7, 10, 11]


def test_reingest_is_idempotent_on_spark(tmp_path: Path, spark_store: Store) -> None:
    source = tmp_path / "again.csv"
    source.write_text("event_id,user_id,timestamp,channel,touchpoint\nx1,u9,2024-02-01T00:00:00Z,web,home\n")
    first, second = _ingest(spark_store, source), _ingest(spark_store, source)
    assert (first[0]["loaded"], second[0]["loaded"], second[0]["duplicates"]) == (1, 0, 1)
    events = spark_store.table("events")
    assert spark_store.execute(events.filter(events.event_id == "x1").count()).as_py() == 1


STORY_EVENTS = """\
user_id,anonymous_id,timestamp,channel,touchpoint
,dev-ann,2024-01-01T09:00:00Z,web,home
ann,dev-ann,2024-01-03T10:00:00Z,web,login
bob,,2024-01-02T10:00:00Z,call_center,billing_call
,dev-bob,2024-01-02T08:00:00Z,app,home
carl,tablet,2024-01-04T10:00:00Z,app,login
dora,tablet,2024-01-05T10:00:00Z,app,login
"""
STORY_IDENTITIES = """\
identifier_type,identifier_value,user_id,anonymous_id
email,bob@example.com,bob,
email,Bob@Example.com,,dev-bob
"""


def test_identity_stitching_matches_duckdb(tmp_path: Path, spark_store: Store) -> None:
    from journeylens.identity import stitch

    (tmp_path / "ev.csv").write_text(STORY_EVENTS)
    (tmp_path / "ids.csv").write_text(STORY_IDENTITIES)
    duck = Store.connect("duckdb://", timezone="Europe/Amsterdam")
    config = Config.new(workspace={"timezone": "Europe/Amsterdam"})
    config.privacy.salt = "parity-salt-0123456789"
    maps = []
    for store in (duck, spark_store):
        ingestor = Ingestor(store, config)
        ingestor.ingest(IngestSpec(paths=[str(tmp_path / "ev.csv")]))
        ingestor.ingest(IngestSpec(paths=[str(tmp_path / "ids.csv")], table="identities"))
        result = stitch(store)
        rows = store.execute(result.customer_map).to_pylist()
        maps.append(
            sorted((r["identifier_type"], r["identifier_value"], r["customer_id"], r["shared"]) for r in rows)
        )
    # The Spark store is shared with the test above; its identifiers do not link to these.
    story = {(t, v) for t, v, _, _ in maps[0]}
    assert maps[0] == [row for row in maps[1] if (row[0], row[1]) in story]
    by_id = {(t, v): c for t, v, c, _ in maps[0]}
    assert by_id[("anonymous_id", "dev-ann")] == by_id[("user_id", "ann")]
    assert by_id[("anonymous_id", "dev-bob")] == by_id[("user_id", "bob")]
    assert by_id[("user_id", "carl")] != by_id[("user_id", "dora")]


def test_journeys_match_duckdb(tmp_path: Path, spark_store: Store) -> None:
    from journeylens.identity import stitch
    from journeylens.journeys import build_journeys

    rows = ["user_id,anonymous_id,timestamp,channel,touchpoint,agent_id,case_id,contact_reason"]
    rows += [
        ",dev-jx,2024-03-01T09:00:00.250Z,web,billing_faq,,,",
        "jx,dev-jx,2024-03-01T09:04:00Z,web,my_invoices,,,",
        "jx,,2024-03-01T11:00:00Z,call_center,ivr_menu,,,",
        "jx,,2024-03-01T11:03:00Z,call_center,billing_call,ag1,T9,billing",
        "jx,,2024-03-03T10:00:00Z,chat,billing_chat,ag2,T9,billing",
        "jx,,2024-03-04T10:00:00Z,web,search,,,",
        "jx,,2024-03-04T10:05:00Z,web,order_confirmation,,,",
        "jy,,2024-03-02T10:00:00Z,web,faq,,,",
        "jy,,2024-03-20T10:00:00Z,email,survey_invite,,,",
    ]
    (tmp_path / "j.csv").write_text("\n".join(rows) + "\n")
    duck = Store.connect("duckdb://", timezone="UTC")
    config = Config.new()
    config.privacy.salt = "parity-salt-0123456789"
    results = []
    for store in (duck, spark_store):
        Ingestor(store, config).ingest(IngestSpec(paths=[str(tmp_path / "j.csv")]))
        stitch(store)
        built = build_journeys(store, config.journeys)
        journeys = store.execute(built.journeys).to_pylist()
        steps = store.execute(built.journey_events).to_pylist()
        mine = {j["journey_id"]: j for j in journeys}
        story = sorted((s["journey_id"], s["step"], s["event_id"]) for s in steps if s["journey_id"] in mine)
        results.append((journeys, story))
    duck_journeys = {j["journey_id"]: j for j in results[0][0]}
    spark_journeys = {j["journey_id"]: j for j in results[1][0] if j["journey_id"] in duck_journeys}
    assert len(duck_journeys) == 4 and spark_journeys.keys() == duck_journeys.keys()
    for jid, row in duck_journeys.items():
        other = spark_journeys[jid]
        for column, value in row.items():
            if isinstance(value, float):
                assert float(other[column]) == pytest.approx(value), (jid, column)
            elif column not in ("start", "end"):
                assert other[column] == value, (jid, column)
        assert other["start"].timestamp() == row["start"].timestamp()
    assert results[0][1] == [s for s in results[1][1] if s[0] in duck_journeys]
    types = sorted(j["journey_type"] for j in duck_journeys.values())
    assert types == ["information", "other", "purchase", "support"]
