"""Acceptance on real data: the README quickstart on every real log in ../shared/data.

Each log is taken through "Quickstart with your own data" as a new user would, on the command
line: ``init``, ``ingest`` (with the README's flags for that kind of file), ``build``, every
registered analysis (:data:`journeylens.analyses.ANALYSES`, so a new analysis is covered as soon
as it is registered) with ``--format json``, ``status``, ``export customer-map`` and ``report``.
None of these logs declares journey types with outcome criteria, costs, or an assisted contact
(an event on an assisted channel handled by an agent), so on every surface:

- no rate is stated over an undefined outcome (success, abandoned, first-contact resolution are
  null with a ``*_reason``), no cost without configured costs, no leakage where no assisted
  contact can be seen;
- the report draws no degenerate chart (one bar, only zeros) and no table cell states those rates;
- every row of every file is loaded (loaded + quarantined = the file's data rows; all of them load);
- the counts pm4py publishes for the process logs stay exact (one cross-check per log; the
  detailed comparisons live in test_ingest_realdata.py and test_discovery_pm4py.py).

Each workspace is built once per module and the report written once per log.
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

import journeylens as jl
import journeylens.report.html as report_html
from honest_output import degenerate, stated_undefined
from journeylens.analyses import ANALYSES, Analysis
from journeylens.analyses._options import options
from journeylens.cli.app import app
from journeylens.errors import JourneyLensError
from journeylens.journeys.undefined import OUTCOME_METRICS
from journeylens.report.sections import Section

pytestmark = pytest.mark.realdata

SharedFile = Callable[[str], Path]

HELPDESK = "process-logs/helpdesk.xes.gz"
RECEIPT = "process-logs/receipt.csv"
ROADTRAFFIC = "process-logs/roadtraffic100traces.csv"
BPI2016 = "journeys/BPI2016_Complaints.csv"
CDNOW = "journeys/CDNOW_sample.txt"
REVIEWS = "feedback/amazon_alexa_reviews.tsv"

PM4PY_LAYOUT = ("--map", "case_id=case:concept:name", "--map", "touchpoint=concept:name",
                "--map", "timestamp=time:timestamp")  # fmt: skip
CDNOW_COLUMNS = ["customer_id", "customer_index", "date", "number_of_cds", "dollar_value"]

UNDEFINED = (*OUTCOME_METRICS, "leakage", "repeat_contact", "cost")
"""What none of these logs defines: outcomes (no journey type has criteria), leakage and repeat
contacts (no assisted contact), costs (no ``[journeys.costs]``)."""
NOT_DEFINED_CELLS = {"not defined", "", "nan", "None"}
UNDEFINED_COLUMNS = re.compile(r"success|abandon|first.contact|leakage|repeat.contact|cost", re.IGNORECASE)


# --- the logs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """One file as the README ingests it, as it is; ``rows``: its data rows (events, answers) per
    the data's README."""

    file: str
    flags: tuple[str, ...] = ()
    rows: int = 0
    table: str = "events"


@dataclass(frozen=True)
class Log:
    sources: tuple[Source, ...]
    customers: bool
    exact: dict[str, int] = field(default_factory=dict)
    """pm4py-exact counts of ../shared/data/README.md: journeys (cases), variants, activities, edges."""


# Reviews name no respondent (each is kept, unlinked) and no metric (all are star ratings); their
# dates (31-Jul-18) are read as they are.
REVIEWS_FLAGS = ("--table", "feedback", "--metric", "rating", "--map", "score=rating",
                 "--map", "timestamp=date", "--map", "comment=verified_reviews")  # fmt: skip
BPI2016_FLAGS = ("--delimiter", ";", "--encoding", "latin-1", "--map", "user_id=CustomerID",
                 "--map", "timestamp=ContactDate", "--map", "touchpoint=ComplaintTopic_EN",
                 "--channel", "call_center")  # fmt: skip
# Whitespace-aligned text without a header, one purchase per row: named columns, one touchpoint.
CDNOW_FLAGS = ("--delimiter", "whitespace", "--columns", ",".join(CDNOW_COLUMNS),
               "--touchpoint", "cd_purchase", "--channel", "web", "--map", "user_id=customer_id",
               "--map", "timestamp=date", "--map", "value=dollar_value")  # fmt: skip
