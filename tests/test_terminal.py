"""Every command's table reads well in an 80-column terminal: nothing cut to an ellipsis, nothing
wider than the terminal; --wide shows the rest. The analyses come from the registry, so a new one
is covered as soon as it is registered (one that needs arguments must name them here)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from rich.table import Table
from typer.testing import CliRunner, Result

import journeylens as jl
from journeylens.analyses import ANALYSES
from journeylens.cli import _output
from journeylens.cli.app import app
from journeylens.synth import generate_world

WIDTH = 80
TABLES = ("customers", "identities", "events", "feedback", "assignments")
PURCHASE_MAP = (
    "journey_type: purchase\ngoal: buy\nstages:\n"
    "  - {name: browse, touchpoints: [home, product_page]}\n"
    "  - {name: checkout, touchpoints: [checkout], time_target: {duration: 5m}}\n"
)
"""A small purchase map for ``map monitor``."""


def _purchase_map(tmp: Path) -> str:
    path = tmp / "purchase.yaml"
    path.write_text(PURCHASE_MAP)
    return str(path)


#: Arguments of the analyses that need some (every other analysis runs with none).
ARGUMENTS: dict[str, Callable[[Path], list[str]]] = {
    "funnel": lambda tmp: ["home", "product_page", "checkout"],
    "customer": lambda tmp: ["u00000042"],
    "export xes": lambda tmp: [str(tmp / "log.xes")],
    "feedback export": lambda tmp: [str(tmp / "feedback.csv")],
    "map draft": lambda tmp: ["--type", "purchase", "--out", str(tmp / "maps" / "purchase.yaml")],
    "map monitor": lambda tmp: [_purchase_map(tmp)],
    "map show": lambda tmp: [str(_demo_map(tmp))],
    "map check": lambda tmp: [_check_map(tmp)],
    "experiment": lambda tmp: ["checkout_redesign", "--by", "entry_channel"],
}


def _demo_map(folder: Path) -> Path:
    """The demo's designed purchase map, as a file (the world of this test has no maps/)."""
    from journeylens.maps._demo_maps import DEMO_MAPS

    path = folder / "purchase.yaml"
    path.write_text(DEMO_MAPS["purchase"], encoding="utf-8")
    return path


def _check_map(folder: Path) -> str:
    """A purchase map with every part the map check table shows (rules, a time target, a KPI)."""
    path = folder / "purchase.yaml"
    path.write_text(
        "journey_type: purchase\ngoal: Buy without help\nstages:\n"
        "  - {name: discover, touchpoints: [home, product_page], time_target: {duration: 30m},\n"
        "     kpis: [{metric: conversion, min: 0.3}]}\n"
        "  - {name: pay, touchpoints: [checkout, payment]}\n"
        "  - {name: confirm, touchpoints: [order_confirmation]}\n"
        "unplanned: [{name: cart, touchpoints: [add_to_cart]}]\n"
        "rules:\n  - {rule: response, first: checkout, then: order_confirmation, within: 1h}\n"
        "  - {rule: chain_response, first: checkout, then: payment}\n",
        encoding="utf-8",
    )
    return str(path)


class Terminal(Console):
    """An 80-column terminal that also checks each table it prints fits it (Rich would crop)."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        for table in objects:
            if isinstance(table, Table):  # --wide widens the terminal for its table
                widths = [c.width or 0 for c in table.columns]
                assert sum(widths) + 3 * (len(widths) - 1) <= self.width, (table.title, widths)
        super().print(*objects, **kwargs)


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], str]]:
    """Tables go to an 80-column :class:`Terminal`; call the fixture for what it printed."""
    screen = Terminal(width=WIDTH, file=io.StringIO(), record=True, highlight=False)
    monkeypatch.setattr(_output, "console", screen)
    yield screen.export_text


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A small synthetic world: customers, identities, events, feedback (built by the first command)."""
    root = tmp_path_factory.mktemp("terminal")
    generate_world(root / "data", customers=120, seed=7)
    ws = jl.Workspace.init(root / "ws", timezone="UTC")
    for table in TABLES:
        ws.ingest(paths=[str(root / "data" / table)], table=table)
    ws.close()
    yield ws.root


def _run(args: Sequence[str]) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def _readable(printed: str) -> None:
    assert "…" not in printed, printed
    assert all(len(line) <= WIDTH for line in printed.splitlines()), printed


