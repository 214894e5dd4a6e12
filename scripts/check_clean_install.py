#!/usr/bin/env python3
"""Install the wheel with no extras into a brand-new virtualenv and run the product there, as a user would.

Why: the test environment installs ``.[test,spark]``, whose packages bring in others (scipy arrived
through statsmodels), so a module that ``src/`` imports without declaring it passes every test while
``pip install .`` gives users a crash. Here only ``[project] dependencies`` are installed, and the
check runs what a newcomer runs:

- ``journeylens --version``, and a usage error (exit 2, a message, no traceback);
- ``--help`` of every command and subcommand, listed by walking the installed Typer app, so commands
  added later are covered without editing this file;
- ``journeylens demo`` on a small world: the report must be written, hold every section, and open
  offline (plotly.js inlined, nothing loaded from the network);
- ``import journeylens, journeylens.cli`` with neither pyspark nor pm4py installed.

``--lowest`` installs the lowest version that ``[project] dependencies`` allows for every package (a
constraints file generated from pyproject.toml, the one place the floors are written) and runs the
same commands, so every floor is a version that has actually run.

Usage: python scripts/check_clean_install.py [--lowest] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The sections every demo report has (titles set in src/journeylens/report/*.py).
REPORT_TITLES = (
    "Overview",
    "Volumes by channel and touchpoint",
    "Customers across channels",
    "Journeys",
    "Journey discovery",
    "Data quality",
)
# Anything the browser would fetch: a report that needs the network is not self-contained.
REMOTE_RESOURCE = re.compile(
    r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*[\"']?(?:https?:)?//", re.IGNORECASE
)
SCRIPT_BLOCK = re.compile(r"<script\b[^>]*>.*?</script>", re.IGNORECASE | re.DOTALL)
# Only the base install may be present; these come with extras (spark, test).
ABSENT = ("pyspark", "pm4py")

# Run in the clean venv: the help page of every command path of the installed app ([] is
# `journeylens` itself). One interpreter for all of them: a process each costs a start-up each
# (42 s for 21 pages here); the console script itself is run separately.
HELP_PAGES = """
import json
import typer.main
from typer.testing import CliRunner
from journeylens.cli import app

def walk(command, path):
    yield path
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from walk(sub, [*path, name])

pages = []
for path in walk(typer.main.get_command(app), []):
    result = CliRunner().invoke(app, [*path, "--help"])
    crash = result.exception if not isinstance(result.exception, SystemExit) else None
    pages.append({"path": path, "exit": result.exit_code, "output": result.output, "crash": repr(crash)})
print(json.dumps(pages))
"""
BARE_IMPORT = f"""
import importlib.util
present = [name for name in {ABSENT!r} if importlib.util.find_spec(name) is not None]
import journeylens, journeylens.cli
print(journeylens.__file__)
if present:
    raise SystemExit("installed, but the base install must not bring them: " + ", ".join(present))
"""

REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(.*)$")
FLOOR = re.compile(r"(?:>=|==|~=)\s*([0-9][^,;\s]*)")


class CheckFailed(Exception):
    """A part of the check that cannot go on (the ones after it would fail for the same reason)."""


@dataclass
class Outcome:
    timings: list[tuple[str, float]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @contextmanager
    def part(self, name: str) -> Iterator[None]:
        print(f"--- {name}", flush=True)
        start = time.perf_counter()
        try:
            yield
        finally:
            seconds = time.perf_counter() - start
            self.timings.append((name, seconds))
            print(f"    {seconds:.1f} s", flush=True)

    def expect(self, ok: bool, message: str) -> None:
        if not ok:
            self.failures.append(message)
            print(f"    FAIL: {message}", flush=True)


def floors(pyproject: Path) -> dict[str, str]:
    """``{distribution: lowest allowed version}`` for every entry of ``[project] dependencies``.

    Example:
        >>> floors(ROOT / "pyproject.toml")["pandas"]  # doctest: +SKIP
        '2.2'
    """
    found: dict[str, str] = {}
    unbounded = []
    for requirement in tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]:
        match = REQUIREMENT.match(requirement.split(";")[0])
        if match is None:
            raise CheckFailed(f"cannot read the requirement {requirement!r} in {pyproject.name}")
        name, specifier = match.groups()
        low = FLOOR.search(specifier)
        if low is None:
            unbounded.append(name)
        else:
            found[name] = low.group(1)
    if unbounded:
        raise CheckFailed(
            "no floor (>=) for "
            + ", ".join(unbounded)
            + ": every base dependency needs one that has run here"
        )
    return found


def clean_env() -> dict[str, str]:
    """The caller's environment minus what would let the source tree or another venv leak in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON") and k != "VIRTUAL_ENV"}
    # Plain, wide output so that help text is not wrapped or coloured into something else.
    return env | {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}


