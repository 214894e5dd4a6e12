"""Spark sessions for the store: local, a standalone master, or a Spark Connect server.

Which one is decided by ``[backend] url`` (see :mod:`journeylens.store.settings`). PySpark is
imported only here, when a Spark URL is opened. A master or Connect server is probed with a plain
TCP connection first, so a URL that does not answer fails within ``connect_timeout`` seconds
instead of hanging while Spark retries.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ibis
from ibis.backends import BaseBackend

from journeylens.errors import BackendError
from journeylens.store.settings import BackendSettings, SparkTarget

LOCAL_DEFAULTS = {
    "spark.sql.shuffle.partitions": "4",
    "spark.ui.enabled": "false",
}
"""Local sessions only: a cluster keeps its own shuffle partitioning, web UI and warehouse."""
SESSION_DEFAULTS = {"spark.sql.ansi.enabled": "false"}
"""Every session: ibis' PySpark compiler expects non-ANSI semantics (casts that fail give NULL)."""
SESSION_HINT = (
    "Check [backend] url and [backend.spark_conf] in journeylens.toml (through Spark Connect only "
    "session settings can be set; spark.executor.* and the warehouse belong to the server), and "
    "that the server runs the installed pyspark's major version."
)
CONNECT_HINT = (
    "Use a Spark Connect server of the same major version as the installed pyspark "
    "(`pip install 'pyspark[connect]==<server version>'`, or a matching databricks-connect)."
)


def connect_spark(settings: BackendSettings, target: SparkTarget, warehouse: Path) -> BaseBackend:
    """An ibis PySpark backend on the session ``target`` names, in ``[backend]``'s catalog and
    database (created when missing), with ``[backend.spark_conf]`` applied over the defaults."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise BackendError.missing_extra("PySpark", "spark", exc) from exc
    for host, port in target.endpoints:
        _probe(settings.url, host, port, settings.connect_timeout)
    conf = dict(SESSION_DEFAULTS)
    builder = SparkSession.builder.appName("journeylens")
    connect = target.kind == "connect"
    builder = builder.remote(target.address) if connect else builder.master(target.address)
    if target.kind == "local":
        # A cluster's warehouse must be storage every executor reaches: the cluster's own default
        # or [backend.spark_conf], never a folder on the driver.
        conf |= LOCAL_DEFAULTS | {"spark.sql.warehouse.dir": str(warehouse)}
    conf |= settings.spark_conf
    for key, value in conf.items():
        builder = builder.config(key, value)
    # A Connect server is first spoken to lazily, and gRPC retries a port that accepts connections
    # but does not answer for minutes: its first answer must come in time. (A classic session is
    # created in this thread: Spark installs signal handlers there.)
    if connect:
        session = _within(settings.connect_timeout, settings.url, lambda: _answering(builder))
    else:
        session = _within(None, settings.url, builder.getOrCreate)
    _check_session(settings.url, target, session)
    _use_database(session, settings)
    return ibis.pyspark.connect(session)


def _answering(builder: Any) -> Any:
    session = builder.getOrCreate()
    _ = session.version  # the first round trip to the server
    return session


def _abandon_connect_clients() -> None:
    """Mark the Spark Connect clients of a session that never answered as closed.

    pyspark registers an exit hook per client that calls the server again with retries; for a
    server that never answers that hook kept the process from exiting for minutes after the error.
    """
    import gc

    try:
        from pyspark.sql.connect.client.core import SparkConnectClient
    except ImportError:  # the classic client only: nothing to abandon
        return
    for obj in gc.get_objects():
        if isinstance(obj, SparkConnectClient):
            obj._closed = True


def _within(seconds: float | None, url: str, call: Callable[[], Any]) -> Any:
    """``call()``, or a BackendError when it fails or (``seconds`` given) has not returned in time.

    With a limit the call runs in a daemon thread, so a hung gRPC call never keeps the process alive.
    """
    if seconds is None:
        try:
            return call()
        except Exception as exc:  # py4j, gRPC and Spark errors have no common base
            raise BackendError.spark_session(url, f"no session: {exc}", SESSION_HINT) from exc
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["session"] = call()
        except Exception as exc:  # py4j, gRPC and Spark errors have no common base
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="journeylens-spark-connect", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        _abandon_connect_clients()
        silent = TimeoutError("the TCP connection was accepted, no Spark Connect answer came")
        raise BackendError.unreachable(url, "its gRPC port", seconds, silent)
    if "error" in outcome:
        error = outcome["error"]
        raise BackendError.spark_session(url, f"no session: {error}", SESSION_HINT) from error
    return outcome["session"]


def _probe(url: str, host: str, port: int, seconds: float) -> None:
    try:
        socket.create_connection((host, port), timeout=seconds).close()
    except OSError as exc:
        raise BackendError.unreachable(url, f"{host}:{port}", seconds, exc) from exc


def _check_session(url: str, target: SparkTarget, session: Any) -> None:
    """A classic session that already exists in the process wins over the URL (Spark has one per
    process); when it runs elsewhere than the URL says, that is an error, not a silent switch.
    A Connect server must speak the client's major version."""
    import pyspark

    if target.kind == "connect":
        server = str(session.version)
        if server.split(".", 1)[0] != pyspark.__version__.split(".", 1)[0]:
            raise BackendError.spark_session(
                url,
                f"the Spark Connect server runs Spark {server}; this client is pyspark "
                f"{pyspark.__version__}, another major version",
                CONNECT_HINT,
            )
        return
    master = session.sparkContext.master
    if target.kind == "master" and master != target.address:
        raise BackendError.spark_session(
            url,
            f"this process already has a Spark session on {master!r}",
            "Open the workspace in a fresh process, or set [backend] url to 'pyspark://' to use "
            "the existing session.",
        )


def _use_database(session: Any, settings: BackendSettings) -> None:
    if settings.catalog:
        session.catalog.setCurrentCatalog(settings.catalog)
    if settings.database:
        session.sql(f"CREATE DATABASE IF NOT EXISTS `{settings.database}`")
        session.catalog.setCurrentDatabase(settings.database)
