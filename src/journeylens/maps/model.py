"""The journey map format: a designed (planned) journey, as pydantic models.

A map is one YAML file in the workspace's ``maps/`` folder (see docs/maps.md). It describes the
*planned* journey of one journey type (and optionally one customer segment): its ordered stages,
the touchpoints of each, what the customer should do and feel there, how long it may take, who
owns it; the touchpoints that are not planned but happen (a call); Declare-style rules; what
deviations cost; and how the map is monitored. The *actual* journeys are the ones JourneyLens
builds from events; comparing both yields deviations of the four CJML kinds
(:data:`DEVIATION_KINDS`).

These models import no engine (pydantic only), so the CLI, editors (through the JSON Schema,
:func:`map_schema`) and other packages read maps cheaply. Matching events to a stage uses the
journey definitions' :class:`~journeylens.journeys.definitions.Criteria` (``Stage.criteria``).

Example:
    >>> m = JourneyMap(
    ...     journey_type="purchase",
    ...     goal="Buy the right product without help",
    ...     stages=[
    ...         {"name": "discover", "touchpoints": ["home", "product_page"]},
    ...         {"name": "buy", "touchpoints": ["checkout", "order_confirmation"],
    ...          "time_target": {"duration": "30m"}},
    ...     ],
    ...     rules=[{"rule": "response", "first": "checkout", "then": "order_confirmation",
    ...             "within": "2h"}],
    ...     unplanned=[{"name": "call", "touchpoints": ["payment_call"]}],
    ... )
    >>> [s.name for s in m.stages], m.stage_of("checkout"), m.stages[1].time_target.seconds
    (['discover', 'buy'], 'buy', 1800.0)
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from journeylens._units import parse_duration
from journeylens.errors import close_matches
from journeylens.journeys.definitions import Criteria

__all__ = [
    "AD_HOC_TOUCHPOINT",
    "DEVIATION_KINDS",
    "FAILED_TOUCHPOINT",
    "MISSING_TOUCHPOINT",
    "SEQUENCE_IRREGULARITY",
    "Absence",
    "ChainResponse",
    "Existence",
    "JourneyMap",
    "Kpi",
    "KpiMetric",
    "MapCosts",
    "MapProblem",
    "MonitorPeriod",
    "MonitorSettings",
    "Precedence",
    "Response",
    "Rule",
    "Stage",
    "TimeTarget",
    "UnplannedTouchpoint",
]

# CJML (SINTEF) deviation kinds: how an actual journey departs from the planned one.
AD_HOC_TOUCHPOINT = "ad_hoc_touchpoint"
"""An event the map does not plan in any stage (an unplanned touchpoint, e.g. a call)."""
SEQUENCE_IRREGULARITY = "sequence_irregularity"
"""A planned touchpoint of an earlier stage after one of a later stage (going back)."""
FAILED_TOUCHPOINT = "failed_touchpoint"
"""A planned touchpoint that happened but did not work (a failure event, a broken rule)."""
MISSING_TOUCHPOINT = "missing_touchpoint"
"""A required stage (or a rule's expected touchpoint) that never happened."""
DEVIATION_KINDS = (AD_HOC_TOUCHPOINT, SEQUENCE_IRREGULARITY, FAILED_TOUCHPOINT, MISSING_TOUCHPOINT)
"""The four CJML deviation kinds, in the order reports list them."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_ .:/&+-]*$")


class MapProblem(ValueError):
    """A map that is valid YAML and well typed but does not make sense; ``loc`` says where
    (relative to the model that raised it), ``hint`` how to fix it. Pydantic keeps the exception
    in the error's context, so the loader reports the exact line of ``loc``."""

    def __init__(self, problem: str, loc: tuple[str | int, ...] = (), hint: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.loc = loc
        self.hint = hint


def _duration(value: str) -> str:
    seconds = parse_duration(value)  # ValueError names the expected form
    if seconds <= 0:
        raise ValueError(f"{value!r} is not a positive duration (like 30m, 2h, 14d or 1w)")
    return value.strip()


class TimeTarget(BaseModel):
    """How long a stage may take: ``percentile`` of the journeys take at most ``duration``.

    Time in stage runs from the stage's first event in a journey to the first event of the
    journey's next stage (for the journey's last stage: to its last event there).
    """

    model_config = ConfigDict(extra="forbid")

    duration: str = Field(description="A duration such as 30m, 2h, 3d or 1w.")
    percentile: str = Field("p80", description="The share of journeys that must be within it: p50 to p99.")

    _check_duration = field_validator("duration")(_duration)

    @field_validator("percentile")
    @classmethod
    def _percentile(cls, value: str) -> str:
        found = re.fullmatch(r"p(\d{2})", value.strip())
        if not found or not 50 <= int(found[1]) <= 99:
            raise ValueError(f"{value!r} is not a percentile like p50, p80, p90 or p95 (p50 to p99)")
        return value.strip()

    @property
    def seconds(self) -> float:
        return parse_duration(self.duration)

    @property
    def share(self) -> float:
        """The percentile as a share (p80 -> 0.8)."""
        return int(self.percentile[1:]) / 100


class KpiMetric(StrEnum):
    """Stage measures a KPI can target (rates are shares 0..1, times in seconds)."""

    volume = "volume"
    conversion = "conversion"
    resolution = "resolution"
    leakage = "leakage"
    contacts = "contacts"
    time_in_stage = "time_in_stage"
    csat = "csat"
    nps = "nps"
    ces = "ces"


_RATES = {KpiMetric.conversion, KpiMetric.resolution, KpiMetric.leakage}


class Kpi(BaseModel):
    """A stage KPI and its target: at least ``min``, at most ``max`` (one or both)."""

    model_config = ConfigDict(extra="forbid")

    metric: KpiMetric = Field(description="What is measured: " + ", ".join(m.value for m in KpiMetric) + ".")
    min: float | None = Field(None, description="The target is at least this (e.g. conversion 0.6).")
    max: float | None = Field(None, description="The target is at most this (e.g. leakage 0.1).")
    note: str | None = Field(None, description="Why this target.")

    @model_validator(mode="after")
    def _target(self) -> Kpi:
        if self.min is None and self.max is None:
            raise MapProblem(
                f"KPI {self.metric.value!r} has no target",
                hint="Give `min:` (at least) or `max:` (at most), e.g. min: 0.6.",
            )
        if self.min is not None and self.max is not None and self.min > self.max:
            raise MapProblem(f"KPI {self.metric.value!r}: min {self.min} is above max {self.max}")
        if self.metric in _RATES and any(v is not None and not 0 <= v <= 1 for v in (self.min, self.max)):
            raise MapProblem(
                f"KPI {self.metric.value!r} is a share of journeys: targets lie between 0 and 1",
                hint="Write 60% as 0.6.",
            )
        return self


class _Matching(BaseModel):
    """Which events belong here: any listed touchpoint, channel, contact reason or property value
    (the journey definitions' :class:`Criteria`; lists are alternatives)."""

    model_config = ConfigDict(extra="forbid")

    touchpoints: list[str] = Field(default_factory=list, description="Touchpoint names (any of them).")
    channels: list[str] = Field(default_factory=list, description="Whole channels (any of them).")
    contact_reasons: list[str] = Field(
        default_factory=list, description="Values of properties.contact_reason (any of them)."
    )
    properties: dict[str, list[str]] = Field(
        default_factory=dict, description="Event property name -> accepted values."
    )

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: list[str]) -> list[str]:
        try:
            return Criteria(channels=value).channels
        except ValidationError as exc:  # its message, at this field (not nested under a second name)
            raise ValueError(str(exc.errors()[0]["msg"]).removeprefix("Value error, ")) from None

    @property
    def criteria(self) -> Criteria:
        """The journey definitions' matcher for these fields (``criteria.matches(events)``)."""
        return Criteria(
            touchpoints=self.touchpoints,
            channels=self.channels,
            contact_reasons=self.contact_reasons,
            properties=self.properties,
        )


class Stage(_Matching):
    """One stage of the planned journey, in order."""

    name: str = Field(description="Unique within the map; rules may name it.")
    description: str | None = None
    required: bool = Field(True, description="A journey that never reaches it misses a touchpoint.")
    customer_goal: str | None = Field(None, description="What the customer wants here.")
    intent: str | None = Field(None, description="What we want them to feel and do here.")
    expected_emotion: int | None = Field(
        None, ge=-2, le=2, description="-2 (very negative) .. 2 (very positive); empty until people decide."
    )
    time_target: TimeTarget | None = None
    owner: str | None = None
    pain_points: list[str] = Field(default_factory=list, description="Known pain points.")
    kpis: list[Kpi] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"{value!r} is not a stage name: start with a letter or digit")
        return value

    @model_validator(mode="after")
    def _has_touchpoints(self) -> Stage:
        if self.criteria.is_empty():
            raise MapProblem(
                f"stage {self.name!r} has no touchpoints",
                hint="List its touchpoints (or channels, contact_reasons, properties), e.g. "
                "touchpoints: [checkout, payment]; or remove the stage.",
            )
        return self


