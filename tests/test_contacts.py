"""Contact-centre signals: reasons and their sources, repeated reasons, cost rules, and the planted
frictions of the synthetic world at the top of the avoidable-contact ranking."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import journeylens as jl
from conftest import write_csv
from journeylens.contacts.analysis import contact_signals
from journeylens.contacts.settings import ContactsSettings
from journeylens.contacts.trend import rate_ratio
from journeylens.journeys.definitions import EXAMPLE_COSTS
from journeylens.model import build_model
from journeylens.specs.contacts import ContactsSpec
from journeylens.synth import generate_world
from test_journeys import ev

STORIES = [
    # ann reads the billing FAQ, calls about billing, then chats with another agent: the same
    # reason stated again after a channel switch (context lost).
    ev("ann", 0, "web", "billing_faq"),
    ev("ann", 1, "call_center", "billing_call", agent_id="a1", contact_reason="billing"),
    ev("ann", 30, "chat", "billing_chat", agent_id="a2", contact_reason="billing"),
    # bob picks "delivery" in the IVR; the agent records the disposition "refund".
    ev("bob", 0, "call_center", "ivr_menu", contact_reason="delivery"),
    ev("bob", 0.05, "call_center", "agent_call", agent_id="a3", disposition="refund"),
    # cyd's call names no reason anywhere: counted as (not stated), never dropped.
    ev("cyd", 2, "call_center", "agent_call", agent_id="a4"),
    ev("dee", 0, "web", "home"),
]


def _ws(tmp_path: Path, costs: dict[str, float] | None = None) -> jl.Workspace:
    ws = jl.Workspace.init(tmp_path / "ws")
    if costs:
        ws.config.journeys.costs = costs
    ws.ingest(paths=[str(write_csv(tmp_path, "events.csv", STORIES))])
    build_model(ws.store, ws.config)
    return ws


def _run(ws: jl.Workspace, view: str, settings: ContactsSettings | None = None) -> Any:
    return contact_signals(
        ws.store, ws.config.journeys, settings or ws.config.voc.contacts, ContactsSpec(view=view)
    )


def test_reasons_come_from_the_first_source_that_names_one(tmp_path: Path) -> None:
    ws = _ws(tmp_path)
    rows = {r["reason"]: r for r in _run(ws, "reasons").records()}
    assert {k: v["contacts"] for k, v in rows.items()} == {"billing": 2, "refund": 1, "(not stated)": 1}
    ivr_first = ContactsSettings(reason_sources=["ivr", "event", "disposition"])
    by_ivr = {r["reason"]: r["contacts"] for r in _run(ws, "reasons", ivr_first).records()}
    assert by_ivr == {"billing": 2, "delivery": 1, "(not stated)": 1}
    assert rows["billing"]["department"] == "billing" and rows["refund"]["department"] == "service"
    ws.close()


def test_cost_is_not_defined_without_costs_and_summed_with_them(tmp_path: Path) -> None:
    unpriced = _ws(tmp_path / "a")
    result = _run(unpriced, "reasons")
    assert result.context["cost_reason"] and all(r["cost"] is None for r in result.records())
    unpriced.close()
    priced = _ws(tmp_path / "b", costs=dict(EXAMPLE_COSTS))
    billing = next(r for r in _run(priced, "reasons").records() if r["reason"] == "billing")
    assert billing["cost"] == pytest.approx(EXAMPLE_COSTS["call_center"] + EXAMPLE_COSTS["chat"])
    assert billing["cost_per_contact"] == pytest.approx(billing["cost"] / 2)
    priced.close()


def test_a_reason_stated_again_after_a_channel_switch_is_a_repeated_reason(tmp_path: Path) -> None:
    ws = _ws(tmp_path)
    rows = {r["channels"]: r for r in _run(ws, "repeats").records()}
    total = rows["(all)"]
    assert (total["contacts"], total["repeats"], total["switched"], total["repeated_reason"]) == (4, 1, 1, 1)
    assert rows["call_center -> chat"]["repeated_reason_rate"] == 1.0
    assert 0 < rows["call_center -> chat"]["repeated_reason_lo"] < 1
    ws.close()


def test_the_faq_before_the_call_is_an_exposure_followed_by_a_contact(tmp_path: Path) -> None:
    ws = _ws(tmp_path)
    result = _run(ws, "avoidable")
    # Only one digital touchpoint per channel and journey type: no peers, so nothing is ranked.
    assert result.records() == []
    ws.close()


def test_rate_ratio_agrees_with_the_exact_conditional_test() -> None:
    from scipy.stats import binomtest

    t = rate_ratio(30, 10)
    assert t.ratio == 3.0
    assert t.p == pytest.approx(binomtest(30, 40, 0.5).pvalue, rel=1e-12)
    assert t.lo is not None and t.hi is not None and t.lo < 3.0 < t.hi
    assert rate_ratio(0, 0).p is None


def test_unknown_reason_source_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="choose from event, disposition, ivr, journey"):
        ContactsSettings(reason_sources=["themes"])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[jl.Workspace]:
    root = tmp_path_factory.mktemp("contacts")
    generate_world(root / "world", customers=3_000, seed=13)
    ws = jl.Workspace.init(root / "ws")
    ws.config.privacy.default_country_code = "31"
    ws.config.journeys.costs = dict(EXAMPLE_COSTS)
    for table in ("events", "identities", "customers", "feedback"):
        ws.ingest(paths=[str(root / "world" / table)], table=table)
    build_model(ws.store, ws.config)
    yield ws
    ws.close()


def test_planted_frictions_top_the_avoidable_contact_ranking(world: jl.Workspace) -> None:
    result = _run(world, "avoidable")
    ranked = [r["touchpoint"] for r in result.records()]
    swiftpost = "sms:delivery_update[template=delivery_update_sp1]"
    parcelnet = "sms:delivery_update[template=delivery_update_v3]"
    assert ranked[0] == "web:billing_faq"
    top = {r["reason"]: r["touchpoint"] for r in result.parts["by_reason"] if r["rank"] == 1}
    assert top["billing"] == "web:billing_faq"
    assert top["delivery"] == swiftpost
    assert top["payment"] == "app:payment_error"  # the third planted friction
    first_sms = next(t for t in ranked if t.startswith("sms:"))
    assert first_sms == swiftpost and parcelnet not in ranked[: ranked.index(swiftpost) + 1]
    faq = result.records()[0]
    assert faq["excess_lo"] > 0 and faq["avoidable_cost"] > 0 and faq["contact_rate"] > faq["peer_rate"]


def test_signals_carry_departments_costs_and_comments(world: jl.Workspace) -> None:
    result = _run(world, "signals")
    rows = result.records()
    assert {r["department"] for r in rows} >= {"billing", "logistics", "product"}
    billing = next(r for r in rows if r["reason"] == "billing")
    assert billing["cost"] > 0 and billing["examples"] and billing["q"] is not None
    reasons = _run(world, "reasons").records()
    assert sum(r["share"] for r in reasons) == pytest.approx(1.0)
    assert all(
        r["self_service_lo"] <= r["self_service_rate"] <= r["self_service_hi"]
        for r in reasons
        if r["decided"]
    )


def test_report_section_has_reasons_and_the_avoidable_ranking(world: jl.Workspace) -> None:
    from journeylens.report.contacts import contacts_section

    section = contacts_section(world.store, world.config.journeys)
    assert section is not None and section.title == "Contact centre"
    titles = [title for title, _ in section.tables]
    assert titles == ["Contacts by reason", "Avoidable contacts"]
    assert section.tables[1][1].iloc[0]["touchpoint"] == "web:billing_faq" and section.figures


def test_report_section_says_cost_is_not_defined_without_costs(tmp_path: Path) -> None:
    from journeylens.report.contacts import contacts_section

    ws = _ws(tmp_path)
    section = contacts_section(ws.store, ws.config.journeys)
    assert section is not None
    assert "cost" not in section.tables[0][1].columns
    assert any(note.startswith("Cost is not defined") for note in section.notes)
    assert not section.figures  # one day of contacts: no trend line of one point
    ws.close()
