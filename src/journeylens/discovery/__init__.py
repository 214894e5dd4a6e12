"""Journey discovery: process maps, variants, paths, funnels, segments, touchpoint inventory."""

from __future__ import annotations

from journeylens.discovery.selection import (
    ActivityKey,
    EmptySelectionError,
    JourneyFilter,
    customer_segments,
    journey_log,
    select_journeys,
)

__all__ = [
    "ActivityKey",
    "EmptySelectionError",
    "JourneyFilter",
    "customer_segments",
    "journey_log",
    "select_journeys",
]
