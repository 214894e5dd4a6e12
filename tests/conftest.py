"""Shared fixtures: workspaces, the real reference data, story builders for input files, the CLI.

Input files are written as small stories (PostHog's ``journeys_for`` habit): each customer is a
list of ``(channel, touchpoint)`` steps, optionally with extra fields, and the builder turns them
into the CSV or JSON Lines a user would hand us. Tests then read back what the store holds.
"""

from __future__ import annotations

import csv
import datetime as _dt
import gzip
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from journeylens import Workspace
from journeylens.cli.app import app

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
"""The reference data sets live next to the repository, never inside it (see its README)."""

EVENT_HEADER = ("user_id", "timestamp", "channel", "touchpoint")
STORY_START = _dt.datetime(2024, 1, 15, 9, 0, tzinfo=_dt.UTC)

Step = tuple[str, str] | tuple[str, str, Mapping[str, Any]]

TEST_JVM_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
"""Every JVM the tests start (local Spark sessions, the cluster's daemons and Connect server, the
bench's Spark stage) lives for seconds to minutes on tiny data: the optimising JIT compiler and
parallel GC threads then cost more CPU than they save. Measured on the Spark test of
test_discovery_dfg.py (process tree, JVM included, load 2): 38.7 CPU s / 21.7 s wall by default,
22.3 CPU s / 17.9 s with these options. Results do not depend on them; the product's own sessions
(and `journeylens bench`) keep the JVM's defaults. A value the caller set wins."""
os.environ.setdefault("JAVA_TOOL_OPTIONS", TEST_JVM_OPTIONS)

