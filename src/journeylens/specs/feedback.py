"""What ``journeylens feedback scores`` (and ``ws.feedback_scores``) computes: the spec only.

Example:
    >>> spec = FeedbackScoresSpec(by="agent", metric="csat")
    >>> spec.by.value, spec.metric, spec.csat_top_box
    ('agent', ['csat'], 4.0)
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from journeylens._units import parse_instant
from journeylens.analyses._options import Cli
from journeylens.export import ExportFormat
from journeylens.specs.discovery import FilterField, JourneyFilter, split_names
from journeylens.specs.summary import Period
from journeylens.store.names import SCORE_RANGES

SCORE_METRICS = ("nps", "csat", "ces", "nps_mean", "csat_mean", "ces_mean", "rating_mean")
"""``nps``: Net Promoter Score; ``csat``/``ces``: top-box shares; ``<metric>_mean``: mean scores."""
DEFAULT_CSAT_TOP_BOX = 4.0
"""CSAT answers at or above this (4-5 of 1-5: satisfied or very satisfied) are the top box."""
DEFAULT_CES_TOP_BOX = 6.0
"""CES answers at or above this (6-7 of 1-7, 7 = very easy) are the top box."""


class ScoresBy(StrEnum):
    touchpoint = "touchpoint"
    journey_type = "journey_type"
    outcome = "outcome"
    segment = "segment"
    channel = "channel"
    agent = "agent"
    team = "team"
    period = "period"
    stage = "stage"


class FeedbackScoresSpec(BaseModel):
    """Scores per group with 95% intervals, each group against the rest."""

    model_config = ConfigDict(extra="forbid")

    by: Annotated[
        ScoresBy,
        Cli(help="touchpoint, journey_type, outcome, segment, channel, agent, team, period, stage (--map)."),
    ] = Field(ScoresBy.touchpoint, description="What the answers are grouped by.")
    map: Annotated[
        str | None,
        Cli(help="With --by stage: a map name in maps/ (or a YAML file) whose stages are the groups."),
    ] = Field(None, description="Map whose stages group the answers about its journeys (by=stage).")
    metric: Annotated[
        list[str],
        Cli(
            short="-m",
            help="nps, csat, ces (top-box shares) or nps_mean, csat_mean, ces_mean, rating_mean "
            "(repeatable; default: those of nps, csat and ces the answers have).",
            api_type="str | list[str] | None",
        ),
    ] = Field(default_factory=list, description="Scores to compute; empty: nps, csat and ces.")
    period: Annotated[Period, Cli(help="day, week or month, when --by period.")] = Field(
        Period.month, description="Calendar unit of the answer time when by=period (local time)."
    )
    min_answers: Annotated[
        int, Cli(help="Groups with fewer answers of a metric show their count, not a score.")
    ] = Field(10, ge=1, description="Fewest answers for which a group's score and interval are shown.")
    csat_top_box: Annotated[float, Cli(help="CSAT answers at or above this are the top box (1-5).")] = Field(
        DEFAULT_CSAT_TOP_BOX, description="Lowest CSAT score of the top box."
    )
    ces_top_box: Annotated[float, Cli(help="CES answers at or above this are the top box (1-7).")] = Field(
        DEFAULT_CES_TOP_BOX, description="Lowest CES score of the top box (7 = very easy)."
    )
    since: Annotated[dt.datetime | None, Cli(input=str, help="Answers given on/after (ISO date, UTC).")] = (
        Field(None, description="Answers given at or after (UTC).")
    )
    until: Annotated[dt.datetime | None, Cli(input=str, help="Answers given before (ISO date, UTC).")] = (
        Field(None, description="Answers given before (UTC).")
    )
    segment_trait: str = Field("segment", description="Customer trait that names the segment.")

    @field_validator("metric", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return split_names(value, SCORE_METRICS, "metric")

    @field_validator("since", "until", mode="before")
    @classmethod
    def _instant(cls, value: Any) -> Any:
        return parse_instant(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _stage_needs_map(self) -> FeedbackScoresSpec:
        if (self.by == ScoresBy.stage) != (self.map is not None):
            raise ValueError(
                "--by stage groups answers by the stages of a map and needs one; --map is read only "
                "with --by stage: e.g. `journeylens feedback scores --by stage --map purchase`"
            )
        return self

    @model_validator(mode="after")
    def _boxes(self) -> FeedbackScoresSpec:
        for name, value in (("csat", self.csat_top_box), ("ces", self.ces_top_box)):
            low, high = SCORE_RANGES[name]
            if not low < value <= high:
                raise ValueError(
                    f"{name}_top_box = {value:g} is outside {name}'s scale {low:g}-{high:g} above its "
                    f"lowest score (every answer would be top box); e.g. {name}_top_box = "
                    f"{DEFAULT_CSAT_TOP_BOX if name == 'csat' else DEFAULT_CES_TOP_BOX:g}"
                )
        return self


MIN_EMOTION_ANSWERS = 10
"""Fewest answers for which a point of the emotion curve (a touchpoint, a map stage) is shown."""


class EmotionSpec(BaseModel):
    """The emotion curve: how customers feel along a journey type, or along a map's stages."""

    model_config = ConfigDict(extra="forbid")

    map: Annotated[
        str | None,
        Cli(help="A map name in maps/ (or a YAML file): points are its stages, with the expected emotion."),
    ] = Field(None, description="Map whose stages are the points (and whose journey type is read).")
    by_segment: Annotated[bool, Cli(help="One curve per customer segment (the segment trait).")] = Field(
        False, description="Split each curve by the respondent's segment."
    )
    min_answers: Annotated[int, Cli(help="Points with fewer answers show their count, not an emotion.")] = (
        Field(MIN_EMOTION_ANSWERS, ge=1, description="Fewest answers for which a point's emotion is shown.")
    )
    segment_trait: str = Field("segment", description="Customer trait that names the segment.")
    filter: FilterField = Field(
        default_factory=JourneyFilter, description="Which journeys (with a map: of the map's type)."
    )


