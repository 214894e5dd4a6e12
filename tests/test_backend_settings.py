"""``[backend]`` in journeylens.toml: Spark masters, Spark Connect, Spark settings, catalog and
database; bad values named with the file, the line and the field; a Spark URL that does not
answer fails within its timeout. (The cluster itself runs in tests/parity/test_cluster.py.)"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

import journeylens as jl
from journeylens._toml_lines import line_of_key as line_of
from journeylens.config import Config
from journeylens.errors import BackendError, ConfigError
from journeylens.store import Store
from journeylens.store.settings import BackendSettings, SparkTarget, spark_target


def _open_with(tmp_path: Path, backend: str) -> Path:
    """A workspace whose ``[backend]`` section is ``backend``; returns its journeylens.toml."""
    ws = jl.Workspace.init(tmp_path / "w")
    ws.close()
    path = ws.root / "journeylens.toml"
    text = path.read_text()
    start = text.index("\n[backend]\n") + 1
    end = text.index("\n[privacy]\n") + 1
    path.write_text(text[:start] + backend + "\n" + text[end:])
    return path


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("pyspark://", SparkTarget("local", "local[2]")),
        ("local[*]", SparkTarget("local", "local[*]")),
        ("local[4]", SparkTarget("local", "local[4]")),
        ("spark://10.0.0.5:7077", SparkTarget("master", "spark://10.0.0.5:7077", (("10.0.0.5", 7077),))),
        (
            "spark://m1:7077,m2:7077",
            SparkTarget("master", "spark://m1:7077,m2:7077", (("m1", 7077), ("m2", 7077))),
        ),
        (
            "sc://adb-1.azuredatabricks.net:443/;token=abc;x-databricks-cluster-id=0123",
            SparkTarget(
                "connect",
                "sc://adb-1.azuredatabricks.net:443/;token=abc;x-databricks-cluster-id=0123",
                (("adb-1.azuredatabricks.net", 443),),
            ),
        ),
        ("duckdb://x.duckdb", None),
        ("postgres://u@h/db", None),
    ],
)
def test_spark_urls_name_a_local_session_a_master_or_a_connect_server(
    url: str, target: SparkTarget | None
) -> None:
    assert spark_target(url) == target
    assert BackendSettings(url=url).url == url


def test_spark_settings_catalog_and_database_are_read(tmp_path: Path) -> None:
    path = _open_with(
        tmp_path,
        '[backend]\nurl = "spark://127.0.0.1:7077"\ncatalog = "main"\ndatabase = "cx"\n'
        "connect_timeout = 5\n\n[backend.spark_conf]\n"
        'spark.executor.memory = "2g"\n"spark.sql.shuffle.partitions" = 64\n'
        "spark.dynamicAllocation.enabled = true\n",
    )
    backend = Config.load(path).backend
    assert (backend.catalog, backend.database, backend.connect_timeout) == ("main", "cx", 5)
    assert backend.spark_conf == {
        "spark.executor.memory": "2g",
        "spark.sql.shuffle.partitions": "64",
        "spark.dynamicAllocation.enabled": "true",
    }
    assert backend.spark() == SparkTarget("master", "spark://127.0.0.1:7077", (("127.0.0.1", 7077),))


@pytest.mark.parametrize(
    ("backend", "line", "field", "problem"),
    [
        ('[backend]\nurl = "spak://m:7077"\n', 2, "backend.url", "unknown backend URL scheme"),
        ('[backend]\nurl = "spark://master"\n', 2, "backend.url", "needs a host and a port"),
        ('[backend]\nurl = "sc://"\n', 2, "backend.url", "needs a host and a port"),
        ('[backend]\nurl = "local[0]"\n', 2, "backend.url", "unknown backend URL scheme"),
        ('[backend]\nurl = "pyspark://"\nmaster = "local"\n', 3, "backend.master", "unknown setting"),
        (
            '[backend]\nurl = "pyspark://"\n\n[backend.spark_conf]\nexecutor.memory = "2g"\n',
            4,
            "backend.spark_conf",
            "start with 'spark.'; got executor.memory",
        ),
        ('[backend]\nurl = "duckdb://x.duckdb"\ndatabase = "cx"\n', 1, "backend", "apply to Spark URLs only"),
        ('[backend]\nurl = "pyspark://"\ndatabase = "my-db"\n', 3, "backend.database", "should match"),
        ('[backend]\nurl = "sc://h:15002"\nconnect_timeout = 0\n', 3, "backend.connect_timeout", "greater"),
    ],
)
def test_bad_backend_settings_name_the_file_line_field_and_a_hint(
    tmp_path: Path, backend: str, line: int, field: str, problem: str
) -> None:
    path = _open_with(tmp_path, backend)
    with pytest.raises(ConfigError) as info:
        Config.load(path)
    message = str(info.value)
    first = path.read_text().split("\n").index("[backend]")
    assert f"{path}, line {first + line}: field '{field}'" in message
    assert problem in message
    assert "Hint:" in message


def test_line_of_finds_keys_tables_and_dotted_keys() -> None:
    text = '[a]\nx = 1\n\n[a.b]\n"c.d" = 2\ne.f = 3\n[[g]]\nh = 4\n'
    assert line_of(text, ("a", "x")) == 2
    assert line_of(text, ("a", "b", "c.d")) == 5
    assert line_of(text, ("a", "b", "e", "f")) == 6
    assert line_of(text, ("a", "b", "zz")) == 4
    assert line_of(text, ("g", 0, "h")) == 8  # arrays of tables are indexed, as pydantic locates them
    assert line_of(text, ("privacy",)) == 0


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.spark
@pytest.mark.parametrize("scheme", ["spark", "sc"])
def test_a_spark_url_that_does_not_answer_fails_in_bounded_time(tmp_path: Path, scheme: str) -> None:
    url = f"{scheme}://127.0.0.1:{_closed_port()}"
    began = time.monotonic()
    with pytest.raises(BackendError) as info:
        settings = BackendSettings(url=url, connect_timeout=2)
        Store.connect(url, timezone="UTC", root=tmp_path, settings=settings)
    assert time.monotonic() - began < 10
    assert url in str(info.value) and "does not answer" in str(info.value)
    assert "connect_timeout" in str(info.value)


@pytest.mark.spark
def test_a_connect_server_of_another_major_version_is_named() -> None:
    """A Spark 3.5 server (Databricks Runtime 13-15) behind ``sc://`` with a pyspark 4 client."""
    import pyspark

    from journeylens.store._spark import _check_session

    class OldServer:
        version = "3.5.1"

    target = spark_target("sc://127.0.0.1:15002")
    assert target is not None
    with pytest.raises(BackendError) as info:
        _check_session("sc://127.0.0.1:15002", target, OldServer())
    message = str(info.value)
    assert "Spark 3.5.1" in message and f"pyspark {pyspark.__version__}" in message
    assert "same major version" in message


