"""The benchmark runs end to end on a tiny world: every stage, its floor and a ratio.

No timing assertions here (those belong to `journeylens bench` runs recorded in
docs/benchmarks.md); this only proves the harness works and the stages agree on row counts.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from journeylens.benchmark import parse_size, run_bench
from journeylens.benchmark._host import Host
from journeylens.benchmark.api_stages import CALLS, latency_rows
from journeylens.benchmark.dashboard_stages import COLD, PAGES_ENV, TARGETS, WARM
from journeylens.benchmark.small_file_stages import small_file_count
from journeylens.benchmark.stages import STAGES
from journeylens.errors import InputError
from journeylens.workspace import Workspace

INGEST_STAGES = {"floor_parquet", "ingest_parquet", "reingest_parquet", "floor_csv", "ingest_csv"}
JOURNEY_STAGES = {"stitch", "floor_sessionize", "journeys"}
DISCOVERY_STAGES = {
    "floor_dfg", "process_map", "floor_funnel", "funnel_20", "pm4py_e2e", "process_e2e", "newcomer",
}  # fmt: skip
PIPELINE_STAGES = {"pipeline_duckdb", "pipeline_pyspark"}
EXPLICIT_STAGES = {"pipeline_spark_standalone"}  # start a cluster: only with --stage, never here
SMALL_FILE_STAGES = {"floor_small_csv", "ingest_small_csv"}
ACCURACY_STAGES = {"outcome_accuracy"}
MAP_STAGES = {"floor_map_check", "map_check", "pm4py_declare", "journeys_summary", "map_monitor"}
TEXT_STAGES = {"floor_text_predict", "sentiment_learned", "sentiment_lexicon"}
CONTACT_STAGES = {"floor_contacts", "contacts"}
PATH_FILE_STAGES = {"attribution_o1", "attribution_o3", "ca_markov_o1", "ca_markov_o3"}
ATTRIBUTION_STAGES = PATH_FILE_STAGES | {"floor_attribution_paths", "attribution_journeys"}
CAUSE_STAGES = {"floor_causes", "causes"}
AGENT_STAGES = {"floor_agents", "agents", "agents_shrinkage"}
THEME_STAGES = {"floor_theme_predict", "themes_taxonomy", "themes_learned"}
BUILD_STAGES = {"build_full", "build_incremental"}
NBA_STAGES = {"nba_scoring", "nba_open"}
CASELOG_STAGES = {"floor_cases", "cases_fast"}
EXPERIMENT_STAGES = {"floor_experiment", "experiment_cuped"}
API_STAGES = {"api", "api_python"}
DASHBOARD_STAGES = {"dashboard_python", "dashboard"}  # one page here: JOURNEYLENS_BENCH_PAGES=paths
COLLECTOR_STAGES = {"floor_collector", "collector"}


@pytest.fixture(scope="module")
def bench_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One output folder per module, so the tiny world is generated once and shared."""
    return tmp_path_factory.mktemp("bench")


def test_parse_size() -> None:
    assert [parse_size(s) for s in ("1M", "10m", "500k", "2500", "1.5M")] == [
        1_000_000, 10_000_000, 500_000, 2_500, 1_500_000,
    ]  # fmt: skip
    with pytest.raises(InputError, match="--events"):
        parse_size("lots")


def test_stages_that_start_a_cluster_run_only_when_named() -> None:
    assert {name for name, spec in STAGES.items() if spec.explicit} == EXPLICIT_STAGES
    assert STAGES["pipeline_spark_standalone"].floor == "pipeline_duckdb"


