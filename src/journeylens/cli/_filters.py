"""Command-line options shared by the discovery commands: which journeys, which activity key."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from pydantic import ValidationError

from journeylens.discovery.selection import ActivityKey, JourneyFilter
from journeylens.errors import InputError

TypeOpt = Annotated[list[str] | None, typer.Option("--type", help="Journey type (repeatable).")]
SegmentOpt = Annotated[list[str] | None, typer.Option("--segment", help="Customer segment (repeatable).")]
ChannelOpt = Annotated[
    list[str] | None, typer.Option("--channel", help="Journeys that used this channel (repeatable).")
]
OutcomeOpt = Annotated[
    list[str] | None, typer.Option("--outcome", help="success, failed, abandoned, open (repeatable).")
]
SinceOpt = Annotated[str | None, typer.Option("--since", help="Journeys starting on/after (ISO date, UTC).")]
UntilOpt = Annotated[str | None, typer.Option("--until", help="Journeys starting before (ISO date, UTC).")]
WhereOpt = Annotated[
    list[str] | None, typer.Option("--where", help="KEY=VALUE: journeys with an event property (repeatable).")
]
KeyOpt = Annotated[
    str,
    typer.Option(
        "--key", help="Activity key: touchpoint, channel, channel:touchpoint, touchpoint+lifecycle."
    ),
]


def _date(flag: str, value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InputError.bad_flag(
            flag, value, "not an ISO date or date-time.", hint="e.g. 2024-03-01"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def activity_key(value: str) -> ActivityKey:
    try:
        return ActivityKey(value)
    except ValueError:
        raise InputError.unknown_choice("--key", value, [k.value for k in ActivityKey]) from None


def journey_filter(
    journey_type: list[str] | None = None,
    segment: list[str] | None = None,
    channel: list[str] | None = None,
    outcome: list[str] | None = None,
    since: str | None = None,
    until: str | None = None,
    where: list[str] | None = None,
) -> JourneyFilter:
    """Build the filter from the flags; a bad flag names itself and says what was expected."""
    props: dict[str, str] = {}
    for pair in where or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError.bad_flag(
                "--where", pair, "expected KEY=VALUE.", hint="e.g. --where product=loan"
            )
        props[key.strip()] = value.strip()
    try:
        return JourneyFilter(
            journey_type=journey_type or None,
            segment=segment or None,
            channel=channel or None,
            outcome=outcome or None,
            since=_date("--since", since),
            until=_date("--until", until),
            properties=props,
        )
    except ValidationError as exc:
        problem = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        raise InputError(
            f"Invalid journey filter: {problem}.", hint="See --help for the filter options."
        ) from None
