"""What ``journeylens nba`` (and ``ws.nba``) computes: the spec only.

Example:
    >>> spec = NbaSpec(customer="u42", top=2, policy="support|web=offer_chat")
    >>> spec.customer, spec.top, spec.policy
    ('u42', 2, {'support|web': 'offer_chat'})
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from journeylens.analyses._options import Cli
from journeylens.specs.discovery import FilterField, JourneyFilter


class NbaSpec(BaseModel):
    """Next best actions for customers in open journeys, the offline evaluation of logged
    decisions, and (``propose``) an experiment design for one action."""

    model_config = ConfigDict(extra="forbid")

    customer: Annotated[
        str | None, Cli(help="Only this customer's open journeys (customer_id, user_id or any linked id).")
    ] = Field(None, description="Customer whose open journeys to score (default: every open journey).")
    journey: Annotated[str | None, Cli(help="Only this open journey (journey_id).")] = Field(
        None, description="Journey to score."
    )
    actions: Annotated[
        str | None, Cli(help="Actions YAML file (default: [nba] actions in journeylens.toml).")
    ] = Field(None, description="Path of an actions YAML file: actions with name, touchpoint, channel, cost.")
    top: Annotated[int, Cli(help="Actions listed per open journey.")] = Field(
        3, ge=1, le=100, description="Recommendations per open journey."
    )
    min_evidence: Annotated[
        int, Cli(help="Fewest journeys (or logged decisions) behind an estimate for it to be ranked.")
    ] = Field(30, ge=1, description="Actions with less evidence are listed last, with the reason.")
    policy: Annotated[
        dict[str, str],
        Cli(
            help="Candidate policy to evaluate offline, STATE=ACTION pairs, comma-separated (default: the "
            "best action per state by the doubly robust estimate).",
            input=str | None,
            api_type="str | dict[str, str] | None",
        ),
    ] = Field(default_factory=dict, description="Candidate policy: state -> action.")
    propose: Annotated[
        str | None, Cli(help="Design an experiment for this action: sample size per variant (power 0.8).")
    ] = Field(None, description="Action to turn into a proposed experiment.")
    mde: Annotated[
        float | None,
        Cli(help="Minimum detectable effect for --propose, in success-rate points (0.02 = 2 points; "
            "default: the action's estimated uplift, at least 0.01)."),
    ] = Field(None, gt=0, lt=1, description="Minimum detectable effect (absolute).")  # fmt: skip
    segment_trait: str = Field("segment", description="Customer trait that names the segment.")
    filter: FilterField = Field(default_factory=JourneyFilter, description="Which journeys count.")

    @field_validator("policy", mode="before")
    @classmethod
    def _pairs(cls, value: Any) -> Any:
        if value is None:
            return {}
        if not isinstance(value, str):
            return value
        pairs: dict[str, str] = {}
        for part in (p.strip() for p in value.split(",") if p.strip()):
            state, sep, action = part.rpartition("=")
            if not sep or not state.strip() or not action.strip():
                raise ValueError(f"{part!r} is not STATE=ACTION (e.g. support|track_order=offer_chat)")
            pairs[state.strip()] = action.strip()
        return pairs
