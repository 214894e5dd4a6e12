"""The whole pipeline in one stage, on DuckDB, PySpark local and a Spark standalone cluster.

From the world's files to the answers: ingest customers, identities and events.parquet into a new
workspace, stitch, build journeys, then the process map, variants and the 20-step funnel. The only
difference between the two stages is ``[backend] url`` in the workspace's ``journeylens.toml`` —
``duckdb://`` or ``pyspark://`` — which is how a user moves to Spark (see docs/scale.md). Spark
runs in local mode on this machine's cores with a driver heap of :data:`SPARK_DRIVER_MEMORY`.

``pipeline_spark_standalone`` starts a standalone master and two one-core workers on 127.0.0.1
from the pyspark package (``benchmark._standalone``), runs the same pipeline with ``[backend] url =
'spark://127.0.0.1:PORT'`` and stops the daemons, also when the pipeline fails. It runs only when
named (``--stage``): it starts three JVMs besides the driver's.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from journeylens.benchmark._standalone import HOST, Cluster, spark_env
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
WORKER_MEMORY, EXECUTOR_MEMORY, CLIENT_DRIVER_MEMORY = "4g", "3g", "2g"
"""A standalone worker (one core), the executor it runs, and the driver (this process's JVM), which
on a cluster only plans jobs and ships the ingest batches."""


def _pipeline(data: Path, work: Path, name: str, url: str, spark_conf: dict[str, str] | None = None) -> int:
    ws = _fresh_workspace(work, name)
    ws.config.backend.url = url
    ws.config.backend.spark_conf = spark_conf or {}
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


@stage(
    "pipeline_spark_standalone",
    "the same pipeline on a Spark standalone master + 2 one-core workers on 127.0.0.1, started and "
    "stopped by the stage (timed too; rows: events mapped). Only with --stage",
    floor="pipeline_duckdb",
    requires=("pyspark", "spark"),
    explicit=True,
)
def pipeline_spark_standalone(data: Path, work: Path) -> int:
    name = "pipeline_spark_standalone"
    root = work / f"{name}-cluster"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    env = spark_env(root)
    cluster = Cluster(root, env, worker_memory=WORKER_MEMORY)
    seconds: dict[str, float] = {}
    try:
        start = time.perf_counter()
        cluster.start()
        seconds["cluster_start"] = time.perf_counter() - start
        # This process becomes the cluster's driver: the same Spark and Java as the daemons.
        os.environ.update(
            {k: env[k] for k in ("SPARK_HOME", "JAVA_HOME", "SPARK_LOCAL_IP", "PYSPARK_PYTHON")}
        )
        os.environ.setdefault("PYSPARK_SUBMIT_ARGS", f"--driver-memory {CLIENT_DRIVER_MEMORY} pyspark-shell")
        conf = {
            "spark.driver.host": HOST,
            "spark.driver.bindAddress": HOST,
            "spark.executor.memory": EXECUTOR_MEMORY,
            "spark.sql.shuffle.partitions": "4",
            "spark.ui.enabled": "false",
            "spark.sql.warehouse.dir": str(root / "warehouse"),
        }
        start = time.perf_counter()
        placed = _pipeline(data, work, name, cluster.url, conf)
        seconds["pipeline"] = time.perf_counter() - start
    finally:
        start = time.perf_counter()
        cluster.stop()
        seconds["cluster_stop"] = time.perf_counter() - start
    (work / f"{name}.json").write_text(json.dumps({k: round(v, 2) for k, v in seconds.items()}))
    return placed
