"""Paths after / before / between touchpoints: stories, totals that reconcile, a plain-Python reference.

The reference walks each journey as a Python list, exactly as the module docs say; hypothesis
draws random logs (rows shuffled, so no reliance on order) and random specs, and the Ibis
result must equal the reference link for link. A seeded random world goes through the whole
chain (ingest, journeys, selection) once, for every anchor and mode.
"""

from __future__ import annotations

import datetime as _dt
import json
import random
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import ibis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import journeylens as jl
from conftest import STORY_START, write_csv
from journeylens.discovery import ActivityKey, EmptySelectionError, JourneyFilter
from journeylens.discovery.paths import UnknownActivityError, paths, paths_from_log
from journeylens.identity import stitch
from journeylens.journeys import build_journeys
from journeylens.specs.discovery import MAX_STEPS, PathMode, PathsSpec

DROP, START, OTHER = "drop-off", "journey-start", "other"
Node = tuple[str, str]  # (label, kind)


# --- the plain-Python reference ------------------------------------------------------------------


def _walk(seq: list[str], spec: PathsSpec) -> list[Node] | None:
    """Positions 0..steps away from the anchor, or None for a journey without the anchor."""
    n, mode = spec.steps, spec.mode
    act = [(a, "activity") for a in seq]
    if mode is PathMode.journey_start:
        walk = [(START, START), *act[:n]]
        return walk + [(DROP, DROP)] * (n + 1 - len(walk))
    anchor = spec.end if mode is PathMode.before else spec.start
    if anchor not in seq:
        return None
    i = seq.index(anchor)
    if mode is PathMode.after:
        walk = act[i : i + n + 1]
        return walk + [(DROP, DROP)] * (n + 1 - len(walk))
    if mode is PathMode.before:
        walk = act[max(0, i - n) : i + 1][::-1]
        return walk + [(START, START)] * (n + 1 - len(walk))
    ends = [k for k in range(i + 1, len(seq)) if seq[k] == spec.end]
    if not ends:
        return [act[i]] + [(DROP, DROP)] * n
    walk = act[i : ends[0] + 1][: n + 1]
    return walk + [(str(spec.end), "reached")] * (n + 1 - len(walk))


def reference(seqs: dict[str, list[str]], spec: PathsSpec) -> tuple[Counter[tuple[Any, ...]], int, int]:
    """(links, selected, anchored) with links keyed like the result's records."""
    walks = [w for w in (_walk(s, spec) for s in seqs.values()) if w is not None]
    counts: Counter[tuple[int, str]] = Counter()
    for walk in walks:
        for pos, (label, kind) in enumerate(walk):
            exempt = spec.mode is PathMode.between and label == spec.end
            if pos >= 1 and kind == "activity" and not exempt:
                counts[(pos, label)] += 1
    ranked: dict[int, list[str]] = {}
    for (pos, label), _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0][1])):
        ranked.setdefault(pos, []).append(label)
    kept = {(pos, label) for pos, labels in ranked.items() for label in labels[: spec.top]}

    def shown(pos: int, node: Node) -> Node:
        label, kind = node
        keep = pos == 0 or kind != "activity" or (pos, label) in kept
        keep = keep or (spec.mode is PathMode.between and label == spec.end)
        return node if keep else (OTHER, OTHER)

    links: Counter[tuple[Any, ...]] = Counter()
    for walk in walks:
        nodes = [shown(p, node) for p, node in enumerate(walk)]
        for pos in range(1, spec.steps + 1):
            near, far = nodes[pos - 1], nodes[pos]
            buckets = (DROP, START, "reached")
            carried = far[1] == "reached" or (far[1] in buckets and far[1] == near[1])
            if spec.mode is PathMode.before:
                step, source, target = spec.steps - pos + 1, far, near
            else:
                step, source, target = pos, near, far
            links[(step, source[0], target[0], source[1], target[1], carried)] += 1
    return links, len(seqs), len(walks)


def as_counter(result: Any) -> Counter[tuple[Any, ...]]:
    return Counter(
        {
            (r["step_index"], r["source"], r["target"], r["source_kind"], r["target_kind"], r["carried"]): r[
                "count"
            ]
            for r in result.records()
        }
    )


def assert_reconciles(result: Any) -> None:
    totals = result.step_totals()
    if result.anchored_journeys:
        assert totals == dict.fromkeys(range(1, result.spec.steps + 1), result.anchored_journeys)
    else:
        assert totals == {}
    assert result.journeys_without_anchor == result.selected_journeys - result.anchored_journeys
    for link in result.records():
        assert link["count"] > 0


