"""The emotion curve (issue 15, item 6) on a story whose numbers are worked out by hand: scores and
comments on the -2..2 scale, points in journey order, the map's expected emotion and the gap, and
the peak and end moments."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from scipy import stats

import journeylens as jl
from conftest import write_csv
from journeylens.model import build_model
from journeylens.specs.feedback import EmotionSpec
from journeylens.voc.emotion_curve import EmotionCurve, emotion_curve
from journeylens.voc.sentiment import compound
from test_journeys import ev
from test_outcome_evidence import answer, call

COMPLAINT = "awful, useless FAQ, nothing there"
EVENTS = [
    ev("ann", 0, "web", "search"),
    ev("ann", 0.3, "web", "order_confirmation"),
    call("cat", 0, "billing", "a1", case_id="T1"),
    ev("eve", 0, "web", "billing_faq"),
    call("eve", 1, "billing", "a2"),
    call("eve", 5, "billing", "a3"),
]
ANSWERS = [
    answer("ann", 2, "nps", 9, feedback_id="f_ann"),  # (9 - 5) / 2.5 = +1.6, about the confirmation
    answer("cat", 2, "csat", 5, case_id="T1", feedback_id="f_cat"),  # 5 - 3 = +2, about the call
    {**answer("eve", 0.5, "text", 0, feedback_id="f_eve_text", comment=COMPLAINT), "score": None},
    answer("eve", 2, "ces", 2, feedback_id="f_eve_ces"),  # (2 - 4) * 2/3 = -4/3, about the first call
    answer("eve", 6, "csat", 4, feedback_id="f_eve_csat"),  # +1, about the second call (the end)
]
TEXT = 2 * compound([COMPLAINT])[0]
SUPPORT_MAP = """\
journey_type: support
name: billing
goal: Settle a billing question
stages:
  - name: self-service
    touchpoints: [billing_faq]
    expected_emotion: -1
  - name: contact
    touchpoints: [billing_call]
    expected_emotion: 0
