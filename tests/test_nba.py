"""Next best action: offline evaluation on a known-truth simulation, the power calculation against
statsmodels, and bad input (propensities outside (0, 1], unknown touchpoints, no decisions).

The simulation: 3 states, 3 actions, a hidden segment that moves both the logging propensity and
the reward (so per-action success rates are confounded). 500 replicates of 1,000 decisions, all
aggregated by the engine in one query (``decision_cells`` grouped by replicate). Measured
coverage of the 95% intervals of the candidate policy's value: DR 95.4%, SNIPS 94.8%, IPS 94.2%;
DR uplift of one action over another in one state 95.6%.
"""

from __future__ import annotations

import math
from pathlib import Path

import ibis
import numpy as np
import pyarrow as pa
import pytest
from statsmodels.stats.power import NormalIndPower, zt_ind_solve_power

import journeylens as jl
from conftest import quarantine_rows, table_rows
from journeylens.config import Config
from journeylens.nba import power
from journeylens.nba.catalogue import UnknownTouchpointError, check_touchpoints, load_actions
from journeylens.nba.evaluation import Cells, decision_cells, dr_uplift, exploration_share, policy_value
from journeylens.nba.offline import NO_DECISIONS, NO_PROPENSITY, offline

STATES, ACTIONS = ("s0", "s1", "s2"), ("a0", "a1", "a2")
P_STATE, P_SEGMENT = np.array([0.5, 0.3, 0.2]), np.array([0.6, 0.4])
BASE, SHIFT = np.array([0.3, 0.5, 0.4]), np.array([-0.1, 0.15])
EFFECT = np.array([[0.0, 0.1, 0.05], [0.0, -0.05, 0.12], [0.08, 0.0, 0.03]])
PROPENSITY = np.array([[0.6, 0.2, 0.2], [0.15, 0.45, 0.4]])  # per segment
POLICY = {"s0": "a1", "s1": "a2", "s2": "a0"}
TRUE_VALUE = sum(
    P_STATE[s] * P_SEGMENT[g] * (BASE[s] + SHIFT[g] + EFFECT[s, [1, 2, 0][s]])
    for s in range(3)
    for g in range(2)
)
TRUE_UPLIFT = EFFECT[0, 1] - EFFECT[0, 0]  # a1 over a0 in s0, the same for every segment
REPLICATES, DECISIONS = 500, 1_000


def _simulate(rng: np.random.Generator, replicates: int, n: int) -> pa.Table:
    total = replicates * n
    s = rng.choice(3, total, p=P_STATE)
    g = rng.choice(2, total, p=P_SEGMENT)
    p = PROPENSITY[g]
    a = np.minimum((rng.random(total)[:, None] > np.cumsum(p, axis=1)).sum(axis=1), 2)
    reward = (rng.random(total) < BASE[s] + SHIFT[g] + EFFECT[s, a]).astype(float)
    return pa.table({
        "replicate": np.repeat(np.arange(replicates), n), "state": np.array(STATES)[s],
        "action": np.array(ACTIONS)[a], "propensity": p[np.arange(total), a], "reward": reward,
    })  # fmt: skip


@pytest.fixture(scope="module")
def replicates() -> list[Cells]:
    con = ibis.duckdb.connect()
    t = ibis.memtable(_simulate(np.random.default_rng(1), REPLICATES, DECISIONS))
    cells = con.to_pyarrow(decision_cells(t, by=["replicate"]).order_by(["replicate", "state", "action"]))
    rep = cells.column("replicate").to_numpy()
    return [Cells.of(cells.filter(rep == k)) for k in range(REPLICATES)]


def _coverage(estimates: list[tuple[float | None, float | None]], truth: float) -> float:
    return float(np.mean([lo is not None and hi is not None and lo <= truth <= hi for lo, hi in estimates]))


