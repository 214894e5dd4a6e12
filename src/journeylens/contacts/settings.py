"""``[voc.contacts]`` settings: where a contact's reason comes from, which department owns it, and
how avoidable and repeated contacts are read (no engine here: read at start-up).

Example (journeylens.toml)::

    [voc.contacts]
    reason_sources = ["event", "disposition", "ivr", "journey"]
    window = "72h"

    [voc.contacts.departments]
    billing = "finance"
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from journeylens._units import parse_duration

REASON_SOURCES = ("event", "disposition", "ivr", "journey")
"""Every reason source this version knows, in the default order of precedence (see
``contacts/reasons.py``). The themes of feedback text register ``theme`` there when they land."""

DEFAULT_DEPARTMENTS = {
    "billing": "billing",
    "payment": "billing",
    "delivery": "logistics",
    "technical": "product",
    "product_quality": "product",
    "usability": "web",
    "cancellation": "service",
    "promo": "marketing",
    "confusing_marketing": "marketing",
}
"""Owning department of each contact reason; a reason not listed belongs to ``service``."""
DEFAULT_DEPARTMENT = "service"


class ContactsSettings(BaseModel):
    """``[voc.contacts]``: contact-centre signals (``journeylens contacts``)."""

    model_config = ConfigDict(extra="forbid")

    reason_sources: list[str] = Field(
        default_factory=lambda: list(REASON_SOURCES),
        description="Where a contact's reason is read, first source with a value wins: event "
        "(properties.contact_reason of the contact), disposition (the agent's disposition "
        "property), ivr (the reason of the IVR menu before the contact in its journey), journey "
        "(the journey's contact_reason).",
    )
    disposition_property: str = Field(
        "disposition", description="Property of a contact event that holds the agent's disposition."
    )
    ivr_touchpoints: list[str] = Field(
        default_factory=lambda: ["ivr_menu"], description="Touchpoints that are IVR menus."
    )
    ivr_property: str = Field(
        "contact_reason", description="Property of an IVR menu event that names the option chosen."
    )
    window: str = Field(
        "72h", description="A digital touchpoint this long or less before an assisted contact precedes it."
    )
    message_channels: list[str] = Field(
        default_factory=lambda: ["sms", "email"],
        description="Channels whose messages without an agent (an SMS, an e-mail) count as digital "
        "touchpoints, besides [journeys] digital_channels.",
    )
    variant_properties: list[str] = Field(
        default_factory=lambda: ["template"],
        description="Properties that make variants of one touchpoint (a message template): each "
        "variant is ranked apart and compared with its sibling variants.",
    )
    exclude_touchpoints: list[str] = Field(
        default_factory=lambda: ["contact_form"],
        description="Digital touchpoints that are themselves a way to make contact, never a "
        "self-service attempt.",
    )
    departments: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_DEPARTMENTS),
        description=f"Owning department of each contact reason; others: {DEFAULT_DEPARTMENT}.",
    )
    examples: int = Field(3, ge=0, le=20, description="Example comments per reason in the signals.")

    @field_validator("reason_sources")
    @classmethod
    def _sources(cls, value: list[str]) -> list[str]:
        unknown = [s for s in value if s not in REASON_SOURCES]
        if unknown or not value:
            raise ValueError(
                f"unknown reason source(s) {unknown}; choose from {', '.join(REASON_SOURCES)} "
                f'(e.g. reason_sources = ["event", "ivr", "journey"])'
            )
        return list(dict.fromkeys(value))

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        if parse_duration(value) <= 0:
            raise ValueError(f'window = "{value}" must be longer than 0, e.g. "72h"')
        return value

    def department(self, reason: str) -> str:
        """The department that owns ``reason``."""
        return self.departments.get(reason, DEFAULT_DEPARTMENT)
