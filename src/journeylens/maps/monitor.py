"""Living maps: ``journeylens map monitor MAP`` — every stage metric watched, changes alerted.

The map's stage metrics become daily or weekly series in the engine
(:mod:`journeylens.maps.stage_series`), the budgeted CUSUM of :mod:`journeylens.maps.monitor_stats`
decides which of them changed, repeated alarms of one change are grouped
(:mod:`journeylens.maps.alerts`), and the alerts replace the map's rows in the ``alerts`` table.
The statistics are described in docs/monitoring.md.

Example:
    >>> result = ws.map_monitor("purchase", since="2026-03-01")  # doctest: +SKIP
    >>> [(a.series.stage, a.series.metric, a.first_period) for a in result.alerts]  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa

from journeylens.errors import InputError, NotFoundError
from journeylens.maps.alerts import alerts_rows, group_alarms, write_alerts
from journeylens.maps.model import JourneyMap, MonitorPeriod
from journeylens.maps.monitor_stats import (
    DEFAULT_BASELINE_PERIODS,
    MIN_BASELINE_PERIODS,
    ContinuousSeries,
    MapAlert,
    Series,
    SeriesName,
    monitor_series,
    parse_budget,
)
from journeylens.maps.stage_series import map_series, period_days, stage_aggregates

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

    from journeylens.specs.maps import MapMonitorSpec
    from journeylens.store import Store
    from journeylens.workspace import Workspace

__all__ = ["BASELINE_PERIODS", "MapMonitor", "monitor_journey_map", "monitor_map"]

BASELINE_PERIODS = {MonitorPeriod.day: DEFAULT_BASELINE_PERIODS, MonitorPeriod.week: MIN_BASELINE_PERIODS}
"""Baseline length without ``--since``: eight weeks, as days or as weeks."""


@dataclass(frozen=True)
class MapMonitor:
    """Alerts of one map's living-map run, the series behind them and the policy used.

    ``alerts`` are grouped (one per change, with ``realarms``); ``series`` has one row per series
    and period (stage, metric, period, value, successes, trials); ``unmonitored`` names the series
    that could not be watched and why.
    """

    #: The JSON contract (docs/cli.md reads it).
    JSON_FIELDS: ClassVar[tuple[str, ...]] = (
        "map",
        "journey_type",
        "period (day or week)",
        "false_alarm_budget",
        "since",
        "baseline_periods",
        "monitored_from",
        "last_period",
        "series (how many were watched)",
        "target_arl_periods (in-control run length each series needs for the budget)",
        "alerts (records: map, stage, metric, direction, size, size_z, first_period, alarm_period, "
        "realarms, last_alarm_period, evidence)",
        "unmonitored (records: series, reason)",
    )

    map: str
    journey_type: str
    period: MonitorPeriod
    budget: str
    since: date | None
    baseline_periods: int
    monitored_from: date | None
    last_period: date | None
    target_arl: float
    alerts: tuple[MapAlert, ...]
    series: pa.Table
    unmonitored: dict[str, str] = field(default_factory=dict)
    created_at: datetime | None = None

    def records(self) -> list[dict[str, Any]]:
        """The alerts as rows of the ``alerts`` table (evidence as JSON text), for CSV."""
        rows: list[dict[str, Any]] = alerts_rows(self.alerts, self.created_at or datetime.min).to_pylist()
        return rows

    def to_arrow(self) -> pa.Table:
        return alerts_rows(self.alerts, self.created_at or datetime.min)

    def to_pandas(self) -> pd.DataFrame:
        return self.to_arrow().to_pandas()

    def to_dict(self) -> dict[str, Any]:
        return {
            "map": self.map,
            "journey_type": self.journey_type,
            "period": self.period.value,
            "false_alarm_budget": self.budget,
            "since": self.since,
            "baseline_periods": self.baseline_periods,
            "monitored_from": self.monitored_from,
            "last_period": self.last_period,
            "series": len({(r["stage"], r["metric"]) for r in self.series_keys()}),
            "target_arl_periods": round(self.target_arl, 1),
            "alerts": [a.to_dict() for a in self.alerts],
            "unmonitored": [{"series": k, "reason": v} for k, v in self.unmonitored.items()],
        }

    def series_keys(self) -> list[dict[str, Any]]:
        keys: list[dict[str, Any]] = self.series.select(["stage", "metric"]).to_pylist()
        return keys

    def plot(self) -> go.Figure:
        """Each alerted series over time, the alarm periods marked."""
        import plotly.graph_objects as go

        fig = go.Figure()
        frame = self.series.to_pandas()
        for alert in self.alerts:
            s = alert.series
            one = frame[(frame["stage"] == s.stage) & (frame["metric"] == s.metric)]
            fig.add_scatter(x=one["period"], y=one["value"], mode="lines", name=f"{s.stage} {s.metric}")
            fig.add_vline(x=alert.first_period, line_dash="dot")
        fig.update_layout(title=f"Living map {self.map}: alerted series", xaxis_title=self.period.value)
        return fig

    def _repr_html_(self) -> str:
        html: str = self.to_pandas().drop(columns=["evidence"]).to_html(index=False)
        return html


def monitor_map(ws: Workspace, spec: MapMonitorSpec) -> MapMonitor:
    """Load the map named by the spec from the workspace, monitor it, and write its alerts."""
    from journeylens.maps.loading import open_map

    journey_map, _ = open_map(ws, spec.map, touchpoints=True)
    return monitor_journey_map(ws.store, journey_map, spec)


def monitor_journey_map(store: Store, journey_map: JourneyMap, spec: MapMonitorSpec) -> MapMonitor:
    """Monitor a loaded map over the store's journeys; replaces its rows in ``alerts``."""
    period = spec.period or journey_map.monitor.period
    budget = journey_map.monitor.false_alarm_budget
    name = journey_map.name or journey_map.journey_type
    agg = stage_aggregates(store, journey_map, period)
    series, calendar = map_series(journey_map, agg, period)
    if not calendar:
        raise NotFoundError(
            f"Map {name!r} matches no journey: there are no {journey_map.journey_type!r} journeys"
            + (f" of segment {journey_map.segment!r}" if journey_map.segment else "")
            + ".",
            hint="Check the map's journey_type (and segment) against `journeylens journeys summary`.",
        )
    _check_since(spec.since, calendar, period)
    baseline = BASELINE_PERIODS[period]
    report = monitor_series(
        series, parse_budget(budget), period_days=period_days(period), baseline_periods=baseline,
        since=spec.since,
    )  # fmt: skip
    alerts = group_alarms(report.alerts, period_days(period))
    created_at = write_alerts(store, name, alerts)
    first = sum(1 for p in calendar if p < spec.since) if spec.since else min(baseline, len(calendar))
    return MapMonitor(
        map=name,
        journey_type=journey_map.journey_type,
        period=period,
        budget=budget,
        since=spec.since,
        baseline_periods=first,
        monitored_from=calendar[first] if first < len(calendar) else None,
        last_period=calendar[-1],
        target_arl=report.target_arl,
        alerts=tuple(alerts),
        series=series_table(series),
        unmonitored={str(k): v for k, v in report.unmonitored.items()},
        created_at=created_at,
    )


