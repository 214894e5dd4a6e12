"""``journeylens feedback scores``: NPS, CSAT and CES per group, with honest intervals.

A story workspace with hand-computed scores, the comparisons against the rest, groups too small to
score, unlinked answers kept, and the CLI's JSON; the intervals' coverage and reference values are
in ``test_score_intervals.py``.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

import journeylens as jl
from conftest import write_csv
from journeylens.discovery._stats import benjamini_hochberg
from journeylens.journeys.summary import Z95
from journeylens.specs.feedback import FeedbackScoresSpec
from journeylens.voc.scores import UNLINKED
from test_feedback_links import ANSWERS, EVENTS
from test_journeys import at

CHECKOUT = [10, 10, 9, 9, 9, 8, 7, 6, 3, 0, 10, 9]  # 7 promoters, 3 detractors of 12: NPS +33.3
DELIVERY = [2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 0]  # 2 promoters, 7 detractors of 11: NPS -45.5
APP_STORE = [10, 9, 0]  # 3 answers: too few to score
CSAT = [5, 5, 4, 4, 4, 3, 2, 1, 5, 4]  # 7 of 10 in the top box (4-5)


def _survey(touchpoint: str, scores: list[int], metric: str = "nps") -> list[dict[str, Any]]:
    return [
        {"timestamp": at(i), "metric": metric, "score": s, "touchpoint": touchpoint, "channel": "email"}
        for i, s in enumerate(scores)
    ]


SURVEY = [
    *_survey("checkout", CHECKOUT),
    *_survey("delivery", DELIVERY),
    *_survey("app_store", APP_STORE),
    *_survey("billing_call", CSAT, "csat"),
]


AGENTS = [{"agent_id": "a1", "team": "billing"}, {"agent_id": "a9", "team": "billing"},
          {"agent_id": "a2", "team": "care"}]  # fmt: skip
CUSTOMERS = [{"user_id": "ann", "segment": "loyal"}, {"user_id": "cat", "segment": "first-time"}]


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp_path = tmp_path_factory.mktemp("scores")
    ws = jl.Workspace.init(tmp_path / "ws")
    ws.ingest(paths=[str(write_csv(tmp_path, "events.csv", EVENTS))])
    ws.ingest(paths=[str(write_csv(tmp_path, "survey.csv", SURVEY + ANSWERS))], table="feedback")
    ws.ingest(paths=[str(write_csv(tmp_path, "agents.csv", AGENTS))], table="agents")
    ws.ingest(paths=[str(write_csv(tmp_path, "customers.csv", CUSTOMERS))], table="customers")
    yield ws
    ws.close()


def _by(result: Any, metric: str) -> dict[str, dict[str, Any]]:
    return {r["group"]: r for r in result.records() if r["metric"] == metric}


def test_nps_by_touchpoint_is_the_hand_computed_score_with_its_adjusted_wald_interval(story: Any) -> None:
    result = story.feedback_scores(by="touchpoint", metric="nps")
    rows = _by(result, "nps")
    checkout = rows["checkout"]
    assert (checkout["promoters"], checkout["detractors"], checkout["answers"]) == (7, 3, 12)
    assert checkout["value"] == pytest.approx(100 * 4 / 12)
    # Adjusted-Wald by hand: 7.75 promoters and 3.75 detractors of 15.
    p, d = 7.75 / 15, 3.75 / 15
    half = Z95 * math.sqrt((p + d - (p - d) ** 2) / 15)
    assert (checkout["lo"], checkout["hi"]) == pytest.approx((100 * (p - d - half), 100 * (p - d + half)))
    assert rows["delivery"]["value"] == pytest.approx(100 * (2 - 7) / 11)
    small = rows["app_store"]  # three answers: a count, no score
    assert small["value"] is None and small["lo"] is None and small["answers"] == 3
    assert "fewer than min_answers = 10" in small["reason"] and small["test"] is None
    # Each group against all other answers: checkout vs delivery + app_store + ann's and dan's.
    rest = 100 * ((2 + 2 + 1) - (7 + 1 + 1)) / (11 + 3 + 2)
    assert checkout["baseline"] == "rest" and checkout["baseline_value"] == pytest.approx(rest)
    assert checkout["diff"] == pytest.approx(checkout["value"] - rest)
    assert checkout["diff_lo"] < checkout["diff"] < checkout["diff_hi"] and checkout["test"] == "z"
    tested = [r for r in result.records() if r["p"] is not None]
    assert [r["q"] for r in tested] == benjamini_hochberg([r["p"] for r in tested])


def test_csat_top_box_has_its_denominator_a_wilson_interval_and_a_configurable_box(story: Any) -> None:
    from journeylens.journeys.summary import wilson

    call = _by(story.feedback_scores(by="touchpoint", metric="csat"), "csat")["billing_call"]
    # Ten survey answers and cat's CSAT by case (its step is the billing call): 8 of 11 top box.
    assert (call["top_box"], call["answers"]) == (8, 11) and call["value"] == pytest.approx(8 / 11)
    assert (call["lo"], call["hi"]) == pytest.approx(wilson(8, 11))
    strict = _by(story.feedback_scores(by="touchpoint", metric="csat", csat_top_box=5), "csat")
    assert strict["billing_call"]["top_box"] == 4
    # The mean's t interval from the engine's count, mean and variance, against statsmodels.
    from statsmodels.stats.weightstats import DescrStatsW

    mean = _by(story.feedback_scores(by="touchpoint", metric="csat_mean"), "csat_mean")["billing_call"]
    reference = DescrStatsW([float(s) for s in [*CSAT, 5]])
    assert mean["value"] == pytest.approx(reference.mean, abs=1e-9)
    assert (mean["lo"], mean["hi"]) == pytest.approx(reference.tconfint_mean(alpha=0.05), abs=1e-9)


def test_unlinked_answers_are_kept_as_their_own_group(story: Any) -> None:
    result = story.feedback_scores(by="journey_type", metric=["nps_mean", "csat"], min_answers=1)
    groups = {g["group"]: g for g in result.groups}
    total = len(SURVEY) + len(ANSWERS)
    assert sum(g["answers"] for g in groups.values()) == total == result.context["answers"]
    assert groups[UNLINKED]["linked"] == 0 and result.context["unlinked"] == groups[UNLINKED]["answers"]
    assert groups["purchase"]["answers"] == 1  # ann's survey after her order
    means = _by(result, "nps_mean")
    assert means["purchase"]["value"] is None and "one answer" in means["purchase"]["reason"]


def test_agents_teams_segments_and_periods_group_the_same_answers(story: Any) -> None:
    def groups(**options: Any) -> dict[str, dict[str, Any]]:
        result = story.feedback_scores(min_answers=1, metric=["csat_mean", "ces_mean", "nps"], **options)
        assert sum(g["answers"] for g in result.groups) == result.context["answers"]
        return {g["group"]: g for g in result.groups}

    total = len(SURVEY) + len(ANSWERS)
    # cat's CSAT takes agent a1 from its step (the call), eve's CES names a9 itself.
    assert {k: v["answers"] for k, v in groups(by="agent").items()} == {
        "a1": 1,
        "a9": 1,
        "(no agent)": total - 2,
    }
    assert {k: v["answers"] for k, v in groups(by="team").items()} == {"billing": 2, "(no agent)": total - 2}
    segments = groups(by="segment")
    assert segments["loyal"]["answers"] == 1 and segments["first-time"]["answers"] == 1
    weeks = groups(by="period", period="week")
    assert len(weeks) == 2 and all(len(w) == 10 for w in weeks)  # dan's late answer is a week on
    late = groups(by="agent", since=at(200))  # answers given from 200 hours on: dan's only
    assert {k: v["answers"] for k, v in late.items()} == {"(no agent)": 1}
    by_channel = groups(by="channel")  # the survey's own channel, else the step's (cat's and eve's calls)
    assert by_channel["call_center"]["answers"] == 2 and by_channel["email"]["answers"] == len(SURVEY)


def test_bad_options_name_the_choices() -> None:
    with pytest.raises(ValueError, match="expected one of nps, csat"):
        FeedbackScoresSpec(metric="happiness")
    with pytest.raises(ValueError, match="csat_top_box = 6"):
        FeedbackScoresSpec(csat_top_box=6)


def test_cli_json_has_denominators_intervals_and_reasons(story: Any, run_journeylens: Any) -> None:
    story.close()  # the command opens the workspace itself (one writer at a time); the last test
    done = run_journeylens(
        ["feedback", "scores", "-w", str(story.root), "--by", "touchpoint", "--metric", "nps", "-f", "json"]
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["by"] == "touchpoint" and out["metrics"] == ["nps"]
    rows = {r["group"]: r for r in out["rows"]}
    assert rows["checkout"]["answers"] == 12 and rows["checkout"]["lo"] is not None
    assert rows["app_store"]["value"] is None and rows["app_store"]["reason"]
    table = run_journeylens(["feedback", "scores", "-w", str(story.root), "--metric", "nps"])
    assert table.returncode == 0 and "checkout" in table.stdout and "n/d" in table.stdout


SUPPORT_MAP = """\
journey_type: support
goal: Get the bill explained
stages:
  - name: self service
    touchpoints: [billing_faq]
  - name: assisted
    channels: [call_center]
