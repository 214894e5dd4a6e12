"""Living maps end to end: stage series in the engine, alerts grouped and stored, the planted change.

One synthetic world (3,000 customers, seed 13, ~20 s to build) is shared. Its ground truth plants a
checkout payment outage from day 75 (``checkout_payment_outage``): from then on fewer purchase
journeys that reach checkout order. The monitor must find it on the checkout stage's conversion
within a week, and raise no more false alarms elsewhere than the map's budget allows.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import journeylens as jl
from journeylens.errors import InputError, NotFoundError
from journeylens.maps import MapError
from journeylens.maps.alerts import REALARM_GAP, group_alarms, write_alerts
from journeylens.maps.monitor_stats import AlertEvidence, MapAlert, SeriesName
from journeylens.synth import generate_world

STAGES = {
    "discover": ["home", "product_page", "product_reviews", "search", "category_page"],
    "cart": ["add_to_cart"],
    "checkout": ["checkout", "payment_error"],
    "pay": ["payment", "order_confirmation"],
}
CHECKOUT_TARGET_S = 180.0
PURCHASE_MAP = """\
journey_type: purchase
goal: Buy the right product without help
monitor:
  false_alarm_budget: 1/month
stages:
  - name: discover
    touchpoints: [home, product_page, product_reviews, search, category_page]
  - name: cart
    touchpoints: [add_to_cart]
  - name: checkout
    touchpoints: [checkout, payment_error]
    time_target: {duration: 3m, percentile: p80}
  - name: pay
    touchpoints: [payment, order_confirmation]
    required: false
unplanned:
  - name: call about payment
    touchpoints: [ivr_menu, payment_call]
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], jl.Workspace]]:
    root = tmp_path_factory.mktemp("living")
    generate_world(root / "world", customers=3_000, seed=13)
    ws = jl.Workspace.init(root / "ws")
    ws.config.privacy.default_country_code = "31"
    for table in ("events", "identities", "customers", "feedback"):
        ws.ingest(paths=[str(root / "world" / table)], table=table)
    ws.build()
    (ws.root / "maps" / "purchase.yaml").write_text(PURCHASE_MAP)
    truth = json.loads((root / "world" / "ground_truth.json").read_text())
    yield truth, ws
    ws.close()


# --- the series, recounted in pandas ------------------------------------------------------------


def _recount(ws: jl.Workspace) -> pd.DataFrame:
    """Per stage and day: reached, decided, succeeded, within target — from the raw tables."""
    backend = ws.store.backend
    journeys = backend.table("journeys").select("journey_id", "journey_type", "start", "outcome").to_pandas()
    journeys = journeys[journeys["journey_type"] == "purchase"]
    je = backend.table("journey_events").select("event_id", "journey_id").to_pandas()
    events = ws.store.table("events").select("event_id", "timestamp", "touchpoint").to_pandas()
    ev = je.merge(events, on="event_id").merge(journeys[["journey_id"]], on="journey_id")
    rank = {tp: i for i, tps in enumerate(STAGES.values()) for tp in tps}
    ev["rank"] = ev["touchpoint"].map(rank)
    ev = ev.dropna(subset=["rank"])
    per = ev.groupby(["journey_id", "rank"])["timestamp"].agg(["min", "max"]).reset_index()
    per = per.sort_values(["journey_id", "rank"])
    per["next"] = per.groupby("journey_id")["min"].shift(-1)
    end = per["next"].where(per["next"].notna() & (per["next"] >= per["min"]), per["max"])
    per["time_s"] = (end - per["min"]).dt.total_seconds()
    per = per.merge(journeys, on="journey_id")
    per["period"] = per["start"].dt.tz_convert(ws.store.timezone).dt.date
    per["decided"] = ~per["outcome"].isin(["open", "unknown"])
    per["succeeded"] = per["decided"] & (per["outcome"] == "success")
    per["within"] = per["time_s"] <= CHECKOUT_TARGET_S
    out = per.groupby(["rank", "period"]).agg(
        reached=("journey_id", "size"), decided=("decided", "sum"), succeeded=("succeeded", "sum"),
        within=("within", "sum"),
    )  # fmt: skip
    return out.reset_index()


