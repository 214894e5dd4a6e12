"""``journeylens backlog`` on the synthetic world: do the planted frictions come out on top of their
kind, and is the money what the generator's parameters imply (docs/decisions.md, "Backlog")?

One seeded world of 3,000 customers over 120 days, priced with the example costs. Measured here:

- avoidable contacts: the **billing FAQ** is item 1 (246 excess contacts [228-264] in the data,
  4,400 a year) and the **app payment error** item 2 (143 [124-162]);
- the **swiftpost SMS** (template ``delivery_update_sp1``) is an avoidable-contact item (40 excess
  contacts [25-55] against the other carrier's template), but 8th of its kind, not first: the
  contacts window (72 h after the SMS) sees only part of the delivery-problem journeys it is
  associated with, and nothing sizes the journeys that follow later. A gap, stated in the docs;
- the billing FAQ's money is 0.81 of the ground truth's (support journeys with the FAQ x the extra
  contact probability the generator plants, at the call cost), inside the 20% target: the peers'
  contact rate (other web support pages, 61%) is above the generator's counterfactual (52%), and
  the contacts that follow cost 5.88 on average (a few are chats), not the call's 6.50; the data spans
  122 days (follow-up journeys start after the window), the generator 120.
- root causes (the ``causes`` source): the payment error is a friction cause of purchase leakage
  (98 excess leaked journeys) merged into its avoidable-contact item; the billing FAQ's cause of
  support leakage merges with its avoidable contacts (one item, both evidences); the swiftpost
  template is a cause of ``contact_after`` of purchase journeys (89 excess follow-up journeys with a
  contact, 1,964 a year), 7th of all items, behind funnel steps the outcome needs (the checkout for
  ``failed``, the order confirmation email for ``contact_after``): docs/decisions.md, "Backlog".
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import journeylens as jl
from journeylens.decisions.backlog import BacklogResult
from journeylens.journeys.definitions import EXAMPLE_COSTS
from journeylens.model import build_model
from journeylens.synth import _catalogue as cat
from journeylens.synth import _parameters as par
from journeylens.synth import generate_world

FAQ, ERROR = "web:billing_faq", "app:payment_error"
SWIFTPOST = "sms:delivery_update[template=delivery_update_sp1]"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], jl.Workspace]]:
    root = tmp_path_factory.mktemp("backlog_world")
    generate_world(root / "world", customers=3_000, seed=11)
    truth = json.loads((root / "world" / "ground_truth.json").read_text())
    ws = jl.Workspace.init(root / "ws", timezone="UTC")
    ws.config.privacy.default_country_code = "31"
    ws.config.journeys.costs = dict(EXAMPLE_COSTS)
    for table in ("events", "identities", "customers", "agents", "feedback"):
        ws.ingest(paths=[str(root / "world" / table)], table=table)
    build_model(ws.store, ws.config)
    yield truth, ws
    ws.close()


@pytest.fixture(scope="module")
def result(world: tuple[dict[str, Any], jl.Workspace]) -> BacklogResult:
    return world[1].backlog(source="contacts,agents,causes", limit=200)


@pytest.fixture(scope="module")
def contacts_only(world: tuple[dict[str, Any], jl.Workspace]) -> BacklogResult:
    """The sources without root causes (whose items merge with, and may outrank, the contacts')."""
    return world[1].backlog(source="contacts,agents", limit=200)


def _of_kind(result: BacklogResult, kind: str) -> list[dict[str, Any]]:
    return [r for r in result.records() if r["kind"] == kind]


def test_the_planted_contact_frictions_top_the_avoidable_contacts(contacts_only: BacklogResult) -> None:
    result = contacts_only
    subjects = [r["subject"] for r in _of_kind(result, "avoidable contact")]
    assert subjects[:2] == [FAQ, ERROR]
    # The swiftpost template is an item, above its sibling template, but not near the top (module doc).
    assert SWIFTPOST in subjects and "sms:delivery_update[template=delivery_update_pn1]" not in subjects
    assert subjects.index(SWIFTPOST) == 7
    top = result.records()[0]
    assert top["subject"] == FAQ and top["owner"] == "billing" and top["confidence"] == "high"
    assert "associated with" in top["title"] and "journeylens contacts --view avoidable" in top["evidence"]


def test_billing_faq_money_is_within_20_percent_of_the_ground_truth(
    world: tuple[dict[str, Any], jl.Workspace], result: BacklogResult
) -> None:
    truth, _ = world
    faq = next(f for f in truth["friction"] if f["name"] == "billing_faq_sends_callers")
    p = faq["parameters"]
    give_up = par.SUPPORT.give_up
    # P(contact | FAQ): the friction's call, else the FAQ's own self-service and give-up; against the
    # same journey on another billing page (its self-service resolution).
    with_faq = p["call_probability"] + (1 - p["call_probability"]) * (1 - p["self_service_resolution"]) * (
        1 - give_up
    )
    without = (1 - par.SUPPORT.self_service_resolution[cat.BILLING]) * (1 - give_up)
    extra = faq["observed"]["support_journeys_with_billing_faq"] * (with_faq - without)
    implied = extra * EXAMPLE_COSTS["call_center"] * 365 / truth["days"]
    row = next(r for r in result.records() if r["subject"] == FAQ)
    assert row["money"] == pytest.approx(implied, rel=0.2)  # measured 0.81 of it
    assert row["money_lo"] < row["money"] < row["money_hi"]
    assert result.context["days"] == pytest.approx(truth["days"], abs=3)  # 122: follow-ups start after


def test_counts_are_per_year_and_the_interval_is_the_counts(result: BacklogResult) -> None:
    row = next(r for r in result.records() if r["subject"] == ERROR)
    numbers = result.to_dict()["evidence"][row["id"]][0]["numbers"]
    k = numbers["cost_per_contact"] * result.context["per_year"]
    assert row["money"] == pytest.approx(numbers["excess_contacts"] * k)
    assert (row["money_lo"], row["money_hi"]) == pytest.approx(
        (numbers["excess_lo"] * k, numbers["excess_hi"] * k)
    )
    assert row["journeys"] == pytest.approx(
        365 * 365 / result.context["days"], rel=0.01
    )  # 365 journeys in the data
    assert row["journey_value"] > 0 and row["id"] == "avoidable-contact-app-payment-error"


def _evidence(result: BacklogResult, subject: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    row = next(r for r in result.records() if r["subject"] == subject)
    return row, result.to_dict()["evidence"][row["id"]]


def test_the_payment_error_is_a_friction_cause_of_purchase_leakage(result: BacklogResult) -> None:
    (causes,) = [s for s in result.context["sources"] if s["name"] == "causes"]
    assert causes["items"] > 0 and causes["note"] is None
    row, evidence = _evidence(result, ERROR)
    assert "friction cause" in row["kinds"].split(", ")
    cause = next(e for e in evidence if e["source"] == "causes")
    assert cause["command"] == "journeylens causes --outcome leakage --type purchase"
    n = cause["numbers"]
    assert n["label"] == f"touchpoint {ERROR}" and n["q"] <= 0.05 and n["excess_lo"] > 0


def test_the_billing_faq_cause_merges_with_its_avoidable_contacts(result: BacklogResult) -> None:
    rows = [r for r in result.records() if r["subject"] == FAQ]
    assert len(rows) == 1  # one item, both evidences; the larger money kept, not summed
    row, evidence = _evidence(result, FAQ)
    assert row["kind"] == "avoidable contact" and row["kinds"] == "avoidable contact, friction cause"
    assert [e["source"] for e in evidence] == ["contacts", "causes"]
    assert evidence[1]["command"] == "journeylens causes --outcome leakage --type support"
    assert "friction-cause-web-billing-faq" in next(o for o in result.items if o.subject == FAQ).also_ids


def test_the_swiftpost_sms_is_a_priced_cause_of_contacts_after_the_order(result: BacklogResult) -> None:
    row, evidence = _evidence(result, SWIFTPOST)
    cause = next(e for e in evidence if e["source"] == "causes")
    assert cause["command"] == "journeylens causes --outcome contact_after --type purchase"
    assert cause["numbers"]["label"] == "event template=delivery_update_sp1"
    # measured: 89 excess follow-up journeys with a contact, 1,964 a year [1,485-2,492]
    # (the cause's money is above the template's 40 avoidable contacts, so its kind is kept)
    assert row["kind"] == "friction cause" and row["money_lo"] < row["money"] < row["money_hi"]
    k = cause["numbers"]["unit"] * result.context["per_year"]
    assert row["money"] == pytest.approx(cause["numbers"]["excess_journeys"] * k)
    # 6th overall: above it the billing FAQ (3rd) and the payment error (5th), and three journey-structure
    # associations no rule removes yet (abandoning after the home page; contacts after the order
    # e-mail, i.e. after orders that were delivered at all): see docs/decisions.md, Backlog.
    assert row["rank"] == 6
    # The app's checkout, which every failed purchase passed (the payment error there decides the
    # outcome), is a precondition: not sized as 320 lost conversions a year.
    checkout = next(r for r in result.records() if r["subject"] == "app:checkout")
    assert "journeylens causes --outcome failed" not in str(result.to_dict()["evidence"][checkout["id"]])


def test_backlog_yaml_adds_effort_and_warns_of_unknown_ids(
    world: tuple[dict[str, Any], jl.Workspace],
) -> None:
    _, ws = world
    plan = ws.root / "backlog.yaml"
    plan.write_text(
        "items:\n"
        "  - id: avoidable-contact-app-payment-error\n    effort: S\n    status: planned\n"
        "    decision: Retry the payment in the app\n"
        "  - id: avoidable-contact-web-billing-faqq\n    effort: 20\n",
        encoding="utf-8",
    )
    try:
        ranked = ws.backlog(source="contacts", rank="value_per_effort", markdown=str(ws.root / "roadmap.md"))
    finally:
        plan.unlink()
    top = ranked.records()[0]
    assert top["subject"] == ERROR and top["effort_days"] == 2 and top["status"] == "planned"
    assert top["value_per_effort"] == pytest.approx(top["money"] / 2)
    (warning,) = ranked.context["warnings"]
    assert warning["id"] == "avoidable-contact-web-billing-faqq" and warning["line"] == 6
    assert "avoidable-contact-web-billing-faq" in warning["hint"]
    roadmap = (ws.root / "roadmap.md").read_text()
    assert roadmap.startswith("| # | opportunity") and "avoidable-contact-app-payment-error" in roadmap
    assert Path(ws.root / "roadmap.md").exists()


def test_report_puts_the_backlog_above_the_attribution(world: tuple[dict[str, Any], jl.Workspace]) -> None:
    from journeylens.report.fix_first import fix_first_section

    _, ws = world
    section = fix_first_section(ws.store, ws.config.journeys)
    assert section is not None
    titles = [t for t, _ in section.tables]
    assert titles == [
        "Backlog: opportunities by money per year",
        "Backlog: a proposed experiment per item (alpha 0.05, power 0.8, 50/50)",
        "Conversions credited per channel",
    ]
    assert section.tables[0][1]["opportunity"].iloc[0].startswith(FAQ)


def test_the_billing_faq_gets_a_proposed_experiment_at_its_observed_traffic(
    contacts_only: BacklogResult,
) -> None:
    faq = next(r for r in contacts_only.records() if r["subject"] == FAQ)
    evidence = contacts_only.to_dict()["evidence"][faq["id"]][0]["numbers"]
    d = contacts_only.proposed_experiments()[faq["id"]]
    assert (d["base_rate"], d["denominator"]) == (evidence["contact_rate"], evidence["exposures"])
    assert d["mde"] == pytest.approx(evidence["peer_rate"] - evidence["contact_rate"]) and d["mde"] < 0
    assert d["per_variant"] > 0 and 0 < d["days"] < 10 * contacts_only.context["days"]


def test_map_stages_and_time_targets_become_items_with_owners(
    world: tuple[dict[str, Any], jl.Workspace],
) -> None:
    import shutil

    from journeylens.maps._demo_maps import write_demo_maps

    _, ws = world
    write_demo_maps(ws.root)
    try:
        result = ws.backlog(source="maps", limit=100)
    finally:
        shutil.rmtree(ws.root / "maps")
        (ws.root / "maps").mkdir()
    deviations = [r for r in result.records() if r["kind"] == "map deviation"]
    assert deviations and all(r["money_lo"] <= r["money"] <= r["money_hi"] for r in deviations)
    assert {r["subject"].split(":")[1] for r in deviations} == {"purchase", "support"}
    assert all(r["owner"] and "journeylens map check" in r["evidence"] for r in deviations)
    missed = [r for r in result.records() if r["kind"] == "missed time target"]
    assert missed and all(r["money"] is None and r["money_reason"] and r["count"] > 0 for r in missed)
    assert missed[0]["rank"] > deviations[-1]["rank"]  # unpriced items follow the priced ones


def test_themes_more_negative_than_average_are_items_owned_by_their_department(
    world: tuple[dict[str, Any], jl.Workspace],
) -> None:
    _, ws = world
    result = ws.backlog(source="themes")
    rows = result.records()
    assert rows and all(
        r["kind"] == "negative theme" and r["money"] is None and r["money_reason"] for r in rows
    )
    assert all(r["owner"] and r["count"] > 0 for r in rows)
    for r in rows:
        (evidence,) = result.to_dict()["evidence"][r["id"]]
        assert evidence["command"] == "journeylens feedback themes"
