"""Process map (DFG), variants and XES export on story journeys, the CLI contract, a property test
against a plain-Python reference, and DuckDB/PySpark parity.

The main story (journey types declared here, so the test does not depend on the defaults):

    ann  support   success   billing_faq -> my_invoices -> billing_call -> ticket_resolved  (10 min gaps)
    bob  support   abandoned billing_faq -> my_invoices -> billing_chat                     (4 min)
    cat  purchase  success   home -> product_page -> add_to_cart -> order_confirmation      (2 min)
    dan  purchase  failed    home -> product_page -> payment_error   (app, 40 days later)   (3 min)
    eve  purchase  success   home -> product_page -> add_to_cart -> order_confirmation      (6 min)
"""

from __future__ import annotations

import datetime as _dt
import itertools
import json
import math
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import journeylens as jl
from conftest import customer, write_csv
from journeylens.discovery import ActivityKey, EmptySelectionError, JourneyFilter
from journeylens.discovery.dfg import MapSpec, ProcessMap, process_map
from journeylens.discovery.variants import Variants, VariantSpec, variants
from journeylens.discovery.xes_export import export_xes
from journeylens.errors import InputError
from journeylens.identity import stitch
from journeylens.journeys import build_journeys
from journeylens.journeys.definitions import Criteria, JourneyRules, JourneyType
from journeylens.journeys.summary import wilson
from journeylens.store import Store

DAY0 = _dt.datetime(2024, 3, 4, 9, 0, tzinfo=_dt.UTC)
RULES = JourneyRules(
    types={
        "support": JourneyType(
            priority=1,
            start=Criteria(touchpoints=["billing_faq"]),
            success=Criteria(touchpoints=["ticket_resolved"]),
        ),
        "purchase": JourneyType(
            priority=2,
            start=Criteria(touchpoints=["home"]),
            success=Criteria(touchpoints=["order_confirmation"]),
            failure=Criteria(touchpoints=["payment_error"]),
        ),
    }
)
PURCHASE = ["home", "product_page", "add_to_cart", "order_confirmation"]


def day(n: float) -> _dt.datetime:
    return DAY0 + _dt.timedelta(days=n)


def story_rows() -> list[dict[str, Any]]:
    return [
        *customer(
            "ann",
            [
                ("web", "billing_faq"),
                ("web", "my_invoices"),
                ("call_center", "billing_call", {"agent_id": "a1", "product": "loan"}),
                ("sms", "ticket_resolved"),
            ],
            start=day(0),
            gap_minutes=10,
        ),
        *customer(
            "bob",
            [("web", "billing_faq"), ("web", "my_invoices"), ("chat", "billing_chat", {"agent_id": "a2"})],
            start=day(1),
            gap_minutes=4,
        ),
        *customer("cat", [("web", tp) for tp in PURCHASE], start=day(2), gap_minutes=2),
        *customer(
            "dan",
            [("app", "home"), ("app", "product_page"), ("app", "payment_error")],
            start=day(40),
            gap_minutes=3,
        ),
        *customer("eve", [("web", tp) for tp in PURCHASE], start=day(41), gap_minutes=6),
    ]


def build(folder: Path, rows: Sequence[dict[str, Any]], rules: JourneyRules | None = None) -> jl.Workspace:
    folder.mkdir(parents=True, exist_ok=True)
    ws = jl.Workspace.init(folder / "ws")
    ws.ingest(paths=[str(write_csv(folder, "events.csv", rows))])
    traits = [{"user_id": "ann", "segment": "loyal"}, {"user_id": "cat", "segment": "loyal"}]
    traits.append({"user_id": "dan", "segment": "first-time"})
    ws.ingest(paths=[str(write_csv(folder, "customers.csv", traits))], table="customers")
    stitch(ws.store, ws.config.identity)
    build_journeys(ws.store, rules or ws.config.journeys)
    return ws


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[jl.Workspace]:
    ws = build(tmp_path_factory.mktemp("story"), story_rows(), RULES)
    journeys = ws.store.execute(ws.store.backend.table("journeys")).to_pylist()
    # The premise of every expectation below: five journeys with these types and outcomes.
    assert sorted((j["journey_type"], j["outcome"]) for j in journeys) == [
        ("purchase", "failed"), ("purchase", "success"), ("purchase", "success"),
        ("support", "abandoned"), ("support", "success"),
    ]  # fmt: skip
    yield ws
    ws.close()