# --- hypothesis on random logs ---------------------------------------------------------------------

ALPHABET = ["a", "b", "c", "d", "other"]  # 'other' as a real activity must not merge with the bucket


@pytest.fixture(scope="module")
def duck() -> Iterator[Callable[[Any], Any]]:
    con = ibis.duckdb.connect()
    yield con.to_pyarrow
    con.disconnect()


logs = st.dictionaries(
    st.text("jkl", min_size=1, max_size=3),
    st.lists(st.sampled_from(ALPHABET), min_size=1, max_size=8),
    min_size=1,
    max_size=10,
)
anchors = st.sampled_from([None, *ALPHABET, "zz"])


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(logs, anchors, anchors, st.integers(1, 6), st.integers(1, 4), st.randoms(use_true_random=False))
def test_paths_equal_the_reference_and_every_step_sums_to_the_anchored_journeys(
    duck: Callable[[Any], Any],
    seqs: dict[str, list[str]],
    start: str | None,
    end: str | None,
    steps: int,
    top: int,
    rnd: random.Random,
) -> None:
    if start is not None and start == end:
        start = None
    spec = PathsSpec(start=start, end=end, steps=steps, top=top)
    rows = [(j, i + 1, a) for j, seq in seqs.items() for i, a in enumerate(seq)]
    rnd.shuffle(rows)
    log = ibis.memtable(
        {"journey_id": [r[0] for r in rows], "step": [r[1] for r in rows], "activity": [r[2] for r in rows]}
    )
    result = paths_from_log(log, spec, duck)
    links, selected, anchored = reference(seqs, spec)
    assert (result.selected_journeys, result.anchored_journeys) == (selected, anchored)
    assert as_counter(result) == links
    assert_reconciles(result)
    if spec.mode is PathMode.between:
        reached = sum(
            1
            for s in seqs.values()
            if start in s and end in s[s.index(start) + 1 :]  # the funnel's second step, no window
        )
        assert result.reached_end == reached


# --- stories through the whole chain ----------------------------------------------------------------


