"""The report on real logs that were not made for JourneyLens: nothing it does not define is drawn.

Three kinds of data, each built as a user would (``init``, ``ingest``, ``report``):

- a case log without customers (the receipt-handling XES log): each case is its own journey;
- a log with customers but no feedback (the help-desk XES log, ``customer`` as ``user_id``);
- a purchase-only log (the CDNOW sample: one row per purchase, no contacts, no outcomes).

None of them declares journey types or costs. On each, the report must not draw a degenerate
chart (one bar, all zeros, zero customers), state a rate over undefined outcomes, or show a cost.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import journeylens as jl
from honest_output import degenerate, plotted
from journeylens.report import build_sections
from journeylens.report.sections import Section

pytestmark = pytest.mark.realdata

SharedFile = Callable[[str], Path]
CDNOW_COLUMNS = ["customer_id", "customer_index", "date", "number_of_cds", "dollar_value"]


def _receipt(shared_file: SharedFile, tmp: Path) -> jl.Workspace:
    ws = jl.Workspace.init(tmp / "ws")
    ws.ingest(paths=[str(shared_file("process-logs/receipt.xes.gz"))], channel="web")
    return ws


def _helpdesk(shared_file: SharedFile, tmp: Path) -> jl.Workspace:
    ws = jl.Workspace.init(tmp / "ws")
    ws.ingest(
        paths=[str(shared_file("process-logs/helpdesk.xes.gz"))],
        channel="call_center",
        mapping={"user_id": "customer"},
    )
    return ws


def _cdnow(shared_file: SharedFile, tmp: Path) -> jl.Workspace:
    # Whitespace-aligned without a header: written as CSV with the touchpoint it lacks.
    raw = pd.read_csv(
        shared_file("journeys/CDNOW_sample.txt"), sep=r"\s+", header=None, names=CDNOW_COLUMNS, dtype=str
    )
    raw.assign(touchpoint="cd_purchase").to_csv(tmp / "cdnow.csv", index=False)
    ws = jl.Workspace.init(tmp / "ws")
    mapping = {"user_id": "customer_id", "timestamp": "date", "value": "dollar_value"}
    ws.ingest(paths=[str(tmp / "cdnow.csv")], channel="web", mapping=mapping, keep_identical=True)
    return ws


KINDS: dict[str, Callable[[SharedFile, Path], jl.Workspace]] = {
    "case log without customers": _receipt,
    "customers without feedback": _helpdesk,
    "purchases only": _cdnow,
}


class Built:
    def __init__(self, ws: jl.Workspace, html: str) -> None:
        self.ws = ws
        self.html = html
        self.sections: list[Section] = build_sections(ws.store, rules=ws.config.journeys)

    def section(self, title: str) -> Section:
        return next(s for s in self.sections if s.title == title)


@pytest.fixture(scope="module", params=list(KINDS))
def built(request: pytest.FixtureRequest, shared_file: SharedFile, tmp_path_factory: Any) -> Iterator[Built]:
    tmp = tmp_path_factory.mktemp(re.sub(r"\W+", "_", request.param))
    ws = KINDS[request.param](shared_file, tmp)
    html = ws.report(tmp / "report.html").read_text(encoding="utf-8")
    yield Built(ws, html)
    ws.close()


def test_no_chart_of_nothing(built: Built) -> None:
    for section in built.sections:
        for figure in section.figures:
            title = figure.layout.title.text
            assert degenerate(figure) is None, (section.title, title, degenerate(figure))
            assert "number of channels" not in (title or "") or len(plotted(figure.data[0])) >= 2


def test_no_rate_over_undefined_outcomes(built: Built) -> None:
    journeys = built.section("Journeys")
    for fact in ("Success rate", "First-contact resolution"):
        assert journeys.facts[fact] == "not defined"
    assert journeys.facts["Unknown outcomes"] == journeys.facts["Journeys"]
    rates = dict(journeys.tables)["Outcome rates by journey type"]
    assert set(rates["success"]) == set(rates["abandoned"]) == {"not defined"}
    assert any("no success or failure criteria" in note for note in journeys.notes)
    assert "success.touchpoints" in built.html  # the setting that defines outcomes
    for name, table in built.section("Journey discovery").tables:
        for column in table.columns:
            if "success" in column:
                assert set(table[column]) <= {"not defined"}, (name, column)
    # In the page: the tile and every rate cell say "not defined", never 0.0% or 100.0%.
    assert re.search(r'class="k">Success rate</div><div class="v">not defined<', built.html)
    assert "abandoned 98" not in built.html and "0.0% (0.0" not in _success_cells(built)


def _success_cells(built: Built) -> str:
    rates = dict(built.section("Journeys").tables)["Outcome rates by journey type"]
    return " ".join(rates["success"]) + " ".join(rates["abandoned"])


def test_no_cost_without_configured_costs(built: Built) -> None:
    journeys = built.section("Journeys")
    assert journeys.facts["Total cost to serve"] == "not defined"
    assert "Cost to serve by journey type and first channel" not in dict(journeys.tables)
    assert any("[journeys.costs]" in note for note in journeys.notes)
    for name, table in built.section("Journey discovery").tables:
        assert not any("cost" in str(column) for column in table.columns), name
    assert "[journeys.costs] call_center = 6.5" in built.html


def test_what_does_not_apply_is_one_sentence(built: Built) -> None:
    customers = built.section("Customers across channels")
    assert not customers.figures and len(customers.notes) == 1
    discovery = built.section("Journey discovery").intro
    assert "No purchase funnel" in discovery
    if built.ws.store.count("customers") == 0 and "Known customers" not in customers.facts:
        assert "No customer identifiers" in customers.notes[0] and "No customer identifiers" in built.html
    else:  # every customer used one channel: no spread to draw
        assert "Every customer used 1 channel" in customers.notes[0]
    assert "Outcome rates by customer segment" not in dict(built.section("Journeys").tables)
    assert any("No split by customer segment" in note for note in built.section("Journeys").notes)
