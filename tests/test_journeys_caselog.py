"""Process logs on the case-log path (``journeys.cases``): every derived table equals the general
path's, all columns, on real logs (help desk, receipt, BPI 2016 complaints as cases) and on a
synthetic case log with the features the step order reads (assisted contacts, channel switches,
ties in time, outbound messages, customers on some events, feedback linked by case)."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from journeylens import Workspace
from journeylens.identity import stitch
from journeylens.journeys import JourneyRules, build, build_journeys

SharedFile = Callable[[str], Path]
DERIVED = {
    "journeys": ["journey_id"],
    "journey_events": ["event_id"],
    "feedback_links": ["feedback_id"],
}
# Types whose start criteria meet each log's activities, so typing each case has work to do
# (several types claim some events, one claims others, none claims the rest).
HELPDESK_RULES = JourneyRules(
    types={
        "tickets": {"priority": 1, "start": {"touchpoints": ["Assign seriousness", "Take in charge ticket"]}},
        "resolution": {"priority": 2, "start": {"touchpoints": ["Take in charge ticket", "Resolve ticket"]}},
    }
)
RECEIPT_RULES = JourneyRules(
    types={
        "adjust": {"priority": 1, "start": {"touchpoints": ["T03 Adjust confirmation of receipt"]}},
        "intake": {
            "priority": 2,
            "start": {"touchpoints": ["Confirmation of receipt", "T03 Adjust confirmation of receipt"]},
        },
    }
)
SYNTHETIC_RULES = JourneyRules(
    types={
        "tickets": {"priority": 1, "start": {"touchpoints": ["call", "chatbot"]}},
        "browse": {"priority": 2, "start": {"touchpoints": ["faq", "chatbot", "product_page"]}},
    }
)


def _derived(ws: Workspace, rules: JourneyRules) -> dict[str, pd.DataFrame]:
    build_journeys(ws.store, rules)
    tables = {}
    for name, key in DERIVED.items():
        frame = ws.store.execute(ws.store.backend.table(name)).to_pandas()
        tables[name] = frame.sort_values(key, ignore_index=True)
    return tables


def _both_paths(ws: Workspace, rules: JourneyRules, monkeypatch: pytest.MonkeyPatch) -> None:
    stitch(ws.store, ws.config.identity)
    assert build.is_case_log(ws.store)
    fast = _derived(ws, rules)
    with monkeypatch.context() as patched:
        patched.setattr(build, "is_case_log", lambda store: False)
        general = _derived(ws, rules)
    for name in DERIVED:
        pd.testing.assert_frame_equal(fast[name], general[name], obj=name)
    assert len(fast["journeys"]) > 1 and len(fast["journey_events"]) > len(fast["journeys"])


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("log", "rules", "options"),
    [
        ("process-logs/helpdesk.xes.gz", HELPDESK_RULES, {"mapping": {"user_id": "customer"}}),
        ("process-logs/receipt.xes.gz", RECEIPT_RULES, {}),
        (
            "journeys/BPI2016_Complaints.csv",
            JourneyRules(),
            {
                "delimiter": ";",
                "encoding": "latin-1",
                "mapping": {
                    "user_id": "CustomerID",
                    "case_id": "ComplaintDossierID",
                    "timestamp": "ContactDate",
                    "channel": "ContactChannelID",
                    "touchpoint": "ComplaintTheme_EN",
                },
            },
        ),
    ],
)
def test_real_logs_fast_path_equals_general_path(
    log: str,
    rules: JourneyRules,
    options: dict[str, object],
    shared_file: SharedFile,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ws = Workspace.init(tmp_path / "ws")
    try:
        ws.ingest(paths=[str(shared_file(log))], **options)
        _both_paths(ws, rules, monkeypatch)
    finally:
        ws.close()


def _write(path: Path, rows: list[dict[str, object]]) -> str:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return str(path)


def test_synthetic_case_log_fast_path_equals_general_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cases that span days and customers, ties in time, outbound messages, assisted contacts in
    the middle, properties the default types read, and answers linked by case."""
    steps = [
        ("web", "faq", "", "", {}),
        ("email", "promo_newsletter", "", "outbound", {}),
        ("call_center", "call", "a1", "inbound", {"contact_reason": "billing"}),
        ("web", "product_page", "", "", {}),
        ("chat", "chatbot", "a2", "", {"contact_reason": "delivery"}),
        ("web", "checkout", "", "", {}),
    ]
    events, feedback = [], []
    for case in range(40):
        user = f"u{case % 7}" if case % 3 else ""
        for k in range((case % 6) + 1):
            channel, touchpoint, agent, direction, props = steps[(case + k) % len(steps)]
            # Every fourth case has two events at the same instant (ties broken by load order).
            second = (case * 3600 + k * (86_400 if case % 5 == 0 else 600)) * (k != 1 or case % 4 != 0)
            events.append({
                "event_id": f"e{case}-{k}", "case_id": f"c{case}", "user_id": user,
                "timestamp": 1_700_000_000 + second, "channel": channel, "touchpoint": touchpoint,
                "agent_id": agent, "direction": direction, "properties": json.dumps(props) if props else "",
            })  # fmt: skip
        if case % 2:
            feedback.append({
                "feedback_id": f"f{case}", "case_id": f"c{case}",
                "timestamp": 1_700_000_000 + case * 3600 + 900,
                "channel": "email", "touchpoint": "survey", "metric": "csat", "score": case % 5 + 1,
                "comment": "slow and confusing" if case % 4 == 1 else "great",
            })  # fmt: skip
    ws = Workspace.init(tmp_path / "ws")
    try:
        [loaded] = ws.ingest(paths=[_write(tmp_path / "events.csv", events)])
        [answers] = ws.ingest(paths=[_write(tmp_path / "feedback.csv", feedback)], table="feedback")
        assert (loaded.loaded, answers.loaded) == (len(events), len(feedback)), (loaded, answers)
        _both_paths(ws, JourneyRules(), monkeypatch)
        _both_paths(ws, SYNTHETIC_RULES, monkeypatch)
        links = ws.store.execute(ws.store.backend.table("feedback_links")).to_pandas()
        assert links["journey_id"].notnull().sum() == len(feedback)
    finally:
        ws.close()


def test_a_log_is_a_case_log_only_when_every_event_has_a_case(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws")
    rows = [
        {"timestamp": f"2024-03-01T1{hour}:00:00Z", "user_id": "u1", "case_id": case, "channel": "web",
         "touchpoint": touchpoint}
        for hour, case, touchpoint in [(0, "k1", "faq"), (1, "", "home")]
    ]  # fmt: skip
    path = tmp_path / "events.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    ws.ingest(paths=[str(path)])
    assert not build.is_case_log(ws.store)  # the second event has no case
    events = ws.store.backend.table("events")
    ws.store.backend.create_table("events", events.filter(events.case_id.notnull()), overwrite=True)
    assert build.is_case_log(ws.store)
    ws.close()