class UnplannedTouchpoint(_Matching):
    """A touchpoint that is not part of any stage but is known to happen (ad-hoc contacts)."""

    name: str = Field(description="How reports call it, e.g. 'call about payment'.")
    note: str | None = None


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(None, description="Why the rule holds.")

    def names(self) -> dict[str, str]:
        """Field -> the touchpoint or stage it names."""
        raise NotImplementedError


class Existence(_Rule):
    """``activity`` happens in every journey (at least ``min`` times)."""

    rule: Literal["existence"]
    activity: str = Field(description="A touchpoint or stage name.")
    min: int = Field(1, ge=1)

    def names(self) -> dict[str, str]:
        return {"activity": self.activity}


class Absence(_Rule):
    """``activity`` never happens."""

    rule: Literal["absence"]
    activity: str = Field(description="A touchpoint or stage name.")

    def names(self) -> dict[str, str]:
        return {"activity": self.activity}


class _Pair(_Rule):
    first: str = Field(description="A touchpoint or stage name.")
    then: str = Field(description="A touchpoint or stage name.")

    def names(self) -> dict[str, str]:
        return {"first": self.first, "then": self.then}


class Response(_Pair):
    """Every ``first`` is followed by a ``then`` (within ``within`` when given)."""

    rule: Literal["response"]
    within: str | None = Field(None, description="A duration such as 2h or 3d.")

    @field_validator("within")
    @classmethod
    def _within(cls, value: str | None) -> str | None:
        return None if value is None else _duration(value)


