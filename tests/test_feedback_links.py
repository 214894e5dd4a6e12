"""``feedback_links``: every answer with its journey and the step it is about, on readable stories.

The rule (``journeys/feedback_link.py``): by case, else the customer's most recent journey that
started at or before the answer and ended at most ``[journeys.feedback] window`` before it (an
active journey qualifies), else unlinked — kept and counted. The step is the journey's last event
at or before the answer that is not an outbound message without an agent (the survey invitation).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import journeylens as jl
from conftest import write_csv
from journeylens.model import build_model
from test_journeys import ev
from test_outcome_evidence import answer, call

EVENTS = [
    # ann orders on the web; she answers the post-purchase survey the next day.
    ev("ann", 0, "web", "search"),
    ev("ann", 0.1, "web", "product_page"),
    ev("ann", 0.2, "web", "add_to_cart"),
    ev("ann", 0.3, "web", "order_confirmation"),
    ev("ann", 1, "email", "survey_invite", direction="outbound"),  # the company asking: not a step
    # cat calls about a bill (ticket T1, agent a1); the ticket is closed by SMS a day later.
    call("cat", 0, "billing", "a1", case_id="T1"),
    ev("cat", 30, "sms", "ticket_resolved", direction="outbound", case_id="T1"),
    # dan buys, and answers the survey ten days later: outside the 7-day window.
    ev("dan", 0, "web", "search"),
    ev("dan", 0.2, "web", "order_confirmation"),
    # eve is in the middle of a support journey when she answers: the journey is active.
    ev("eve", 0, "web", "billing_faq"),
    call("eve", 1, "billing", "a2"),
    call("eve", 5, "billing", "a3"),
]
ANSWERS = [
    answer("ann", 26, "nps", 9, feedback_id="f_order"),
    answer("cat", 2, "csat", 5, case_id="T1", feedback_id="f_call"),
    answer("dan", 240, "nps", 3, feedback_id="f_late"),
    answer(None, 3, "csat", 1, feedback_id="f_review", touchpoint="app_store"),
    answer("eve", 2, "ces", 2, agent_id="a9", feedback_id="f_active"),
]


def links(tmp_path: Path) -> dict[str, dict[str, Any]]:
    ws = jl.Workspace.init(tmp_path / "ws")
    ws.ingest(paths=[str(write_csv(tmp_path, "events.csv", EVENTS))])
    ws.ingest(paths=[str(write_csv(tmp_path, "feedback.csv", ANSWERS))], table="feedback")
    build_model(ws.store, ws.config)
    table = ws.store.backend.table("feedback_links")
    journeys = ws.store.backend.table("journeys")
    rows = ws.store.execute(
        table.left_join(journeys.select("journey_id", "journey_type"), "journey_id")
    ).to_pylist()
    ws.close()
    return {str(r["feedback_id"]): r for r in rows}


def test_every_answer_is_kept_with_its_journey_and_step(tmp_path: Path) -> None:
    found = links(tmp_path)
    assert sorted(found) == sorted(a["feedback_id"] for a in ANSWERS)  # none dropped

    order = found["f_order"]  # survey after an order: by window, about the confirmation (not the invite)
    assert (order["link"], order["journey_type"], order["step"]) == ("window", "purchase", 4)
    assert (order["touchpoint"], order["channel"], order["agent_id"]) == ("order_confirmation", "web", None)

    by_case = found["f_call"]  # CSAT after a call: by case, about the call, its agent from the step
    assert (by_case["link"], by_case["step"], by_case["touchpoint"]) == ("case", 1, "billing_call")
    assert (by_case["channel"], by_case["agent_id"], by_case["agent_from"]) == ("call_center", "a1", "step")

    active = found["f_active"]  # answered mid-journey: the active journey, its step before the answer
    assert (active["link"], active["journey_type"], active["step"]) == ("window", "support", 2)
    assert (active["agent_id"], active["agent_from"]) == ("a9", "feedback")  # the answer names its agent

    for late in ("f_late", "f_review"):  # outside the window; no customer at all: unlinked, counted
        row = found[late]
        assert row["journey_id"] is None and row["link"] is None and row["step"] is None, late
    assert found["f_late"]["customer_id"] is not None and found["f_review"]["customer_id"] is None


def test_a_wider_window_links_the_late_answer(tmp_path: Path) -> None:
    ws = jl.Workspace.init(tmp_path / "ws")
    config = ws.config.model_copy(
        update={"journeys": ws.config.journeys.model_copy(
            update={"feedback": ws.config.journeys.feedback.model_copy(update={"window": "14d"})}
        )}
    )  # fmt: skip
    ws.ingest(paths=[str(write_csv(tmp_path, "events.csv", EVENTS))])
    ws.ingest(paths=[str(write_csv(tmp_path, "feedback.csv", ANSWERS))], table="feedback")
    build_model(ws.store, config)
    table = ws.store.backend.table("feedback_links")
    late = ws.store.execute(table.filter(table.feedback_id == "f_late")).to_pylist()[0]
    ws.close()
    assert (late["link"], late["step"], late["touchpoint"]) == ("window", 2, "order_confirmation")
