"""`journeylens map show`: a designed map drawn with data, recounted independently in pandas.

The world is a small synthetic one; the maps are the demo's purchase and support maps (touchpoints
of the synthetic catalogue). The reference counts place each event in the stage that lists its
touchpoint, in plain pandas over the stored tables — no code of the module under test.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import journeylens as jl
from journeylens.maps import JourneyMap, load_map
from journeylens.maps._demo_maps import DEMO_MAPS, write_demo_maps
from journeylens.maps.loading import parse_map
from journeylens.maps.show import MapView, NoMapJourneysError, show_map, stage_of_events
from journeylens.report import write_report
from journeylens.synth import generate_world


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[jl.Workspace]:
    root = tmp_path_factory.mktemp("mapshow")
    generate_world(root / "world", customers=300, seed=13)
    workspace = jl.Workspace.init(root / "ws", timezone="UTC")
    workspace.config.privacy.default_country_code = "31"
    for table in ("events", "identities", "customers"):
        workspace.ingest(paths=[str(root / "world" / table)], table=table)
    workspace.build()
    write_demo_maps(workspace.root)
    yield workspace
    workspace.close()


def _cli(ws: jl.Workspace, *args: str) -> subprocess.CompletedProcess[str]:
    """The command line on the workspace (closed here first: DuckDB lets one process write)."""
    ws.close()
    return subprocess.run(
        [sys.executable, "-m", "journeylens", *args], capture_output=True, text=True, check=False, timeout=300
    )


def _map(ws: jl.Workspace, name: str) -> JourneyMap:
    return load_map(ws.root / "maps" / f"{name}.yaml")


def _reference(ws: jl.Workspace, m: JourneyMap) -> pd.DataFrame:
    """Every event of the map's journeys with the rank of the stage listing its touchpoint, in pandas."""
    store = ws.store
    journeys = store.backend.table("journeys").to_pandas()
    je = store.backend.table("journey_events").to_pandas()
    events = store.table("events").select("event_id", "timestamp", "channel", "touchpoint").to_pandas()
    mine = journeys.loc[journeys.journey_type == m.journey_type, ["journey_id", "outcome"]]
    rows = je.merge(mine, on="journey_id").merge(events, on="event_id")
    rank = {tp: i + 1 for i, stage in enumerate(m.stages) for tp in stage.touchpoints}
    rows["stage"] = rows.touchpoint.map(rank)
    return rows


@pytest.mark.parametrize("name", list(DEMO_MAPS))
def test_per_stage_volumes_match_a_pandas_recount(ws: jl.Workspace, name: str) -> None:
    m = _map(ws, name)
    view = show_map(ws.store, m)
    ref = _reference(ws, m)
    staged = ref.dropna(subset=["stage"])
    assert view.totals["journeys"] == ref.journey_id.nunique() > 0
    assert view.totals["events"] == len(ref)
    assert view.totals["events_outside_stages"] == int(ref.stage.isna().sum())
    for s in view.stages:
        here = staged[staged.stage == s["rank"]]
        assert s["journeys"] == here.journey_id.nunique(), s["stage"]
        assert s["events"] == len(here), s["stage"]
        assert s["channels"] == here.channel.value_counts().to_dict(), s["stage"]
        decided = here[here.outcome.isin(["success", "failed", "abandoned"])]
        assert s["success_d"] == decided.journey_id.nunique()
        assert s["success_n"] == decided.loc[decided.outcome == "success", "journey_id"].nunique()
    # At least one stage is reached by most journeys, and the volumes are not all equal.
    assert max(s["reach"] for s in view.stages) > 0.5
    assert len({s["journeys"] for s in view.stages}) > 1
    per_touchpoint = staged.groupby(["touchpoint", "channel"]).size().to_dict()
    assert {(t["touchpoint"], t["channel"]): t["events"] for t in view.touchpoints} == per_touchpoint
    # Every journey reaching a stage leaves it once: to a later, an earlier stage, or the end.
    for s in view.stages:
        assert sum(f["journeys"] for f in view.flows if f["from"] == s["stage"]) == s["journeys"]
    assert sum(f["entries"] for f in view.flows) == view.totals["journeys_in_stages"]


