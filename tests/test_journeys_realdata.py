"""Journeys built from the real reference logs in ../shared/data, checked against pm4py and pandas.

Help desk: every XES trace is a ticket (``case_id``) and each event names its ``customer``, mapped
to ``user_id``; the journeys model says the case *is* the journey. BPI Challenge 2016: each row is
one complaint of one customer, which gives repeat-contact figures per customer.

The references never go through journeylens: the help-desk log is read with ``pm4py.read_xes``
(which keeps file order), the complaints with ``pandas.read_csv``.
"""

from __future__ import annotations

import json
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from journeylens import Workspace
from journeylens.cli.app import app
from journeylens.identity import stitch
from journeylens.journeys import JOURNEY_COLUMNS, JourneyRules, build_journeys

pytestmark = pytest.mark.realdata

SharedFile = Callable[[str], Path]

HELPDESK = "process-logs/helpdesk.xes.gz"
HELPDESK_MAPPING = {"user_id": "customer"}
BPI2016 = "journeys/BPI2016_Complaints.csv"
# One complaint is one event of its customer; the channel ids are codes (they load as 'other').
BPI2016_MAPPING = {
    "user_id": "CustomerID",
    "timestamp": "ContactDate",
    "channel": "ContactChannelID",
    "touchpoint": "ComplaintTheme_EN",
}


# --- help desk: the model, built once through the CLI ---------------------------------------------


@dataclass(frozen=True)
class HelpdeskModel:
    root: Path
    build: dict[str, Any]
    """What ``journeylens build -f json`` printed."""
    journeys: pd.DataFrame = field(repr=False)
    events: pd.DataFrame = field(repr=False)
    """journey_events joined with the stored events: journey_id, step, case_id, user_id, ..."""
    users: dict[str, str] = field(repr=False)
    """customer_id -> user_id (the help desk's ``customer`` value)."""


@pytest.fixture(scope="module")
def helpdesk_log(shared_file: SharedFile) -> pd.DataFrame:
    """The help-desk log as pm4py reads it, in file order: case, activity, timestamp, customer."""
    import pm4py

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pm4py suggests an optional faster importer
        log = pm4py.read_xes(str(shared_file(HELPDESK)), show_progress_bar=False)
    return log.rename(
        columns={"case:concept:name": "case", "concept:name": "activity", "time:timestamp": "timestamp"}
    )[["case", "activity", "timestamp", "customer"]].reset_index(drop=True)


@pytest.fixture(scope="module")
def helpdesk(shared_file: SharedFile, tmp_path_factory: pytest.TempPathFactory) -> HelpdeskModel:
    """Help desk ingested with customer as user_id, then ``journeylens build``; tables read back."""
    ws = Workspace.init(tmp_path_factory.mktemp("helpdesk") / "ws")
    (report,) = ws.ingest(paths=[str(shared_file(HELPDESK))], channel="call_center", mapping=HELPDESK_MAPPING)
    assert report.loaded == 21348
    root = ws.root
    ws.close()

    result = CliRunner().invoke(app, ["build", "-w", str(root), "-f", "json"])
    assert result.exit_code == 0, result.output
    build = json.loads(result.stdout)

    ws = Workspace.open(root)
    try:
        backend = ws.store.backend
        journeys = ws.store.execute(backend.table("journeys")).to_pandas()
        steps, events = backend.table("journey_events"), ws.store.table("events")
        joined = steps.join(events, "event_id").select(
            "journey_id", "step", "event_id", "case_id", "user_id", "touchpoint", "timestamp", "ingest_seq"
        )
        rows = ws.store.execute(joined).to_pandas()
        cmap = backend.table("customer_map")
        cmap = cmap.filter(cmap.identifier_type == "user_id")
        users = ws.store.execute(cmap.select("customer_id", "identifier_value")).to_pylist()
    finally:
        ws.close()
    return HelpdeskModel(
        root=root,
        build=build,
        journeys=journeys,
        events=rows,
        users={u["customer_id"]: u["identifier_value"] for u in users},
    )


def test_helpdesk_build_makes_one_customer_per_customer_value(
    helpdesk: HelpdeskModel, helpdesk_log: pd.DataFrame
) -> None:
    assert list(helpdesk.journeys.columns) == list(JOURNEY_COLUMNS)
    assert helpdesk.build["journeys"] == len(helpdesk.journeys)
    # Nothing links two user ids here, so every distinct 'customer' value is one customer.
    assert helpdesk.build["customers"] == helpdesk_log["customer"].nunique() == 397
    assert sorted(helpdesk.users.values()) == sorted(helpdesk_log["customer"].unique())