def test_bench_smoke(bench_out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PAGES_ENV, "paths")  # every page would take minutes (the backlog alone)
    # Every stage that a run without --stage takes, but the accuracy stage: it makes worlds of its
    # own (not the run's files), and test_outcome_accuracy runs it through the CLI.
    default = [name for name, spec in STAGES.items() if not spec.explicit]
    assert set(default) >= ACCURACY_STAGES
    timed = [name for name in default if name not in ACCURACY_STAGES]
    results = {r.stage: r for r in run_bench(6_000, bench_out, timed)}
    everything = (
        INGEST_STAGES
        | JOURNEY_STAGES
        | DISCOVERY_STAGES
        | PIPELINE_STAGES
        | SMALL_FILE_STAGES
        | MAP_STAGES
        | CONTACT_STAGES
        | CAUSE_STAGES
        | AGENT_STAGES
        | TEXT_STAGES
        | THEME_STAGES
        | ATTRIBUTION_STAGES
        | NBA_STAGES
        | BUILD_STAGES
        | CASELOG_STAGES
        | EXPERIMENT_STAGES
        | API_STAGES
        | DASHBOARD_STAGES
        | COLLECTOR_STAGES
    )
    assert set(results) == everything and set(default) == everything | ACCURACY_STAGES
    events = results["floor_parquet"].events
    assert events > 3_000
    # Every stage saw every event: loaded, re-read as duplicates, loaded by the floor, or placed in
    # a journey or session, or counted in a process map or pm4py's log. Stitching counts
    # identifiers instead, the funnel and its floor their step rows, the small files their files.
    funnels = ("floor_funnel", "funnel_20")
    others = (
        "stitch",
        *funnels,
        *SMALL_FILE_STAGES,
        *MAP_STAGES,
        *CONTACT_STAGES,
        *PATH_FILE_STAGES,
        *CAUSE_STAGES,
        *AGENT_STAGES,
        *NBA_STAGES,
        *BUILD_STAGES,
        *CASELOG_STAGES,
        *EXPERIMENT_STAGES,
        *API_STAGES,
        *DASHBOARD_STAGES,
    )
    assert {r.rows for r in results.values() if r.stage not in others} == {events}
    # The text stages score one comment per event of the run: the same count, in comments.
    plain = (
        *SMALL_FILE_STAGES,
        *TEXT_STAGES,
        *THEME_STAGES,
        *PATH_FILE_STAGES,
        *NBA_STAGES,
        *BUILD_STAGES,
        *CASELOG_STAGES,
        *EXPERIMENT_STAGES,
        *API_STAGES,
        *DASHBOARD_STAGES,
    )
    assert {r.unit for r in results.values() if r.stage not in plain} == {"events"}
    # Both builds end with the same journeys; only the incremental one skipped customers.
    work = bench_out / "work"
    full, incremental = (json.loads((work / f"build-{s}.json").read_text()) for s in sorted(BUILD_STAGES))
    assert full["journeys"] == incremental["journeys"] == results["build_full"].rows > 0
    assert (full["mode"], incremental["mode"]) == ("full", "incremental")
    assert 0 < incremental["recomputed_customers"] < full["recomputed_customers"] == full["customers"]
    assert {results[s].unit for s in TEXT_STAGES | THEME_STAGES} == {"comments"}
    assert results["sentiment_learned"].floor == results["sentiment_lexicon"].floor == "floor_text_predict"
    assert results["themes_taxonomy"].floor == results["themes_learned"].floor == "floor_theme_predict"
    assert {results[s].rows for s in THEME_STAGES} == {events}
    # Only the dashboard stage's results carry metrics here: its page targets.
    assert all(r.metrics is None for r in results.values() if r.stage != "dashboard")
    assert 0 < results["stitch"].rows < events
    assert results["funnel_20"].rows >= 20 and results["funnel_20"].floor == "floor_funnel"
    # The hand-written funnel counts the same customers at every step as `funnel` does.
    work = bench_out / "work"
    floor_units, units = (json.loads((work / f"funnel_counts-{s}.json").read_text()) for s in funnels)
    assert floor_units == units and units[0] > units[-1]
    # The collector acknowledged every event durably; its figures compare it with the floor route.
    figures = json.loads((work / "collector_figures.json").read_text())
    assert results["collector"].floor == "floor_collector" and figures["events"] == events
    assert all(value > 0 for value in figures.values()), figures  # the floor ran first: ratios too
    assert figures["stored_messages"] == figures["acknowledged_messages"]  # none lost, none twice
    # The hand-written contact aggregates count the same contacts, followed exposures and repeats.
    floor_totals, totals = (
        json.loads((work / f"contact_totals-{s}.json").read_text()) for s in CONTACT_STAGES
    )
    assert floor_totals == totals and totals[0] > 0 and results["contacts"].floor == "floor_contacts"
    # The hand-written contrast counts find the same supported features, journeys and outcomes.
    floor_counts, counts = (json.loads((work / f"cause_totals-{s}.json").read_text()) for s in CAUSE_STAGES)
    assert floor_counts == counts and counts[0] > 0 and results["causes"].floor == "floor_causes"
    # The hand-written agent aggregates give every agent the same counts, scores and O/E as agents.
    floor_agents, agents = (
        json.loads((work / f"agent_figures-{s}.json").read_text()) for s in ("floor_agents", "agents")
    )
    assert floor_agents == agents and len(agents) > 20 and results["agents"].floor == "floor_agents"
    assert results["agents"].rows == results["floor_agents"].rows == sum(a[0] for a in agents.values())
    assert 0 < results["agents_shrinkage"].rows <= results["agents"].rows
    # The API stage timed every analysis cold and warm next to the Python API, with a ratio.
    assert results["api"].peer == "api_python" and results["api"].rows == 25 * len(CALLS)
    assert [r["analysis"] for r in latency_rows(work)] == [name for name, _ in CALLS]
    assert all(r["cold_to_python"] > 0 and r["warm_p50_ms"] > 0 for r in latency_rows(work))
    # The dashboard stage loaded the page and its panels cold and warm, and judged each target.
    page = results["dashboard"].metrics["pages"][0]  # type: ignore[index]
    assert results["dashboard"].peer == "dashboard_python" and results["dashboard"].rows == COLD + WARM
    assert (page["page"], page["panels"], page["notices"]) == ("paths", 1, 0)
    assert [t["name"] for t in page["targets"]] == [f"paths {n}" for n in TARGETS]
    assert results["dashboard"].target_met == all(t["met"] for t in page["targets"])
    assert results["process_map"].floor == "floor_dfg" and results["process_e2e"].floor == "pm4py_e2e"
    # The hand-written map verdicts equal map check's (journeys, conforming, per kind, per rule),
    # both over the events of purchase journeys.
    floor_verdicts, verdicts = (
        json.loads((work / f"map_verdicts-{s}.json").read_text()) for s in ("floor_map_check", "map_check")
    )
    assert floor_verdicts == verdicts and verdicts[0] > 0
    assert results["map_check"].floor == "floor_map_check"
    assert results["map_check"].rows == results["floor_map_check"].rows > 0
    # pm4py's conformance_declare (a process of its own) read the same events and decided the same
    # rules alike, except the first: pm4py's response has no "within 2h", so it breaks less often.
    peer = json.loads((work / "map_verdicts-pm4py_declare.json").read_text())
    assert peer["traces"] == verdicts[0] and peer["broken"][1:] == verdicts[7:]
    assert peer["broken"][0] <= verdicts[6]
    assert results["pm4py_declare"].rows == results["map_check"].rows
    assert results["map_check"].peer == "pm4py_declare" and results["map_check"].ratio_to_peer is not None
    # The living map watches its series next to the daily journeys summary they refine.
    assert results["map_monitor"].floor == "journeys_summary" and results["map_monitor"].rows >= 10
    assert results["journeys_summary"].rows > 0
    # The newcomer's CLI session (separate processes, automatic build) is compared with pm4py too.
    assert results["newcomer"].floor == "pm4py_e2e" and results["newcomer"].ratio_to_floor is not None
    assert results["ingest_parquet"].ratio_to_floor is not None
    assert results["ingest_csv"].floor == "floor_csv"
    assert results["journeys"].floor == "floor_sessionize"
    # The generated case log has exactly the run's size in events; both place every one of them.
    assert {results[s].rows for s in CASELOG_STAGES} == {6_000}
    assert {results[s].unit for s in CASELOG_STAGES} == {"case events"}
    assert results["cases_fast"].floor == "floor_cases"
    # The hand-written experiment sums count the same units per variant as `experiment`; the open
    # journeys scored are as many as the run's size.
    floor_units, units = (
        json.loads((work / f"experiment_units-{s}.json").read_text())
        for s in ("floor_experiment", "experiment_cuped")
    )
    assert (
        floor_units == units and len(units) == 2 and results["experiment_cuped"].floor == "floor_experiment"
    )
    assert results["nba_open"].rows == 6_000 and results["nba_open"].unit == "journeys"
    # The same pipeline on Spark maps every event too (rows above), measured against DuckDB, and
    # its peak memory includes the JVM it starts.
    assert results["pipeline_pyspark"].floor == "pipeline_duckdb"
    assert results["pipeline_pyspark"].peak_rss_mb > results["pipeline_duckdb"].peak_rss_mb
    # Exact Markov and ChannelAttribution's simulation read the same path file and credit the same
    # channels with all its conversions; attribution on journeys is measured against the SQL paths.
    assert {results[s].unit for s in PATH_FILE_STAGES} == {"paths"}
    assert len({results[s].rows for s in PATH_FILE_STAGES}) == 1 and results["attribution_o1"].rows > 0
    for order in (1, 3):
        ours = json.loads((work / f"attribution-o{order}.json").read_text())
        theirs = json.loads((work / f"ca_markov-o{order}.json").read_text())["conversions"]
        assert set(ours) == set(theirs) and sum(ours.values()) == pytest.approx(sum(theirs.values()))
        assert results[f"attribution_o{order}"].peer == f"ca_markov_o{order}"
        assert results[f"attribution_o{order}"].ratio_to_peer is not None
    assert results["attribution_journeys"].floor == "floor_attribution_paths"
    saved = json.loads((bench_out / "results-6000.json").read_text())
    assert saved["machine"]["cpus"] >= 1 and len(saved["results"]) == len(results)
    assert {r["stage"] for r in saved["results"] if r["metrics"]} == {"dashboard"}


