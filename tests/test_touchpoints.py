"""The touchpoint inventory on stories and on a seeded random world, against a plain-Python reference.

The reference reads the stored tables as plain rows (events, journey_events, journeys,
customer_map, feedback) and applies the documented rules one event at a time; the Ibis
inventory must agree on every column. Totals reconcile with the journeys table: events add up
to the selected journeys' events, cost adds up to their ``cost_to_serve``.
"""

from __future__ import annotations

import datetime as _dt
import json
import random
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import journeylens as jl
from conftest import STORY_START, table_rows, write_csv
from journeylens.discovery import EmptySelectionError, JourneyFilter
from journeylens.discovery.touchpoints import STAGES, InventorySpec, touchpoint_inventory
from journeylens.identity import stitch
from journeylens.journeys import JourneyRules, build_journeys
from journeylens.journeys.definitions import EXAMPLE_COSTS
from journeylens.journeys.summary import wilson

RULES = JourneyRules(costs=EXAMPLE_COSTS)
# (channel, touchpoint, handled by an agent)
VOCABULARY = [
    ("web", "billing_faq", False),
    ("app", "billing_faq", False),
    ("app", "my_invoices", False),
    ("call_center", "ivr_menu", False),
    ("call_center", "billing_call", True),
    ("chat", "billing_chat", True),
    ("chat", "chatbot", False),
    ("sms", "ticket_resolved", False),
    ("web", "search", False),
    ("web", "product_page", False),
    ("app", "product_page", False),
    ("web", "order_confirmation", False),
    ("email", "promo_newsletter", False),
]