def _check_since(since: date | None, calendar: tuple[date, ...], period: MonitorPeriod) -> None:
    if since is None:
        return
    last = calendar[-1] + timedelta(days=period_days(period) - 1)
    if not calendar[0] < since <= last:
        raise InputError.bad_flag(
            "--since",
            since.isoformat(),
            f"is outside the data: the map's journeys start from {calendar[0].isoformat()} to "
            f"{last.isoformat()}, and monitoring needs a baseline before --since",
            hint=f"Pick a date after {(calendar[0] + timedelta(days=8 * period_days(period))).isoformat()} "
            "(at least 8 baseline periods) and on or before the last day.",
        )


def series_table(series: dict[SeriesName, Series]) -> pa.Table:
    """One row per series and period: stage, metric, period, value (rate or value), successes, trials."""
    rows: list[dict[str, Any]] = []
    for name, one in series.items():
        if isinstance(one, ContinuousSeries):
            rows += [
                {"stage": name.stage, "metric": name.metric, "period": p, "value": v, "successes": None,
                 "trials": None}
                for p, v in zip(one.periods, one.values, strict=True)
            ]  # fmt: skip
            continue
        rows += [
            {"stage": name.stage, "metric": name.metric, "period": p, "value": x / n if n else None,
             "successes": x, "trials": n}
            for p, x, n in zip(one.periods, one.successes, one.trials, strict=True)
        ]  # fmt: skip
    schema = pa.schema(
        {"stage": pa.string(), "metric": pa.string(), "period": pa.date32(), "value": pa.float64(),
         "successes": pa.float64(), "trials": pa.float64()}
    )  # fmt: skip
    return pa.Table.from_pylist(rows, schema=schema)