REVIEWS_SOURCE = Source(REVIEWS, REVIEWS_FLAGS, rows=3150, table="feedback")
HELPDESK_EXACT = {"journeys": 4580, "events": 21348, "activities": 14, "variants": 226, "edges": 55}

LOGS: dict[str, Log] = {
    # A case log without customers, with unlinked reviews on top (feedback the journeys cannot claim).
    "helpdesk": Log((Source(HELPDESK, (), 21348), REVIEWS_SOURCE), customers=False, exact=HELPDESK_EXACT),
    # Customers, but no feedback.
    "helpdesk by customer": Log(
        (Source(HELPDESK, ("--map", "user_id=customer"), 21348),), customers=True, exact=HELPDESK_EXACT
    ),
    "receipt": Log(
        (Source(RECEIPT, PM4PY_LAYOUT, 8577),),
        customers=False,
        exact={"journeys": 1434, "events": 8577, "activities": 27, "variants": 116},
    ),
    "roadtraffic": Log(
        (Source(ROADTRAFFIC, PM4PY_LAYOUT, 390),),
        customers=False,
        exact={"journeys": 100, "events": 390, "activities": 10, "variants": 10},
    ),
    "bpi2016 complaints": Log((Source(BPI2016, BPI2016_FLAGS, 289),), customers=True),
    # Purchases only: no contacts, no outcomes; money on every row.
    "cdnow purchases": Log((Source(CDNOW, CDNOW_FLAGS, 6919),), customers=True),
}


# --- one quickstart per log -----------------------------------------------------------------------


def _cli(args: list[str | Path]) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def _json(result: Result, what: str) -> Any:
    assert result.exit_code == 0, (what, result.output, result.exception)
    return json.loads(result.stdout)


@dataclass
class Quickstart:
    name: str
    log: Log
    root: Path
    ingests: list[list[dict[str, Any]]]
    """What each ``ingest -f json`` printed (one report per file)."""
    build: dict[str, Any]
    status: dict[str, Any]
    customer_map: list[dict[str, str]]
    sections: list[Section]
    html: str
    first: _dt.date
    last: _dt.date
    value: bool
    """Some event carries money."""
    outputs: dict[str, Result] = field(default_factory=dict)

    def analysis(self, name: str) -> tuple[list[str] | None, Result]:
        """Run a registered analysis once (``--format json``) with its minimal arguments."""
        args = arguments(ANALYSES[name], self)
        if name not in self.outputs:
            given = args if args is not None else ["no-such-customer"]
            self.outputs[name] = _cli([*name.split(), *given, "-w", self.root, "-f", "json"])
        return args, self.outputs[name]


@pytest.fixture(scope="module", params=list(LOGS))
def quickstart(
    request: pytest.FixtureRequest, shared_file: SharedFile, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Quickstart]:
    name: str = request.param
    log = LOGS[name]
    tmp = tmp_path_factory.mktemp(re.sub(r"\W+", "_", name))
    root = tmp / "my-workspace"
    assert _cli(["init", root]).exit_code == 0
    ingests = []
    for source in log.sources:
        path = shared_file(source.file)
        ingests.append(_json(_cli(["ingest", path, *source.flags, "-w", root, "-f", "json"]), source.file))
    build = _json(_cli(["build", "-w", root, "-f", "json"]), "build")
    status = _json(_cli(["status", "-w", root, "-f", "json"]), "status")
    exported = _cli(["export", "customer-map", "-w", root])
    assert exported.exit_code == 0, exported.output
    customer_map = list(csv.DictReader(exported.stdout.splitlines()))
    # The report runs once; its sections are kept as the CLI computed them.
    sections: list[Section] = []
    with pytest.MonkeyPatch.context() as patch:
        build_sections = report_html.build_sections

        def keep(*args: Any, **kwargs: Any) -> list[Section]:
            sections.extend(build_sections(*args, **kwargs))
            return sections

        patch.setattr(report_html, "build_sections", keep)
        written = _cli(["report", "-w", root])
    assert written.exit_code == 0, (written.output, written.exception)
    ws = jl.Workspace.open(root)
    try:
        events = ws.store.table("events")
        span = ws.store.execute(
            events.aggregate(
                lo=events.timestamp.min(), hi=events.timestamp.max(), money=(events.value > 0).any()
            )
        ).to_pylist()[0]
    finally:
        ws.close()
    yield Quickstart(
        name, log, root, ingests, build, status, customer_map, sections,
        (root / "report.html").read_text(encoding="utf-8"),
        span["lo"].date(), span["hi"].date(), bool(span["money"]),
    )  # fmt: skip


