"""Feedback as people export it: one metric for the whole file (``--metric``), answers that name
no respondent (public reviews: kept, unlinked), and dates in a layout of their own
(``--timestamp-format``, and ``31-Jul-18`` read as it is)."""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

import journeylens as jl
from conftest import quarantine_rows, table_rows
from journeylens.errors import IngestFailedError, InputError

UTC = _dt.UTC
Cli = Callable[[Sequence[str]], Result]

REVIEWS = """\
rating\tdate\tvariation\tverified_reviews
5\t31-Jul-18\tCharcoal Fabric\tLove my Echo!
5\t31-Jul-18\tCharcoal Fabric\tLove my Echo!
1\t1-jan-2018\tBlack Dot\tStopped working
"""
"""Two identical reviews (two people wrote the same words on the same day) and a lower-case,
one-digit-day, four-digit-year date."""
REVIEW_MAP = {"score": "rating", "timestamp": "date", "comment": "verified_reviews"}


def _write(tmp_path: Path, text: str, name: str = "reviews.tsv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _ingest(ws: jl.Workspace, path: Path, **spec: Any) -> jl.IngestReport:
    (report,) = ws.ingest(paths=[str(path)], table="feedback", **spec)
    return report


# --- --metric -------------------------------------------------------------------------------------


def test_metric_for_the_whole_file_and_anonymous_answers_load(
    workspace: jl.Workspace, tmp_path: Path
) -> None:
    path = _write(tmp_path, REVIEWS)
    report = _ingest(workspace, path, metric="Rating", mapping=REVIEW_MAP)
    assert (report.loaded, report.quarantined_total, report.unlinked) == (3, 0, 3)
    rows = sorted(table_rows(workspace, "feedback"), key=lambda r: r["ingest_seq"])
    assert [r["metric"] for r in rows] == ["rating"] * 3
    assert [r["score"] for r in rows] == [5.0, 5.0, 1.0]
    assert [r["timestamp"] for r in rows] == [
        _dt.datetime(2018, 7, 31, tzinfo=UTC),
        _dt.datetime(2018, 7, 31, tzinfo=UTC),
        _dt.datetime(2018, 1, 1, tzinfo=UTC),
    ]
    assert all(r["user_id"] is r["anonymous_id"] is r["case_id"] is None for r in rows)
    assert json.loads(rows[0]["properties"]) == {"variation": "Charcoal Fabric"}
    # Identical key-less answers are two records with two keys; a re-ingest loads nothing new.
    assert len({r["feedback_id"] for r in rows}) == 3
    again = _ingest(workspace, path, metric="rating", mapping=REVIEW_MAP)
    assert (again.loaded, again.duplicates, again.unlinked) == (0, 3, 3)
    # An export that repeats the file and adds one review loads only the new review.
    more = _write(tmp_path, REVIEWS + "4\t2-Aug-18\tWhite Dot\tGood\n", "more.tsv")
    assert (_ingest(workspace, more, metric="rating", mapping=REVIEW_MAP).loaded) == 1


def test_linked_and_unlinked_answers_are_counted_apart(workspace: jl.Workspace, tmp_path: Path) -> None:
    path = _write(tmp_path, "user_id,timestamp,score\nu1,2024-01-02,9\n,2024-01-02,3\n", "nps.csv")
    report = _ingest(workspace, path, metric="nps")
    assert (report.loaded, report.unlinked) == (2, 1)
    assert report.to_dict()["unlinked"] == 1


@pytest.mark.parametrize(
    ("fields", "flag", "problem"),
    [
        ({"metric": "stars"}, "--metric", "not a feedback metric (use one of nps, csat, ces, rating, text)"),
        ({"metric": "nps", "table": "events"}, "--metric", "only feedback has a metric"),
    ],
)
def test_metric_must_be_a_feedback_metric(
    workspace: jl.Workspace, tmp_path: Path, fields: dict[str, str], flag: str, problem: str
) -> None:
    path = _write(tmp_path, REVIEWS)
    spec = {"table": "feedback", "mapping": REVIEW_MAP, **fields}
    with pytest.raises(InputError) as caught:
        workspace.ingest(paths=[str(path)], **spec)
    assert f"Option {flag} {fields['metric']!r}" in caught.value.message
    assert problem in caught.value.message
    assert table_rows(workspace, "feedback") == []


def test_metric_is_refused_when_the_file_has_one(workspace: jl.Workspace, tmp_path: Path) -> None:
    path = _write(tmp_path, "metric,timestamp,score\ncsat,2024-01-02,4\n", "csat.csv")
    with pytest.raises(IngestFailedError) as caught:
        _ingest(workspace, path, metric="nps")
    assert "--metric 'nps'" in caught.value.message and "already has a metric column" in caught.value.message
    assert caught.value.hint and "Drop --metric" in caught.value.hint
    assert table_rows(workspace, "feedback") == []


def test_a_file_without_metric_is_told_about_metric(workspace: jl.Workspace, tmp_path: Path) -> None:
    path = _write(tmp_path, REVIEWS)
    with pytest.raises(IngestFailedError) as caught:
        _ingest(workspace, path, mapping=REVIEW_MAP)
    assert "metric" in caught.value.message
    assert caught.value.hint and "--metric nps|csat|ces|rating|text" in caught.value.hint


# --- text-only feedback ---------------------------------------------------------------------------

POSTS = """\
timestamp,user_id,channel,comment
2026-01-02T10:00:00Z,u1,social,"The app keeps crashing at payment, awful"
2026-01-03T10:00:00Z,u2,social,
2026-01-03T11:00:00Z,,chat,Love the new delivery tracking
"""
"""Social posts and a chat transcript: text and no score; one post is empty."""


def test_text_only_feedback_loads_without_a_score(workspace: jl.Workspace, tmp_path: Path) -> None:
    report = workspace.ingest(
        paths=[str(_write(tmp_path, POSTS, "posts.csv"))], table="feedback", metric="text"
    )[0]
    assert (report.loaded, report.quarantined_total, report.unlinked) == (2, 1, 1)
    rows = sorted(table_rows(workspace, "feedback"), key=lambda r: r["ingest_seq"])
    assert [(r["metric"], r["score"], r["channel"]) for r in rows] == [
        ("text", None, "social"),
        ("text", None, "chat"),
    ]
    (bad,) = quarantine_rows(workspace)
    assert (bad["reason"], bad["field"], bad["line"]) == ("missing_field", "comment", 3)
    assert "required when metric is text" in bad["message"]


MIXED = """\
timestamp,user_id,metric,score,comment
2026-01-02T10:00:00Z,u1,nps,9,great
2026-01-02T10:00:00Z,u2,TEXT,,billing charged me twice
2026-01-02T10:00:00Z,u3,text,4,a post with a score
2026-01-02T10:00:00Z,u4,csat,,no score given
"""


def test_scores_and_text_in_one_file_each_checked_by_its_metric(
    workspace: jl.Workspace, tmp_path: Path
) -> None:
    report = _ingest(workspace, _write(tmp_path, MIXED, "mixed.csv"), max_bad=10)
    assert (report.loaded, report.quarantined_total) == (2, 2)
    rows = sorted(table_rows(workspace, "feedback"), key=lambda r: r["ingest_seq"])
    assert [(r["metric"], r["score"]) for r in rows] == [("nps", 9.0), ("text", None)]
    reasons = [(q["line"], q["reason"], q["field"]) for q in quarantine_rows(workspace)]
    assert reasons == [(4, "bad_value", "score"), (5, "missing_field", "score")]
    messages = [q["message"] for q in quarantine_rows(workspace)]
    assert "text-only feedback (metric text) has no score" in messages[0]
    assert "metric text is the only one without it" in messages[1]


def test_a_scored_metric_without_a_score_column_is_refused_whole(
    workspace: jl.Workspace, tmp_path: Path
) -> None:
    with pytest.raises(IngestFailedError) as caught:
        _ingest(workspace, _write(tmp_path, POSTS, "posts.csv"), metric="nps")
    assert "'score' not found" in caught.value.message
    assert caught.value.hint and "--metric text" in caught.value.hint
    assert table_rows(workspace, "feedback") == []


# --- timestamps -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("31-Jul-18", _dt.datetime(2018, 7, 31, tzinfo=UTC)),
        ("01-JAN-69", _dt.datetime(1969, 1, 1, tzinfo=UTC)),  # the POSIX pivot: 69-99 are 19xx
        ("31-Dec-68", _dt.datetime(2068, 12, 31, tzinfo=UTC)),  # ... and 00-68 are 20xx
        ("5-sep-2019", _dt.datetime(2019, 9, 5, tzinfo=UTC)),
    ],
)
def test_day_month_name_year_is_read_without_a_format(
    workspace: jl.Workspace, tmp_path: Path, value: str, expected: _dt.datetime
) -> None:
    path = _write(tmp_path, f"user_id,timestamp,channel,touchpoint\nu1,{value},web,home\n", "e.csv")
    (report,) = workspace.ingest(paths=[str(path)])
    assert report.loaded == 1
    assert table_rows(workspace, "events")[0]["timestamp"] == expected


