"""Segments and side-by-side comparisons: RFM stories, cohorts, statistics vs statsmodels, CDNOW."""

from __future__ import annotations

import datetime as _dt
import json
import math
import random
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint, proportions_ztest
from statsmodels.stats.weightstats import DescrStatsW, ttest_ind

import journeylens as jl
from conftest import Step, customer, write_csv
from journeylens.discovery import (
    BehaviourCohort,
    BuiltinCohort,
    JourneyFilter,
    RfmRules,
    SegmentComparisonSpec,
    TimeRange,
    TraitCohort,
    compare_periods,
    compare_segments,
    parse_cohort,
    rfm_segments,
)
from journeylens.discovery._stats import (
    Moments,
    Proportion,
    benjamini_hochberg,
    compare_means,
    compare_proportions,
)
from journeylens.errors import InputError
from journeylens.identity import stitch
from journeylens.journeys import build_journeys

DAY0 = _dt.datetime(2024, 1, 1, 9, 0, tzinfo=_dt.UTC)
TOL = 1e-9


def at_day(day: float) -> _dt.datetime:
    return DAY0 + _dt.timedelta(days=day)


def purchase(user: str, day: float, value: float = 20.0, gap_minutes: int = 5) -> list[dict[str, Any]]:
    """search -> add_to_cart -> order_confirmation (success at 09:10 with the default gap)."""
    steps: list[Step] = [
        ("web", "search"),
        ("web", "add_to_cart"),
        ("web", "order_confirmation", {"value": value}),
    ]
    return customer(user, steps, start=at_day(day), gap_minutes=gap_minutes)


def abandoned(user: str, day: float, gap_minutes: int = 5) -> list[dict[str, Any]]:
    return customer(
        user, [("web", "search"), ("web", "add_to_cart")], start=at_day(day), gap_minutes=gap_minutes
    )


def one(user: str, day: float, channel: str, touchpoint: str, **extra: Any) -> list[dict[str, Any]]:
    return customer(user, [(channel, touchpoint, extra)], start=at_day(day) + _dt.timedelta(minutes=10))


def build(
    folder: Path,
    rows: Sequence[dict[str, Any]],
    traits: Sequence[dict[str, Any]] = (),
    timezone: str | None = None,
) -> jl.Workspace:
    folder.mkdir(parents=True, exist_ok=True)
    ws = jl.Workspace.init(folder / "ws", timezone=timezone)
    ws.ingest(paths=[str(write_csv(folder, "events.csv", rows))])
    if traits:
        ws.ingest(paths=[str(write_csv(folder, "customers.csv", traits))], table="customers")
    stitch(ws.store, ws.config.identity)
    build_journeys(ws.store, ws.config.journeys)
    return ws


def by_user(ws: jl.Workspace, table: Any) -> dict[str, dict[str, Any]]:
    """Rows of a per-customer table keyed by user id."""
    cmap = ws.store.backend.table("customer_map")
    users = cmap.filter(cmap.identifier_type == "user_id").select(
        user=cmap.identifier_value, customer_id=cmap.customer_id
    )
    rows = ws.store.execute(table.join(users, "customer_id")).to_pylist()
    return {row["user"]: row for row in rows}


# --- the RFM stories ----------------------------------------------------------------------------
# The data end (reference date) is day 200, 09:10 — the time of day of every order confirmation,
# so recency is a whole number of days.

STORIES = {
    "pia": "prospect: browses, never buys",
    "abe": "prospect: abandons a cart (a purchase journey without success is no purchase)",
    "fay": "first-time: one purchase",
    "lou": "loyal: three purchases, the last 10 days ago",
    "lin": "loyal at the edge: four purchases, the last exactly 90 days ago",
    "oto": "occasional: four purchases, the last 91 days ago",
    "ola": "occasional: two purchases, recently",
    "old": "lapsed (when enabled): two purchases, the last 180 days ago",
}


def story_rows() -> list[dict[str, Any]]:
    return [
        *one("pia", 150, "web", "faq"),
        *abandoned("abe", 120),
        *purchase("fay", 60, 35.5),
        *purchase("lou", 20), *purchase("lou", 100), *purchase("lou", 190, 50.0),
        *purchase("lin", 5), *purchase("lin", 40), *purchase("lin", 80), *purchase("lin", 110),
        *purchase("oto", 5), *purchase("oto", 40), *purchase("oto", 80), *purchase("oto", 109),
        *purchase("ola", 170), *purchase("ola", 185),
        *purchase("old", 10), *purchase("old", 20),
        *one("cat", 160, "chat", "billing_chat", agent_id="a1", contact_reason="billing"),
        *one("cat", 185, "chat", "billing_chat", agent_id="a1", contact_reason="billing"),
        *one("ola", 190, "chat", "delivery_chat", agent_id="a2", contact_reason="delivery"),
        *one("pia", 200, "web", "faq"),  # the end of the data
    ]  # fmt: skip


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[jl.Workspace]:
    traits = [
        {"user_id": u, "plan": p}
        for u, p in [
            ("pia", "basic"),
            ("abe", "basic"),
            ("fay", "premium"),
            ("lou", "premium"),
            ("ola", "basic"),
        ]
    ]
    ws = build(tmp_path_factory.mktemp("story"), story_rows(), traits)
    yield ws
    ws.close()


