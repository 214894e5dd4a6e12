"""A warm parent for the benchmark's stage processes: ``python -m journeylens.benchmark._host``.

Every stage runs in a process of its own, so that its peak memory and CPU are its own. Starting
Python and importing the engine stack (ibis, DuckDB, pyarrow: what ``benchmark.stages`` imports)
took about 1 s per process, and 1.3-2.5 s with the interpreter's exit: a 6,000-event run of every
stage took 265 s, of which 177 s in the stages; forked from this host, 212 s (docs/benchmarks.md,
the introduction). This host imports ``benchmark.stages`` once, then for
each request read from stdin (one JSON object per line) forks a child that does what
``benchmark._run`` does in a fresh process: imports the stage's module, runs the stage and prints
its JSON figures. The child's stdout and stderr go to the files the request names, its
environment and working directory are the request's, and the host answers one line per request
with the child's exit code.

A stage's seconds are timed around the stage itself and its CPU seconds are the child's own, as
before. Its peak RSS counts the pages it shares with the host, which are the modules every stage
process imported anyway. A process started with fork and exec from the runner kept the runner's
peak in ``ru_maxrss`` (Linux carries it across exec), so no stage could report less than the
runner's; a child forked here starts from the host's imports, about 130 MB.
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path
from typing import IO, Any

from journeylens.benchmark.stages import main


class Host:
    """The runner's side: one host process, started on first use, for a whole ``run_bench``.

    ``run`` returns what ``subprocess.run(..., capture_output=True, text=True)`` of
    ``benchmark._run`` would. Where ``os.fork`` does not exist, each stage is such a process.
    """

    def __init__(self) -> None:
        self._process: subprocess.Popen[str] | None = None
        self._folder = tempfile.TemporaryDirectory(prefix="journeylens-bench-")

    def run(self, module: str, args: list[str]) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "journeylens.benchmark._run", module, *args]
        if not hasattr(os, "fork"):
            return subprocess.run(command, capture_output=True, text=True, check=False)
        process = self._started()
        out, err = Path(self._folder.name) / "stdout", Path(self._folder.name) / "stderr"
        request = {"module": module, "args": args, "env": dict(os.environ), "cwd": os.getcwd(),
                   "stdout": str(out), "stderr": str(err)}  # fmt: skip
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(json.dumps(request) + "\n")
        process.stdin.flush()
        reply = process.stdout.readline()
        if not reply:
            raise RuntimeError(f"the benchmark's stage host exited ({process.wait()}) during {args[0]}")
        code = int(json.loads(reply)["code"])
        return subprocess.CompletedProcess(
            command, code, out.read_text(encoding="utf-8"), err.read_text(encoding="utf-8", errors="replace")
        )

    def _started(self) -> subprocess.Popen[str]:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "journeylens.benchmark._host"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        return self._process

    def close(self) -> None:
        if self._process is not None:
            assert self._process.stdin is not None
            self._process.stdin.close()  # the host's loop ends
            self._process.wait(timeout=60)
            self._process = None
        self._folder.cleanup()


def serve(requests: IO[str], replies: IO[str]) -> None:
    """Answer every request of ``requests`` with ``{"code": exit code}`` on ``replies``."""
    for line in requests:
        if not line.strip():
            continue
        request = json.loads(line)
        replies.flush()
        pid = os.fork()
        if pid == 0:
            _child(request)  # never returns
        _, status = os.waitpid(pid, 0)
        replies.write(json.dumps({"code": os.waitstatus_to_exitcode(status)}) + "\n")
        replies.flush()


def _child(request: dict[str, Any]) -> None:
    code = 1
    try:
        _redirect(0, os.devnull, os.O_RDONLY)  # the requests are the host's, not the stage's
        _redirect(1, request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        _redirect(2, request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        importlib.import_module(request["module"])
        main(request["args"])
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    except BaseException:  # what a fresh process would print before exiting with 1
        traceback.print_exc()
    finally:
        try:
            atexit._run_exitfuncs()  # as a normal exit would (Spark's gateway, temp folders)
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _redirect(fd: int, path: str, flags: int) -> None:
    target = os.open(path, flags, 0o644)
    os.dup2(target, fd)
    os.close(target)


if __name__ == "__main__":
    serve(sys.stdin, sys.stdout)