def test_helpdesk_every_case_is_one_journey(helpdesk: HelpdeskModel, helpdesk_log: pd.DataFrame) -> None:
    # segment.py, rule 4: where events carry a case_id the case *is* the journey and every event of
    # the case belongs to it. In 7 help-desk tickets some events name another customer than the rest
    # (Case 1345: three of ten events are by 'Value 285'); those tickets must still be one journey.
    j = helpdesk.journeys
    split = {
        case: sorted(zip(group["customer_id"].map(helpdesk.users), group["touchpoints"], strict=True))
        for case, group in j.groupby("case_id")
        if len(group) > 1
    }
    assert split == {}, f"{len(split)} case(s) became several journeys (customer, touchpoints): {split}"
    assert len(j) == helpdesk_log["case"].nunique() == 4580
    # touchpoints of each journey == events of its trace, counted by pm4py.
    assert j.set_index("case_id")["touchpoints"].to_dict() == helpdesk_log.groupby("case").size().to_dict()


def test_helpdesk_steps_follow_the_trace_order(helpdesk: HelpdeskModel, helpdesk_log: pd.DataFrame) -> None:
    ev = helpdesk.events
    # The log has ties inside traces; file (load) order must break them.
    tied = helpdesk_log.groupby("case")["timestamp"].agg(lambda ts: ts.duplicated().any())
    assert int(tied.sum()) == 129

    # Every event is in exactly one journey, numbered 1..n, and a journey never mixes cases.
    assert len(ev) == ev["event_id"].nunique() == len(helpdesk_log) == 21348
    assert ev.groupby("journey_id")["case_id"].nunique().eq(1).all()
    assert set(ev["case_id"]) == set(helpdesk_log["case"])
    ev = ev.sort_values(["journey_id", "step"])
    numbered = ev.groupby("journey_id")["step"].agg(list)
    assert all(steps == list(range(1, len(steps) + 1)) for steps in numbered)

    # Each journey, step by step, is its trace in file order, restricted to the journey's own
    # customers (all of them when the case is one journey).
    traces: dict[str, list[tuple[str, pd.Timestamp, str]]] = {}
    for case, activity, ts, who in helpdesk_log.itertuples(index=False):
        traces.setdefault(case, []).append((activity, ts, who))
    got: dict[str, list[tuple[str, pd.Timestamp]]] = {}
    users: dict[str, set[str]] = {}
    cases: dict[str, str] = {}
    for row in ev.itertuples(index=False):
        got.setdefault(row.journey_id, []).append((row.touchpoint, pd.Timestamp(row.timestamp)))
        users.setdefault(row.journey_id, set()).add(row.user_id)
        cases[row.journey_id] = row.case_id
    expected = {jid: [(a, ts) for a, ts, who in traces[cases[jid]] if who in users[jid]] for jid in got}
    wrong = [jid for jid in got if got[jid] != expected[jid]]
    assert not wrong, f"{len(wrong)} journeys out of trace order, e.g. case {cases[wrong[0]]}"


def test_helpdesk_tickets_per_customer(helpdesk: HelpdeskModel, helpdesk_log: pd.DataFrame) -> None:
    # A ticket's customer is the customer of its first event (in this log also the customer of
    # most of its events). From the model: the customer of the case's earliest-starting journey,
    # which is the case's only journey wherever the case is one journey.
    j = helpdesk.journeys.sort_values(["case_id", "start"])
    assert not j.duplicated(["case_id", "start"]).any(), "each case's first journey is unambiguous"
    owners = j.drop_duplicates("case_id")["customer_id"].map(helpdesk.users)
    model = Counter(owners)

    reference = Counter(helpdesk_log.groupby("case", sort=False)["customer"].first())
    assert model == reference
    assert sum(model.values()) == 4580
    assert len(model) == 394  # 3 of the 397 customers appear only inside someone else's ticket
    assert sum(1 for n in model.values() if n > 1) == 309
    assert model.most_common(2) == [("Value 22", 250), ("Value 9", 244)]
    assert Counter(model.values()) == Counter(reference.values())


