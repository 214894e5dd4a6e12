"""The Spark side of the cluster parity test, run in a process of its own.

Spark allows one classic session per process, and the test process already has the local one
of the parity suite; so the cluster side is built here: ``python -m parity.remote_side WORKSPACE
OUT``. The workspace's ``journeylens.toml`` names the engine (``spark://...`` or ``sc://...``),
its database and Spark settings, so the connection goes through the product's own path
(``Workspace.open(...).store``). The results of the cases are pickled to ``OUT`` with what the
session ran on.
"""

from __future__ import annotations

import pickle
import sys
import time
from pathlib import Path
from typing import Any

from journeylens.workspace import Workspace
from parity.cases import CASES
from parity.conftest import RAW_TABLES, WORLD_SEED, Side, _ingest, _model, scramble, write_inputs

CLUSTER_SOURCES = (
    "customers",
    "identities",
    "events",
    "edge_cases.csv",
    "stitch_events.csv",
    "stitch_identities.csv",
    "journey_story.csv",
)
"""The inputs of the pipeline cases: the world's customers, identities and events and the stories
about ingest, stitching and ordering (feedback, agents, experiments and decisions are left out)."""
CLUSTER_CASES = (
    "ingest_reports",
    "events",
    "quarantine",
    "customer_map",
    "journeys",
    "journey_events",
    "process_map_touchpoint",
    "variants_touchpoint",
)
"""The pipeline of ``pipeline_duckdb`` / ``pipeline_pyspark`` (ingest, stitch, journeys, process map,
variants) without its funnel: a 5-step funnel alone took 47 s on the cluster here, the whole parity
set over 10 minutes, most of it fixed cost per Spark job (planning, code generation, scheduling)."""


def cluster_inputs(folder: Path) -> list[tuple[str, Path]]:
    return [(t, p) for t, p in write_inputs(folder) if p.name in CLUSTER_SOURCES]


def session_facts(store: Any) -> dict[str, Any]:
    """What the session ran on: its master and, for a classic session, its executors."""
    session = store.backend._session
    facts: dict[str, Any] = {"master": session.conf.get("spark.master"), "version": session.version}
    facts["database"] = session.catalog.currentDatabase()
    if hasattr(session, "sparkContext") and not _is_connect(session):
        infos = session.sparkContext._jsc.sc().statusTracker().getExecutorInfos()
        facts["executors"] = sorted(f"{e.host()}:{e.port()}" for e in infos)
    return facts


def _is_connect(session: Any) -> bool:
    return type(session).__module__.startswith("pyspark.sql.connect")


def main(workspace: Path, sources: list[tuple[str, Path]], out: Path) -> None:
    seconds: dict[str, float] = {}
    began = time.monotonic()

    def lap(name: str) -> None:
        seconds[name] = round(time.monotonic() - began - sum(seconds.values()), 1)

    ws = Workspace.open(workspace)
    side = Side("spark", ws.store, ws.config)
    lap("session")
    _ingest(side, sources)
    lap("ingest")
    for i, table in enumerate(RAW_TABLES):
        if table in {t for t, _ in sources}:
            scramble(side.store, table, seed=WORLD_SEED + 2 * i)
    lap("scramble")
    _model(side)
    lap("stitch_and_journeys")
    results = {}
    for name in CLUSTER_CASES:
        results[name] = CASES[name].run(side)
        lap(name)
    facts = session_facts(side.store) | {"seconds": seconds}
    out.write_bytes(pickle.dumps({"results": results, "facts": facts}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), pickle.loads(Path(sys.argv[2]).read_bytes()), Path(sys.argv[3]))