def edges_of(pm: ProcessMap) -> dict[tuple[str, str], int]:
    return {(e["source"], e["target"]): e["count"] for e in pm.records()}


def endpoints(table: pa.Table) -> dict[str, int]:
    return {r["activity"]: r["count"] for r in table.to_pylist()}


# --- the process map ------------------------------------------------------------------------------

STORY_EDGES = {
    ("home", "product_page"): 3,
    ("product_page", "add_to_cart"): 2,
    ("add_to_cart", "order_confirmation"): 2,
    ("billing_faq", "my_invoices"): 2,
    ("my_invoices", "billing_call"): 1,
    ("my_invoices", "billing_chat"): 1,
    ("billing_call", "ticket_resolved"): 1,
    ("product_page", "payment_error"): 1,
}


def test_story_map_nodes_edges_and_endpoints(story: jl.Workspace) -> None:
    pm = process_map(story.store)
    assert edges_of(pm) == STORY_EDGES
    assert endpoints(pm.start_activities) == {"home": 3, "billing_faq": 2}
    assert endpoints(pm.end_activities) == {
        "order_confirmation": 2, "ticket_resolved": 1, "billing_chat": 1, "payment_error": 1,
    }  # fmt: skip
    nodes = {n["activity"]: n for n in pm.nodes.to_pylist()}
    assert (nodes["product_page"]["events"], nodes["product_page"]["journeys"]) == (3, 3)
    assert (nodes["home"]["starts"], nodes["home"]["ends"]) == (3, 0)
    assert nodes["order_confirmation"]["ends"] == 2
    assert pm.totals == {
        "journeys": 5, "events": 18, "activities": 10, "edges": 8, "transitions": 13,
        "shown_activities": 10, "shown_edges": 8,
    }  # fmt: skip
    # Most frequent first, ties by name: a stable order for tables and JSON.
    assert [(e["source"], e["target"]) for e in pm.records()][:4] == [
        ("home", "product_page"),
        ("add_to_cart", "order_confirmation"),
        ("billing_faq", "my_invoices"),
        ("product_page", "add_to_cart"),
    ]


def test_transition_times_median_mean_p90(story: jl.Workspace) -> None:
    edges = {(e["source"], e["target"]): e for e in process_map(story.store).records()}
    # home -> product_page: cat 2 min, dan 3 min, eve 6 min.
    hp = edges[("home", "product_page")]
    assert (hp["median_s"], hp["mean_s"], hp["p90_s"], hp["journeys"]) == (180.0, 220.0, 324.0, 3)
    # billing_faq -> my_invoices: ann 10 min, bob 4 min; p90 interpolates like numpy.
    bm = edges[("billing_faq", "my_invoices")]
    assert (bm["median_s"], bm["mean_s"], bm["p90_s"]) == (420.0, 420.0, 564.0)
    assert edges[("my_invoices", "billing_call")]["median_s"] == 600.0


def test_a_loop_counts_every_transition_but_each_journey_once(tmp_path: Path) -> None:
    rows = customer("ann", [("web", "home"), ("web", "faq"), ("web", "home"), ("web", "faq")])
    rows += customer("bob", [("web", "home"), ("web", "faq")])
    pm = process_map(build(tmp_path, rows).store)
    edges = {(e["source"], e["target"]): e for e in pm.records()}
    assert (edges[("home", "faq")]["count"], edges[("home", "faq")]["journeys"]) == (3, 2)
    assert edges[("faq", "home")]["count"] == 1
    nodes = {n["activity"]: n for n in pm.nodes.to_pylist()}
    assert (nodes["home"]["events"], nodes["home"]["journeys"]) == (3, 2)


@pytest.mark.parametrize(
    ("spec", "shown_edges", "shown_nodes"),
    [
        (MapSpec(min_edge_count=2), 4, 10),
        (MapSpec(min_edge_count=3), 1, 10),
        (MapSpec(max_edges=2), 2, 10),
        # 'home' and 'product_page' have 3 events; the rest fewer.
        (MapSpec(min_node_events=3), 1, 2),
        # Top 4 by events, ties by name: home, product_page, add_to_cart, billing_faq.
        (MapSpec(max_nodes=4), 2, 4),
    ],
)
def test_thresholds_hide_but_never_recount(
    story: jl.Workspace, spec: MapSpec, shown_edges: int, shown_nodes: int
) -> None:
    pm = process_map(story.store, spec)
    assert (len(pm.records()), pm.nodes.num_rows) == (shown_edges, shown_nodes)
    assert pm.totals["edges"] == 8 and pm.totals["activities"] == 10 and pm.totals["journeys"] == 5
    shown = set(pm.nodes.column("activity").to_pylist())
    for edge in pm.records():
        assert edge["source"] in shown and edge["target"] in shown
        assert edge["count"] == STORY_EDGES[(edge["source"], edge["target"])]
    assert set(endpoints(pm.start_activities)) <= shown and set(endpoints(pm.end_activities)) <= shown


