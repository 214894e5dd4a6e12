"""The pipeline cases on a real Spark standalone cluster and through Spark Connect: equal to DuckDB.

A master and two one-core workers are started on 127.0.0.1 from the pyspark package's own
``spark-class`` (see ``journeylens.benchmark._standalone``); then a Spark Connect server from its
``sbin/start-connect-server.sh``, whose jobs run on the same cluster. Each side is built in a
process of its own (``remote_side.py``) from a workspace whose journeylens.toml names the engine
(``spark://127.0.0.1:PORT``, then ``sc://127.0.0.1:PORT``), its database and Spark settings, and
runs the pipeline cases of ``remote_side.CLUSTER_CASES`` on the inputs of
``remote_side.CLUSTER_SOURCES``, with the raw tables scrambled before stitching as in the parity
suite. DuckDB builds the same inputs here. The daemons are stopped (process groups ended) however
the tests end.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import journeylens
from journeylens.benchmark._standalone import HOST, WORKERS, Cluster, spark_env
from journeylens.store import Store
from parity.cases import CASES, differences
from parity.conftest import ZONE, Side, _ingest, _model, world_config
from parity.remote_side import CLUSTER_CASES, cluster_inputs

pytestmark = pytest.mark.spark

SIDE_SECONDS = 600
"""One side's whole run (session, ingest, stitch, journeys, cases). Under a load average of 17-25 on
two cores a side took up to 463 s; an idle machine needs a fraction of that."""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("spark-cluster")
    running = Cluster(root, spark_env(root))
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, Path]]:
    """The input files, written once: both engines read the same paths (reports name them)."""
    return cluster_inputs(tmp_path_factory.mktemp("cluster-inputs"))


@pytest.fixture(scope="module")
def duckdb_results(sources: list[tuple[str, Path]]) -> dict[str, Any]:
    side = Side("duckdb", Store.connect("duckdb://", timezone=ZONE), world_config())
    _ingest(side, sources)
    _model(side)
    results = {name: CASES[name].run(side) for name in CLUSTER_CASES}
    side.store.close()
    for name, result in results.items():
        assert result, f"{name}: the DuckDB result is empty, so the comparison would prove nothing"
    return results


def _run_side(url: str, cluster: Cluster, sources: list[tuple[str, Path]], folder: Path) -> dict[str, Any]:
    """Build the Spark side in a fresh process on the workspace at ``folder``; its results."""
    config = world_config()
    config.backend.url = url
    config.backend.database = "jl_cluster"
    config.backend.spark_conf = {"spark.sql.shuffle.partitions": "4"}
    if url.startswith("spark://"):
        # Static settings of the driver this process becomes; a Connect server has its own.
        config.backend.spark_conf |= {
            "spark.driver.host": HOST,
            "spark.driver.bindAddress": HOST,
            "spark.executor.memory": "768m",
            "spark.sql.warehouse.dir": str(folder / "warehouse"),
        }
    folder.mkdir(parents=True)
    config.dump(folder / "journeylens.toml")
    (folder / "sources.pickle").write_bytes(pickle.dumps(sources))
    paths = [str(Path(journeylens.__file__).parents[1]), str(Path(__file__).parents[1])]
    env = cluster.env | {"PYTHONPATH": os.pathsep.join([*paths, os.environ.get("PYTHONPATH", "")])}
    out = folder / "results.pickle"
    done = subprocess.run(
        [sys.executable, "-m", "parity.remote_side", str(folder), str(folder / "sources.pickle"), str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=SIDE_SECONDS,
        check=False,
    )
    if done.returncode:
        tail = "\n".join(done.stderr.splitlines()[-30:])
        pytest.fail(f"the Spark side on {url} failed ({done.returncode}):\n{tail}", pytrace=False)
    side: dict[str, Any] = pickle.loads(out.read_bytes())
    return side


def _assert_agree(engine: str, duck: dict[str, Any], spark: dict[str, Any]) -> None:
    problems = []
    for name in CLUSTER_CASES:
        found = differences(duck[name], spark[name], CASES[name].tolerances)
        problems += [f"{name}: {line}" for line in found[:10]]
    assert not problems, f"{engine} differs from DuckDB:\n" + "\n".join(problems)


def test_standalone_cluster_with_two_workers_agrees_with_duckdb(
    cluster: Cluster, sources: list[tuple[str, Path]], duckdb_results: dict[str, Any], tmp_path: Path
) -> None:
    side = _run_side(cluster.url, cluster, sources, tmp_path / "ws")
    facts = side["facts"]
    assert facts["master"] == cluster.url and facts["database"] == "jl_cluster"
    # The driver and one executor per worker, each a JVM of its own.
    assert len(facts["executors"]) == 1 + WORKERS, facts["executors"]
    _assert_agree("the standalone cluster", duckdb_results, side["results"])


def test_spark_connect_server_agrees_with_duckdb(
    cluster: Cluster, sources: list[tuple[str, Path]], duckdb_results: dict[str, Any], tmp_path: Path
) -> None:
    url = cluster.start_connect_server()
    side = _run_side(url, cluster, sources, tmp_path / "ws")
    facts = side["facts"]
    # The Connect server's jobs ran on the cluster; the client only speaks gRPC.
    assert facts["master"] == cluster.url and facts["database"] == "jl_cluster"
    assert "executors" not in facts
    _assert_agree("Spark Connect", duckdb_results, side["results"])
