"""``journeylens experiment`` on the synthetic world: the planted checkout_redesign effect (+3.0 pp
on purchase-journey conversion, ``ground_truth.json``) lies in the 95% interval, and an A/A split of
the same units shows no sample ratio mismatch and uniform p-values (docs/experiments.md)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from scipy.stats import kstest

import journeylens as jl
from journeylens.experiments import statistics as st
from journeylens.experiments.experiment import experiment
from journeylens.experiments.units import METRICS, assigned_units, unit_values
from journeylens.identity.stitch import stitch
from journeylens.journeys import build_journeys
from journeylens.specs.discovery import JourneyFilter
from journeylens.specs.experiment import ExperimentSpec
from journeylens.synth import generate_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], jl.Workspace]]:
    root = tmp_path_factory.mktemp("experiment")
    generate_world(root / "world", customers=6_000, seed=11)
    truth = json.loads((root / "world" / "ground_truth.json").read_text())
    ws = jl.Workspace.init(root / "ws")
    ws.config.privacy.default_country_code = "31"
    for table in ("events", "identities", "customers", "assignments"):
        ws.ingest(paths=[str(root / "world" / table)], table=table)
    stitch(ws.store, ws.config.identity)
    build_journeys(ws.store, ws.config.journeys)
    yield truth, ws
    ws.close()


def test_checkout_redesign_true_effect_is_inside_the_interval(
    world: tuple[dict[str, Any], jl.Workspace],
) -> None:
    truth, ws = world
    spec = ExperimentSpec(
        name="checkout_redesign", metric="success_rate", filter={"journey_type": ["purchase"]}
    )
    result = experiment(ws.store, spec)
    (row,) = result.records()
    effect = truth["experiment"]["true_effect_absolute"]
    assert row["lo"] < effect < row["hi"]
    assert row["lo"] > 0  # the effect is found, not only covered
    assert result.context["srm_warning"] is None
    units = {v["variant"]: v["units"] for v in result.context["variants"]}
    observed = truth["experiment"]["observed"]
    assert units == {v: observed[v]["assigned_users"] for v in ("control", "treatment")}


def test_a_a_split_shows_no_srm_and_uniform_p_values(world: tuple[dict[str, Any], jl.Workspace]) -> None:
    """200 random halvings of the control units: sufficient statistics per half, t-test per metric."""
    _, ws = world
    metric = METRICS["success_rate"]
    units = assigned_units(ws.store, "checkout_redesign")
    values = unit_values(ws.store, units, [metric], JourneyFilter(journey_type=["purchase"]), 30, None)
    control = ws.store.execute(values.filter(values.variant == "control")).to_pandas()
    x, d = control["success_rate_x"].to_numpy(float), control["success_rate_d"].to_numpy(float)
    rng = np.random.default_rng(17)
    p_values, srm = [], []
    for _ in range(200):
        half = rng.random(len(x)) < 0.5
        stats = []
        for side in (half, ~half):
            n = int(side.sum())
            m = st.SampleMean(n, x[side].sum(), (x[side] ** 2).sum())
            dd = st.SampleMean(n, d[side].sum(), (d[side] ** 2).sum())
            stats.append(st.Ratio(n, m, dd, (x[side] * d[side]).sum()))
        result = st.ttest(stats[0], stats[1], relative=False)
        assert result.p_value is not None
        p_values.append(result.p_value)
        srm.append(st.srm_p_value([stats[0].n, stats[1].n], [0.5, 0.5]))
    assert sum(p < st.SRM_THRESHOLD for p in srm) <= 2
    assert kstest(p_values, "uniform").pvalue > 0.01


def test_journey_view_per_variant_finds_the_planted_effect(
    world: tuple[dict[str, Any], jl.Workspace],
) -> None:
    """The per-variant map's payment → order_confirmation share of purchase journeys is the planted
    conversion (+3.0 pp): its interval covers it; the funnel's last step moves up too."""
    truth, ws = world
    spec = ExperimentSpec(
        name="checkout_redesign", metric="success_rate", filter={"journey_type": ["purchase"]},
        funnel="checkout,payment,order_confirmation", maps=True,
    )  # fmt: skip
    ctx = experiment(ws.store, spec).to_dict()
    edge = next(
        r
        for r in ctx["maps"]["transitions"]
        if (r["source"], r["target"]) == ("payment", "order_confirmation")
    )
    effect = truth["experiment"]["true_effect_absolute"]
    assert edge["difference_lo"] < effect < edge["difference_hi"] and edge["significant"]
    last = next(r for r in ctx["funnel"]["steps"] if r["step"] == 3 and r["variant"] == "treatment")
    assert last["difference_lo"] > 0 and last["q_value"] < 0.05
    assert {r["metric"] for r in ctx["downstream"]} == {"contacts", "leakage_rate"}


def test_report_section_shows_maps_and_downstream(world: tuple[dict[str, Any], jl.Workspace]) -> None:
    from journeylens.report.experiments import experiments_section

    _, ws = world
    section = experiments_section(ws.store)
    assert section is not None
    titles = [title for title, _ in section.tables]
    assert any("process map per variant" in t for t in titles)
    assert any("downstream contacts" in n for n in section.notes)