@pytest.mark.parametrize("name", list(ANALYSES))
def test_every_analysis_table_fits_80_columns(
    name: str, world: Path, tmp_path: Path, terminal: Callable[[], str]
) -> None:
    args = [*name.split(), *ARGUMENTS.get(name, lambda _: [])(tmp_path), "-w", world]
    result = _run(args)
    assert result.exit_code == 0, (name, result.output, result.exception)
    printed = terminal()
    if name not in ("export xes", "feedback export"):  # write a file; their one line goes to stderr
        assert printed.strip(), name
    _readable(printed)


def test_the_other_tables_fit_80_columns(world: Path, tmp_path: Path, terminal: Callable[[], str]) -> None:
    events = tmp_path / "more.csv"
    events.write_text("user_id,timestamp,channel,touchpoint\nu1,2026-02-01T10:00:00Z,web,home\n")
    for args in (["status"], ["build"], ["ingest", str(events)]):
        result = _run([*args, "-w", world])
        assert result.exit_code == 0, (args, result.output)
    printed = terminal()
    assert "Last ingests" in printed and "Ingest summary" in printed
    _readable(printed)


def test_wide_shows_every_column_and_the_default_says_so(
    world: Path, terminal: Callable[[], str], capsys: pytest.CaptureFixture[str]
) -> None:
    narrow = _run(["touchpoints", "-w", world])
    assert narrow.exit_code == 0, narrow.output
    assert "--wide adds" in narrow.stderr and "cost" in narrow.stderr.split("--wide adds")[1]
    cut = terminal()
    _readable(cut)
    wide = _run(["touchpoints", "-w", world, "--wide"])
    assert wide.exit_code == 0, wide.output
    everything = terminal()  # what was printed since
    header = next(line for line in everything.splitlines() if "touchpoint" in line and "stage" in line)
    assert "cost" in header and len(header) > WIDTH


def test_a_case_log_reads_at_80_columns(shared_file: Callable[[str], Path], tmp_path: Path,
                                        terminal: Callable[[], str]) -> None:  # fmt: skip
    """The help-desk log: long activity names, long variants, a funnel of journeys."""
    ws = jl.Workspace.init(tmp_path / "ws")
    ws.ingest(paths=[str(shared_file("process-logs/helpdesk.xes.gz"))], channel="other")
    ws.close()
    steps = ["Assign seriousness", "Take in charge ticket", "Resolve ticket"]
    periods = ["segments", "--period-a", "2011-01-01:2012-01-01", "--period-b", "2012-01-01:2013-01-01"]
    for args in (
        ["variants"],
        ["dfg"],
        ["touchpoints"],
        ["journeys", "summary"],
        ["funnel", *steps],
        periods,
    ):
        result = _run([*args, "-w", ws.root])
        assert result.exit_code == 0, (args, result.output)
    _readable(terminal())
    # No journey type defines outcomes and no event carries money: what every journey defines.
    compared = json.loads(_run([*periods, "-w", ws.root, "-f", "json"]).stdout)
    assert compared["metrics"] == ["duration_s", "touchpoints"]
    assert compared["metrics_reason"].startswith("no journey type of the selection (other) defines success")


def test_segments_default_to_outcome_metrics_where_journey_types_define_them(world: Path) -> None:
    compared = json.loads(_run(["segments", "-w", world, "-f", "json"]).stdout)
    assert compared["metrics"] == ["success", "leakage", "duration_s", "cost_to_serve"]
    assert "define success or failure, so outcome rates are defined" in compared["metrics_reason"]
    asked = json.loads(_run(["segments", "-w", world, "-f", "json", "-m", "value"]).stdout)
    assert asked["metrics"] == ["value"] and asked["metrics_reason"] == "as asked"


def test_table_cells_and_notes_are_text_not_rich_markup(capsys: pytest.CaptureFixture[str]) -> None:
    """A touchpoint named like a Rich tag and a note naming a setting print as written."""
    from journeylens.cli import _views
    from journeylens.cli._output import OutputFormat, render

    render([{"touchpoint": "[checkout]", "n": 1}], OutputFormat.table, title="t")
    _views._dim("declare criteria under [journeys.types.NAME]")
    out = capsys.readouterr()
    assert "[checkout]" in out.out
    assert "[journeys.types.NAME]" in " ".join(out.err.split())