def test_time_in_stage_matches_a_pandas_recount(ws: jl.Workspace) -> None:
    m = _map(ws, "purchase")
    view = show_map(ws.store, m)
    staged = _reference(ws, m).dropna(subset=["stage"])
    per = staged.groupby(["journey_id", "stage"]).timestamp.agg(["min", "max"]).reset_index()
    seconds: dict[int, list[float]] = {}
    for row in per.itertuples(index=False):  # a reference on ~1,000 rows: plain Python is the point
        mine = staged[staged.journey_id == row.journey_id]
        later = mine[(mine.stage > row.stage) & (mine.timestamp >= row.min)]
        end = later.timestamp.min() if len(later) else row.max
        seconds.setdefault(int(row.stage), []).append((end - row.min).total_seconds())
    for s in view.stages:
        values = np.array(seconds[s["rank"]])
        assert s["median_s"] == pytest.approx(float(np.quantile(values, 0.5)), abs=1e-3), s["stage"]
        assert s["p80_s"] == pytest.approx(float(np.quantile(values, 0.8)), abs=1e-3), s["stage"]
        stage = m.stages[s["rank"] - 1]
        if stage.time_target is not None:
            assert s["within_target_n"] == int((values <= stage.time_target.seconds).sum())
            assert s["within_target_d"] == len(values)
            assert s["target_met"] == (s["at_target_percentile_s"] <= stage.time_target.seconds)
    assert {s["target_met"] for s in view.stages} == {True, False}, "the demo map misses and meets targets"


def test_stage_of_events_ranks_by_the_first_matching_stage(ws: jl.Workspace) -> None:
    m = parse_map(
        "journey_type: purchase\ngoal: buy\nstages:\n"
        "  - {name: browse, touchpoints: [product_page]}\n"
        "  - {name: by-email, channels: [email]}\n"
        "  - {name: anything-on-web, channels: [web]}\n",
        Path("channels.yaml"),
    )
    rows = ws.store.execute(stage_of_events(ws.store, m)).to_pandas()
    assert set(rows.loc[rows.touchpoint == "product_page", "stage"]) == {1}
    assert set(rows.loc[(rows.channel == "email"), "stage"]) == {2}
    web = rows[(rows.channel == "web") & (rows.touchpoint != "product_page")]
    assert len(web) and set(web.stage) == {3}
    assert rows.loc[rows.channel == "sms", "stage"].isna().all()