def _world(rnd: random.Random, customers: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    events, feedback = [], []
    for c in range(customers):
        user = f"u{c}"
        when = STORY_START + _dt.timedelta(hours=rnd.randint(0, 200))
        for _ in range(rnd.randint(1, 9)):
            channel, tp, agent = rnd.choice(VOCABULARY)
            when += _dt.timedelta(seconds=rnd.choice([7, 65, 600, 4000, 90000, 300000]))
            row = {"user_id": user, "timestamp": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "channel": channel}
            events.append({**row, "touchpoint": tp, "agent_id": f"a{rnd.randint(1, 3)}" if agent else ""})
            if rnd.random() < 0.25:
                metric, score = rnd.choice([("csat", rnd.randint(1, 5)), ("nps", rnd.randint(0, 10))])
                who = {"user_id": user} if rnd.random() < 0.8 else {"user_id": f"stranger{c}"}
                feedback.append({**who, **row, "touchpoint": tp, "metric": metric, "score": score})
    return events, feedback


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[jl.Workspace]:
    tmp = tmp_path_factory.mktemp("inventory")
    events, feedback = _world(random.Random(7), 40)
    ws = jl.Workspace.init(tmp / "ws")
    ws.config.journeys.costs = dict(EXAMPLE_COSTS)  # priced as a user would: in journeylens.toml
    ws.config.dump(ws.root / "journeylens.toml")
    ws.ingest(paths=[str(write_csv(tmp, "events.csv", events))])
    ws.ingest(paths=[str(write_csv(tmp, "feedback.csv", feedback))], table="feedback")
    stitch(ws.store, ws.config.identity)
    build_journeys(ws.store, ws.config.journeys)
    yield ws
    ws.close()


# --- the plain-Python reference --------------------------------------------------------------------


def _stage(step: int, n: int) -> str:
    rel = (step - 1) / (n - 1) if n > 1 else 0.0
    if step == 1:
        return "start"
    if step == n:
        return "end"
    return "early" if rel < 1 / 3 else ("middle" if rel <= 2 / 3 else "late")


def reference(
    ws: jl.Workspace, keep: Callable[[dict[str, Any]], bool]
) -> dict[tuple[str, str], dict[str, Any]]:
    events = {e["event_id"]: e for e in table_rows(ws, "events")}
    journeys = {j["journey_id"]: j for j in journeys_of(ws)}
    je = ws.store.execute(ws.store.backend.table("journey_events")).to_pylist()
    selected = {jid for jid, j in journeys.items() if keep(j)}
    by_journey: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for link in je:
        if link["journey_id"] in selected:
            by_journey[link["journey_id"]].append({**events[link["event_id"]], "step": link["step"]})
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for jid, evs in by_journey.items():
        evs.sort(key=lambda e: e["step"])
        n = len(evs)
        for i, e in enumerate(evs):
            nxt = evs[i + 1]["timestamp"] if i + 1 < n else None
            groups[(e["touchpoint"], e["channel"])].append({
                **e, "journey_id": jid, "n": n, "customer_id": journeys[jid]["customer_id"],
                "next_s": None if nxt is None else int(nxt.timestamp()) - int(e["timestamp"].timestamp()),
            })  # fmt: skip
    stitched = ws.store.execute(ws.store.backend.table("customer_map")).to_pylist()
    cmap = {(r["identifier_type"], r["identifier_value"]): r["customer_id"] for r in stitched}
    visited = {(e["customer_id"], tp, ch) for (tp, ch), evs in groups.items() for e in evs}
    answers: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for f in table_rows(ws, "feedback"):
        who = cmap.get(("user_id", f["user_id"])) or cmap.get(("anonymous_id", f["anonymous_id"]))
        if (who, f["touchpoint"], f["channel"]) in visited:
            answers[(f["touchpoint"], f["channel"])].append(f)
    out = {}
    for (tp, ch), evs in groups.items():
        through = {e["journey_id"] for e in evs}
        wins = {jid for jid in through if journeys[jid]["outcome"] == "success"}
        stages = Counter(_stage(e["step"], e["n"]) for e in evs)
        top = max(stages.values())
        assisted = [ch in RULES.assisted_channels and bool(e["agent_id"]) for e in evs]
        charged = [a or ch not in RULES.assisted_channels for a in assisted]
        gaps = [e["next_s"] for e in evs if e["next_s"] is not None]
        row: dict[str, Any] = {
            "events": len(evs),
            "customers": len({e["customer_id"] for e in evs}),
            "journeys": len(through),
            "journey_share": len(through) / len(selected),
            "median_position": statistics.median(
                (e["step"] - 1) / (e["n"] - 1) if e["n"] > 1 else 0.0 for e in evs
            ),
            "stage": next(s for s in STAGES if stages[s] == top),
            "success_n": len(wins),
            "success_d": len({jid for jid in through if journeys[jid]["outcome"] not in ("unknown", "open")}),
            "median_time_to_next_s": statistics.median(gaps) if gaps else None,
            "assisted_contacts": sum(assisted),
            "charged_events": sum(charged),
            "unit_cost": RULES.costs.get(ch, 0.0),
            "cost": sum(charged) * RULES.costs.get(ch, 0.0),
        }
        for metric in ("nps", "csat", "ces", "rating"):
            scores = [f["score"] for f in answers[(tp, ch)] if f["metric"] == metric]
            row[f"{metric}_responses"] = len(scores)
            row[f"{metric}_mean"] = statistics.mean(scores) if scores else None
        out[(tp, ch)] = row
    return out


def journeys_of(ws: jl.Workspace) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = ws.store.execute(ws.store.backend.table("journeys")).to_pylist()
    return rows


def _assert_matches(inv: Any, ref: dict[tuple[str, str], dict[str, Any]]) -> None:
    rows = {(r["touchpoint"], r["channel"]): r for r in inv.records()}
    assert set(rows) == set(ref)
    for key, want in ref.items():
        got = rows[key]
        for name, value in want.items():
            if isinstance(value, float):
                assert got[name] == pytest.approx(value), (key, name)
            else:
                assert got[name] == value, (key, name)
        lo, hi = wilson(got["success_n"], got["success_d"])
        assert (got["success_lo"], got["success_hi"]) == (lo, hi)
        if got["success_d"]:
            assert got["success_rate"] == pytest.approx(got["success_n"] / got["success_d"])
            assert got["success_reason"] is None
        else:  # every journey through it is of a type without outcome criteria
            assert got["success_rate"] is None and "no success or failure criteria" in got["success_reason"]


# --- tests -------------------------------------------------------------------------------------------


def test_inventory_matches_the_reference_on_a_random_world(world: jl.Workspace) -> None:
    inv = touchpoint_inventory(world.store, InventorySpec(), world.config.journeys)
    _assert_matches(inv, reference(world, lambda j: True))
    volumes = [r["events"] for r in inv.records()]
    assert volumes == sorted(volumes, reverse=True)
    assert any(r["nps_responses"] or r["csat_responses"] for r in inv.records())


def test_inventory_under_a_filter_matches_the_reference(world: jl.Workspace) -> None:
    flt = JourneyFilter(journey_type=["support"], outcome=["success", "abandoned"])
    inv = touchpoint_inventory(world.store, InventorySpec(filter=flt), world.config.journeys)
    keep = lambda j: j["journey_type"] == "support" and j["outcome"] in ("success", "abandoned")  # noqa: E731
    _assert_matches(inv, reference(world, keep))


def test_totals_reconcile_with_the_journeys(world: jl.Workspace) -> None:
    inv = touchpoint_inventory(world.store, InventorySpec(), world.config.journeys)
    journeys = journeys_of(world)
    rows = inv.records()
    assert inv.selected_journeys == len(journeys)
    assert sum(r["events"] for r in rows) == sum(j["touchpoints"] for j in journeys)
    assert sum(r["cost"] for r in rows) == pytest.approx(sum(j["cost_to_serve"] for j in journeys))
    assert sum(r["assisted_contacts"] for r in rows) == sum(j["assisted_contacts"] for j in journeys)
    assert all(0 < r["journey_share"] <= 1 and r["journeys"] <= r["events"] for r in rows)


def test_story_rules(tmp_path: Any) -> None:
    """One support journey, read rule by rule."""
    steps = [
        ("web", "billing_faq", 0, ""),
        ("web", "my_invoices", 60, ""),
        ("call_center", "ivr_menu", 90, ""),  # self-service: not an assisted contact, not charged
        ("call_center", "billing_call", 120, "a7"),  # assisted, charged at the call-centre rate
        ("sms", "ticket_update", 3720, ""),
        ("sms", "ticket_resolved", 4320, ""),  # success
    ]
    at = [(STORY_START + _dt.timedelta(seconds=step[2])).strftime("%Y-%m-%dT%H:%M:%SZ") for step in steps]
    rows = [
        {"user_id": "ann", "timestamp": t, "channel": ch, "touchpoint": tp, "agent_id": agent}
        for (ch, tp, _, agent), t in zip(steps, at, strict=True)
    ]
    survey = [{"user_id": "ann", "timestamp": "2024-01-16T09:00:00Z", "channel": "call_center",
               "touchpoint": "billing_call", "metric": "csat", "score": s} for s in (4, 5)]  # fmt: skip
    ws = jl.Workspace.init(tmp_path / "ws")
    ws.config.journeys.costs = dict(EXAMPLE_COSTS)
    try:
        ws.ingest(paths=[str(write_csv(tmp_path, "events.csv", rows))])
        ws.ingest(paths=[str(write_csv(tmp_path, "feedback.csv", survey))], table="feedback")
        stitch(ws.store, ws.config.identity)
        build_journeys(ws.store, ws.config.journeys)
        inv = {r["touchpoint"]: r for r in touchpoint_inventory(ws.store, rules=ws.config.journeys).records()}
    finally:
        ws.close()
    order = ["billing_faq", "my_invoices", "ivr_menu", "billing_call", "ticket_update", "ticket_resolved"]
    assert [inv[tp]["stage"] for tp in order] == ["start", "early", "middle", "middle", "late", "end"]
    assert [inv[tp]["median_position"] for tp in order] == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1])
    assert [inv[tp]["median_time_to_next_s"] for tp in order] == [60, 30, 30, 3600, 600, None]
    assert (inv["ivr_menu"]["charged_events"], inv["ivr_menu"]["cost"]) == (0, 0.0)
    call = inv["billing_call"]
    assert (call["assisted_contacts"], call["cost"]) == (1, RULES.costs["call_center"])
    assert (call["csat_responses"], call["csat_mean"]) == (2, 4.5)
    assert inv["billing_faq"]["csat_responses"] == 0  # the survey was about the call
    assert all(r["success_rate"] == 1.0 and r["journey_share"] == 1.0 for r in inv.values())


