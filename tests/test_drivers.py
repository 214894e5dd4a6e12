"""``journeylens drivers``: the decomposition against references, the feature rules on a story,
bad input, and the surfaces (CLI JSON, plot) on a small synthetic world.

References: LMG equals a brute-force Shapley value over all subsets fitted with statsmodels OLS on
the journeys one by one (the patterns with counts are exact); LMG sums to R²; Johnson's relative
weights stay within 0.005 of the exact LMG shares on a correlated example; bootstrap percentile
intervals cover the population shares in a simulation (measured: 0.93-0.96 over 100 samples).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import statsmodels.api as sm
from typer.testing import Result

import journeylens as jl
from conftest import write_csv
from honest_output import degenerate, stated_undefined
from journeylens.decisions import drivers_stats as ds
from journeylens.decisions.drivers import DriversError, feature_patterns, key_drivers
from journeylens.decisions.drivers_features import analysed_journeys, counted_steps
from journeylens.errors import InputError
from journeylens.model import build_model
from journeylens.specs.drivers import DriversSpec
from journeylens.synth import generate_world

# Three predictors intercorrelated at 0.5 with validities 0.5, 0.4 and 0.3 (a textbook case of
# correlated predictors): R² = 0.28; LMG shares 59.3 / 29.0 / 11.7%, relative weights 59.1 /
# 29.4 / 11.5%.
EQUI = np.array([[1, 0.5, 0.5], [0.5, 1, 0.5], [0.5, 0.5, 1]], dtype=float)
VALIDITY = np.array([0.5, 0.4, 0.3])


def test_relative_weights_match_exact_lmg_shares_on_correlated_predictors() -> None:
    d = ds.decompose(EQUI, VALIDITY, exact=True)
    assert d.r2 == pytest.approx(0.28, abs=1e-12)
    assert d.lmg is not None
    assert np.abs(d.weights / d.r2 - d.lmg / d.r2).max() < 0.005
    assert d.lmg / d.r2 == pytest.approx([0.5933, 0.2897, 0.1171], abs=1e-4)
    assert d.weights.sum() == pytest.approx(d.r2, abs=1e-12)


def test_stack_loss_r2_is_the_ols_r2_and_the_two_splits_differ_by_under_one_point() -> None:
    data = sm.datasets.stackloss.load_pandas().data
    x = data[["AIRFLOW", "WATERTEMP", "ACIDCONC"]].to_numpy(float)
    y = data["STACKLOSS"].to_numpy(float)
    rxx, rxy = ds.weighted_correlation(x, y, np.ones(len(y)))
    d = ds.decompose(rxx, rxy, exact=True)
    assert d.r2 == pytest.approx(sm.OLS(y, sm.add_constant(x)).fit().rsquared, abs=1e-12)
    assert d.lmg is not None
    # Air flow and water temperature correlate at 0.78: the splits differ by 0.0077 of R² 0.914.
    assert np.abs(d.weights - d.lmg).max() == pytest.approx(0.00767, abs=1e-4)


def _journeys(seed: int, n: int = 400) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Journey-like rows: four indicators (two correlated), a 0-4 band, a binary target."""
    rng = np.random.default_rng(seed)
    a = rng.random(n) < 0.4
    b = np.where(rng.random(n) < 0.7, a, rng.random(n) < 0.3)
    c, d = rng.random(n) < 0.2, rng.random(n) < 0.5
    band = rng.integers(0, 5, n)
    logit = -0.3 + 1.0 * a - 0.8 * c + 0.4 * d - 0.2 * band
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    return np.column_stack([a, b, c, d, band]).astype(float), y.astype(float)


def _patterns(x: np.ndarray[Any, Any], y: np.ndarray[Any, Any]) -> tuple[Any, Any, Any]:
    rows, counts = np.unique(np.column_stack([x, y]), axis=0, return_counts=True)
    return rows[:, :-1], rows[:, -1], counts.astype(float)


