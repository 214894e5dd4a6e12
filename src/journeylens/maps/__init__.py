"""Journey maps as code: designed maps in YAML (the planned journey), validated, listed and
drafted from data. See docs/maps.md for the format and the CJML vocabulary.

The models (:mod:`journeylens.maps.model`) and the loader (:mod:`journeylens.maps.loading`) import
no engine; :mod:`journeylens.maps.draft` computes over events with Ibis.
"""

from __future__ import annotations

from journeylens.maps.loading import MapEntry, MapError, check_against, find_map, list_maps, load_map
from journeylens.maps.model import (
    AD_HOC_TOUCHPOINT,
    DEVIATION_KINDS,
    FAILED_TOUCHPOINT,
    MISSING_TOUCHPOINT,
    SEQUENCE_IRREGULARITY,
    Absence,
    ChainResponse,
    Existence,
    JourneyMap,
    Kpi,
    KpiMetric,
    MapCosts,
    MapProblem,
    MonitorPeriod,
    MonitorSettings,
    Precedence,
    Response,
    Rule,
    Stage,
    TimeTarget,
    UnplannedTouchpoint,
    map_schema,
)

__all__ = [
    "AD_HOC_TOUCHPOINT",
    "DEVIATION_KINDS",
    "FAILED_TOUCHPOINT",
    "MISSING_TOUCHPOINT",
    "SEQUENCE_IRREGULARITY",
    "Absence",
    "ChainResponse",
    "Existence",
    "JourneyMap",
    "Kpi",
    "KpiMetric",
    "MapCosts",
    "MapEntry",
    "MapError",
    "MapProblem",
    "MonitorPeriod",
    "MonitorSettings",
    "Precedence",
    "Response",
    "Rule",
    "Stage",
    "TimeTarget",
    "UnplannedTouchpoint",
    "check_against",
    "find_map",
    "list_maps",
    "load_map",
    "map_schema",
]