class Precedence(_Pair):
    """A ``then`` only ever happens after a ``first``."""

    rule: Literal["precedence"]


class ChainResponse(_Pair):
    """Every ``first`` is followed immediately (the next event) by a ``then``."""

    rule: Literal["chain_response"]


Rule = Annotated[Existence | Absence | Response | Precedence | ChainResponse, Field(discriminator="rule")]
"""A Declare rule; ``rule:`` says which."""


class MapCosts(BaseModel):
    """What a deviation costs. Empty fields take the workspace's values: an assisted contact costs
    what ``[journeys.costs]`` sets for its channel, a lost conversion the journey type's mean value."""

    model_config = ConfigDict(extra="forbid")

    assisted_contact: float | None = Field(None, ge=0, description="Per assisted contact.")
    hour_of_delay: float | None = Field(None, ge=0, description="Per hour beyond a stage's time target.")
    lost_conversion: float | None = Field(None, ge=0, description="Per journey that did not succeed.")


class MonitorPeriod(StrEnum):
    day = "day"
    week = "week"


class MonitorSettings(BaseModel):
    """How the living map is watched: the false alarms the whole map may raise, and the period."""

    model_config = ConfigDict(extra="forbid")

    false_alarm_budget: str = Field(
        "1/month", description="False alarms the whole map may raise: N/day|week|month|quarter|year."
    )
    period: MonitorPeriod = Field(MonitorPeriod.day, description="Series granularity: day or week.")

    @field_validator("false_alarm_budget")
    @classmethod
    def _budget(cls, value: str) -> str:
        # One parser for budgets: the monitor's (imported here, on use: it needs numpy and scipy).
        from journeylens.errors import InputError
        from journeylens.maps.monitor_stats import parse_budget

        try:
            parse_budget(value)
        except InputError as exc:
            raise ValueError(exc.message.rstrip(".")) from None
        return value.strip()

    @property
    def false_alarms_per_day(self) -> float:
        from journeylens.maps.monitor_stats import parse_budget

        budget = parse_budget(self.false_alarm_budget)
        return budget.alarms / budget.unit_days