@pytest.mark.parametrize("value", ["31-Jux-18", "31-Jul-018", "31/Jul/18", "01-02-18"])
def test_other_layouts_are_not_guessed(workspace: jl.Workspace, tmp_path: Path, value: str) -> None:
    path = _write(tmp_path, f"user_id,timestamp,channel,touchpoint\nu1,{value},web,home\n", "e.csv")
    (report,) = workspace.ingest(paths=[str(path)])
    assert report.quarantined == {"bad_timestamp": 1}
    (row,) = quarantine_rows(workspace)
    assert "--timestamp-format" in row["message"]


def test_timestamp_format_reads_the_layout_in_the_workspace_zone(make_workspace: Any, tmp_path: Path) -> None:
    ws = make_workspace(timezone="Europe/Amsterdam")
    text = (
        "user_id,timestamp,channel,touchpoint\n"
        "u1,02/01/2018 10:30,web,home\n"  # 2 January: the format says the day comes first
        "u1,2018-01-02 10:30,web,faq\n"  # ISO, but not the file's declared layout
        "u1,31/03/2024 02:30,web,gap\n"  # inside Amsterdam's daylight-saving gap
    )
    path = _write(tmp_path, text, "e.csv")
    (report,) = ws.ingest(paths=[str(path)], timestamp_format="%d/%m/%Y %H:%M")
    assert (report.loaded, report.quarantined, report.dst_shifted) == (2, {"bad_timestamp": 1}, 1)
    stored = {r["touchpoint"]: r["timestamp"] for r in table_rows(ws, "events")}
    assert stored["home"] == _dt.datetime(2018, 1, 2, 9, 30, tzinfo=UTC)
    assert stored["gap"] == _dt.datetime(2024, 3, 31, 1, 30, tzinfo=UTC)  # 03:30 CEST
    (row,) = quarantine_rows(ws)
    assert (row["line"], row["reason"], row["field"]) == (3, "bad_timestamp", "timestamp")
    assert row["message"] == (
        "timestamp: cannot parse '2018-01-02 10:30' with --timestamp-format '%d/%m/%Y %H:%M' "
        "(fix the value, or the format)"
    )


