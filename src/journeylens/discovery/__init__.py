"""Journey discovery: process maps, variants, paths, funnels, segments, touchpoint inventory."""

from __future__ import annotations

from journeylens.discovery._compare import METRICS, SegmentComparison
from journeylens.discovery.dfg import ProcessMap, process_map
from journeylens.discovery.funnel import FunnelResult, FunnelSpec, FunnelSpecError, funnel
from journeylens.discovery.paths import PathsResult, UnknownActivityError, paths, paths_from_log
from journeylens.discovery.periods import compare_periods
from journeylens.discovery.segments import (
    BehaviourCohort,
    BuiltinCohort,
    RfmRules,
    SegmentComparisonSpec,
    TraitCohort,
    compare_segments,
    parse_cohort,
    rfm_segments,
)
from journeylens.discovery.selection import (
    ActivityKey,
    EmptySelectionError,
    JourneyFilter,
    customer_segments,
    journey_log,
    select_journeys,
)
from journeylens.discovery.touchpoints import TouchpointInventory, touchpoint_inventory
from journeylens.discovery.variants import Variants, variants
from journeylens.discovery.xes_export import XesExport, export_xes
from journeylens.specs.comparison import PeriodComparisonSpec, TimeRange
from journeylens.specs.discovery import InventorySpec, MapSpec, PathsSpec, VariantSpec, XesExportSpec

__all__ = [
    "METRICS",
    "ActivityKey",
    "BehaviourCohort",
    "BuiltinCohort",
    "EmptySelectionError",
    "FunnelResult",
    "FunnelSpec",
    "FunnelSpecError",
    "InventorySpec",
    "JourneyFilter",
    "MapSpec",
    "PathsResult",
    "PathsSpec",
    "PeriodComparisonSpec",
    "ProcessMap",
    "RfmRules",
    "SegmentComparison",
    "SegmentComparisonSpec",
    "TimeRange",
    "TouchpointInventory",
    "TraitCohort",
    "UnknownActivityError",
    "VariantSpec",
    "Variants",
    "XesExport",
    "XesExportSpec",
    "compare_periods",
    "compare_segments",
    "customer_segments",
    "export_xes",
    "funnel",
    "journey_log",
    "parse_cohort",
    "paths",
    "paths_from_log",
    "process_map",
    "rfm_segments",
    "select_journeys",
    "touchpoint_inventory",
    "variants",
]