# --- minimal arguments of each analysis ------------------------------------------------------------


def _steps(run: Quickstart) -> list[str]:
    """The most frequent transition of the process map as a two-step funnel (names the funnel
    syntax would read as something else are passed over)."""
    _, dfg = run.analysis("dfg")
    edges = json.loads(dfg.stdout)["edges"]
    plain = [e for e in edges if not re.search(r"[|\[\]?:*]", e["source"] + e["target"])]
    top = max(plain, key=lambda e: (e["count"], e["source"], e["target"]))
    return [top["source"], top["target"]]


def _map(run: Quickstart) -> str:
    """A two-stage map of the most frequent journey type: the top transition of the process map."""
    _, summary = run.analysis("journeys summary")
    top_type = max(json.loads(summary.stdout), key=lambda r: (r["journeys"], r["group"]))["group"]
    first, then = _steps(run)
    path = run.root / "maps" / "quick.yaml"
    path.parent.mkdir(exist_ok=True)
    stages = [{"name": "one", "touchpoints": [first]}]
    if then != first:  # a self-loop (one purchase after another) is one stage
        stages.append({"name": "two", "touchpoints": [then], "required": False})
    path.write_text(json.dumps({"journey_type": top_type, "goal": "as observed", "stages": stages}))
    return str(path)


def _segments(run: Quickstart) -> list[str]:
    """Purchase data: the built-in RFM segments (by default over events with money, as no purchase
    journey exists); anything else: the first and the second half of the data's time span."""
    if run.value:
        return []
    middle = run.first + (run.last - run.first) / 2
    end = run.last + _dt.timedelta(days=1)
    return ["--period-a", f"{run.first}:{middle}", "--period-b", f"{middle}:{end}"]


def _customer(run: Quickstart) -> list[str] | None:
    users = [r["identifier_value"] for r in run.customer_map if r["identifier_type"] == "user_id"]
    return [min(users)] if users else None


# None: the data admits no valid argument; the analysis then runs with a made-up one and must fail
# with a clear error naming it (a customer 360 of a log without customers; a map no log comes with).
_ARGUMENTS: dict[str, Callable[[Quickstart], list[str] | None]] = {
    "funnel": _steps,
    "segments": _segments,
    "customer": _customer,
    "export xes": lambda run: [str(run.root / "journeys.xes.gz")],
    "feedback export": lambda run: [str(run.root / "feedback.csv")],
    # no log declares journey types: every journey is 'other'
    "map draft": lambda run: ["--type", "other", "--out", str(run.root / "maps" / "other.yaml")],
    "map check": lambda run: [_map(run)],
    "map show": lambda run: None,
    "map monitor": lambda run: None,
    # no log has assignments: a clear error naming the experiment asked for
    "experiment": lambda run: None,
}


def arguments(analysis: Analysis, run: Quickstart) -> list[str] | None:
    """A valid minimal argument set for ``analysis`` on this log (None: the data admits none)."""
    if analysis.name in _ARGUMENTS:
        return _ARGUMENTS[analysis.name](run)
    required = [o.name for m in analysis.spec_models() for o in options(m) if o.required]
    assert not required, f"give {analysis.name!r} its arguments {required} in arguments()"
    return []


# --- every row of every file ----------------------------------------------------------------------


