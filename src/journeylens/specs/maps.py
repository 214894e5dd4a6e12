"""What the ``journeylens map`` analyses compute (draft, show, monitor): the specs only, without
the engine.

Example:
    >>> spec = MapDraftSpec(filter={"journey_type": "purchase"}, write_to="maps/purchase.yaml")
    >>> spec.journey_type, spec.write_to.name
    ('purchase', 'purchase.yaml')
    >>> spec = MapShowSpec(map="purchase", format="mermaid")
    >>> spec.map, spec.format.value, spec.out
    ('purchase', 'mermaid', None)
    >>> MapMonitorSpec(map="purchase", since="2026-03-01", period="week").since.isoformat()
    '2026-03-01'
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from journeylens.analyses._options import Cli
from journeylens.maps.model import MonitorPeriod
from journeylens.specs.discovery import FilterField, JourneyFilter


class MapDraftSpec(BaseModel):
    """Which journeys a drafted map describes, how touchpoints become stages, and where it goes.

    A touchpoint is *planned* (put in a stage) when at least ``min_share`` of the journeys reach
    it and its order against the other touchpoints is consistent (``min_consistency``); the rest
    become ``unplanned``. Consecutive planned touchpoints form stages, at most ``max_stages``.
    """

    model_config = ConfigDict(extra="forbid")

    filter: FilterField = Field(default_factory=JourneyFilter, description="Which journeys (one type).")
    write_to: Annotated[
        Path | None,
        Cli(name="out", input=str | None, help="Write the map to this YAML file (default: print it)."),
    ] = Field(None, description="File to write; None prints the map.")
    force: Annotated[bool, Cli(help="Overwrite --out when it exists.")] = False
    min_share: Annotated[float, Cli(help="Touchpoints fewer journeys reach are unplanned (0-1).")] = Field(
        0.1, gt=0, le=1, description="Share of journeys a planned touchpoint reaches at least."
    )
    min_consistency: Annotated[
        float, Cli(help="Touchpoints whose order is less consistent (0-1) float: unplanned.")
    ] = Field(0.5, ge=0, le=1, description="How consistently a planned touchpoint keeps its order.")
    max_stages: Annotated[int, Cli(help="At most this many stages (2-12).")] = Field(
        6, ge=2, le=12, description="At most this many stages."
    )

    @field_validator("write_to", mode="before")
    @classmethod
    def _dash_is_stdout(cls, value: Any) -> Any:
        return None if isinstance(value, str) and value.strip() in ("", "-") else value

    @model_validator(mode="after")
    def _one_type(self) -> MapDraftSpec:
        value = self.filter
        if not value.journey_type or len(value.journey_type) != 1:
            raise ValueError("a map describes one journey type: give one --type, e.g. --type purchase")
        if value.segment is not None and len(value.segment) > 1:
            raise ValueError("a map describes at most one segment: give one --segment")
        return self

    @property
    def journey_type(self) -> str:
        assert self.filter.journey_type  # checked on validation
        return self.filter.journey_type[0]

    @property
    def segment(self) -> str | None:
        return self.filter.segment[0] if self.filter.segment else None


class MapShowFormat(StrEnum):
    """What ``map show`` draws: the HTML page, a Mermaid ``journey``, a Graphviz DOT stage map, or
    the per-stage numbers as JSON."""

    html = "html"
    mermaid = "mermaid"
    dot = "dot"
    json = "json"


STDOUT = "-"


class MapShowSpec(BaseModel):
    """Which map to draw with data, for which journeys, in which format and where.

    The map names its journey type and segment; the journey filter narrows its journeys further
    (a period, an outcome, a channel used). ``--type``/``--segment`` may repeat the map's own.
    """

    model_config = ConfigDict(extra="forbid")

    map: Annotated[str, Cli(argument=True, help="A map name in maps/ (purchase) or a YAML file.")] = Field(
        description="The map to draw."
    )
    format: Annotated[
        MapShowFormat, Cli(short="-f", help="html (a self-contained page), mermaid, dot or json.")
    ] = Field(MapShowFormat.html, description="What to draw.")
    out: Annotated[
        Path | None,
        Cli(
            input=str | None,
            help="File to write; '-' for standard output. Default: HTML to WORKSPACE/maps/MAP.html, "
            "the other formats to standard output.",
        ),
    ] = Field(None, description="Where to write (None: the format's default).")
    filter: FilterField = Field(default_factory=JourneyFilter, description="Which of the map's journeys.")

    @field_validator("out", mode="before")
    @classmethod
    def _blank_is_default(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def to_stdout(self) -> bool:
        """Print instead of writing a file."""
        if self.out is not None:
            return str(self.out) == STDOUT
        return self.format is not MapShowFormat.html


class MapMonitorSpec(BaseModel):
    """What ``journeylens map monitor MAP`` watches: a map, from when, per day or week."""

    model_config = ConfigDict(extra="forbid")

    map: Annotated[str, Cli(argument=True, help="Map name (maps/NAME.yaml) or path to a map file.")] = Field(
        min_length=1, description="Map name (maps/NAME.yaml) or path to a map file."
    )
    since: Annotated[
        date | None,
        Cli(
            input=str,
            help="Monitor from this date (YYYY-MM-DD); every period before it is the baseline. "
            "Default: the first 56 days (8 weeks) are the baseline.",
        ),
    ] = Field(None, description="First monitored date; the periods before it form the baseline.")
    period: Annotated[
        MonitorPeriod | None, Cli(input=str, help="day or week (default: the map's monitor.period).")
    ] = Field(None, description="Series granularity; None: the map's monitor.period.")
