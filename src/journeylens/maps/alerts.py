"""Alerts of a living map: repeated alarms of one change grouped, and the ``alerts`` table.

The CUSUM restarts after each alarm, so a change that lasts alarms again every few periods
(about ``h / (shift - k)``). People want one alert per change: consecutive alarms of the same
series, in the same direction, whose next run starts at most :data:`REALARM_GAP` periods after
the previous alarm are one :class:`~journeylens.maps.monitor_stats.MapAlert`, with the number of
re-alarms and the last one.
Its size, date and evidence are those of the first alarm (the change as first seen).

The ``alerts`` table (schema in :mod:`journeylens.store.schema`) holds the alerts of the latest
run of each map: a run replaces that map's rows, in one transaction where the engine has them.

Example:
    >>> from datetime import date
    >>> from journeylens.maps.monitor_stats import AlertEvidence, MapAlert, SeriesName
    >>> ev = AlertEvidence(7.1, 6.8, 0.5, 600.0, 0.7, 1.1, 56, (2.0,))
    >>> day = lambda d: date(2026, 3, d)
    >>> raw = [MapAlert(SeriesName("m", "checkout", "conversion"), "down", -0.2, -2.0, day(a), day(b), 0,
    ...                 day(b), ev) for a, b in ((17, 19), (20, 23), (24, 26))]
    >>> [(a.first_period.day, a.realarms, a.last_alarm_period.day) for a in group_alarms(raw, 1.0)]
    [(17, 2, 26)]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pyarrow as pa

from journeylens.maps.monitor_stats import MapAlert, SeriesName

if TYPE_CHECKING:
    from journeylens.store import Store

__all__ = ["ALERTS", "REALARM_GAP", "alerts_rows", "group_alarms", "write_alerts"]

ALERTS = "alerts"
REALARM_GAP = 5
"""Periods between an alarm and the start of the next run up to which both are one change."""


def group_alarms(alarms: Sequence[MapAlert], period_days: float, gap: int = REALARM_GAP) -> list[MapAlert]:
    """One alert per change: alarms of a series that follow each other closely
    (same direction, next run starting within ``gap`` periods of the previous alarm) are merged."""
    grouped: list[MapAlert] = []
    open_by_series: dict[SeriesName, int] = {}
    for alarm in sorted(alarms, key=lambda a: (str(a.series), a.alarm_period)):
        at = open_by_series.get(alarm.series)
        if at is not None:
            last = grouped[at]
            apart = (alarm.first_period - last.last_alarm_period).days / period_days
            if last.direction == alarm.direction and apart <= gap:
                grouped[at] = replace(last, realarms=last.realarms + 1, last_alarm_period=alarm.alarm_period)
                continue
        open_by_series[alarm.series] = len(grouped)
        grouped.append(alarm)
    return sorted(grouped, key=lambda a: (a.first_period, str(a.series)))


def alerts_rows(alerts: Sequence[MapAlert], created_at: datetime) -> pa.Table:
    """The rows of the ``alerts`` table for ``alerts`` (evidence as JSON text)."""
    from journeylens.store.schema import ALERTS_SCHEMA

    rows = [
        {
            "map": a.series.map,
            "stage": a.series.stage,
            "metric": a.series.metric,
            "direction": a.direction,
            "size": a.size,
            "size_z": a.size_z,
            "first_period": a.first_period,
            "alarm_period": a.alarm_period,
            "realarms": a.realarms,
            "last_alarm_period": a.last_alarm_period,
            "evidence": json.dumps(asdict(a.evidence)),
            "created_at": created_at,
        }
        for a in alerts
    ]
    return pa.Table.from_pylist(rows, schema=ALERTS_SCHEMA.to_pyarrow())


def write_alerts(store: Store, map_name: str, alerts: Sequence[MapAlert]) -> datetime:
    """Replace the rows of ``map_name`` in the ``alerts`` table by ``alerts``; returns the run time."""
    import ibis

    created_at = datetime.now(UTC)
    table = store.table(ALERTS)
    new = ibis.memtable(alerts_rows(alerts, created_at))
    store.rewrite(ALERTS, table.filter(table.map != map_name).union(new.cast(table.schema())))
    return created_at