def test_timestamp_format_with_an_offset(workspace: jl.Workspace, tmp_path: Path) -> None:
    path = _write(
        tmp_path, "user_id,timestamp,channel,touchpoint\nu1,02.01.2018 10:30 +0200,web,home\n", "e.csv"
    )
    (report,) = workspace.ingest(paths=[str(path)], timestamp_format="%d.%m.%Y %H:%M %z")
    assert report.loaded == 1
    assert table_rows(workspace, "events")[0]["timestamp"] == _dt.datetime(2018, 1, 2, 8, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("fmt", "problem"),
    [
        ("%d-%Q-%y", "'%Q' is not a strptime directive"),
        ("%d/%m", "the format names no year"),
        ("%d-%b-%", "'%' is not a strptime directive"),
    ],
)
def test_a_bad_timestamp_format_is_refused_before_reading(
    workspace: jl.Workspace, tmp_path: Path, fmt: str, problem: str
) -> None:
    path = _write(tmp_path, "user_id,timestamp,channel,touchpoint\nu1,31-Jul-18,web,home\n", "e.csv")
    with pytest.raises(InputError) as caught:
        workspace.ingest(paths=[str(path)], timestamp_format=fmt)
    assert f"Option --timestamp-format {fmt!r}" in caught.value.message and problem in caught.value.message
    assert table_rows(workspace, "events") == []