def test_dr_is_unbiased_with_95_percent_coverage_ips_coverage_measured(replicates: list[Cells]) -> None:
    values = [policy_value(c, POLICY, STATES) for c in replicates]
    dr = np.array([v.dr.value for v in values])
    naive = np.array([v.logged.value for v in values])
    # bias within 3 standard errors of the replicate mean; the logged policy's value differs
    assert abs(dr.mean() - TRUE_VALUE) < 3 * dr.std() / math.sqrt(REPLICATES)
    assert abs(naive.mean() - TRUE_VALUE) > 0.02
    dr_cov = _coverage([v.dr.interval for v in values], TRUE_VALUE)
    ips_cov = _coverage([v.ips.interval for v in values], TRUE_VALUE)
    snips_cov = _coverage([v.snips.interval for v in values], TRUE_VALUE)
    assert 0.93 <= dr_cov <= 0.97, dr_cov  # measured 0.954
    assert 0.91 <= ips_cov <= 0.97, ips_cov  # measured 0.942
    assert 0.92 <= snips_cov <= 0.97, snips_cov  # measured 0.948
    ess = [v.ess for v in values]
    assert all(e is not None and 0 < e <= v.matched for e, v in zip(ess, values, strict=True))


def test_dr_uplift_interval_covers_the_true_uplift(replicates: list[Cells]) -> None:
    estimates = [dr_uplift(c, "s0", "a1", "a0") for c in replicates]
    values = np.array([e.value for e in estimates])
    assert abs(values.mean() - TRUE_UPLIFT) < 3 * values.std() / math.sqrt(REPLICATES)
    assert 0.93 <= _coverage([e.interval for e in estimates], TRUE_UPLIFT) <= 0.97  # measured 0.956


def test_estimates_match_a_per_decision_computation() -> None:
    """The sums-based formulas equal the textbook per-decision estimators on one sample."""
    data = _simulate(np.random.default_rng(5), 1, 400).to_pandas()
    cells = Cells.of(ibis.duckdb.connect().to_pyarrow(decision_cells(ibis.memtable(data))))
    got = policy_value(cells, POLICY, STATES)
    pi = data.state.map(POLICY)
    w = (data.action == pi) / data.propensity
    q = data.groupby(["state", "action"]).reward.mean()
    q_pi = [q[(s, POLICY[s])] for s in data.state]
    q_a = [q[(s, a)] for s, a in zip(data.state, data.action, strict=True)]
    dr_terms = np.array(q_pi) + w * (data.reward - np.array(q_a))
    assert got.ips.value == pytest.approx(float((w * data.reward).mean()), abs=1e-12)
    assert got.snips.value == pytest.approx(float((w * data.reward).sum() / w.sum()), abs=1e-12)
    assert got.dr.value == pytest.approx(float(dr_terms.mean()), abs=1e-12)
    assert got.dr.se == pytest.approx(float(dr_terms.std(ddof=1) / math.sqrt(len(data))), abs=1e-12)
    assert got.ess == pytest.approx(float(w.sum() ** 2 / (w**2).sum()), abs=1e-9)


@pytest.mark.parametrize(
    ("mde", "base", "ratio"), [(0.02, 0.45, 1.0), (0.05, 0.3, 1.0), (0.1, 0.6, 2.0), (0.01, 0.1, 0.5)]
)
def test_sample_size_matches_statsmodels(mde: float, base: float, ratio: float) -> None:
    variance = base * (1 - base)
    ours = power.sample_size(mde, variance, ratio=ratio)
    effect = mde / math.sqrt(variance)
    theirs = zt_ind_solve_power(
        effect_size=effect, alpha=0.05, power=0.8, ratio=ratio, alternative="two-sided"
    )
    assert ours == pytest.approx(theirs, rel=1e-6)
    achieved = NormalIndPower().power(effect, ours, 0.05, ratio=ratio, alternative="two-sided")
    assert achieved == pytest.approx(0.8, abs=1e-9)