def test_min_events_and_empty_selection(world: jl.Workspace) -> None:
    inv = touchpoint_inventory(world.store, InventorySpec(min_events=10**6), world.config.journeys)
    assert inv.records() == [] and "touchpoint" in inv.to_pandas().columns
    with pytest.raises(EmptySelectionError, match="No journeys match"):
        touchpoint_inventory(world.store, InventorySpec(filter=JourneyFilter(journey_type=["nope"])))


def test_result_views(world: jl.Workspace) -> None:
    inv = touchpoint_inventory(world.store, InventorySpec(), world.config.journeys)
    figure = inv.plot()
    assert {trace.type for trace in figure.data} == {"scatter"}
    assert sum(len(trace.x) for trace in figure.data) == len(inv.records())
    assert "<table" in inv._repr_html_()
    compact = inv.compact()
    assert "rating_mean" not in compact[0]  # nobody answered a rating survey


def test_cli_json_and_table(world: jl.Workspace, run_cli: Callable[..., Any]) -> None:
    result = run_cli(["touchpoints", "--type", "support", "-f", "json", "-w", world.root])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    inv = touchpoint_inventory(
        world.store, InventorySpec(filter=JourneyFilter(journey_type=["support"])), world.config.journeys
    )
    assert data["selected_journeys"] == inv.selected_journeys
    assert data["rows"] == json.loads(json.dumps(inv.records()))
    table = run_cli(["touchpoints", "--min-events", "3", "-w", world.root])
    assert table.exit_code == 0 and f"Touchpoints ({len(journeys_of(world))} journeys)" in table.stdout
    csv_out = run_cli(["touchpoints", "--min-events", "3", "-f", "csv", "-w", world.root])
    lines = csv_out.stdout.splitlines()
    assert lines[0].startswith("touchpoint,channel,events,customers,journeys,journey_share")
    assert len(lines) - 1 == sum(r["events"] >= 3 for r in touchpoint_inventory(world.store).records())
    empty = run_cli(["touchpoints", "--type", "nope", "-w", world.root])
    assert isinstance(empty.exception, EmptySelectionError)


