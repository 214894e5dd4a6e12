"""What a segment or period comparison computes: cohorts, the built-in RFM rules, periods.

Specs only (pydantic, no engine), so the CLI and ``--help`` read them without importing Ibis; the
computations are in :mod:`journeylens.discovery.segments` and :mod:`journeylens.discovery.periods`.
The segment rules and cohort syntax are described in :mod:`journeylens.discovery.segments`.

Example:
    >>> parse_cohort("did:channel=chat:30d").within_days
    30
"""

from __future__ import annotations

import datetime as _dt
import re
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from journeylens._units import parse_instant
from journeylens.analyses._options import Cli
from journeylens.errors import InputError, close_matches
from journeylens.specs.discovery import FilterField, JourneyFilter

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from journeylens.store import Store

PROSPECT, FIRST_TIME, OCCASIONAL, LOYAL, LAPSED = "prospect", "first-time", "occasional", "loyal", "lapsed"
SEGMENT_ORDER = (PROSPECT, FIRST_TIME, OCCASIONAL, LOYAL, LAPSED)
UNKNOWN, OTHERS = "(unknown)", "others"
COHORT_HELP = (
    "builtin (RFM: prospect, first-time, occasional, loyal[, lapsed]) | trait:NAME | trait:NAME=VALUE | "
    "did:channel=VALUE[:30d][:2x] | did:touchpoint=VALUE[:30d][:2x]. Default: builtin."
)
METRIC_HELP = (
    "Metric to compare (repeatable). Default: what the data defines: success, leakage, duration_s, "
    "cost_to_serve where journey types define success or failure; purchases, value, recency_days, "
    "frequency for purchase data; else duration_s, touchpoints."
)
COHORT_SYNTAX = (
    "builtin | trait:NAME | trait:NAME=VALUE | did:channel=VALUE[:30d][:2x] | did:touchpoint=VALUE[:30d][:2x]"
)


class PurchaseSource(StrEnum):
    """What counts as one purchase."""

    journeys = "journeys"
    events = "events"


class RfmRules(BaseModel):
    """The built-in first-time / loyal / occasional rule (see the module docstring).

    Example:
        >>> RfmRules(loyal_min_purchases=4, loyal_within_days=60).loyal_within_days
        60
    """

    model_config = ConfigDict(extra="forbid")

    purchases: Annotated[
        PurchaseSource | None,
        Cli(
            help="builtin: what is a purchase — journeys (successful purchase journeys) or events "
            "(value > 0). Default: journeys when some purchase journey succeeded, else events."
        ),
    ] = Field(
        None,
        description="journeys: successful journeys of purchase_types; events: events with value > 0; "
        "None: journeys when any of purchase_types succeeded, else events (the result says which).",
    )
    purchase_types: Annotated[
        list[str], Cli(name="purchase_type", help="builtin: purchase journey type(s).")
    ] = Field(
        default_factory=lambda: ["purchase"], min_length=1, description="Journey types that are purchases."
    )
    loyal_min_purchases: Annotated[
        int, Cli(name="loyal_min", help="builtin: purchases a loyal customer has at least.")
    ] = Field(3, ge=2, description="Purchases a loyal customer has made at least.")
    loyal_within_days: Annotated[
        int, Cli(name="loyal_days", help="builtin: a loyal customer bought within these days.")
    ] = Field(90, ge=1, description="A loyal customer's last purchase is this recent.")
    lapsed_after_days: Annotated[
        int | None,
        Cli(name="lapsed_days", help="builtin: purchasers silent for longer are lapsed (default: off)."),
    ] = Field(None, ge=1, description="Purchasers silent for longer are lapsed (None: no lapsed segment).")

    @model_validator(mode="after")
    def _lapse_after_loyalty(self) -> RfmRules:
        if self.lapsed_after_days is not None and self.lapsed_after_days <= self.loyal_within_days:
            raise ValueError(
                f"lapsed_after_days ({self.lapsed_after_days}) must exceed loyal_within_days "
                f"({self.loyal_within_days}), or no customer could be loyal"
            )
        return self


