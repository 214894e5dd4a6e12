"""What ``journeylens experiment NAME`` (and ``ws.experiment``) computes: the spec only.

Example:
    >>> spec = ExperimentSpec(name="checkout_redesign", metric="success_rate,value")
    >>> spec.metric, spec.engine.value, spec.correction.value
    (['success_rate', 'value'], 'frequentist', 'holm')
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from journeylens.analyses._options import Cli
from journeylens.specs.discovery import ActivityKey, FilterField, JourneyFilter, split_names
from journeylens.specs.funnel import FunnelStep

METRIC_NAMES = (
    "converted", "success_rate", "leakage_rate", "repeat_rate", "fcr", "journeys", "contacts",
    "cost_to_serve", "value", "duration", "nps", "csat",
)  # fmt: skip
"""The unit-level metrics (defined in :mod:`journeylens.experiments.units`)."""
DEFAULT_METRICS = ("success_rate", "converted", "contacts", "leakage_rate", "value")
DOWNSTREAM_METRICS = ("contacts", "leakage_rate")
"""Contact-centre effects the journey view always states (added as guardrails when not asked for)."""


class Engine(StrEnum):
    frequentist = "frequentist"
    sequential = "sequential"
    bayesian = "bayesian"


class Difference(StrEnum):
    absolute = "absolute"
    relative = "relative"


class Correction(StrEnum):
    holm = "holm"
    bh = "bh"
    none = "none"


class ExperimentBy(StrEnum):
    segment = "segment"
    entry_channel = "entry_channel"


class ExperimentSpec(BaseModel):
    """One experiment of ``assignments``: journey metrics per variant after exposure, tested against
    the baseline variant as GrowthBook's gbstats 0.8 tests them."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Cli(argument=True, help="Experiment name (the assignments' 'experiment').")] = Field(
        min_length=1, description="Experiment name."
    )
    metric: Annotated[
        list[str],
        Cli(
            help="Metrics (repeatable or comma list): " + ", ".join(METRIC_NAMES) + ".",
            api_type="str | list[str] | None",
        ),
    ] = Field(default_factory=lambda: list(DEFAULT_METRICS), description="Goal metrics.")
    guardrail: Annotated[
        list[str],
        Cli(
            help="Guardrail metrics (tested, not corrected for multiplicity).",
            api_type="str | list[str] | None",
        ),
    ] = Field(
        default_factory=list, description="Guardrail metrics (left out of the multiplicity correction)."
    )
    baseline: Annotated[str | None, Cli(help="Baseline variant (default: 'control', else the first).")] = (
        Field(None, description="Baseline variant.")
    )
    engine: Annotated[Engine, Cli(help="frequentist, sequential (always-valid) or bayesian.")] = Field(
        Engine.frequentist, description="Statistics engine."
    )
    difference: Annotated[Difference, Cli(help="absolute or relative lift.")] = Field(
        Difference.absolute, description="Lift as a difference of means or relative to the baseline."
    )
    cuped: Annotated[bool, Cli(help="Adjust means and proportions for their pre-exposure value.")] = Field(
        True, description="CUPED (regression adjustment) with the pooled theta."
    )
    pre_days: Annotated[int, Cli(help="Days before exposure that give the CUPED covariate.")] = Field(
        30, ge=1, le=365, description="Pre-exposure window in days."
    )
    alpha: Annotated[float, Cli(help="1 - interval level; significance level.")] = Field(0.05, gt=0, lt=0.5)
    correction: Annotated[Correction, Cli(help="holm, bh or none, across metrics and variants.")] = Field(
        Correction.holm, description="Multiplicity correction (guardrails excluded)."
    )
    tuning: Annotated[float, Cli(help="Sequential tuning parameter (GrowthBook default 5000).")] = Field(
        5000.0, gt=0
    )
    prior_mean: Annotated[float, Cli(help="Bayesian prior mean of the relative lift.")] = 0.0
    prior_sd: Annotated[float | None, Cli(help="Bayesian prior sd of the relative lift (default: flat).")] = (
        Field(None, gt=0)
    )
    by: Annotated[ExperimentBy | None, Cli(help="Breakdown: segment or entry_channel.")] = Field(
        None, description="Also test within each group of this breakdown."
    )
    funnel: Annotated[
        list[str],
        Cli(
            help="Funnel steps per variant (comma list, funnel step syntax), journeys after exposure.",
            api_type="str | list[str] | None",
        ),
    ] = Field(default_factory=list, description="Steps of the per-variant funnel (none: no funnel).")
    window: Annotated[str, Cli(help="Conversion window of --funnel from step 1: 30m, 2h, 14d.")] = Field(
        "14d", description="Funnel conversion window."
    )
    maps: Annotated[bool, Cli(help="Per-variant process maps: the transitions whose share differs most.")] = (
        Field(False, description="Compare the variants' process maps.")
    )
    map_key: Annotated[ActivityKey, Cli(help="What one map node is: touchpoint, channel, ...")] = Field(
        ActivityKey.touchpoint, description="Map node key."
    )
    top: Annotated[int, Cli(help="Map transitions listed per variant (largest differences).")] = Field(
        10, ge=1, le=200, description="Map transitions listed per variant."
    )
    filter: FilterField = Field(default_factory=JourneyFilter, description="Which journeys count.")

    @field_validator("funnel", mode="before")
    @classmethod
    def _steps(cls, value: Any) -> Any:
        texts = [] if value is None else [value] if isinstance(value, str) else list(value)
        # Commas inside a step's [key=value,...] property filter do not split steps.
        steps = [p.strip() for text in texts for p in re.split(r",(?![^\[]*\])", str(text)) if p.strip()]
        for step in steps:
            FunnelStep.parse(step)  # the funnel's own syntax errors, at the option
        if len(steps) == 1:
            raise ValueError("a funnel needs at least two steps, e.g. --funnel checkout,payment")
        return steps

    @field_validator("metric", "guardrail", mode="before")
    @classmethod
    def _metrics(cls, value: Any) -> Any:
        return split_names(value, METRIC_NAMES, "metric") or []

    @model_validator(mode="after")
    def _some_metric(self) -> ExperimentSpec:
        if not self.metric and not self.guardrail:
            self.metric = list(DEFAULT_METRICS)
        self.guardrail = [g for g in self.guardrail if g not in self.metric]
        if self.funnel or self.maps:
            self.guardrail += [m for m in DOWNSTREAM_METRICS if m not in self.metric + self.guardrail]
        return self

    @property
    def journey_view(self) -> bool:
        """Whether the per-variant funnel or maps were asked for."""
        return bool(self.funnel) or self.maps
