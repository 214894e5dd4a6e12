"""Workspace, configuration, store migration, CLI output formats, generated docs and the report."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import ibis
import pytest

import journeylens as jl
from journeylens._docs import WORKSPACE_METHODS, data_model_markdown
from journeylens.analyses._generate import _check_loadable, workspace_methods_source
from journeylens.cli._output import to_json
from journeylens.cli._reference import cli_markdown
from journeylens.errors import ConfigError, WorkspaceError
from journeylens.report import write_report
from journeylens.store.schema import RAW_TABLES
from journeylens.store.store import Store

REPO = Path(__file__).resolve().parents[1]
EVENTS_CSV = (
    "event_id,user_id,timestamp,channel,touchpoint\n"
    "e1,u1,2024-03-01T10:00:00Z,web,home\n"
    "e2,u1,2024-03-01T10:05:00Z,app,checkout\n"
    "e3,u2,2024-03-02T11:00:00Z,Phone,billing_call\n"
    "e4,u2,yesterday,web,home\n"
)


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "journeylens", *args], capture_output=True, text=True, cwd=cwd, check=False
    )


def test_docs_are_generated_from_the_code() -> None:
    assert (REPO / "docs" / "data-model.md").read_text() == data_model_markdown(), (
        "docs/data-model.md is stale: run `python -m journeylens._docs`"
    )
    assert (REPO / "docs" / "cli.md").read_text() == cli_markdown(), (
        "docs/cli.md is stale: run `python -m journeylens._docs`"
    )
    assert (REPO / WORKSPACE_METHODS).read_text() == workspace_methods_source(), (
        f"{WORKSPACE_METHODS} is stale: run `python -m journeylens._docs`"
    )
    text = data_model_markdown()
    for spec in RAW_TABLES.values():
        for column in spec.column_names:
            assert f"`{column}`" in text


def test_init_creates_toml_maps_and_store_and_refuses_twice(tmp_path: Path) -> None:
    ws = jl.Workspace.init(tmp_path / "w", timezone="Europe/Amsterdam")
    assert (ws.root / "journeylens.toml").is_file() and (ws.root / "maps").is_dir()
    assert ws.store.counts() == dict.fromkeys(ws.store.counts(), 0)
    assert (ws.root / "journeylens.duckdb").is_file()
    ws.close()
    with pytest.raises(WorkspaceError, match="already exists"):
        jl.Workspace.init(tmp_path / "w")
    reopened = jl.Workspace.open(tmp_path / "w" / "maps")  # found from a subfolder
    assert reopened.config.workspace.timezone == "Europe/Amsterdam"
    reopened.close()


def test_open_without_workspace_says_how_to_create_one(tmp_path: Path) -> None:
    result = _cli("status", "-w", str(tmp_path))
    assert result.returncode == 2
    assert "No JourneyLens workspace found" in result.stderr
    assert "journeylens init" in result.stderr


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda t: t.replace('timezone = "UTC"', 'timezone = "Mars/Olympus"'), "workspace.timezone"),
        (lambda t: t + "\n[ingest]\nbatch_rows = 5\n", None),
        (lambda t: t + "\n[backend2]\nurl = 'x'\n", "backend2"),
        (lambda t: t.replace("[privacy]", "[privacy\n"), None),
    ],
)
def test_bad_configuration_names_file_and_field(tmp_path: Path, edit: object, field: str | None) -> None:
    ws = jl.Workspace.init(tmp_path / "w")
    path = ws.root / "journeylens.toml"
    path.write_text(edit(path.read_text()))  # type: ignore[operator]
    with pytest.raises(ConfigError) as info:
        jl.Workspace.open(ws.root)
    assert str(path) in str(info.value)
    assert "Hint:" in str(info.value)
    if field:
        assert field in str(info.value)


def test_store_adds_columns_a_newer_model_introduced(tmp_path: Path) -> None:
    url = f"duckdb://{tmp_path / 'old.duckdb'}"
    old = ibis.duckdb.connect(str(tmp_path / "old.duckdb"))
    schema = RAW_TABLES["events"].schema()
    old.create_table("events", schema=ibis.schema({k: v for k, v in schema.items() if k != "agent_id"}))
    old.disconnect()
    store = Store.connect(url, timezone="UTC")
    assert "agent_id" in store.table("events").schema()
    store.close()


@pytest.fixture
def loaded(tmp_path: Path) -> Path:
    ws = jl.Workspace.init(tmp_path / "ws")
    (tmp_path / "events.csv").write_text(EVENTS_CSV)
    ws.ingest(paths=[str(tmp_path / "events.csv")])
    ws.close()
    return ws.root


def test_status_json_and_csv_have_stable_fields(loaded: Path) -> None:
    result = _cli("status", "-w", str(loaded), "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["tables"]["events"] == 3 and data["tables"]["quarantine"] == 1
    assert data["quarantine"][0]["reason"] == "bad_timestamp"
    assert data["quarantine"][0]["example_line"] == 5
    assert set(data["ingests"][0]) == {
        "ingest_id", "table", "source", "started_at", "finished_at",
        "rows_read", "loaded", "duplicates", "quarantined", "suppressed",
    }  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(_cli("status", "-w", str(loaded), "-f", "csv").stdout)))
    assert {r["table"]: int(r["rows"]) for r in rows}["events"] == 3


def test_status_without_the_engine_equals_status_through_it(loaded: Path, tmp_path: Path) -> None:
    """The DuckDB fast path of status (no Ibis) and the portable path give the same answer; the
    fast path declines, and the portable one answers, where it cannot read exactly."""
    from journeylens.quality import status, workspace_status
    from journeylens.store._quick import embedded_file, status_rows
    from journeylens.store.names import RAW_TABLE_NAMES, SYSTEM_TABLE_NAMES

    (tmp_path / "more.csv").write_text(EVENTS_CSV.replace("e1,", "e9,"))
    ws = jl.Workspace.open(loaded)
    ws.ingest(paths=[str(tmp_path / "more.csv"), str(tmp_path / "events.csv")])  # re-quarantines line 5
    portable = status(ws.store)
    assert list(portable.tables) == [*RAW_TABLE_NAMES, *SYSTEM_TABLE_NAMES]
    path = embedded_file(ws.url)
    assert path is not None
    # This process holds the file open for writing: the fast path steps aside ...
    assert status_rows(path, list(portable.tables), 10) is None
    assert workspace_status(ws) == portable
    ws.close()
    # ... and answers exactly once nobody writes.
    quick = status_rows(path, list(portable.tables), 10)
    assert quick is not None and quick == portable.to_dict()
    assert len(quick["ingests"]) == 3 and quick["quarantine"][0]["records"] == 2
    assert status_rows(path, [*portable.tables, "no_such_table"], 10) is None  # an older workspace
    assert embedded_file("duckdb://") is None and embedded_file("pyspark://") is None


def test_ingest_json_summary_and_exit_status(loaded: Path, tmp_path: Path) -> None:
    (tmp_path / "more.csv").write_text(EVENTS_CSV.replace("e1,", "e9,"))
    result = _cli(
        "ingest", str(tmp_path / "more.csv"), "-w", str(loaded), "--format", "json", "--max-bad", "1"
    )
    assert result.returncode == 0, result.stderr
    [summary] = json.loads(result.stdout)
    assert summary["loaded"] == 1 and summary["duplicates"] == 2
    assert summary["quarantined_by_reason"] == {"bad_timestamp": 1}
    again = _cli("ingest", str(tmp_path / "more.csv"), "-w", str(loaded), "--format", "json")
    assert again.returncode == 1
    assert "quarantined" in again.stderr and "--max-bad" in again.stderr


def test_report_is_self_contained_and_shows_volumes(loaded: Path, tmp_path: Path) -> None:
    ws = jl.Workspace.open(loaded)
    out = write_report(ws.store, tmp_path / "r.html")
    ws.close()
    html = out.read_text()
    assert not re.search(r"<script[^>]+src=", html), "the report must not load scripts from anywhere"
    assert not re.search(r"<link[^>]+href=\"http", html)
    assert "Plotly.newPlot" in html
    for title in ("Overview", "Volumes by channel and touchpoint", "Data quality"):
        assert title in html
    assert "billing_call" in html and "bad_timestamp" in html


def test_bare_import_does_not_load_heavy_engines() -> None:
    code = (
        "import sys, journeylens\n"
        "heavy = [m for m in ('pyspark', 'pm4py', 'playwright', 'networkx') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_importing_the_cli_leaves_plotting_and_engines_out() -> None:
    code = (
        "import sys\n"
        "from journeylens.cli import app\n"
        "from typer.main import get_command\n"
        "get_command(app)\n"  # every command's options, as --help builds them
        "heavy = [m for m in ('plotly', 'pyspark', 'pm4py', 'pandas', 'ibis', 'duckdb', 'pyarrow')"
        " if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_status_of_an_embedded_workspace_reads_it_without_ibis(loaded: Path) -> None:
    """`journeylens status` is the command scripts poll: on the embedded DuckDB file it opens the
    settings and the file, never Ibis, pandas or plotly (the start-up budget is 0.5 s)."""
    code = (
        "import sys\n"
        "from journeylens.cli.app import app\n"
        "from typer.testing import CliRunner\n"
        f"result = CliRunner().invoke(app, ['status', '-w', {str(loaded)!r}, '-f', 'json'])\n"
        "assert result.exit_code == 0, result.output\n"
        "assert '\"events\": 3' in result.stdout, result.stdout\n"
        "heavy = [m for m in ('ibis', 'pandas', 'plotly', 'pyarrow') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("package", ["journeylens", "journeylens.store", "journeylens.journeys"])
def test_lazy_public_names_resolve_to_their_objects(package: str) -> None:
    """Every name a lazy package exports is its object, not a submodule of the same name (importing
    a submodule sets that attribute on the package, which would shadow a lazy name for good)."""
    import importlib
    import pkgutil
    import types

    module = importlib.import_module(package)
    submodules = {info.name for info in pkgutil.iter_modules(module.__path__)}
    assert not submodules & set(module.__all__), "a public name collides with a submodule"
    for name in submodules - {"__main__"}:  # __main__ would run the command line
        importlib.import_module(f"{package}.{name}")
    for name in module.__all__:
        assert not isinstance(getattr(module, name), types.ModuleType), name


def test_terminal_tables_keep_a_readable_cut_unless_asked(capsys: pytest.CaptureFixture[str]) -> None:
    """A person reads the first rows and is told how to get all; a cut they asked for is theirs."""
    from journeylens.cli._views import TABLE_ROWS, _readable

    rows = [{"n": i} for i in range(100)]
    assert _readable(rows, "variants", asked=False) == rows[:TABLE_ROWS]
    assert f"first {TABLE_ROWS} of 100 variants" in capsys.readouterr().err
    assert _readable(rows, "variants", asked=True) == rows
    assert _readable(rows[:5], "variants", asked=False) == rows[:5]
    assert capsys.readouterr().err == ""


def test_every_registry_reference_resolves() -> None:
    assert all(obj is not None for obj in _check_loadable())


def test_json_output_is_always_valid_json() -> None:
    import datetime as dt

    text = to_json(
        {"rate": float("nan"), "hi": float("inf"), 1: dt.date(2024, 3, 1), "rows": [float("-inf")]}
    )
    assert json.loads(text) == {"rate": None, "hi": None, "1": "2024-03-01", "rows": [None]}
    import decimal

    import numpy as np

    numbers = {
        "share": np.float64(0.5),
        "n": np.int64(3),
        "gap": np.float64("nan"),
        "cost": decimal.Decimal("1.25"),
    }
    assert json.loads(to_json(numbers)) == {"share": 0.5, "n": 3, "gap": None, "cost": 1.25}
    with pytest.raises(TypeError, match="not JSON serializable"):
        to_json({"what": object()})


def test_every_analysis_command_runs_through_the_registry_runner(loaded: Path) -> None:
    from typer.main import get_command

    from journeylens.analyses import ANALYSES
    from journeylens.cli import app

    group: Any = get_command(app)
    for analysis in ANALYSES.values():
        command = group
        for part in analysis.name.split():
            command = command.commands[part]
        flags = {opt for param in command.params for opt in getattr(param, "opts", [])}
        assert "--no-build" in flags and "--format" in flags, analysis.name
        # These select answers, contacts or feedback rows by their time (or all of them), not
        # journeys: unlinked answers and contacts have no journey to select by.
        exempt = (
            "journeys summary",
            "customer",
            "map monitor",
            "feedback scores",
            "feedback export",
            "feedback themes",
            "contacts",
            "backlog",  # ranks the other analyses' findings, each over all journeys
        )
        if analysis.name not in exempt:
            assert {"--type", "--segment", "--where", "--since"} <= flags, analysis.name
    # Feedback scores and themes select answers, not journeys (unlinked answers have none): by
    # answer time.
    for name in ("scores", "themes"):
        assert {"--since", "--until"} <= {
            opt
            for param in group.commands["feedback"].commands[name].params
            for opt in getattr(param, "opts", [])
        }
    refused = _cli("dfg", "--no-build", "-w", str(loaded))
    assert refused.returncode == 2 and "journeylens build" in refused.stderr
    built = _cli("dfg", "-w", str(loaded), "-f", "json")
    assert built.returncode == 0, built.stderr
    # One line says the model was built first (its wording belongs to journeylens.model).
    assert built.stderr.strip() and json.loads(built.stdout)["nodes"]
