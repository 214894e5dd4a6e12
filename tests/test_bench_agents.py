"""The hand-written SQL floor of ``agents`` (benchmark/agent_stages.py) computes the same figures
as the analysis on a small synthetic world: per-agent counts, scores and O/E, the mixed model's
cells, the engagement and training groups and the unknown-agent counts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import journeylens as jl
from journeylens.benchmark.agent_stages import floor_figures, result_figures, run_floor
from journeylens.identity.stitch import stitch
from journeylens.journeys import build_journeys
from journeylens.specs.agents import AgentsSpec
from journeylens.synth import generate_world
from journeylens.workforce import casemix
from journeylens.workforce.agents import AgentsResult, agents
from journeylens.workforce.contacts import first_contacts

TABLES = ("events", "identities", "customers", "agents", "employee_feedback", "feedback")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[jl.Workspace]:
    root: Path = tmp_path_factory.mktemp("agents_floor")
    generate_world(root / "world", customers=1_500, seed=5)
    ws = jl.Workspace.init(root / "ws", timezone="Europe/Amsterdam")
    ws.config.privacy.default_country_code = "31"
    for table in TABLES:
        ws.ingest(paths=[str(root / "world" / table)], table=table)
    stitch(ws.store, ws.config.identity)
    build_journeys(ws.store, ws.config.journeys)
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def both(world: jl.Workspace) -> tuple[AgentsResult, dict[str, object]]:
    spec = AgentsSpec(no_shrinkage=True)
    result = agents(world.store, spec)
    floor = run_floor(world.store.backend.con, world.store.timezone, spec.repeat_days)
    return result, floor


def test_floor_agrees_with_the_analysis_per_agent(both: tuple[AgentsResult, dict[str, object]]) -> None:
    result, floor = both
    spec = AgentsSpec()
    mine = result_figures(result.records())
    theirs = floor_figures(floor["agents"], spec.min_contacts)  # type: ignore[arg-type]
    assert mine == theirs
    assert len(mine) > 20 and sum(f[0] for f in mine.values()) == result.context["journeys"]
    # Something to compare: scores, repeats, next journeys and O/E are not all empty (the synthetic
    # world has no transfers).
    assert sum(f[10] for f in mine.values()) > 0 and sum(f[12] for f in mine.values()) > 0
    assert sum(f[5] for f in mine.values()) > 0 and sum(f[9] for f in mine.values()) > 0
    assert any(f[14] is not None for f in mine.values())


def test_floor_agrees_on_engagement_training_and_unknown_agents(
    both: tuple[AgentsResult, dict[str, object]],
) -> None:
    result, floor = both
    keys = ("team", "month", "n", "observed", "answers")
    engagement = result.context["engagement"]
    assert engagement["cells"], engagement
    assert [tuple(c[k] for k in keys) for c in engagement["cells"]] == [
        tuple(c[k] for k in keys)
        for c in floor["engagement"]  # type: ignore[attr-defined]
    ]
    for mine, theirs in zip(engagement["cells"], floor["engagement"], strict=True):  # type: ignore[call-overload]
        assert mine["expected"] == pytest.approx(theirs["expected"], rel=1e-9)
        assert mine["engagement"] == pytest.approx(theirs["engagement"], rel=1e-12)
    groups = result.context["training"]["groups"]
    assert [(g["trained"], g["after"], g["n"], g["observed"]) for g in groups] == [
        (g["trained"], g["after"], g["n"], g["observed"])
        for g in floor["training"]  # type: ignore[attr-defined]
    ]
    unknown = floor["unknown"]
    assert (
        result.context["unknown_agent_journeys"],
        result.context["unknown_agent_feedback"],
        result.context["unknown_agent_employee_feedback"],
    ) == (unknown["journeys"], unknown["feedback"], unknown["employee_feedback"])  # type: ignore[index]


def test_floor_agrees_on_the_mixed_models_cells(
    world: jl.Workspace, both: tuple[AgentsResult, dict[str, object]]
) -> None:
    spec = AgentsSpec()
    rows = first_contacts(world.store, spec)
    known = rows.filter(rows.known_agent)
    cells = world.store.execute(casemix.cell_counts(known, "fcr", spec.case_mix, ["agent_id", "team"]))
    mine = sorted((r["agent_id"], r["trials"], r["successes"]) for r in cells.to_pylist())
    theirs = sorted((r["agent_id"], r["trials"], r["successes"]) for r in both[1]["cells"])  # type: ignore[attr-defined]
    assert mine == theirs and len(mine) > 50