RFM_STORY = {  # user: (segment, frequency, recency_days, monetary)
    "pia": ("prospect", 0, None, 0.0),
    "abe": ("prospect", 0, None, 0.0),
    "cat": ("prospect", 0, None, 0.0),
    "fay": ("first-time", 1, 140, 35.5),
    "lou": ("loyal", 3, 10, 90.0),
    "lin": ("loyal", 4, 90, 80.0),
    "oto": ("occasional", 4, 91, 80.0),
    "ola": ("occasional", 2, 15, 40.0),
    "old": ("occasional", 2, 180, 40.0),
}


def rfm_found(ws: jl.Workspace, rules: RfmRules | None = None) -> dict[str, tuple[Any, ...]]:
    got = by_user(ws, rfm_segments(ws.store, rules))
    return {u: (r["segment"], r["frequency"], r["recency_days"], r["monetary"]) for u, r in got.items()}


def test_builtin_rfm_segments_follow_the_documented_rule(story: jl.Workspace) -> None:
    assert rfm_found(story) == RFM_STORY


def test_recency_is_in_true_days_whatever_the_workspace_time_zone(tmp_path: Path) -> None:
    # New York changes to summer time between old's purchase (day 20) and the end (day 200): days
    # measured on the session's wall clock would be an hour short and round down to 179.
    ws = build(tmp_path, story_rows(), timezone="America/New_York")
    try:
        assert rfm_found(ws) == RFM_STORY
    finally:
        ws.close()


def test_lapsed_reference_date_and_thresholds_are_configurable(story: jl.Workspace) -> None:
    lapsed = by_user(story, rfm_segments(story.store, RfmRules(lapsed_after_days=150)))
    assert {u: r["segment"] for u, r in lapsed.items() if r["segment"] == "lapsed"} == {"old": "lapsed"}
    # As of day 100 (10:00): lou's last purchase (day 100, 09:10) counts; day 190's does not yet.
    early = by_user(story, rfm_segments(story.store, as_of=at_day(100) + _dt.timedelta(hours=1)))
    assert (early["lou"]["frequency"], early["lou"]["recency_days"], early["lou"]["segment"]) == (
        2,
        0,
        "occasional",
    )
    assert early["ola"]["segment"] == "prospect" and early["fay"]["segment"] == "first-time"
    strict = by_user(story, rfm_segments(story.store, RfmRules(loyal_min_purchases=4, loyal_within_days=89)))
    assert strict["lou"]["segment"] == "occasional" and strict["lin"]["segment"] == "occasional"


def test_purchases_can_be_events_with_value(story: jl.Workspace) -> None:
    got = by_user(story, rfm_segments(story.store, RfmRules(purchases="events")))
    # Same purchases (the confirmation carries the value), dated at the event itself.
    assert got["lou"]["frequency"] == 3 and got["lou"]["recency_days"] == 10
    assert got["abe"]["segment"] == "prospect" and got["fay"]["monetary"] == 35.5


def test_trait_and_behaviour_cohorts(story: jl.Workspace) -> None:
    by_plan = compare_segments(
        story.store, SegmentComparisonSpec(cohort=TraitCohort(trait="plan"), metrics=["success"])
    )
    sizes = {g["segment"]: (g["members"], g["journeys"]) for g in by_plan.groups}
    # basic: pia (2 info journeys), abe (1), ola (2 purchases + 1 support); premium: fay 1, lou 3;
    # no plan: lin 4, oto 4, old 2, cat 2 (two chats 25 days apart).
    assert sizes == {"basic": (3, 6), "premium": (2, 4), "(unknown)": (4, 12)}
    chat = compare_segments(
        story.store, SegmentComparisonSpec(cohort=parse_cohort("did:channel=chat:30d"), metrics=["success"])
    )
    assert {g["segment"]: g["members"] for g in chat.groups} == {"did:channel=chat:30d": 2, "others": 7}
    twice = BehaviourCohort(field="channel", value="chat", within_days=45, min_count=2)
    rows = compare_segments(story.store, SegmentComparisonSpec(cohort=twice, metrics=["success"])).groups
    assert {g["segment"]: g["members"] for g in rows} == {"did:channel=chat:45d:2x": 1, "others": 8}
    premium = compare_segments(story.store, SegmentComparisonSpec(cohort=parse_cohort("trait:plan=premium")))
    assert [g["segment"] for g in premium.groups] == ["trait:plan=premium", "others"]


def test_builtin_comparison_sizes_and_baselines(story: jl.Workspace) -> None:
    spec = SegmentComparisonSpec(metrics=["success", "value"], baseline="loyal")
    result = compare_segments(story.store, spec)
    assert [g["segment"] for g in result.groups] == ["prospect", "first-time", "occasional", "loyal"]
    loyal = [r for r in result.records() if r["segment"] == "loyal"]
    assert all(r["baseline"] is None and r["p"] is None for r in loyal)
    others = [r for r in result.records() if r["segment"] != "loyal"]
    assert others and all(r["baseline"] == "loyal" for r in others)
    value = next(r for r in result.records() if r["segment"] == "first-time" and r["metric"] == "value")
    assert value["value"] == 35.5 and value["baseline_value"] == pytest.approx(
        170 / 7
    )  # lou 20+20+50, lin 4x20
    frame = result.to_pandas()
    assert set(frame.columns) >= {"segment", "metric", "value", "lo", "hi", "p", "q", "significant"}
    figure = result.plot()
    assert len(figure.data) == 2 and figure.data[0].error_y.array is not None
    assert "<table" in result._repr_html_()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("builtin", BuiltinCohort()),
        ("trait:segment", TraitCohort(trait="segment")),
        ("trait:segment=premium", TraitCohort(trait="segment", value="premium")),
        ("did:channel=chat:30d", BehaviourCohort(field="channel", value="chat", within_days=30)),
        (
            "did:touchpoint=checkout:7d:3x",
            BehaviourCohort(field="touchpoint", value="checkout", within_days=7, min_count=3),
        ),
        ("did:channel=store", BehaviourCohort(field="channel", value="store")),
    ],
)
def test_cohort_strings_round_trip(text: str, expected: Any) -> None:
    cohort = parse_cohort(text)
    assert cohort == expected and cohort.text() == text


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("trait:", "expected trait:NAME"),
        ("trait:plan=", "expected trait:NAME"),
        ("did:chanel=chat", "did you mean 'channel'"),
        ("did:channel", "expected did:channel=VALUE"),
        ("did:channel=chat:30m", "neither a window"),
        ("did:channel=chat:0d", "at least 1"),
        ("behaviour:chat", "unknown kind"),
        ("builtin:x", "no arguments"),
    ],
)
def test_malformed_cohorts_are_refused_with_the_syntax(text: str, says: str) -> None:
    with pytest.raises(InputError, match=says) as info:
        parse_cohort(text)
    assert info.value.hint and "did:channel=VALUE" in info.value.hint