def test_proposed_experiment_rounds_up_and_counts_days() -> None:
    design = power.propose("offer_chat", "none", ["support|track_order"], 0.45, 0.05, "given", 100.0)
    assert design.per_variant == math.ceil(power.sample_size(0.05, 0.45 * 0.55))
    assert design.total == 2 * design.per_variant
    assert design.days == pytest.approx(design.total / 100.0)


def test_exploration_share_sizes_the_effective_sample() -> None:
    proposal = exploration_share(decisions_per_state=20_000, actions=4)
    assert proposal["share"] == pytest.approx(4 * 400 / 20_000)
    assert exploration_share(100, 4)["share"] == 1.0


DECISIONS_CSV = """\
timestamp,user_id,state,action,propensity,reward
2026-01-02T10:00:00Z,u1,support|web,offer_chat,0.25,1
2026-01-02T10:00:00Z,u2,support|web,none,0,1
2026-01-02T10:00:00Z,u3,support|web,none,1.5,0
2026-01-02T10:00:00Z,u4,support|web,none,1,0
2026-01-02T10:00:00Z,u5,support|web,none,,1
"""


def test_propensities_outside_0_1_are_quarantined_empty_ones_kept(
    workspace: jl.Workspace, tmp_path: Path
) -> None:
    path = tmp_path / "decisions.csv"
    path.write_text(DECISIONS_CSV)
    (report,) = workspace.ingest(paths=[str(path)], table="decisions", max_bad=10)
    assert (report.loaded, report.quarantined_total) == (3, 2)
    assert [(q["line"], q["reason"], q["field"]) for q in quarantine_rows(workspace)] == [
        (3, "bad_propensity", "propensity"),
        (4, "bad_propensity", "propensity"),
    ]
    assert "outside (0, 1]" in quarantine_rows(workspace)[0]["message"]
    kept = sorted(table_rows(workspace, "decisions"), key=lambda r: r["user_id"])
    assert [r["propensity"] for r in kept] == [0.25, 1.0, None]
    result = offline(workspace.store, "none", {})
    assert result.excluded == {"no_propensity": 1, "no_reward": 0}
    assert result.decisions == 3


def test_no_decisions_or_no_propensities_give_no_offline_estimate(
    workspace: jl.Workspace, tmp_path: Path
) -> None:
    assert offline(workspace.store, "none", {}).reason == NO_DECISIONS
    path = tmp_path / "decisions.csv"
    path.write_text(
        "timestamp,user_id,state,action,reward\n2026-01-02T10:00:00Z,u1,s,a,1\n2026-01-02T10:00:00Z,u2,s,b,0\n"
    )
    workspace.ingest(paths=[str(path)], table="decisions")
    result = offline(workspace.store, "none", {})
    assert result.reason == NO_PROPENSITY and result.actions == []
    assert result.exploration["share"] is not None and "randomise" in result.exploration["reason"]


def test_catalogue_naming_an_unknown_touchpoint_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "actions.yaml"
    path.write_text("actions:\n  - name: offer_chat\n    touchpoint: delivery_chatt\n    cost: 2\n")
    settings = load_actions(path)
    with pytest.raises(UnknownTouchpointError) as err:
        check_touchpoints(settings, ["delivery_chat", "track_order"], path)
    assert "delivery_chatt" in str(err.value) and "line 3: field 'actions[0].touchpoint'" in str(err.value)
    assert "delivery_chat" in (err.value.hint or "")
    path.write_text("actions:\n  - name: offer_chat\n    cost: -1\n")
    with pytest.raises(Exception, match=r"line 3.*cost"):
        load_actions(path)


def test_catalogue_in_journeylens_toml_round_trips(tmp_path: Path) -> None:
    config = Config.new(nba={"actions": [{"name": "offer_chat", "touchpoint": "delivery_chat", "cost": 2.5}]})
    config.dump(tmp_path / "journeylens.toml")
    loaded = Config.load(tmp_path / "journeylens.toml").nba
    assert [(a.name, a.touchpoint, a.cost) for a in loaded.actions] == [("offer_chat", "delivery_chat", 2.5)]
    assert loaded.baseline == "none"
