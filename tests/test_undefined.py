"""Undefined is never zero: unknown outcomes, unpriced costs, and how every surface says so."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

import journeylens as jl
from conftest import STORY_START, write_csv
from journeylens.config import Config
from journeylens.discovery.segments import SegmentComparisonSpec, compare_segments, parse_cohort
from journeylens.discovery.variants import variants
from journeylens.identity import stitch
from journeylens.journeys import Criteria, JourneyRules, JourneyType, build_journeys
from journeylens.journeys.definitions import EXAMPLE_COSTS
from journeylens.journeys.outcomes import OUTCOMES
from journeylens.journeys.summary import JourneySummarySpec, journey_summary
from journeylens.specs import discovery as discovery_specs


def ev(user: str, minutes: float, channel: str, touchpoint: str, **extra: Any) -> dict[str, Any]:
    import datetime as _dt

    at = (STORY_START + _dt.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"user_id": user, "timestamp": at, "channel": channel, "touchpoint": touchpoint, **extra}


# ann: a support journey that ends resolved; bob: a delivery notice no journey type claims (other).
STORIES = [
    ev("ann", 0, "web", "billing_faq"),
    ev("ann", 5, "call_center", "billing_call", agent_id="a1", contact_reason="billing"),
    ev("ann", 60, "sms", "ticket_resolved", direction="outbound"),
    ev("bob", 0, "web", "delivery_notice"),
    ev("bob", 3, "call_center", "delivery_desk", agent_id="a2"),
]


def built(
    tmp_path: Path, rules: JourneyRules | None = None, rows: Sequence[dict[str, Any]] = STORIES
) -> jl.Workspace:
    ws = jl.Workspace.init(tmp_path / "ws")
    if rules is not None:
        ws.config.journeys = rules
        ws.config.dump(ws.root / "journeylens.toml")
    ws.ingest(paths=[str(write_csv(tmp_path, "events.csv", rows))])
    stitch(ws.store, ws.config.identity)
    build_journeys(ws.store, ws.config.journeys)
    return ws


def journeys(ws: jl.Workspace) -> dict[str, dict[str, Any]]:
    rows = ws.store.execute(ws.store.backend.table("journeys")).to_pylist()
    return {r["journey_type"]: r for r in rows}


def test_a_type_without_criteria_has_an_unknown_outcome(tmp_path: Path) -> None:
    ws = built(tmp_path)
    by_type = journeys(ws)
    assert by_type["support"]["outcome"] == "success"
    other = by_type["other"]
    # It had an assisted contact and was never resolved, yet nothing says it was abandoned.
    assert other["outcome"] == "unknown" and other["assisted_contacts"] == 1
    assert other["first_contact_resolution"] is None and other["time_to_resolution_s"] is None
    assert "unknown" in OUTCOMES and tuple(discovery_specs.OUTCOMES) == OUTCOMES


def test_a_declared_type_without_criteria_has_an_unknown_outcome(tmp_path: Path) -> None:
    rules = JourneyRules(
        types={
            "visit": JourneyType(priority=1, start=Criteria(touchpoints=["billing_faq", "delivery_notice"])),
            "help": JourneyType(
                priority=2, start=Criteria(touchpoints=["billing_call"]), resolved_without_repeat=True
            ),
        }
    )
    assert not rules.types["visit"].defines_outcome() and rules.types["help"].defines_outcome()
    ws = built(tmp_path, rules)
    assert {r["outcome"] for r in journeys(ws).values() if r["journey_type"] == "visit"} == {"unknown"}


def test_rates_are_over_journeys_with_a_defined_outcome(tmp_path: Path) -> None:
    ws = built(tmp_path)
    (web,) = journey_summary(ws.store, JourneySummarySpec(by="channel")).rows
    # Two journeys began on the web; one has an outcome: success is 1 of 1, not 1 of 2.
    assert (web["journeys"], web["unknown_outcomes"]) == (2, 1)
    assert (web["success_n"], web["success_d"], web["success_rate"]) == (1, 1, 1.0)
    assert (web["abandoned_n"], web["abandoned_d"]) == (0, 1)
    assert (web["first_contact_resolution_n"], web["first_contact_resolution_d"]) == (1, 1)
    assert web["success_reason"] is None and web["leakage_d"] == 2

    by_type = {r["group"]: r for r in journey_summary(ws.store, JourneySummarySpec()).rows}
    other = by_type["other"]
    for rate in ("success", "abandoned", "first_contact_resolution"):
        assert (other[f"{rate}_rate"], other[f"{rate}_d"], other[f"{rate}_lo"]) == (None, 0, None)
        assert "journey type other has no success or failure criteria" in other[f"{rate}_reason"]
        assert "success.touchpoints" in other[f"{rate}_reason"]  # the setting that defines it
    assert other["leakage_rate"] == 1.0 and other["leakage_reason"] is None


def test_no_cost_without_configured_costs(tmp_path: Path) -> None:
    ws = built(tmp_path)
    assert ws.config.journeys.costs == {}
    assert {r["cost_to_serve"] for r in journeys(ws).values()} == {None}
    (row,) = journey_summary(ws.store, JourneySummarySpec(by="channel")).rows
    assert (row["cost_mean"], row["cost_half_width"], row["cost_total"]) == (None, None, None)
    assert "[journeys.costs]" in row["cost_reason"]
    compared = compare_segments(
        ws.store,
        SegmentComparisonSpec(cohort=parse_cohort("did:channel=sms"), metrics=["cost_to_serve", "success"]),
    ).records()
    costs = [r for r in compared if r["metric"] == "cost_to_serve"]
    assert costs and all(r["value"] is None and "[journeys.costs]" in r["reason"] for r in costs)
    assert all(r["reason"] is None for r in compared if r["metric"] == "success" and r["value"] is not None)


def test_configured_costs_price_the_journeys(tmp_path: Path) -> None:
    ws = built(tmp_path, JourneyRules(costs=EXAMPLE_COSTS))
    support = journeys(ws)["support"]
    # web page (per event) + one call + the outbound sms (per event)
    expected = EXAMPLE_COSTS["web"] + EXAMPLE_COSTS["call_center"] + EXAMPLE_COSTS["sms"]
    assert support["cost_to_serve"] == pytest.approx(expected)
    (row,) = journey_summary(ws.store, JourneySummarySpec(by="channel")).rows
    assert row["cost_reason"] is None and row["cost_total"] == pytest.approx(
        expected + EXAMPLE_COSTS["web"] + EXAMPLE_COSTS["call_center"]
    )


def test_variants_have_no_success_rate_without_outcomes(tmp_path: Path) -> None:
    ws = built(tmp_path)
    rows = {tuple(r["steps"]): r for r in variants(ws.store).records()}
    support = rows[("billing_faq", "billing_call", "ticket_resolved")]
    assert (support["success_rate"], support["outcomes_defined"], support["success_reason"]) == (1.0, 1, None)
    other = rows[("delivery_notice", "delivery_desk")]
    assert (other["success_rate"], other["success_ci_low"], other["outcomes_defined"]) == (None, None, 0)
    assert "no success or failure criteria" in other["success_reason"]


def test_init_writes_the_cost_table_as_a_commented_example(tmp_path: Path) -> None:
    ws = jl.Workspace.init(tmp_path / "ws")
    text = (ws.root / "journeylens.toml").read_text(encoding="utf-8")
    assert "# [journeys.costs]" in text and "# call_center = 6.5" in text
    assert "costs" not in tomllib.loads(text)["journeys"]
    # Uncommented, the example is a valid setting that prices contacts.
    lines = [
        ln[2:] if ln.startswith(("# [journeys.costs]", "# call_center")) else ln for ln in text.splitlines()
    ]
    (ws.root / "journeylens.toml").write_text("\n".join(lines), encoding="utf-8")
    assert Config.load(ws.root / "journeylens.toml").journeys.costs == {"call_center": 6.5}


def test_cli_says_not_defined_why_and_how_to_define_it(
    tmp_path: Path, run_cli: Callable[[Sequence[str]], Any]
) -> None:
    ws = built(tmp_path)
    root = ws.root
    ws.close()
    table = run_cli(["journeys", "summary", "-w", root])
    assert table.exit_code == 0, table.output
    success_of_other = [ln for ln in table.stdout.splitlines() if "other" in ln and " success " in ln]
    assert success_of_other and all("n/d" in ln and "%" not in ln for ln in success_of_other)
    said = " ".join(table.output.split())  # the terminal wraps long lines
    assert "journey type other has no success or failure criteria" in said
    assert "[journeys.costs] call_center = 6.5" in said
    data = json.loads(run_cli(["journeys", "summary", "-w", root, "-f", "json"]).stdout)
    other = next(r for r in data if r["group"] == "other")
    assert other["success_rate"] is None and other["success_reason"]
    assert other["cost_mean"] is None and "[journeys.costs]" in other["cost_reason"]
    touch = run_cli(["touchpoints", "-w", root])
    assert touch.exit_code == 0 and "n/d" in touch.stdout
    assert "[journeys.costs]" in " ".join(touch.output.split())


def test_customer_360_says_why_an_outcome_or_cost_is_missing(
    tmp_path: Path, run_cli: Callable[[Sequence[str]], Any]
) -> None:
    ws = built(tmp_path)
    root = ws.root
    ws.close()
    data = json.loads(run_cli(["customer", "bob", "-w", root, "-f", "json"]).stdout)
    (journey,) = data["journeys"]
    assert (journey["outcome"], journey["cost_to_serve"]) == ("unknown", None)
    assert "journey type other has no success or failure criteria" in journey["outcome_reason"]
    assert "[journeys.costs]" in journey["cost_to_serve_reason"]
    (ann,) = json.loads(run_cli(["customer", "ann", "-w", root, "-f", "json"]).stdout)["journeys"]
    assert (ann["outcome"], ann["outcome_reason"]) == ("success", None)
    table = run_cli(["customer", "bob", "-w", root, "--wide"])  # the cost column is past 80 columns
    assert table.exit_code == 0 and "n/d" in table.stdout
    assert "no success or failure criteria" in " ".join(table.output.split())


def test_leakage_is_not_defined_where_no_contact_can_be_seen(tmp_path: Path) -> None:
    # Web purchases only: nobody could have ended a digital attempt in a call, so 0% would be a claim.
    rows = [ev("ann", 0, "web", "product_page"), ev("ann", 4, "web", "checkout", value="30"),
            ev("bob", 0, "web", "product_page"), ev("bob", 1, "app", "search")]  # fmt: skip
    ws = built(tmp_path, rows=rows)
    by_channel = journey_summary(ws.store, JourneySummarySpec(by="channel")).rows
    assert {r["group"] for r in by_channel} == {"web"} and by_channel[0]["journeys"] == 2
    for row in by_channel:
        leakage = (row["leakage_rate"], row["leakage_n"], row["leakage_d"], row["leakage_lo"])
        assert leakage == (None, 0, 0, None)
        assert "no assisted contact in the selection" in row["leakage_reason"]
        assert "assisted_channels" in row["leakage_reason"]  # the setting that defines it
    compared = compare_segments(
        ws.store, SegmentComparisonSpec(cohort=parse_cohort("did:touchpoint=checkout"), metrics=["leakage"])
    ).records()
    assert compared and all(r["value"] is None and r["diff"] is None for r in compared)
    assert all("no assisted contact" in r["reason"] for r in compared)


def test_leakage_is_defined_once_the_selection_has_a_contact(tmp_path: Path) -> None:
    # The same web journeys next to one call: a journey that stayed digital did not leak (0 of 1).
    rows = [ev("ann", 0, "web", "product_page"), ev("bob", 0, "call_center", "billing_call", agent_id="a1")]
    ws = built(tmp_path, rows=rows)
    by_channel = {r["group"]: r for r in journey_summary(ws.store, JourneySummarySpec(by="channel")).rows}
    web = by_channel["web"]
    assert (web["leakage_rate"], web["leakage_n"], web["leakage_d"]) == (0.0, 0, 1)
    assert web["leakage_reason"] is None
    call = by_channel["call_center"]
    assert (
        call["leakage_rate"] is None
        and call["leakage_reason"] == "no journeys that used a digital channel in this group"
    )