def test_bad_input_names_what_exists(story: jl.Workspace) -> None:
    with pytest.raises(InputError, match="Unknown metric 'sucess'") as info:
        compare_segments(story.store, SegmentComparisonSpec(metrics=["sucess"]))
    assert "'success'" in (info.value.hint or "")
    with pytest.raises(InputError, match="Unknown customer trait 'plna'") as info:
        compare_segments(story.store, SegmentComparisonSpec(cohort=TraitCohort(trait="plna")))
    assert "'plan'" in (info.value.hint or "")
    with pytest.raises(InputError, match="value of trait 'plan'") as info:
        compare_segments(story.store, SegmentComparisonSpec(cohort=TraitCohort(trait="plan", value="premum")))
    assert "'premium'" in (info.value.hint or "")
    with pytest.raises(InputError, match="Unknown channel 'caht'"):
        compare_segments(story.store, SegmentComparisonSpec(cohort=parse_cohort("did:channel=caht")))
    with pytest.raises(InputError, match="Unknown touchpoint 'biling_chat'") as info:  # whatever the window
        compare_segments(
            story.store, SegmentComparisonSpec(cohort=parse_cohort("did:touchpoint=biling_chat:3d"))
        )
    assert "'billing_chat'" in (info.value.hint or "")
    with pytest.raises(InputError, match="No journeys of type 'purchases'") as info:
        rfm_segments(story.store, RfmRules(purchase_types=["purchases"]))
    assert "Did you mean 'purchase'?" in (info.value.hint or "")
    with pytest.raises(InputError, match="Unknown baseline 'loyl'") as info:
        compare_segments(story.store, SegmentComparisonSpec(baseline="loyl"))
    assert "'loyal'" in (info.value.hint or "")
    only_support = JourneyFilter(journey_type=["support"])
    with pytest.raises(InputError, match="no journeys in the selection"):
        compare_segments(story.store, SegmentComparisonSpec(baseline="loyal", filter=only_support))
    with pytest.raises(InputError, match="No journeys of type 'purchse'") as info:
        typo = RfmRules(purchases="journeys", purchase_types=["purchse"])
        compare_segments(story.store, SegmentComparisonSpec(cohort=BuiltinCohort(rules=typo)))
    assert "Did you mean 'purchase'?" in (info.value.hint or "")
    with pytest.raises(jl.errors.JourneyLensError, match="No journeys match"):
        compare_segments(story.store, SegmentComparisonSpec(filter=JourneyFilter(outcome=["failed"])))


# --- what the data does not define: said, never an error ----------------------------------------


def test_one_segment_gives_its_values_and_says_there_is_nothing_to_compare(story: jl.Workspace) -> None:
    # Information journeys belong to prospects only: one segment, its values, no test.
    only = JourneyFilter(journey_type=["information"])
    result = compare_segments(story.store, SegmentComparisonSpec(metrics=["duration_s"], filter=only))
    assert result.reason is not None and "one segment (prospect)" in result.reason
    assert result.hint is not None and "--period-a" in result.hint
    (row,) = result.records()
    assert (row["segment"], row["baseline"], row["test"], row["q"]) == ("prospect", None, None, None)
    assert row["value"] is not None and row["n"] > 0
    assert result.to_dict()["reason"] == result.reason


