"""Benchmark stages for journey maps: ``map check`` of a purchase map next to hand-written DuckDB
SQL that decides the same verdicts (CJML deviation counts and Declare rules per journey), and next
to pm4py's ``conformance_declare`` deciding the map's Declare rules (the peer).

The floor computes only the per-journey verdicts; ``map_check`` computes the whole check (verdicts
plus shares, costs, patterns, timing and KPIs), so the ratio is an upper bound of the overhead
of the verdicts. Both write their verdict counts, so a run can check that they agree.

``map_monitor`` watches the world's designed purchase map (the demo's: six stages with time
targets, about twenty daily series) next to the journeys summary per day of the same journeys, the
summary the monitor's series refine (issue 14: under 2x its time); the monitor also reads the
journeys' events (the stage of each) and runs the budgeted CUSUM over every series.

pm4py runs as a process of its own (``scripts/pm4py_declare_peer.py``: AGPL, test-only) on a CSV
of the purchase journeys' events written beforehand (untimed), as ``pm4py_e2e`` does; its time
includes starting Python, pandas and pm4py and reading the CSV, and it also reports the seconds
``conformance_declare`` alone took. pm4py's response template has no time window, so it decides
``response add_to_cart -> order_confirmation`` without the map's ``within 2h``.
"""

from __future__ import annotations

import json
from pathlib import Path

from journeylens.benchmark.discovery_stages import PM4PY_PEER, _world_duckdb
from journeylens.benchmark.stages import JOURNEYS, WORLD, preparation, stage
from journeylens.errors import InputError
from journeylens.journeys.summary import journey_summary
from journeylens.maps._demo_maps import DEMO_MAPS
from journeylens.maps.check import check_map
from journeylens.maps.loading import parse_map
from journeylens.maps.model import DEVIATION_KINDS, JourneyMap
from journeylens.maps.monitor import monitor_journey_map
from journeylens.specs.maps import MapMonitorSpec
from journeylens.specs.summary import JourneySummarySpec
from journeylens.workspace import Workspace

VERDICTS = "map_verdicts-{stage}.json"
"""Each stage writes (journeys, conforming, journeys per deviation kind, journeys per rule) here."""

STAGES = [
    ("discover", ["home", "search", "category_page", "product_page", "product_reviews"], True),
    ("cart", ["add_to_cart"], False),
    ("pay", ["checkout", "payment", "payment_error"], True),
    ("confirm", ["order_confirmation", "order_confirmation_email"], True),
]
UNPLANNED = ["payment_call"]
PURCHASE_MAP = JourneyMap.model_validate(
    {
        "journey_type": "purchase",
        "name": "purchase",
        "goal": "Buy without help",
        "stages": [{"name": n, "touchpoints": tps, "required": req} for n, tps, req in STAGES],
        "unplanned": [{"name": "call about payment", "touchpoints": UNPLANNED}],
        "rules": [
            {"rule": "response", "first": "add_to_cart", "then": "order_confirmation", "within": "2h"},
            {"rule": "precedence", "first": "product_page", "then": "add_to_cart"},
            {"rule": "chain_response", "first": "checkout", "then": "payment"},
            {"rule": "existence", "activity": "product_page"},
            {"rule": "absence", "activity": "payment_error"},
        ],
    }
)


def _in(names: list[str]) -> str:
    return "(" + ", ".join(f"'{n}'" for n in names) + ")"


