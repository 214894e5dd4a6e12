"""Drafting a map from data: on the synthetic world the draft recovers the generator's stage order
for purchase and support journeys (the order ``synth/_purchase.py`` and ``synth/_support.py`` emit
touchpoints in); on the real helpdesk log it recovers the ticket process; the draft is commented
YAML that validates; the command writes it and the schema, and refuses to overwrite."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

import journeylens as jl
from journeylens._units import parse_duration
from journeylens.cli.app import app
from journeylens.identity import stitch
from journeylens.journeys import build_journeys
from journeylens.maps import JourneyMap, load_map
from journeylens.maps.draft import MapDraft, draft_map
from journeylens.maps.loading import parse_map
from journeylens.specs.maps import MapDraftSpec
from journeylens.synth import generate_world

# The generator's order, as chains of touchpoint groups: every touchpoint of a group comes before
# every touchpoint of the next group in the same chain (groups are alternatives or unordered).
BROWSE = {"home", "search", "category_page", "product_page", "product_reviews"}
PURCHASE_TRUTH = [
    # _discover: a newsletter and its click, or a social ad, then the catalogue
    [{"promo_newsletter"}, {"email_click"}, BROWSE],
    [{"social_ad_click"}, BROWSE],
    # _checkout, then _fulfil
    [BROWSE, {"add_to_cart"}, {"checkout"}, {"payment"}, {"order_confirmation"},
     {"order_confirmation_email"}, {"delivery_update"}, {"delivery_confirmation"}],
]  # fmt: skip
SELF_SERVICE = {"billing_faq", "track_order", "troubleshooting_guide", "my_invoices", "invoice_download"}
ENTRIES = {"ivr_menu", "chatbot", "contact_form"}
ASSISTED = {"billing_call", "technical_call", "billing_chat", "delivery_call"}
SUPPORT_TRUTH = [
    # _self_service, then _contact (an entry point, the assisted contact, an update when it
    # failed), then the resolution and the survey
    [SELF_SERVICE, ENTRIES, ASSISTED, {"ticket_resolved"}, {"survey_invite"}],
    [ASSISTED, {"ticket_update"}],
]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[jl.Workspace]:
    root = tmp_path_factory.mktemp("draft")
    generate_world(root / "world", customers=2_000, seed=13)
    ws = jl.Workspace.init(root / "ws")
    ws.config.privacy.default_country_code = "31"
    for table in ("events", "identities", "customers"):
        ws.ingest(paths=[str(root / "world" / table)], table=table)
    stitch(ws.store, ws.config.identity)
    build_journeys(ws.store, ws.config.journeys)
    yield ws
    ws.close()


def _stage_index(m: JourneyMap) -> dict[str, int]:
    return {tp: i for i, stage in enumerate(m.stages) for tp in stage.touchpoints}


def _order_violations(m: JourneyMap, chains: list[list[set[str]]]) -> list[str]:
    """Pairs the truth orders a before b but the draft puts a in a later stage than b."""
    index = _stage_index(m)
    found = []
    for chain in chains:
        for i, earlier in enumerate(chain):
            for later in chain[i + 1 :]:
                for a in earlier & index.keys():
                    found += [f"{a} after {b}" for b in later & index.keys() if index[a] > index[b]]
    return found


def _checks_out(draft: MapDraft) -> None:
    """The YAML starts with the schema line, validates, and is the map; people's fields are empty."""
    assert draft.yaml.startswith("# yaml-language-server: $schema=map.schema.json\n")
    assert parse_map(draft.yaml, Path("x.yaml")).model_dump(exclude={"name"}) == draft.map.model_dump(
        exclude={"name"}
    )
    assert all(s.expected_emotion is None and s.customer_goal is None for s in draft.map.stages)
    for stage, row in zip(draft.map.stages, draft.stages, strict=True):
        if stage.time_target is not None:  # proposed from the observed p80, rounded up
            assert row["p80_s"] <= stage.time_target.seconds <= max(2 * row["p80_s"], 60)
            assert stage.time_target.percentile == "p80"


def test_purchase_draft_recovers_the_generators_stage_order(world: jl.Workspace) -> None:
    draft = draft_map(world.store, MapDraftSpec(filter={"journey_type": "purchase"}))
    _checks_out(draft)
    m, index = draft.map, _stage_index(draft.map)
    assert _order_violations(m, PURCHASE_TRUTH) == []
    # The landmarks fall into distinct stages, in the true order.
    assert index["product_page"] < index["add_to_cart"] < index["order_confirmation"]
    assert index["order_confirmation"] <= index["delivery_confirmation"]
    assert 4 <= len(m.stages) <= 6
    # The contacts the generator plants after an app payment error are ad hoc, not stages.
    unplanned = {tp for u in m.unplanned for tp in u.touchpoints}
    assert {"payment_error", "payment_call", "ivr_menu"} <= unplanned
    assert draft.totals["journeys"] > 1000
    browse = m.stage(m.stage_of("product_page") or "")
    assert browse.required and browse.time_target is not None