def no_purchase_rows() -> list[dict[str, Any]]:
    """Customers who browse and call, never buy, and carry no money."""
    return [
        *one("ann", 1, "web", "faq"), *one("ann", 30, "web", "faq"),
        *one("bob", 2, "web", "pricing"),
        *one("cy", 3, "chat", "billing_chat", agent_id="a1", contact_reason="billing"),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def browsers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[jl.Workspace]:
    ws = build(tmp_path_factory.mktemp("browsers"), no_purchase_rows())
    yield ws
    ws.close()


@pytest.mark.parametrize("purchases", [None, "journeys", "events"])
def test_builtin_segments_without_a_purchase_are_not_defined(browsers: jl.Workspace, purchases: str) -> None:
    """Nobody bought: "everyone is a prospect" would be a claim the data cannot make. One
    unsegmented group, every value None with the reason, and the settings that define purchases."""
    rules = RfmRules() if purchases is None else RfmRules(purchases=purchases)
    spec = SegmentComparisonSpec(cohort=BuiltinCohort(rules=rules), metrics=["success", "duration_s"])
    result = compare_segments(browsers.store, spec, rules=browsers.config.journeys)
    assert result.reason is not None and result.reason.startswith("no purchase in the data")
    assert ("no journey of type purchase ended in success" in result.reason) == (purchases != "events")
    assert ("no event of a known customer carries a value" in result.reason) == (purchases != "journeys")
    for setting in ("[journeys.types.purchase]", "--purchase-type", "--purchases events", "--map value="):
        assert result.hint is not None and setting in result.hint, setting
    out = result.to_dict()
    assert (out["purchases"], out["purchases_reason"]) == (None, result.reason)
    assert out["groups"] == [{"segment": None, "members": 3, "customers": 3, "journeys": 4}]
    assert [(r["segment"], r["metric"], r["value"], r["n"], r["reason"]) for r in out["rows"]] == [
        (None, "success", None, None, result.reason), (None, "duration_s", None, None, result.reason),
    ]  # fmt: skip
    assert result.plot().data == ()  # no chart of nothing


def test_builtin_segments_fall_back_to_events_with_a_value(tmp_path: Path) -> None:
    """An order file: money on every row, no purchase journey. By default the purchases are the
    events with a value, and the result says so; asking for journeys is not overruled."""
    rows = [*one("ann", 1, "web", "cd_purchase", value=12.0), *one("ann", 5, "web", "cd_purchase", value=8.0),
            *one("bob", 3, "web", "cd_purchase", value=20.0), *one("cy", 4, "web", "faq")]  # fmt: skip
    ws = build(tmp_path, rows)
    try:
        spec = SegmentComparisonSpec(metrics=["value"])
        result = compare_segments(ws.store, spec, rules=ws.config.journeys)
        out = result.to_dict()
        assert out["purchases"] == "events" and result.reason is None
        assert "no journey of type purchase ended in success" in out["purchases_reason"]
        assert "the 3 events with value > 0 are the purchases" in out["purchases_reason"]
        members = {g["segment"]: g["members"] for g in out["groups"]}
        assert members == {"prospect": 1, "first-time": 1, "occasional": 1}
        assert by_user(ws, rfm_segments(ws.store))["ann"]["segment"] == "occasional"  # the same default
        asked = RfmRules(purchases="journeys")
        strict = compare_segments(ws.store, SegmentComparisonSpec(cohort=BuiltinCohort(rules=asked)))
        assert strict.reason is not None and strict.to_dict()["purchases"] is None
        assert "no event of a known customer" not in strict.reason  # events were not asked for
    finally:
        ws.close()


def test_builtin_segments_of_a_case_log_say_there_are_no_customers(tmp_path: Path) -> None:
    rows = [{**r, "case_id": f"t{i}", "user_id": ""} for i, r in enumerate(no_purchase_rows())]
    ws = build(tmp_path, rows)
    try:
        result = compare_segments(ws.store, SegmentComparisonSpec(metrics=["touchpoints"]))
        assert result.reason is not None and "no selected journey has a customer identifier" in result.reason
        assert result.hint is not None and "--map user_id=COLUMN" in result.hint
        (row,) = result.records()
        assert (row["segment"], row["value"], row["reason"]) == (None, None, result.reason)
    finally:
        ws.close()


def test_a_did_cohort_empty_in_its_window_is_not_defined(story: jl.Workspace) -> None:
    """The last chat is 10 days before the data end: nobody chatted in the last 3 days. That is
    what the data says, not a bad request: one group, values None, the window to widen."""
    spec = SegmentComparisonSpec(cohort=parse_cohort("did:channel=chat:3d"), metrics=["success", "value"])
    result = compare_segments(story.store, spec)
    assert result.reason is not None and result.reason.startswith("the cohort did:channel=chat:3d matched 0 ")
    assert "0 customers of 9" in result.reason and "in the 3 days up to 2024-07-19 09:10 UTC" in result.reason
    assert "the latest such event is on 2024-07-09" in result.reason
    assert result.hint == "Widen the window (e.g. :90d), or set --as-of to a date when customers did it."
    out = result.to_dict()
    assert out["groups"] == [{"segment": None, "members": 9, "customers": 9, "journeys": 22}]
    assert [(r["segment"], r["metric"], r["value"], r["reason"]) for r in out["rows"]] == [
        (None, "success", None, result.reason), (None, "value", None, result.reason),
    ]  # fmt: skip
    twice = compare_segments(story.store, SegmentComparisonSpec(cohort=parse_cohort("did:channel=chat:3x")))
    assert twice.reason is not None and "2+ events" not in twice.reason and "3+ events" in twice.reason
    assert "in the data up to" in twice.reason  # no window: the count is what nobody reached
    assert twice.hint == "Lower the count (e.g. :2x), or set --as-of to a date when customers did it."


def case_log(folder: Path) -> jl.Workspace:
    """The browsers' events as a case log: no user id, each event its own case."""
    rows = [{**r, "case_id": f"t{i}", "user_id": ""} for i, r in enumerate(no_purchase_rows())]
    return build(folder, rows, traits=[{"user_id": "ann", "plan": "basic"}])


@pytest.mark.parametrize(
    "cohort", ["trait:plan", "trait:plan=basic", "did:channel=chat", "did:touchpoint=faq:30d"]
)
def test_trait_and_did_cohorts_of_a_case_log_say_there_are_no_customers(tmp_path: Path, cohort: str) -> None:
    ws = case_log(tmp_path)
    try:
        spec = SegmentComparisonSpec(cohort=parse_cohort(cohort), metrics=["touchpoints"])
        result = compare_segments(ws.store, spec)
        assert result.reason is not None and "no selected journey has a customer identifier" in result.reason
        assert result.hint is not None and "--map user_id=COLUMN" in result.hint
        (row,) = result.records()
        assert (row["segment"], row["value"], row["reason"]) == (None, None, result.reason)
        assert result.groups[0]["segment"] is None and result.groups[0]["journeys"] == 4
    finally:
        ws.close()


def test_cohort_typos_on_a_case_log_stay_errors(tmp_path: Path) -> None:
    ws = case_log(tmp_path)
    try:
        for text, says, near in [("trait:plna", "Unknown customer trait 'plna'", "'plan'"),
                                 ("trait:plan=basc", "Unknown value of trait 'plan' 'basc'", "'basic'"),
                                 ("did:channel=caht", "Unknown channel 'caht'", "'chat'")]:  # fmt: skip
            with pytest.raises(InputError, match=says) as info:
                compare_segments(ws.store, SegmentComparisonSpec(cohort=parse_cohort(text)))
            assert near in (info.value.hint or ""), text
    finally:
        ws.close()


def test_a_period_without_journeys_is_not_defined(story: jl.Workspace) -> None:
    result = compare_periods(
        story.store, ["success", "value"], "2024-01-01:2024-04-01", "2025-01-01:2025-02-01"
    )
    assert result.reason is not None
    assert "no selected journey starts in --period-b 2025-01-01..2025-02-01" in result.reason
    assert result.hint is not None and "journeys summary --by period" in result.hint
    assert [(g["period"], g["journeys"]) for g in result.groups] == [
        ("2024-01-01..2024-04-01", 10), ("2025-01-01..2025-02-01", 0),
    ]  # fmt: skip
    rows = {(r["period"], r["metric"]): r for r in result.records()}
    assert rows["2024-01-01..2024-04-01", "success"]["value"] is not None
    assert all(r["baseline"] is None and r["p"] is None for r in rows.values())
    empty = [r for (p, _), r in rows.items() if p.startswith("2025")]
    assert [(r["metric"], r["value"], r["n"], r["reason"]) for r in empty] == [
        ("success", None, None, result.reason), ("value", None, None, result.reason),
    ]  # fmt: skip
    neither = compare_periods(story.store, "success", "2023-01-01:2023-02-01", "2025-01-01:2025-02-01")
    assert neither.reason is not None and "--period-a 2023-01-01..2023-02-01 or --period-b" in neither.reason
    assert [(r["value"], r["reason"]) for r in neither.records()] == [(None, neither.reason)] * 2


def test_undefined_cohorts_and_periods_exit_0_in_the_cli(
    tmp_path: Path, run_cli: Callable[[Sequence[str]], Any]
) -> None:
    build(tmp_path, story_rows()).close()
    root = str(tmp_path / "ws")
    for args, says in [
        (["--cohort", "did:channel=chat:3d"], "matched 0 customers"),
        (
            ["--period-a", "2024-01-01:2024-04-01", "--period-b", "2025-01-01:2025-02-01"],
            "no selected journey",
        ),
    ]:
        line = ["segments", "-w", root, "-m", "success", *args]
        table = run_cli(line)
        assert table.exit_code == 0, table.output
        said = " ".join(table.output.split())
        assert "Not defined: " in said and says in said and "Hint: " in said, args
        data = json.loads(run_cli([*line, "-f", "json"]).stdout)
        assert says in data["reason"] and data["hint"]
        assert any(r["value"] is None and r["reason"] == data["reason"] for r in data["rows"])


def test_the_readme_segments_line_without_purchases_exits_0_with_reasons(
    tmp_path: Path, run_cli: Callable[[Sequence[str]], Any]
) -> None:
    build(tmp_path, no_purchase_rows()).close()
    line = ["segments", "--metric", "success", "--metric", "cost_to_serve", "-w", str(tmp_path / "ws")]
    table = run_cli(line)
    assert table.exit_code == 0, table.output
    assert "n/d" in table.stdout
    said = " ".join(table.output.split())
    assert "Not defined: the segments: no purchase in the data" in said
    assert "Hint: Declare the purchase journey in journeylens.toml ([journeys.types.purchase]" in said
    data = json.loads(run_cli([*line, "-f", "json"]).stdout)
    assert data["reason"].startswith("no purchase") and data["hint"]
    assert all(r["value"] is None and r["reason"] == data["reason"] for r in data["rows"])
    # A typo in an option stays an error.
    typo = run_cli([*line, "--purchase-type", "purchse"])
    # The report's segments part (success is defined: information journeys succeed) says the same.
    assert run_cli(["report", "-w", str(tmp_path / "ws")]).exit_code == 0
    html = (tmp_path / "ws" / "report.html").read_text(encoding="utf-8")
    assert "Segments: not defined, no purchase in the data" in html
    assert isinstance(typo.exception, InputError) and "Did you mean 'purchase'?" in (
        typo.exception.hint or ""
    )


def test_periods_side_by_side_and_refused_periods(story: jl.Workspace) -> None:
    result = compare_periods(
        story.store, ["success", "value"], ("2024-01-01", "2024-04-01"), "2024-04-01:2024-08-01"
    )
    assert [g["period"] for g in result.groups] == ["2024-01-01..2024-04-01", "2024-04-01..2024-08-01"]
    a, b = result.groups
    assert (a["journeys"], b["journeys"]) == (10, 12)
    later = [r for r in result.records() if r["baseline"] == "2024-01-01..2024-04-01"]
    assert [r["metric"] for r in later] == ["success", "value"]
    with pytest.raises(InputError, match="overlap"):
        compare_periods(story.store, "success", "2024-01-01:2024-03-01", "2024-02-01:2024-04-01")
    with pytest.raises(InputError, match="reversed"):
        compare_periods(story.store, "success", "2024-03-01:2024-01-01", "2024-04-01:2024-05-01")
    with pytest.raises(InputError, match="not a period"):
        TimeRange.parse("March", "--period-a")


def test_cli_json_and_errors(story: jl.Workspace, run_cli: Callable[[Sequence[str]], Any]) -> None:
    root = str(story.root)
    story.close()  # the CLI opens the workspace itself
    result = run_cli(
        ["segments", "-w", root, "--cohort", "trait:plan", "-m", "success", "-m", "value", "-f", "json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["cohort"] == "trait:plan" and data["baseline"] == "rest"
    assert [g["segment"] for g in data["groups"]] == ["basic", "premium", "(unknown)"]
    assert {r["metric"] for r in data["rows"]} == {"success", "value"}
    assert all({"value", "lo", "hi", "p", "q", "significant", "test"} <= set(r) for r in data["rows"])
    periods = run_cli(["segments", "-w", root, "--period-a", "2024-01-01:2024-04-01", "--period-b",
                       "2024-04-01:2024-08-01", "-f", "csv"])  # fmt: skip
    assert periods.exit_code == 0 and periods.stdout.startswith("period,baseline,metric")
    table = run_cli(["segments", "-w", root, "--lapsed-days", "150", "--baseline", "first"])
    assert table.exit_code == 0 and "lapsed" in table.stdout
    for args, says in [
        (["--metric", "sucess"], "Unknown metric"),
        (["--period-a", "2024-01-01:2024-02-01"], "needs both"),
        (["--cohort", "trait:plan", "--loyal-min", "4"], "apply to --cohort builtin"),
        (["--lapsed-days", "30"], "must exceed"),
        (["--period-a", "2024-02-01:2024-01-01", "--period-b", "2024-03-01:2024-04-01"], "--period-a"),
    ]:
        bad = run_cli(["segments", "-w", root, *args])
        assert isinstance(bad.exception, InputError) and says in str(bad.exception), args


# --- statistics against statsmodels ------------------------------------------------------------


def test_two_proportion_z_test_and_newcombe_interval_match_statsmodels() -> None:
    rng = random.Random(4)
    for _ in range(200):
        d1, d2 = rng.randint(100, 5000), rng.randint(100, 5000)  # every expected count >= 10
        n1, n2 = rng.randint(d1 // 10, d1 - d1 // 10), rng.randint(d2 // 10, d2 - d2 // 10)
        got = compare_proportions(Proportion(n1, d1), Proportion(n2, d2))
        assert got.test == "z"
        z, p = proportions_ztest([n1, n2], [d1, d2])
        assert got.statistic == pytest.approx(z, abs=TOL) and got.p == pytest.approx(p, abs=TOL)
        lo, hi = confint_proportions_2indep(n1, d1, n2, d2, method="newcomb", compare="diff")
        assert got.diff_lo == pytest.approx(lo, abs=TOL) and got.diff_hi == pytest.approx(hi, abs=TOL)
        wlo, whi = proportion_confint(n1, d1, method="wilson")
        mine_lo, mine_hi = Proportion(n1, d1).interval()
        assert mine_lo == pytest.approx(wlo, abs=TOL) and mine_hi == pytest.approx(whi, abs=TOL)


def test_small_counts_use_fishers_exact_test() -> None:
    def fisher_reference(a: int, b: int, c: int, d: int) -> float:
        """Two-sided Fisher p: every table with the same margins at most as likely as the observed."""
        row1, col1, total = a + b, a + c, a + b + c + d

        def prob(x: int) -> float:
            return math.comb(col1, x) * math.comb(total - col1, row1 - x) / math.comb(total, row1)

        observed = prob(a)
        support = range(max(0, row1 + col1 - total), min(row1, col1) + 1)
        return min(1.0, sum(prob(x) for x in support if prob(x) <= observed * (1 + 1e-7)))

    for n1, d1, n2, d2 in [(1, 12, 6, 10), (0, 30, 4, 30), (3, 3, 1, 8), (2, 40, 2, 9)]:
        got = compare_proportions(Proportion(n1, d1), Proportion(n2, d2))
        assert got.test == "fisher"
        assert got.p == pytest.approx(fisher_reference(n1, d1 - n1, n2, d2 - n2), abs=TOL)
    assert compare_proportions(Proportion(0, 0), Proportion(3, 9)).test is None


def test_welch_test_intervals_and_merged_moments_match_statsmodels() -> None:
    rng = np.random.default_rng(11)
    for _ in range(100):
        x = rng.lognormal(3, 1, rng.integers(2, 300))
        y = rng.lognormal(3.2, 0.7, rng.integers(2, 300))
        a, b = (Moments.of(len(v), float(v.mean()), float(v.var(ddof=1))) for v in (x, y))
        got = compare_means(a, b)
        t, p, _ = ttest_ind(x, y, usevar="unequal")
        assert got.statistic == pytest.approx(t, abs=TOL) and got.p == pytest.approx(p, abs=TOL)
        assert got.p == pytest.approx(sps.ttest_ind(x, y, equal_var=False).pvalue, abs=TOL)
        lo, hi = DescrStatsW(x).tconfint_mean()
        mine_lo, mine_hi = a.interval()
        assert mine_lo == pytest.approx(lo, rel=TOL) and mine_hi == pytest.approx(hi, rel=TOL)
        merged = a + b  # "the rest": moments of two groups combined
        both = np.concatenate([x, y])
        assert merged.count == len(both) and merged.mean == pytest.approx(both.mean(), rel=TOL)
        assert merged.variance == pytest.approx(both.var(ddof=1), rel=TOL)
    assert compare_means(Moments(1, 5.0, 0.0), Moments(10, 1.0, 3.0)).test is None


def test_benjamini_hochberg_matches_multipletests() -> None:
    rng = np.random.default_rng(3)
    for size in (1, 2, 7, 40):
        p = np.round(rng.uniform(0, 0.2, size), 3)  # rounding makes ties
        _, q, _, _ = multipletests(p, method="fdr_bh")
        assert benjamini_hochberg(list(p)) == pytest.approx(list(q), abs=TOL)
    assert benjamini_hochberg([0.01, None, 0.02]) == [0.02, None, 0.02]


# --- end to end: a comparison recomputed from the raw journeys ----------------------------------

PLANS = {"gold": (0.8, 60.0), "silver": (0.55, 40.0), "bronze": (0.3, 30.0)}


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> Iterator[jl.Workspace]:
    rng = random.Random(7)
    rows: list[dict[str, Any]] = []
    traits = []
    for plan, (rate, mean_value) in PLANS.items():
        for i in range(40):
            user = f"{plan}{i}"
            traits.append({"user_id": user, "plan": plan})
            for k in range(rng.randint(1, 2)):
                day, gap = 2 * i + 100 * k, rng.randint(1, 30)
                if rng.random() < rate:
                    rows += purchase(user, day, round(rng.gauss(mean_value, 15), 2), gap_minutes=gap)
                else:
                    rows += abandoned(user, day, gap_minutes=gap)
    rows += one("zed", 400, "web", "faq")  # keeps every cart well away from the data's end
    ws = build(tmp_path_factory.mktemp("plans"), rows, traits)
    yield ws
    ws.close()


def test_segment_comparison_agrees_with_statsmodels_on_raw_journeys(plans: jl.Workspace) -> None:
    spec = SegmentComparisonSpec(cohort=TraitCohort(trait="plan"), metrics=["success", "value", "duration_s"])
    result = compare_segments(plans.store, spec)
    journeys = plans.store.execute(plans.store.backend.table("journeys")).to_pandas()
    cmap = plans.store.execute(plans.store.backend.table("customer_map")).to_pandas()
    plan_of = {
        c: u.rstrip("0123456789") for c, u in zip(cmap.customer_id, cmap.identifier_value, strict=True)
    }
    journeys["plan"] = journeys.customer_id.map(plan_of).where(lambda p: p.isin(list(PLANS)), "(unknown)")
    journeys["value"] = journeys["value"].fillna(0.0)
    rows = {(r["segment"], r["metric"]): r for r in result.records()}
    assert {r["baseline"] for r in rows.values()} == {"rest"}
    raw_p = []
    assert rows[("(unknown)", "success")]["test"] == "fisher"  # one journey: too few for z
    for plan in ["bronze", "gold", "silver"]:
        mine, rest = journeys[journeys.plan == plan], journeys[journeys.plan != plan]
        won = [int((mine.outcome == "success").sum()), int((rest.outcome == "success").sum())]
        z, p = proportions_ztest(won, [len(mine), len(rest)])
        got = rows[(plan, "success")]
        assert got["test"] == "z" and got["n"] == won[0] and got["d"] == len(mine)
        assert got["statistic"] == pytest.approx(z, abs=TOL) and got["p"] == pytest.approx(p, abs=TOL)
        raw_p.append(got["p"])
        for metric in ("value", "duration_s"):
            t, p, _ = ttest_ind(mine[metric].to_numpy(float), rest[metric].to_numpy(float), usevar="unequal")
            got = rows[(plan, metric)]
            assert got["value"] == pytest.approx(mine[metric].mean(), rel=TOL)
            assert got["sd"] == pytest.approx(mine[metric].std(ddof=1), rel=TOL)
            assert got["statistic"] == pytest.approx(t, abs=TOL) and got["p"] == pytest.approx(p, abs=TOL)
            raw_p.append(got["p"])
    ordered = [r["p"] for r in result.records() if r["p"] is not None]
    _, q, _, _ = multipletests(ordered, method="fdr_bh")
    assert [r["q"] for r in result.records() if r["p"] is not None] == pytest.approx(list(q), abs=TOL)
    assert set(raw_p) <= set(ordered)
    gold = rows[("gold", "success")]
    assert gold["significant"] is True and gold["diff"] > 0  # 80% against 30-55%: a real difference


def test_pairs_compare_every_pair_once(plans: jl.Workspace) -> None:
    spec = SegmentComparisonSpec(cohort=TraitCohort(trait="plan"), metrics=["success"], baseline="pairs")
    rows = compare_segments(plans.store, spec).records()
    pairs = [(r["segment"], r["baseline"]) for r in rows if r["baseline"] is not None]
    assert pairs == [
        ("bronze", "gold"), ("bronze", "silver"), ("bronze", "(unknown)"),
        ("gold", "silver"), ("gold", "(unknown)"), ("silver", "(unknown)"),
    ]  # fmt: skip
    tested = [r["p"] for r in rows if r["p"] is not None]
    _, q, _, _ = multipletests(tested, method="fdr_bh")
    assert [r["q"] for r in rows if r["p"] is not None] == pytest.approx(list(q), abs=TOL)


# --- real data: CDNOW purchases -----------------------------------------------------------------

CDNOW_COLUMNS = ["customer_id", "customer_index", "date", "number_of_cds", "dollar_value"]


def cdnow_rfm(raw: pd.DataFrame, loyal_min: int = 3, loyal_days: int = 90) -> pd.DataFrame:
    """The built-in rule in pandas, independently: purchases are rows with dollar_value > 0."""
    raw = raw.assign(day=pd.to_datetime(raw.date, format="%Y%m%d"), amount=raw.dollar_value.astype(float))
    reference = raw.day.max()
    bought = raw[raw.amount > 0]
    per = bought.groupby("customer_id").agg(
        frequency=("day", "size"), last=("day", "max"), monetary=("amount", "sum")
    )
    per = per.reindex(sorted(raw.customer_id.unique()))
    per["frequency"] = per.frequency.fillna(0).astype(int)
    per["recency_days"] = (reference - per["last"]).dt.days
    per["monetary"] = per.monetary.fillna(0.0)

    def segment(row: pd.Series) -> str:
        if row.frequency == 0:
            return "prospect"
        if row.frequency == 1:
            return "first-time"
        if row.frequency >= loyal_min and row.recency_days <= loyal_days:
            return "loyal"
        return "occasional"

    per["segment"] = per.apply(segment, axis=1)
    return per


@pytest.mark.realdata
def test_cdnow_rfm_segments_equal_a_pandas_reference(
    shared_file: Callable[[str], Path], tmp_path: Path, run_cli: Callable[[Sequence[str]], Any]
) -> None:
    cdnow = shared_file("journeys/CDNOW_sample.txt")
    raw = pd.read_csv(cdnow, sep=r"\s+", header=None, names=CDNOW_COLUMNS, dtype=str)  # the reference
    assert len(raw) == 6919 and raw.customer_id.nunique() == 2357
    # The file is whitespace-aligned without a header: ingest reads it as it is, given the
    # column names, the touchpoint it lacks and the mapping onto the event model.
    ws_dir = str(tmp_path / "ws")
    assert run_cli(["init", ws_dir]).exit_code == 0
    flags = ["--map", "user_id=customer_id", "--map", "timestamp=date", "--map", "value=dollar_value"]
    layout = [
        "--delimiter",
        "whitespace",
        "--columns",
        ",".join(CDNOW_COLUMNS),
        "--touchpoint",
        "cd_purchase",
    ]
    ingest = run_cli(
        ["ingest", str(cdnow), "-w", ws_dir, *layout, *flags, "--channel", "web", "--keep-identical"]
    )
    assert ingest.exit_code == 0, ingest.output
    assert run_cli(["build", "-w", ws_dir]).exit_code == 0  # stitch customers, split journeys
    ws = jl.Workspace.open(ws_dir)
    try:
        assert ws.store.count("events") == 6919  # 21 exact repeats are separate purchases
        got = pd.DataFrame(by_user(ws, rfm_segments(ws.store, RfmRules(purchases="events"))).values())
    finally:
        ws.close()
    got = got.set_index("user").sort_index()
    expected = cdnow_rfm(raw)
    assert list(got.index) == list(expected.index)
    assert (got.segment == expected.segment).all()
    assert (got.frequency == expected.frequency).all()
    recency = got.recency_days.astype("Float64")
    assert recency.fillna(-1).tolist() == expected.recency_days.astype("Float64").fillna(-1).tolist()
    assert np.allclose(got.monetary.to_numpy(float), expected.monetary.to_numpy(float), rtol=1e-12, atol=1e-9)
    counts = got.segment.value_counts().to_dict()
    assert counts == {"first-time": 1197, "occasional": 878, "loyal": 274, "prospect": 8}

    # The same segments through the CLI, comparing the money per journey (journeys of a day).
    out = run_cli(["segments", "-w", ws_dir, "--purchases", "events", "-m", "value", "-f", "json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["reference_date"].startswith("1998-06-30")
    assert {g["segment"]: g["members"] for g in data["groups"]} == counts
    first = next(r for r in data["rows"] if r["segment"] == "first-time")
    once = expected[expected.segment == "first-time"]
    assert first["n"] == len(once) and first["value"] == pytest.approx(once.monetary.mean(), rel=1e-12)

    # Without -m the metrics are the ones purchase data defines (no journey type defines outcomes);
    # the per-customer ones count each customer of a segment once, as the pandas reference does.
    out = run_cli(["segments", "-w", ws_dir, "--purchases", "events", "-f", "json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["metrics"] == ["purchases", "value", "recency_days", "frequency"]
    assert "no journey type of the selection (other) defines success or failure" in data["metrics_reason"]
    level = {(r["segment"], r["metric"]): r for r in data["rows"]}
    for segment, members in expected.groupby("segment"):
        frequency = level[(segment, "frequency")]
        assert frequency["n"] == len(members)
        assert frequency["value"] == pytest.approx(members.frequency.mean(), rel=1e-12)
    loyal = expected[expected.segment == "loyal"]
    assert level[("loyal", "recency_days")]["value"] == pytest.approx(loyal.recency_days.mean(), rel=1e-12)
    assert level[("prospect", "recency_days")]["value"] is None  # no purchase: recency is not defined
    table = run_cli(["segments", "-w", ws_dir, "--purchases", "events"])
    assert "recency_days" in table.stdout and "…" not in table.stdout
