"""What ``journeylens attribution`` (and ``ws.attribution``) computes: the spec only.

Example:
    >>> spec = AttributionSpec(models=["markov", "first"], order=2)
    >>> spec.models, spec.by.value, spec.outcome
    (['first', 'markov'], 'channel', 'success')
    >>> AttributionSpec(paths="paths.csv").filter.describe()
    'all journeys'
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from journeylens._units import parse_duration
from journeylens.analyses._options import Cli
from journeylens.specs.discovery import OUTCOMES, JourneyFilter, split_names

MODELS = ("first", "last", "linear", "time_decay", "position", "markov", "shapley")
"""Every attribution model, in the order results list them."""


class AttributionBy(StrEnum):
    """What one step of a path is."""

    channel = "channel"
    touchpoint = "touchpoint"
    channel_touchpoint = "channel_touchpoint"


class AttributionFilter(JourneyFilter):
    """The journey filter without ``--outcome``: attribution's ``--outcome`` names the conversion,
    and every other outcome is a journey that did not convert."""

    outcome: list[str] | None = Field(None, description="Not an option here (see --outcome).")


class AttributionSpec(BaseModel):
    """Credit for conversions and their value per channel (or touchpoint) under heuristic, exact
    Markov and Shapley models, from the workspace's journeys or a path file."""

    model_config = ConfigDict(extra="forbid")

    paths: Annotated[
        str | None,
        Cli(
            help="A path file in ChannelAttribution's layout (path, total_conversions, "
            "total_conversion_value, total_null) instead of the workspace's journeys."
        ),
    ] = Field(None, description="Path file to read instead of the journeys.")
    sep: Annotated[str, Cli(help="Column separator of the path file.")] = Field(
        ";", min_length=1, max_length=1, description="Column separator of --paths."
    )
    path_sep: Annotated[str, Cli(help="Separator of the steps in a path (trimmed around).")] = Field(
        ">", min_length=1, description="Step separator inside a path."
    )
    by: Annotated[AttributionBy, Cli(help="channel, touchpoint or channel_touchpoint (journeys only).")] = (
        Field(AttributionBy.channel, description="What a step of a journey's path is.")
    )
    outcome: Annotated[str, Cli(help="The journey outcome that counts as a conversion (journeys only).")] = (
        Field("success", description="Conversion outcome: success, failed, abandoned, open or unknown.")
    )
    models: Annotated[
        list[str],
        Cli(
            name="model",
            help="Models to run (repeatable or comma-separated): " + ", ".join(MODELS) + " (default: all).",
            api_type="str | list[str] | None",
        ),
    ] = Field(default_factory=lambda: list(MODELS), description="Attribution models.")
    order: Annotated[int, Cli(help="Order of the Markov chain (1-3).")] = Field(
        1, ge=1, le=3, description="Markov order: states are windows of this many steps."
    )
    half_life: Annotated[
        str, Cli(help="Time decay on journeys: a touch this long before the conversion counts half.")
    ] = Field("7d", description="Half-life of the time-decay model on journeys (30m, 2h, 7d, 1w).")
    half_life_steps: Annotated[
        float, Cli(help="Time decay on a path file (no timestamps): half-life in steps.")
    ] = Field(1.0, gt=0, description="Half-life of the position-based decay on path files, in steps.")
    no_build: Annotated[
        bool,
        Cli(
            help="Refuse instead of building customers and journeys when they are missing or stale "
            "(journeys only: a path file needs none)."
        ),
    ] = Field(False, description="Refuse instead of building the journeys (the path file needs none).")
    filter: Annotated[AttributionFilter, Cli(expand=True)] = Field(
        default_factory=AttributionFilter, description="Which journeys (journeys only)."
    )

    @field_validator("models", mode="before")
    @classmethod
    def _models(cls, value: Any) -> Any:
        picked = split_names(value, MODELS, "model")
        return [m for m in MODELS if m in picked] or list(MODELS)

    @field_validator("outcome")
    @classmethod
    def _outcome(cls, value: str) -> str:
        if value not in OUTCOMES:
            raise ValueError(f"unknown outcome {value!r}; expected one of {', '.join(OUTCOMES)}")
        return value

    @field_validator("half_life")
    @classmethod
    def _half_life(cls, value: str) -> str:
        if parse_duration(value) <= 0:
            raise ValueError(f"{value!r} is not a positive duration")
        return value

    @property
    def half_life_s(self) -> float:
        return parse_duration(self.half_life)
