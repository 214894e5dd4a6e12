"""What ``journeylens map check`` (and ``ws.map_check``) computes: the spec only, without the engine.

Example:
    >>> spec = MapCheckSpec(map="purchase", compare_segments=["loyal,first-time"])
    >>> spec.compare_segments
    ['loyal', 'first-time']
    >>> periods = ["2024-01-01:2024-02-01", "2024-02-01:2024-03-01"]
    >>> MapCheckSpec(map="support", compare_periods=periods).compare_periods[1].label()
    '2024-02-01..2024-03-01'
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from journeylens.analyses._options import Cli
from journeylens.specs.comparison import TimeRange
from journeylens.specs.discovery import FilterField, JourneyFilter


class MapCheckSpec(BaseModel):
    """Which map to check, for which journeys, and whether to set two groups side by side."""

    model_config = ConfigDict(extra="forbid")

    map: Annotated[str, Cli(argument=True, help="A map name in maps/ or a YAML file.")] = Field(
        description="A map name in the workspace's maps/ folder, or the path of a YAML file."
    )
    compare_segments: Annotated[
        list[str] | None,
        Cli(help="Two segments side by side, B against A: --compare-segments A --compare-segments B "
            "(or A,B)."),
    ] = Field(None, description="Two segments: the map checked for each, differences tested.")  # fmt: skip
    compare_periods: Annotated[
        list[TimeRange] | None,
        Cli(
            input=list[str],
            help="Two periods of journey starts side by side, B against A: START:END twice (dates, end "
            "exclusive).",
        ),
    ] = Field(None, description="Two periods: the map checked for each, differences tested.")
    top: Annotated[int, Cli(help="Deviation patterns listed (most common first).")] = Field(
        10, ge=1, le=1000, description="How many deviation patterns to list."
    )
    filter: FilterField = Field(
        default_factory=JourneyFilter,
        description="Narrows the journeys the map applies to: its journey type (a --type must be the "
        "map's), --segment (default: the map's segment), period, channel, outcome, properties.",
    )

    @field_validator("compare_segments", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return [part.strip() for v in value for part in str(v).split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _two(self) -> MapCheckSpec:
        if self.compare_segments is not None and self.compare_periods is not None:
            raise ValueError("compare segments or periods, not both")
        for name, given in (("segments", self.compare_segments), ("periods", self.compare_periods)):
            if given is not None and len(given) != 2:
                raise ValueError(f"compare exactly two {name} (got {len(given)})")
        if self.compare_segments is not None:
            if len(set(self.compare_segments)) != 2:
                raise ValueError("compare two different segments")
            if self.filter.segment:
                raise ValueError("--segment and --compare-segments exclude each other")
        if self.compare_periods is not None and self.compare_periods[0].overlaps(self.compare_periods[1]):
            a, b = self.compare_periods
            raise ValueError(f"periods {a.label()} and {b.label()} overlap; a journey would count in both")
        return self