# --- cohorts -----------------------------------------------------------------------------------


class BuiltinCohort(BaseModel):
    """The built-in RFM segments."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["builtin"] = "builtin"
    rules: RfmRules = Field(default_factory=RfmRules)

    @property
    def outside(self) -> str:
        return UNKNOWN

    def text(self) -> str:
        return "builtin"

    def order(self, labels: list[str]) -> list[str]:
        return sorted(labels, key=lambda s: (SEGMENT_ORDER.index(s) if s in SEGMENT_ORDER else 99, s))

    def members(self, store: Store, ref: _dt.datetime) -> ir.Table:
        from journeylens.discovery.segments import builtin_members

        return builtin_members(self, store, ref)


class TraitCohort(BaseModel):
    """One segment per value of a customer trait, or one value against the others."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["trait"] = "trait"
    trait: str = Field(min_length=1)
    value: str | None = None

    @property
    def outside(self) -> str:
        return UNKNOWN if self.value is None else OTHERS

    def text(self) -> str:
        return f"trait:{self.trait}" + ("" if self.value is None else f"={self.value}")

    def order(self, labels: list[str]) -> list[str]:
        return sorted(labels, key=lambda s: (s in (UNKNOWN, OTHERS), s))

    def members(self, store: Store, ref: _dt.datetime) -> ir.Table:
        from journeylens.discovery.segments import trait_members

        return trait_members(self, store, ref)