def test_lmg_on_patterns_equals_brute_force_shapley_of_statsmodels_ols_on_journeys() -> None:
    x, y = _journeys(3)
    px, py, counts = _patterns(x, y)
    assert len(counts) < len(y) / 2  # grouped: the decomposition never sees the journeys
    rxx, rxy = ds.weighted_correlation(px, py, counts)
    shares = ds.lmg(rxx, rxy)
    p = x.shape[1]
    r2 = {(): 0.0}
    for k in range(1, p + 1):
        for s in itertools.combinations(range(p), k):
            r2[s] = sm.OLS(y, sm.add_constant(x[:, s])).fit().rsquared
    brute = np.zeros(p)
    for j in range(p):
        for s in (s for s in r2 if j not in s):
            weight = math.factorial(len(s)) * math.factorial(p - len(s) - 1) / math.factorial(p)
            brute[j] += weight * (r2[tuple(sorted((*s, j)))] - r2[s])
    assert shares == pytest.approx(brute, abs=1e-9)
    assert shares.sum() == pytest.approx(r2[tuple(range(p))], abs=1e-12)


def test_lmg_sums_to_r2_exactly_with_twelve_predictors() -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((300, 12)) @ rng.standard_normal((12, 12))
    y = x @ rng.standard_normal(12) + 3 * rng.standard_normal(300)
    rxx, rxy = ds.weighted_correlation(x, y, np.ones(300))
    d = ds.decompose(rxx, rxy, exact=True)
    assert d.lmg is not None
    assert abs(d.lmg.sum() - d.r2) < 1e-12
    assert abs(d.weights.sum() - d.r2) < 1e-12


def test_bootstrap_intervals_cover_the_population_shares() -> None:
    # x1..x3 intercorrelated at 0.5, validities 0.5 / 0.4 / 0.3; 80 samples of 300, B = 150.
    corr = np.block([[EQUI, VALIDITY[:, None]], [VALIDITY[None, :], np.ones((1, 1))]])
    truth = ds.decompose(EQUI, VALIDITY, exact=True)
    assert truth.lmg is not None
    chol = np.linalg.cholesky(corr)
    rng = np.random.default_rng(1)
    hits_w, hits_lmg, hits_r2, sims = np.zeros(3), np.zeros(3), 0, 80
    for s in range(sims):
        z = rng.standard_normal((300, 4)) @ chol.T
        ci = ds.bootstrap(z[:, :3], z[:, 3], np.ones(300), 150, s, exact=True)
        assert ci is not None and ci.lmg is not None and ci.dropped == 0
        hits_w += (ci.weights[0] <= truth.weights) & (truth.weights <= ci.weights[1])
        hits_lmg += (ci.lmg[0] <= truth.lmg) & (truth.lmg <= ci.lmg[1])
        hits_r2 += ci.r2[0] <= truth.r2 <= ci.r2[1]
    # measured: relative weights 0.96 / 0.93 / 0.94, LMG the same, R² 0.95 (100 samples, B = 200)
    assert (hits_w / sims >= 0.85).all() and (hits_lmg / sims >= 0.85).all(), (hits_w, hits_lmg)
    assert hits_r2 / sims >= 0.85


# --- the engine: which events count ----------------------------------------------------------------

STORY = [
    # failed: the payment error counts (it is the failure event), the cart reminder (outbound) not
    ("c1", "2026-02-02T10:00:00Z", "web", "home", ""), ("c1", "2026-02-02T10:01:00Z", "web", "checkout", ""),
    ("c1", "2026-02-02T10:02:00Z", "app", "payment_error", ""),
    ("c1", "2026-02-02T12:00:00Z", "email", "cart_reminder", "outbound"),
    # success: the order and the delivery SMS after it do not count
    ("c2", "2026-02-02T10:00:00Z", "web", "home", ""), ("c2", "2026-02-02T10:01:00Z", "web", "checkout", ""),
    ("c2", "2026-02-02T10:02:00Z", "web", "order_confirmation", ""),
    ("c2", "2026-02-03T09:00:00Z", "sms", "delivery_update", "outbound"),
]  # fmt: skip


@pytest.fixture
def story(workspace: jl.Workspace, tmp_path: Path) -> jl.Workspace:
    rows = [
        {"user_id": u, "timestamp": t, "channel": c, "touchpoint": tp, "direction": d}
        for u, t, c, tp, d in STORY
    ]
    workspace.ingest(paths=[str(write_csv(tmp_path, "events.csv", rows))], table="events")
    build_model(workspace.store, workspace.config)
    return workspace


