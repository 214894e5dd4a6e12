"""What ``journeylens drivers`` (and ``ws.drivers``) computes: the spec only.

Example:
    >>> spec = DriversSpec(target="csat", features="touchpoints,assisted")
    >>> spec.target.value, spec.features, spec.top, spec.bootstrap
    ('csat', ['touchpoints', 'assisted'], 12, 200)
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from journeylens.analyses._options import Cli
from journeylens.specs.discovery import FilterField, JourneyFilter, split_names

FAMILIES = ("touchpoints", "channels", "stages", "steps", "duration", "assisted")
"""Feature families: an indicator per touchpoint and per channel visited (the ``top`` most
supported of each), per map stage reached (with ``--map``), the number of steps and the duration
in bands (one ordinal predictor each), and whether an agent was contacted."""
DEFAULT_TOP = 12
"""Touchpoints (and channels) kept as predictors: the most supported ones."""
DEFAULT_MIN_SUPPORT = 20
"""A feature needs at least this many journeys with it, and this many without it."""
DEFAULT_BOOTSTRAP = 200
"""Bootstrap replicates (journeys resampled with replacement) for the 95% percentile intervals."""
MAX_EXACT = 12
"""Exact Shapley/LMG (all 2^p subsets) is computed up to this many predictors."""


class DriverTarget(StrEnum):
    success = "success"
    nps = "nps"
    csat = "csat"
    ces = "ces"
    rating = "rating"


class DriversSpec(BaseModel):
    """Key drivers: which journey features are associated with the outcome or the score."""

    model_config = ConfigDict(extra="forbid")

    target: Annotated[
        DriverTarget,
        Cli(help="success (final outcomes only), or the journey's mean nps, csat, ces or rating answer."),
    ] = Field(DriverTarget.success, description="What the drivers explain.")
    map: Annotated[
        str | None, Cli(help="A map name in maps/ (or a YAML file): adds one feature per stage reached.")
    ] = Field(None, description="Map whose stages become features (and whose journey type is read).")
    features: Annotated[
        list[str],
        Cli(
            help="Feature families (repeatable or comma-separated): touchpoints, channels, stages, steps, "
            "duration, assisted (default: all; stages need --map).",
            api_type="str | list[str] | None",
        ),
    ] = Field(default_factory=lambda: list(FAMILIES), description="Feature families to use.")
    top: Annotated[int, Cli(help="Keep the TOP most supported touchpoints (and channels).")] = Field(
        DEFAULT_TOP, ge=1, le=50, description="Touchpoints and channels kept, most supported first."
    )
    exclude: Annotated[
        list[str],
        Cli(
            help="Touchpoints to leave out of every feature (repeatable or comma-separated), e.g. a "
            "funnel step that is the outcome in all but name.",
            api_type="str | list[str] | None",
        ),
    ] = Field(default_factory=list, description="Touchpoints left out of the features.")
    min_support: Annotated[
        int, Cli(help="A feature needs this many journeys with it and this many without it.")
    ] = Field(DEFAULT_MIN_SUPPORT, ge=1, description="Fewest journeys with (and without) a feature.")
    by_segment: Annotated[bool, Cli(help="Drivers per customer segment as well (the segment trait).")] = (
        Field(False, description="Also decompose within each customer segment.")
    )
    bootstrap: Annotated[int, Cli(help="Bootstrap replicates for the 95% intervals (0: none).")] = Field(
        DEFAULT_BOOTSTRAP, ge=0, le=5000, description="Bootstrap replicates (journeys resampled)."
    )
    seed: Annotated[int, Cli(help="Seed of the bootstrap.")] = Field(0, description="Bootstrap seed.")
    segment_trait: str = Field("segment", description="Customer trait that names the segment.")
    filter: FilterField = Field(default_factory=JourneyFilter, description="Which journeys.")

    @field_validator("exclude", mode="before")
    @classmethod
    def _touchpoints(cls, value: Any) -> list[str]:
        return split_names(value)

    @field_validator("features", mode="before")
    @classmethod
    def _families(cls, value: Any) -> list[str]:
        return split_names(value, FAMILIES, "feature family") or list(FAMILIES)
