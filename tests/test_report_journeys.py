"""The report's Journeys section agrees with the journeys table, counted again with pandas."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import journeylens as jl
from journeylens.identity import stitch
from journeylens.journeys import build_journeys
from journeylens.journeys.definitions import EXAMPLE_COSTS
from journeylens.report import SECTIONS, build_sections
from journeylens.report.journeys import TOP_LEAKAGE, journeys_section, rate_cell
from journeylens.report.sections import CHANNEL_COLORS, Section
from journeylens.synth import generate_world

CELL = re.compile(r"^(\d+\.\d)% \((\d+\.\d)–(\d+\.\d)%\) ([\d,]+)/([\d,]+)$")


def parse_cell(text: str) -> tuple[float, float, float, int, int]:
    """A rate cell (see ``rate_cell``) -> (rate %, low %, high %, numerator, denominator)."""
    match = CELL.match(text)
    assert match, f"not a rate cell: {text!r}"
    rate, lo, hi, n, d = match.groups()
    return float(rate), float(lo), float(hi), int(n.replace(",", "")), int(d.replace(",", ""))


def expect_rate(cell: str, n: int, d: int) -> None:
    rate, lo, hi, got_n, got_d = parse_cell(cell)
    assert (got_n, got_d) == (n, d), cell
    assert rate == pytest.approx(100 * n / d, abs=0.05), cell
    assert lo <= rate <= hi, cell
    if 0 < n < d:
        assert lo < rate < hi, cell


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[jl.Workspace]:
    """A small synthetic world (150 customers), stitched and split into journeys."""
    root = tmp_path_factory.mktemp("journeys_report")
    generate_world(root / "data", customers=150, seed=3)
    ws = jl.Workspace.init(root / "ws", timezone="UTC")
    ws.config.journeys.costs = dict(EXAMPLE_COSTS)  # priced like the demo workspace
    ws.config.dump(ws.root / "journeylens.toml")
    for table in ("agents", "customers", "identities", "events"):
        ws.ingest(paths=[str(root / "data" / table)], table=table)
    stitch(ws.store, ws.config.identity)
    build_journeys(ws.store, ws.config.journeys)
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def frame(world: jl.Workspace) -> pd.DataFrame:
    """The whole journeys table in pandas (a few hundred rows)."""
    return world.store.execute(world.store.backend.table("journeys")).to_pandas()


@pytest.fixture(scope="module")
def built(world: jl.Workspace) -> Section:
    result = journeys_section(world.store)
    assert result is not None
    return result


def table(section: Section, name: str) -> pd.DataFrame:
    tables = dict(section.tables)
    assert name in tables, list(tables)
    return tables[name]


def test_rate_cell_shows_rate_interval_and_counts() -> None:
    assert rate_cell(1480, 2384) == "62.1% (60.1–64.0%) 1,480/2,384"
    assert rate_cell(0, 5) == "0.0% (0.0–43.4%) 0/5"
    assert rate_cell(0, 0) == "not defined"  # no denominator: no rate, never 0%


def test_section_sits_after_customers_and_waits_for_journeys(tmp_path: Path) -> None:
    keys = [key for key, _ in SECTIONS]
    assert keys.index("journeys") == keys.index("customers") + 1
    ws = jl.Workspace.init(tmp_path / "ws")
    events = tmp_path / "events.csv"
    events.write_text(
        "user_id,timestamp,channel,touchpoint\n"
        "u1,2024-03-01T10:00:00Z,web,billing_faq\n"
        "u1,2024-03-01T10:05:00Z,call_center,billing_call\n"
    )
    ws.ingest(paths=[str(events)])
    assert journeys_section(ws.store) is None  # nothing stitched yet
    stitch(ws.store, ws.config.identity)
    assert journeys_section(ws.store) is None  # customers, but no journeys
    assert "Journeys" not in [s.title for s in build_sections(ws.store)]
    build_journeys(ws.store, ws.config.journeys)
    assert "Journeys" in [s.title for s in build_sections(ws.store)]
    ws.close()


def test_headline_facts_match_the_journeys_table(built: Section, frame: pd.DataFrame) -> None:
    facts = built.facts
    assert facts["Journeys"] == f"{len(frame):,}"
    # Outcome rates are over journeys with a final outcome: not the 'other' journeys (no type
    # defines their outcome) and not the open ones (not over at the data's end).
    defined = frame[~frame.outcome.isin(["unknown", "open"])]
    assert set(frame.journey_type[frame.outcome == "unknown"]) == {"other"}
    assert facts["Unknown outcomes"] == f"{int((frame.outcome == 'unknown').sum()):,}"
    assert facts["Open journeys"] == f"{int((frame.outcome == 'open').sum()):,}"
    expect_rate(facts["Success rate"], int((frame.outcome == "success").sum()), len(defined))
    successes = frame[frame.outcome == "success"]
    observed = int((successes.outcome_evidence == "success_event").sum())
    assert facts["Successes observed / inferred"].startswith(
        f"{observed:,} / {len(successes) - observed:,} ("
    )
    digital = frame[frame.digital_events > 0]
    expect_rate(facts["Leakage rate"], int(digital.leakage.sum()), len(digital))
    contacted = frame[frame.assisted_contacts > 0]
    fcr = int(contacted.first_contact_resolution.eq(True).sum())
    expect_rate(
        facts["First-contact resolution"], fcr, int((~contacted.outcome.isin(["unknown", "open"])).sum())
    )
    expect_rate(facts["Repeat journeys"], int(frame.repeat_journey.sum()), len(frame))
    assert facts["Total cost to serve"] == f"{frame.cost_to_serve.sum():,.2f}"
    # The world is rich enough that these rates are not trivially 0 or 100%.
    assert 0 < len(contacted) < len(frame) and 0 < digital.leakage.sum() < len(digital)


def test_rates_by_journey_type_carry_their_denominators(built: Section, frame: pd.DataFrame) -> None:
    by_type = table(built, "Outcome rates by journey type").set_index("journey type")
    assert set(by_type.index) == set(frame.journey_type)
    for journey_type, group in frame.groupby("journey_type"):
        row = by_type.loc[journey_type]
        assert row["journeys"] == f"{len(group):,}"
        if journey_type == "other":  # no type claims them, so nothing defines their outcome
            assert (row["success"], row["abandoned"]) == ("not defined", "not defined")
        else:
            final = int((group.outcome != "open").sum())
            expect_rate(row["success"], int((group.outcome == "success").sum()), final)
            expect_rate(row["abandoned"], int((group.outcome == "abandoned").sum()), final)
        contacted = group[group.assisted_contacts > 0]
        if len(contacted):
            expect_rate(row["repeat contact"], int((contacted.repeat_contacts > 0).sum()), len(contacted))
        else:
            assert row["repeat contact"] == "not defined"


def _segments(world: jl.Workspace, frame: pd.DataFrame) -> pd.Series:
    """Journeys per segment, from the customer map and the customers' traits, in pandas."""
    store = world.store
    cmap = store.execute(store.backend.table("customer_map")).to_pandas()
    users = cmap[cmap.identifier_type == "user_id"][["identifier_value", "customer_id"]]
    customers = store.execute(store.table("customers").select("user_id", "traits")).to_pandas()
    customers["segment"] = [json.loads(t).get("segment") for t in customers.traits]
    linked = users.merge(customers, left_on="identifier_value", right_on="user_id")
    segment = linked.groupby("customer_id").segment.max()
    named = frame.customer_id.map(segment).fillna("(unknown)")
    return named.value_counts()


