"""``journeylens serve`` as a subprocess on 127.0.0.1 for the live collector tests: started,
waited for (bounded), killed or stopped cleanly.

Importing JourneyLens takes seconds on a busy machine, so a *launcher* process imports it once and
forks a fresh ``journeylens serve`` for every (re)start: a restart after SIGKILL then costs only
opening the workspace, which keeps the kill -9 test short. The child runs the real CLI command.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

_LAUNCHER = """
import os, signal, sys
import uvicorn
from journeylens.cli import main
import journeylens.server.app, journeylens.server.collector, journeylens.workspace
import journeylens.ingest.pipeline  # the loader imports it on its first load
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # killed servers are reaped at once
for _ in sys.stdin:
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.dup2(2, 1)  # the server's output goes to the log; stdout carries the launcher's pids
        sys.argv = ["journeylens", "serve", *sys.argv[1:]]
        try:
            main()
        finally:
            os._exit(0)
    print(pid, flush=True)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class LiveServer:
    """``journeylens serve -w ROOT --port PORT`` in a child process."""

    def __init__(self, root: Path, *, startup: float = 60.0) -> None:
        self.root, self.port, self.startup = root, free_port(), startup
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = root.parent / "server.log"
        self.launcher: subprocess.Popen[bytes] | None = None
        self.pid: int | None = None
        self.starts = 0

    def start(self) -> None:
        """Start a server and wait until it answers ``/health``."""
        if self.launcher is None:
            args = [sys.executable, "-c", _LAUNCHER, "-w", str(self.root), "--port", str(self.port)]
            with self.log.open("ab") as log:
                self.launcher = subprocess.Popen(
                    args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=os.environ.copy()
                )
        assert self.launcher.stdin is not None and self.launcher.stdout is not None
        self.launcher.stdin.write(b"start\n")
        self.launcher.stdin.flush()
        line = self.launcher.stdout.readline()  # the launcher imports first: bounded by startup below
        if not line:
            raise RuntimeError(f"the launcher exited: {self.log.read_text()[-2000:]}")
        self.pid = int(line)
        self.starts += 1
        deadline = time.monotonic() + self.startup
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"the server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"the server did not answer in {self.startup}s: {self.log.read_text()[-2000:]}")

    def alive(self) -> bool:
        if self.pid is None:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def _wait_gone(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.alive():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        assert self.pid is not None
        os.kill(self.pid, signal.SIGKILL)
        assert self._wait_gone(30)

    def stop(self) -> None:
        """SIGTERM: uvicorn shuts down cleanly, which stores everything the log holds."""
        if self.alive():
            assert self.pid is not None
            os.kill(self.pid, signal.SIGTERM)
            if not self._wait_gone(60):
                os.kill(self.pid, signal.SIGKILL)
                raise TimeoutError("the server did not stop within 60 s")

    def __enter__(self) -> LiveServer:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.alive():
            self.kill()
        if self.launcher is not None:
            self.launcher.kill()
            self.launcher.wait(timeout=30)