class BehaviourCohort(BaseModel):
    """Customers who used a channel or touchpoint (at least ``min_count`` times, recently)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["did"] = "did"
    field: Literal["channel", "touchpoint"]
    value: str = Field(min_length=1)
    within_days: int | None = Field(None, ge=1, description="Days up to the reference date (None: all).")
    min_count: int = Field(1, ge=1)

    @property
    def outside(self) -> str:
        return OTHERS

    def text(self) -> str:
        window = "" if self.within_days is None else f":{self.within_days}d"
        times = "" if self.min_count == 1 else f":{self.min_count}x"
        return f"did:{self.field}={self.value}{window}{times}"

    def order(self, labels: list[str]) -> list[str]:
        return sorted(labels, key=lambda s: (s == OTHERS, s))

    def members(self, store: Store, ref: _dt.datetime) -> ir.Table:
        from journeylens.discovery.segments import behaviour_members

        return behaviour_members(self, store, ref)


Cohort = Annotated[BuiltinCohort | TraitCohort | BehaviourCohort, Field(discriminator="kind")]
_FLAG = re.compile(r"^(?:(?P<days>[0-9]+)d|(?P<times>[0-9]+)x)$")


def parse_cohort(text: str) -> BuiltinCohort | TraitCohort | BehaviourCohort:
    """A cohort from its string form (the CLI's ``--cohort``).

    Example:
        >>> parse_cohort("did:channel=chat:30d").within_days
        30
        >>> parse_cohort("trait:segment=premium").value
        'premium'
    """
    kind, _, rest = text.strip().partition(":")
    if kind in ("builtin", "rfm"):
        if rest:
            raise _bad_cohort(text, "builtin takes no arguments")
        return BuiltinCohort()
    if kind == "trait":
        name, sep, value = rest.partition("=")
        if not name.strip() or (sep and not value.strip()):
            raise _bad_cohort(text, "expected trait:NAME or trait:NAME=VALUE")
        return TraitCohort(trait=name.strip(), value=value.strip() if sep else None)
    if kind == "did":
        target, *flags = rest.split(":")
        field, sep, value = target.partition("=")
        if field not in ("channel", "touchpoint"):
            near = close_matches(field, ["channel", "touchpoint"])
            guess = f" (did you mean {near[0]!r}?)" if near else ""
            raise _bad_cohort(text, f"{field!r} is not channel or touchpoint{guess}")
        if not sep or not value.strip():
            raise _bad_cohort(text, f"expected did:{field}=VALUE")
        days, times = _did_flags(text, flags)
        on: Literal["channel", "touchpoint"] = "channel" if field == "channel" else "touchpoint"
        return BehaviourCohort(field=on, value=value.strip(), within_days=days, min_count=times)
    near = close_matches(kind, ["builtin", "trait", "did"])
    raise _bad_cohort(text, f"unknown kind {kind!r}" + (f" (did you mean {near[0]!r}?)" if near else ""))


def _did_flags(text: str, flags: list[str]) -> tuple[int | None, int]:
    days: int | None = None
    times = 1
    for flag in flags:
        match = _FLAG.match(flag.strip())
        if match is None:
            raise _bad_cohort(text, f"{flag!r} is neither a window (30d) nor a count (2x)")
        if match["days"] is not None:
            days = int(match["days"])
        else:
            times = int(match["times"])
        if (days is not None and days < 1) or times < 1:
            raise _bad_cohort(text, "a window and a count must be at least 1")
    return days, times


def _bad_cohort(text: str, problem: str) -> InputError:
    return InputError(
        f"Cohort {text!r}: {problem}.",
        hint=f"Write one of {COHORT_SYNTAX}, e.g. did:channel=chat:30d or trait:segment=premium.",
    )


class SegmentComparisonSpec(BaseModel):
    """What :func:`compare_segments` computes; the CLI builds the same spec.

    ``baseline``: ``rest`` (each segment against all other journeys), ``first`` (against the
    first segment in display order), ``pairs`` (every pair) or a segment's name.
    """

    model_config = ConfigDict(extra="forbid")

    cohort: Annotated[Cohort, Cli(input=str, help=COHORT_HELP)] = Field(default_factory=BuiltinCohort)
    metrics: Annotated[list[str] | None, Cli(name="metric", short="-m", help=METRIC_HELP)] = Field(
        None,
        description="Metrics to compare; None: the ones the selected journeys define (the result "
        "says which and why).",
    )
    baseline: Annotated[
        str, Cli(help="rest (each segment vs all others), first, pairs (every pair), or a segment name.")
    ] = "rest"
    as_of: Annotated[
        _dt.datetime | None, Cli(input=str, help="Reference date of the cohorts (default: latest event).")
    ] = Field(None, description="Reference date (default: the latest event).")
    filter: FilterField = Field(default_factory=JourneyFilter)

    @field_validator("as_of", mode="before")
    @classmethod
    def _instant(cls, value: Any) -> Any:
        return parse_instant(value) if isinstance(value, str) else value


# --- periods -----------------------------------------------------------------------------------


class TimeRange(BaseModel):
    """A period of journey starts: ``start`` inclusive, ``end`` exclusive (UTC if naive)."""

    model_config = ConfigDict(extra="forbid")

    start: _dt.datetime
    end: _dt.datetime

    @model_validator(mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        """``2024-01-01:2024-02-01`` (dates) or ``START..END`` (ISO date-times); end exclusive."""
        if not isinstance(value, str):
            return value
        start, _, end = value.partition("..") if ".." in value else value.partition(":")
        try:
            return {
                "start": _dt.datetime.fromisoformat(start.strip()),
                "end": _dt.datetime.fromisoformat(end.strip()),
            }
        except ValueError:
            raise ValueError("not a period: expected START:END (ISO dates)") from None

    @model_validator(mode="after")
    def _ordered(self) -> TimeRange:
        self.start, self.end = _aware(self.start), _aware(self.end)
        if self.start >= self.end:
            raise ValueError(
                f"period {self.label()} is reversed or empty: its start must come before its end"
            )
        return self

    @classmethod
    def parse(cls, text: str, flag: str = "period") -> TimeRange:
        """A period from its text form; a bad one is an :class:`InputError` naming ``flag``.

        Example:
            >>> TimeRange.parse("2024-01-01:2024-02-01").label()
            '2024-01-01..2024-02-01'
        """
        hint = "Write 2024-01-01:2024-02-01 (end exclusive) or 2024-01-01T08:00..2024-01-02T08:00."
        try:
            return cls.model_validate(text)
        except ValidationError as exc:
            raise InputError.bad_flag(flag, text, problem_text(exc) + ".", hint=hint) from None

    def overlaps(self, other: TimeRange) -> bool:
        return self.start < other.end and other.start < self.end

    def label(self) -> str:
        def show(moment: _dt.datetime) -> str:
            return moment.strftime("%Y-%m-%d" if moment.time() == _dt.time() else "%Y-%m-%dT%H:%M")

        return f"{show(self.start)}..{show(self.end)}"


def _aware(moment: _dt.datetime) -> _dt.datetime:
    return moment.astimezone(_dt.UTC) if moment.tzinfo else moment.replace(tzinfo=_dt.UTC)


def problem_text(exc: ValidationError) -> str:
    return "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())


class PeriodComparisonSpec(BaseModel):
    """Journey metrics in period B against period A (journeys by their start).

    Example:
        >>> spec = PeriodComparisonSpec(period_a="2024-01-01:2024-02-01", period_b="2024-02-01:2024-03-01")
        >>> spec.period_b.label()
        '2024-02-01..2024-03-01'
    """

    model_config = ConfigDict(extra="forbid")

    metrics: Annotated[list[str] | None, Cli(name="metric", short="-m", help=METRIC_HELP)] = Field(
        None,
        description="Metrics to compare; None: the ones the selected journeys define (the result "
        "says which and why).",
    )
    period_a: Annotated[TimeRange, Cli(input=str, help="Baseline period: START:END.")]
    period_b: Annotated[TimeRange, Cli(input=str, help="START:END (dates, end exclusive) or START..END.")]
    filter: FilterField = Field(default_factory=JourneyFilter)

    @model_validator(mode="after")
    def _apart(self) -> PeriodComparisonSpec:
        if self.period_a.overlaps(self.period_b):
            raise ValueError(
                f"periods {self.period_a.label()} and {self.period_b.label()} overlap; a journey "
                "would count in both"
            )
        return self


# --- the segments command: cohorts, or two periods ---------------------------------------------

_RULE_OPTIONS = ("purchases", "purchase_type", "loyal_min", "loyal_days", "lapsed_days")


def comparison_spec(values: dict[str, Any]) -> SegmentComparisonSpec | PeriodComparisonSpec:
    """The spec ``journeylens segments`` (and ``ws.segments``) asks for, from flat option values:
    two periods (``period_a``/``period_b``) compare periods, anything else compares segments.

    Example:
        >>> spec = comparison_spec({"period_a": "2024-01-01:2024-02-01", "period_b": "2024-02-01:2024-03-01"})
        >>> type(spec).__name__
        'PeriodComparisonSpec'
    """
    from journeylens.analyses._build import validate

    given = {k: v for k, v in values.items() if v not in (None, [], ())}
    if "period_a" in given or "period_b" in given:
        if "period_a" not in given or "period_b" not in given:
            raise InputError(
                "Comparing periods needs both --period-a and --period-b.",
                hint="e.g. --period-a 2024-01-01:2024-02-01 --period-b 2024-02-01:2024-03-01",
            )
        if "cohort" in given:
            raise InputError(
                "Give either --cohort or two periods, not both.",
                hint="Filter the journeys with --segment to compare periods within a segment.",
            )
        return validate(PeriodComparisonSpec, given, "segments")
    cohort = given.pop("cohort", "builtin")
    chosen = parse_cohort(cohort) if isinstance(cohort, str) else cohort
    rules = validate(RfmRules, {k: given.pop(k) for k in _RULE_OPTIONS if k in given}, "segments")
    if isinstance(chosen, BuiltinCohort):
        chosen = BuiltinCohort(rules=rules)
    elif rules != RfmRules():
        raise InputError(
            "--purchases, --purchase-type, --loyal-min, --loyal-days and --lapsed-days "
            "apply to --cohort builtin only.",
            hint="Drop them, or use --cohort builtin.",
        )
    spec = validate(SegmentComparisonSpec, given, "segments")
    return spec.model_copy(update={"cohort": chosen})
