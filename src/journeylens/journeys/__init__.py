"""Journeys: intent episodes across channels and days, with behavioural outcomes."""

from __future__ import annotations

from journeylens.journeys.build import JourneyBuild, build_journeys, require_journeys
from journeylens.journeys.definitions import Criteria, JourneyRules, JourneyType, default_types
from journeylens.journeys.outcomes import JOURNEY_COLUMNS, journey_outcomes
from journeylens.journeys.segment import assign_journeys
from journeylens.journeys.summary import JourneySummary, JourneySummarySpec, journey_summary

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