_SILENT_CONNECT = """
import contextlib, socket, sys, tempfile, threading, time
from pathlib import Path
from journeylens.errors import BackendError
from journeylens.store import Store
from journeylens.store.settings import BackendSettings

listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(8)
listener.settimeout(0.2)
stop = threading.Event()

def accept_and_close():
    while not stop.is_set():
        with contextlib.suppress(OSError):
            listener.accept()[0].close()

threading.Thread(target=accept_and_close, daemon=True).start()
url = f"sc://127.0.0.1:{listener.getsockname()[1]}"
began = time.monotonic()
try:
    Store.connect(url, timezone="UTC", root=Path(tempfile.mkdtemp()),
                  settings=BackendSettings(url=url, connect_timeout=2))
    print("CONNECTED")
except BackendError as exc:
    print(f"SECONDS {time.monotonic() - began:.1f}")
    print(f"URL {url}")
    print(exc)
stop.set()
"""


@pytest.mark.spark
def test_a_port_that_accepts_but_is_no_connect_server_fails_in_bounded_time() -> None:
    """gRPC would retry such a port for minutes; the first answer must come within the timeout,
    and the process must then exit (pyspark's exit hook used to retry for minutes). A process of
    its own: a classic session left by other tests would refuse any Connect session up front."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _SILENT_CONNECT], capture_output=True, text=True, timeout=90, check=False
    )
    out = done.stdout
    assert done.returncode == 0, done.stderr[-2000:]
    assert "CONNECTED" not in out and "SECONDS" in out, out + done.stderr[-2000:]
    seconds = float(out.split("SECONDS ", 1)[1].split()[0])
    url = out.split("URL ", 1)[1].split()[0]
    assert seconds < 10
    assert url in out and "no Spark Connect answer" in out


def test_working_tables_are_temporary_only_when_they_fit_in_a_quarter_of_memory() -> None:
    import ibis

    from journeylens.store._working import WORKING_ROW_BYTES, fits_in_memory, keep_columns

    store = Store.connect("duckdb://", timezone="UTC")
    backend = store.backend
    backend.raw_sql("SET memory_limit = '100MB'")  # DuckDB reports 95.3 MiB
    most = int(95.3 * 2**20 / 4 // WORKING_ROW_BYTES)  # events in a quarter of it

    def events(n: int) -> ibis.Table:
        return backend.sql(f"SELECT * FROM range({n})")

    assert fits_in_memory(backend, events(most - 10))
    assert not fits_in_memory(backend, events(most + 10))
    backend.raw_sql("SET memory_limit = '20GB'")
    assert fits_in_memory(backend, events(4_000_000))
    # Dropping the working columns of a stored table keeps its rows and the columns asked for.
    backend.create_table("t", ibis.memtable({"a": [1, 2], "b": ["x", "y"], "c": [True, False]}))
    assert keep_columns(backend, "t", ["a", "c"]).to_pyarrow().to_pylist() == [
        {"a": 1, "c": True},
        {"a": 2, "c": False},
    ]
    store.close()