class JourneyMap(BaseModel):
    """A designed journey map (the *planned* journey of one journey type and segment)."""

    model_config = ConfigDict(extra="forbid", title="JourneyLens journey map")

    journey_type: str = Field(description="A journey type of the workspace ([journeys.types]).")
    segment: str | None = Field(None, description="Only customers of this segment (trait 'segment').")
    name: str | None = Field(None, description="Defaults to the file name without .yaml.")
    goal: str = Field(description="What the journey is for, in the customer's words.")
    owner: str | None = None
    version: int = Field(1, ge=1)
    stages: list[Stage] = Field(min_length=1, description="The planned stages, in order.")
    unplanned: list[UnplannedTouchpoint] = Field(
        default_factory=list, description="Touchpoints outside the stages that are known to happen."
    )
    rules: list[Rule] = Field(default_factory=list, description="Declare rules over touchpoints or stages.")
    costs: MapCosts = Field(default_factory=MapCosts)
    monitor: MonitorSettings = Field(default_factory=MonitorSettings)

    @model_validator(mode="after")
    def _consistent(self) -> JourneyMap:
        self._unique_stages()
        self._one_place_per_touchpoint()
        self._rules_name_known_activities()
        self._no_contradictions()
        return self

    def _unique_stages(self) -> None:
        seen: set[str] = set()
        for i, stage in enumerate(self.stages):
            if stage.name in seen:
                raise MapProblem(
                    f"two stages are called {stage.name!r}",
                    ("stages", i, "name"),
                    "Give each stage its own name.",
                )
            seen.add(stage.name)

    def _one_place_per_touchpoint(self) -> None:
        owner: dict[str, str] = {}
        for i, stage in enumerate(self.stages):
            for k, tp in enumerate(stage.touchpoints):
                if tp in owner:
                    raise MapProblem(
                        f"touchpoint {tp!r} is in stage {owner[tp]!r} and in stage {stage.name!r}",
                        ("stages", i, "touchpoints", k),
                        "A touchpoint belongs to one stage (its place in the journey); keep it in one.",
                    )
                owner[tp] = stage.name
        for i, extra in enumerate(self.unplanned):
            for k, tp in enumerate(extra.touchpoints):
                if tp in owner:
                    raise MapProblem(
                        f"touchpoint {tp!r} is planned in stage {owner[tp]!r} and also listed as unplanned",
                        ("unplanned", i, "touchpoints", k),
                        "Remove it from one of the two.",
                    )

    def activities(self) -> list[str]:
        """Names a rule may use: stage names, then the touchpoints stages and unplanned entries list."""
        names = [s.name for s in self.stages]
        names += [tp for s in self.stages for tp in s.touchpoints]
        names += [tp for u in self.unplanned for tp in u.touchpoints]
        return list(dict.fromkeys(names))

    def _rules_name_known_activities(self) -> None:
        known = self.activities()
        for j, rule in enumerate(self.rules):
            for field, name in rule.names().items():
                if name not in known:
                    near = close_matches(name, known)
                    raise MapProblem(
                        f"{rule.rule} rule names {name!r}, which is no stage or touchpoint of this map",
                        ("rules", j, field),
                        (f"Did you mean {', '.join(repr(n) for n in near)}? " if near else "")
                        + "Rules name a stage, or a touchpoint listed in a stage or under unplanned.",
                    )
            if isinstance(rule, _Pair) and rule.first == rule.then:
                raise MapProblem(
                    f"{rule.rule} rule relates {rule.first!r} to itself",
                    ("rules", j),
                    "Name two different touchpoints or stages; use existence for one.",
                )

    def _no_contradictions(self) -> None:
        must = {r.activity: j for j, r in enumerate(self.rules) if isinstance(r, Existence)}
        for j, rule in enumerate(self.rules):
            if isinstance(rule, Absence) and rule.activity in must:
                raise MapProblem(
                    f"rules contradict each other: {rule.activity!r} must exist "
                    f"(rule {must[rule.activity] + 1}) and must be absent (rule {j + 1})",
                    ("rules", j),
                    "No journey can conform to both; keep one of the two rules.",
                )
        for j, rule in enumerate(self.rules):
            if isinstance(rule, Absence) and rule.activity in {s.name for s in self.stages if s.required}:
                raise MapProblem(
                    f"rules contradict the stages: {rule.activity!r} is a required stage and must be absent",
                    ("rules", j),
                    "Make the stage optional (required: false) or drop the absence rule.",
                )

    def stage_of(self, touchpoint: str) -> str | None:
        """The stage that lists ``touchpoint`` by name (None when no stage does)."""
        return next((s.name for s in self.stages if touchpoint in s.touchpoints), None)

    def stage(self, name: str) -> Stage:
        """The stage called ``name`` (KeyError when there is none)."""
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(name)

    def touchpoints(self) -> list[str]:
        """Every touchpoint the map names (stages, unplanned and rules), once each."""
        stages = {s.name for s in self.stages}
        named = [tp for s in self.stages for tp in s.touchpoints]
        named += [tp for u in self.unplanned for tp in u.touchpoints]
        named += [n for r in self.rules for n in r.names().values() if n not in stages]
        return list(dict.fromkeys(named))


SCHEMA_ID = "https://journeylens.dev/schemas/map.schema.json"


def map_schema() -> dict[str, Any]:
    """The JSON Schema of a map file (``journeylens map schema``; committed as docs/map.schema.json)."""
    schema = JourneyMap.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}