def run(args: Sequence[str | Path], *, timeout: float, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [str(a) for a in args]
    try:
        return subprocess.run(
            command, cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise CheckFailed(f"`{' '.join(command)}` did not finish in {timeout:.0f} s") from None


def tail(result: subprocess.CompletedProcess[str], lines: int = 15) -> str:
    text = (result.stderr or "") + (result.stdout or "")
    return "\n".join("      " + line for line in text.strip().splitlines()[-lines:])


def last_line(result: subprocess.CompletedProcess[str]) -> str:
    """The line that usually names the problem: the end of a traceback or an `Error: ...`."""
    lines = ((result.stderr or "") + (result.stdout or "")).strip().splitlines()
    return lines[-1].strip() if lines else "(no output)"


def require(result: subprocess.CompletedProcess[str], what: str) -> None:
    if result.returncode != 0:
        raise CheckFailed(f"{what} failed (exit {result.returncode}): {last_line(result)}\n{tail(result)}")


# What the build reads. Built from a copy: setuptools reuses ./build/lib, where a module deleted from
# src/ lives on and would be packaged, hiding exactly the kind of breakage this check is for.
BUILD_INPUTS = (
    "pyproject.toml",
    "README.md",
    "src",
    "LICENSE*",
    "NOTICE*",
    "MANIFEST.in",
    "setup.py",
    "setup.cfg",
)


def build_wheel(work: Path) -> Path:
    source, dist = work / "source", work / "dist"
    source.mkdir()
    for pattern in BUILD_INPUTS:
        for path in ROOT.glob(pattern):
            if path.is_dir():
                ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
                shutil.copytree(path, source / path.name, ignore=ignore)
            else:
                shutil.copy2(path, source / path.name)
    result = run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", source, "-w", dist],
        timeout=300,
        cwd=work,
    )
    require(result, "pip wheel")
    wheels = sorted(dist.glob("journeylens-*.whl"))
    if len(wheels) != 1:
        raise CheckFailed(f"expected one journeylens wheel in {dist}, found {[w.name for w in wheels]}")
    return wheels[0]


def install(outcome: Outcome, wheel: Path, work: Path, constraints: Path | None) -> Path:
    """A brand-new venv (no system site-packages) with the wheel and its base dependencies only."""
    env_dir = work / "venv"
    require(run([sys.executable, "-m", "venv", "--clear", env_dir], timeout=300, cwd=work), "python -m venv")
    python = env_dir / ("Scripts" if os.name == "nt" else "bin") / "python"
    # --no-compile: pip byte-compiles every installed module (plotly alone has thousands); only the
    # ones that run need it, and they are compiled on first import (whole check here: 69 s -> 60 s).
    args: list[str | Path] = [python, "-m", "pip", "install", "--quiet", "--no-compile", wheel]
    if constraints is not None:
        # An old floor without a wheel for this Python would be compiled from source: say so instead.
        args += ["--constraint", constraints, "--only-binary", ":all:"]
    result = run(args, timeout=1200, cwd=work)
    require(result, "pip install of the wheel")
    if constraints is not None:
        # pip installs a pinned yanked release with only a warning; nobody resolving `>=floor` gets it.
        for line in result.stderr.splitlines():
            match = re.search(r"yanked version: '([^']+)' candidate \(version (\S+)", line)
            if match:
                outcome.expect(False, f"the floor {match[1]}=={match[2]} is yanked on the index: raise it")
    return python


def check_versions(outcome: Outcome, python: Path, work: Path, wanted: dict[str, str]) -> None:
    """Under --lowest, the venv must hold exactly the floors (pip honours constraints, but check)."""
    names = json.dumps(sorted(wanted))
    code = f"import json, importlib.metadata as m; print(json.dumps({{n: m.version(n) for n in {names}}}))"
    result = run([python, "-c", code], timeout=60, cwd=work)
    require(result, "reading installed versions")
    got = json.loads(result.stdout)
    for name, floor in sorted(wanted.items()):
        outcome.expect(_same_version(got[name], floor), f"{name} {got[name]} installed, floor is {floor}")
    print("    " + ", ".join(f"{n}=={v}" for n, v in sorted(got.items())), flush=True)


def _same_version(installed: str, floor: str) -> bool:
    def parts(v: str) -> list[str]:
        items = v.split(".")
        while len(items) > 1 and items[-1] == "0":
            items.pop()
        return items

    return parts(installed) == parts(floor)


def check_helps(outcome: Outcome, python: Path, exe: Path, work: Path) -> None:
    result = run([exe, "--help"], timeout=120, cwd=work)
    outcome.expect(
        result.returncode == 0 and "Usage:" in result.stdout,
        f"`journeylens --help` exit {result.returncode}: {last_line(result)}\n{tail(result)}",
    )
    listed = run([python, "-c", HELP_PAGES], timeout=300, cwd=work)
    require(listed, "the help pages of the installed app")
    pages = json.loads(listed.stdout)
    outcome.expect(len(pages) > 10, f"only {len(pages)} commands found in the installed app")
    for page in pages:
        name = " ".join(["journeylens", *page["path"], "--help"])
        outcome.expect(
            page["exit"] == 0 and "Usage:" in page["output"],
            f"`{name}` exit {page['exit']}: {page['crash']}\n{page['output'][-1500:]}",
        )
    print(f"    {len(pages)} help pages: " + ", ".join(" ".join(p["path"]) for p in pages[1:]), flush=True)


def check_report(outcome: Outcome, report: Path) -> None:
    if not report.is_file():
        outcome.expect(False, f"the demo wrote no report at {report}")
        return
    text = report.read_text(encoding="utf-8")
    outside_scripts = SCRIPT_BLOCK.sub("", text)
    size = report.stat().st_size
    print(f"    report {size / 1e6:.1f} MB, {len(outside_scripts):,} characters outside scripts", flush=True)
    outcome.expect(size > 1_000_000, f"report is {size:,} bytes; with plotly.js inlined it is over 1 MB")
    outcome.expect(len(outside_scripts) > 10_000, "report has almost no text or tables")
    for title in REPORT_TITLES:
        outcome.expect(f"<h2>{title}</h2>" in text, f"report has no section {title!r}")
    outcome.expect(text.count('class="plotly-graph-div"') >= 5, "report has fewer than 5 figures")
    outcome.expect(re.search(r"plotly\.js v\d", text) is not None, "plotly.js is not inlined in the report")
    remote = REMOTE_RESOURCE.findall(text)
    outcome.expect(not remote, f"report loads from the network: {remote[:3]}")


def check(outcome: Outcome, work: Path, *, lowest: bool) -> None:
    constraints = None
    wanted: dict[str, str] = {}
    if lowest:
        wanted = floors(ROOT / "pyproject.toml")
        constraints = work / "floors.txt"
        constraints.write_text("".join(f"{n}=={v}\n" for n, v in sorted(wanted.items())), encoding="utf-8")
    with outcome.part("build the wheel"):
        wheel = build_wheel(work)
    extras = "the lowest declared versions" if lowest else "no extras"
    with outcome.part(f"new virtualenv, install {wheel.name} with {extras}"):
        python = install(outcome, wheel, work, constraints)
    exe = python.parent / "journeylens"
    if wanted:
        check_versions(outcome, python, work, wanted)

    with outcome.part("journeylens --version"):
        result = run([exe, "--version"], timeout=120, cwd=work)
        version = wheel.name.split("-")[1]
        outcome.expect(
            result.returncode == 0 and result.stdout.strip() == f"journeylens {version}",
            f"`journeylens --version` printed {result.stdout.strip()!r} (exit {result.returncode}), "
            f"expected 'journeylens {version}':\n{tail(result)}",
        )
    with outcome.part("journeylens --no-such-option (a usage error)"):
        # Goes through the console entry point's error translation (typer.TyperException), which
        # neither --help nor a successful command reaches.
        result = run([exe, "--no-such-option"], timeout=120, cwd=work)
        outcome.expect(
            result.returncode == 2 and "No such option" in result.stderr and "Traceback" not in result.stderr,
            f"a usage error exited {result.returncode}, expected 2 and 'No such option': {last_line(result)}"
            f"\n{tail(result)}",
        )
    with outcome.part("import journeylens, journeylens.cli without " + " or ".join(ABSENT)):
        result = run([python, "-c", BARE_IMPORT], timeout=120, cwd=work)
        outcome.expect(
            result.returncode == 0,
            f"bare import failed (exit {result.returncode}): {last_line(result)}\n{tail(result)}",
        )
        location = result.stdout.strip()
        outcome.expect(
            result.returncode != 0 or location.startswith(str(work / "venv")),
            f"journeylens was imported from {location}, not from the clean venv",
        )
    with outcome.part("--help of every command"):
        check_helps(outcome, python, exe, work)
    # Small: this proves the installed product runs every part of the demo, not its speed. Every
    # report section and figure is there at 300 customers (tests/test_demo.py's demo is as small).
    # The demo's time is mostly fixed work: about 21 s on a quiet machine at 300 or 800 customers.
    customers = 300
    with outcome.part(f"journeylens demo --customers {customers}"):
        result = run([exe, "demo", work / "demo", "--customers", str(customers)], timeout=900, cwd=work)
        outcome.expect(
            result.returncode == 0,
            f"`journeylens demo` failed (exit {result.returncode}): {last_line(result)}\n{tail(result)}",
        )
        check_report(outcome, work / "demo" / "report.html")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--lowest", action="store_true", help="install the floor of every base dependency")
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary folder (printed) to look into"
    )
    args = parser.parse_args(argv)

    outcome = Outcome()
    work = Path(tempfile.mkdtemp(prefix="journeylens-clean-install-"))
    print(f"clean install{' (lowest versions)' if args.lowest else ''} in {work}", flush=True)
    started = time.perf_counter()
    try:
        check(outcome, work, lowest=args.lowest)
    except CheckFailed as exc:
        outcome.failures.append(str(exc))
        print(f"    FAIL: {exc}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("\ntimings: " + "; ".join(f"{name} {s:.1f} s" for name, s in outcome.timings))
    print(f"total {time.perf_counter() - started:.1f} s")
    if outcome.failures:
        print(f"\nclean install FAILED ({len(outcome.failures)}):")
        for failure in outcome.failures:
            print(" - " + failure.splitlines()[0])
        return 1
    print("clean install OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