def test_small_files_stage_against_its_floor_and_target(bench_out: Path) -> None:
    # Runs after the full smoke run when the module runs whole; on its own it makes the tiny world.
    results = {r.stage: r for r in run_bench(6_000, bench_out, sorted(SMALL_FILE_STAGES))}
    floor, ingest = results["floor_small_csv"], results["ingest_small_csv"]
    files = small_file_count(ingest.events)
    assert 20 <= files <= 100  # a few dozen at the smoke size: bounded
    folder = bench_out / f"data-{6_000}" / "small_csv"
    assert len(list(folder.glob("*.csv"))) == files
    # Every file loaded its one row, by the floor and by the ingest, and the ingest kept a report,
    # an ingest id and an `ingests` row per file.
    assert floor.rows == ingest.rows == files
    ws = Workspace.open(bench_out / "work" / "ingest_small_csv")
    assert ws.store.count("events") == files
    assert ws.store.count("ingests") == files
    ws.close()
    assert floor.unit == ingest.unit == "files" and floor.events_per_s is None
    assert ingest.per_s == pytest.approx(files / ingest.seconds, rel=0.02)
    assert ingest.floor == "floor_small_csv" and ingest.ratio_to_floor is not None
    # The absolute target is reported, met or not (no timing assertion: speed is for `journeylens bench`).
    assert ingest.target_per_s == 200 and isinstance(ingest.target_met, bool)
    assert ingest.target_met == (ingest.per_s >= 200) or abs(ingest.per_s - 200) <= 1  # rounding
    assert floor.target_per_s is None and floor.target_met is None