"""


def test_by_stage_groups_the_answers_about_a_maps_journeys_by_their_stage(story: Any) -> None:
    (story.root / "maps").mkdir(exist_ok=True)
    (story.root / "maps" / "support.yaml").write_text(SUPPORT_MAP, encoding="utf-8")
    result = story.feedback_scores(by="stage", map="support", min_answers=1, metric=["csat_mean", "ces_mean"])
    # cat's CSAT (by case) and eve's CES (mid-journey) are about their calls: the assisted stage.
    assert {g["group"]: g["answers"] for g in result.groups} == {"assisted": 2}
    rows = {(r["group"], r["metric"]): r for r in result.records()}
    for metric in ("csat_mean", "ces_mean"):  # one answer each: counted, no mean without an interval
        row = rows[("assisted", metric)]
        assert (row["answers"], row["value"], row["reason"]) == (
            1,
            None,
            "one answer: a mean needs two for an interval",
        )
    # The survey answers (unlinked), ann's order NPS and dan's late one are not about support journeys.
    assert result.context["map"] == "support"
    assert result.context["outside_map"] == len(SURVEY) + len(ANSWERS) - 2
    with pytest.raises(ValueError, match=r"--by stage .* needs one"):
        FeedbackScoresSpec(by="stage")
    with pytest.raises(jl.JourneyLensError, match=r"(?i)map"):
        story.feedback_scores(by="stage", map="nosuchmap")