def _recount_missing(ws: jl.Workspace) -> pd.Series:
    """Per day: purchase journeys that never reach one of the required stages (all but pay)."""
    backend = ws.store.backend
    journeys = backend.table("journeys").select("journey_id", "journey_type", "start").to_pandas()
    journeys = journeys[journeys["journey_type"] == "purchase"]
    je = backend.table("journey_events").select("event_id", "journey_id").to_pandas()
    events = ws.store.table("events").select("event_id", "touchpoint").to_pandas()
    ev = je.merge(events, on="event_id")
    required = {tp: stage for stage in ("discover", "cart", "checkout") for tp in STAGES[stage]}
    ev["stage"] = ev["touchpoint"].map(required)
    reached = ev.dropna(subset=["stage"]).groupby("journey_id")["stage"].nunique()
    journeys["missing"] = journeys["journey_id"].map(reached).fillna(0) < 3
    journeys["period"] = journeys["start"].dt.tz_convert(ws.store.timezone).dt.date
    missing: pd.Series = journeys.groupby("period")["missing"].sum()
    return missing


def test_stage_series_equal_a_pandas_recount(world: tuple[dict[str, Any], jl.Workspace]) -> None:
    _, ws = world
    result = ws.map_monitor("purchase")
    series = result.series.to_pandas()
    expected = _recount(ws)
    names = list(STAGES)
    checked = 0
    for row in expected.itertuples():
        stage = names[int(row.rank)]
        got = series[(series["stage"] == stage) & (series["period"] == row.period)]
        if got.empty:  # outside the calendar (a trailing partial period)
            continue
        by_metric = got.set_index("metric")
        assert by_metric.loc["volume", "value"] == row.reached, (stage, row.period)
        assert by_metric.loc["conversion", "trials"] == row.decided
        assert by_metric.loc["conversion", "successes"] == row.succeeded
        if stage == "checkout":
            assert by_metric.loc["time_within_target", "successes"] == row.within
            assert by_metric.loc["time_within_target", "trials"] == row.reached
        checked += 1
    assert checked > 400, "every stage on most days"
    # Missing a required stage (discover, cart, checkout) per day, recounted too.
    missing = series[series["metric"] == "missing_required_stage"].set_index("period")["successes"]
    recount = _recount_missing(ws).reindex(missing.index, fill_value=0)
    assert missing.sum() > 0 and (missing == recount).all(), (missing - recount)[missing != recount]
    volumes = series[series["metric"] == "volume"].groupby("stage")["value"].sum()
    assert volumes["discover"] > volumes["cart"] > volumes["checkout"] > volumes["pay"] > 0
    # Answers linked to the map's journeys give mean-score series on the stage they are about: the
    # NPS after an order is about its confirmation (pay); CSAT after calls is linked to the support
    # journeys the calls belong to, so the purchase map has no CSAT series.
    feedback = series[series["metric"].str.startswith("feedback_")]
    assert set(feedback["metric"]) == {"feedback_nps"} and set(feedback["stage"]) == {"pay"}


# --- alerts: grouped, stored, replaced ---------------------------------------------------------


def _alarm(first: int, alarm: int, direction: str = "down", metric: str = "conversion") -> MapAlert:
    evidence = AlertEvidence(7.0, 6.5, 0.5, 600.0, 0.7, 1.1, 56, (-2.0,))
    day = date(2026, 3, 1)
    return MapAlert(
        SeriesName("m", "checkout", metric), direction,  # type: ignore[arg-type]
        -0.2, -2.0, day + timedelta(days=first), day + timedelta(days=alarm), 0,
        day + timedelta(days=alarm), evidence,
    )  # fmt: skip


def test_repeated_alarms_of_one_change_are_one_alert() -> None:
    lasting = [_alarm(0, 3), _alarm(4, 7), _alarm(8, 10), _alarm(11, 14)]
    (one,) = group_alarms(lasting, period_days=1.0)
    assert (one.first_period.day, one.alarm_period.day, one.realarms, one.last_alarm_period.day) == (
        1,
        4,
        3,
        15,
    )
    # Far apart, the other way, or another series: separate changes.
    apart = group_alarms([_alarm(0, 3), _alarm(4 + REALARM_GAP, 9 + REALARM_GAP)], period_days=1.0)
    assert [a.realarms for a in apart] == [0, 0]
    both_ways = group_alarms([_alarm(0, 3), _alarm(4, 7, "up")], period_days=1.0)
    assert [a.direction for a in both_ways] == ["down", "up"]
    two_series = group_alarms([_alarm(0, 3), _alarm(4, 7, metric="volume")], period_days=1.0)
    assert len(two_series) == 2
    # Weekly periods: the gap is counted in periods, not days.
    weekly = group_alarms([_alarm(0, 14), _alarm(21, 35)], period_days=7.0)
    assert len(weekly) == 1 and weekly[0].realarms == 1


