"""What ``journeylens contacts`` (and ``ws.contacts``) computes: the spec only.

Example:
    >>> spec = ContactsSpec(view="avoidable")
    >>> spec.view.value, spec.period.value
    ('avoidable', 'week')
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from journeylens._units import parse_instant
from journeylens.analyses._options import Cli
from journeylens.specs.summary import Period


class ContactsView(StrEnum):
    reasons = "reasons"
    avoidable = "avoidable"
    repeats = "repeats"
    signals = "signals"


class ContactsSpec(BaseModel):
    """Contact-centre signals: one view of the assisted contacts."""

    model_config = ConfigDict(extra="forbid")

    view: Annotated[
        ContactsView,
        Cli(help="reasons (volume, trend, resolution, cost), avoidable, repeats or signals."),
    ] = Field(ContactsView.reasons, description="Which view of the contacts.")
    period: Annotated[Period, Cli(help="day, week or month: the periods compared for the trend.")] = Field(
        Period.week, description="Calendar unit of the trend and the signals (local time)."
    )
    since: Annotated[dt.datetime | None, Cli(input=str, help="Contacts on/after (ISO date, UTC).")] = Field(
        None, description="Contacts at or after (UTC)."
    )
    until: Annotated[dt.datetime | None, Cli(input=str, help="Contacts before (ISO date, UTC).")] = Field(
        None, description="Contacts before (UTC)."
    )
    limit: Annotated[int, Cli(help="Avoidable view: at most this many touchpoints.")] = Field(
        25, ge=1, description="Most touchpoints the avoidable ranking lists."
    )

    @field_validator("since", "until", mode="before")
    @classmethod
    def _instant(cls, value: Any) -> Any:
        return parse_instant(value) if isinstance(value, str) else value
