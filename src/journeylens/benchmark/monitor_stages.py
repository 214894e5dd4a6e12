"""Benchmark stages for living maps: ``map monitor`` of the world's designed purchase map (the
demo's: six stages with time targets, about twenty daily series) next to the journeys summary per
day of the same journeys, the summary the monitor's series refine (issue 14: under 2x its time).

Both read the world's built journeys; the monitor also reads their events (the stage of each) and
the feedback linked to them, and runs the budgeted CUSUM over every series.
"""

from __future__ import annotations

from pathlib import Path

from journeylens.benchmark.stages import JOURNEYS, WORLD, stage
from journeylens.journeys.summary import journey_summary
from journeylens.maps._demo_maps import DEMO_MAPS
from journeylens.maps.loading import parse_map
from journeylens.maps.monitor import monitor_journey_map
from journeylens.specs.maps import MapMonitorSpec
from journeylens.specs.summary import JourneySummarySpec
from journeylens.workspace import Workspace

MONITORED = "purchase"
"""The demo's designed map the monitor watches (its journey type: purchase)."""


@stage(
    "journeys_summary",
    "journeys summary per day of the purchase journeys (outcome rates with intervals; the floor "
    "of map_monitor; rows: days)",
    needs=JOURNEYS,
)
def journeys_summary_stage(data: Path, work: Path) -> int:
    ws = Workspace.open(work / WORLD)
    spec = JourneySummarySpec(by="period", period="day", journey_type=MONITORED)
    rows = len(journey_summary(ws.store, spec).rows)
    ws.close()
    return rows


@stage(
    "map_monitor",
    "map monitor of the demo purchase map: every stage metric as a daily series, budgeted CUSUM "
    "alerts (rows: series watched)",
    floor="journeys_summary",
    needs=JOURNEYS,
)
def map_monitor_stage(data: Path, work: Path) -> int:
    ws = Workspace.open(work / WORLD)
    journey_map = parse_map(DEMO_MAPS[MONITORED], Path(f"{MONITORED}.yaml"))
    result = monitor_journey_map(ws.store, journey_map, MapMonitorSpec(map=MONITORED), ws.config.journeys)
    series = int(result.to_dict()["series"])
    ws.close()
    return series