def test_alerts_table_is_written_and_replaced_per_map(world: tuple[dict[str, Any], jl.Workspace]) -> None:
    _, ws = world
    store = ws.store
    other = group_alarms([_alarm(0, 3)], period_days=1.0)
    write_alerts(store, "m", other)  # a map called m
    first = ws.map_monitor("purchase")
    table = store.table("alerts")
    rows = store.execute(table).to_pylist()
    mine = [r for r in rows if r["map"] == "purchase"]
    assert len(mine) == len(first.alerts) > 0
    assert next(r for r in rows if r["map"] == "m")["stage"] == "checkout"
    evidence = json.loads(mine[0]["evidence"])
    assert {"cusum", "threshold", "target_arl", "run_z"} <= set(evidence)
    assert {r["metric"] for r in mine} == {a.series.metric for a in first.alerts}
    # A second run replaces the map's rows (same alerts, new run time), not adds to them.
    second = ws.map_monitor("purchase", period="week")
    rows = store.execute(store.table("alerts")).to_pylist()
    mine = [r for r in rows if r["map"] == "purchase"]
    assert len(mine) == len(second.alerts)
    assert {r["created_at"] for r in mine} == {second.created_at}
    assert sum(r["map"] == "m" for r in rows) == 1
    assert second.records()[0]["map"] == "purchase" and "evidence" in second.records()[0]


# --- the planted change ------------------------------------------------------------------------

UNAFFECTED = {("discover", "volume"), ("cart", "volume"), ("checkout", "volume"),
              ("checkout", "time_within_target")}  # fmt: skip
"""Series the outage cannot move: it acts after checkout is reached. Every other series of the
purchase map (conversion at each stage, the pay stage's volume, feedback after orders, required
stages missed) is downstream of it."""
WINDOW_END_DAYS = 5
"""The synthetic window drops journeys pushed past its end, so stage volumes fall in its last days:
a real change in the data (the monitor reports it), not a planted one; not counted either way."""


def test_the_planted_checkout_outage_is_found_within_a_week(
    world: tuple[dict[str, Any], jl.Workspace],
) -> None:
    truth, ws = world
    planted = next(f for f in truth["friction"] if f["name"] == "checkout_payment_outage")
    start = date.fromisoformat(planted["start_date"])
    window_end = date.fromisoformat(truth["start"]) + timedelta(days=truth["days"])
    result = ws.map_monitor("purchase")
    assert result.monitored_from is not None and result.monitored_from < start
    found = [
        a for a in result.alerts
        if (a.series.stage, a.series.metric, a.direction) == (planted["stage"], "conversion", "down")
        and start <= a.alarm_period <= start + timedelta(days=7)
    ]  # fmt: skip
    assert found, [(str(a.series), a.direction, a.alarm_period) for a in result.alerts]
    alert = found[0]
    assert abs((alert.first_period - start).days) <= 7
    assert alert.size < -0.05 and alert.realarms >= 1, "a lasting change re-alarms, grouped"
    # False alarms: any alert raised before the change, and any on a series it cannot move
    # (outside the window's last days). The budget is 1/month over the monitored days.
    last_fair = window_end - timedelta(days=WINDOW_END_DAYS)
    false = [
        a for a in result.alerts
        if a.alarm_period < start
        or ((a.series.stage, a.series.metric) in UNAFFECTED and a.first_period < last_fair)
    ]  # fmt: skip
    monitored_days = (result.last_period - result.monitored_from).days + 1
    allowed = monitored_days / (365.25 / 12)
    assert len(false) <= allowed, ([(str(a.series), a.first_period) for a in false], allowed)
    # With --since before the change the periods before it are the baseline: found the same way.
    since = ws.map_monitor("purchase", since="2026-03-01")
    assert since.baseline_periods == 59 and since.monitored_from == date(2026, 3, 1)
    assert any(
        (a.series.stage, a.series.metric) == ("checkout", "conversion")
        and start <= a.alarm_period <= start + timedelta(days=7)
        for a in since.alerts
    )


