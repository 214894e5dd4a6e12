"""What ``journeylens causes`` (and ``ws.causes``) computes: the spec only.

Example:
    >>> spec = CausesSpec(outcome="leakage", properties=["device"])
    >>> spec.outcome.value, spec.min_support, spec.max_values
    ('leakage', 20, 20)
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from journeylens.analyses._options import Cli
from journeylens.specs.discovery import JourneyFilter, split_names


class CauseOutcome(StrEnum):
    """The journey outcome whose causes are sought (definitions: docs/decisions.md)."""

    failed = "failed"
    abandoned = "abandoned"
    leakage = "leakage"
    repeat_journey = "repeat_journey"
    contact_after = "contact_after"
    low_score = "low_score"


FAMILIES = ("touchpoint", "channel", "switch", "entry", "segment", "team", "event", "trait")
"""Feature families, each counted in one engine pass: touchpoints visited (``stage/channel:touchpoint``
with a map), channels used, channel switches (``from->to``), entry channel, customer segment, agent
team, event properties (``--property``) and customer traits (``--trait``)."""


DEFAULT_PROPERTIES = ("device", "app_version")
"""Event properties tested by default, where events have them."""


class CausesFilter(JourneyFilter):
    """The journey filter without ``--outcome`` (the spec's own ``--outcome`` names the target)."""

    outcome: list[str] | None = Field(None, description="Journey outcomes to keep (Python API only).")


class CausesSpec(BaseModel):
    """Root causes of a journey outcome: contrasts, conditional checks, joint adjustment."""

    model_config = ConfigDict(extra="forbid")

    outcome: Annotated[
        CauseOutcome,
        Cli(help="failed, abandoned, leakage, repeat_journey, contact_after or low_score."),
    ] = Field(CauseOutcome.failed, description="The outcome whose associated features are sought.")
    map: Annotated[
        str | None, Cli(help="A map name in maps/ (or a YAML file): touchpoints are named with their stage.")
    ] = Field(None, description="Map whose stages qualify touchpoint features.")
    families: Annotated[
        list[str],
        Cli(
            name="family",
            help=f"Feature family to test (repeatable; default all: {', '.join(FAMILIES)}).",
            api_type="str | list[str] | None",
        ),
    ] = Field(default_factory=lambda: list(FAMILIES), description="Feature families to test.")
    properties: Annotated[
        list[str] | None,
        Cli(
            name="property",
            help="Event property to test, one feature per value (repeatable; default: device and "
            "app_version where events have them).",
            api_type="str | list[str] | None",
        ),
    ] = Field(None, description="Event property keys (None: the defaults that exist).")
    traits: Annotated[
        list[str],
        Cli(
            name="trait",
            help="Customer trait to test besides the segment (repeatable).",
            api_type="str | list[str] | None",
        ),
    ] = Field(default_factory=list, description="Customer trait keys.")
    min_support: Annotated[
        int, Cli(help="Fewest journeys with (and without) a feature for it to be tested.")
    ] = Field(20, ge=2, description="Fewest journeys with, and without, a candidate.")
    max_values: Annotated[int, Cli(help="A property or trait with more distinct values is not tested.")] = (
        Field(20, ge=2, description="Low-cardinality cap of event properties and customer traits.")
    )
    max_pair_features: Annotated[
        int, Cli(help="Pairs are formed among this many supported features (the most frequent).")
    ] = Field(30, ge=0, le=60, description="Cap on the features whose pairs are tested.")
    q: Annotated[float, Cli(help="False discovery rate of the contrasts (Benjamini-Hochberg).")] = Field(
        0.05, gt=0, lt=1, description="BH level of the contrasts; also the level of the conditional tests."
    )
    examples: Annotated[int, Cli(help="Example journey ids per cause (the smallest ids).")] = Field(
        3, ge=0, le=20, description="Example journeys per cause."
    )
    segment_trait: str = Field("segment", description="Customer trait that names the segment.")
    filter: Annotated[CausesFilter, Cli(expand=True)] = Field(
        default_factory=CausesFilter, description="Which journeys."
    )

    @field_validator("families", mode="before")
    @classmethod
    def _families(cls, value: Any) -> Any:
        return split_names(value, FAMILIES, "feature family") or list(FAMILIES)

    @field_validator("properties", "traits", mode="before")
    @classmethod
    def _names(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            return None if info.field_name == "properties" else []
        return split_names(value)