def floor_sql() -> str:
    """The verdicts as a person fluent in DuckDB would write them: one staged pass with windows,
    one aggregate per journey."""
    rank = " ".join(f"WHEN e.touchpoint IN {_in(tps)} THEN {i}" for i, (_, tps, _) in enumerate(STAGES))
    missing = " + ".join(
        f"(count(*) FILTER (WHERE rank = {i}) = 0)::INT" for i, (_, _, req) in enumerate(STAGES) if req
    )
    return f"""
CREATE OR REPLACE TEMP TABLE floor_map_events AS
SELECT je.journey_id, je.step, e.touchpoint, epoch(e.timestamp)::BIGINT AS t, j.outcome,
       CASE {rank} END AS rank
FROM journey_events je JOIN journeys j USING (journey_id) JOIN events e USING (event_id)
WHERE j.journey_type = 'purchase';
CREATE OR REPLACE TEMP TABLE floor_map_verdicts AS
SELECT journey_id,
       count(*) FILTER (WHERE rank IS NULL AND touchpoint NOT IN {_in(UNPLANNED)}) AS ad_hoc,
       count(*) FILTER (WHERE rank < reached) AS irregular,
       {missing} AS missing,
       (any_value(outcome) IN ('failed', 'abandoned'))::INT AS failed,
       bool_or(touchpoint = 'add_to_cart' AND (next_confirm IS NULL OR next_confirm - t > 7200)) AS r1,
       coalesce(min(step) FILTER (WHERE touchpoint = 'add_to_cart')
                < coalesce(min(step) FILTER (WHERE touchpoint = 'product_page'), 1e18), FALSE) AS r2,
       bool_or(touchpoint = 'checkout' AND coalesce(next_tp, '') <> 'payment') AS r3,
       count(*) FILTER (WHERE touchpoint = 'product_page') = 0 AS r4,
       bool_or(touchpoint = 'payment_error') AS r5
FROM (
    SELECT *, max(rank) OVER (PARTITION BY journey_id ORDER BY step) AS reached,
           lead(touchpoint) OVER (PARTITION BY journey_id ORDER BY step) AS next_tp,
           min(CASE WHEN touchpoint = 'order_confirmation' THEN t END) OVER (
               PARTITION BY journey_id ORDER BY step ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING
           ) AS next_confirm
    FROM floor_map_events
) GROUP BY journey_id;
"""


def _counts(rows: list[tuple[int, ...]]) -> list[int]:
    return [int(v or 0) for v in rows[0]]


@stage(
    "floor_map_check",
    "hand-written DuckDB SQL: per-journey CJML deviations and Declare verdicts of a map (the floor)",
    needs=JOURNEYS,
)
def floor_map_check(data: Path, work: Path) -> int:
    con = _world_duckdb(work)
    con.execute(floor_sql())
    summary = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE ad_hoc + irregular + missing + failed = 0 AND NOT "
        "(r1 OR r2 OR r3 OR r4 OR r5)), count(*) FILTER (WHERE ad_hoc > 0), count(*) FILTER (WHERE "
        "irregular > 0), count(*) FILTER (WHERE failed > 0), count(*) FILTER (WHERE missing > 0), "
        "count(*) FILTER (WHERE r1), count(*) FILTER (WHERE r2), count(*) FILTER (WHERE r3), "
        "count(*) FILTER (WHERE r4), count(*) FILTER (WHERE r5) FROM floor_map_verdicts"
    ).fetchall()
    rows = con.execute("SELECT count(*) FROM floor_map_events").fetchone()
    con.close()
    (work / VERDICTS.format(stage="floor_map_check")).write_text(json.dumps(_counts(summary)))
    return int(rows[0]) if rows else 0


@stage(
    "map_check",
    "map check of a purchase map: verdicts, shares, costs, patterns, timing",
    floor="floor_map_check",
    needs=JOURNEYS,
    peer="pm4py_declare",
)
def map_check_stage(data: Path, work: Path) -> int:
    ws = Workspace.open(work / WORLD)
    result = check_map(ws.store, PURCHASE_MAP, rules=ws.config.journeys)
    group = result.groups[0]
    kinds = {r["kind"]: r["journeys"] for r in result.deviations if r["scope"] == "kind"}
    counts = [group["journeys"], group["conforming"], *(kinds.get(k, 0) for k in DEVIATION_KINDS)]
    counts += [r["journeys"] for r in result.rules]
    journeys = ws.store.backend.table("journeys")
    je = ws.store.backend.table("journey_events")
    events = je.semi_join(journeys.filter(journeys.journey_type == "purchase"), "journey_id").count()
    rows = int(ws.store.execute(events).as_py())
    ws.close()
    (work / VERDICTS.format(stage="map_check")).write_text(json.dumps(counts))
    return rows