# --- bad input ---------------------------------------------------------------------------------


def test_bad_input_gives_clear_errors(world: tuple[dict[str, Any], jl.Workspace], tmp_path: Path) -> None:
    _, ws = world
    with pytest.raises(InputError) as unknown:
        ws.map_monitor("purchace")
    assert "purchace" in unknown.value.message and "purchase" in unknown.value.message
    with pytest.raises(InputError, match="--since '2027-01-01': is outside the data") as late:
        ws.map_monitor("purchase", since="2027-01-01")
    assert late.value.hint and "baseline" in late.value.hint
    with pytest.raises(InputError, match="--since '2025-06-01'"):
        ws.map_monitor("purchase", since="2025-06-01")
    with pytest.raises(InputError, match="Option --since 'yesterday'"):
        ws.map_monitor("purchase", since="yesterday")
    with pytest.raises(InputError, match=r"Option --period 'month': Input should be 'day' or 'week'"):
        ws.map_monitor("purchase", period="month")
    lonely = ws.root / "maps" / "lonely.yaml"
    lonely.write_text(
        PURCHASE_MAP.replace("journey_type: purchase", "journey_type: purchase\nsegment: nobody")
    )
    try:
        with pytest.raises(NotFoundError, match="matches no journey"):
            ws.map_monitor("lonely")
    finally:
        lonely.unlink()
    wrong_type = tmp_path / "wrong.yaml"
    wrong_type.write_text(PURCHASE_MAP.replace("journey_type: purchase", "journey_type: purchse"))
    with pytest.raises(MapError, match="journey type 'purchse' does not exist"):
        ws.map_monitor(str(wrong_type))
    typo = tmp_path / "typo.yaml"
    typo.write_text(PURCHASE_MAP.replace("[add_to_cart]", "[add_to_chart]"))
    with pytest.raises(MapError, match="touchpoint 'add_to_chart' does not occur in the events") as err:
        ws.map_monitor(str(typo))
    assert err.value.line == 9 and "add_to_cart" in (err.value.hint or "")


def test_cli_prints_alerts_as_table_json_and_csv(world: tuple[dict[str, Any], jl.Workspace]) -> None:
    from typer.testing import CliRunner

    from journeylens.cli.app import app

    _, ws = world
    ws.close()  # the CLI opens the workspace itself
    runner = CliRunner()
    as_json = runner.invoke(app, ["map", "monitor", "purchase", "-w", str(ws.root), "-f", "json"])
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.stdout)
    assert data["map"] == "purchase" and data["period"] == "day" and data["false_alarm_budget"] == "1/month"
    assert any(a["stage"] == "checkout" and a["metric"] == "conversion" for a in data["alerts"])
    as_csv = runner.invoke(
        app, ["map", "monitor", "purchase", "-w", str(ws.root), "-f", "csv", "--period", "week"]
    )
    assert as_csv.exit_code == 0 and as_csv.stdout.startswith("map,stage,metric,direction")
    table = runner.invoke(app, ["map", "monitor", "purchase", "-w", str(ws.root)])
    assert table.exit_code == 0 and "checkout" in table.stdout
    command = ["map", "monitor", "purchase", "-w", str(ws.root), "--period", "month"]
    bad = subprocess.run(
        [sys.executable, "-m", "journeylens", *command], capture_output=True, text=True, check=False
    )
    assert bad.returncode != 0 and "Option --period 'month': Input should be 'day' or 'week'" in bad.stderr
    assert np.isfinite(data["target_arl_periods"])


def test_a_map_budget_is_read_by_the_monitor_parser() -> None:
    from pydantic import ValidationError

    from journeylens.maps.model import MonitorSettings

    assert MonitorSettings(false_alarm_budget="2/months").false_alarms_per_day == pytest.approx(
        2 / (365.25 / 12)
    )
    with pytest.raises(ValidationError, match="unknown unit 'fortnight'"):
        MonitorSettings(false_alarm_budget="1/fortnight")
    with pytest.raises(ValidationError, match="the number of alarms must be positive"):
        MonitorSettings(false_alarm_budget="0/month")