def test_max_nodes_keeps_the_most_frequent(story: jl.Workspace) -> None:
    pm = process_map(story.store, MapSpec(max_nodes=4))
    assert pm.nodes.column("activity").to_pylist() == ["home", "product_page", "add_to_cart", "billing_faq"]
    assert edges_of(pm) == {("home", "product_page"): 3, ("product_page", "add_to_cart"): 2}
    assert endpoints(pm.start_activities) == {"home": 3, "billing_faq": 2}
    assert endpoints(pm.end_activities) == {}


@pytest.mark.parametrize(
    ("flt", "users"),
    [
        (JourneyFilter(journey_type=["support"]), {"ann", "bob"}),
        (JourneyFilter(outcome=["success"]), {"ann", "cat", "eve"}),
        (JourneyFilter(outcome=["failed", "abandoned"]), {"bob", "dan"}),
        (JourneyFilter(channel=["app"]), {"dan"}),
        (JourneyFilter(channel=["chat", "call_center"]), {"ann", "bob"}),
        (JourneyFilter(segment=["loyal"]), {"ann", "cat"}),
        (JourneyFilter(segment=["(unknown)"]), {"bob", "eve"}),
        (JourneyFilter(since=day(30)), {"dan", "eve"}),
        (JourneyFilter(until=day(2)), {"ann", "bob"}),
        (JourneyFilter(properties={"product": "loan"}), {"ann"}),
        (JourneyFilter(journey_type=["purchase"], outcome=["success"], since=day(30)), {"eve"}),
    ],
)
def test_filters_select_whole_journeys(story: jl.Workspace, flt: JourneyFilter, users: set[str]) -> None:
    pm = process_map(story.store, MapSpec(filter=flt))
    expected = _reference_map([STORY_SEQUENCES[u] for u in sorted(users)])
    assert edges_of(pm) == expected.edges
    assert endpoints(pm.start_activities) == expected.starts
    assert endpoints(pm.end_activities) == expected.ends
    assert pm.totals["journeys"] == len(users)
    top = variants(story.store, VariantSpec(filter=flt, coverage=1.0))
    assert Counter({tuple(r["steps"]): r["count"] for r in top.records()}) == Counter(
        tuple(STORY_SEQUENCES[u]) for u in users
    )


STORY_SEQUENCES = {
    "ann": ["billing_faq", "my_invoices", "billing_call", "ticket_resolved"],
    "bob": ["billing_faq", "my_invoices", "billing_chat"],
    "cat": PURCHASE,
    "dan": ["home", "product_page", "payment_error"],
    "eve": PURCHASE,
}


def test_channel_keys(story: jl.Workspace) -> None:
    pm = process_map(story.store, MapSpec(key=ActivityKey.channel))
    assert edges_of(pm) == {
        ("web", "web"): 8, ("web", "call_center"): 1, ("call_center", "sms"): 1,
        ("web", "chat"): 1, ("app", "app"): 2,
    }  # fmt: skip
    assert endpoints(pm.start_activities) == {"web": 4, "app": 1}
    both = process_map(story.store, MapSpec(key=ActivityKey.channel_touchpoint))
    assert edges_of(both)[("web:my_invoices", "call_center:billing_call")] == 1
    assert edges_of(both)[("app:home", "app:product_page")] == 1


# --- ties and lifecycle -------------------------------------------------------------------------

AT = "2024-05-06T10:00:00Z"


@pytest.fixture(scope="module")
def extras(tmp_path_factory: pytest.TempPathFactory) -> Iterator[jl.Workspace]:
    """fay: a lifecycle story; gus and hal: events with equal timestamps (file order decides)."""
    rows = [
        {"user_id": "fay", "timestamp": "2024-05-06T09:00:00Z", "touchpoint": "review",
         "lifecycle:transition": "start"},
        {"user_id": "fay", "timestamp": "2024-05-06T09:05:00Z", "touchpoint": "review",
         "lifecycle:transition": "complete"},
        {"user_id": "fay", "timestamp": "2024-05-06T09:10:00Z", "touchpoint": "note"},
        {"user_id": "gus", "timestamp": AT, "touchpoint": "x"},
        {"user_id": "gus", "timestamp": AT, "touchpoint": "y"},
        {"user_id": "gus", "timestamp": AT, "touchpoint": "z"},
        {"user_id": "hal", "timestamp": AT, "touchpoint": "z"},
        {"user_id": "hal", "timestamp": AT, "touchpoint": "y"},
    ]  # fmt: skip
    for row in rows:
        row["channel"] = "web"
    ws = build(tmp_path_factory.mktemp("extras"), rows)
    yield ws
    ws.close()