PURCHASE_LOG = "purchase_log"
PURCHASE_FILE = "purchase_process.csv"
DECLARE_PEER = PM4PY_PEER.with_name("pm4py_declare_peer.py")
PM4PY_TEMPLATES = {"existence": "existence", "absence": "absence", "response": "response",
                   "precedence": "precedence", "chain_response": "chainresponse"}  # fmt: skip


def pm4py_rules(journey_map: JourneyMap) -> list[list[object]]:
    """The map's rules in pm4py's Declare terms: ``[template, activity]`` or ``[template, [a, b]]``
    (activities are touchpoints here; a rule's ``within`` has no pm4py equivalent)."""
    out: list[list[object]] = []
    for rule in journey_map.rules:
        names = rule.names()
        key: object = names["activity"] if "activity" in names else [names["first"], names["then"]]
        out.append([PM4PY_TEMPLATES[rule.rule], key])
    return out


@preparation(PURCHASE_LOG, after=JOURNEYS)
def write_purchase_log(data: Path, work: Path, memory_limit: str | None) -> int:
    """The events of the purchase journeys as a pm4py CSV log, in step order."""
    con = _world_duckdb(work)
    path = str(work / PURCHASE_FILE)
    con.execute(
        f"""COPY (
            SELECT je.journey_id AS "case:concept:name", e.touchpoint AS "concept:name",
                   strftime(e.timestamp AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%gZ') AS "time:timestamp"
            FROM journey_events je JOIN journeys j USING (journey_id) JOIN events e USING (event_id)
            WHERE j.journey_type = 'purchase'
            ORDER BY je.journey_id, je.step
        ) TO '{path}' (HEADER, DELIMITER ',')"""
    )
    rows = con.execute(f"SELECT count(*) FROM read_csv('{path}')").fetchone()
    con.close()
    return int(rows[0]) if rows else 0


@stage(
    "pm4py_declare",
    "pm4py: read the purchase journeys' CSV, format_dataframe, conformance_declare of the map's "
    "rules (the peer of map_check)",
    needs=PURCHASE_LOG,
    requires=("pm4py", "test"),
)
def pm4py_declare_stage(data: Path, work: Path) -> int:
    import subprocess
    import sys

    if not DECLARE_PEER.is_file():
        raise InputError(
            f"The pm4py peer {DECLARE_PEER} is missing: it is part of the source checkout, not the package.",
            hint="Run `journeylens bench` from a clone of the repository, or leave out "
            "--stage pm4py_declare.",
        )
    rules = work / "pm4py_declare-rules.json"
    rules.write_text(json.dumps(pm4py_rules(PURCHASE_MAP)))
    out = work / VERDICTS.format(stage="pm4py_declare")
    done = subprocess.run(
        [sys.executable, str(DECLARE_PEER), str(work / PURCHASE_FILE), str(rules), str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"pm4py declare peer failed:\n{done.stderr[-2000:]}")
    return int(done.stdout.split()[-1])


MONITORED = "purchase"
"""The demo's designed map the monitor watches (its journey type: purchase)."""


@stage(
    "journeys_summary",
    "journeys summary per day of the purchase journeys (outcome rates with intervals; the floor "
    "of map_monitor; rows: days)",
    needs=JOURNEYS,
)
def journeys_summary_stage(data: Path, work: Path) -> int:
    ws = Workspace.open(work / WORLD)
    spec = JourneySummarySpec(by="period", period="day", journey_type=MONITORED)
    rows = len(journey_summary(ws.store, spec).rows)
    ws.close()
    return rows


@stage(
    "map_monitor",
    "map monitor of the demo purchase map: every stage metric as a daily series, budgeted CUSUM "
    "alerts (rows: series watched)",
    floor="journeys_summary",
    needs=JOURNEYS,
)
def map_monitor_stage(data: Path, work: Path) -> int:
    ws = Workspace.open(work / WORLD)
    journey_map = parse_map(DEMO_MAPS[MONITORED], Path(f"{MONITORED}.yaml"))
    result = monitor_journey_map(ws.store, journey_map, MapMonitorSpec(map=MONITORED))
    series = int(result.to_dict()["series"])
    ws.close()
    return series