def test_without_costs_or_outcome_criteria_nothing_is_invented(tmp_path: Path) -> None:
    """A case log priced by nobody, of a type nobody defined: no cost, no success rate, and why."""
    rows = [
        {"case_id": f"c{c}", "timestamp": f"2024-01-0{c}T10:0{i}:00Z", "channel": "call_center",
         "touchpoint": tp, "agent_id": "a1"}
        for c in (1, 2) for i, tp in enumerate(["open_ticket", "close_ticket"])
    ]  # fmt: skip
    ws = jl.Workspace.init(tmp_path / "ws")
    try:
        ws.ingest(paths=[str(write_csv(tmp_path, "events.csv", rows))])
        stitch(ws.store, ws.config.identity)
        build_journeys(ws.store, ws.config.journeys)
        records = touchpoint_inventory(ws.store, rules=ws.config.journeys).records()
    finally:
        ws.close()
    assert [r["touchpoint"] for r in records] == ["close_ticket", "open_ticket"]
    for r in records:
        assert (r["success_rate"], r["success_n"], r["success_d"], r["journeys"]) == (None, 0, 0, 2)
        assert "journey type other has no success or failure criteria" in r["success_reason"]
        assert (r["unit_cost"], r["cost"]) == (None, None)
        assert "[journeys.costs]" in r["cost_reason"]
