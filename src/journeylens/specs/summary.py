"""What ``journeylens journeys summary`` (and ``ws.journeys_summary``) computes: the spec only.

Example:
    >>> JourneySummarySpec(by="segment").by.value
    'segment'
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from journeylens.analyses._options import Cli


class SummaryBy(StrEnum):
    journey_type = "journey_type"
    segment = "segment"
    channel = "channel"
    period = "period"


class Period(StrEnum):
    day = "day"
    week = "week"
    month = "month"


class JourneySummarySpec(BaseModel):
    """What ``journeylens journeys summary`` computes."""

    model_config = ConfigDict(extra="forbid")

    by: Annotated[SummaryBy, Cli(help="journey_type, segment, channel (first channel) or period.")] = (
        SummaryBy.journey_type
    )
    period: Annotated[Period, Cli(help="day, week or month, when --by period.")] = Field(
        Period.month, description="Calendar unit when by=period (local time)."
    )
    journey_type: Annotated[str | None, Cli(name="type", help="Only journeys of this type.")] = Field(
        None, description="Only journeys of this type."
    )
    segment_trait: str = Field("segment", description="Customer trait that names the segment.")