# --- the command line -----------------------------------------------------------------------------


def test_cli_ingests_reviews_and_says_they_are_unlinked(run_cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "ws"
    assert run_cli(["init", root]).exit_code == 0
    path = _write(tmp_path, REVIEWS)
    flags = ["--table", "feedback", "--metric", "rating", "--timestamp-format", "%d-%b-%y",
             "--map", "score=rating", "--map", "timestamp=date",
             "--map", "comment=verified_reviews"]  # fmt: skip
    result = run_cli(["ingest", path, *flags, "-w", root])
    # The third review's 1-jan-2018 does not match %y (two digits): quarantined, with its line.
    assert result.exit_code == 1, result.output
    assert "2 record(s) name no user_id, anonymous_id or case_id" in result.output
    both = run_cli(["ingest", path, *flags, "--metric", "stars", "--timestamp-format", "%d/%m", "-w", root])
    assert both.exit_code != 0
    message = str(both.exception)
    assert "--metric 'stars'" in message and "--timestamp-format '%d/%m'" in message
    status = run_cli(["status", "-w", root, "-f", "json"])
    (bad,) = json.loads(status.stdout)["quarantine"]
    assert bad["reason"] == "bad_timestamp"


def test_status_counts_unlinked_feedback(run_cli: Cli, tmp_path: Path) -> None:
    """`status` says how many feedback rows name no person, on its fast path (the DuckDB file
    read without the engine) and its portable path alike."""
    from journeylens.quality import status

    root = tmp_path / "ws"
    assert run_cli(["init", root]).exit_code == 0
    path = _write(tmp_path, "user_id,case_id,timestamp,score\nu1,,2024-01-02,9\n,c1,2024-01-02,7\n"
                  ",,2024-01-02,3\n,,2024-01-03,10\n", "nps.csv")  # fmt: skip
    assert run_cli(["ingest", path, "--table", "feedback", "--metric", "nps", "-w", root]).exit_code == 0

    quick = json.loads(run_cli(["status", "-w", root, "-f", "json"]).stdout)
    assert quick["tables"]["feedback"] == 4 and quick["unlinked_feedback"] == 2
    table = run_cli(["status", "-w", root]).stdout  # the default, 80-column table
    assert "2 unlinked: no user_id, anonymous_id or case_id" in table
    ws = jl.Workspace.open(root)
    try:
        assert status(ws.store).unlinked_feedback == 2
    finally:
        ws.close()


def test_status_has_no_unlinked_note_without_anonymous_feedback(run_cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "ws"
    assert run_cli(["init", root]).exit_code == 0
    path = _write(tmp_path, "user_id,timestamp,score\nu1,2024-01-02,9\n", "nps.csv")
    assert run_cli(["ingest", path, "--table", "feedback", "--metric", "nps", "-w", root]).exit_code == 0
    assert json.loads(run_cli(["status", "-w", root, "-f", "json"]).stdout)["unlinked_feedback"] == 0
    assert "unlinked:" not in run_cli(["status", "-w", root, "--wide"]).stdout


@pytest.mark.realdata
def test_the_shared_reviews_load_with_an_explicit_format(
    workspace: jl.Workspace, shared_file: Callable[[str], Path]
) -> None:
    """The real Amazon reviews (UTF-8 BOM, tab-separated, 31-Jul-18) as they are: with the format
    spelled out, every review loads, on the same dates as without it."""
    path = shared_file("feedback/amazon_alexa_reviews.tsv")
    spec = {"metric": "rating", "mapping": {**REVIEW_MAP, "comment": "verified_reviews"}}
    report = _ingest(workspace, path, timestamp_format="%d-%b-%y", **spec)
    assert (report.rows_read, report.loaded, report.quarantined_total, report.unlinked) == (
        3150,
        3150,
        0,
        3150,
    )
    t = workspace.store.table("feedback")
    span = workspace.store.execute(t.aggregate(lo=t.timestamp.min(), hi=t.timestamp.max())).to_pylist()[0]
    assert (span["lo"].date(), span["hi"].date()) == (_dt.date(2018, 5, 16), _dt.date(2018, 7, 31))
    again = _ingest(workspace, path, **spec)  # read without the format: the same records
    assert (again.loaded, again.duplicates) == (0, 3150)