def test_every_row_of_every_file_loads(quickstart: Quickstart) -> None:
    for source, reports in zip(quickstart.log.sources, quickstart.ingests, strict=True):
        (report,) = reports
        counts = {k: report[k] for k in ("rows_read", "loaded", "duplicates", "quarantined")}
        # Identical key-less rows are real records (the CDNOW sample has 21): all rows load.
        expected = {"rows_read": source.rows, "loaded": source.rows, "duplicates": 0, "quarantined": 0}
        assert counts == expected, (source.file, report["quarantined_by_reason"])
        # Reviews name nobody: every one is kept, and counted as unlinked.
        assert report["unlinked"] == (source.rows if source.table == "feedback" else 0)
    tables = quickstart.status["tables"]
    for table in {s.table for s in quickstart.log.sources}:
        assert tables[table] == sum(s.rows for s in quickstart.log.sources if s.table == table)
    assert tables["quarantine"] == 0 and quickstart.status["quarantine"] == []


def test_pm4py_counts_stay_exact(quickstart: Quickstart) -> None:
    exact = quickstart.log.exact
    _, variants = quickstart.analysis("variants")
    _, dfg = quickstart.analysis("dfg")
    totals = {
        **json.loads(dfg.stdout)["totals"],
        "variants": json.loads(variants.stdout)["totals"]["variants"],
    }
    assert {k: totals[k] for k in exact} == exact
    assert quickstart.build["journeys"] == totals["journeys"]
    if quickstart.log.customers:
        assert quickstart.build["customers"] == len({r["customer_id"] for r in quickstart.customer_map}) > 0
    else:
        assert quickstart.build["customers"] == 0 and quickstart.customer_map == []


# --- every analysis ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(ANALYSES))
def test_no_analysis_states_what_the_data_does_not_define(quickstart: Quickstart, name: str) -> None:
    args, result = quickstart.analysis(name)
    if args is None:  # no valid argument on this log: a clear error naming the made-up one
        assert isinstance(result.exception, JourneyLensError) and "no-such-customer" in str(result.exception)
        return
    if name == "attribution" and result.exit_code:
        # Nothing to attribute when no journey succeeded: a clear error listing the outcomes there are.
        message = str(result.exception)
        assert isinstance(result.exception, JourneyLensError) and "outcomes present:" in message
        assert "success" not in message.partition("outcomes present:")[2].split("Hint:")[0]
        return
    output = _json(result, name)
    assert stated_undefined(output, UNDEFINED) == []


README_SEGMENTS = ["segments", "--metric", "success", "--metric", "cost_to_serve"]
"""The README's quickstart line, as written (first-time / loyal / occasional, BH q)."""


def test_readme_segments_line_runs_and_says_what_is_not_defined(quickstart: Quickstart) -> None:
    """No log has a purchase journey; none defines success or cost. The line still runs: purchase
    data is segmented by its events with money, every other log says why no segment is defined
    (no customers, or no purchase) and what would define one."""
    table = _cli([*README_SEGMENTS, "-w", quickstart.root])
    assert table.exit_code == 0, (table.output, table.exception)
    said = " ".join(table.output.split())
    data = _json(_cli([*README_SEGMENTS, "-w", quickstart.root, "-f", "json"]), "segments")
    assert stated_undefined(data, UNDEFINED) == []
    assert data["rows"] and all(r["value"] is None and r["reason"] for r in data["rows"])
    assert "n/d" in table.stdout
    if quickstart.value:
        assert (data["purchases"], data["reason"], data["hint"]) == ("events", None, None)
        assert "events with value > 0 are the purchases" in data["purchases_reason"]
        assert {"first-time", "occasional", "loyal"} <= {g["segment"] for g in data["groups"]}
        assert "n/d success: " in said and "n/d cost_to_serve: no costs are configured" in said
        return
    (group,) = data["groups"]
    assert (group["segment"], group["journeys"]) == (None, quickstart.build["journeys"])
    why = "no purchase in the data" if quickstart.log.customers else "no selected journey has a customer"
    assert data["purchases"] is None and why in data["reason"]
    assert all(r["reason"] == data["reason"] for r in data["rows"])
    fix = "[journeys.types.purchase]" if quickstart.log.customers else "--map user_id=COLUMN"
    assert fix in data["hint"]
    assert f"Not defined: the segments: {why}" in said and f"Hint: {data['hint']}" in said


