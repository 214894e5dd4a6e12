"""What each discovery view computes, as typed specs: the one definition every surface builds.

This module holds only the specs (pydantic), not their engines, so that the CLI, ``--help`` and
the generated workspace methods can read the specs without importing Ibis. Each option-like
field says how it appears on the command line with :class:`~journeylens.analyses._options.Cli`.

Example:
    >>> MapSpec(filter={"journey_type": "purchase", "since": "2024-03-01"}).filter.describe()
    "journey_type=['purchase'], since=2024-03-01 00:00:00+00:00"
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from journeylens._units import parse_instant
from journeylens.analyses._options import Cli
from journeylens.specs.conditions import GRAMMAR, Match, PropertyCondition, parse_conditions

OUTCOMES = ("success", "failed", "abandoned", "open", "unknown")
"""Journey outcomes (``journeylens.journeys.outcomes.OUTCOMES``, kept here without the engine)."""
DEFAULT_METRICS = ("success", "leakage", "duration_s", "cost_to_serve")
MAX_STEPS = 20
MAX_TOP = 100


class ActivityKey(StrEnum):
    """What one node of a process map is."""

    touchpoint = "touchpoint"
    channel = "channel"
    channel_touchpoint = "channel:touchpoint"
    touchpoint_lifecycle = "touchpoint+lifecycle"


ONE_OR_MORE = "list[str] | str | None"
KEY_HELP = "Activity key: touchpoint, channel, channel:touchpoint, touchpoint+lifecycle."
KeyField = Annotated[ActivityKey, Cli(help=KEY_HELP)]


def split_names(value: Any, known: tuple[str, ...] | None = None, what: str = "name") -> list[str]:
    """Names given as one string, a list, or comma-separated (``--case-mix a,b``), stripped and
    without repeats; each must be in ``known`` when it is given."""
    names = [] if value is None else [value] if isinstance(value, str) else list(value)
    split = [part.strip() for name in names for part in str(name).split(",") if part.strip()]
    for name in split:
        if known is not None and name not in known:
            raise ValueError(f"unknown {what} {name!r}; expected one of {', '.join(known)}")
    return list(dict.fromkeys(split))


class JourneyFilter(BaseModel):
    """Which journeys to analyse. Empty fields select everything; fields combine with AND.

    Lists also take one string, dates ISO strings (UTC when naive), and ``properties`` conditions
    as texts (``plan!=free``, what the command line passes), JSON objects or a ``{KEY: VALUE}``
    dict of equalities (:mod:`journeylens.specs.conditions`); ``match`` says whether one event
    must meet all of them or any.
    """

    model_config = ConfigDict(extra="forbid")

    journey_type: Annotated[
        list[str] | None, Cli(name="type", help="Journey type (repeatable).", api_type=ONE_OR_MORE)
    ] = Field(None, description="Journey types to keep.")
    segment: Annotated[list[str] | None, Cli(help="Customer segment (repeatable).", api_type=ONE_OR_MORE)] = (
        Field(None, description="Values of the customer segment trait.")
    )
    segment_trait: str = Field("segment", description="Customer trait that names the segment.")
    channel: Annotated[
        list[str] | None, Cli(help="Journeys that used this channel (repeatable).", api_type=ONE_OR_MORE)
    ] = Field(None, description="Keep journeys that used any of these channels.")
    outcome: Annotated[
        list[str] | None,
        Cli(help="success, failed, abandoned, open, unknown (repeatable).", api_type=ONE_OR_MORE),
    ] = Field(None, description="success, failed, abandoned, open or unknown.")
    since: Annotated[
        dt.datetime | None, Cli(input=str, help="Journeys starting on/after (ISO date, UTC).")
    ] = Field(None, description="Journeys starting at or after (UTC).")
    until: Annotated[dt.datetime | None, Cli(input=str, help="Journeys starting before (ISO date, UTC).")] = (
        Field(None, description="Journeys starting before (UTC).")
    )
    properties: Annotated[
        list[PropertyCondition],
        Cli(
            name="where",
            input=list[str],
            body=list[str | PropertyCondition],
            help=f"Event property condition (repeatable): {GRAMMAR}.",
            api_type="dict[str, str] | list[Any] | None",
        ),
    ] = Field(
        default_factory=list,
        description="Keep journeys with an event meeting the property conditions (see match).",
    )
    match: Annotated[
        Match,
        Cli(
            help="all: one event meets every --where condition (the customer every customer. one); "
            "any: at least one holds."
        ),
    ] = Field(Match.all, description="How the property conditions combine: all or any.")

    @field_validator("journey_type", "segment", "channel", "outcome", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("outcome")
    @classmethod
    def _known_outcomes(cls, value: list[str] | None) -> list[str] | None:
        for outcome in value or []:
            if outcome not in OUTCOMES:
                raise ValueError(f"unknown outcome {outcome!r}; expected one of {', '.join(OUTCOMES)}")
        return value

    @field_validator("since", "until", mode="before")
    @classmethod
    def _instant(cls, value: Any) -> Any:
        return parse_instant(value) if isinstance(value, str) else value

    @field_validator("properties", mode="before")
    @classmethod
    def _conditions(cls, value: Any) -> Any:
        return parse_conditions(value)

    @model_validator(mode="after")
    def _period(self) -> JourneyFilter:
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ValueError(f"since ({self.since}) must be before until ({self.until})")
        return self

    def describe(self) -> str:
        parts = [
            f"{name}={value}"
            for name, value in self.model_dump(exclude_defaults=True, exclude={"properties", "match"}).items()
            if value not in (None, {}, [])
        ]
        if self.properties:
            joiner = " and " if self.match is Match.all else " or "
            parts.append("where " + joiner.join(c.text() for c in self.properties))
        return ", ".join(parts) or "all journeys"

    @property
    def needs_events(self) -> bool:
        return bool(self.channel or self.properties)


FilterField = Annotated[JourneyFilter, Cli(expand=True)]


class MapSpec(BaseModel):
    """What a process map shows.

    Thresholds only hide nodes and edges for readability; they never recount. A node is shown
    when it has at least ``min_node_events`` events and is among the ``max_nodes`` most frequent
    (ties by name); an edge when it has at least ``min_edge_count`` transitions, both of its
    activities are shown, and it is among the ``max_edges`` most frequent. Start and end
    activities are listed for shown nodes. ``ProcessMap.totals`` keeps the unfiltered totals.
    """

    model_config = ConfigDict(extra="forbid")

    filter: FilterField = Field(default_factory=JourneyFilter, description="Which journeys.")
    key: KeyField = Field(ActivityKey.touchpoint, description="What one node is.")
    min_edge_count: Annotated[int, Cli(name="min_count")] = Field(
        1, ge=1, description="Hide transitions seen fewer times."
    )
    min_node_events: Annotated[int, Cli(name="min_events")] = Field(
        1, ge=1, description="Hide activities with fewer events."
    )
    max_nodes: Annotated[int | None, Cli(help="Show at most this many activities (most frequent).")] = Field(
        None, ge=1, description="Show at most this many activities."
    )
    max_edges: Annotated[int | None, Cli(help="Show at most this many transitions (most frequent).")] = Field(
        None, ge=1, description="Show at most this many transitions."
    )


class VariantSpec(BaseModel):
    """Which variants to list: the most frequent ones until they cover ``coverage`` of the
    journeys (the variant that crosses the line is included), at most ``limit`` of them; both
    None (the default) lists every variant."""

    model_config = ConfigDict(extra="forbid")

    filter: FilterField = Field(default_factory=JourneyFilter, description="Which journeys.")
    key: KeyField = Field(ActivityKey.touchpoint, description="What one step is.")
    coverage: Annotated[
        float | None,
        Cli(help="List the top variants covering this share of journeys (default: all; the table "
            "shows those covering 80% when neither --coverage nor --limit is given)."),
    ] = Field(None, gt=0, le=1, description="Share of journeys the listed variants cover.")  # fmt: skip
    limit: Annotated[int | None, Cli(help="List at most this many variants.")] = Field(
        None, ge=1, description="List at most this many variants."
    )


class PathMode(StrEnum):
    after = "after"
    before = "before"
    between = "between"
    journey_start = "journey-start"


class PathsSpec(BaseModel):
    """Which paths to draw.

    Example:
        >>> PathsSpec(start="billing_faq", steps=3).mode.value
        'after'
    """

    model_config = ConfigDict(extra="forbid")

    start: Annotated[str | None, Cli(help="Paths after the first occurrence of this touchpoint.")] = Field(
        None, description="Paths after the first occurrence of this activity."
    )
    end: Annotated[str | None, Cli(help="Paths before it; with --start, paths between the two.")] = Field(
        None, description="Paths before the first occurrence of this activity."
    )
    steps: Annotated[int, Cli(help=f"Depth of the paths (1-{MAX_STEPS}).")] = Field(
        5, description=f"Depth of the paths, 1 to {MAX_STEPS}."
    )
    top: Annotated[int, Cli(help=f"Activities kept per depth (1-{MAX_TOP}); the rest are 'other'.")] = Field(
        10, description=f"Activities kept per depth (1 to {MAX_TOP}); the rest are 'other'."
    )
    filter: FilterField = Field(default_factory=JourneyFilter, description="Which journeys.")
    key: KeyField = ActivityKey.touchpoint

    @field_validator("steps")
    @classmethod
    def _steps_in_range(cls, value: int) -> int:
        if not 1 <= value <= MAX_STEPS:
            raise ValueError(
                f"steps must be between 1 and {MAX_STEPS}, got {value}: deeper paths spread journeys "
                f"over more nodes than a Sankey can show; use variants for whole sequences"
            )
        return value

    @field_validator("top")
    @classmethod
    def _top_in_range(cls, value: int) -> int:
        if not 1 <= value <= MAX_TOP:
            raise ValueError(f"top must be between 1 and {MAX_TOP}, got {value}")
        return value

    @model_validator(mode="after")
    def _distinct_anchors(self) -> PathsSpec:
        if self.start is not None and self.start == self.end:
            raise ValueError(
                f"start and end are both {self.start!r}: paths between a touchpoint and itself are "
                "empty; use start alone (paths after it) or end alone (paths before it)"
            )
        return self

    @property
    def mode(self) -> PathMode:
        if self.start is not None and self.end is not None:
            return PathMode.between
        if self.start is not None:
            return PathMode.after
        if self.end is not None:
            return PathMode.before
        return PathMode.journey_start


class InventorySpec(BaseModel):
    """Which journeys the inventory covers, and which rows it keeps.

    Example:
        >>> InventorySpec(min_events=10).min_events
        10
    """

    model_config = ConfigDict(extra="forbid")

    filter: FilterField = Field(default_factory=JourneyFilter, description="Which journeys.")
    min_events: Annotated[int, Cli(help="Hide rarer touchpoints.")] = Field(
        1, ge=1, description="Leave out touchpoints with fewer events."
    )


class XesExportSpec(BaseModel):
    """Which journeys to write as an XES event log, and where.

    Example:
        >>> XesExportSpec(out="log.xes.gz", filter={"outcome": "success"}).out.name
        'log.xes.gz'
    """

    model_config = ConfigDict(extra="forbid")

    out: Annotated[
        Path | None,
        Cli(
            argument=True,
            input=str | None,
            help="File to write (.xes, or .xes.gz for gzip); standard output when absent or '-'.",
        ),
    ] = None
    filter: FilterField = Field(default_factory=JourneyFilter, description="Which journeys.")

    @field_validator("out", mode="before")
    @classmethod
    def _dash_is_stdout(cls, value: Any) -> Any:
        return None if isinstance(value, str) and value.strip() == "-" else value
