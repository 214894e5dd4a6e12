"""``journeylens experiment`` on stories: units and exposure, exclusions, metrics after exposure,
the pre-exposure covariate, bad input, and the command line (docs/experiments.md)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

import journeylens as jl
from conftest import STORY_START, write_csv
from journeylens.experiments import statistics as st
from journeylens.experiments.experiment import experiment
from journeylens.experiments.units import (
    METRICS,
    ExperimentNotFoundError,
    assigned_units,
    unit_values,
    variant_sums,
)
from journeylens.specs.discovery import JourneyFilter
from journeylens.specs.experiment import ExperimentSpec


def _at(days: float) -> str:
    return (STORY_START + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _purchase(who: dict[str, str], day: float, value: float | None) -> list[dict[str, Any]]:
    """A purchase journey on ``day``: converted with ``value``, or a payment error (None)."""
    end = {"touchpoint": "order_confirmation", "value": value} if value else {"touchpoint": "payment_error"}
    return [
        {**who, "timestamp": _at(day), "channel": "web", "touchpoint": "add_to_cart"},
        {**who, "timestamp": _at(day + 0.003), "channel": "web", **end},
    ]


EVENTS = [
    *_purchase({"user_id": "u1"}, -5, None),  # before exposure: the covariate only
    *_purchase({"user_id": "u1"}, 2, 10),
    *_purchase({"user_id": "u2"}, 3, None),
    *_purchase({"user_id": "u3"}, 2, 20),
    *_purchase({"user_id": "u4"}, -2, 40),
    *_purchase({"user_id": "u4"}, 2, 30),
    *_purchase({"user_id": "u5"}, 2, 50),
    *_purchase({"user_id": "u6", "anonymous_id": "anon6"}, 2, 5),  # the anonymous id logs in
    *_purchase({"user_id": "u7"}, 1, 70),  # before u7's exposure: no journey after it
]
ASSIGNMENTS = [
    {"user_id": "u1", "experiment": "checkout_redesign", "variant": "control", "timestamp": _at(0)},
    {"user_id": "u2", "experiment": "checkout_redesign", "variant": "control", "timestamp": _at(0)},
    {"user_id": "u3", "experiment": "checkout_redesign", "variant": "treatment", "timestamp": _at(0)},
    {"user_id": "u4", "experiment": "checkout_redesign", "variant": "treatment", "timestamp": _at(0)},
    {"user_id": "u5", "experiment": "checkout_redesign", "variant": "control", "timestamp": _at(0)},
    {"user_id": "u5", "experiment": "checkout_redesign", "variant": "holdout", "timestamp": _at(0.5)},
    {"anonymous_id": "anon6", "experiment": "checkout_redesign", "variant": "treatment", "timestamp": _at(0)},
    {"user_id": "u7", "experiment": "checkout_redesign", "variant": "control", "timestamp": _at(10)},
    {"anonymous_id": "ghost", "experiment": "checkout_redesign", "variant": "control", "timestamp": _at(0)},
    {"user_id": "u1", "experiment": "pricing_test", "variant": "a", "timestamp": _at(0)},
]


@pytest.fixture
def story(workspace: jl.Workspace, tmp_path: Path) -> jl.Workspace:
    workspace.ingest(paths=[str(write_csv(tmp_path, "events.csv", EVENTS))], table="events")
    workspace.ingest(paths=[str(write_csv(tmp_path, "assignments.csv", ASSIGNMENTS))], table="assignments")
    workspace.build()
    return workspace


def _sums(ws: jl.Workspace, *names: str) -> dict[str, dict[str, Any]]:
    units = assigned_units(ws.store, "checkout_redesign")
    values = unit_values(ws.store, units, [METRICS[n] for n in names], JourneyFilter(), 30, None)
    return {
        r["variant"]: r
        for r in ws.store.execute(variant_sums(values, [METRICS[n] for n in names])).to_pylist()
    }


def test_units_exposure_and_sufficient_statistics(story: jl.Workspace) -> None:
    sums = _sums(story, "value", "converted", "success_rate")
    control, treatment = sums["control"], sums["treatment"]
    # control: u1 (10 after exposure), u2 (failed), u7 (its journey precedes exposure); u5 excluded
    assert control["n"] == 3 and control["no_journey_units"] == 1
    assert control["value__sum"] == 10 and control["value__ss"] == 100
    assert control["converted__sum"] == 1
    assert control["success_rate__sum"] == 1 and control["success_rate__d_sum"] == 2
    # pre-exposure: u1's journey failed (0); u7's order of 70 came 9 days before its exposure
    assert control["value__pre_sum"] == 70 and control["converted__pre_sum"] == 1
    # treatment: u3 (20), u4 (30; 40 before exposure), the anonymous id stitched to u6 (5)
    assert treatment["n"] == 3 and treatment["no_journey_units"] == 0
    assert treatment["value__sum"] == 55 and treatment["value__ss"] == 400 + 900 + 25
    assert treatment["value__pre_sum"] == 40 and treatment["value__xp"] == 30 * 40
    assert treatment["success_rate__xd"] == 3 and treatment["success_rate__d_ss"] == 3
    assert "holdout" not in sums  # its only unit was in two variants


def test_experiment_reports_exclusions_and_untestable_comparisons(story: jl.Workspace) -> None:
    result = experiment(
        story.store, ExperimentSpec(name="checkout_redesign", metric="value,converted", cuped=False)
    )
    ctx = result.context
    assert ctx["excluded"] == {"multiple_variants": 1, "unmapped": 1}
    assert ctx["empty_variants"] == ["holdout"]
    assert {v["variant"]: v["units"] for v in ctx["variants"]} == {"control": 3, "holdout": 0, "treatment": 3}
    rows = {(r["metric"], r["variant"]): r for r in result.records()}
    assert rows[("value", "holdout")]["reason"] == "a variant has no units"
    assert rows[("value", "holdout")]["estimate"] is None
    converted = rows[("converted", "treatment")]  # every treated unit converted: p(1-p) = 0
    assert converted["estimate"] is None and "zero variance" in converted["reason"]
    value = rows[("value", "treatment")]
    plain = st.ttest(st.SampleMean(3, 10, 100), st.SampleMean(3, 55, 1325), relative=False)
    assert value["theta"] is None and value["estimate"] == pytest.approx(plain.estimate)
    assert (value["lo"], value["hi"]) == pytest.approx((plain.lo, plain.hi))
    assert value["p_adjusted"] is not None and value["p_adjusted"] >= value["p_value"]
    json.dumps(result.to_dict())


def test_unknown_experiment_names_close_matches(story: jl.Workspace) -> None:
    with pytest.raises(ExperimentNotFoundError, match="checkout_redesign") as err:
        experiment(story.store, ExperimentSpec(name="checkout_redesgn"))
    assert "Did you mean 'checkout_redesign'" in str(err.value)


def test_guardrails_are_left_out_of_the_correction(story: jl.Workspace) -> None:
    spec = ExperimentSpec(name="checkout_redesign", metric="value,journeys", guardrail="contacts")
    rows = experiment(story.store, spec).records()
    guard = [r for r in rows if r["metric"] == "contacts"]
    assert guard and all(r["guardrail"] and r["p_adjusted"] is None for r in guard)


def test_command_line_json_and_breakdown(
    story: jl.Workspace, run_cli: Callable[[Sequence[str]], Result]
) -> None:
    result = run_cli(
        ["experiment", "checkout_redesign", "--workspace", str(story.root), "--format", "json",
         "--metric", "value", "--by", "entry_channel"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["by"] == "entry_channel" and data["srm_p"] is not None
    assert {r["group"] for r in data["rows"]} >= {"web"}
    table = run_cli(["experiment", "checkout_redesign", "--workspace", str(story.root), "--metric", "value"])
    assert table.exit_code == 0 and "lift" in table.output


@pytest.mark.parametrize("engine", ["frequentist", "sequential", "bayesian"])
def test_engines_relative_lift_and_plot(story: jl.Workspace, engine: str) -> None:
    spec = ExperimentSpec(
        name="checkout_redesign",
        metric="value",
        engine=engine,
        difference="relative",
        cuped=False,
        by="segment",
    )
    result = experiment(story.store, spec)
    row = next(r for r in result.records() if r["variant"] == "treatment")
    a, b = st.SampleMean(3, 10, 100), st.SampleMean(3, 55, 1325)
    expected = (
        st.bayesian(a, b, relative=True)
        if engine == "bayesian"
        else st.ttest(a, b, relative=True, sequential=engine == "sequential")
    )
    assert row["group"] == "(no segment)"  # the story's customers carry no segment trait
    assert row["estimate"] == pytest.approx(expected.estimate) == pytest.approx(4.5)
    assert (row["lo"], row["hi"]) == pytest.approx((expected.lo, expected.hi))
    assert (row["chance_to_win"] is not None) == (engine == "bayesian")
    assert (row["p_value"] is not None) == (engine != "bayesian")
    figure = result.plot()
    assert [t.x[0] for t in figure.data] == [pytest.approx(4.5)]


def test_process_map_per_variant_counts_only_journeys_after_exposure(story: jl.Workspace) -> None:
    from journeylens.experiments.journeys_view import variant_maps

    maps = variant_maps(story.store, "checkout_redesign")
    assert set(maps) == {"control", "treatment"}  # holdout's only unit is excluded
    edges = {
        v: {(e["source"], e["target"]): e["count"] for e in m.to_dict()["edges"]} for v, m in maps.items()
    }
    # control: u1's payment error came before exposure; only u2's counts
    assert edges["control"][("add_to_cart", "payment_error")] == 1
    assert edges["control"][("add_to_cart", "order_confirmation")] == 1
    assert edges["treatment"] == {("add_to_cart", "order_confirmation"): 3}