def test_equal_timestamps_keep_file_order(extras: jl.Workspace) -> None:
    pm = process_map(extras.store)
    edges = edges_of(pm)
    assert edges[("x", "y")] == 1 and edges[("y", "z")] == 1 and edges[("z", "y")] == 1
    assert ("y", "x") not in edges
    assert {(e["source"], e["target"]): e["median_s"] for e in pm.records()}[("x", "y")] == 0.0
    steps = {tuple(r["steps"]) for r in variants(extras.store, VariantSpec(coverage=1.0)).records()}
    assert ("x", "y", "z") in steps and ("z", "y") in steps


def test_touchpoint_lifecycle_key_joins_like_pm4py(extras: jl.Workspace) -> None:
    pm = process_map(extras.store, MapSpec(key=ActivityKey.touchpoint_lifecycle))
    edges = edges_of(pm)
    # Events without a lifecycle keep their touchpoint (pm4py's classifier would need one).
    assert edges[("review+start", "review+complete")] == 1
    assert edges[("review+complete", "note")] == 1
    assert edges[("x", "y")] == 1


# --- variants -----------------------------------------------------------------------------------


def test_story_variants_counts_shares_coverage_ties(story: jl.Workspace) -> None:
    result = variants(story.store, VariantSpec(coverage=1.0))
    rows = result.records()
    assert [(r["rank"], r["steps"], r["count"]) for r in rows] == [
        (1, PURCHASE, 2),
        # Equal counts: ordered by the sequence ('billing_call' < 'billing_chat' < 'home').
        (2, STORY_SEQUENCES["ann"], 1),
        (3, STORY_SEQUENCES["bob"], 1),
        (4, STORY_SEQUENCES["dan"], 1),
    ]
    assert [r["share"] for r in rows] == pytest.approx([0.4, 0.2, 0.2, 0.2])
    assert [r["coverage"] for r in rows] == pytest.approx([0.4, 0.6, 0.8, 1.0])
    assert [r["length"] for r in rows] == [4, 4, 3, 3]
    # Durations first to last event: cat 6 min, eve 18 min -> median 12 min.
    assert [r["median_duration_s"] for r in rows] == [720.0, 1800.0, 480.0, 360.0]
    assert [(r["successes"], r["success_rate"]) for r in rows] == [(2, 1.0), (1, 1.0), (0, 0.0), (0, 0.0)]
    low, high = rows[0]["success_ci_low"], rows[0]["success_ci_high"]
    assert 0.3 < low < 0.4 and high == 1.0  # Wilson interval of 2/2
    for r in rows:  # computed in the engine, equal to the journeys summary's Python formula
        expected = wilson(r["successes"], r["count"])
        assert (r["success_ci_low"], r["success_ci_high"]) == pytest.approx(expected, abs=1e-12)
    assert result.totals == {"journeys": 5, "variants": 4, "shown": 4, "shown_journeys": 5, "coverage": 1.0}


@pytest.mark.parametrize(
    ("coverage", "limit", "ranks"),
    [(0.8, None, [1, 2, 3]), (0.5, None, [1, 2]), (0.4, None, [1]), (1.0, 2, [1, 2]), (0.8, 1, [1])],
)
def test_top_variants_covering_a_share(
    story: jl.Workspace, coverage: float, limit: int | None, ranks: list[int]
) -> None:
    # Shares 0.4, 0.2, 0.2, 0.2: the variant that reaches the share is kept, the next is not.
    result = variants(story.store, VariantSpec(coverage=coverage, limit=limit))
    assert [r["rank"] for r in result.records()] == ranks
    assert result.totals["variants"] == 4 and result.totals["journeys"] == 5


