"""The journey map format: a good map loads and round-trips; every bad input of issue 14 is one
error naming the file, the YAML line and the field, saying what was expected, with a hint; the
committed JSON Schema is the models' schema; `map validate|schema|list` on the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from conftest import journeys, write_csv
from journeylens import Workspace
from journeylens.cli.app import app
from journeylens.errors import ConfigError
from journeylens.journeys.definitions import JourneyRules
from journeylens.maps import (
    DEVIATION_KINDS,
    Absence,
    Existence,
    JourneyMap,
    MapError,
    Response,
    check_against,
    list_maps,
    load_map,
    map_schema,
)

REPO = Path(__file__).resolve().parents[1]

GOOD = """\
# yaml-language-server: $schema=map.schema.json
journey_type: purchase
segment: loyal
goal: Buy the right product quickly, without needing help
owner: e-commerce team
version: 2
stages:
  - name: discover
    touchpoints: [home, search, product_page]
    customer_goal: Find a product that fits
    intent: Confident about the choice; adds it to the cart
    expected_emotion: 1
    time_target: {duration: 2h, percentile: p80}
    owner: merchandising
    pain_points: [search results too broad]
    kpis:
      - {metric: conversion, min: 0.5}
  - name: checkout
    touchpoints: [add_to_cart, checkout, payment]
    expected_emotion: 0
    time_target: {duration: 15m}
    kpis:
      - {metric: leakage, max: 0.05, note: calls about payment}
  - name: order
    touchpoints: [order_confirmation]
    required: false
    expected_emotion: 2
unplanned:
  - name: call about payment
    touchpoints: [payment_call]
    channels: [call_center]
  - name: payment error
    touchpoints: [payment_error]
rules:
  - {rule: existence, activity: checkout}
  - {rule: absence, activity: payment_error}
  - {rule: response, first: checkout, then: order_confirmation, within: 2h}
  - {rule: precedence, first: add_to_cart, then: payment}
  - {rule: chain_response, first: payment, then: order_confirmation}
costs: {assisted_contact: 6.5, hour_of_delay: 0.5}
monitor: {false_alarm_budget: 2/quarter, period: week}
"""


def _write(tmp_path: Path, text: str, name: str = "purchase.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _line_of(text: str, needle: str) -> int:
    """1-based line of the first line containing ``needle``."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_a_good_map_loads_with_every_part(tmp_path: Path) -> None:
    m = load_map(_write(tmp_path, GOOD))
    assert (m.name, m.journey_type, m.segment, m.version) == ("purchase", "purchase", "loyal", 2)
    assert [s.name for s in m.stages] == ["discover", "checkout", "order"]
    assert m.stages[0].time_target is not None and m.stages[0].time_target.seconds == 7200
    assert m.stages[1].time_target is not None and m.stages[1].time_target.share == 0.8
    assert [s.required for s in m.stages] == [True, True, False]
    assert m.stage_of("payment") == "checkout" and m.stage_of("payment_call") is None
    assert [type(r) for r in m.rules[:3]] == [Existence, Absence, Response]
    assert m.unplanned[0].criteria.channels == ["call_center"]
    assert m.costs.lost_conversion is None  # defaults to the journey value
    assert m.monitor.false_alarms_per_day == pytest.approx(
        2 / (365.25 / 4)
    )  # a quarter is a quarter of a Julian year
    assert "payment_error" in m.touchpoints() and "checkout" in m.touchpoints()
    assert DEVIATION_KINDS == (
        "ad_hoc_touchpoint", "sequence_irregularity", "failed_touchpoint", "missing_touchpoint"
    )  # fmt: skip


def test_a_good_map_round_trips_through_yaml(tmp_path: Path) -> None:
    m = load_map(_write(tmp_path, GOOD))
    dumped = yaml.safe_dump(m.model_dump(mode="json", exclude_none=True), sort_keys=False)
    again = load_map(_write(tmp_path, dumped, "again.yaml"))
    assert again.model_dump() == m.model_copy(update={"name": "purchase"}).model_dump() | {"name": "purchase"}
    assert JourneyMap.model_validate(m.model_dump()) == m


def test_stage_touchpoints_match_events_with_the_journey_criteria() -> None:
    import ibis

    m = JourneyMap.model_validate(yaml.safe_load(GOOD))
    events = ibis.memtable(
        {"touchpoint": ["home", "payment_call", "payment"], "channel": ["web", "call_center", "web"],
         "properties": ["{}", "{}", "{}"]}
    )  # fmt: skip
    stage = m.stage("checkout").criteria.matches(events)
    call = m.unplanned[0].criteria.matches(events)
    rows = ibis.duckdb.connect().execute(events.select(s=stage, c=call)).to_dict("list")
    assert rows == {"s": [False, False, True], "c": [False, True, False]}


# --- bad input: file, line, field, what was expected, hint ------------------------------------------