def test_the_summary_says_why_each_rate_is_not_defined(quickstart: Quickstart) -> None:
    _, result = quickstart.analysis("journeys summary")
    (row,) = json.loads(result.stdout)  # every journey is of type other
    assert row["unknown_outcomes"] == row["journeys"] == quickstart.build["journeys"]
    for reason in (row[f"{rate}_reason"] for rate in OUTCOME_METRICS):
        assert "no success or failure criteria" in reason and "success.touchpoints" in reason
    assert "[journeys.costs]" in row["cost_reason"]
    assert row["leakage_rate"] is None and row["leakage_reason"]
    if quickstart.log.customers:
        assert row["repeat_journey_rate"] is not None  # defined wherever customers come back
    else:
        assert row["repeat_journey_rate"] is None and "--map user_id=" in row["repeat_journey_reason"]


def test_leakage_is_not_defined_without_an_assisted_contact(quickstart: Quickstart) -> None:
    """None of these logs has an assisted contact: a digital journey cannot be seen ending in a
    call, so leakage is not 0% — it is not defined, and every surface says why."""
    _, inventory = quickstart.analysis("touchpoints")
    digital = {"web", "app"} & {row["channel"] for row in json.loads(inventory.stdout)["rows"]}
    # Digital journeys without any contact (purchases) say so; a log without digital journeys
    # says that first.
    why = "no assisted contact in the selection" if digital else "no journeys that used a digital"
    _, summary = quickstart.analysis("journeys summary")
    for row in json.loads(summary.stdout):
        assert (row["leakage_rate"], row["leakage_n"], row["leakage_d"]) == (None, 0, 0), row
        assert why in row["leakage_reason"], row["leakage_reason"]
    journeys = _section(quickstart, "Journeys")
    assert journeys.facts["Leakage rate"] == "not defined"
    assert any(note.startswith("Leakage is not defined") for note in journeys.notes)


def test_funnel_of_the_most_frequent_transition_counts_its_units(quickstart: Quickstart) -> None:
    # On a case log the funnel counts journeys (there are no customers); never zero at step 1.
    args, result = quickstart.analysis("funnel")
    steps = _json(result, "funnel")["steps"]
    assert [s["step_name"] for s in steps] == args
    assert steps[0]["units"] > 0 and steps[1]["units"] > 0, steps


def test_customer_360_says_why_outcome_and_cost_are_missing(quickstart: Quickstart) -> None:
    args, result = quickstart.analysis("customer")
    if args is None:
        assert not quickstart.log.customers
        return
    profile = _json(result, "customer")
    assert profile["journeys"]
    for journey in profile["journeys"]:
        assert (journey["outcome"], journey["cost_to_serve"]) == ("unknown", None)
        assert journey["outcome_reason"] and "[journeys.costs]" in journey["cost_to_serve_reason"]


# --- the report -------------------------------------------------------------------------------------


def _section(run: Quickstart, title: str) -> Section:
    return next(s for s in run.sections if s.title == title)


def test_report_counts_reviews_as_unlinked_feedback(quickstart: Quickstart) -> None:
    reviews = sum(s.rows for s in quickstart.log.sources if s.table == "feedback")
    stated = _section(quickstart, "Overview").facts["Feedback answers"]
    assert stated == (f"{reviews:,} ({reviews:,} unlinked: no respondent id)" if reviews else "0")


def test_report_draws_no_degenerate_chart(quickstart: Quickstart) -> None:
    assert quickstart.sections
    drawn = [(s.title, f.layout.title.text, degenerate(f)) for s in quickstart.sections for f in s.figures]
    assert [d for d in drawn if d[2] is not None] == []


def test_report_states_no_undefined_rate_or_cost(quickstart: Quickstart) -> None:
    journeys = _section(quickstart, "Journeys")
    for fact in ("Success rate", "First-contact resolution", "Leakage rate", "Total cost to serve"):
        assert journeys.facts[fact] == "not defined", fact
    assert any("[journeys.costs]" in note for note in journeys.notes)
    for section in quickstart.sections:
        for name, table in section.tables:
            for column in (c for c in table.columns if UNDEFINED_COLUMNS.search(str(c))):
                stated = {str(v) for v in table[column]} - NOT_DEFINED_CELLS
                assert not stated, (section.title, name, column, stated)
    for tile in ("Success rate", "Leakage rate", "Total cost to serve"):
        assert re.search(rf'class="k">{tile}</div><div class="v">not defined<', quickstart.html), tile
