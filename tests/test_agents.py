"""``journeylens agents``: reference computations and bad input.

O/E and the funnel limits against a hand computation; the empirical-Bayes model against
statsmodels fitted directly on the same aggregated data; ``employee_feedback`` validation (scores
outside a metric's range quarantined, training rows without a score kept); agents missing from the
``agents`` table kept and counted; the CLI's JSON on a story workspace.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pytest
from typer.testing import Result

import journeylens as jl
from conftest import quarantine_rows, table_rows, write_csv
from journeylens.model import build_model
from journeylens.workforce import casemix, employees, shrinkage
from test_feedback_links import ANSWERS, EVENTS
from test_journeys import at
from test_outcome_evidence import call

# Two case-mix cells: A resolves 3 of 4 (rate 0.75), B 1 of 4 (rate 0.25).
HAND = [("x", "A", 1), ("x", "A", 1), ("x", "A", 1), ("x", "B", 0),
        ("y", "A", 0), ("y", "B", 1), ("y", "B", 0), ("y", "B", 0)]  # fmt: skip


def test_observed_expected_and_funnel_limits_match_a_hand_computation() -> None:
    con = ibis.duckdb.connect()
    t = con.create_table("c", pd.DataFrame(HAND, columns=["agent", "cell", "fcr"]))
    rows = {
        r["agent"]: r
        for r in con.to_pyarrow(casemix.observed_expected(t, "fcr", ["cell"], ["agent"])).to_pylist()
    }
    x, y = rows["x"], rows["y"]
    # x: O = 3, E = 3 * 0.75 + 0.25 = 2.5, V = 4 * 0.75 * 0.25 = 0.75; y: O = 1, E = 1.5, V = 0.75
    assert (x["n"], x["observed"], y["observed"]) == (4, 3, 1)
    assert x["expected"] == pytest.approx(2.5, abs=1e-12) and y["expected"] == pytest.approx(1.5, abs=1e-12)
    assert x["variance"] == pytest.approx(0.75, abs=1e-12) and y["variance"] == pytest.approx(0.75, abs=1e-12)
    unit = casemix.Standardised(4, 3, 2.5, 0.75)
    assert unit.ratio == pytest.approx(1.2, abs=1e-12)
    # 1 +- z sqrt(V) / E with z = 1.959963984540054 (95%) and 3.090232306167813 (99.8%)
    half95, half998 = 1.959963984540054 * math.sqrt(0.75) / 2.5, 3.090232306167813 * math.sqrt(0.75) / 2.5
    assert unit.limits(casemix.Z95) == pytest.approx((1 - half95, 1 + half95), abs=1e-12)
    assert unit.limits(casemix.Z998) == pytest.approx((1 - half998, 1 + half998), abs=1e-12)
    assert half95 == pytest.approx(0.678952, abs=1e-6) and half998 == pytest.approx(1.070488, abs=1e-6)
    assert unit.interval() == pytest.approx((1.2 - half95, 1.2 + half95), abs=1e-12)
    assert unit.funnel() == "within"
    # far outside: 30 of 30 where 15 were expected (V = 7.5): above the 99.8% limit 1 + 3.09 * 0.18
    assert casemix.Standardised(30, 30, 15.0, 7.5).funnel() == "above"
    assert casemix.Standardised(30, 21, 15.0, 7.5).funnel() == "above 95%"  # 1.4: past 1.358, not 1.564
    record = unit.record(0.5)
    assert record["adjusted"] == pytest.approx(0.6) and record["oe"] == pytest.approx(1.2)


def _cells() -> shrinkage.CellCounts:
    rng = np.random.default_rng(5)
    agents = [f"a{i}" for i in range(12)]
    rows = [(a, f"t{i % 3}", rate) for i, a in enumerate(agents) for rate in (0.3, 0.6, 0.8)]
    trials = rng.integers(5, 30, len(rows))
    successes = rng.binomial(trials, [r for _, _, r in rows])
    return shrinkage.CellCounts(
        agent=[a for a, _, _ in rows], team=[t for _, t, _ in rows], rate=np.array([r for _, _, r in rows]),
        trials=trials, successes=successes,
    )  # fmt: skip


def test_mixed_model_equals_statsmodels_fitted_directly_on_the_same_counts() -> None:
    from statsmodels.genmod.bayes_mixed_glm import BinomialBayesMixedGLM

    cells = _cells()
    ours = shrinkage.fit_effects(cells)
    # The reference: one 0/1 row per trial written out by hand, and statsmodels' formula interface.
    records = []
    for a, t, p, n, k in zip(cells.agent, cells.team, cells.rate, cells.trials, cells.successes, strict=True):
        records += [{"y": float(i < k), "lp": math.log(p / (1 - p)), "team": t, "agent": a} for i in range(n)]
    frame = pd.DataFrame(records)
    teams, agents = sorted(set(cells.team)), sorted(set(cells.agent))
    # Same columns in the same order (teams, then agents), dense: the same computation, to 1e-9.
    exog_vc = np.column_stack(
        [(frame.team == t).to_numpy(float) for t in teams]
        + [(frame.agent == a).to_numpy(float) for a in agents]
    )
    exog = np.column_stack([np.ones(len(frame)), frame.lp.to_numpy()])
    ident = np.array([0] * len(teams) + [1] * len(agents))
    reference = BinomialBayesMixedGLM(frame.y.to_numpy(), exog, exog_vc, ident, vcp_p=1.0, fe_p=2.0)
    direct = reference.fit_vb(sd=np.full(2 + 2 + len(teams) + len(agents), math.exp(-0.5)))
    assert ours.contacts == len(frame)
    assert ours.fixed == pytest.approx(tuple(direct.fe_mean), abs=1e-9)
    for i, team in enumerate(teams):
        assert ours.team[team] == pytest.approx((direct.vc_mean[i], direct.vc_sd[i]), abs=1e-9)
    for j, agent in enumerate(agents):
        u = direct.vc_mean[teams.index(cells.team[cells.agent.index(agent)])]
        assert ours.agent[agent][0] == pytest.approx(u + direct.vc_mean[len(teams) + j], abs=1e-9)
    # statsmodels' formula interface orders the columns its own way; the optimiser then stops at a
    # slightly different point of the same optimum (BFGS tolerance), so 1e-6 there.
    model = BinomialBayesMixedGLM.from_formula(
        "y ~ lp", {"team": "0 + C(team)", "agent": "0 + C(agent)"}, frame, vcp_p=1.0, fe_p=2.0
    )
    means = dict(zip(model.vc_names, model.fit_vb(sd=shrinkage.start_sd(model)).vc_mean, strict=True))
    for team, (effect, _) in ours.team.items():
        assert effect == pytest.approx(means[f"C(team)[{team}]"], abs=1e-6)


def test_within_team_slope_and_difference_in_differences_by_hand() -> None:
    cells = [
        {"team": "t", "n": 100, "observed": 60, "expected": 55.0, "variance": 24.0, "engagement": 4.0},
        {"team": "t", "n": 100, "observed": 50, "expected": 55.0, "variance": 24.0, "engagement": 3.0},
    ]  # fmt: skip
    link = employees.within_team_slope(cells)
    # x = +-0.5, y = +-0.05: slope = sum n x y / sum n x^2 = 5 / 50 = 0.1; se = sqrt(2 * 0.25 * 24) / 50
    assert link["slope"] == pytest.approx(0.1) and link["se"] == pytest.approx(math.sqrt(12) / 50)
    did = employees.difference_in_differences({
        (True, False): {"n": 100, "observed": 50, "expected": 50.0, "variance": 25.0},
        (True, True): {"n": 100, "observed": 60, "expected": 50.0, "variance": 25.0},
        (False, False): {"n": 200, "observed": 100, "expected": 100.0, "variance": 50.0},
        (False, True): {"n": 200, "observed": 102, "expected": 100.0, "variance": 50.0},
    })  # fmt: skip
    assert did["effect"] == pytest.approx(0.1 - 0.01)
    assert did["se"] == pytest.approx(math.sqrt(2 * 25 / 100**2 + 2 * 50 / 200**2))


STAFF = [
    {"agent_id": "a1", "timestamp": at(0), "metric": "engagement", "score": 4},
    {"agent_id": "a1", "timestamp": at(1), "metric": "training", "score": "", "comment": "coaching"},
    {"agent_id": "a2", "timestamp": at(1), "metric": "enps", "score": 9},
    {"agent_id": "a2", "timestamp": at(2), "metric": "pulse", "score": 2},
    {"agent_id": "ghost", "timestamp": at(2), "metric": "engagement", "score": 3},  # not in agents
    {"agent_id": "a2", "timestamp": at(3), "metric": "engagement", "score": 7},  # outside 1-5
    {"agent_id": "a2", "timestamp": at(3), "metric": "enps", "score": 11},  # outside 0-10
    {"agent_id": "a1", "timestamp": at(3), "metric": "pulse", "score": 0},  # outside 1-5
    {"agent_id": "a1", "timestamp": at(4), "metric": "engagement", "score": ""},  # missing score
    {"agent_id": "a1", "timestamp": at(4), "metric": "mood", "score": 3},  # unknown metric
]
AGENTS = [{"agent_id": "a1", "team": "billing"}, {"agent_id": "a2", "team": "care"},
          {"agent_id": "a3", "team": "care"}]  # fmt: skip


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[jl.Workspace]:
    tmp_path = tmp_path_factory.mktemp("agents")
    ws = jl.Workspace.init(tmp_path / "ws")
    # a7 is in no agents file; fay's call carries its handle time (seconds) as a property
    events = [*EVENTS, call("fay", 0, "billing", "a7", handle_time_s=300)]
    ws.ingest(paths=[str(write_csv(tmp_path, "events.csv", events))])
    ws.ingest(paths=[str(write_csv(tmp_path, "feedback.csv", ANSWERS))], table="feedback")
    ws.ingest(paths=[str(write_csv(tmp_path, "agents.csv", AGENTS))], table="agents")
    ws.ingest(paths=[str(write_csv(tmp_path, "staff.csv", STAFF))], table="employee_feedback")
    build_model(ws.store, ws.config)
    yield ws
    ws.close()


def test_employee_feedback_out_of_range_scores_are_quarantined_valid_rows_kept(story: jl.Workspace) -> None:
    kept = table_rows(story, "employee_feedback")
    assert sorted((r["agent_id"], r["metric"]) for r in kept) == [
        ("a1", "engagement"), ("a1", "training"), ("a2", "enps"), ("a2", "pulse"), ("ghost", "engagement"),
    ]  # fmt: skip
    bad = {
        (q["field"], q["reason"], q["line"])
        for q in quarantine_rows(story)
        if q["table"] == "employee_feedback"
    }
    assert bad == {("score", "bad_value", 7), ("score", "bad_value", 8), ("score", "bad_value", 9),
                   ("score", "missing_field", 10), ("metric", "bad_value", 11)}  # fmt: skip
    messages = [q["message"] for q in quarantine_rows(story) if q["table"] == "employee_feedback"]
    assert any("7.0 is outside the range of metric engagement" in m for m in messages)


def test_unknown_agents_are_kept_and_counted(story: jl.Workspace) -> None:
    result = story.agents(by="team", no_shrinkage=True)
    ctx = result.context
    assert ctx["journeys"] == 3  # cat (a1), eve (first a2), fay (a7)
    assert ctx["unknown_agent_journeys"] == 1  # fay's agent a7
    assert ctx["unknown_agent_feedback"] == 1  # the answer naming a9
    assert ctx["unknown_agent_employee_feedback"] == 1  # ghost
    units = {r["unit"]: r for r in result.records()}
    assert set(units) == {"billing", "care", "(unknown agent)"}
    assert "not adjusted" in units["(unknown agent)"]["reason"]
    # too few contacts for an adjusted rate: counts shown, the reason says so
    assert units["billing"]["oe"] is None and "min_contacts" in units["billing"]["reason"]
    assert units["billing"]["csat"] == 1.0 and units["billing"]["csat_n"] == 1  # cat's CSAT 5 about a1


def test_cli_json_has_every_agent_with_denominators(
    story: jl.Workspace, run_cli: Callable[[Sequence[str]], Result]
) -> None:
    result = run_cli(["agents", "--workspace", str(story.root), "--format", "json", "--min-contacts", "1"])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    by_unit = {r["unit"]: r for r in data["rows"]}
    assert set(by_unit) == {"a1", "a2", "a7"}
    assert by_unit["a1"]["journeys"] == 1 and by_unit["a1"]["fcr_n"] in (0, 1)
    assert by_unit["a7"]["handle_s"] == 300 and by_unit["a1"]["handle_s"] is None  # only when present
    assert data["by"] == "agent" and data["case_mix"][0] == "journey_type"
