"""Journeys: intent episodes across channels and days, with behavioural outcomes.

The public names are imported on first use: the settings (``journeys.definitions``) need no engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from journeylens._lazy import lazy_names

if TYPE_CHECKING:
    from journeylens.journeys.build import JourneyBuild, build_journeys, require_journeys
    from journeylens.journeys.definitions import Criteria, JourneyRules, JourneyType, default_types
    from journeylens.journeys.outcomes import JOURNEY_COLUMNS, journey_outcomes
    from journeylens.journeys.segment import assign_journeys
    from journeylens.journeys.summary import JourneySummary, JourneySummarySpec, journey_summary

_LAZY = {
    "JourneyBuild": "journeylens.journeys.build",
    "build_journeys": "journeylens.journeys.build",
    "require_journeys": "journeylens.journeys.build",
    "Criteria": "journeylens.journeys.definitions",
    "JourneyRules": "journeylens.journeys.definitions",
    "JourneyType": "journeylens.journeys.definitions",
    "default_types": "journeylens.journeys.definitions",
    "JOURNEY_COLUMNS": "journeylens.journeys.outcomes",
    "journey_outcomes": "journeylens.journeys.outcomes",
    "assign_journeys": "journeylens.journeys.segment",
    "JourneySummary": "journeylens.journeys.summary",
    "JourneySummarySpec": "journeylens.journeys.summary",
    "journey_summary": "journeylens.journeys.summary",
}


__getattr__ = lazy_names(__name__, _LAZY)


__all__ = [
    "JOURNEY_COLUMNS",
    "Criteria",
    "JourneyBuild",
    "JourneyRules",
    "JourneySummary",
    "JourneySummarySpec",
    "JourneyType",
    "assign_journeys",
    "build_journeys",
    "default_types",
    "journey_outcomes",
    "journey_summary",
    "require_journeys",
]
