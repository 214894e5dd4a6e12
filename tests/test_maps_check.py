"""``journeylens map check``: conformance of journeys to a designed map.

* Hand-made stories with known verdicts: one journey per CJML deviation kind and per Declare rule.
* A plain-Python reference on hypothesis-generated logs agrees with the engine, journey by
  journey (every deviation with its kind, stage, touchpoint and step; every rule verdict).
* Time in stage and its order-statistic quantiles equal a plain-Python computation.
* Bad input: unknown journey type, a map that matches no journey, unknown touchpoints, --type
  against the map's type: one clear error each, and nothing is printed as a result.
* pm4py is the oracle on the real logs (receipt, help desk; they must exist): rule verdicts equal
  ``pm4py.conformance_declare`` per trace, and stage-sequence conformance (no ad-hoc touchpoint,
  no sequence irregularity, no missing stage) equals alignment fitness == 1 on a process tree
  built from the map (every trace; the alignments run per variant, well under a minute).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import shutil
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import write_csv
from journeylens import Workspace
from journeylens.errors import InputError
from journeylens.journeys.definitions import Criteria, JourneyType
from journeylens.maps import JourneyMap, MapError
from journeylens.maps._declare import broken_rules

T0 = _dt.datetime(2024, 1, 15, 9, 0, tzinfo=_dt.UTC)
ORDER_TYPE = JourneyType(
    priority=1,
    start=Criteria(touchpoints=["home", "product", "cart", "pay", "pay_failed", "call", "confirm", "faq"]),
    success=Criteria(touchpoints=["confirm"]),
    failure=Criteria(touchpoints=["pay_failed"]),
)
ORDER_MAP = """\
journey_type: order
goal: Buy without help
stages:
  - name: browse
    touchpoints: [home, product]
    time_target: {duration: 6m}
    kpis:
      - {metric: conversion, min: 0.5}
  - name: buy
    touchpoints: [cart, pay, pay_failed]
  - name: done
    touchpoints: [confirm]
unplanned:
  - {name: call about payment, touchpoints: [call]}
rules:
  - {rule: response, first: cart, then: confirm, within: 12m}
  - {rule: precedence, first: product, then: cart}
  - {rule: chain_response, first: cart, then: pay}
  - {rule: existence, activity: product}
  - {rule: absence, activity: call}