def test_rates_by_segment_cover_every_journey(
    world: jl.Workspace, built: Section, frame: pd.DataFrame
) -> None:
    by_segment = table(built, "Outcome rates by customer segment").set_index("segment")
    expected = _segments(world, frame)
    got = by_segment["journeys"].str.replace(",", "").astype(int)
    assert got.sort_index().to_dict() == expected.sort_index().to_dict()
    assert len(expected) >= 3
    for cell in by_segment["success"]:
        parse_cell(cell)


def test_top_leakage_touchpoints(built: Section, frame: pd.DataFrame) -> None:
    top = table(built, "Top leakage touchpoints")
    leaked = frame[frame.leakage.astype(bool)]
    counts = leaked.leakage_touchpoint.value_counts()
    expected = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_LEAKAGE]
    assert list(zip(top.leakage_touchpoint, top.journeys, strict=True)) == expected
    assert top.share.iloc[0] == pytest.approx(expected[0][1] / len(leaked), abs=1e-4)
    assert any(f.layout.title.text.startswith("Top 15 leakage") for f in built.figures)


def test_assisted_contacts_per_support_journey(built: Section, frame: pd.DataFrame) -> None:
    contacts = table(built, "Assisted contacts per support journey")
    support = frame[frame.journey_type == "support"]
    expected = support.assisted_contacts.value_counts().sort_index()
    assert dict(zip(contacts.assisted_contacts, contacts.journeys, strict=True)) == expected.to_dict()
    assert contacts.share.sum() == pytest.approx(1.0, abs=1e-3)


def test_cost_to_serve_by_type_and_first_channel(built: Section, frame: pd.DataFrame) -> None:
    cost = table(built, "Cost to serve by journey type and first channel")
    expected = frame.groupby(["journey_type", "first_channel"]).cost_to_serve.agg(["sum", "mean", "size"])
    assert len(cost) == len(expected)
    for row in cost.itertuples(index=False):
        want = expected.loc[(row.journey_type, row.first_channel)]
        assert row.total == f"{want['sum']:,.2f}" and row.mean == f"{want['mean']:,.2f}"
        assert row.journeys == want["size"]
    figure = next(f for f in built.figures if f.layout.title.text.startswith("Cost to serve"))
    colours: dict[str, Any] = {trace.name: trace.marker.color for trace in figure.data}
    assert colours and all(colours[ch] == CHANNEL_COLORS[ch] for ch in colours)


def test_outcome_chart_counts_every_journey_once(built: Section, frame: pd.DataFrame) -> None:
    figure = built.figures[0]
    assert figure.layout.title.text == "Journeys by type and outcome"
    bars = {(x, trace.name): y for trace in figure.data for x, y in zip(trace.x, trace.y, strict=True)}
    expected = frame.groupby(["journey_type", "outcome"]).size().to_dict()
    assert bars == expected
