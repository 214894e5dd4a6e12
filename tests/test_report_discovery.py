"""The report's discovery section agrees with the journeys and events, counted again with pandas."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import journeylens as jl
from journeylens._units import duration_text
from journeylens.identity import stitch
from journeylens.journeys import build_journeys
from journeylens.journeys.definitions import EXAMPLE_COSTS, JourneyRules
from journeylens.report import SECTIONS, build_sections, write_report
from journeylens.report.discovery import (
    FUNNEL_STEPS,
    MAP_NODES,
    PATH_STEPS,
    PATH_TOP,
    TITLE,
    TOP_EDGES,
    TOP_TOUCHPOINTS,
    TOP_VARIANTS,
    VARIANT_COVERAGE,
    discovery_section,
)
from journeylens.report.journeys import rate_cell
from journeylens.report.sections import Section
from journeylens.synth import generate_world

WINDOW_S = 14 * 86_400
"""The funnel's conversion window (FunnelSpec's default)."""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[jl.Workspace]:
    """A small synthetic world (150 customers), stitched and split into journeys."""
    root = tmp_path_factory.mktemp("discovery_report")
    generate_world(root / "data", customers=150, seed=3)
    ws = jl.Workspace.init(root / "ws", timezone="UTC")
    ws.config.journeys.costs = dict(EXAMPLE_COSTS)  # priced like the demo workspace
    ws.config.dump(ws.root / "journeylens.toml")
    for table in ("agents", "customers", "identities", "events", "feedback"):
        ws.ingest(paths=[str(root / "data" / table)], table=table)
    stitch(ws.store, ws.config.identity)
    build_journeys(ws.store, ws.config.journeys)
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def journeys(world: jl.Workspace) -> pd.DataFrame:
    return world.store.execute(world.store.backend.table("journeys")).to_pandas()


@pytest.fixture(scope="module")
def log(world: jl.Workspace, journeys: pd.DataFrame) -> pd.DataFrame:
    """Every journey event with its journey's type and outcome, in journey order (pandas)."""
    store = world.store
    je = store.execute(store.backend.table("journey_events")).to_pandas()
    events = store.table("events").select("event_id", "timestamp", "channel", "touchpoint", "direction")
    frame = je.merge(store.execute(events).to_pandas(), on="event_id")
    frame = frame.merge(journeys[["journey_id", "customer_id", "journey_type", "outcome"]], on="journey_id")
    return frame.sort_values(["journey_id", "step"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def purchase(log: pd.DataFrame) -> pd.DataFrame:
    return log[log.journey_type == "purchase"]


@pytest.fixture(scope="module")
def built(world: jl.Workspace) -> Section:
    result = discovery_section(world.store, world.config.journeys)
    assert result is not None
    return result


def table(section: Section, prefix: str) -> pd.DataFrame:
    found = [frame for name, frame in section.tables if name.startswith(prefix)]
    assert len(found) == 1, [name for name, _ in section.tables]
    return found[0]


def figure_titled(section: Section, prefix: str) -> object:
    found = [f for f in section.figures if str(f.layout.title.text).startswith(prefix)]
    assert len(found) == 1, [f.layout.title.text for f in section.figures]
    return found[0]


def count(text: str) -> int:
    return int(text.replace(",", ""))


def test_section_sits_after_journeys_and_waits_for_them(tmp_path: Path) -> None:
    keys = [key for key, _ in SECTIONS]
    assert keys.index("discovery") == keys.index("journeys") + 1
    ws = jl.Workspace.init(tmp_path / "ws")
    events = tmp_path / "events.csv"
    events.write_text(
        "user_id,timestamp,channel,touchpoint\n"
        "u1,2024-03-01T10:00:00Z,web,billing_faq\n"
        "u1,2024-03-01T10:05:00Z,call_center,billing_call\n"
    )
    ws.ingest(paths=[str(events)])
    assert discovery_section(ws.store) is None  # nothing stitched yet
    stitch(ws.store, ws.config.identity)
    assert discovery_section(ws.store) is None  # customers, but no journeys
    build_journeys(ws.store, ws.config.journeys)
    # One journey and none of the purchase touchpoints: each part that cannot apply says why.
    section = discovery_section(ws.store)
    assert section is not None
    assert "No purchase funnel: the events have 0 of its steps" in section.intro
    assert "Segments: " in section.intro  # no purchase journeys to build segments from
    assert section.facts["Journeys"] == "1"
    assert not any(name.startswith("Purchase funnel") for name, _ in section.tables)
    assert table(section, "Top 1 variants").journeys.tolist() == [1]
    report = write_report(ws.store, tmp_path / "report.html")
    assert f"<h2>{TITLE}</h2>" in report.read_text(encoding="utf-8")
    # A journeys table without rows: one sentence, no crash.
    ws.store.backend.raw_sql("DELETE FROM journeys")
    empty = discovery_section(ws.store)
    assert empty is not None and empty.intro.startswith("No journeys were found")
    ws.close()


def test_process_map_edges_match_a_count_of_consecutive_events(
    built: Section, purchase: pd.DataFrame
) -> None:
    nxt = purchase.groupby("journey_id")
    pairs = purchase.assign(
        target=nxt.touchpoint.shift(-1), seconds=nxt.timestamp.shift(-1) - purchase.timestamp
    )
    pairs = pairs[pairs.target.notna()]
    nodes = purchase.touchpoint.value_counts()
    shown = sorted(nodes.items(), key=lambda kv: (-kv[1], kv[0]))[:MAP_NODES]
    names = {name for name, _ in shown}
    grouped = pairs.groupby(["touchpoint", "target"])
    edges = [
        (s, t, len(g), g.journey_id.nunique(), duration_text(g.seconds.dt.total_seconds().median()))
        for (s, t), g in grouped
        if s in names and t in names
    ]
    edges.sort(key=lambda e: (-e[2], e[0], e[1]))
    got = table(built, f"Top {TOP_EDGES} transitions")
    assert len(got) == TOP_EDGES
    expected = edges[:TOP_EDGES]
    assert list(
        got[["source", "target", "count", "journeys", "median time"]].itertuples(index=False, name=None)
    ) == [tuple(e) for e in expected]
    figure = figure_titled(built, "Process map (touchpoint)")
    assert f"{MAP_NODES} of {len(nodes)} activities" in figure.layout.title.text  # type: ignore[attr-defined]
    assert f"touchpoints of {purchase.journey_id.nunique():,} purchase journeys" in built.intro


def test_variants_are_the_most_frequent_sequences(built: Section, purchase: pd.DataFrame) -> None:
    sequences = purchase.groupby("journey_id").touchpoint.agg(tuple)
    success = purchase.groupby("journey_id").outcome.first() == "success"
    counts = Counter(sequences)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    total = len(sequences)
    got = table(built, f"Top {TOP_VARIANTS} variants")
    assert len(got) == TOP_VARIANTS
    assert got.journeys.sum() <= total
    cumulative = 0
    for row, (steps, n) in zip(got.to_dict("records"), ranked, strict=False):
        cumulative += n
        assert row["variant"] == " → ".join(steps) and row["journeys"] == n and row["steps"] == len(steps)
        assert row["share"] == f"{n / total:.1%}" and row["cumulative"] == f"{cumulative / total:.1%}"
        wins = int(success[sequences[sequences == steps].index].sum())
        assert row["success rate"] == rate_cell(wins, n)
    needed = next(
        k for k in range(1, len(ranked) + 1) if sum(n for _, n in ranked[:k]) >= VARIANT_COVERAGE * total
    )
    assert built.facts["Variants"] == f"{len(counts):,}"
    assert built.facts["Variants covering 80%"] == f"{needed:,}"
    assert f"80% takes the {needed:,} most frequent" in built.intro


def _reached(journey: pd.DataFrame, steps: list[str]) -> int:
    """How far the best attempt of one journey gets through the ordered funnel (plain Python)."""
    rows = list(zip(journey.touchpoint, journey.timestamp, strict=True))
    best = 0
    for i, (touchpoint, start) in enumerate(rows):
        if touchpoint != steps[0]:
            continue
        level = 1
        for later, at in rows[i + 1 :]:
            if level < len(steps) and later == steps[level] and (at - start).total_seconds() <= WINDOW_S:
                level += 1
        best = max(best, level)
    return best


def test_funnel_counts_match_a_plain_python_funnel(built: Section, purchase: pd.DataFrame) -> None:
    steps = [s for s in FUNNEL_STEPS if s in set(purchase.touchpoint)]
    assert steps == list(FUNNEL_STEPS)  # the synthetic world has every step
    reached = purchase.groupby("journey_id").apply(_reached, steps, include_groups=False)
    units = [int((reached >= k).sum()) for k in range(1, len(steps) + 1)]
    # Step 1 independently: purchase journeys with a product page at all.
    assert units[0] == purchase[purchase.touchpoint == steps[0]].journey_id.nunique()
    got = table(built, "Purchase funnel")
    assert got.touchpoint.tolist() == steps
    assert got.journeys.tolist() == units
    for k, row in enumerate(got.to_dict("records")):
        assert row["from first step"] == rate_cell(units[k], units[0])
        assert row["from previous step"] == (rate_cell(units[k], units[k - 1]) if k else "")
        assert row["dropped off here"] == (units[k] - units[k + 1] if k + 1 < len(units) else 0)
    assert built.facts["Funnel conversion"] == rate_cell(units[-1], units[0])
    assert 0 < units[-1] < units[0]
    after = table(built, "Where journeys went after dropping off")
    per_step = after.groupby("dropped off after").journeys.sum()
    for k, step in enumerate(steps[:-1]):
        dropped = units[k] - units[k + 1]
        assert per_step.get(step, 0) == dropped
    funnel_chart = figure_titled(built, "Funnel (ordered")
    assert list(funnel_chart.data[0].x) == units  # type: ignore[attr-defined]


def _first_contacts(log: pd.DataFrame) -> Counter[str]:
    support = log[log.journey_type == "support"]
    assisted = JourneyRules().assisted_channels
    contacts = support[support.channel.isin(assisted) & (support.direction.fillna("") != "outbound")]
    return Counter(contacts.groupby("journey_id").touchpoint.first())


def test_paths_after_the_first_contact_reconcile(built: Section, log: pd.DataFrame) -> None:
    firsts = _first_contacts(log)
    anchor, first_of = sorted(firsts.items(), key=lambda kv: (-kv[1], kv[0]))[0]
    support = log[log.journey_type == "support"]
    selected = support.journey_id.nunique()
    # The next event after the anchor's first occurrence, per journey (None: the journey ends).
    after: list[str | None] = []
    for _, journey in support.groupby("journey_id"):
        touchpoints = journey.touchpoint.tolist()
        if anchor in touchpoints:
            at = touchpoints.index(anchor)
            after.append(touchpoints[at + 1] if at + 1 < len(touchpoints) else None)
    anchored = len(after)
    assert 0 < anchored < selected
    assert built.facts[f"Support journeys through {anchor}"] == f"{anchored:,} of {selected:,}"
    assert (
        f"Paths: {anchor} is the most frequent first contact ({first_of:,} support journeys)" in built.intro
    )
    assert (
        f"Totals reconcile: at every step, continuing, other and drop-off add up to {anchored:,}."
        in built.intro
    )
    nodes = table(built, f"Journeys at each step after {anchor}")
    assert sorted(set(nodes["steps after"])) == list(range(1, PATH_STEPS + 1))
    assert all(total == anchored for total in nodes.groupby("steps after").journeys.sum())
    first_step = nodes[nodes["steps after"] == 1]
    following = Counter(a for a in after if a is not None)
    top = dict(sorted(following.items(), key=lambda kv: (-kv[1], kv[0]))[:PATH_TOP])
    shown = dict(zip(first_step.touchpoint, first_step.journeys, strict=True))
    assert {k: v for k, v in shown.items() if k not in ("other", "drop-off")} == top
    assert shown.get("drop-off", 0) == after.count(None)
    sankey = figure_titled(built, "Paths (after)").data[0]  # type: ignore[attr-defined]
    start = list(sankey.node.label).index(anchor)
    assert (
        sum(v for s, v in zip(sankey.link.source, sankey.link.value, strict=True) if s == start) == anchored
    )


def test_touchpoint_inventory_counts_events_customers_and_journeys(
    built: Section, log: pd.DataFrame, journeys: pd.DataFrame
) -> None:
    grouped = log.groupby(["touchpoint", "channel"])
    per = pd.DataFrame(
        {
            "events": grouped.size(),
            "customers": grouped.customer_id.nunique(),
            "journeys": grouped.journey_id.nunique(),
            "wins": log[log.outcome == "success"].groupby(["touchpoint", "channel"]).journey_id.nunique(),
            # the success rate's denominator: journeys with a final outcome (not open or unknown)
            "final": log[~log.outcome.isin(["open", "unknown"])]
            .groupby(["touchpoint", "channel"])
            .journey_id.nunique(),
        }
    ).fillna(0)
    ranked = per.reset_index().sort_values(["events", "touchpoint", "channel"], ascending=[False, True, True])
    got = table(built, f"Top {TOP_TOUCHPOINTS} touchpoints by volume")
    assert len(got) == TOP_TOUCHPOINTS
    for row, want in zip(
        got.to_dict("records"), ranked.head(TOP_TOUCHPOINTS).to_dict("records"), strict=True
    ):
        assert (row["touchpoint"], row["channel"]) == (want["touchpoint"], want["channel"])
        assert (row["events"], row["customers"]) == (want["events"], want["customers"])
        assert row["share of journeys"] == f"{want['journeys'] / len(journeys):.1%}"
        assert row["success rate of its journeys"] == rate_cell(int(want["wins"]), int(want["final"]))
        assert re.fullmatch(r"(start|early|middle|late|end) \(\d\.\d\d\)", row["typical stage"])
    assert (
        f"The costs of all pairs add up to the journeys' cost to serve ({journeys.cost_to_serve.sum():,.2f})"
        in built.intro
    )


def test_builtin_segments_partition_customers_and_journeys(
    world: jl.Workspace, built: Section, journeys: pd.DataFrame
) -> None:
    got = table(built, "Built-in segments").set_index("segment")
    # Every journey's customer is in exactly one segment, so the rows add up.
    assert got.journeys.sum() == len(journeys)
    wins = [count(cell.split(" ")[-1].split("/")[0]) for cell in got["success rate"]]
    assert sum(wins) == int((journeys.outcome == "success").sum())
    # Successful purchases per stitched customer, from the journeys table: none makes a prospect,
    # one a first-time buyer, more a loyal or occasional one.
    cmap = world.store.execute(world.store.backend.table("customer_map")).to_pandas()
    bought = journeys[(journeys.journey_type == "purchase") & (journeys.outcome == "success")]
    purchases = bought.groupby("customer_id").size().reindex(cmap.customer_id.unique(), fill_value=0)
    repeat = sum(int(got.loc[s, "customers"]) for s in ("loyal", "occasional") if s in got.index)
    assert repeat == int((purchases >= 2).sum())
    for segment, bought_n in (("prospect", 0), ("first-time", 1)):
        members = purchases.index[purchases == bought_n]
        theirs = journeys[journeys.customer_id.isin(members)]
        row = got.loc[segment]
        assert row.customers == len(members) and row.journeys == len(theirs)
        defined = int((~theirs.outcome.isin(["unknown", "open"])).sum())  # over final outcomes
        assert row["success rate"] == rate_cell(int((theirs.outcome == "success").sum()), defined)
    for cell in [*got["q (success)"], *got["q (cost)"]]:
        q, _, star = cell.partition(" ")
        assert (float(q) < 0.05) == (star == "*"), cell
    assert len(got) >= 3
    figure_titled(built, "By segment")


def test_report_html_has_the_section_with_its_charts(
    world: jl.Workspace, built: Section, tmp_path: Path
) -> None:
    names = [s.title for s in build_sections(world.store, only=["journeys", "discovery"])]
    assert names == ["Journeys", TITLE]
    page = write_report(world.store, tmp_path / "report.html").read_text(encoding="utf-8")
    body = page.split(f"<h2>{TITLE}</h2>", 1)[1].split("</section>", 1)[0]
    assert body.count('class="plotly-graph-div"') == len(built.figures) >= 4
    assert "<script src=" not in page  # plotly.js is inlined, the report works offline
    assert "Purchase funnel" in body and "Top 15 touchpoints by volume" in body