BAD: list[tuple[str, str, str, str | None, str, str]] = [
    # (case, old text, new text, field, problem, hint) — the line is that of the new text
    ("wrong type", "expected_emotion: 0", "expected_emotion: happy", "stages[1].expected_emotion",
     "valid integer", "-2 (very negative) to 2"),
    ("emotion out of range", "expected_emotion: 2", "expected_emotion: 3", "stages[2].expected_emotion",
     "less than or equal to 2", "-2 (very negative) to 2"),
    ("unknown touchpoint in a rule", "then: order_confirmation, within", "then: order_confirmaton, within",
     "rules[2].then", "'order_confirmaton', which is no stage or touchpoint",
     "Did you mean 'order_confirmation'"),
    ("unknown stage in a rule", "{rule: existence, activity: checkout}",
     "{rule: existence, activity: chekout}",
     "rules[0].activity", "'chekout', which is no stage or touchpoint", "Did you mean 'checkout'"),
    ("stage without touchpoints", "touchpoints: [order_confirmation]", "description: the order",
     "stages[2]", "stage 'order' has no touchpoints", "touchpoints: [checkout, payment]"),
    ("contradictory rules", "{rule: absence, activity: payment_error}", "{rule: absence, activity: checkout}",
     "rules[1]", "'checkout' must exist (rule 1) and must be absent (rule 2)", "keep one of the two rules"),
    ("time target not a duration", "{duration: 15m}", "{duration: quickly}", "stages[1].time_target.duration",
     "'quickly' is not a duration", "30m, 2h, 3d or 1w"),
    ("percentile", "percentile: p80}", "percentile: 80%}", "stages[0].time_target.percentile",
     "not a percentile", "p80"),
    ("unknown field", "    required: false", "    requird: false", "stages[2].requird",
     "unknown field 'requird'; expected one of", "Did you mean 'required'"),
    ("unknown rule kind", "{rule: precedence,", "{rule: before,", "rules[3]",
     "unknown rule kind; expected existence, absence", "journeylens map schema"),
    ("unknown channel", "channels: [call_center]", "channels: [phone_calls]", "unplanned[0].channels",
     "unknown channel 'phone_calls'", "call_center"),
    ("touchpoint in two stages", "[order_confirmation]", "[payment]", "stages[2].touchpoints[0]",
     "'payment' is in stage 'checkout' and in stage 'order'", "belongs to one stage"),
    ("KPI without target", "{metric: conversion, min: 0.5}", "{metric: conversion}", "stages[0].kpis[0]",
     "has no target", "min:"),
    ("budget", "false_alarm_budget: 2/quarter", "false_alarm_budget: rarely", "monitor.false_alarm_budget",
     "not of the form alarms/unit", "1/month"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("old", "new", "field", "problem", "hint"), [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_bad_map_names_file_line_field_and_hint(
    tmp_path: Path, old: str, new: str, field: str, problem: str, hint: str
) -> None:
    assert GOOD.count(old) == 1, old
    text = GOOD.replace(old, new)
    path = _write(tmp_path, text)
    with pytest.raises(MapError) as caught:
        load_map(path)
    exc = caught.value
    assert isinstance(exc, ConfigError)
    # A problem of a whole stage is reported at the stage's first line.
    needle = "- name: order" if field == "stages[2]" else new.strip()
    assert (exc.path, exc.field, exc.line) == (path, field, _line_of(text, needle))
    assert problem in exc.message and hint in (exc.hint or "")
    assert exc.message.startswith(f"{path}, line {exc.line}: field '{field}': ")


def test_a_file_that_is_not_yaml(tmp_path: Path) -> None:
    text = "journey_type: purchase\ngoal: [unclosed\nstages: []\n"
    with pytest.raises(MapError) as caught:
        load_map(_write(tmp_path, text))
    assert "not valid YAML" in caught.value.message and caught.value.line == 3
    assert "indentation" in (caught.value.hint or "")


def test_yaml_that_is_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(MapError, match="a map is a YAML mapping") as caught:
        load_map(_write(tmp_path, "- just\n- a list\n"))
    assert caught.value.line == 1 and "map draft" in (caught.value.hint or "")


def test_missing_field_says_it_is_required(tmp_path: Path) -> None:
    text = GOOD.replace("goal: Buy the right product quickly, without needing help\n", "")
    with pytest.raises(MapError) as caught:
        load_map(_write(tmp_path, text))
    assert (caught.value.field, caught.value.line) == ("goal", 2)  # the mapping that lacks it
    assert "required" in caught.value.message and "Add `goal:`" in (caught.value.hint or "")


def test_journey_type_must_exist_in_the_workspace(tmp_path: Path) -> None:
    text = GOOD.replace("journey_type: purchase", "journey_type: purchases")
    path = _write(tmp_path, text)
    m = load_map(path)  # the format itself is fine
    with pytest.raises(MapError) as caught:
        check_against(m, path, JourneyRules())
    exc = caught.value
    assert (exc.field, exc.line) == ("journey_type", 2)
    assert "'purchases' does not exist; expected one of support, purchase, information, other" in exc.message
    assert "Did you mean 'purchase'" in (exc.hint or "") and "[journeys.types]" in (exc.hint or "")


def test_touchpoints_are_checked_against_the_events_with_close_matches(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD)
    m = load_map(path)
    present = set(m.touchpoints()) - {"product_page"} | {"product_pages"}
    with pytest.raises(MapError) as caught:
        check_against(m, path, JourneyRules(), present)
    exc = caught.value
    assert (exc.field, exc.line) == (
        "stages[0].touchpoints[2]",
        _line_of(GOOD, "[home, search, product_page]"),
    )
    assert "'product_page' does not occur in the events" in exc.message
    assert "Did you mean 'product_pages'" in (exc.hint or "")
    check_against(m, path, JourneyRules(), set(m.touchpoints()))  # all present: no error


# --- schema -------------------------------------------------------------------------------------------


def test_committed_schema_is_the_models_schema() -> None:
    committed = json.loads((REPO / "docs" / "map.schema.json").read_text(encoding="utf-8"))
    assert committed == map_schema(), (
        "docs/map.schema.json is stale: journeylens map schema > docs/map.schema.json"
    )
    printed = CliRunner().invoke(app, ["map", "schema"])
    assert printed.exit_code == 0 and printed.stdout == (REPO / "docs" / "map.schema.json").read_text()


def test_schema_describes_the_fields_editors_complete() -> None:
    schema = map_schema()
    assert set(schema["required"]) == {"journey_type", "goal", "stages"}
    stage = schema["$defs"]["Stage"]["properties"]
    assert {"expected_emotion", "time_target", "customer_goal", "intent", "kpis"} <= set(stage)
    assert stage["expected_emotion"]["anyOf"][0] == {"maximum": 2, "minimum": -2, "type": "integer"}
    assert schema["properties"]["rules"]["items"]["discriminator"]["propertyName"] == "rule"


# --- command line -----------------------------------------------------------------------------------------


@pytest.fixture
def with_maps(workspace: Workspace, tmp_path: Path) -> Workspace:
    stories = {"u1": [("web", "home"), ("web", "product_page"), ("web", "checkout"), ("web", "payment"),
                      ("web", "order_confirmation")]}  # fmt: skip
    workspace.ingest(paths=[str(write_csv(tmp_path, "events.csv", journeys(stories)))])
    workspace.close()
    (workspace.root / "maps" / "purchase.yaml").write_text(GOOD, encoding="utf-8")
    broken = GOOD.replace("{duration: 15m}", "{duration: soon}")
    (workspace.root / "maps" / "broken.yml").write_text(broken, encoding="utf-8")
    return workspace


def test_map_list_shows_valid_and_invalid_maps(with_maps: Workspace) -> None:
    result = CliRunner().invoke(app, ["map", "list", "-w", str(with_maps.root), "-f", "json"])
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    assert [(r["name"], r["journey_type"], r["segment"], r["stages"], r["valid"]) for r in rows] == [
        ("broken", None, None, None, False),
        ("purchase", "purchase", "loyal", 3, True),
    ]
    assert "line 21: field 'stages[1].time_target.duration'" in rows[0]["error"]
    csv_out = CliRunner().invoke(app, ["map", "list", "-w", str(with_maps.root), "-f", "csv"])
    assert csv_out.stdout.splitlines()[0] == "name,journey_type,segment,stages,valid,file,error"


def test_map_validate_checks_touchpoints_against_the_events(
    with_maps: Workspace, run_journeylens: Any
) -> None:
    root = with_maps.root
    bad = run_journeylens(["map", "validate", "purchase", "-w", root])
    assert bad.returncode == 2
    # 'search' is in the map but not in these events: the first unknown touchpoint is named.
    line = _line_of(GOOD, "[home, search, product_page]")
    assert f"{root / 'maps' / 'purchase.yaml'}, line {line}: field 'stages[0].touchpoints[1]'" in bad.stderr
    assert "touchpoint 'search' does not occur in the events" in bad.stderr and "Hint:" in bad.stderr
    broken = run_journeylens(["map", "validate", "broken", "-w", root])
    assert broken.returncode == 2 and "'soon' is not a duration" in broken.stderr
    missing = run_journeylens(["map", "validate", "purchse", "-w", root])
    assert missing.returncode == 2 and "Did you mean 'purchase'" in missing.stderr


def test_map_validate_a_file_outside_a_workspace(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD)
    result = CliRunner().invoke(app, ["map", "validate", str(path), "-w", str(tmp_path), "-f", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) | {"file": ""} == {
        "name": "purchase", "journey_type": "purchase", "segment": "loyal", "stages": 3, "rules": 5,
        "valid": True, "checked": "format only (no workspace)", "file": "",
    }  # fmt: skip


def test_list_maps_in_python(with_maps: Workspace) -> None:
    entries = list_maps(with_maps.root, JourneyRules())
    assert [(e.file.name, e.map is not None) for e in entries] == [
        ("broken.yml", False),
        ("purchase.yaml", True),
    ]


def test_the_example_in_the_docs_is_a_valid_map(tmp_path: Path) -> None:
    text = (REPO / "docs" / "maps.md").read_text(encoding="utf-8")
    example = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    m = load_map(_write(tmp_path, example))
    assert [s.name for s in m.stages] == ["discover", "checkout", "order", "delivery"]
    assert len(m.rules) == 5 and m.segment == "loyal"