LONGEST_FIRST = (
    "tests/parity/test_cluster.py",
    "tests/parity/test_parity.py",
    "tests/test_bench_smoke.py",
    "tests/test_realdata_acceptance.py",
    "tests/test_ingest_bad_input.py",
)
"""The files that take longest, run first: with one worker per core taking whole files
(scripts/run_tests.py), the last file to start ends the run, so it should be a short one."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.partition("::")[0], len(rank)))  # stable


# --- workspaces ---------------------------------------------------------------------------------


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    """A fresh workspace with default settings (UTC, embedded DuckDB)."""
    ws = Workspace.init(tmp_path / "ws")
    yield ws
    ws.close()


@pytest.fixture
def make_workspace(tmp_path: Path) -> Iterator[Callable[..., Workspace]]:
    """Factory for workspaces with non-default settings, written to journeylens.toml and reopened.

    Going through the file (not just the in-memory config) checks the settings a user would edit.
    """
    opened: list[Workspace] = []

    def make(name: str = "ws", *, timezone: str | None = None, country_code: str | None = None) -> Workspace:
        ws = Workspace.init(tmp_path / name, timezone=timezone)
        if country_code is not None:
            ws.config.privacy.default_country_code = country_code
            ws.config.dump(ws.root / "journeylens.toml")
        reopened = Workspace.open(ws.root)
        assert reopened.config.workspace.timezone == (timezone or "UTC")
        if country_code is not None:
            assert reopened.config.privacy.default_country_code == country_code
        opened.append(reopened)
        return reopened

    yield make
    for ws in opened:
        ws.close()


def table_rows(ws: Workspace, name: str) -> list[dict[str, Any]]:
    """Every row of a stored table, as dicts (small tables only)."""
    rows: list[dict[str, Any]] = ws.store.execute(ws.store.table(name)).to_pylist()
    return rows


def quarantine_rows(ws: Workspace) -> list[dict[str, Any]]:
    return sorted(table_rows(ws, "quarantine"), key=lambda r: (r["source"], r["line"]))


def counts_at(root: Path) -> dict[str, int]:
    """Row counts of a workspace opened fresh (and closed again, so a subprocess may lock it)."""
    ws = Workspace.open(root)
    try:
        return ws.store.counts()
    finally:
        ws.close()


# --- reference data -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; a missing folder fails the test (the README forbids skipping)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(
            f"Reference data folder {SHARED_DATA} is missing. Tests that read real data must fail, "
            "not skip, when it is absent: restore ../shared/data next to the repository.",
            pytrace=False,
        )
    return SHARED_DATA


@pytest.fixture(scope="session")
def shared_file(shared_data: Path) -> Callable[[str], Path]:
    """``shared_file("process-logs/receipt.csv")``: the path, or a test failure naming the file."""

    def get(relative: str) -> Path:
        path = shared_data / relative
        if not path.is_file():
            pytest.fail(
                f"Reference data file {path} is missing (see {shared_data / 'README.md'}).",
                pytrace=False,
            )
        return path

    return get


# --- story builders -----------------------------------------------------------------------------


def customer(
    user_id: str, steps: Sequence[Step], *, start: _dt.datetime = STORY_START, gap_minutes: int = 5
) -> list[dict[str, Any]]:
    """One customer's journey as event records, ``gap_minutes`` apart.

    Example: ``customer("c1", [("web", "billing_faq"), ("call_center", "billing_call", {"agent_id": "a7"})])``
    """
    rows = []
    for i, step in enumerate(steps):
        channel, touchpoint = step[0], step[1]
        extra = dict(step[2]) if len(step) > 2 else {}
        when = start + _dt.timedelta(minutes=gap_minutes * i)
        rows.append(
            {
                "user_id": user_id,
                "timestamp": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "channel": channel,
                "touchpoint": touchpoint,
                **extra,
            }
        )
    return rows


def journeys(stories: Mapping[str, Sequence[Step]]) -> list[dict[str, Any]]:
    """``journeys({"c1": [...], "c2": [...]})``: the records of several customers, in file order."""
    return [row for user_id, steps in stories.items() for row in customer(user_id, steps)]


def write_csv(
    folder: Path,
    name: str,
    rows: Iterable[Mapping[str, Any] | Sequence[Any]],
    header: Sequence[str] | None = None,
    *,
    delimiter: str = ",",
    encoding: str = "utf-8",
    compress: bool = False,
) -> Path:
    """Write ``rows`` (dicts, or sequences in ``header`` order) as CSV; gzip when ``compress``."""
    rows = list(rows)
    if header is None:
        header = list(dict.fromkeys(k for row in rows for k in row))
    path = folder / name
    opener = gzip.open if compress else open
    with opener(path, "wt", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh, delimiter=delimiter, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            if isinstance(row, Mapping):
                writer.writerow(["" if row.get(h) is None else row.get(h) for h in header])
            else:
                writer.writerow(row)
    return path


def write_jsonl(folder: Path, name: str, records: Iterable[Any], *, compress: bool = False) -> Path:
    """One JSON value per line; strings are written verbatim (to build broken lines on purpose)."""
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    data = ("\n".join(lines) + "\n").encode()
    path = folder / name
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def numbered_events(n: int, *, user_prefix: str = "u") -> list[dict[str, Any]]:
    """``n`` distinct, valid web events (record ``i`` is on CSV line ``i + 2``)."""
    start = STORY_START
    return [
        {
            "user_id": f"{user_prefix}{i % 97}",
            "timestamp": (start + _dt.timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "channel": "web",
            "touchpoint": f"page_{i % 13}",
        }
        for i in range(n)
    ]


# --- command line -------------------------------------------------------------------------------


@pytest.fixture
def run_cli() -> Callable[[Sequence[str]], Result]:
    """Run the Typer app in-process (success paths; errors surface as ``result.exception``)."""
    runner = CliRunner()

    def run(args: Sequence[str]) -> Result:
        return runner.invoke(app, [str(a) for a in args])

    return run


@pytest.fixture
def run_journeylens() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``python -m journeylens ARGS`` as a user would: real exit code, real stderr.

    The error translation lives in ``journeylens.cli.app.main``, which only a real process runs.
    """

    def run(args: Sequence[str | Path], *, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "COLUMNS": "250", "NO_COLOR": "1", "TERM": "dumb"}
        return subprocess.run(
            [sys.executable, "-m", "journeylens", *map(str, args)],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    return run


# --- synthetic worlds -----------------------------------------------------------------------------


def built_world(
    root: Path,
    tables: Sequence[str],
    *,
    customers: int,
    seed: int,
    configure: Callable[[Workspace], None] | None = None,
) -> tuple[dict[str, Any], Workspace]:
    """A synthetic world in ``root/world`` and a workspace in ``root/ws`` with ``tables`` ingested,
    customers stitched and journeys built: (ground truth, workspace). ``configure`` edits the
    workspace's settings first (they are written to journeylens.toml)."""
    from journeylens.identity.stitch import stitch
    from journeylens.journeys import build_journeys
    from journeylens.synth import generate_world

    generate_world(root / "world", customers=customers, seed=seed)
    truth = json.loads((root / "world" / "ground_truth.json").read_text())
    ws = Workspace.init(root / "ws")
    ws.config.privacy.default_country_code = "31"
    if configure is not None:
        configure(ws)
        ws.config.dump(ws.root / "journeylens.toml")
    for table in tables:
        ws.ingest(paths=[str(root / "world" / table)], table=table)
    stitch(ws.store, ws.config.identity)
    build_journeys(ws.store, ws.config.journeys)
    return truth, ws
