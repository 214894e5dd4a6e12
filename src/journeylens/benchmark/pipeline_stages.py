"""The whole pipeline in one stage, on DuckDB and on PySpark local: the same code, two engines.

From the world's files to the answers: ingest customers, identities and events.parquet into a new
workspace, stitch, build journeys, then the process map, variants and the 20-step funnel. The only
difference between the two stages is ``[backend] url`` in the workspace's ``journeylens.toml`` —
``duckdb://`` or ``pyspark://`` — which is how a user moves to Spark (see docs/scale.md). Spark
runs in local mode on this machine's cores with a driver heap of :data:`SPARK_DRIVER_MEMORY`.
"""

from __future__ import annotations

import os
from pathlib import Path

from journeylens.benchmark.discovery_stages import FUNNEL_WINDOW_DAYS, funnel_steps
from journeylens.benchmark.stages import _fresh_workspace, stage
from journeylens.config import CONFIG_FILE
from journeylens.discovery.dfg import process_map
from journeylens.discovery.funnel import FunnelSpec, funnel
from journeylens.discovery.variants import variants
from journeylens.identity import stitch
from journeylens.ingest import IngestSpec
from journeylens.journeys import build_journeys
from journeylens.specs.discovery import MapSpec, VariantSpec

SPARK_DRIVER_MEMORY = "8g"
"""Local mode runs everything in the driver JVM; Spark's default heap (1 GB) spills at 1M events."""


def _pipeline(data: Path, work: Path, name: str, url: str) -> int:
    ws = _fresh_workspace(work, name)
    ws.config.backend.url = url
    ws.config.privacy.default_country_code = "31"  # as in the world workspace (see stages.py)
    ws.config.dump(ws.root / CONFIG_FILE)
    for table, source in (
        ("customers", data / "world" / "customers"),
        ("identities", data / "world" / "identities"),
        ("events", data / "events.parquet"),
    ):
        ws.ingest(IngestSpec(paths=[str(source)], table=table))
    stitch(ws.store, ws.config.identity)
    build_journeys(ws.store, ws.config.journeys)
    pm = process_map(ws.store, MapSpec())
    variants(ws.store, VariantSpec(coverage=1.0))
    funnel(ws.store, FunnelSpec(steps=funnel_steps(ws.store), window=f"{FUNNEL_WINDOW_DAYS}d"))
    placed = sum(int(n["events"]) for n in pm.nodes.to_pylist())
    ws.close()
    return placed


@stage(
    "pipeline_duckdb",
    "files -> ingest, stitch, journeys, process map + variants, 20-step funnel on DuckDB "
    "(rows: events mapped)",
)
def pipeline_duckdb(data: Path, work: Path) -> int:
    return _pipeline(data, work, "pipeline_duckdb", "duckdb://journeylens.duckdb")


@stage(
    "pipeline_pyspark",
    "the same pipeline, same code, with [backend] url = 'pyspark://' (Spark local mode; rows: events mapped)",
    floor="pipeline_duckdb",
    requires=("pyspark", "spark"),
)
def pipeline_pyspark(data: Path, work: Path) -> int:
    # Read by PySpark when it starts the JVM: the standard way to size a local-mode driver.
    os.environ.setdefault("PYSPARK_SUBMIT_ARGS", f"--driver-memory {SPARK_DRIVER_MEMORY} pyspark-shell")
    return _pipeline(data, work, "pipeline_pyspark", "pyspark://")