"""


@pytest.fixture
def ws(tmp_path: Path) -> Any:
    workspace = jl.Workspace.init(tmp_path / "ws")
    workspace.ingest(paths=[str(write_csv(tmp_path, "events.csv", EVENTS))])
    workspace.ingest(paths=[str(write_csv(tmp_path, "feedback.csv", ANSWERS))], table="feedback")
    build_model(workspace.store, workspace.config)
    (workspace.root / "maps").mkdir(exist_ok=True)
    (workspace.root / "maps" / "billing.yaml").write_text(SUPPORT_MAP)
    yield workspace
    workspace.close()


def _t_interval(values: list[float]) -> tuple[float, float]:
    mean, n = sum(values) / len(values), len(values)
    half = stats.t.ppf(0.975, n - 1) * stats.tstd(values) / math.sqrt(n)
    return mean - half, mean + half


def _by_point(curve: EmotionCurve) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["journey_type"], r["point"]): r for r in curve.records()}


def test_answers_become_emotions_at_the_steps_they_are_about(ws: Any) -> None:
    assert TEXT < -4 / 3  # the complaint is the most intense answer of eve's journey
    curve = emotion_curve(ws, EmotionSpec(min_answers=1))
    points = _by_point(curve)
    assert set(points) == {
        ("purchase", "order_confirmation"),
        ("support", "billing_faq"),
        ("support", "billing_call"),
    }
    assert points["purchase", "order_confirmation"]["emotion"] == pytest.approx(1.6)
    assert points["support", "billing_faq"]["emotion"] == pytest.approx(TEXT)
    calls = [2.0, -4 / 3, 1.0]
    row = points["support", "billing_call"]
    assert (row["answers"], row["journeys"]) == (3, 2)
    assert row["emotion"] == pytest.approx(sum(calls) / 3)
    assert (row["lo"], row["hi"]) == pytest.approx(_t_interval(calls))
    support = [r["point"] for r in curve.records() if r["journey_type"] == "support"]
    assert support == ["billing_faq", "billing_call"]  # journey order (mean relative position)
    assert curve.context["answers"] == 5 and row["expected"] is None


def test_a_filter_that_selects_no_journey_is_refused_not_an_empty_curve(ws: Any) -> None:
    from journeylens.discovery.selection import EmptySelectionError

    with pytest.raises(EmptySelectionError, match="No journeys match the filter"):
        emotion_curve(ws, EmotionSpec.model_validate({"filter": {"journey_type": ["false"]}}))
    assert emotion_curve(ws, EmotionSpec.model_validate({"filter": {"journey_type": ["support"]}})).records()


def test_peak_and_end(ws: Any) -> None:
    curve = emotion_curve(ws, EmotionSpec(min_answers=1))
    moments = {m["journey_type"]: m for m in curve.moments}
    support = moments["support"]
    # eve: peak the complaint, end the last CSAT (+1); cat: one answer, +2 both
    assert support["journeys"] == 2
    assert support["peak"] == pytest.approx((TEXT + 2) / 2)
    assert support["end"] == pytest.approx((1 + 2) / 2)
    assert support["peak_end"] == pytest.approx(((TEXT + 1) / 2 + 2) / 2)
    assert (support["negative_peak_share"], support["worst_point"]) == (0.5, "billing_faq")
    assert _by_point(curve)["support", "billing_faq"]["negative_peaks"] == 1
    assert moments["purchase"]["peak"] == pytest.approx(1.6) and moments["purchase"]["journeys"] == 1


def test_with_a_map_points_are_stages_with_the_expected_emotion_and_the_gap(ws: Any) -> None:
    curve = emotion_curve(ws, EmotionSpec(map="billing", min_answers=1))
    rows = curve.records()
    assert [r["point"] for r in rows] == ["self-service", "contact"]
    contact = rows[1]
    mean = (2.0 - 4 / 3 + 1.0) / 3
    assert (contact["expected"], contact["gap"]) == (0.0, pytest.approx(mean))
    assert rows[0]["gap"] == pytest.approx(TEXT + 1)
    lo, hi = _t_interval([2.0, -4 / 3, 1.0])
    assert (contact["gap_lo"], contact["gap_hi"]) == pytest.approx((lo, hi))
    assert curve.context["map"] == "billing" and curve.context["answers"] == 4  # support answers only


def test_too_few_answers_show_the_count_not_a_value(ws: Any) -> None:
    curve = emotion_curve(ws, EmotionSpec(map="billing"))
    rows = curve.records()
    assert all(r["emotion"] is None and r["gap"] is None for r in rows)
    assert "3 answers here, fewer than --min-answers 10" in rows[1]["reason"]


def test_map_show_draws_the_actual_emotion_lane(ws: Any) -> None:
    view = ws.map("billing").show(format="json", out="-")
    stages = {s["stage"]: s for s in json.loads(view.text)["stages"]}
    assert stages["contact"]["emotion_answers"] == 3 and stages["contact"]["actual_emotion"] is None  # < 10
    html = ws.map("billing").show(out=str(ws.root / "billing.html")).text
    assert "actual not defined (3 answers, fewer than 10)" in html
    assert "actual not defined (1 answers, fewer than 10)" in html


def test_cli_prints_the_curve_and_json(run_cli: Any, ws: Any) -> None:
    root = str(ws.root)
    ws.close()
    table = run_cli(["feedback", "emotion", "--min-answers", "1", "-w", root])
    assert table.exit_code == 0, table.output
    assert "billing_call" in table.stdout and "peak and end" in table.stdout
    data = json.loads(run_cli(["feedback", "emotion", "--map", "billing", "-f", "json", "-w", root]).stdout)
    assert data["points"] == "stage" and [r["point"] for r in data["rows"]] == ["self-service", "contact"]


def test_the_report_has_a_voice_of_the_customer_section(ws: Any) -> None:
    page = ws.report().read_text(encoding="utf-8")
    section = page[page.rindex("Voice of the customer") :]
    assert "Comments scored" in section and "lexicon (VADER): too few labelled comments to learn" in section
    assert "Scores by journey type" in section or "Scores are not defined" in section
    # five answers, at most three about one touchpoint: no curve, a sentence saying why
    assert "The emotion curve needs at least 10 answers about one touchpoint; 5 answers" in section


def test_export_writes_every_answer_with_its_sentiment_and_link(ws: Any, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    written = ws.feedback_export(str(tmp_path / "feedback.parquet"))
    assert (written.rows, written.format) == (5, "parquet")
    rows = {r["feedback_id"]: r for r in pq.read_table(tmp_path / "feedback.parquet").to_pylist()}
    assert set(rows) == {a["feedback_id"] for a in ANSWERS}  # none left out
    text = rows["f_eve_text"]
    assert text["sentiment"] == pytest.approx(compound([COMPLAINT])[0], abs=1e-4)
    assert (text["sentiment_label"], text["sentiment_model"], text["journey_type"]) == (
        "negative",
        "lexicon",
        "support",
    )
    assert rows["f_cat"]["link"] == "case" and rows["f_cat"]["step_touchpoint"] == "billing_call"
    assert rows["f_ann"]["sentiment"] is None  # no comment: nothing to score


def test_cli_export_to_a_pipe_and_train(run_cli: Any, ws: Any) -> None:
    root = str(ws.root)
    ws.close()
    piped = run_cli(["feedback", "export", "-w", root])
    assert piped.exit_code == 0, piped.output
    header, *lines = piped.stdout.strip().splitlines()
    assert '"sentiment","sentiment_label","sentiment_model"' in header and len(lines) == 5
    trained = run_cli(["feedback", "train", "-w", root, "-f", "json"])
    assert trained.exit_code == 0, trained.output
    result = json.loads(trained.stdout)
    # five answers: far too few to learn from; the lexicon keeps scoring and the note says why
    assert result["model"] == "lexicon" and "needed to learn a model" in result["note"]