def _events(case: str, user: str, steps: list[tuple[str, str]], start: _dt.datetime) -> list[dict[str, Any]]:
    return [
        {
            "user_id": user,
            "case_id": case,
            "timestamp": (start + _dt.timedelta(minutes=5 * i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "channel": channel,
            "touchpoint": tp,
            **({"agent_id": "a1"} if channel == "call_center" else {}),
        }
        for i, (channel, tp) in enumerate(steps)
    ]


STORIES: dict[str, list[tuple[str, str]]] = {
    "T1": [("web", "billing_faq"), ("web", "my_invoices"), ("call_center", "billing_call")],
    "T2": [("web", "billing_faq"), ("call_center", "billing_call"), ("sms", "ticket_resolved")],
    "T3": [("app", "my_invoices"), ("app", "billing_faq")],
    "T4": [("app", "search"), ("app", "product_page"), ("web", "product_page"), ("web", "add_to_cart")],
    "T5": [("web", "billing_faq"), ("web", "billing_faq"), ("call_center", "billing_call")],
}
TOUCHPOINTS = ["billing_faq", "my_invoices", "billing_call", "ticket_resolved", "search", "product_page"]
CHANNELS = ["web", "app", "call_center"]


def _random_world(rnd: random.Random, cases: int) -> dict[str, list[tuple[str, str]]]:
    return {
        f"R{k:02d}": [(rnd.choice(CHANNELS), rnd.choice(TOUCHPOINTS)) for _ in range(rnd.randint(1, 7))]
        for k in range(cases)
    }


WORLD = {**STORIES, **_random_world(random.Random(20240115), 45)}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[jl.Workspace]:
    """Every story and random case is one journey (a case is a journey), a day apart."""
    tmp = tmp_path_factory.mktemp("paths")
    rows = [
        row
        for k, (case, steps) in enumerate(WORLD.items())
        for row in _events(case, f"u{k % 17}", steps, STORY_START + _dt.timedelta(days=k))
    ]
    ws = jl.Workspace.init(tmp / "ws")
    ws.ingest(paths=[str(write_csv(tmp, "events.csv", rows))])
    stitch(ws.store, ws.config.identity)
    build_journeys(ws.store, ws.config.journeys)
    yield ws
    ws.close()


def _seqs(key: ActivityKey = ActivityKey.touchpoint, cases: list[str] | None = None) -> dict[str, list[str]]:
    def label(channel: str, tp: str) -> str:
        return {ActivityKey.channel: channel, ActivityKey.channel_touchpoint: f"{channel}:{tp}"}.get(key, tp)

    return {c: [label(*step) for step in WORLD[c]] for c in cases or WORLD}


def test_world_has_one_journey_per_case(world: jl.Workspace) -> None:
    assert world.store.count("events") == sum(len(s) for s in WORLD.values())
    assert int(world.store.execute(world.store.backend.table("journeys").count()).as_py()) == len(WORLD)


def test_paths_after_billing_faq_story(world: jl.Workspace) -> None:
    spec = PathsSpec(start="billing_faq", steps=2, filter=JourneyFilter(journey_type=["support"]))
    result = paths(world.store, spec)
    expected_seqs = {c: s for c, s in _seqs().items() if "billing_faq" in s}
    assert result.anchored_journeys == len(expected_seqs)
    assert_reconciles(result)
    links = {(r["step_index"], r["source"], r["target"]): r["count"] for r in result.records()}
    # T3 ends on billing_faq: it drops off at once, and stays there (carried) at step 2.
    assert links[(1, "billing_faq", "drop-off")] >= 1
    assert links[(2, "drop-off", "drop-off")] >= links[(1, "billing_faq", "drop-off")]
    # T5 repeats the anchor: only its first occurrence anchors, the second is an ordinary step.
    assert links[(1, "billing_faq", "billing_faq")] >= 1
    figure = result.plot()
    sankey = figure.data[0]
    assert sankey.type == "sankey"
    assert sum(sankey.link.value) == sum(r["count"] for r in result.records() if not r["carried"])


def test_paths_for_every_anchor_and_mode_match_the_reference(world: jl.Workspace) -> None:
    seqs = _seqs()
    specs = [PathsSpec(steps=3, top=3), PathsSpec(steps=MAX_STEPS, top=100)]
    for tp in TOUCHPOINTS:
        specs += [PathsSpec(start=tp, steps=3, top=2), PathsSpec(end=tp, steps=4, top=3)]
    pairs = [("billing_faq", "billing_call"), ("billing_call", "billing_faq"), ("search", "product_page")]
    specs += [PathsSpec(start=a, end=b, steps=3, top=2) for a, b in pairs]
    for spec in specs:
        result = paths(world.store, spec)
        links, selected, anchored = reference(seqs, spec)
        assert (result.selected_journeys, result.anchored_journeys) == (selected, anchored), spec
        assert as_counter(result) == links, spec
        assert_reconciles(result)


def test_no_anchor_starts_every_selected_journey(world: jl.Workspace) -> None:
    result = paths(world.store, PathsSpec(steps=2))
    first = [r for r in result.records() if r["step_index"] == 1]
    assert {r["source"] for r in first} == {"journey-start"}
    assert sum(r["count"] for r in first) == len(WORLD) == result.selected_journeys
    assert result.journeys_without_anchor == 0


def test_anchored_journeys_equal_the_journeys_that_contain_it_under_a_filter(world: jl.Workspace) -> None:
    # The funnel's step-1 count for the same filter: journeys that used the channel and contain it.
    flt = JourneyFilter(channel=["call_center"])
    used = [c for c, steps in WORLD.items() if any(ch == "call_center" for ch, _ in steps)]
    for tp in TOUCHPOINTS:
        result = paths(world.store, PathsSpec(start=tp, filter=flt))
        assert result.selected_journeys == len(used)
        assert result.anchored_journeys == sum(tp in _seqs(cases=used)[c] for c in used)
        links, _, _ = reference(_seqs(cases=used), PathsSpec(start=tp))
        assert as_counter(result) == links


def test_between_sends_journeys_that_never_reach_the_end_to_drop_off(world: jl.Workspace) -> None:
    spec = PathsSpec(start="billing_faq", end="billing_call", steps=3)
    result = paths(world.store, spec)
    seqs = _seqs()
    reached = sum(
        1 for s in seqs.values() if "billing_faq" in s and "billing_call" in s[s.index("billing_faq") + 1 :]
    )
    assert result.reached_end == reached
    assert result.totals()["end_not_reached"] == result.anchored_journeys - reached
    step1 = {(r["source"], r["target"]): r["count"] for r in result.records() if r["step_index"] == 1}
    assert step1[("billing_faq", "drop-off")] == result.anchored_journeys - reached
    # T1: billing_faq -> my_invoices -> billing_call, then stays 'reached' at step 3.
    last = [r for r in result.records() if r["step_index"] == 3 and r["target_kind"] == "reached"]
    assert last and all(r["target"] == "billing_call" and r["carried"] for r in last)
    assert_reconciles(result)


def test_before_paths_run_into_the_anchor_from_the_journey_start(world: jl.Workspace) -> None:
    result = paths(world.store, PathsSpec(end="billing_call", steps=3))
    nodes = result.nodes()
    assert {n["depth"] for n in nodes} == {-3, -2, -1, 0}
    assert [n for n in nodes if n["depth"] == 0] == [
        {"depth": 0, "label": "billing_call", "kind": "activity", "count": result.anchored_journeys}
    ]
    for depth in (-3, -2, -1):
        assert sum(n["count"] for n in nodes if n["depth"] == depth) == result.anchored_journeys


def test_channel_touchpoint_key_and_other_bucket(world: jl.Workspace) -> None:
    spec = PathsSpec(start="web:billing_faq", steps=2, top=1, key=ActivityKey.channel_touchpoint)
    result = paths(world.store, spec)
    links, _, anchored = reference(_seqs(ActivityKey.channel_touchpoint), spec)
    assert result.anchored_journeys == anchored and as_counter(result) == links
    per_step = Counter(r["step_index"] for r in result.records() if r["target_kind"] == "activity")
    assert all(n <= 1 for n in per_step.values())  # top 1: one named activity per depth
    assert any(r["target"] == "other" for r in result.records())


# --- bad input ---------------------------------------------------------------------------------------


def test_unknown_touchpoint_names_close_matches(world: jl.Workspace) -> None:
    with pytest.raises(UnknownActivityError) as err:
        paths(world.store, PathsSpec(start="biling_faq"))
    assert "'billing_faq'" in err.value.message and err.value.hint
    with pytest.raises(UnknownActivityError) as err:
        paths(world.store, PathsSpec(end="billing_faq", key=ActivityKey.channel_touchpoint))
    assert "'web:billing_faq'" in err.value.message and "channel:touchpoint" in str(err.value.hint)


def test_empty_selection_is_a_clear_error(world: jl.Workspace) -> None:
    with pytest.raises(EmptySelectionError, match="No journeys match"):
        paths(world.store, PathsSpec(start="billing_faq", filter=JourneyFilter(journey_type=["nope"])))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"steps": 0}, "between 1 and 20"),
        ({"steps": MAX_STEPS + 1}, "use variants"),
        ({"top": 0}, "top must be"),
        ({"start": "billing_faq", "end": "billing_faq"}, "between a touchpoint and itself"),
    ],
)
def test_bad_specs_say_why(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        PathsSpec(**fields)


# --- command line ------------------------------------------------------------------------------------


def test_cli_json_reconciles(world: jl.Workspace, run_cli: Callable[..., Any]) -> None:
    args = ["paths", "--start", "billing_faq", "--steps", "3", "--top", "2", "-f", "json"]
    result = run_cli([*args, "--type", "support", "-w", world.root])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["spec"]["start"] == "billing_faq" and data["spec"]["filter"]["journey_type"] == ["support"]
    anchored = data["totals"]["anchored_journeys"]
    assert anchored > 0
    for step in (1, 2, 3):
        assert sum(link["count"] for link in data["links"] if link["step_index"] == step) == anchored
    assert {"step_index", "source", "target", "count"} <= set(data["links"][0])
    assert sum(n["count"] for n in data["nodes"] if n["depth"] == 0) == anchored

    csv_out = run_cli(["paths", "--end", "billing_call", "-f", "csv", "-w", world.root])
    assert csv_out.exit_code == 0 and csv_out.stdout.startswith("step_index,source,target,count")


def test_cli_rejects_bad_input(
    world: jl.Workspace, run_cli: Callable[..., Any], run_journeylens: Any
) -> None:
    unknown = run_cli(["paths", "--start", "biling_faq", "-w", world.root])
    assert isinstance(unknown.exception, UnknownActivityError)
    same = run_cli(["paths", "--start", "home", "--end", "home", "-w", world.root])
    assert "itself" in str(same.exception)
    done = run_journeylens(["paths", "--steps", "50", "-w", world.root])
    assert done.returncode == 2
    assert "Option --steps '50': steps must be between 1 and 20, got 50" in done.stderr
    assert "Hint:" in done.stderr


def test_result_views(world: jl.Workspace) -> None:
    result = paths(world.store, PathsSpec(start="billing_faq", steps=2))
    frame = result.to_pandas()
    assert list(frame.columns) == [
        "step_index",
        "source",
        "target",
        "count",
        "source_kind",
        "target_kind",
        "carried",
    ]
    assert "anchored_journeys" in result._repr_html_()
    assert set(result.to_dict()) == {"spec", "totals", "links", "nodes"}