def test_helpdesk_repeat_journey_is_the_next_journey_within_seven_days(helpdesk: HelpdeskModel) -> None:
    # What the model computes: a journey is repeated when the customer's next journey of the same
    # type (by start) starts at most repeat_window (7d) after this one ends, including a journey
    # that starts while this one is still open. Reference in pandas on the model's own journeys.
    j = helpdesk.journeys.sort_values(["customer_id", "journey_type", "start", "journey_id"])
    window = pd.Timedelta(JourneyRules().repeat_window)
    next_start = j.groupby(["customer_id", "journey_type"])["start"].shift(-1)
    reference = (next_start - j["end"]) <= window
    assert j["repeat_journey"].tolist() == reference.tolist()

    # Read strictly ("another journey started within 7 days *after* this one ended"), fewer
    # journeys are repeats: overlapping tickets of the same customer are common here. Every strict
    # repeat is also a repeat of the model.
    strict = pd.Series(False, index=j.index)
    for _, group in j.groupby(["customer_id", "journey_type"]):
        for idx, end in group["end"].items():
            others = group["start"].drop(idx)
            strict[idx] = bool(others.between(end, end + window).any())
    assert not (strict & ~j["repeat_journey"]).any()
    assert strict.sum() < j["repeat_journey"].sum()


def test_helpdesk_journeys_summary_cli(
    helpdesk: HelpdeskModel, run_cli: Callable[[list[str]], Result]
) -> None:
    result = run_cli(["journeys", "summary", "--by", "journey_type", "-f", "json", "-w", str(helpdesk.root)])

    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    j = helpdesk.journeys
    # No default journey type claims a help-desk activity, so every ticket is an 'other' journey.
    assert [r["group"] for r in rows] == sorted(j["journey_type"].unique()) == ["other"]
    (row,) = rows
    assert row["journeys"] == len(j)
    assert (row["repeat_journey_n"], row["repeat_journey_d"]) == (int(j["repeat_journey"].sum()), len(j))
    # 'other' has no success or failure criteria: every outcome is unknown, and no outcome rate is
    # stated (not 0% success and 100% abandoned), with the reason and the setting that defines it.
    assert set(j["outcome"]) == {"unknown"} and row["unknown_outcomes"] == len(j)
    for rate in ("success", "abandoned", "first_contact_resolution"):
        assert (row[f"{rate}_rate"], row[f"{rate}_n"], row[f"{rate}_d"]) == (None, 0, 0)
        assert "[journeys.types.NAME]" in row[f"{rate}_reason"]
    assert row["repeat_journey_lo"] <= row["repeat_journey_rate"] <= row["repeat_journey_hi"]
    # The workspace sets no costs: no cost to serve is invented.
    assert j["cost_to_serve"].isna().all()
    assert row["cost_total"] is None and "[journeys.costs]" in row["cost_reason"]


# --- BPI Challenge 2016: repeat complaints per customer -------------------------------------------


@pytest.fixture(scope="module")
def complaints(shared_file: SharedFile) -> pd.DataFrame:
    """The complaints as pandas reads them: one row per complaint, ContactDate as a date."""
    df = pd.read_csv(shared_file(BPI2016), sep=";", encoding="latin-1", dtype=str)
    return df.assign(day=pd.to_datetime(df["ContactDate"]))


def _repeats_within(complaints: pd.DataFrame, days: int) -> int:
    """Complaints that came at most ``days`` after an earlier complaint of the same customer."""
    ordered = complaints.sort_values(["CustomerID", "day"])
    gap = ordered["day"] - ordered.groupby("CustomerID")["day"].shift()
    return int((gap <= pd.Timedelta(days=days)).sum())


def _bpi_journeys(ws: Workspace, source: Path, mapping: dict[str, str], window: str) -> pd.DataFrame:
    (report,) = ws.ingest(paths=[str(source)], delimiter=";", encoding="latin-1", mapping=mapping)
    assert (report.loaded, report.quarantined_total) == (289, 0)
    stitch(ws.store, ws.config.identity)
    built = build_journeys(ws.store, JourneyRules(repeat_window=window))
    return ws.store.execute(built.journeys).to_pandas()


# The repeat window is inclusive; the data has a gap of exactly 30 days, so 30d pins that.
WINDOWS = [("7d", 7, 39), ("30d", 30, 51)]


def test_bpi2016_reference_figures(complaints: pd.DataFrame) -> None:
    per_customer = complaints.groupby("CustomerID").size()
    assert (len(complaints), len(per_customer)) == (289, 226)
    assert int((per_customer > 1).sum()) == 46
    assert Counter(per_customer) == {1: 180, 2: 35, 3: 6, 4: 4, 5: 1}
    assert [_repeats_within(complaints, d) for d in (0, 7, 30)] == [34, 39, 51]