def test_html_is_self_contained_with_every_lane(ws: jl.Workspace, tmp_path: Path) -> None:
    out = tmp_path / "purchase.html"
    result = _cli(ws, "map", "show", "purchase", "-w", str(ws.root), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "discover" in result.stdout and str(out.name) in result.stderr
    html = out.read_text()
    assert not re.search(r"<script[^>]+src=", html), "the page must not load scripts from anywhere"
    assert not re.search(r"<link[^>]+href=", html)
    # Outside the inlined plotly.js (whose code mentions URLs), the page names no URL at all.
    markup = re.sub(r"<script[^>]*>.*?</script>", "", html, flags=re.DOTALL)
    assert html.count("<script") >= 2 and not re.search(r"https?://", markup)
    assert "Plotly.newPlot" in html and "@media print" in html and "@page" in html
    for lane in ("Customer goal", "Touchpoints", "Time in stage", "Emotion", "Pain points",
                 "Deviations and cost", "Owner and opportunities"):  # fmt: skip
        assert f">{lane}" in html, lane
    m = _map(ws, "purchase")
    for stage in m.stages:
        assert f". {stage.name}" in html
    assert "expected (map)" in html and "actual (feedback)" in html
    # The deviations lane holds what map check finds for the map's journeys.
    assert "% deviate" in html and "Not checked yet" not in html
    assert "Payment errors in the app" in html  # a pain point
    # Without --out the page goes next to the map.
    default = _cli(ws, "map", "show", "support", "-w", str(ws.root))
    assert default.returncode == 0, default.stderr
    assert (ws.root / "maps" / "support.html").is_file()


def test_deviations_lane_is_filled_from_the_check_result(ws: jl.Workspace) -> None:
    lane = {"checkout": {"share": 0.25, "journeys": 40, "cost": 1234.5}}
    view = show_map(ws.store, _map(ws, "purchase"), lane)  # type: ignore[arg-type]
    html = view.html()
    assert "25% deviate here (40 journeys)" in html and "money implied 1,234.50;" in html
    assert "map check purchase" not in html
    assert next(s for s in view.stages if s["stage"] == "checkout")["deviation_share"] == 0.25


def _mermaid_structure(text: str) -> list[tuple[str, list[tuple[str, int, list[str]]]]]:
    """Sections with their tasks (name, score, actors); fails on any line Mermaid would not read."""
    lines = text.rstrip("\n").split("\n")
    assert lines[0] == "journey"
    assert re.fullmatch(r" {4}title [^:;#]+", lines[1]), lines[1]
    sections: list[tuple[str, list[tuple[str, int, list[str]]]]] = []
    for line in lines[2:]:
        if found := re.fullmatch(r" {4}section ([^:;#]+)", line):
            sections.append((found[1], []))
            continue
        task = re.fullmatch(r" {6}([^:;#]+): ([1-5]): ([^:;#]+)", line)
        assert task and sections, f"not a Mermaid journey line: {line!r}"
        sections[-1][1].append((task[1], int(task[2]), [a.strip() for a in task[3].split(",")]))
    return sections


def test_mermaid_export_is_a_journey_diagram(ws: jl.Workspace) -> None:
    result = _cli(ws, "map", "show", "purchase", "-w", str(ws.root), "--format", "mermaid")
    assert result.returncode == 0, result.stderr
    sections = _mermaid_structure(result.stdout)
    m = _map(ws, "purchase")
    assert [s[0].split(" (")[0] for s in sections] == [s.name for s in m.stages]
    for (_, tasks), stage in zip(sections, m.stages, strict=True):
        assert tasks and all(score == stage.expected_emotion + 3 for _, score, _ in tasks)  # type: ignore[operator]
        assert all(t[0].split(" ")[0] in stage.touchpoints for t in tasks)
    checkout_tasks = sections[3][1]
    assert {"web", "app"} <= set(checkout_tasks[0][2])


def _dot_structure(text: str) -> tuple[dict[str, str], list[tuple[str, str, int]]]:
    """Nodes (id -> label) and edges (source, target, journeys); fails on anything unexpected."""
    lines = text.rstrip("\n").split("\n")
    assert re.fullmatch(r'digraph "[^"]+" \{', lines[0]) and lines[-1] == "}"
    assert text.count("{") == text.count("}")
    nodes: dict[str, str] = {}
    edges: list[tuple[str, str, int]] = []
    for raw in lines[1:-1]:
        line = raw.strip()
        if edge := re.fullmatch(r'(\w+) -> (\w+) \[label="([\d,]+)"[^\]]*\];', line):
            edges.append((edge[1], edge[2], int(edge[3].replace(",", ""))))
        elif node := re.fullmatch(r'(\w+) \[(?:shape=\w+, )?label="((?:[^"\\]|\\.)*)"[^\]]*\];', line):
            nodes[node[1]] = node[2]
        else:
            assert re.fullmatch(r"(rankdir=LR|(node|edge) \[.*\]);", line), line
    assert all(a in nodes and b in nodes for a, b, _ in edges), "an edge names an undeclared node"
    return nodes, edges


def test_dot_export_is_a_stage_map_of_the_flows(ws: jl.Workspace) -> None:
    result = _cli(ws, "map", "show", "support", "-w", str(ws.root), "-f", "dot")
    assert result.returncode == 0, result.stderr
    nodes, edges = _dot_structure(result.stdout)
    view = show_map(ws.store, _map(ws, "support"))
    for s in view.stages:
        node = f"s{s['rank']}"
        assert nodes[node].startswith(s["stage"] + "\\n")
        # The journeys leaving a stage (to any stage or the end) are the journeys reaching it.
        assert sum(n for a, _, n in edges if a == node) == s["journeys"], s["stage"]
    assert sum(n for a, _, n in edges if a == "start") == view.totals["journeys_in_stages"]
    planned = {(f"s{i}", f"s{i + 1}") for i in range(1, len(view.stages))}
    assert planned <= {(a, b) for a, b, _ in edges}


NOBODY = (
    "journey_type: purchase\nsegment: astronauts\ngoal: buy\nstages:\n  - {name: a, touchpoints: [home]}\n"
)


def test_a_map_that_matches_no_journey_says_so(ws: jl.Workspace, tmp_path: Path) -> None:
    nobody = parse_map(NOBODY, Path("astronauts.yaml"))
    with pytest.raises(NoMapJourneysError, match="matches no journey: there are no 'purchase' journeys in"):
        show_map(ws.store, nobody)
    elsewhere = parse_map(
        "journey_type: support\ngoal: help\nstages:\n"
        "  - {name: buy, touchpoints: [store_locator, opening_hours]}\n",
        Path("wrong.yaml"),
    )
    with pytest.raises(NoMapJourneysError, match="none of the events of its") as caught:
        show_map(ws.store, elsewhere)
    assert caught.value.hint and "touchpoints" in caught.value.hint
    path = ws.root / "maps" / "nobody.yaml"
    path.write_text(NOBODY)
    try:
        result = _cli(ws, "map", "show", "nobody", "-w", str(ws.root), "-f", "mermaid")
        assert result.returncode != 0
        assert "matches no journey" in result.stderr and "Hint:" in result.stderr
        assert result.stdout == ""
        assert not (ws.root / "maps" / "nobody.html").exists()
        refused = _cli(ws, "map", "show", "purchase", "-w", str(ws.root), "--type", "support")
        assert refused.returncode != 0 and "--type" in refused.stderr
    finally:
        path.unlink()


def test_report_draws_every_map_of_the_workspace(ws: jl.Workspace, tmp_path: Path) -> None:
    html = write_report(ws.store, tmp_path / "report.html", rules=ws.config.journeys).read_text()
    assert "<h2>Journey maps</h2>" in html
    assert "purchase map</strong>" in html and "support map</strong>" in html
    assert html.count('class="jmap"') == 2
    # The report checks each map (map check) and fills the deviations lane: no "not checked yet".
    assert "Not checked yet" not in html and "% deviate" in html
    empty = jl.Workspace.init(tmp_path / "empty")
    try:
        bare = write_report(empty.store, tmp_path / "bare.html").read_text()
    finally:
        empty.close()
    assert "Journey maps" not in bare


def test_report_says_why_a_map_is_not_drawn(ws: jl.Workspace, tmp_path: Path) -> None:
    broken = ws.root / "maps" / "broken.yaml"
    broken.write_text("journey_type: purchase\ngoal: buy\nstages:\n  - name: a\n    expected_emotion: 7\n")
    try:
        html = write_report(ws.store, tmp_path / "report.html", rules=ws.config.journeys).read_text()
    finally:
        broken.unlink()
    assert "broken.yaml is not drawn:" in html and "line 5" in html
    assert html.count('class="jmap"') == 2  # the valid maps are still drawn


def test_python_api_and_json(ws: jl.Workspace) -> None:
    view: MapView = ws.map_show("purchase", format="json")
    assert view.out is None and view.text.startswith("{")
    assert [r["stage"] for r in view.to_dict()["stages"]] == [s.name for s in _map(ws, "purchase").stages]
    frame = view.to_pandas()
    assert list(frame.stage) == [s["stage"] for s in view.stages]
    assert view.plot().data[0].name == "expected (map)"
    assert "jm-grid" in view._repr_html_()


def _outside(view: MapView) -> dict[str, Any]:
    return {o["touchpoint"]: o["events"] for o in view.outside}


def test_unplanned_touchpoints_are_listed_outside_the_stages(ws: jl.Workspace) -> None:
    view = show_map(ws.store, _map(ws, "purchase"))
    assert "survey_invite" in _outside(view)
    assert not set(_outside(view)) & {tp for s in _map(ws, "purchase").stages for tp in s.touchpoints}


@pytest.mark.browser
def test_map_page_renders_offline_in_a_browser(ws: jl.Workspace, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from test_report_browser import CHROMIUM, FLAGS, open_offline

    page_file = tmp_path / "map.html"
    page_file.write_text(show_map(ws.store, _map(ws, "purchase")).html())
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/run_tests.py installs Debian's chromium package.")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, timeout=60_000)
        try:
            page, outside, errors = open_offline(browser, page_file)
            page.wait_for_selector(".js-plotly-plot .main-svg", timeout=20_000)
            traces = page.evaluate("() => document.querySelector('.js-plotly-plot').data.length")
            columns = page.locator("th.jm-stage").count()
            pdf = page.pdf(landscape=True)
        finally:
            browser.close()
    assert traces == 2 and columns == 6
    assert errors == [] and outside == []
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
