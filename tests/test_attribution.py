"""``journeylens attribution`` on small stories and hand-computed chains (the real-data references
against ChannelAttribution are in test_attribution_realdata.py).

- the path file: read as ChannelAttribution lays it out; malformed paths, negative counts, missing
  columns and reserved step names are refused naming the file, line and field;
- the models on paths small enough to compute by hand: heuristics (40/20/40, time decay by
  position), the Markov chain's states (windows, repeats collapsed) and removal effects, Shapley;
- the journeys: the Ibis aggregation counts paths in step order (ties keep file order), an outcome
  no journey has is a clear error, the CLI writes table, JSON and CSV.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import STORY_START, write_csv
from journeylens import Workspace
from journeylens.decisions.attribution import AttributionResult, attribute, attribution
from journeylens.decisions.attribution_heuristics import heuristic_credit
from journeylens.decisions.attribution_journeys import NoConversionsError, journey_paths
from journeylens.decisions.attribution_markov import build_chain, markov_credit
from journeylens.decisions.attribution_paths import AttributionPaths, read_path_file
from journeylens.decisions.attribution_shapley import ordered_shapley, shapley_credit
from journeylens.errors import InputError
from journeylens.specs.attribution import MODELS, AttributionSpec

HEADER = "path;total_conversions;total_conversion_value;total_null"


def _paths(*rows: tuple[list[str], float, float, float]) -> AttributionPaths:
    return AttributionPaths.from_lists(
        [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows], source="test"
    )


def _file(tmp_path: Path, *lines: str, header: str = HEADER) -> Path:
    path = tmp_path / "paths.csv"
    path.write_text("\n".join([header, *lines]) + "\n")
    return path


# --- the path file --------------------------------------------------------------------------------


def test_path_file_is_read_as_channelattribution_lays_it_out(tmp_path: Path) -> None:
    paths = read_path_file(_file(tmp_path, "eta > iota >alpha;1;0.5;3", "  iota  ;0;0;2"))
    assert paths.steps == [("eta", "iota", "alpha"), ("iota",)]
    assert paths.names == ["alpha", "eta", "iota"]
    assert (paths.total_conversions, paths.total_value, paths.total_nulls) == (1.0, 0.5, 5.0)


@pytest.mark.parametrize(
    ("line", "field", "words"),
    [
        ("a >  > b;1;1;1", "path", "empty step"),
        ("a > b >;1;1;1", "path", "empty step"),
        ("> a;1;1;1", "path", "empty step"),
        (";1;1;1", "path", "empty step"),
        ("a > b;-1;1;1", "total_conversions", "negative"),
        ("a > b;1;-2.5;1", "total_conversion_value", "negative"),
        ("a > b;1;1;x", "total_null", "not a number"),
        ("a > b;1.5;1;1", "total_conversions", "not a whole number"),
        ("a > start;1;1;1", "path", "state of the Markov chain"),
        ("(null) > b;1;1;1", "path", "state of the Markov chain"),
        ("a > Conversion;1;1;1", "path", "state of the Markov chain"),
    ],
)
def test_bad_path_file_names_file_line_and_field(tmp_path: Path, line: str, field: str, words: str) -> None:
    path = _file(tmp_path, "a > b;1;2.0;3", line)
    with pytest.raises(InputError) as caught:
        read_path_file(path)
    message = str(caught.value)
    assert f"{path} line 3, field {field}" in message
    assert words in message
    assert "Hint:" in message


def test_missing_columns_are_listed_with_what_the_file_has(tmp_path: Path) -> None:
    path = _file(tmp_path, "a > b;1;3", header="path;total_conversions;total_null")
    with pytest.raises(InputError, match=r"total_conversion_value.*Available columns") as caught:
        read_path_file(path)
    assert "--sep" in str(caught.value)


def test_a_file_without_conversions_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="nothing to attribute"):
        read_path_file(_file(tmp_path, "a > b;0;0;3", "b;0;0;1"))


def test_wrong_separator_is_a_missing_column_with_a_hint(tmp_path: Path) -> None:
    path = _file(tmp_path, "a > b;1;2;3")
    with pytest.raises(InputError, match="not found"):
        read_path_file(path, sep=",")


# --- heuristics -----------------------------------------------------------------------------------


def test_position_based_is_40_20_40_and_every_model_credits_every_conversion() -> None:
    paths = _paths((["a", "b", "c", "d"], 10, 100.0, 0), (["a", "b"], 2, 4.0, 5), (["c"], 1, 1.0, 0))
    position = heuristic_credit(paths, "position")
    assert position.conversions.tolist() == pytest.approx([4 + 1, 1 + 1, 1 + 1, 4])
    assert position.value.tolist() == pytest.approx([40 + 2, 10 + 2, 10 + 1, 40])
    for model in ("first", "last", "linear", "position", "time_decay"):
        credit = heuristic_credit(paths, model, half_life_steps=2.0)
        assert credit.conversions.sum() == pytest.approx(13.0)
        assert credit.value.sum() == pytest.approx(105.0)


def test_time_decay_by_position_halves_per_half_life() -> None:
    paths = _paths((["a", "b", "c"], 7, 0.0, 0))
    # weights 1/4, 1/2, 1 of the last, normalised: 1/7, 2/7, 4/7 of 7 conversions
    assert heuristic_credit(paths, "time_decay", half_life_steps=1.0).conversions.tolist() == pytest.approx(
        [1, 2, 4]
    )


# --- Markov ---------------------------------------------------------------------------------------


def _visits(steps: list[str], order: int) -> list[tuple[str, ...]]:
    """The states one path (visiting no state twice) goes through, read back from its chain."""
    chain = build_chain(_paths((steps, 1, 0.0, 0)), order)
    states, dense = chain.states(), chain.counts.toarray()
    path, at = [], 0
    while dense[at].any():
        at = int(dense[at].argmax())
        path.append(states[at])
    return path


def test_states_are_sliding_windows_with_repeats_collapsed() -> None:
    assert _visits(["a", "a", "b", "b", "c"], 1) == [("a",), ("b",), ("c",)]
    assert _visits(["a", "a", "a", "b"], 2) == [("a", "a"), ("a", "b")]
    assert _visits(["a"], 3) == [("a",)]
    assert _visits(["a", "b", "c", "d"], 3) == [("a", "b", "c"), ("b", "c", "d")]
    chain = build_chain(_paths((["a", "a", "b", "b", "a"], 1, 0.0, 0)), 1)
    assert chain.counts.toarray().tolist() == [[0, 1, 0], [0, 0, 1], [0, 1, 0]]  # start > a > b > a


def test_chain_counts_journeys_through_each_transition() -> None:
    chain = build_chain(_paths((["a", "a", "b"], 1, 5.0, 2), (["b"], 0, 0.0, 4)), 1)
    dense = chain.counts.toarray()
    # states: (start), a, b
    assert dense.tolist() == [[0, 3, 4], [0, 0, 3], [0, 0, 0]]
    assert chain.conversions.tolist() == [0, 0, 1] and chain.nulls.tolist() == [0, 0, 6]


def test_removal_effects_by_hand() -> None:
    # start -> a (2 journeys) -> b ; start -> b (2). At b: 2 conversions, 2 nulls.
    # P(conv) = 1/2. Without a: start -> b only with 1/2, then 1/2: 1/4, effect 1/2. Without b: 0.
    result = markov_credit(_paths((["a", "b"], 1, 10.0, 1), (["b"], 1, 30.0, 1)), order=1)
    assert result.conversion_probability == pytest.approx(0.5)
    assert result.removal_effects.tolist() == pytest.approx([0.5, 1.0])
    assert result.credit.conversions.tolist() == pytest.approx([2 / 3, 4 / 3])
    # Value: a conversion at b is worth the mean (10 + 30) / 2 whichever way it came.
    assert result.value_removal_effects.tolist() == pytest.approx([0.5, 1.0])
    assert result.credit.value.sum() == pytest.approx(40.0)


def test_order_two_removal_touches_every_state_with_the_channel() -> None:
    paths = _paths((["a", "b", "c"], 3, 3.0, 1), (["b", "c"], 1, 1.0, 3), (["c"], 0, 0.0, 2))
    result = markov_credit(paths, order=2)
    assert result.states == 3  # (a, b), (b, c), (c,)
    # start -> (a, b) 4/10 -> (b, c); start -> (b, c) 4/10; (b, c) converts 4 of 8: P = 0.4.
    # Without c nothing converts; without a only start -> (b, c) remains: 0.2, an effect of 1/2.
    assert result.conversion_probability == pytest.approx(0.4)
    assert result.removal_effects.tolist() == pytest.approx([0.5, 1.0, 1.0])


# --- Shapley --------------------------------------------------------------------------------------


def test_shapley_counts_a_repeated_channel_once_and_ordered_sums_to_simplified() -> None:
    paths = _paths((["a", "b", "a"], 4, 8.0, 0), (["b", "c"], 2, 2.0, 1))
    simple = shapley_credit(paths)
    assert simple.conversions.tolist() == pytest.approx([2, 3, 1])
    ordered = ordered_shapley(paths)
    assert {(r["step"], r["position"]): r["conversions"] for r in ordered} == pytest.approx(
        {("a", 1): 2.0, ("b", 2): 2.0, ("b", 1): 1.0, ("c", 2): 1.0}
    )
    by_step: dict[str, float] = {}
    for r in ordered:
        by_step[r["step"]] = by_step.get(r["step"], 0.0) + r["value"]
    assert [by_step[s] for s in paths.names] == pytest.approx(simple.value.tolist())


# --- the result -----------------------------------------------------------------------------------


def test_result_has_every_model_summing_to_the_totals_and_a_grouped_chart() -> None:
    paths = _paths((["a", "b", "a"], 4, 8.0, 1), (["b", "c"], 2, 2.0, 1), (["c"], 1, 5.0, 6))
    result = attribute(paths, AttributionSpec(order=2), source={"source": "test", "by": "step"})
    assert result.context["models"] == list(MODELS)
    for model in MODELS:
        assert sum(result.credit(model).values()) == pytest.approx(7.0)
        assert sum(result.credit(model, "value").values()) == pytest.approx(15.0)
    assert result.context["time_decay"]["basis"] == "position"
    figure = result.plot()
    assert figure.layout.barmode == "group" and [t.name for t in figure.data] == list(MODELS)
    assert json.loads(json.dumps(result.to_dict()))["markov"]["order"] == 2


# --- journeys -------------------------------------------------------------------------------------


def _at(minutes: int) -> str:
    from datetime import timedelta

    return (STORY_START + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


STORY = [
    # c1, c4: email > web, converted (values 10 and 30)
    {"user_id": "c1", "timestamp": _at(0), "channel": "email", "touchpoint": "add_to_cart"},
    {"user_id": "c1", "timestamp": _at(5), "channel": "web", "touchpoint": "order_confirmation", "value": 10},
    {"user_id": "c4", "timestamp": _at(0), "channel": "email", "touchpoint": "add_to_cart"},
    {"user_id": "c4", "timestamp": _at(5), "channel": "web", "touchpoint": "order_confirmation", "value": 30},
    # c2: web > web, failed
    {"user_id": "c2", "timestamp": _at(0), "channel": "web", "touchpoint": "search"},
    {"user_id": "c2", "timestamp": _at(5), "channel": "web", "touchpoint": "payment_error"},
    # c3: app and social at the same instant (file order: app first), then web, converted
    {"user_id": "c3", "timestamp": _at(0), "channel": "app", "touchpoint": "add_to_cart"},
    {"user_id": "c3", "timestamp": _at(0), "channel": "social", "touchpoint": "social_ad_click"},
    {"user_id": "c3", "timestamp": _at(9), "channel": "web", "touchpoint": "order_confirmation", "value": 20},
]


@pytest.fixture
def story(workspace: Workspace, tmp_path: Path) -> Workspace:
    workspace.ingest(paths=[str(write_csv(tmp_path, "events.csv", STORY))], table="events")
    workspace.build()
    return workspace


def test_journey_paths_are_counted_in_step_order(story: Workspace) -> None:
    found = journey_paths(story.store, AttributionSpec())
    rows = {
        steps: (c, v, n)
        for steps, c, v, n in zip(
            found.paths.steps, found.paths.conversions, found.paths.value, found.paths.nulls, strict=True
        )
    }
    assert rows == {
        ("email", "web"): (2, 40.0, 0),
        ("web", "web"): (0, 0.0, 1),
        ("app", "social", "web"): (1, 20.0, 0),
    }
    assert found.journeys == 4 and found.undecided == 0
    failed = journey_paths(story.store, AttributionSpec(outcome="failed", by="touchpoint"))
    assert failed.paths.total_conversions == 1 and ("search", "payment_error") in failed.paths.steps


def test_time_decay_on_journeys_is_by_time(story: Workspace) -> None:
    result = attribution(story, AttributionSpec(models=["time_decay"], half_life="9m"))
    credit = result.credit("time_decay")
    # c3: app and social 9 minutes (one half-life) before web: weights 1/2, 1/2, 1 -> 1/4, 1/4, 1/2
    # c1, c4: email 5 minutes before web: 2 ** (-5/9) against 1.
    email = 2 ** (-5 / 9) / (1 + 2 ** (-5 / 9))
    assert credit["app"] == pytest.approx(0.25) and credit["social"] == pytest.approx(0.25)
    assert credit["email"] == pytest.approx(2 * email)
    assert result.credit("time_decay", "value")["email"] == pytest.approx(40 * email)
    assert result.context["time_decay"]["basis"] == "time"


def test_an_outcome_no_journey_has_is_a_clear_error(story: Workspace) -> None:
    with pytest.raises(NoConversionsError) as caught:
        attribution(story, AttributionSpec(outcome="abandoned"))
    message = str(caught.value)
    assert "'abandoned'" in message and "success 3" in message and "failed 1" in message
    assert "Hint:" in message


def test_cli_formats(story: Workspace, run_cli: Callable[[list[str]], Any], tmp_path: Path) -> None:
    table = run_cli(["attribution", "-w", str(story.root)])
    assert table.exit_code == 0, table.output
    assert "email" in table.output and "markov" in table.output
    document = json.loads(run_cli(["attribution", "-w", str(story.root), "--format", "json"]).stdout)
    assert document["total_conversions"] == 3 and document["journeys"] == 4
    assert {r["model"] for r in document["rows"]} == set(MODELS)
    csv_text = run_cli(
        ["attribution", "-w", str(story.root), "--format", "csv", "--model", "first,markov"]
    ).stdout
    assert csv_text.splitlines()[0] == "model,step,conversions,conversions_share,value,value_share"
    assert {line.split(",")[0] for line in csv_text.splitlines()[1:]} == {"first", "markov"}


def test_cli_path_file_errors_exit_cleanly(
    workspace: Workspace, tmp_path: Path, run_journeylens: Callable[..., Any]
) -> None:
    path = _file(tmp_path, "a > b;1;1;1", "a > > b;1;1;1")
    done = run_journeylens(["attribution", "--paths", path, "-w", workspace.root])
    assert done.returncode != 0
    assert f"{path} line 3, field path" in done.stderr and "Traceback" not in done.stderr


def test_workspace_method_reads_a_path_file(workspace: Workspace, tmp_path: Path) -> None:
    result: AttributionResult = workspace.attribution(paths=str(_file(tmp_path, "a > b;3;6;1", "b;1;1;1")))
    assert result.context["source"].endswith("paths.csv")
    assert result.credit("last") == {"a": 0.0, "b": 4.0}
    assert np.isclose(sum(result.credit("markov").values()), 4.0)


# --- the report -----------------------------------------------------------------------------------


def test_report_section_what_to_fix_first(story: Workspace) -> None:
    from honest_output import degenerate
    from journeylens.report.fix_first import fix_first_section
    from journeylens.report.sections import SECTIONS

    keys = [k for k, _ in SECTIONS]
    assert keys.index("fix_first") == keys.index("agents") + 1
    section = fix_first_section(story.store)
    assert section is not None and section.title == "What to fix first"
    _, table = section.tables[0]
    assert list(table["channel"])[:1] == ["web"] and set(MODELS) <= set(table.columns)
    assert table["markov"].sum() == pytest.approx(3.0, abs=0.2)  # rounded to 0.1 per channel
    assert section.figures and degenerate(section.figures[0]) is None
    assert section.facts["converted journeys"] == "3"


def test_report_section_says_why_when_nothing_converted(workspace: Workspace, tmp_path: Path) -> None:
    from journeylens.report.fix_first import fix_first_section

    failed = [r for r in STORY if r["user_id"] == "c2"]
    workspace.ingest(paths=[str(write_csv(tmp_path, "events.csv", failed))], table="events")
    workspace.build()
    section = fix_first_section(workspace.store)
    assert section is not None and not section.figures
    assert "No selected journey has the outcome 'success'" in section.notes[0]


def test_no_build_refuses_stale_journeys_but_a_path_file_needs_none(
    workspace: Workspace, tmp_path: Path
) -> None:
    from journeylens.errors import StaleModelError

    workspace.ingest(paths=[str(write_csv(tmp_path, "events.csv", STORY))], table="events")
    with pytest.raises(StaleModelError):
        workspace.attribution(no_build=True)
    result = workspace.attribution(paths=str(_file(tmp_path, "a > b;3;6;1")), no_build=True)
    assert result.credit("first") == {"a": 3.0, "b": 0.0}
    assert workspace.attribution().context["journeys"] == 4  # builds when asked to read journeys


def test_a_path_file_needs_no_workspace(tmp_path: Path, run_journeylens: Callable[..., Any]) -> None:
    outside = tmp_path / "no_workspace_here"
    outside.mkdir()
    path = _file(tmp_path, "a > b;3;6;1", "b;1;1;1")
    done = run_journeylens(
        ["attribution", "--paths", path, "--model", "markov", "--format", "json"], cwd=outside
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["total_conversions"] == 4 and not (outside / "journeylens.toml").exists()
