"""One small world, built twice: on DuckDB and on PySpark (local mode), through the same code.

The world is a seeded synthetic omnichannel world (``journeylens.synth``: customers, identities,
events, feedback, experiment assignments, agents and their teams, employee feedback with monthly
engagement answers and training completions) plus a few hand-written stories that the generator never
produces: malformed and duplicate input rows, naive and epoch timestamps read in the workspace
zone, e-mail identities that must stitch, a shared device that must not, and a customer whose
events all carry the same timestamp (their order exists only as ingestion order).

On Spark every raw table is rewritten scrambled (hash-partitioned on a random column, shuffled
within each file) after ingestion and *before* stitching, so an analysis that relies on the order
rows happen to be stored in gets different rows on Spark and its case fails.

The Spark store lives in a database of its own on a session of its own (``newSession()`` shares
the SparkContext but not the current database), so other tests that open ``pyspark://`` in the
same process neither see nor overwrite these tables.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import pytest

from journeylens.config import Config
from journeylens.identity import stitch
from journeylens.ingest import Ingestor, IngestSpec
from journeylens.journeys import build_journeys
from journeylens.journeys.definitions import EXAMPLE_COSTS
from journeylens.store import Store, _backend
from journeylens.synth import generate_world

ZONE = "Europe/Amsterdam"
"""Naive timestamps are read, and days and weeks are cut, in this zone (DST changes on 29 March
2026, inside the synthetic world's 120 days)."""
SALT = "parity-salt-0123456789"
WORLD_CUSTOMERS = 150
WORLD_SEED = 11
SCRAMBLE_FILES = 7
RAW_TABLES = ("events", "identities", "customers", "feedback", "assignments", "agents", "employee_feedback")

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
,u4,,2024-01-18T10:00:00Z,store,purchase,inbound,15.98,
,u4,,2024-01-18T10:00:00Z,store,purchase,inbound,15.98,
"""
"""Line 9 repeats line 2 (a duplicate event_id); lines 7, 10 and 11 are quarantined (bad timestamp,
no customer key, bad direction); e2 is naive (Amsterdam), e3/e4 epoch seconds/milliseconds; lines
12 and 13 are two identical purchases without an event_id: two records (keyed by content and
occurrence), which the re-ingest must find again in the scrambled Spark table."""

STITCH_EVENTS = """\
user_id,anonymous_id,timestamp,channel,touchpoint
,dev-ann,2024-01-01T09:00:00Z,web,home
ann,dev-ann,2024-01-03T10:00:00Z,web,login
bob,,2024-01-02T10:00:00Z,call_center,billing_call
,dev-bob,2024-01-02T08:00:00Z,app,home
carl,tablet,2024-01-04T10:00:00Z,app,login
dora,tablet,2024-01-05T10:00:00Z,app,login
"""
STITCH_IDENTITIES = """\
identifier_type,identifier_value,user_id,anonymous_id
email,bob@example.com,bob,
email,Bob@Example.com,,dev-bob
email,ann.one@example.com,ann,
email,ann.two@example.com,ann,
email,ann.three@example.com,ann,
"""
"""ann's device joins her; bob's device joins him through one e-mail written two ways; the
tablet shared by carl and dora joins neither (max_customers_per_identifier = 1). With limits of
one login and two e-mails per customer, the tablet may join only one of carl and dora and ann
keeps two of her three e-mails."""

JOURNEY_STORY = """\
user_id,anonymous_id,timestamp,channel,touchpoint,agent_id,case_id,contact_reason,lifecycle:transition
,dev-jx,2024-03-01T09:00:00.250Z,web,billing_faq,,,,
jx,dev-jx,2024-03-01T09:04:00Z,web,my_invoices,,,,
jx,,2024-03-01T11:00:00Z,call_center,ivr_menu,,,,
jx,,2024-03-01T11:03:00Z,call_center,billing_call,ag1,T9,billing,start
jx,,2024-03-01T11:09:00.900Z,call_center,billing_call,ag1,T9,billing,complete
jx,,2024-03-03T10:00:00Z,chat,billing_chat,ag2,T9,billing,
jx,,2024-03-04T10:00:00Z,web,search,,,,
jx,,2024-03-04T10:05:00Z,web,order_confirmation,,,,
jy,,2024-03-02T10:00:00Z,web,faq,,,,
jy,,2024-03-20T10:00:00Z,email,survey_invite,,,,
tie,,2024-03-05T10:00:00Z,web,product_page,,,,
tie,,2024-03-05T10:00:00Z,web,add_to_cart,,,,
tie,,2024-03-05T10:00:00Z,web,checkout,,,,
tie,,2024-03-05T10:00:00Z,web,payment,,,,
tie,,2024-03-05T10:00:00Z,web,order_confirmation,,,,
"""
"""jx: a billing journey across web, IVR, call (with start/complete lifecycle, as XES has) and chat
with one case, then a purchase; jy: an information journey; tie: five events in one instant,
ordered only by their file lines."""

EMPLOYEE_STORY = """\
agent_id,timestamp,metric,score,comment
ag1,2024-03-01T08:00:00Z,engagement,4,
ag1,2024-03-02 08:00:00,training,,
"""
"""Employee rows of ag1, who handles jx's call but is missing from ``agents``: kept and counted as
an unknown agent's (an engagement answer and a naive-timestamped training completion)."""


REVIEWS = """\
rating\tdate\tvariation\tverified_reviews
5\t31-Jul-18\tCharcoal Fabric\tLove my Echo!
5\t31-Jul-18\tCharcoal Fabric\tLove my Echo!
2\t1-jan-2019\tBlack Dot\tStopped working
"""
"""Public reviews as exported (Amazon): no respondent, no metric column (``--metric rating``), dates
like 31-Jul-18 read as they are (Amsterdam midnight); two identical anonymous reviews are two
answers, which the re-ingest must find again in the scrambled Spark table."""

SURVEY = """\
when,score,comment
31/03/24 02:30,8,in the gap
02/01/18 10:00,9,2 January
2018-01-02 10:00,7,not the declared layout
"""
"""NPS answers with a declared layout (``--timestamp-format '%d/%m/%y %H:%M'``): day first, a time in
Amsterdam's daylight-saving gap (shifted forward), and an ISO value that is quarantined."""
SOURCE_OPTIONS: dict[str, dict[str, Any]] = {
    "reviews.tsv": {
        "metric": "rating",
        "mapping": {"score": "rating", "timestamp": "date", "comment": "verified_reviews"},
    },
    "survey.csv": {"metric": "nps", "mapping": {"timestamp": "when"}, "timestamp_format": "%d/%m/%y %H:%M"},
}
"""Ingest options of the story files that need them (by file name)."""


@dataclass
class Side:
    """One engine's copy of the world, as the cases see it."""

    engine: str
    store: Store
    config: Config
    ingest_reports: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class ParityWorld:
    duckdb: Side
    pyspark: Side
    folder: Path


def world_config() -> Config:
    config = Config.new(workspace={"timezone": ZONE})
    config.privacy.salt = SALT
    # The synthetic world writes national phone numbers of this country (see benchmark/stages.py).
    config.privacy.default_country_code = "31"
    # Priced like the demo workspace, so cost to serve is compared (unpriced: see cases.py).
    config.journeys.costs = dict(EXAMPLE_COSTS)
    return config


def write_inputs(folder: Path) -> list[tuple[str, Path]]:
    """The synthetic world and the stories, as (table, path) in ingestion order."""
    world = folder / "world"
    generate_world(world, customers=WORLD_CUSTOMERS, seed=WORLD_SEED)
    stories = folder / "stories"
    stories.mkdir()
    files = {
        "edge_cases.csv": EDGE_CASES,
        "stitch_events.csv": STITCH_EVENTS,
        "stitch_identities.csv": STITCH_IDENTITIES,
        "journey_story.csv": JOURNEY_STORY,
        "employee_story.csv": EMPLOYEE_STORY,
        "reviews.tsv": REVIEWS,
        "survey.csv": SURVEY,
    }
    for name, text in files.items():
        (stories / name).write_text(text, encoding="utf-8")
    return [
        ("customers", world / "customers"),
        ("identities", world / "identities"),
        ("events", world / "events"),
        ("feedback", world / "feedback"),
        ("assignments", world / "assignments"),
        ("agents", world / "agents"),
        ("employee_feedback", world / "employee_feedback"),
        ("decisions", world / "decisions"),
        ("events", stories / "edge_cases.csv"),
        ("events", stories / "stitch_events.csv"),
        ("identities", stories / "stitch_identities.csv"),
        ("events", stories / "journey_story.csv"),
        ("employee_feedback", stories / "employee_story.csv"),
        ("feedback", stories / "reviews.tsv"),
        ("feedback", stories / "survey.csv"),
    ]


def _ingest(side: Side, sources: list[tuple[str, Path]]) -> None:
    ingestor = Ingestor(side.store, side.config)
    for table, path in sources:
        options = SOURCE_OPTIONS.get(path.name, {})
        for report in ingestor.ingest(IngestSpec(paths=[str(path)], table=table, **options)):
            side.ingest_reports.append({k: v for k, v in report.to_dict().items() if k != "seconds"})


def _model(side: Side) -> None:
    stitch(side.store, side.config.identity)
    build_journeys(side.store, side.config.journeys)


def spark_store(root: Path) -> Store:
    """A PySpark store on the project's own session settings, in a fresh database of its own."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        pytest.fail(
            "PySpark is missing: scripts/run_tests.py installs the spark extra; parity must not skip.",
            pytrace=False,
        )
    shared = _backend.connect("pyspark://", timezone=ZONE, root=root)
    session = shared._session.newSession()  # type: ignore[attr-defined]
    database = f"jl_parity_{uuid.uuid4().hex[:10]}"
    session.sql(f"CREATE DATABASE {database}")
    session.catalog.setCurrentDatabase(database)
    return Store(ibis.pyspark.connect(session), ZONE)


def scramble(store: Store, table: str, seed: int) -> None:
    """Rewrite a Spark table with its rows in an arbitrary order spread over several files."""
    from pyspark.sql import functions as F

    session = store.backend._session  # type: ignore[attr-defined]
    frame = (
        session.table(table)
        .repartition(SCRAMBLE_FILES, F.rand(seed))
        .sortWithinPartitions(F.rand(seed + 1))
        .localCheckpoint(eager=True)
    )
    frame.write.mode("overwrite").saveAsTable(table)


def physical_order(store: Store, table: str, column: str) -> list[Any]:
    """``column`` of ``table`` in the order the engine reads the rows when nothing sorts them."""
    session = store.backend._session  # type: ignore[attr-defined]
    return [row[0] for row in session.table(table).select(column).collect()]


@pytest.fixture(scope="session")
def parity_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ParityWorld]:
    folder = tmp_path_factory.mktemp("parity")
    sources = write_inputs(folder)
    again = [(t, p) for t, p in sources if p.name in ("edge_cases.csv", "reviews.tsv")]
    duck = Side("duckdb", Store.connect("duckdb://", timezone=ZONE), world_config())
    spark = Side("pyspark", spark_store(folder), world_config())
    for side in (duck, spark):
        _ingest(side, sources)
    for i, table in enumerate(RAW_TABLES):
        scramble(spark.store, table, seed=WORLD_SEED + 2 * i)
    for side in (duck, spark):
        # Re-ingesting a file loads nothing: on Spark the duplicates are found in scrambled tables.
        _ingest(side, again)
        _model(side)
    yield ParityWorld(duck, spark, folder)
    session = spark.store.backend._session  # type: ignore[attr-defined]
    database = session.catalog.currentDatabase()
    session.catalog.setCurrentDatabase("default")
    session.sql(f"DROP DATABASE {database} CASCADE")
    duck.store.close()
