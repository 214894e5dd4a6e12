"""A Spark standalone cluster and a Spark Connect server on 127.0.0.1, from the pyspark package.

Used by the ``pipeline_spark_standalone`` benchmark stage and by the cluster parity tests
(tests/parity/test_cluster.py); nothing in the product starts a cluster.

Everything is started from the installed ``pyspark`` package (its ``bin/spark-class`` and
``sbin/start-connect-server.sh``; the Connect server's jar is in ``pyspark/jars``): nothing is
downloaded. Every daemon runs in a process group of its own, which :meth:`Daemon.stop` ends, and
listens on ports picked free just before it starts. Logs, work and pid files stay under one
temporary folder, so a developer's own ``SPARK_CONF_DIR`` or pid files never interfere.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
WORKERS = 2
WORKER_MEMORY = "1g"
"""The default worker size (the parity tests' small inputs); the benchmark stage gives more."""
STARTUP_SECONDS = 90
"""A daemon that has not said it is ready by then has failed (the JVMs start in 5-15 s here)."""


class ClusterError(RuntimeError):
    """A daemon of the local cluster could not start (its log's tail is in the message)."""


def spark_home() -> Path:
    """The pyspark package folder: it is a complete SPARK_HOME (bin/, sbin/, jars/)."""
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def java_home() -> Path:
    """JAVA_HOME if it names a JDK/JRE, else the one the ``java`` on PATH belongs to."""
    given = os.environ.get("JAVA_HOME")
    if given and (Path(given) / "bin" / "java").exists():
        return Path(given)
    java = shutil.which("java")
    if java is None:
        raise ClusterError(
            "Java 17 is missing (no JAVA_HOME, no java on PATH): scripts/run_tests.py installs "
            "openjdk-17-jre-headless; the cluster tests must not skip."
        )
    return Path(java).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def spark_env(root: Path) -> dict[str, str]:
    """The environment of the daemons and of the driver processes that use them."""
    conf = root / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "SPARK_HOME": str(spark_home()),
        "JAVA_HOME": str(java_home()),
        "SPARK_LOCAL_IP": HOST,
        "SPARK_CONF_DIR": str(conf),
        "SPARK_LOG_DIR": str(root / "logs"),
        "SPARK_PID_DIR": str(root / "pids"),
        "SPARK_DAEMON_MEMORY": "512m",
        # The standalone REST submission server listens on a fixed port (6066) otherwise.
        "SPARK_MASTER_OPTS": "-Dspark.master.rest.enabled=false",
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
    }


@dataclass
class Daemon:
    """One JVM daemon in its own process group, with its output in ``log``."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def wait_for(self, pattern: str, count: int = 1, seconds: float = STARTUP_SECONDS) -> None:
        """Wait until ``pattern`` has appeared ``count`` times in the log."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            text = self.log.read_text(errors="replace") if self.log.exists() else ""
            if len(re.findall(pattern, text)) >= count:
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.5)
        status = "exited" if self.process.poll() is not None else f"not ready after {seconds:g} s"
        tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-25:])
        raise ClusterError(f"{self.name} {status} (waiting for {pattern!r}); its log ends:\n{tail}")

    def stop(self) -> None:
        """End the whole process group (the launcher script and the JVM it started)."""
        for sig, grace in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.process.wait(grace)
                return
            except subprocess.TimeoutExpired:
                continue


def start(name: str, args: list[str], env: dict[str, str], root: Path) -> Daemon:
    log = root / f"{name}.out"
    with log.open("wb") as out:
        process = subprocess.Popen(
            args, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
    return Daemon(name, process, log)


@dataclass
class Cluster:
    """A standalone master with :data:`WORKERS` one-core workers, all on 127.0.0.1."""

    root: Path
    env: dict[str, str]
    url: str = ""
    daemons: list[Daemon] = field(default_factory=list)
    worker_memory: str = WORKER_MEMORY

    def start(self) -> None:
        spark_class = str(spark_home() / "bin" / "spark-class")
        port = free_port()
        self.url = f"spark://{HOST}:{port}"
        master = start(
            "master",
            [spark_class, "org.apache.spark.deploy.master.Master", "--host", HOST, "--port", str(port),
             "--webui-port", str(free_port())],
            self.env,
            self.root,
        )  # fmt: skip
        self.daemons.append(master)
        master.wait_for(r"I have been elected leader")
        for i in range(1, WORKERS + 1):
            work = self.root / f"worker{i}"
            self.daemons.append(
                start(
                    f"worker{i}",
                    [spark_class, "org.apache.spark.deploy.worker.Worker", "--host", HOST,
                     "--port", str(free_port()), "--webui-port", str(free_port()), "--cores", "1",
                     "--memory", self.worker_memory, "--work-dir", str(work), self.url],
                    self.env,
                    self.root,
                )
            )  # fmt: skip
        master.wait_for(r"Registering worker", count=WORKERS)

    def start_connect_server(self) -> str:
        """A Spark Connect server whose driver runs its jobs on this cluster; its ``sc://`` URL."""
        if not list((spark_home() / "jars").glob("spark-connect_*.jar")):
            raise ClusterError(
                f"{spark_home() / 'jars'} has no spark-connect jar, so this pyspark cannot start a "
                "Spark Connect server locally (pyspark 4 wheels ship it; install pyspark>=4)."
            )
        port = free_port()
        server = start(
            "connect",
            [str(spark_home() / "sbin" / "start-connect-server.sh"), "--wait", "--master", self.url,
             "--conf", f"spark.connect.grpc.binding.address={HOST}",
             "--conf", f"spark.connect.grpc.binding.port={port}",
             "--conf", f"spark.driver.host={HOST}", "--conf", "spark.ui.enabled=false",
             "--conf", "spark.executor.memory=768m",
             "--conf", f"spark.sql.warehouse.dir={self.root / 'connect-warehouse'}"],
            self.env,
            self.root,
        )  # fmt: skip
        self.daemons.append(server)
        server.wait_for(r"Spark Connect server started")
        return f"sc://{HOST}:{port}"

    def stop(self) -> None:
        for daemon in reversed(self.daemons):
            daemon.stop()
