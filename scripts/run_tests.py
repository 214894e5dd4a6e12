#!/usr/bin/env python3
"""The whole test suite from a fresh clone: make a virtualenv, install, lint, type-check, test.

Steps: ruff, mypy --strict, deptry (every module src/ imports is a declared dependency), pytest,
and beside them from the start the clean-install check (the wheel with no extras in a brand-new
virtualenv runs the product; see scripts/check_clean_install.py) and the same at the lowest
declared versions, whose output is printed after pytest. Each step runs even when an earlier one
failed.

Needs only Python 3.11+ and pip. Java (PySpark parity tests) and Chromium (browser tests) are
installed with apt-get when missing and this runs as root on Debian/Ubuntu; otherwise those tests
fail with a message saying what to install. Extra arguments go to pytest, e.g. `-k ingest -x`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv-test"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"


def step(title: str) -> None:
    print(f"\n==> {title}", flush=True)


def run(*args: str | Path, check: bool = True) -> int:
    return subprocess.run([str(a) for a in args], cwd=ROOT, check=check).returncode


def ensure_venv() -> None:
    stamp = VENV / ".installed"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest and PY.exists():
        return
    step(f"virtualenv {VENV.name} and dependencies")
    if not PY.exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    run(PY, "-m", "pip", "install", "-q", "--upgrade", "pip")
    run(PY, "-m", "pip", "install", "-q", "-e", ".[test,spark]")
    stamp.write_text(digest)


SYSTEM_PACKAGES = {
    # what the tests need -> (how to tell it is there, Debian package)
    "Java 17 for the PySpark parity tests": (lambda: shutil.which("java"), "openjdk-17-jre-headless"),
    "Chromium for the browser tests": (lambda: Path("/usr/bin/chromium").exists(), "chromium"),
}


def ensure_system_packages() -> None:
    missing = {what: pkg for what, (present, pkg) in SYSTEM_PACKAGES.items() if not present()}
    if not missing:
        return
    apt = shutil.which("apt-get")
    if not (apt and hasattr(os, "geteuid") and os.geteuid() == 0):
        for what, pkg in missing.items():
            print(f"warning: {what} is missing (Debian package {pkg}); those tests will fail.")
        return
    step("apt-get install " + " ".join(missing.values()) + " (" + "; ".join(missing) + ")")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([apt, "update", "-q"], check=True, env=env)
    subprocess.run([apt, "install", "-y", "-q", *missing.values()], check=True, env=env)


def parallel(args: list[str]) -> list[str]:
    """One pytest worker per core (at most 4: the Spark tests start several JVMs), each taking whole
    test files, so a module's fixtures are built once; none when the caller chose (``-n 0``,
    ``-p no:xdist``)."""
    if any(a.startswith(("-n", "--numprocesses", "no:xdist", "-pno:xdist")) for a in args):
        return []
    workers = min(4, os.cpu_count() or 1)
    # in collection order, which tests/conftest.py starts with the longest files
    return ["-n", str(workers), "--dist", "loadfile", "--no-loadscope-reorder"] if workers > 1 else []


class Background:
    """``scripts/check_clean_install.py ARGS`` started now, its output kept in a file until
    ``finish`` prints it under its step title."""

    def __init__(self, title: str, failure: str, *args: str) -> None:
        self.title, self.failure = title, failure
        # closed in finish(): the file outlives this method
        self.log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
        script = ROOT / "scripts" / "check_clean_install.py"
        # At the lowest priority (pip, the wheel's build and the demo inherit it): they use the CPU
        # that pytest's workers leave idle instead of slowing them down.
        nice = shutil.which("nice")
        self.process = subprocess.Popen(
            [*([nice, "-n", "19"] if nice else []), str(PY), str(script), *args],
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def finish(self) -> list[str]:
        code = self.process.wait()
        step(f"{self.title} (ran beside the steps above; each part's seconds are its own)")
        self.log.seek(0)
        print(self.log.read(), end="", flush=True)
        self.log.close()
        return [self.failure] if code else []


def main() -> int:
    ensure_venv()
    ensure_system_packages()
    failures = []
    # Both clean installs wait mostly on pip and disk, and pytest keeps about 1.6 of 2 cores busy:
    # they run beside the other steps, niced, and report after pytest.
    clean_installs = [
        Background("clean install: the wheel with no extras in a brand-new virtualenv", "clean install"),
        Background(
            "clean install at the floors: the lowest version of every base dependency",
            "clean install --lowest",
            "--lowest",
        ),
    ]
    step("ruff check + format --check")
    if run(BIN / "ruff", "check", "src", "tests", "scripts", check=False):
        failures.append("ruff check")
    if run(BIN / "ruff", "format", "--check", "src", "tests", "scripts", check=False):
        failures.append("ruff format")
    step("mypy --strict src/")
    if run(BIN / "mypy", check=False):
        failures.append("mypy")
    step("deptry src/: every import is a declared dependency")
    if run(BIN / "deptry", "src", check=False):
        failures.append("deptry")
    step("pytest")
    code = run(PY, "-m", "pytest", *parallel(sys.argv[1:]), *sys.argv[1:], check=False)
    if code == 5:
        print("error: pytest collected no tests")
    if code:
        failures.append(f"pytest (exit {code})")
    for check in clean_installs:
        failures.extend(check.finish())
    if failures:
        print(f"\nFAILED: {', '.join(failures)}")
        return 1
    print("\nAll checks passed.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