def test_journey_stages_prepare_their_workspace(bench_out: Path) -> None:
    # No stitch stage in this run: the runner must ingest and stitch first, outside the timing.
    messages: list[str] = []
    results = run_bench(
        6_000, bench_out, ["floor_sessionize", "journeys"], progress=messages.append, memory_limit="512MB"
    )
    assert [r.stage for r in results] == ["floor_sessionize", "journeys"]
    prepared = [m for m in messages if m.startswith("preparing")]
    assert prepared == [
        "preparing ingested (not timed)",
        "preparing stitched (not timed)",
    ]
    floor, journeys = results
    assert floor.rows == journeys.rows == journeys.events
    assert all(r.seconds > 0 and r.events_per_s > 0 and r.peak_rss_mb > 0 for r in results)
    assert floor.ratio_to_floor is None
    assert journeys.ratio_to_floor is not None and journeys.ratio_to_floor > 0
    # The cap reached the workspace the stages ran in, and the results say which cap was used.
    assert Workspace.open(bench_out / "work" / "world").config.backend.memory_limit == "512MB"
    assert json.loads((bench_out / "results-6000.json").read_text())["memory_limit"] == "512MB"


def test_unknown_stage_lists_the_stages(bench_out: Path) -> None:
    with pytest.raises(InputError, match="floor_sessionize"):
        run_bench(6_000, bench_out, ["sessionize"])


def test_bench_flags_are_checked_before_any_work(run_journeylens: Any, tmp_path: Path) -> None:
    done = run_journeylens(["bench", "--events", "1M", "--memory-limit", "lots", "--out", tmp_path])
    assert done.returncode == 2
    assert "--memory-limit" in done.stderr and "8GB" in done.stderr
    assert not any(tmp_path.iterdir())  # nothing generated


def test_a_stage_without_its_package_fails_before_any_work(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = dataclasses.replace(STAGES["pm4py_e2e"], requires=("no_such_module_jl", "test"))
    monkeypatch.setitem(STAGES, "pm4py_e2e", missing)
    with pytest.raises(InputError, match="no_such_module_jl") as error:
        run_bench(6_000, tmp_path, ["stitch", "pm4py_e2e"])
    assert "journeylens[test]" in str(error.value)
    assert not list(tmp_path.rglob("*.parquet"))  # no world generated


def test_a_failing_stage_reports_its_traceback_and_the_host_keeps_serving(tmp_path: Path) -> None:
    host = Host()
    names = ("no_such_stage", "nor_this")
    try:
        runs, hosts = [], []
        for name in names:
            runs.append(host.run("journeylens.benchmark.stages", [name, str(tmp_path), str(tmp_path)]))
            hosts.append(host._process.pid if host._process else None)
    finally:
        host.close()
    assert hosts[0] is not None and hosts == [hosts[0]] * 2, "one host process forked both stages"
    for run, name in zip(runs, names, strict=True):
        assert run.returncode == 1, run
        assert f"KeyError: '{name}'" in run.stderr and run.stdout == ""