"""
# case -> touchpoints, 5 minutes apart; one day apart per case.
STORIES = {
    "ok": ["home", "product", "cart", "pay", "confirm"],
    "back": ["home", "product", "cart", "product", "cart", "pay", "confirm"],
    "adhoc": ["home", "product", "faq", "cart", "pay", "confirm"],
    "call": ["home", "product", "cart", "pay", "call", "confirm"],
    "skip": ["cart", "pay", "confirm"],
    "fail": ["home", "product", "cart", "pay_failed"],
}


def _write_events(folder: Path, stories: dict[str, list[tuple[str, int]]]) -> Path:
    """``stories``: case -> [(touchpoint, minutes after the case's start)]; cases a day apart."""
    rows = []
    for day, (case, steps) in enumerate(stories.items()):
        for tp, minute in steps:
            when = (T0 + _dt.timedelta(days=day, minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")
            rows.append({"case_id": case, "user_id": f"u_{case}", "timestamp": when,
                         "channel": "web", "touchpoint": tp})  # fmt: skip
    return write_csv(folder, "events.csv", rows)


def _order_workspace(root: Path, stories: dict[str, list[tuple[str, int]]]) -> Workspace:
    ws = Workspace.init(root)
    ws.config.journeys.types = {"order": ORDER_TYPE}
    ws.config.dump(root / "journeylens.toml")
    ws.close()
    ws = Workspace.open(root)
    ws.ingest(paths=[str(_write_events(root.parent, stories))])
    ws.build()
    (root / "maps").mkdir(exist_ok=True)
    (root / "maps" / "order.yaml").write_text(ORDER_MAP, encoding="utf-8")
    return ws


@pytest.fixture(scope="module")
def story_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    stories = {case: [(tp, 5 * i) for i, tp in enumerate(steps)] for case, steps in STORIES.items()}
    ws = _order_workspace(tmp_path_factory.mktemp("stories") / "ws", stories)
    # CSAT on the confirmation from two customers who reached it, and one on a page no stage lists
    # (linked to its journey, whose last step is the confirmation: the answer is about the faq);
    # each given three hours after its case's day began (cases are a day apart).
    answers = [("ok", 0, "confirm", 5), ("back", 1, "confirm", 2), ("adhoc", 2, "faq", 1)]
    rows = [{"user_id": f"u_{who}", "timestamp": (T0 + _dt.timedelta(days=day, hours=3)).isoformat(),
             "channel": "web", "touchpoint": tp, "metric": "csat", "score": score}
            for who, day, tp, score in answers]  # fmt: skip
    ws.ingest(paths=[str(write_csv(ws.root.parent, "feedback.csv", rows))], table="feedback")
    ws.build()
    yield ws
    ws.close()


def _by_case(ws: Workspace, rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    cases = {
        r["journey_id"]: r["case_id"]
        for r in ws.store.execute(ws.store.backend.table("journeys")).to_pylist()
    }
    out: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(cases[row["journey_id"]], []).append(row)
    return out


def test_each_deviation_kind_on_its_story(story_ws: Workspace) -> None:
    result = story_ws.map_check("order")
    found = {case: sorted((d["kind"], d["stage"], d["touchpoint"], d["step"]) for d in rows)
             for case, rows in _by_case(story_ws, result.deviation_records()).items()}  # fmt: skip
    assert found == {
        "back": [("sequence_irregularity", "browse", "product", 4)],
        "adhoc": [("ad_hoc_touchpoint", None, "faq", 3)],
        "skip": [("missing_touchpoint", "browse", None, None)],
        "fail": [("failed_touchpoint", "buy", "pay_failed", 4), ("missing_touchpoint", "done", None, None)],
    }
    # The declared unplanned call is an expected ad-hoc touchpoint: listed apart, no deviation.
    (expected,) = [r for r in result.ad_hoc if r["expected"]]
    assert (expected["touchpoint"], expected["unplanned"], expected["journeys"]) == (
        "call",
        "call about payment",
        1,
    )
    verdicts = {case: rows[0]["conforms"] for case, rows in _by_case(story_ws, result.verdicts()).items()}
    # "call" breaks the absence rule, so it does not conform although it has no deviation.
    assert verdicts == {
        "ok": True,
        "back": False,
        "adhoc": False,
        "call": False,
        "skip": False,
        "fail": False,
    }
    assert result.summary()["conforming"] == 1 and result.summary()["journeys"] == 6


def test_each_declare_rule_on_its_story(story_ws: Workspace) -> None:
    result = story_ws.map_check("order")
    broken = {r["rule_label"]: r["journeys"] for r in result.rules}
    assert broken == {
        # back: the first cart is followed by a confirm 20 minutes later, call 15; fail: never.
        "response cart -> confirm within 12m": 3,
        # skip: cart without any product.
        "precedence product -> cart": 1,
        # back: the first cart is followed by product; fail: by pay_failed.
        "chain_response cart -> pay": 2,
        "existence product": 1,
        "absence call": 1,
    }
    share = next(r for r in result.rules if r["rule_label"] == "absence call")
    assert share["of"] == 6 and share["lo"] < 1 / 6 < share["hi"]


def test_patterns_costs_and_kpis(story_ws: Workspace) -> None:
    result = story_ws.map_check("order", top=2)
    assert [p["journeys"] for p in result.patterns] == [1, 1]
    assert all(p["examples"] for p in result.patterns)
    success = {r["group"]: r for r in result.costs if r["metric"] == "success"}
    assert success["conforming"]["value"] == 1.0 and success["deviating"]["value"] == 4 / 5
    assert success["deviating"]["baseline"] == "conforming" and success["deviating"]["q"] is not None
    assert all("not caused" in m["note"] for m in result.money)
    (kpi,) = result.kpis
    # Browse is reached by 5 journeys, each of which reaches a later stage.
    assert (kpi["stage"], kpi["metric"], kpi["value"], kpi["d"], kpi["verdict"]) == (
        "browse",
        "conversion",
        1.0,
        5,
        "met",
    )


def test_feedback_kpis_read_answers_on_the_stage(story_ws: Workspace, tmp_path: Path) -> None:
    with_kpis = tmp_path / "kpis.yaml"
    with_kpis.write_text(ORDER_MAP.replace(
        "    touchpoints: [confirm]",
        "    touchpoints: [confirm]\n    kpis: [{metric: csat, min: 4}, {metric: nps, min: 0}]",
    ))  # fmt: skip
    kpis = {k["metric"]: k for k in story_ws.map_check(str(with_kpis)).kpis if k["stage"] == "done"}
    assert (kpis["csat"]["value"], kpis["csat"]["n"], kpis["csat"]["verdict"]) == (3.5, 2, "uncertain")
    assert kpis["nps"]["value"] is None and "no scored answer about this stage" in kpis["nps"]["reason"]


def test_time_in_stage_and_quantiles_equal_plain_python(story_ws: Workspace) -> None:
    result = story_ws.map_check("order")
    browse = next(t for t in result.timing if t["measure"] == "time_in_stage" and t["stage"] == "browse")
    # Browse lasts from its first event to the first event of the next stage entered (minutes).
    minutes = {"ok": 10, "back": 10, "adhoc": 15, "call": 10, "fail": 10}
    values = sorted(60.0 * m for m in minutes.values())
    assert browse["journeys"] == 5
    assert browse["within_target"] == 0 and browse["target"] == "6m" and browse["target_met"] is False
    for q in (0.5, 0.8, 0.9):
        assert browse[f"p{round(q * 100)}"] == values[math.ceil(q * len(values)) - 1]
    between = next(t for t in result.timing if t["stage"] == "browse -> buy")
    assert between["journeys"] == 5 and between["p50"] == 600.0


def test_cli_table_json_csv(story_ws: Workspace, run_cli: Callable[..., Any]) -> None:
    root = story_ws.root
    table = run_cli(["map", "check", "order", "-w", root])
    assert table.exit_code == 0, table.output
    assert "sequence irregularity" in table.output and "absence call" in table.output
    data = json.loads(run_cli(["map", "check", "order", "-w", root, "-f", "json"]).stdout)
    assert data["groups"][0]["conforming"] == 1 and data["context"]["map"] == "order"
    csv_text = run_cli(["map", "check", "order", "-w", root, "-f", "csv"]).stdout
    assert csv_text.splitlines()[0].startswith("journey_id,") and len(csv_text.splitlines()) == 7


def test_two_periods_side_by_side(story_ws: Workspace) -> None:
    periods = ["2024-01-15:2024-01-18", "2024-01-18:2024-01-21"]
    result = story_ws.map_check("order", compare_periods=periods)
    assert [g["journeys"] for g in result.groups] == [3, 3]
    conformance = next(c for c in result.comparison if c["measure"] == "conformance")
    # ok, back, adhoc | call, skip, fail: 1 of 3 conform in the first period, none in the second.
    assert (conformance["a_n"], conformance["b_n"], conformance["test"]) == (1, 0, "fisher")
    assert all(c["q"] is None or c["q"] >= c["p"] for c in result.comparison)


# --- bad input -----------------------------------------------------------------------------------


def test_bad_input_is_one_clear_error(story_ws: Workspace, tmp_path: Path) -> None:
    unknown_type = tmp_path / "shop.yaml"
    unknown_type.write_text(ORDER_MAP.replace("journey_type: order", "journey_type: ordr"))
    with pytest.raises(MapError) as exc:
        story_ws.map_check(str(unknown_type))
    assert exc.value.line == 1 and exc.value.field == "journey_type" and "'order'" in exc.value.hint

    typo = tmp_path / "typo.yaml"
    typo.write_text(ORDER_MAP.replace("[cart, pay, pay_failed]", "[cart, pay, pay_fialed]"))
    with pytest.raises(MapError) as exc:
        story_ws.map_check(str(typo))
    assert exc.value.field == "stages[1].touchpoints[2]" and "pay_failed" in exc.value.hint

    nobody = tmp_path / "loyal.yaml"
    nobody.write_text(ORDER_MAP.replace("goal:", "segment: loyal\ngoal:"))
    with pytest.raises(MapError) as exc:
        story_ws.map_check(str(nobody))
    assert exc.value.field == "segment" and exc.value.line == 2 and "matches no journey" in exc.value.message

    with pytest.raises(InputError, match="--type"):
        story_ws.map_check("order", type="support")


def test_bad_input_on_the_command_line_prints_no_result(tmp_path: Path, run_journeylens: Any) -> None:
    ws = _order_workspace(tmp_path / "ws", {"all": [(tp, 5 * i) for i, tp in enumerate(ALPHABET)]})
    ws.close()  # the command runs in another process
    rule = ws.root / "maps" / "rule.yaml"
    rule.write_text(ORDER_MAP.replace("first: product, then: cart", "first: prodct, then: cart"))
    out = run_journeylens(["map", "check", "rule", "-w", ws.root, "-f", "json"])
    assert out.returncode != 0 and out.stdout == ""
    assert "rule.yaml, line 17" in out.stderr and "rules[1].first" in out.stderr and "'product'" in out.stderr


# --- a plain-Python reference on generated logs ---------------------------------------------------

STAGES = {
    "home": "browse",
    "product": "browse",
    "cart": "buy",
    "pay": "buy",
    "pay_failed": "buy",
    "confirm": "done",
}
RANK = {"browse": 0, "buy": 1, "done": 2}
ALPHABET = ["home", "product", "cart", "pay", "pay_failed", "confirm", "call", "faq"]


def _reference(
    steps: list[tuple[str, int]], outcome: str, jm: JourneyMap
) -> tuple[list[tuple[Any, ...]], set[int]]:
    """Deviations (kind, stage, touchpoint, step) and broken rules (1-based) of one journey."""
    found: list[tuple[Any, ...]] = []
    reached = -1
    for step, (tp, _) in enumerate(steps, start=1):
        stage = STAGES.get(tp)
        if stage is None and tp != "call":
            found.append(("ad_hoc_touchpoint", None, tp, step))
        if stage is not None:
            if RANK[stage] < reached:
                found.append(("sequence_irregularity", stage, tp, step))
            reached = max(reached, RANK[stage])
    stages = {STAGES[tp] for tp, _ in steps if tp in STAGES}
    found += [
        ("missing_touchpoint", s.name, None, None) for s in jm.stages if s.required and s.name not in stages
    ]
    if outcome in ("failed", "abandoned"):
        staged = [(step, tp) for step, (tp, _) in enumerate(steps, start=1) if tp in STAGES]
        last = staged[-1] if staged else (None, None)
        found.append(("failed_touchpoint", STAGES.get(last[1] or ""), last[1], last[0]))
    names = [tp for tp, _ in steps]
    broken = set()
    # 1 response cart -> confirm within 12m; 2 precedence product -> cart; 3 chain cart -> pay;
    # 4 existence product; 5 absence call.
    for i, (tp, at) in enumerate(steps):
        if tp == "cart":
            later = [t for n, t in steps[i + 1 :] if n == "confirm"]
            if not later or later[0] - at > 12:
                broken.add(1)
            if i + 1 >= len(steps) or steps[i + 1][0] != "pay":
                broken.add(3)
    if "cart" in names and ("product" not in names or names.index("product") > names.index("cart")):
        broken.add(2)
    if "product" not in names:
        broken.add(4)
    if "call" in names:
        broken.add(5)
    return sorted(found, key=repr), broken


trace = st.lists(
    st.tuples(st.sampled_from(ALPHABET), st.integers(min_value=0, max_value=8)), min_size=1, max_size=9
).map(lambda steps: [(tp, sum(gap for _, gap in steps[: i + 1])) for i, (tp, _) in enumerate(steps)])


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(logs=st.lists(trace, min_size=1, max_size=12))
def test_engine_agrees_with_plain_python(logs: list[list[tuple[str, int]]], tmp_path: Path) -> None:
    root = tmp_path / f"ws{time.monotonic_ns()}"
    root.mkdir()
    # One journey with every touchpoint: journey types and maps must name touchpoints that occur.
    logs = [*logs, [(tp, i) for i, tp in enumerate(ALPHABET)]]
    ws = _order_workspace(root / "ws", {f"c{i}": steps for i, steps in enumerate(logs)})
    try:
        result = ws.map_check("order")
        jm = JourneyMap.model_validate(yaml.safe_load(ORDER_MAP))
        journeys = ws.store.execute(ws.store.backend.table("journeys")).to_pylist()
        assert len(journeys) == len(logs)  # one journey per case
        outcomes = {j["case_id"]: j["outcome"] for j in journeys}
        devs = _by_case(ws, result.deviation_records())
        verdicts = {case: rows[0] for case, rows in _by_case(ws, result.verdicts()).items()}
        broken: dict[int, int] = {}
        for i, steps in enumerate(logs):
            case = f"c{i}"
            want, rules = _reference(steps, outcomes[case], jm)
            got = sorted(
                ((d["kind"], d["stage"], d["touchpoint"], d["step"]) for d in devs.get(case, [])), key=repr
            )
            assert got == want, (case, steps)
            assert verdicts[case]["rules_broken"] == len(rules), (case, steps, rules)
            assert verdicts[case]["conforms"] == (not want and not rules)
            for r in rules:
                broken[r] = broken.get(r, 0) + 1
        assert {r["rule"]: r["journeys"] for r in result.rules if r["journeys"]} == broken
    finally:
        ws.close()
        shutil.rmtree(root, ignore_errors=True)


# --- pm4py as the oracle on the real logs ---------------------------------------------------------

HELPDESK_MAP = """\
journey_type: other
goal: A ticket resolved and closed
stages:
  - name: triage
    touchpoints: [Assign seriousness, Insert ticket]
  - name: handle
    required: false
    touchpoints: [Take in charge ticket, Wait, Require upgrade, Create SW anomaly, Resolve SW anomaly,
                  Schedule intervention]
  - name: resolve
    touchpoints: [Resolve ticket]
  - name: close
    touchpoints: [Closed]
unplanned:
  - {name: verification, touchpoints: [VERIFIED]}
rules:
  - {rule: existence, activity: Closed}
  - {rule: absence, activity: Require upgrade}
  - {rule: response, first: Take in charge ticket, then: Resolve ticket}
  - {rule: precedence, first: Assign seriousness, then: Take in charge ticket}
  - {rule: chain_response, first: Resolve ticket, then: Closed}
  - {rule: response, first: Wait, then: Closed}
"""
RECEIPT_MAP = """\
journey_type: other
goal: A confirmation of receipt sent
stages:
  - name: receive
    touchpoints: [Confirmation of receipt]
  - name: check
    touchpoints: [T02 Check confirmation of receipt, T03 Adjust confirmation of receipt,
                  T04 Determine confirmation of receipt]
  - name: confirm
    touchpoints: [T05 Print and send confirmation of receipt]
  - name: stop
    required: false
    touchpoints: [T06 Determine necessity of stop advice, T10 Determine necessity to stop indication]
unplanned:
  - name: internal advice
    touchpoints: [T07-1 Draft intern advice aspect 1, T07-2 Draft intern advice aspect 2]
  - {name: document X, touchpoints: [T13 Adjust document X request unlicensed]}
rules:
  - {rule: existence, activity: T02 Check confirmation of receipt}
  - {rule: absence, activity: T13 Adjust document X request unlicensed}
  - {rule: response, first: T02 Check confirmation of receipt, then: T04 Determine confirmation of receipt}
  - rule: precedence
    first: T04 Determine confirmation of receipt
    then: T05 Print and send confirmation of receipt
  - rule: chain_response
    first: T04 Determine confirmation of receipt
    then: T05 Print and send confirmation of receipt
"""
REAL_MAPS = {"receipt": RECEIPT_MAP, "helpdesk": HELPDESK_MAP}
PM4PY_TEMPLATE = {"existence": "existence", "absence": "absence", "response": "response",
                  "precedence": "precedence", "chain_response": "chainresponse"}  # fmt: skip


@pytest.fixture(scope="module")
def real_log(
    shared_file: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str], tuple[Workspace, Any]]]:
    """``real_log(name)``: (workspace with the log ingested, built and its map written, pm4py's log)."""
    import pm4py

    cache: dict[str, tuple[Workspace, Any]] = {}

    def load(name: str) -> tuple[Workspace, Any]:
        if name not in cache:
            source = shared_file(f"process-logs/{name}.xes.gz")
            ws = Workspace.init(tmp_path_factory.mktemp(name) / "ws")
            ws.ingest(paths=[str(source)], channel="other")
            ws.build()
            (ws.root / "maps" / f"{name}.yaml").write_text(REAL_MAPS[name], encoding="utf-8")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                log = pm4py.convert_to_event_log(pm4py.read_xes(str(source), show_progress_bar=False))
            cache[name] = (ws, log)
        return cache[name]

    yield load
    for ws, _ in cache.values():
        ws.close()


def _case_verdicts(
    ws: Workspace, result: Any
) -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    return (
        {case: rows[0] for case, rows in _by_case(ws, result.verdicts()).items()},
        _by_case(ws, result.deviation_records()),
    )


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["receipt", "helpdesk"])
def test_rule_verdicts_equal_pm4py_declare(
    real_log: Callable[[str], tuple[Workspace, Any]], name: str
) -> None:
    import pm4py

    ws, log = real_log(name)
    started = time.perf_counter()
    result = ws.map_check(name)
    took = time.perf_counter() - started
    jm = JourneyMap.model_validate(yaml.safe_load(REAL_MAPS[name]))
    broken_by_case: dict[str, set[int]] = {}
    cases = {
        r["journey_id"]: r["case_id"]
        for r in ws.store.execute(ws.store.backend.table("journeys")).to_pylist()
    }
    rule_table = ws.store.execute(broken_rules(jm, *_rule_inputs(ws, jm))).to_pylist()
    for row in rule_table:
        broken_by_case.setdefault(cases[row["journey_id"]], set()).add(int(row["rule"]))
    support = {"support": 1.0, "confidence": 1.0}
    model: dict[str, dict[Any, dict[str, float]]] = {}
    index: dict[tuple[str, Any], int] = {}
    for j, rule in enumerate(jm.rules, start=1):
        names = rule.names()
        key: Any = names["activity"] if "activity" in names else (names["first"], names["then"])
        model.setdefault(PM4PY_TEMPLATE[rule.rule], {})[key] = support
        index[(PM4PY_TEMPLATE[rule.rule], key)] = j
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        verdicts = pm4py.conformance_declare(log, model)  # one pass, all rules
    assert len(verdicts) == len(log) == len(cases)
    oracle = {
        trace.attributes["concept:name"]: {index[(template, _key(k))] for template, k in v["deviations"]}
        for trace, v in zip(log, verdicts, strict=True)
    }
    mine = {case: broken_by_case.get(case, set()) for case in oracle}
    assert mine == oracle, [(c, mine[c], oracle[c]) for c in oracle if mine[c] != oracle[c]][:5]
    for j, rule in enumerate(jm.rules, start=1):
        assert any(j in v for v in oracle.values()), f"{rule} is never broken: a weak oracle"
    agreed = len(oracle) * len(jm.rules)
    # The per-journey table counts the same rules.
    verdicts_by_case, _ = _case_verdicts(ws, result)
    assert all(
        verdicts_by_case[c]["rules_broken"] == len(broken_by_case.get(c, ())) for c in verdicts_by_case
    )
    print(f"{name}: {agreed} trace x rule verdicts equal pm4py's; map check took {took:.2f} s")


def _key(k: Any) -> Any:
    return tuple(k) if isinstance(k, (list, tuple)) else k


def _rule_inputs(ws: Workspace, jm: JourneyMap) -> tuple[Any, Any]:
    import ibis

    from journeylens.maps.conformance import GROUP, staged_events

    journeys = ws.store.backend.table("journeys").mutate(**{GROUP: ibis.literal("all")})
    return journeys, staged_events(ws.store, jm, journeys)


def _tree(jm: JourneyMap) -> str:
    """The map's stage sequence as a pm4py process tree: stages in order, each repeatable, optional
    ones skippable."""

    def stage(s: Any) -> str:
        loop = f"*('{s.name}', tau)"
        return loop if s.required else f"X(tau, {loop})"

    return "->(" + ", ".join(stage(s) for s in jm.stages) + ")"


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["receipt", "helpdesk"])
def test_stage_sequence_conformance_equals_alignment_fitness(
    real_log: Callable[[str], tuple[Workspace, Any]], name: str
) -> None:
    """Every trace (no sampling): its events projected on their stage (unplanned touchpoints left
    out, other touchpoints kept as themselves, which no model transition can replay)."""
    import pm4py
    from pm4py.objects.log.obj import Event, EventLog, Trace
    from pm4py.objects.process_tree.utils.generic import parse

    ws, log = real_log(name)
    jm = JourneyMap.model_validate(yaml.safe_load(REAL_MAPS[name]))
    stage_of = {tp: s.name for s in jm.stages for tp in s.touchpoints}
    unplanned = {tp for u in jm.unplanned for tp in u.touchpoints}
    projected = EventLog()
    for trace in log:
        kept = Trace(attributes=dict(trace.attributes))
        for event in trace:
            if event["concept:name"] not in unplanned:
                kept.append(
                    Event({"concept:name": stage_of.get(event["concept:name"], event["concept:name"])})
                )
        projected.append(kept)
    net, im, fm = pm4py.convert_to_petri_net(parse(_tree(jm)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        aligned = pm4py.conformance_diagnostics_alignments(
            projected, net, im, fm, return_diagnostics_dataframe=False
        )
    oracle = {
        t.attributes["concept:name"]: a["fitness"] == 1.0 for t, a in zip(projected, aligned, strict=True)
    }
    verdicts, deviations = _case_verdicts(ws, ws.map_check(name))
    sequence = {"ad_hoc_touchpoint", "sequence_irregularity", "missing_touchpoint"}
    mine = {case: not any(d["kind"] in sequence for d in deviations.get(case, [])) for case in verdicts}
    assert mine == oracle, [c for c in oracle if mine[c] != oracle[c]][:5]
    assert 0 < sum(oracle.values()) < len(oracle), "both fitting and unfitting traces, or the oracle is weak"
    print(f"{name}: {len(oracle)} traces, {sum(oracle.values())} fit the stage sequence in both")
