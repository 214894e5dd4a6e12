"""``journeylens experiment NAME --funnel ... --maps``: the funnel and the process map per variant,
journeys after exposure only, with tests against the baseline, and the downstream contact-centre
metrics stated (docs/experiments.md). Stories from tests/test_experiment.py."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from click.testing import Result

import journeylens as jl
import test_experiment
from journeylens.discovery._stats import Proportion, compare_proportions
from journeylens.discovery.funnel import funnel
from journeylens.experiments.experiment import experiment
from journeylens.specs.experiment import ExperimentSpec
from journeylens.specs.funnel import FunnelSpec

story = test_experiment.story  # the fixture: the stories of test_experiment.py


def _steps(result: Any) -> dict[tuple[str, int], dict[str, Any]]:
    return {(r["breakdown"], r["step"]): r for r in result.records()}


def test_funnel_by_variant_after_exposure_counts_only_exposed_journeys(story: jl.Workspace) -> None:
    steps = ["add_to_cart", "order_confirmation"]
    every = _steps(funnel(story.store, FunnelSpec(steps=steps, by="variant", experiment="checkout_redesign")))
    exposed = _steps(
        funnel(
            story.store,
            FunnelSpec(steps=steps, by="variant", experiment="checkout_redesign", after_exposure=True),
        )
    )
    # all events: u7's purchase before its exposure counts, and u5 (two variants) is a group
    assert every[("control", 1)]["units"] == 3 and ("(several variants)", 1) in every
    # after exposure: u1 (converted) and u2 (failed); u7's journey precedes exposure; u5 excluded
    assert exposed[("control", 1)]["units"] == 2 and exposed[("control", 2)]["units"] == 1
    assert exposed[("treatment", 2)]["units"] == 3
    assert {v for v, _ in exposed} == {"control", "treatment"}


def test_after_exposure_needs_the_variant_breakdown() -> None:
    with pytest.raises(ValueError, match="after_exposure"):
        FunnelSpec(steps=["a", "b"], after_exposure=True)


def test_experiment_funnel_and_maps_side_by_side_with_tests(story: jl.Workspace) -> None:
    spec = ExperimentSpec(
        name="checkout_redesign", metric="value", funnel="add_to_cart,order_confirmation", maps=True
    )
    ctx = experiment(story.store, spec).to_dict()
    assert spec.guardrail == ["contacts", "leakage_rate"]  # downstream metrics always stated
    assert {r["metric"] for r in ctx["downstream"]} == {"contacts", "leakage_rate"}
    rows = {(r["variant"], r["step"]): r for r in ctx["funnel"]["steps"]}
    assert rows[("control", 2)]["conversion"] == 0.5 and rows[("control", 2)]["first_units"] == 2
    assert "p_value" not in rows[("control", 2)]  # the baseline is not tested against itself
    treated = rows[("treatment", 2)]
    expected = compare_proportions(Proportion(3, 3), Proportion(1, 2))
    assert treated["difference"] == pytest.approx(0.5)
    assert (treated["difference_lo"], treated["difference_hi"], treated["p_value"]) == pytest.approx(
        (expected.diff_lo, expected.diff_hi, expected.p)
    )
    assert treated["q_value"] == pytest.approx(expected.p)  # one test: BH leaves it
    assert treated["conversion_lo"] < 1 <= treated["conversion_hi"] + 1e-12
    maps = ctx["maps"]
    assert maps["journeys"] == {"control": 2, "treatment": 3}
    edges = {(r["source"], r["target"]): r for r in maps["transitions"]}
    error = edges[("add_to_cart", "payment_error")]
    assert (error["share"], error["baseline_share"]) == (0.0, 0.5)
    assert error["difference"] == pytest.approx(-0.5) and error["q_value"] is not None
    assert [r["variant"] for r in maps["transitions"]] == ["treatment", "treatment"]
    json.dumps(ctx)  # JSON-ready


def test_funnel_with_one_step_is_refused() -> None:
    with pytest.raises(ValueError, match="at least two steps"):
        ExperimentSpec(name="x", funnel="checkout")


def test_command_line_prints_the_journey_view(
    story: jl.Workspace, run_cli: Callable[[Sequence[str]], Result]
) -> None:
    args = ["experiment", "checkout_redesign", "--workspace", str(story.root), "--metric", "value",
            "--funnel", "add_to_cart,order_confirmation", "--maps"]  # fmt: skip
    table = run_cli(args)
    assert table.exit_code == 0, table.output
    assert "Funnel per variant" in table.output and "Process map per variant" in table.output
    assert "Downstream" in table.output and "leakage_rate" in table.output
    data = json.loads(run_cli([*args, "--format", "json"]).stdout)
    assert data["funnel"]["steps"] and data["maps"]["transitions"]