def test_variants_by_channel_key(story: jl.Workspace) -> None:
    rows = variants(story.store, VariantSpec(key=ActivityKey.channel, coverage=1.0)).records()
    assert (rows[0]["steps"], rows[0]["count"]) == (["web"] * 4, 2)
    assert {tuple(r["steps"]) for r in rows} == {
        ("web",) * 4, ("web", "web", "call_center", "sms"), ("web", "web", "chat"), ("app",) * 3,
    }  # fmt: skip


# --- empty selections, bad specs ----------------------------------------------------------------


def test_empty_selection_is_a_clear_error_everywhere(story: jl.Workspace, tmp_path: Path) -> None:
    flt = JourneyFilter(journey_type=["support"], channel=["app"])
    with pytest.raises(EmptySelectionError, match=r"No journeys match the filter \(journey_type="):
        process_map(story.store, MapSpec(filter=flt))
    with pytest.raises(EmptySelectionError):
        variants(story.store, VariantSpec(filter=flt))
    with pytest.raises(EmptySelectionError):
        export_xes(story.store, flt, tmp_path / "none.xes")
    assert list(tmp_path.iterdir()) == []  # no file, not even a partial one


@pytest.mark.parametrize(
    "fields", [{"min_edge_count": 0}, {"max_nodes": 0}, {"key": "page"}, {"colour": "red"}]
)
def test_map_spec_refuses_bad_values(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # pydantic's ValidationError is a ValueError
        MapSpec.model_validate(fields)


@pytest.mark.parametrize("fields", [{"coverage": 0}, {"coverage": 1.5}, {"limit": 0}])
def test_variant_spec_refuses_bad_values(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        VariantSpec.model_validate(fields)


# --- results: pandas, dict, plot, html ----------------------------------------------------------


def test_result_views(story: jl.Workspace) -> None:
    pm = process_map(story.store)
    assert list(pm.to_pandas().columns) == [
        "source",
        "target",
        "count",
        "journeys",
        "median_s",
        "mean_s",
        "p90_s",
    ]
    fig = pm.plot()
    labels = [t for trace in fig.data for t in (trace.text or [])]
    assert "home" in labels and "3 · 3.0 min" in labels and "▶ start" in labels
    assert "Process map" in pm._repr_html_()
    top = variants(story.store, VariantSpec(coverage=0.8))
    assert isinstance(top, Variants)
    bars = top.plot().data[0]
    assert list(bars.x) == [2, 1, 1] and bars.y[0].startswith("#1 home → product_page")
    assert top.to_pandas()["count"].tolist() == [2, 1, 1]


# --- CLI ----------------------------------------------------------------------------------------


def test_cli_dfg_json_contract(story: jl.Workspace, run_cli: Callable[..., Any]) -> None:
    result = run_cli(["dfg", "-w", story.root, "-f", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"nodes", "edges", "start_activities", "end_activities"} <= set(data)
    edge = data["edges"][0]
    assert edge == {"source": "home", "target": "product_page", "count": 3, "journeys": 3,
                    "median_s": 180.0, "mean_s": 220.0, "p90_s": 324.0}  # fmt: skip
    assert data["start_activities"] == [
        {"activity": "home", "count": 3},
        {"activity": "billing_faq", "count": 2},
    ]
    assert all(set(r) == {"activity", "count"} for r in data["end_activities"])
    assert {"activity", "events", "journeys", "starts", "ends"} <= set(data["nodes"][0])


def test_cli_dfg_filters_key_threshold_csv_and_table(
    story: jl.Workspace, run_cli: Callable[..., Any]
) -> None:
    result = run_cli(["dfg", "-w", story.root, "--type", "support", "--key", "channel", "-f", "csv"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "source,target,count,journeys,median_s,mean_s,p90_s"
    assert lines[1].startswith("web,web,2,2,420.0")
    assert len(lines) == 5  # web->web, web->call_center, call_center->sms, web->chat
    shown = run_cli(["dfg", "-w", story.root, "--min-count", "2", "--where", "product=loan", "-f", "json"])
    assert json.loads(shown.stdout)["edges"] == []
    table = run_cli(["dfg", "-w", story.root, "--min-count", "2"])
    assert table.exit_code == 0 and "Transitions" in table.stdout and "add_to_cart" in table.stdout


def test_cli_variants_json_and_table(story: jl.Workspace, run_cli: Callable[..., Any]) -> None:
    result = run_cli(["variants", "-w", story.root, "--coverage", "0.6", "-f", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [(v["steps"], v["count"]) for v in data["variants"]] == [
        (PURCHASE, 2),
        (STORY_SEQUENCES["ann"], 1),
    ]
    assert data["totals"]["variants"] == 4
    table = run_cli(["variants", "-w", story.root, "--limit", "1"])
    assert table.exit_code == 0 and "home →" in table.stdout and "12.0 min" in table.stdout


def test_cli_variants_machine_formats_list_every_variant(
    story: jl.Workspace, run_cli: Callable[..., Any]
) -> None:
    # Scripts get every row unless they ask for fewer; the table keeps its 80% cut.
    every = json.loads(run_cli(["variants", "-w", story.root, "-f", "json"]).stdout)
    assert len(every["variants"]) == every["totals"]["variants"] == 4
    assert every["variants"][-1]["coverage"] == pytest.approx(1.0)
    top = json.loads(run_cli(["variants", "-w", story.root, "--coverage", "0.6", "-f", "json"]).stdout)
    assert len(top["variants"]) == 2
    rows = run_cli(["variants", "-w", story.root, "-f", "csv"]).stdout.splitlines()
    assert len(rows) == 1 + 4
    table = run_cli(["variants", "-w", story.root])
    assert table.exit_code == 0 and "of 4 variants, covering" in table.stderr


def test_workspace_methods_build_the_cli_spec(story: jl.Workspace) -> None:
    # The notebook twin of `journeylens dfg --type support --key channel`.
    pm = story.dfg(type="support", key="channel")
    assert pm.spec.filter.journey_type == ["support"] and pm.edges.num_rows == 4
    assert story.variants(limit=1).totals["shown"] == 1
    with pytest.raises(InputError, match="Option --min-count '0'"):
        story.dfg(min_count=0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["dfg", "--min-count", "0"], "Option --min-count '0'"),
        (["variants", "--coverage", "1.5"], "Option --coverage '1.5'"),
        (["variants", "--outcome", "won"], "unknown outcome 'won'"),
    ],
)
def test_cli_bad_options_are_input_errors(
    story: jl.Workspace, run_cli: Callable[..., Any], args: list[str], message: str
) -> None:
    result = run_cli([*args, "-w", story.root])
    assert isinstance(result.exception, InputError)
    assert message in str(result.exception) and "Hint:" in str(result.exception)


def test_cli_choices_are_listed_and_checked(story: jl.Workspace, run_cli: Callable[..., Any]) -> None:
    # Enum options: --help lists the activity keys, and a wrong one is a usage error naming them.
    assert "touchpoint+lifecycle" in run_cli(["dfg", "--help"]).stdout
    result = run_cli(["dfg", "--key", "page", "-w", story.root])
    assert result.exit_code == 2 and "'page' is not one of" in result.output


def test_cli_empty_selection_exits_with_a_message(
    tmp_path: Path, run_journeylens: Callable[..., Any]
) -> None:
    ws = build(tmp_path, story_rows(), RULES)
    ws.close()  # the command opens the workspace file itself
    done = run_journeylens(["dfg", "-w", ws.root, "--type", "support", "--channel", "app"])
    assert done.returncode == 2
    assert "No journeys match the filter" in done.stderr and "Traceback" not in done.stderr


# --- XES export ---------------------------------------------------------------------------------


def read_xes(path: Path) -> Any:
    import pm4py

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pm4py.read_xes(str(path), show_progress_bar=False)


def test_xes_export_of_a_filtered_set_reads_back_in_pm4py(story: jl.Workspace, tmp_path: Path) -> None:
    out = tmp_path / "purchase.xes.gz"
    written = export_xes(story.store, JourneyFilter(journey_type=["purchase"]), out)
    assert (written.traces, written.events) == (3, 11)
    assert out.read_bytes()[:2] == b"\x1f\x8b"  # gzip
    log = read_xes(out)
    traces = log.groupby("case:concept:name", sort=False)["concept:name"].agg(list).tolist()
    # Journeys by start: cat (day 2), dan (day 40), eve (day 41).
    assert traces == [PURCHASE, STORY_SEQUENCES["dan"], PURCHASE]
    assert set(log["channel"]) == {"web", "app"} and set(log["case:journey_type"]) == {"purchase"}
    first = log.iloc[0]
    assert first["time:timestamp"] == _dt.datetime(2024, 3, 6, 9, 0, tzinfo=_dt.UTC)


def test_xes_export_keeps_agents_lifecycle_ties_and_escapes(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    rows = [
        {"user_id": "ann", "timestamp": AT, "channel": "web", "touchpoint": 'Q&A <"help">'},
        {"user_id": "ann", "timestamp": AT, "channel": "call_center", "touchpoint": "call", "agent_id": "a1",
         "lifecycle:transition": "start"},
        {"user_id": "ann", "timestamp": "2024-05-06T10:00:01.250Z", "channel": "call_center",
         "touchpoint": "call", "agent_id": "a1", "lifecycle:transition": "complete"},
    ]  # fmt: skip
    ws = build(tmp_path / "w", rows)
    out = tmp_path / "ann.xes"
    result = run_cli(["export", "xes", out, "-w", ws.root, "-f", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"path": str(out), "traces": 1, "events": 3}
    log = read_xes(out)
    assert log["concept:name"].tolist() == ['Q&A <"help">', "call", "call"]
    assert log["org:resource"].tolist()[1:] == ["a1", "a1"]
    assert log["lifecycle:transition"].tolist()[1:] == ["start", "complete"]
    assert log["time:timestamp"].iloc[2] == _dt.datetime(2024, 5, 6, 10, 0, 1, 250000, tzinfo=_dt.UTC)
    ws.close()


def test_xes_export_streams_in_batches(story: jl.Workspace, tmp_path: Path) -> None:
    """Batches of two journeys write the same traces as one batch (whole traces per batch)."""
    whole, split = tmp_path / "whole.xes", tmp_path / "split.xes"
    export_xes(story.store, None, whole)
    result = export_xes(story.store, None, split, batch_journeys=2)
    assert (result.traces, result.events) == (5, 18)

    assert len(_trace_blocks(split)) == 5 and _trace_blocks(split) == _trace_blocks(whole)


def _trace_blocks(path: Path) -> list[str]:
    """The ``<trace>`` elements of an export, sorted (trace order may follow the engine's stream)."""
    body = path.read_text().split("</log>")[0]
    return sorted(body.split("\t<trace>\n")[1:])


# --- property test: DFG and variants against plain Python ---------------------------------------


class _Reference:
    def __init__(self) -> None:
        self.edges: dict[tuple[str, str], int] = {}
        self.starts: dict[str, int] = {}
        self.ends: dict[str, int] = {}


def _reference_map(journeys: Sequence[Sequence[str]]) -> _Reference:
    ref = _Reference()
    edges: Counter[tuple[str, str]] = Counter()
    for seq in journeys:
        edges.update(itertools.pairwise(seq))
    ref.edges = dict(edges)
    ref.starts = dict(Counter(seq[0] for seq in journeys))
    ref.ends = dict(Counter(seq[-1] for seq in journeys))
    return ref


def _quantile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), in plain Python."""
    xs = sorted(values)
    pos = q * (len(xs) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


@pytest.fixture(scope="module")
def scratch_store() -> Iterator[Store]:
    store = Store.connect("duckdb://", timezone="UTC")
    yield store
    store.close()


def load_log(store: Store, journeys: Sequence[Sequence[tuple[str, int]]]) -> None:
    """Write journeys, journey_events and events tables directly: (activity, seconds after the
    previous event) per step; steps are given, so zero gaps are ties in time."""
    j_rows, je_rows, ev_rows = [], [], []
    start = _dt.datetime(2024, 1, 1, tzinfo=_dt.UTC)
    for i, seq in enumerate(journeys):
        jid, t = f"j{i:03d}", start + _dt.timedelta(days=i)
        j_rows.append({"journey_id": jid, "customer_id": f"c{i}", "journey_type": "t", "start": t,
                       "case_id": "T-1" if i == 1 else None,
                       "outcome": "success" if i % 3 == 0 else "abandoned"})  # fmt: skip
        for step, (activity, gap) in enumerate(seq, start=1):
            t += _dt.timedelta(seconds=gap, microseconds=gap * 1000)
            eid = f"{jid}-{step}"
            je_rows.append({"event_id": eid, "journey_id": jid, "step": step})
            agent = f"a{step}" if step % 2 else None
            ev_rows.append({"event_id": eid, "timestamp": t, "channel": "web", "touchpoint": activity,
                            "agent_id": agent, "properties": '{"n": "1"}'})  # fmt: skip
    schemas = {
        "journeys": {"case_id": pa.string()},
        "events": {"agent_id": pa.string()},
    }
    for name, rows in (("journeys", j_rows), ("journey_events", je_rows), ("events", ev_rows)):
        types = schemas.get(name, {})
        table = pa.Table.from_pylist(rows)
        for column, kind in types.items():
            table = table.set_column(table.schema.get_field_index(column), column, table[column].cast(kind))
        expr = ibis.memtable(table)
        if "properties" in table.column_names:
            expr = expr.mutate(properties=expr.properties.cast("json"))
        store.backend.create_table(name, expr, overwrite=True)


JOURNEYS = st.lists(
    st.lists(st.tuples(st.sampled_from("abcd"), st.integers(0, 500)), min_size=1, max_size=7),
    min_size=1,
    max_size=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(journeys=JOURNEYS)
def test_dfg_and_variants_equal_a_plain_python_reference(
    scratch_store: Store, journeys: list[list[tuple[str, int]]]
) -> None:
    load_log(scratch_store, journeys)
    seqs = [[a for a, _ in j] for j in journeys]
    pm = process_map(scratch_store)
    ref = _reference_map(seqs)
    assert edges_of(pm) == ref.edges
    assert endpoints(pm.start_activities) == ref.starts and endpoints(pm.end_activities) == ref.ends
    gaps: dict[tuple[str, str], list[float]] = defaultdict(list)
    for j in journeys:
        for (a, _), (b, gap) in itertools.pairwise(j):
            gaps[(a, b)].append(gap * 1.001)
    for edge in pm.records():
        xs = gaps[(edge["source"], edge["target"])]
        assert edge["median_s"] == pytest.approx(_quantile(xs, 0.5), abs=1e-6)
        assert edge["mean_s"] == pytest.approx(sum(xs) / len(xs), abs=1e-6)
        assert edge["p90_s"] == pytest.approx(_quantile(xs, 0.9), abs=1e-6)
        journeys_with = sum(1 for s in seqs if (edge["source"], edge["target"]) in itertools.pairwise(s))
        assert edge["journeys"] == journeys_with
    for node in pm.nodes.to_pylist():
        assert node["events"] == sum(s.count(node["activity"]) for s in seqs)
        assert node["journeys"] == sum(1 for s in seqs if node["activity"] in s)
    rows = variants(scratch_store, VariantSpec(coverage=1.0)).records()
    counts = Counter(tuple(s) for s in seqs)
    expected = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    assert [(tuple(r["steps"]), r["count"]) for r in rows] == expected
    assert rows[-1]["coverage"] == pytest.approx(1.0)


# --- PySpark parity -----------------------------------------------------------------------------


@pytest.mark.spark
def test_map_and_variants_match_duckdb_on_spark(tmp_path: Path, scratch_store: Store) -> None:
    """Same tables on both engines; Spark's are repartitioned so row order cannot help."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        pytest.fail("PySpark is missing: install the spark extra; parity must not skip.")
    journeys = [
        [("a", 0), ("b", 30), ("a", 0), ("c", 90)],
        [("a", 0), ("b", 10), ("c", 20)],
        [("b", 0), ("b", 0), ("d", 7)],
        [("a", 0), ("b", 30), ("a", 0), ("c", 90)],
        [("c", 0)],
    ]
    load_log(scratch_store, journeys)
    spark = Store.connect("pyspark://", timezone="UTC", root=tmp_path)
    session = spark.backend._session  # type: ignore[attr-defined]
    for name in ("journeys", "journey_events", "events"):
        frame = scratch_store.execute(scratch_store.backend.table(name)).to_pandas()
        session.createDataFrame(frame).repartition(3).createOrReplaceTempView(name)
    for spec in (MapSpec(), MapSpec(min_edge_count=2)):
        duck, other = process_map(scratch_store, spec), process_map(spark, spec)
        assert _rounded(other.to_dict()) == _rounded(duck.to_dict())
    for vspec in (VariantSpec(coverage=1.0), VariantSpec(coverage=0.5, limit=2)):
        assert _rounded(variants(spark, vspec).to_dict()) == _rounded(
            variants(scratch_store, vspec).to_dict()
        )
    duck_xes, spark_xes = tmp_path / "duck.xes", tmp_path / "spark.xes"
    on_duck, on_spark = export_xes(scratch_store, None, duck_xes), export_xes(spark, None, spark_xes)
    assert (on_duck.traces, on_duck.events) == (on_spark.traces, on_spark.events) == (5, 15)
    assert _trace_blocks(spark_xes) == _trace_blocks(duck_xes)
    assert '<string key="concept:name" value="T-1"/>' in duck_xes.read_text()


def _rounded(value: Any) -> Any:
    """Floats to 9 significant digits: engines may sum in another order (last-bit differences)."""
    if isinstance(value, float):
        return float(f"{value:.9g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value
