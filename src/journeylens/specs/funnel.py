"""What a funnel is: steps, exclusions, order, window, unit and breakdown, as one typed spec.

The step syntax shared by the CLI and the Python API (``FunnelSpec(steps=["home", "web:checkout"])``)::

    STEP        := ["?"] ALTERNATIVE ("|" ALTERNATIVE)*        "?" marks an optional step
    ALTERNATIVE := [CHANNEL ":"] (TOUCHPOINT | "*") ["[" KEY "=" VALUE ("," KEY "=" VALUE)* "]"]
    EXCLUSION   := ALTERNATIVE ("|" ALTERNATIVE)* ["@" FROM "-" TO]   steps FROM..TO (1-based)

``checkout`` matches the touchpoint on any channel, ``web:checkout`` only on the web, ``chat:*`` any
chat event, ``pricing|plans`` either touchpoint, ``?coupon`` an optional step and
``checkout[plan=pro]`` a checkout whose event property ``plan`` is ``pro``. A prefix before ``:``
counts as a channel only when it is one of the canonical channels, so touchpoints may contain colons.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from journeylens._units import parse_duration
from journeylens.analyses._options import Cli, options
from journeylens.analyses._options import nest as nest_options
from journeylens.errors import InputError, close_matches
from journeylens.specs.discovery import ActivityKey, FilterField, JourneyFilter, KeyField
from journeylens.store.names import CHANNELS

MAX_STEPS = 30
"""Longest funnel. Each step adds one window pass over the attempts still in progress, so cost grows
linearly with the steps; past 30 the chart is unreadable and a process map tells more."""

_RANGE = re.compile(r"^(\d+)-(\d+)$")


class FunnelOrder(StrEnum):
    """How steps must follow each other."""

    ordered = "ordered"
    strict = "strict"
    any = "any"


class FunnelUnit(StrEnum):
    """Who converts: a customer (over all their events) or a journey.

    A spec without a unit counts customers when the selected journeys have any, else journeys
    (a case log has no customers); :class:`~journeylens.discovery.funnel.FunnelResult` says which.
    """

    customer = "customer"
    journey = "journey"


class FunnelBreakdown(StrEnum):
    """What the rows are split by."""

    segment = "segment"
    channel = "channel"
    variant = "variant"


class StepMatcher(BaseModel):
    """One kind of event: a touchpoint and/or a channel, optionally with property values."""

    model_config = ConfigDict(extra="forbid")

    touchpoint: str | None = None
    channel: str | None = None
    properties: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _names_something(self) -> StepMatcher:
        if not self.touchpoint and not self.channel:
            raise ValueError("a step needs a touchpoint or a channel (or both), e.g. 'checkout' or 'chat:*'")
        return self

    @classmethod
    def parse(cls, text: str) -> StepMatcher:
        """``[channel:]touchpoint[key=value,...]``; ``channel:*`` is any touchpoint on that channel."""
        body, props = text.strip(), {}
        if body.endswith("]") and "[" in body:
            cut = body.rindex("[")
            for pair in body[cut + 1 : -1].split(","):
                key, sep, value = pair.partition("=")
                if not sep or not key.strip():
                    raise ValueError(f"{text!r}: property filters are written [key=value,...]")
                props[key.strip()] = value.strip()
            body = body[:cut].strip()
        head, sep, tail = body.partition(":")
        channel, touchpoint = (head, tail.strip()) if sep and head in CHANNELS else (None, body)
        if not touchpoint:
            raise ValueError(f"{text!r} names no touchpoint; write 'channel:*' for a whole channel")
        return cls(touchpoint=None if touchpoint == "*" else touchpoint, channel=channel, properties=props)

    def label(self) -> str:
        text = self.touchpoint or "*"
        if self.channel:
            text = f"{self.channel}:{text}"
        if self.properties:
            text += "[" + ",".join(f"{k}={v}" for k, v in self.properties.items()) + "]"
        return text


def _alternatives(text: str) -> list[StepMatcher]:
    return [StepMatcher.parse(part) for part in text.split("|")]


class FunnelStep(BaseModel):
    """A step: any one of ``any_of`` counts; an optional step may be skipped."""

    model_config = ConfigDict(extra="forbid")

    any_of: list[StepMatcher] = Field(min_length=1)
    optional: bool = False
    name: str | None = Field(None, description="Label in results; default: the step as written.")

    @classmethod
    def parse(cls, text: str) -> FunnelStep:
        """Parse the step syntax (see the module docstring); ``?`` in front makes it optional."""
        body = text.strip()
        optional = body.startswith("?")
        return cls(any_of=_alternatives(body.removeprefix("?")), optional=optional)

    @property
    def label(self) -> str:
        return self.name or "|".join(m.label() for m in self.any_of)

    @property
    def key(self) -> tuple[str, ...]:
        """Identity of the matcher: steps with equal keys match exactly the same events."""
        return tuple(sorted(m.model_dump_json() for m in self.any_of))


class Exclusion(BaseModel):
    """Events that void an attempt when they happen between step ``from_step`` and ``to_step``."""

    model_config = ConfigDict(extra="forbid")

    any_of: list[StepMatcher] = Field(min_length=1)
    from_step: int = Field(1, ge=1)
    to_step: int | None = Field(None, ge=2, description="Default: the last step.")

    @classmethod
    def parse(cls, text: str) -> Exclusion:
        """``touchpoint`` (whole funnel) or ``touchpoint@2-3`` (between steps 2 and 3)."""
        body, sep, suffix = text.strip().rpartition("@")
        found = _RANGE.match(suffix) if sep else None
        if not found:
            return cls(any_of=_alternatives(text))
        return cls(any_of=_alternatives(body), from_step=int(found[1]), to_step=int(found[2]))

    @property
    def label(self) -> str:
        return "|".join(m.label() for m in self.any_of)


def parse_window(value: Any) -> Any:
    """``30s``, ``15m``, ``2h``, ``14d``, ``1w`` (or a timedelta, or seconds) → timedelta."""
    return dt.timedelta(seconds=parse_duration(value)) if isinstance(value, str) else value


class FunnelSpec(BaseModel):
    """A funnel: the same spec for the CLI, the Python API and the REST API.

    Example:
        >>> spec = FunnelSpec(steps=["product_page", "web:checkout", "order_confirmation"], window="2h")
        >>> [s.label for s in spec.steps], spec.window_seconds
        (['product_page', 'web:checkout', 'order_confirmation'], 7200.0)
    """

    model_config = ConfigDict(extra="forbid")

    steps: Annotated[
        list[FunnelStep],
        Cli(argument=True, input=list[str], help="The steps, in order (see the syntax above)."),
    ] = Field(min_length=2)
    order: Annotated[FunnelOrder, Cli(help="ordered, strict (nothing in between) or any.")] = (
        FunnelOrder.ordered
    )
    # The default is written as users write it, and parsed like their input.
    window: Annotated[
        dt.timedelta, Cli(input=str, help="Conversion window from step 1: 30m, 2h, 14d, 1w.")
    ] = Field("14d", validate_default=True, description="Conversion window from step 1.")
    unit: Annotated[
        FunnelUnit | None,
        Cli(help="Who converts: customer or journey (default: customer when the selected journeys "
            "have customers, else journey).")
    ] = Field(None, description="customer or journey; None: customer when the selected journeys have "
              "customers, else journey (the result says which and why).")  # fmt: skip
    by: Annotated[
        FunnelBreakdown | None, Cli(help="Split by segment, channel (entry channel) or variant.")
    ] = None
    experiment: Annotated[str | None, Cli(help="Experiment, with --by variant.")] = Field(
        None, description="Experiment for by=variant."
    )
    after_exposure: Annotated[
        bool, Cli(help="With --by variant: only journeys starting at or after the customer's exposure, "
                  "of customers in one variant (as `journeylens experiment` counts them).")
    ] = Field(False, description="by=variant: journeys from each customer's exposure on only.")  # fmt: skip
    segment_trait: Annotated[str, Cli(help="Customer trait for --by segment.")] = Field(
        "segment", description="Customer trait for by=segment."
    )
    exclusions: Annotated[
        list[Exclusion],
        Cli(name="exclude", input=list[str],
            help="STEP or STEP@FROM-TO: voids attempts with it in between (repeatable)."),
    ] = Field(default_factory=list)  # fmt: skip
    top: Annotated[int, Cli(help="Next activities listed per drop-off step.")] = Field(
        5, ge=1, le=100, description="Next activities listed per drop-off step."
    )
    key: KeyField = Field(ActivityKey.touchpoint, description="Activities listed after drop-off.")
    filter: FilterField = Field(default_factory=JourneyFilter, description="Which journeys' events.")

    @field_validator("steps", mode="before")
    @classmethod
    def _parse_steps(cls, value: Any) -> Any:
        if isinstance(value, list) and len(value) > MAX_STEPS:
            raise ValueError(
                f"{len(value)} steps is more than the limit of {MAX_STEPS}: each step adds one "
                "window pass over the attempts in progress and longer charts are unreadable"
            )
        return _parse_texts(value, FunnelStep.parse)

    @field_validator("exclusions", mode="before")
    @classmethod
    def _parse_exclusions(cls, value: Any) -> Any:
        return _parse_texts(value, Exclusion.parse)

    @field_validator("window", mode="before")
    @classmethod
    def _parse_window(cls, value: Any) -> Any:
        return parse_window(value)

    @field_validator("window")
    @classmethod
    def _positive(cls, value: dt.timedelta) -> dt.timedelta:
        if value.total_seconds() <= 0:
            raise ValueError(f"the conversion window must be longer than zero (got {value})")
        # Times are compared in whole milliseconds on every engine.
        return dt.timedelta(milliseconds=max(1, round(value.total_seconds() * 1000)))

    @model_validator(mode="after")
    def _consistent(self) -> FunnelSpec:
        n = len(self.steps)
        if self.steps[0].optional:
            raise ValueError("steps: the first step cannot be optional (every attempt starts there)")
        if self.order is FunnelOrder.any and any(s.optional for s in self.steps):
            raise ValueError(
                "steps: optional steps need an order; in any order every step is already optional"
            )
        for x in self.exclusions:
            to = n if x.to_step is None else x.to_step
            if not 1 <= x.from_step < to <= n:
                raise ValueError(
                    f"exclusions: {x.label} between steps {x.from_step} and {to}: need 1 <= from < to <= {n}"
                )
            if self.order is FunnelOrder.strict:
                raise ValueError(
                    "exclusions: a strict funnel allows nothing between steps, so exclusions never apply"
                )
            if self.order is FunnelOrder.any and (x.from_step, to) != (1, n):
                raise ValueError(f"exclusions: in any order an exclusion spans the whole funnel (1-{n})")
        if self.by is FunnelBreakdown.variant and not self.experiment:
            raise ValueError("experiment: by=variant needs the experiment's name")
        if self.after_exposure and self.by is not FunnelBreakdown.variant:
            raise ValueError("after_exposure: only with by=variant (exposure is a variant's)")
        return self

    @property
    def window_seconds(self) -> float:
        return self.window.total_seconds()

    @property
    def window_ms(self) -> int:
        return round(self.window.total_seconds() * 1000)

    def exclusion_range(self, x: Exclusion) -> tuple[int, int]:
        return x.from_step, len(self.steps) if x.to_step is None else x.to_step


_HINTS = {
    "steps": "Write steps as touchpoint, channel:touchpoint, channel:*, a|b (either) or ?step (optional).",
    "window": "Use a positive duration such as 30m, 2h, 14d or 1w.",
    "exclusions": "Write exclusions as touchpoint or touchpoint@FROM-TO (1-based steps); ordered funnels "
    "take any range, any-order funnels the whole funnel, strict funnels none.",
    "experiment": "Pass --experiment NAME with --by variant.",
    "after_exposure": "Pass --after-exposure together with --by variant --experiment NAME.",
}


def _parse_texts(value: Any, parse: Callable[[str], Any]) -> Any:
    """A list's text items parsed (the CLI's syntax); objects and non-lists left to pydantic."""
    return [parse(v) if isinstance(v, str) else v for v in value] if isinstance(value, list) else value


class FunnelSpecError(InputError):
    """A funnel that cannot be computed as asked: names the field and says what would work."""

    @classmethod
    def from_validation(cls, exc: ValidationError) -> FunnelSpecError:
        # Each problem names the option as the user typed it (--window), from the spec's own
        # option metadata; the steps are the positional STEPS.
        flags = {o.path[0]: o.name.upper() if o.argument else o.flag for o in options(FunnelSpec)}
        problems, fields = [], []
        for err in exc.errors():
            loc = [str(p) for p in err["loc"] if not str(p).isdigit() and p not in ("any_of",)]
            msg = str(err["msg"]).removeprefix("Value error, ")
            field = loc[0] if loc else msg.partition(":")[0]
            fields.append(field)
            named = flags.get(field, field)
            if msg.startswith(f"{field}:"):
                problems.append(named + msg[len(field) :])
            else:
                problems.append(f"{named}: {msg}" if loc else msg)
        hint = next((_HINTS[f] for f in fields if f in _HINTS), "See `journeylens funnel --help`.")
        return cls(f"Invalid funnel: {'; '.join(problems)}.", hint=hint)

    @classmethod
    def unknown_value(cls, field: str, kind: str, value: str, vocabulary: list[str]) -> FunnelSpecError:
        near = close_matches(value, vocabulary)
        hint = (
            f"Did you mean {', '.join(repr(n) for n in near)}?"
            if near
            else (f"{len(vocabulary)} {kind}s exist; `journeylens touchpoints` lists them.")
        )
        if kind == "touchpoint" and value in CHANNELS:
            hint += f" To match every {value} event write '{value}:*'."
        return cls(f"Funnel {field}: no event has the {kind} {value!r}.", hint=hint)


def funnel_spec(**fields: Any) -> FunnelSpec:
    """Build a :class:`FunnelSpec`, turning validation failures into one :class:`FunnelSpecError`."""
    try:
        return FunnelSpec(**fields)
    except ValidationError as exc:
        raise FunnelSpecError.from_validation(exc) from None


def funnel_from_options(values: dict[str, Any]) -> FunnelSpec:
    """The funnel of flat option values (the CLI's and the workspace method's), with funnel errors.

    Example:
        >>> spec = funnel_from_options({"steps": ["home", "checkout"], "window": "2h", "type": "purchase"})
        >>> spec.window_seconds
        7200.0
    """
    return funnel_spec(**nest_options(values, options(FunnelSpec)))