@pytest.mark.parametrize(("window", "days", "expected"), WINDOWS)
def test_bpi2016_each_complaint_as_a_case(
    workspace: Workspace,
    shared_file: SharedFile,
    complaints: pd.DataFrame,
    window: str,
    days: int,
    expected: int,
) -> None:
    # With ComplaintID as case_id the complaint is the journey, so repeat_journey counts pairs of
    # consecutive complaints of one customer at most `window` apart, the later one counted in
    # pandas, the earlier one in the model (same-day ties: whichever sorts first; the count is
    # the same).
    journeys = _bpi_journeys(
        workspace, shared_file(BPI2016), {**BPI2016_MAPPING, "case_id": "ComplaintID"}, window
    )

    assert len(journeys) == 289
    assert (journeys["touchpoints"] == 1).all()
    assert set(journeys["case_id"]) == set(complaints["ComplaintID"])
    per_customer = journeys.groupby("customer_id").size()
    assert len(per_customer) == complaints["CustomerID"].nunique() == 226
    assert int((per_customer > 1).sum()) == int((complaints.groupby("CustomerID").size() > 1).sum()) == 46
    assert int(journeys["repeat_journey"].sum()) == _repeats_within(complaints, days) == expected


@pytest.mark.parametrize(("window", "days", "expected"), WINDOWS)
def test_bpi2016_complaints_without_cases(
    workspace: Workspace,
    shared_file: SharedFile,
    complaints: pd.DataFrame,
    window: str,
    days: int,
    expected: int,
) -> None:
    # Without a case, the gap rule decides: contact dates have no time of day, so complaints of
    # one customer on the same day (gap 0, not more than the 24h neutral gap) are one journey, and
    # no two complaints in this file are exactly one day apart. Every complaint after the first of
    # its journey is then a repeat within any window >= 1 day, and each journey followed by the
    # customer's next within the window adds one: repeats = sum(touchpoints - 1) + repeat journeys.
    journeys = _bpi_journeys(workspace, shared_file(BPI2016), BPI2016_MAPPING, window)

    days_of = complaints[["CustomerID", "ContactDate"]].drop_duplicates()
    assert len(journeys) == len(days_of) == 255
    assert sorted(journeys["touchpoints"]) == sorted(complaints.groupby(["CustomerID", "ContactDate"]).size())
    assert set(journeys["journey_type"]) == {"other"}
    per_customer = journeys.groupby("customer_id").size()
    assert len(per_customer) == 226
    # 46 customers complained more than once, but 21 of them only on a single day.
    assert int((per_customer > 1).sum()) == int((days_of.groupby("CustomerID").size() > 1).sum()) == 25

    assert _repeats_within(complaints, 1) == _repeats_within(complaints, 0)
    same_day = int((journeys["touchpoints"] - 1).sum())
    repeated = int(journeys["repeat_journey"].sum())
    assert same_day == _repeats_within(complaints, 0) == 34
    assert same_day + repeated == _repeats_within(complaints, days) == expected


# --- process logs: the case-log path equals the general one ------------------------------------------

# Types whose start criteria meet help-desk and receipt activities, so the type rule has work to
# do (several types claim some events, one claims others, none claims the rest).
TICKET_STARTS = ["Assign seriousness", "Take in charge ticket", "T03 Adjust confirmation of receipt"]
INTAKE_STARTS = ["Confirmation of receipt", "T02 Check confirmation of receipt"]
CASE_LOG_RULES = JourneyRules(
    types={
        "tickets": {"priority": 1, "start": {"touchpoints": TICKET_STARTS}},
        "resolution": {"priority": 2, "start": {"touchpoints": ["Take in charge ticket", "Resolve ticket"]}},
        "intake": {"priority": 3, "start": {"touchpoints": INTAKE_STARTS}},
    }
)


@pytest.mark.parametrize(
    ("log", "mapping"), [(HELPDESK, HELPDESK_MAPPING), ("process-logs/receipt.xes.gz", {})]
)
def test_case_log_path_equals_the_general_path(
    log: str, mapping: dict[str, str], shared_file: SharedFile, tmp_path: Path
) -> None:
    """Every event has a case: skipping intent segmentation changes nothing, row for row (help desk
    with customers; receipt without any)."""
    from journeylens.identity.stitch import events_with_customers
    from journeylens.journeys.segment import assign_journeys

    ws = Workspace.init(tmp_path / "ws")
    ws.ingest(paths=[str(shared_file(log))], mapping=mapping)
    stitch(ws.store, ws.config.identity)
    events = events_with_customers(ws.store)
    try:
        general, fast = (
            ws.store.execute(assign_journeys(ws.store.backend, events, CASE_LOG_RULES, case_log=flag))
            .to_pandas()
            .sort_values("event_id", ignore_index=True)
            for flag in (False, True)
        )
    finally:
        ws.close()
    pd.testing.assert_frame_equal(general, fast)
    assert general["journey_id"].nunique() == {HELPDESK: 4580}.get(log, 1434)
    assert general["type_code"].nunique() >= 2  # the type rule decided something
