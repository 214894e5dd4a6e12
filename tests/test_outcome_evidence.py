"""Outcomes and the evidence that decided them: self-service resolution, repeats by contact reason,
open repeat windows, feedback that overrides an inferred success, and the settings' bad values."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w

import journeylens as jl
from conftest import write_csv
from journeylens.errors import ConfigError
from journeylens.identity import stitch
from journeylens.journeys import JourneyRules, build_journeys
from journeylens.journeys.summary import journey_summary
from journeylens.voc.sentiment import compound
from test_journeys import at, ev, journeys_of

# A bystander whose events run 30 days: the data's end lies well past every repeat window below.
LATER = [ev("zed", 0, "web", "faq"), ev("zed", 24 * 30, "web", "faq")]


def call(
    user: str, hours: float, reason: str, agent: str, channel: str = "call_center", **extra: Any
) -> dict[str, Any]:
    """An agent-handled contact about ``reason`` (billing_call, delivery_chat, ...)."""
    touchpoint = f"{reason}_{'chat' if channel == 'chat' else 'call'}"
    return ev(user, hours, channel, touchpoint, agent_id=agent, contact_reason=reason, **extra)


def answer(user: str | None, hours: float, metric: str, score: float, **extra: Any) -> dict[str, Any]:
    return {"user_id": user, "timestamp": at(hours), "metric": metric, "score": score, **extra}


def build(
    tmp_path: Path,
    rows: list[dict[str, Any]],
    feedback: list[dict[str, Any]] | None = None,
    rules: JourneyRules | None = None,
) -> list[dict[str, Any]]:
    ws = jl.Workspace.init(tmp_path / "ws")
    ws.ingest(paths=[str(write_csv(tmp_path, "events.csv", rows + LATER))])
    if feedback:
        ws.ingest(paths=[str(write_csv(tmp_path, "feedback.csv", feedback))], table="feedback")
    stitch(ws.store, ws.config.identity)
    build_journeys(ws.store, rules or ws.config.journeys)
    found = [j for j in journeys_of(ws) if j["customer_id"] != _customer(ws, "zed")]
    ws.close()
    return found


def _customer(ws: jl.Workspace, user: str) -> str:
    cmap = ws.store.backend.table("customer_map")
    row = ws.store.execute(cmap.filter(cmap.identifier_value == user).select("customer_id")).to_pylist()
    return str(row[0]["customer_id"])


def outcomes(journeys: list[dict[str, Any]]) -> list[tuple[str, str, str | None]]:
    return [(j["outcome"], j["outcome_evidence"], j["outcome_touchpoint"]) for j in journeys]


def test_self_service_without_a_repeat_is_a_resolution_and_a_repeat_undoes_it(tmp_path: Path) -> None:
    rows = [
        ev("ann", 0, "web", "billing_settings"),
        ev("ann", 0.1, "web", "my_invoices"),
        # bob reads the delivery FAQ, and is back four days later (a repeat within 7 days)
        ev("bob", 0, "web", "delivery_faq"),
        ev("bob", 96, "web", "track_order"),
    ]
    ann, bob1, bob2 = sorted(build(tmp_path, rows), key=lambda j: (j["start"], j["first_touchpoint"]))
    assert outcomes([ann]) == [("success", "no_repeat_self_service", None)]
    assert ann["time_to_resolution_s"] == ann["duration_s"] == 360
    assert outcomes([bob1]) == [("abandoned", "no_outcome_event", None)] and bob1["repeat_journey"]
    assert outcomes([bob2]) == [("success", "no_repeat_self_service", None)]


def test_inference_waits_for_the_repeat_window_to_pass(tmp_path: Path) -> None:
    ws = jl.Workspace.init(tmp_path / "ws")
    rows = [ev("ann", 0, "web", "billing_faq"), ev("cat", 24 * 4, "web", "faq")]  # data ends 4 days on
    ws.ingest(paths=[str(write_csv(tmp_path, "events.csv", rows))])
    stitch(ws.store, ws.config.identity)
    build_journeys(ws.store, ws.config.journeys)
    ann = journeys_of(ws)[0]
    assert (ann["outcome"], ann["outcome_evidence"]) == ("open", "open")
    # A three-day repeat window has passed: the journey is decided.
    build_journeys(ws.store, JourneyRules(repeat_window="3d"))
    assert journeys_of(ws)[0]["outcome_evidence"] == "no_repeat_self_service"
    ws.close()


def test_a_later_journey_about_another_reason_is_not_a_repeat(tmp_path: Path) -> None:
    rows = [
        call("ann", 0, "billing", "a1"),
        call("ann", 72, "delivery", "a2"),
    ]
    first, second = build(tmp_path, rows)
    assert first["contact_reason"] == "billing" and second["contact_reason"] == "delivery"
    assert outcomes([first, second]) == [("success", "no_repeat_after_contact", None)] * 2
    assert first["first_contact_resolution"] is True and first["repeat_journey"] is False
    # Without repeat_by_reason, any support journey within 7 days is a repeat.
    first, _ = build(tmp_path / "plain", rows, rules=JourneyRules(repeat_by_reason=False))
    assert (first["outcome"], first["repeat_journey"], first["first_contact_resolution"]) == (
        "abandoned",
        True,
        False,
    )


def test_observed_events_name_themselves(tmp_path: Path) -> None:
    rows = [
        ev("ann", 0, "web", "search"),
        ev("ann", 0.1, "web", "payment_error"),
        ev("ann", 0.2, "web", "order_confirmation"),
        ev("bob", 0, "web", "search"),
        ev("bob", 0.1, "app", "payment_error"),
        call("cat", 0, "billing", "a1", case_id="T1"),
        ev("cat", 30, "sms", "ticket_resolved", direction="outbound", case_id="T1"),
    ]
    found = {j["customer_id"]: j for j in build(tmp_path, rows)}
    assert sorted(outcomes(list(found.values()))) == [
        ("failed", "failure_event", "payment_error"),
        ("success", "success_event", "order_confirmation"),
        ("success", "success_event", "ticket_resolved"),
    ]


def test_negative_feedback_overrides_only_an_inferred_success(tmp_path: Path) -> None:
    rows = [
        # ann: a call about ticket T1, no repeat; her CSAT on T1 is 1
        call("ann", 0, "billing", "a1", case_id="T1"),
        # bob: help pages only; a CES of 2 the next day (linked by time, no case)
        ev("bob", 0, "web", "troubleshooting_guide"),
        # cat: ticket resolved (observed), yet an unhappy CSAT: the success stands
        call("cat", 0, "billing", "a2", channel="chat", case_id="T3"),
        ev("cat", 2, "sms", "ticket_resolved", direction="outbound", case_id="T3"),
        # dan: a mid score with an angry comment
        ev(
            "dan", 0, "call_center", "technical_call", agent_id="a3", contact_reason="technical", case_id="T4"
        ),
        # eve: a happy CSAT
        ev(
            "eve", 0, "call_center", "technical_call", agent_id="a3", contact_reason="technical", case_id="T5"
        ),
    ]
    feedback = [
        answer("ann", 3, "csat", 1, case_id="T1"),
        answer("bob", 24, "ces", 2),
        answer("cat", 5, "csat", 1, case_id="T3"),
        answer(
            "dan", 4, "csat", 3, case_id="T4", comment="Terrible. Nobody helped and the fault is still there."
        ),
        answer("eve", 4, "csat", 5, case_id="T5", comment="Great, thanks!"),
    ]
    found = build(tmp_path, rows, feedback)
    by_case = {j["case_id"] or "bob": j for j in found}
    assert by_case["T1"]["outcome_evidence"] == "negative_feedback" and by_case["T1"]["outcome"] == "failed"
    assert by_case["T1"]["first_contact_resolution"] is False
    assert by_case["bob"]["outcome_evidence"] == "negative_feedback"
    assert by_case["T3"]["outcome_evidence"] == "success_event"
    assert by_case["T4"]["outcome_evidence"] == "negative_feedback"
    assert by_case["T5"]["outcome_evidence"] == "no_repeat_after_contact"
    # Comments not counted: dan's mid score is no evidence; thresholds move with the setting.
    quiet = JourneyRules.model_validate({"feedback": {"comments": False, "negative": {"csat": 1}}})
    by_case = {j["case_id"] or "bob": j for j in build(tmp_path / "quiet", rows, feedback, quiet)}
    assert by_case["T4"]["outcome_evidence"] == "no_repeat_after_contact"
    assert by_case["bob"]["outcome_evidence"] == "no_repeat_self_service"  # CES no longer listed
    assert by_case["T1"]["outcome_evidence"] == "negative_feedback"
    off = JourneyRules.model_validate({"feedback": {"enabled": False}})
    assert {j["outcome_evidence"] for j in build(tmp_path / "off", rows, feedback, off)} == {
        "no_repeat_after_contact",
        "no_repeat_self_service",
        "success_event",
    }


def test_feedback_outside_the_window_or_before_the_journey_is_not_linked(tmp_path: Path) -> None:
    rows = [ev("ann", 0, "web", "billing_faq"), ev("ann", 24 * 20, "web", "faq")]
    late = [answer("ann", 24 * 8, "csat", 1)]  # 8 days after the support journey: not about it
    first, _ = build(tmp_path, rows, late)
    assert first["outcome_evidence"] == "no_repeat_self_service"
    early = [answer("ann", 24 * 19, "csat", 1)]  # before the information journey, long after support
    assert build(tmp_path / "early", rows, early)[0]["outcome_evidence"] == "no_repeat_self_service"


def test_summary_splits_success_into_observed_and_inferred(tmp_path: Path) -> None:
    rows = [
        ev("ann", 0, "web", "billing_faq"),
        call("bob", 0, "billing", "a1", case_id="T2"),
        call("cat", 0, "billing", "a1", case_id="T3"),
        ev("cat", 1, "sms", "ticket_resolved", direction="outbound", case_id="T3"),
        call("dan", 0, "billing", "a1", case_id="T4"),
    ]
    ws = jl.Workspace.init(tmp_path / "ws")
    ws.ingest(paths=[str(write_csv(tmp_path, "events.csv", rows + LATER))])
    ws.ingest(
        paths=[str(write_csv(tmp_path, "fb.csv", [answer("dan", 2, "csat", 1, case_id="T4")]))],
        table="feedback",
    )
    summary = {r["group"]: r for r in ws.journeys_summary().rows}
    support = summary["support"]
    assert (support["success_n"], support["success_d"]) == (3, 4)
    assert (support["success_observed"], support["success_inferred"], support["failed_by_feedback"]) == (
        1,
        2,
        1,
    )
    assert support["open_outcomes"] == 0
    lines = [r for r in journey_summary(ws.store).compact() if r["group"] == "support"]
    observed = next(r for r in lines if r["measure"] == "success observed")
    inferred = next(r for r in lines if r["measure"] == "success inferred")
    assert (observed["value"], observed["count"]) == ("33.3%", "1/3")
    assert (inferred["value"], inferred["count"]) == ("66.7%", "2/3")
    assert next(r for r in lines if r["measure"] == "failed by feedback")["value"] == "1"
    ws.close()


def _merge(into: dict[str, Any], new: dict[str, Any]) -> None:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict) and key != "negative":
            _merge(into[key], value)
        else:
            into[key] = value


def test_vader_scores_comments() -> None:
    bad, good, empty = compound(
        ["Terrible. Nobody helped and the fault is still there.", "Great, thanks!", ""]
    )
    assert bad <= -0.3 < 0.3 <= good and empty == 0.0


@pytest.mark.parametrize(
    ("toml", "field", "words"),
    [
        ('[journeys]\nrepeat_window = "0h"\n', "journeys", ["repeat window is 0", "repeat_window"]),
        (
            '[journeys.types.support]\npriority = 1\nstart.touchpoints = ["a"]\n'
            'self_service_without_repeat = true\nrepeat_window = "0d"\n',
            "journeys",
            ["'support' sets self_service_without_repeat", "[journeys.types.support] repeat_window"],
        ),
        (
            "[journeys.feedback]\nnegative = { csat = 6 }\n",
            "journeys.feedback.negative",
            ["outside csat's scale 1-5"],
        ),
        (
            "[journeys.feedback]\nnegative = { nsp = 6 }\n",
            "journeys.feedback.negative",
            ["unknown metric 'nsp'"],
        ),
        ("[journeys.feedback]\ncomment_threshold = 2\n", "journeys.feedback.comment_threshold", ["-1 to 1"]),
        ('[journeys.feedback]\nwindow = "0s"\n', "journeys.feedback", ["window is 0", "enabled = false"]),
        (
            '[journeys.types.a]\npriority = 1\nstart.touchpoints = ["x"]\nsuccess.touchpoints = ["done"]\n'
            'failure.touchpoints = ["done"]\n',
            "journeys.types.a",
            ["both success and failure"],
        ),
    ],
)
def test_contradictory_or_impossible_outcome_settings_are_refused(
    tmp_path: Path, toml: str, field: str, words: list[str]
) -> None:
    ws = jl.Workspace.init(tmp_path / "ws")
    ws.close()
    path = ws.root / "journeylens.toml"
    settings = tomllib.loads(path.read_text())
    _merge(settings, tomllib.loads(toml))
    path.write_text(tomli_w.dumps(settings))
    with pytest.raises(ConfigError) as err:
        jl.Workspace.open(ws.root)
    text = str(err.value) + " " + (err.value.hint or "")
    assert "journeylens.toml" in text and field in text, text
    for word in words:
        assert word in text, text
