"""What ``journeylens agents`` (and ``ws.agents``) computes: the spec only.

Example:
    >>> spec = AgentsSpec(by="team")
    >>> spec.by.value, spec.repeat_days, spec.case_mix
    ('team', 7, ['journey_type', 'contact_reason', 'segment', 'channel', 'time_of_day'])
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from journeylens.analyses._options import Cli
from journeylens.specs._names import choices
from journeylens.specs.discovery import FilterField, JourneyFilter

CASE_MIX = ("journey_type", "contact_reason", "segment", "channel", "time_of_day")
"""What a contact's expected outcome is standardised for (``channel``: of the first contact;
``time_of_day``: its local hour in bands 0-8, 8-12, 12-17, 17-24)."""


class AgentsBy(StrEnum):
    agent = "agent"
    team = "team"


class AgentsSpec(BaseModel):
    """Per agent or team: contacts, first-contact resolution, repeats, transfers, scores, case-mix
    adjusted rates, and the links of engagement and training to outcomes."""

    model_config = ConfigDict(extra="forbid")

    by: Annotated[AgentsBy, Cli(help="agent or team.")] = Field(
        AgentsBy.agent, description="One row per agent or per team."
    )
    repeat_days: Annotated[
        int, Cli(help="A contact is repeated when the customer makes another one within this many days.")
    ] = Field(7, ge=1, le=365, description="Repeat-contact window in days.")
    min_contacts: Annotated[
        int, Cli(help="Agents with fewer first contacts show counts, not adjusted rates.")
    ] = Field(30, ge=1, description="Fewest first contacts for an adjusted rate and a funnel point.")
    case_mix: Annotated[
        list[str],
        Cli(
            help="What expected rates are standardised for (repeatable): journey_type, contact_reason, "
            "segment, channel, time_of_day (default: all).",
            api_type="str | list[str] | None",
        ),
    ] = Field(default_factory=lambda: list(CASE_MIX), description="Case-mix factors.")
    no_shrinkage: Annotated[
        bool, Cli(help="Skip the empirical-Bayes model (statsmodels BinomialBayesMixedGLM); O/E only.")
    ] = Field(False, description="Skip the empirical-Bayes shrinkage of agent and team effects.")
    segment_trait: str = Field("segment", description="Customer trait that names the segment.")
    filter: FilterField = Field(
        default_factory=JourneyFilter, description="Which journeys count (the next journey may be any)."
    )

    @field_validator("case_mix", mode="before")
    @classmethod
    def _factors(cls, value: Any) -> Any:
        if value is None:
            return list(CASE_MIX)
        return choices(value, CASE_MIX, "case-mix factor") or list(CASE_MIX)