def test_support_draft_recovers_the_generators_stage_order(world: jl.Workspace) -> None:
    draft = draft_map(world.store, MapDraftSpec(filter={"journey_type": "support"}))
    _checks_out(draft)
    index = _stage_index(draft.map)
    assert _order_violations(draft.map, SUPPORT_TRUTH) == []
    assert index["billing_faq"] < index["ivr_menu"] < index["ticket_resolved"] < index["survey_invite"]


def test_stage_flow_and_touchpoint_rows_are_consistent(world: jl.Workspace) -> None:
    draft = draft_map(world.store, MapDraftSpec(filter={"journey_type": "purchase"}))
    total = draft.totals["journeys"]
    rows = draft.records()
    assert {r["role"] for r in rows} == {"planned", "unplanned"}
    assert all(r["share"] < 0.1 for r in rows if r["reason"] and r["reason"].startswith("rare"))
    assert all((r["stage"] is None) == (r["role"] == "unplanned") for r in rows)
    # Every journey that reaches a stage leaves it once: to a next stage or to the end.
    leaving: dict[str, int] = {}
    for t in draft.transitions:
        leaving[t["source"]] = leaving.get(t["source"], 0) + t["journeys"]
    assert {s["stage"]: s["journeys"] for s in draft.stages} == leaving
    assert all(0 < s["journeys"] <= total for s in draft.stages)


def test_segment_draft_describes_one_segment(world: jl.Workspace) -> None:
    everyone = draft_map(world.store, MapDraftSpec(filter={"journey_type": "purchase"}))
    loyal = draft_map(world.store, MapDraftSpec(filter={"journey_type": "purchase", "segment": "loyal"}))
    assert loyal.map.segment == "loyal" and 'segment: "loyal"' in loyal.yaml
    assert 0 < loyal.totals["journeys"] < everyone.totals["journeys"]
    assert _order_violations(loyal.map, PURCHASE_TRUTH) == []


def test_map_draft_command_writes_the_map_and_its_schema(world: jl.Workspace, tmp_path: Path) -> None:
    root = str(world.root)
    out = tmp_path / "maps" / "support.yaml"
    world.close()  # the command opens the workspace itself
    wrote = CliRunner().invoke(app, ["map", "draft", "--type", "support", "--out", str(out), "-w", root])
    assert wrote.exit_code == 0, (wrote.output, wrote.exception)
    assert "Drafted stages (support)" in wrote.stdout and "ticket_resolved" in wrote.stdout
    assert load_map(out).journey_type == "support"
    assert json.loads((out.parent / "map.schema.json").read_text())["title"] == "JourneyLens journey map"
    again = CliRunner().invoke(app, ["map", "draft", "--type", "support", "--out", str(out), "-w", root])
    assert again.exit_code != 0 and "exists already" in str(again.exception)
    printed = CliRunner().invoke(app, ["map", "draft", "--type", "purchase", "-w", root])
    assert printed.exit_code == 0 and printed.stdout.startswith("# yaml-language-server:")
    as_json = CliRunner().invoke(app, ["map", "draft", "--type", "purchase", "-w", root, "-f", "json"])
    assert json.loads(as_json.stdout)["totals"]["stages"] >= 4
    unknown = CliRunner().invoke(app, ["map", "draft", "--type", "purchse", "-w", root])
    assert unknown.exit_code != 0 and "Did you mean 'purchase'" in str(unknown.exception.hint)  # type: ignore[union-attr]
    none = CliRunner().invoke(app, ["map", "draft", "-w", root])
    assert none.exit_code != 0 and "one --type" in str(none.exception)


@pytest.mark.realdata
def test_helpdesk_draft_recovers_the_ticket_process(
    shared_file: Callable[[str], Path], tmp_path: Path
) -> None:
    ws = jl.Workspace.init(tmp_path / "helpdesk")
    try:
        ws.ingest(paths=[str(shared_file("process-logs/helpdesk.xes.gz"))])
        ws.build()
        # No journey type claims a ticket: every case is an 'other' journey.
        draft = ws.map_draft(type="other")
    finally:
        ws.close()
    _checks_out(draft)
    names = [s.name for s in draft.map.stages]
    assert names[0] == "Assign seriousness" and names[-1] == "Closed"
    index = _stage_index(draft.map)
    assert (
        index["Assign seriousness"]
        < index["Take in charge ticket"]
        < index["Resolve ticket"]
        < index["Closed"]
    )
    assert draft.totals["journeys"] == 4580
    assert [s.required for s in draft.map.stages if s.name in ("Resolve ticket", "Closed")] == [True, True]
    closed = draft.map.stage("Resolve ticket").time_target
    assert closed is not None and parse_duration(closed.duration) >= 86_400  # resolving takes days
