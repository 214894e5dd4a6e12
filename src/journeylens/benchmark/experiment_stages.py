"""Benchmark stages for experiments (issue 17): ``journeylens experiment`` with CUPED next to a
hand-written DuckDB query of the same per-variant sufficient statistics.

The world's assignments (experiment ``checkout_redesign``) are ingested into the world workspace
once journeys are built (untimed). ``experiment_cuped`` runs the whole analysis: units and their
exposure, the per-unit metric values after exposure and in the 30 days before (the CUPED
covariate), per-variant sums, the exclusions and SRM check, and the statistics in Python. The
floor computes, in one query, per variant the unit count and for each metric the sum, sum of
squares, pre-period sum, pre-period sum of squares and cross-product — what the engine hands to
Python. Both write their units per variant, so a run can check that they agree. Metrics: ``converted`` (a
proportion: the unit's max) and ``value`` (a mean: the unit's sum), both CUPED-adjusted.
"""

from __future__ import annotations

import json
from pathlib import Path

from journeylens.benchmark.discovery_stages import _world_duckdb
from journeylens.benchmark.stages import CUSTOMER_JOIN, JOURNEYS, WORLD, preparation, stage
from journeylens.experiments.experiment import experiment
from journeylens.ingest import IngestSpec
from journeylens.specs.experiment import ExperimentSpec
from journeylens.workspace import Workspace

ASSIGNED = "assignments_ingested"
EXPERIMENT = "checkout_redesign"
SPEC = ExperimentSpec(name=EXPERIMENT, metric=["converted", "value"], cuped=True)
UNITS = "experiment_units-{stage}.json"
"""Each stage writes its units per variant here, so a run can check that they agree."""

FLOOR_SQL = f"""
WITH assigned AS (
    SELECT coalesce(by_user.customer_id, by_anon.customer_id) AS unit, e.variant, e.timestamp
{CUSTOMER_JOIN.replace("FROM events e", "FROM assignments e")}    WHERE e.experiment = $name
),
units AS (
    SELECT unit, min(variant) AS variant, min(timestamp) AS exposure
    FROM assigned WHERE unit IS NOT NULL GROUP BY unit HAVING count(DISTINCT variant) = 1
),
per_unit AS (
    SELECT u.variant,
           coalesce(max(CASE WHEN j.start >= u.exposure THEN (j.outcome = 'success')::INT ELSE 0 END), 0)
               AS cx,
           coalesce(max(CASE WHEN j.start < u.exposure AND j.start >= u.exposure - to_days($pre)
                        THEN (j.outcome = 'success')::INT ELSE 0 END), 0) AS cp,
           coalesce(sum(CASE WHEN j.start >= u.exposure THEN coalesce(j.value, 0) ELSE 0 END), 0) AS vx,
           coalesce(sum(CASE WHEN j.start < u.exposure AND j.start >= u.exposure - to_days($pre)
                        THEN coalesce(j.value, 0) ELSE 0 END), 0) AS vp
    FROM units u LEFT JOIN journeys j ON j.customer_id = u.unit
    GROUP BY u.unit, u.variant
)
SELECT variant, count(*) AS n,
       sum(cx), sum(cx * cx), sum(cp), sum(cp * cp), sum(cx * cp),
       sum(vx), sum(vx * vx), sum(vp), sum(vp * vp), sum(vx * vp)
FROM per_unit GROUP BY variant ORDER BY variant
"""


@preparation(ASSIGNED, after=JOURNEYS)
def ingest_assignments(data: Path, work: Path, memory_limit: str | None) -> int:
    ws = Workspace.open(work / WORLD)
    spec = IngestSpec(paths=[str(data / "world" / "assignments")], table="assignments")
    loaded = sum(r.loaded for r in ws.ingest(spec))
    ws.close()
    return loaded


@stage(
    "floor_experiment",
    "hand-written DuckDB SQL: units, exposure, per-unit metrics after and before exposure, "
    "per-variant sums, squares and cross-products in one query (the floor)",
    needs=ASSIGNED,
    unit="units",
)
def floor_experiment(data: Path, work: Path) -> int:
    con = _world_duckdb(work)
    rows = con.execute(FLOOR_SQL, {"name": EXPERIMENT, "pre": SPEC.pre_days}).fetchall()
    con.close()
    units = {str(r[0]): int(r[1]) for r in rows}
    (work / UNITS.format(stage="floor_experiment")).write_text(json.dumps(units))
    return sum(units.values())


@stage(
    "experiment_cuped",
    "journeylens experiment with CUPED (converted, value): units, per-variant sums, SRM, tests",
    floor="floor_experiment",
    needs=ASSIGNED,
    unit="units",
)
def experiment_cuped(data: Path, work: Path) -> int:
    ws = Workspace.open(work / WORLD)
    result = experiment(ws.store, SPEC)
    ws.close()
    if not result.records():
        raise RuntimeError("the experiment compared nothing")
    units = {v["variant"]: v["units"] for v in result.context["variants"]}
    (work / UNITS.format(stage="experiment_cuped")).write_text(json.dumps(units))
    return sum(units.values())