def test_features_count_experienced_events_before_the_outcome_and_the_failure_event(
    story: jl.Workspace,
) -> None:
    spec = DriversSpec(filter={"journey_type": "purchase"})
    analysed = analysed_journeys(story.store, spec, None)
    steps = story.store.execute(counted_steps(story.store, analysed, None, [])).to_pylist()
    journeys = {r["journey_id"]: r["outcome"] for r in story.store.execute(analysed).to_pylist()}
    seen = {(journeys[r["journey_id"]], r["touchpoint"]) for r in steps}
    assert seen == {("failed", "home"), ("failed", "checkout"), ("failed", "payment_error"),
                    ("success", "home"), ("success", "checkout")}  # fmt: skip
    excluded = counted_steps(story.store, analysed, None, ["checkout"])
    assert "checkout" not in {r["touchpoint"] for r in story.store.execute(excluded).to_pylist()}


# --- a small synthetic world: bad input and surfaces ----------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[jl.Workspace]:
    root = tmp_path_factory.mktemp("drivers")
    generate_world(root / "world", customers=400, seed=7)
    ws = jl.Workspace.init(root / "ws", timezone="UTC")
    for table in ("events", "identities", "customers", "feedback"):
        ws.ingest(paths=[str(root / "world" / table)], table=table)
    build_model(ws.store, ws.config)
    yield ws
    ws.close()


def test_a_metric_without_answers_names_it_and_counts_what_exists(world: jl.Workspace) -> None:
    with pytest.raises(
        DriversError, match=r"No selected journey has a linked rating answer \(0 rating answers"
    ):
        key_drivers(world.store, DriversSpec(target="rating"))


def test_a_constant_target_and_too_few_features_are_refused(world: jl.Workspace) -> None:
    with pytest.raises(DriversError, match="success is 1 in every one of the"):
        key_drivers(world.store, DriversSpec(filter={"outcome": "success"}))
    with pytest.raises(DriversError, match=r"Only 1 usable predictor\(s\) \(assisted contact\)"):
        key_drivers(world.store, DriversSpec(features="assisted"))
    with pytest.raises(ValueError, match="unknown feature family 'pages'"):
        DriversSpec(features="touchpoints,pages")


def test_journeys_without_a_final_outcome_say_why_drivers_are_not_defined(world: jl.Workspace) -> None:
    result = key_drivers(world.store, DriversSpec(filter={"journey_type": "other"}))
    assert result.records() == [] and result.context["r2"] is None
    assert "has no success or failure criteria" in result.context["reason"]


def test_an_unknown_map_is_the_maps_error(world: jl.Workspace) -> None:
    with pytest.raises(InputError, match="nosuch"):
        world.drivers(map="nosuch")


def test_patterns_are_the_journeys_grouped(world: jl.Workspace) -> None:
    spec = DriversSpec(filter={"journey_type": "purchase"}, by_segment=True)
    p = feature_patterns(world.store, spec)
    assert p.counts.sum() == p.journeys and len(p.counts) < p.journeys
    assert p.segments is not None and len(set(p.segments)) >= 2
    assert not any(f.name == "touchpoint:order_confirmation" for f in p.features)


def test_cli_json_by_segment_is_honest_and_the_plot_has_bars(
    world: jl.Workspace, run_cli: Callable[[Sequence[str]], Result]
) -> None:
    args = ["drivers", "-w", str(world.root), "--type", "purchase", "--exclude", "payment", "--by-segment"]
    result = run_cli([*args, "--bootstrap", "50", "--format", "json"])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    assert stated_undefined(data, ()) == []
    assert data["segments"][0]["segment"] == "(all)" and len(data["segments"]) >= 2
    overall = [r for r in data["rows"] if r["segment"] == "(all)"]
    assert sum(r["weight"] for r in overall) == pytest.approx(data["r2"], abs=1e-9)
    assert sum(r["share"] for r in overall) == pytest.approx(100, abs=1e-6)
    first = overall[0]
    assert (
        first["share_lo"] <= first["share"] <= first["share_hi"] and "associated with" in first["statement"]
    )
    assert all(r["direction"] in ("higher", "lower", "mixed") for r in overall)
    csv = run_cli([*args, "--bootstrap", "0", "--format", "csv"])
    assert csv.exit_code == 0 and csv.stdout.startswith("segment,rank,feature,family,support")
    figure = world.drivers(type="purchase", exclude="payment", bootstrap=20).plot()
    assert degenerate(figure) is None and figure.data[0].orientation == "h"