class FeedbackExportSpec(BaseModel):
    """Where ``journeylens feedback export`` writes every feedback row with its sentiment and link."""

    model_config = ConfigDict(extra="forbid")

    out: Annotated[
        Path | None,
        Cli(
            argument=True,
            input=str | None,
            help="File to write (.csv, .json or .parquet); standard output (CSV) when absent or '-'.",
        ),
    ] = None
    file_format: Annotated[
        ExportFormat | None, Cli(help="csv, json or parquet (default: from the file's suffix, else csv).")
    ] = Field(None, description="File format; None: from the suffix of out, else CSV.")

    @field_validator("out", mode="before")
    @classmethod
    def _dash_is_stdout(cls, value: Any) -> Any:
        return None if isinstance(value, str) and value.strip() in ("-", "") else value


class FeedbackThemesSpec(BaseModel):
    """Themes of feedback text: volume, share, negative share and sentiment per theme, by period."""

    model_config = ConfigDict(extra="forbid")

    discover: Annotated[
        bool, Cli(help="Also propose new themes from negative comments no theme covers (NMF).")
    ] = Field(False, description="Propose candidate themes from uncovered negative comments.")
    candidates: Annotated[int, Cli(help="How many candidate themes --discover proposes.")] = Field(
        5, ge=1, le=30, description="NMF components (candidate themes) when discovering."
    )
    period: Annotated[Period, Cli(help="day, week or month: the unit of each theme's trend.")] = Field(
        Period.month, description="Calendar unit of the trend (workspace time zone)."
    )
    retrain: Annotated[bool, Cli(help="Learn the theme classifier anew even if its data is unchanged.")] = (
        Field(False, description="Retrain the classifier even when the stored one is current.")
    )
    since: Annotated[dt.datetime | None, Cli(input=str, help="Comments given on/after (ISO date, UTC).")] = (
        Field(None, description="Comments given at or after (UTC).")
    )
    until: Annotated[dt.datetime | None, Cli(input=str, help="Comments given before (ISO date, UTC).")] = (
        Field(None, description="Comments given before (UTC).")
    )

    @field_validator("since", "until", mode="before")
    @classmethod
    def _instant(cls, value: Any) -> Any:
        return parse_instant(value) if isinstance(value, str) else value
