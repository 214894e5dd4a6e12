"""Journey types as data: ``[journeys]`` in journeylens.toml.

A journey type says which events can open it (``start``), what success and failure look like,
how long a customer may go quiet before the journey is over (``inactivity_gap``), how long it may
last at most (``max_duration``) and which type wins when several claim the same events
(``priority``, 1 = first). The defaults cover purchase, support and information journeys of a
retailer with a contact centre; declaring ``[journeys.types.*]`` replaces them.

Example (journeylens.toml)::

    [journeys.types.support]
    priority = 1
    inactivity_gap = "48h"
    max_duration = "21d"
    resolved_without_repeat = true
    self_service_without_repeat = true
    start.touchpoints = ["billing_faq", "track_order", "ivr_menu"]
    start.contact_reasons = ["billing", "delivery"]
    success.touchpoints = ["ticket_resolved"]
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from journeylens._units import parse_duration
from journeylens.errors import ConfigError, close_matches
from journeylens.journeys.evidence import FeedbackEvidence
from journeylens.store.names import CHANNELS

if TYPE_CHECKING:
    import ibis.expr.types as ir


def seconds(duration: str) -> int:
    """Whole seconds in a duration such as ``"90m"``, ``"48h"`` or ``"21d"`` (see :func:`parse_duration`)."""
    value = parse_duration(duration)
    if value < 0:
        raise ValueError(f"{duration!r} is negative; durations in journey rules are 0 or more")
    return int(value)


def _check_duration(value: str) -> str:
    seconds(value)
    return value.strip()


class Criteria(BaseModel):
    """Events that match: any listed touchpoint, channel, contact reason or property value.

    Lists are alternatives (OR); an empty criteria matches nothing. ``contact_reasons`` reads
    ``properties.contact_reason``; ``properties`` maps a property name to accepted values.
    """

    model_config = ConfigDict(extra="forbid")

    touchpoints: list[str] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=list)
    contact_reasons: list[str] = Field(default_factory=list)
    properties: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("channels")
    @classmethod
    def _canonical_channels(cls, value: list[str]) -> list[str]:
        for channel in value:
            if channel not in CHANNELS:
                near = close_matches(channel, CHANNELS)
                raise ValueError(
                    f"unknown channel {channel!r}"
                    + (f" (did you mean {', '.join(repr(n) for n in near)}?)" if near else "")
                    + f"; channels are {', '.join(CHANNELS)}"
                )
        return value

    def is_empty(self) -> bool:
        return not (self.touchpoints or self.channels or self.contact_reasons or self.properties)

    def property_names(self) -> list[str]:
        """The event properties these criteria read."""
        return (["contact_reason"] if self.contact_reasons else []) + list(self.properties)

    def matches(
        self, events: ir.Table, prop: Callable[[str], ir.StringValue] | None = None
    ) -> ir.BooleanValue:
        """A boolean column: does each event meet the criteria (never NULL).

        ``prop(name)`` gives a property's text; by default it is read from the ``properties``
        JSON each time (pass already extracted columns when several criteria read one property).
        """
        import ibis  # the settings are read without the engine; matching needs it

        from journeylens.store._backend import json_text

        text = prop or (lambda name: json_text(events.properties, name))
        terms: list[ir.BooleanValue] = []
        if self.touchpoints:
            terms.append(events.touchpoint.isin(self.touchpoints))
        if self.channels:
            terms.append(events.channel.isin(self.channels))
        if self.contact_reasons:
            terms.append(text("contact_reason").isin(self.contact_reasons))
        for name, values in self.properties.items():
            terms.append(text(name).isin(values))
        if not terms:
            return ibis.literal(False)
        return ibis.or_(*(term.fill_null(False) for term in terms))


class JourneyType(BaseModel):
    """One ``[journeys.types.NAME]`` table."""

    model_config = ConfigDict(extra="forbid")

    priority: int = Field(ge=1, description="1 wins over 2 when both claim a journey.")
    start: Criteria = Field(description="Events that can open a journey of this type.")
    success: Criteria = Field(default_factory=Criteria)
    failure: Criteria = Field(default_factory=Criteria)
    inactivity_gap: str = Field(
        "24h",
        description="Quiet time after which the journey is over. Quiet means no event of the "
        "customer's: messages the company sends that no type claims (a delivery update, a survey "
        "invitation) join the journey but do not keep it going.",
    )
    max_duration: str = Field(
        "14d",
        description="Follow-up messages join within this time of the previous event; a journey "
        "without a case is cut into windows of this length.",
    )
    resume: Criteria = Field(
        default_factory=Criteria,
        description="Start events that resume a journey of this type after up to `resume_gap` of "
        "quiet (instead of `inactivity_gap`): a return straight to a product page or the cart "
        "continues the purchase being considered.",
    )
    resume_gap: str = Field(
        "48h", description="Quiet time after which even a `resume` event opens a new journey."
    )
    resolved_without_repeat: bool = Field(
        False,
        description="A journey with an assisted contact and no repeat journey of this type within "
        "the repeat window counts as success (the contact-centre convention for journeys that have "
        "no explicit 'resolved' event).",
    )
    self_service_without_repeat: bool = Field(
        False,
        description="A journey without any assisted contact and no repeat journey of this type (on "
        "any channel) within the repeat window counts as success: the customer solved it alone.",
    )
    repeat_window: str | None = Field(
        None,
        description="This type's repeat window ([journeys] repeat_window when not set): a journey "
        "of the type within it after the last one is a repeat.",
    )

    _check_gap = field_validator("inactivity_gap", "max_duration", "resume_gap")(_check_duration)

    @field_validator("repeat_window")
    @classmethod
    def _check_repeat(cls, value: str | None) -> str | None:
        return None if value is None else _check_duration(value)

    def defines_outcome(self) -> bool:
        """True when success or failure can be told: criteria, or success without a repeat.

        A type without them has outcome ``unknown``: nothing in the data says how it ended.
        """
        return not (self.success.is_empty() and self.failure.is_empty()) or self.infers_success()

    def infers_success(self) -> bool:
        """True when the type reads success from the absence of a repeat journey."""
        return self.resolved_without_repeat or self.self_service_without_repeat

    @model_validator(mode="after")
    def _sensible(self) -> JourneyType:
        if self.start.is_empty():
            raise ValueError("start criteria are empty: list touchpoints, channels or contact reasons")
        if seconds(self.inactivity_gap) > seconds(self.max_duration):
            raise ValueError(
                f"inactivity_gap {self.inactivity_gap} is longer than max_duration {self.max_duration}"
            )
        both = sorted(set(self.success.touchpoints) & set(self.failure.touchpoints))
        if both:
            raise ValueError(
                f"touchpoint(s) {both} are both success and failure: an event cannot say both; "
                "keep each in one of success.touchpoints and failure.touchpoints"
            )
        if not self.resume.is_empty() and not (
            seconds(self.inactivity_gap) <= seconds(self.resume_gap) <= seconds(self.max_duration)
        ):
            raise ValueError(
                f"resume_gap {self.resume_gap} must lie between inactivity_gap {self.inactivity_gap} "
                f"and max_duration {self.max_duration}"
            )
        return self


_SUPPORT_PAGES = [
    "billing_faq", "my_invoices", "invoice_download", "billing_settings", "track_order",
    "delivery_faq", "order_status", "troubleshooting_guide", "help_article", "service_status",
    "device_settings", "my_account", "cancel_subscription", "retention_offer", "contact_form",
    "social_dm",
]  # fmt: skip
# Entry points of the contact centre serve every intent: they take the intent of what follows.
_SHARED_ENTRIES = ["ivr_menu", "chatbot"]
_SHARED_BROWSING = ["home", "product_page", "promo_newsletter", "email_click"]


def default_types() -> dict[str, JourneyType]:
    """Purchase, support and information journeys (the synthetic world follows these)."""
    return {
        "support": JourneyType(
            priority=1,
            start=Criteria(
                touchpoints=_SUPPORT_PAGES + _SHARED_ENTRIES,
                contact_reasons=["billing", "delivery", "technical", "cancellation"],
            ),
            success=Criteria(touchpoints=["ticket_resolved"]),
            inactivity_gap="48h",
            max_duration="21d",
            resolved_without_repeat=True,
            self_service_without_repeat=True,
        ),
        "purchase": JourneyType(
            priority=2,
            start=Criteria(
                touchpoints=[
                    "search",
                    "category_page",
                    "product_reviews",
                    "add_to_cart",
                    "social_ad_click",
                    *_SHARED_BROWSING,
                    *_SHARED_ENTRIES,
                ],
                contact_reasons=["payment"],
            ),
            success=Criteria(touchpoints=["order_confirmation"]),
            failure=Criteria(touchpoints=["payment_error"]),
            inactivity_gap="24h",
            max_duration="10d",
            # Coming back straight to a product or the cart (a saved item, a "recently viewed"
            # link) continues the consideration; arriving from the home page, a search or a
            # campaign after a day's quiet starts a new purchase journey.
            resume=Criteria(touchpoints=["product_page", "product_reviews", "add_to_cart"]),
            resume_gap="48h",
        ),
        "information": JourneyType(
            priority=3,
            start=Criteria(
                touchpoints=[
                    "faq",
                    "pricing",
                    "opening_hours",
                    "store_locator",
                    "blog_article",
                    "newsletter_signup",
                    "promo_terms",
                    "social_comment",
                    "store_visit",
                    "kiosk_product_lookup",
                    *_SHARED_BROWSING,
                    *_SHARED_ENTRIES,
                ],
                contact_reasons=["promo"],
            ),
            success=Criteria(
                touchpoints=[
                    "faq",
                    "pricing",
                    "opening_hours",
                    "store_locator",
                    "promo_terms",
                    "store_visit",
                    "newsletter_signup",
                    "blog_article",
                ],
            ),
            inactivity_gap="24h",
            max_duration="7d",
            # Looking up the store online, then going there within a few days: one journey.
            resume=Criteria(touchpoints=["store_visit", "kiosk_product_lookup"]),
            resume_gap="72h",
        ),
    }


EXAMPLE_COSTS = {
    "call_center": 6.5, "chat": 3.2, "whatsapp": 2.8, "email": 4.0, "social": 3.5, "store": 9.0,
    "mail": 5.0, "sms": 0.1, "web": 0.02, "app": 0.02,
}  # fmt: skip
"""Costs per contact of a retailer's contact centre: ``journeylens init`` writes them as a commented
example, and the demo workspace sets them. No workspace is priced until it sets ``[journeys.costs]``."""


class JourneyRules(BaseModel):
    """``[journeys]`` in journeylens.toml."""

    model_config = ConfigDict(extra="forbid")

    types: dict[str, JourneyType] = Field(default_factory=default_types)
    lookahead: str = Field(
        "12h", description="A start event no single type claims (IVR menu, home page) takes the "
        "intent of the first later event that has one, within this time."
    )  # fmt: skip
    outbound_lookahead: str = Field(
        "24h", description="The same for a start event the company sent (direction outbound: a "
        "newsletter): the customer's answer may come a day later, and the message belongs to it."
    )  # fmt: skip
    case_lookahead: str = Field(
        "1h",
        description="A start event without a case takes the case of the next event within "
        "this time (the IVR menu before the call that opened a ticket).",
    )
    switch_gap: str = Field(
        "1h", description="A start event of another type after this much quiet (no event of the "
        "customer's) opens a new journey."
    )  # fmt: skip
    neutral_gap: str = Field(
        "24h", description="Quiet time (no event of the customer's) after which an event no "
        "single type claims opens a journey."
    )  # fmt: skip
    repeat_window: str = Field(
        "7d", description="A contact on the same journey type within this time is a repeat contact."
    )
    repeat_by_reason: bool = Field(
        True,
        description="A later journey that states a different contact reason (properties."
        "contact_reason) is a new issue, not a repeat; journeys without a stated reason repeat any.",
    )
    transfer_window: str = Field(
        "15m", description="A different agent within this time of the previous one is a transfer."
    )
    digital_channels: list[str] = Field(default_factory=lambda: ["web", "app"])
    assisted_channels: list[str] = Field(
        default_factory=lambda: ["call_center", "chat", "whatsapp", "social", "email", "store"],
        description="Channels whose agent-handled events are assisted contacts.",
    )
    feedback: FeedbackEvidence = Field(
        default_factory=FeedbackEvidence,
        description="When negative feedback overrides a success inferred from 'no repeat'.",
    )
    costs: dict[str, float] = Field(
        default_factory=dict,
        description="Cost of one assisted contact by channel (other channels: per event). Empty: "
        "cost to serve is not defined (never priced by assumed costs); channels not listed cost 0.",
    )

    _check_durations = field_validator(
        "lookahead", "outbound_lookahead", "case_lookahead", "switch_gap", "neutral_gap",
        "repeat_window", "transfer_window",
    )(_check_duration)  # fmt: skip

    @field_validator("digital_channels", "assisted_channels")
    @classmethod
    def _channels(cls, value: list[str]) -> list[str]:
        return Criteria(channels=value).channels

    @field_validator("costs")
    @classmethod
    def _cost_channels(cls, value: dict[str, float]) -> dict[str, float]:
        Criteria(channels=list(value))
        if any(cost < 0 for cost in value.values()):
            raise ValueError("costs cannot be negative")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> JourneyRules:
        if not self.types:
            raise ValueError("declare at least one journey type under [journeys.types]")
        names = [name for name in self.types if not re.fullmatch(r"[a-z][a-z0-9_]*", name)]
        if names:
            raise ValueError(f"journey type names must be lower_snake_case: {names}")
        if "other" in self.types:
            raise ValueError("'other' is reserved for journeys no type claims")
        priorities = sorted(t.priority for t in self.types.values())
        if len(set(priorities)) != len(priorities):
            raise ValueError(f"two journey types share a priority ({priorities}); make them distinct")
        both = sorted(set(self.digital_channels) & set(self.assisted_channels))
        if both:
            raise ValueError(f"channel(s) {both} are both digital and assisted; keep each in one")
        for name, jt in self.types.items():
            if jt.infers_success() and seconds(self.repeat_window_of(name)) == 0:
                rule = (
                    "self_service_without_repeat"
                    if jt.self_service_without_repeat
                    else "resolved_without_repeat"
                )
                raise ValueError(
                    f"journey type {name!r} sets {rule} but its repeat window is 0, so no repeat can "
                    f'ever be seen; set [journeys.types.{name}] repeat_window = "7d" (or [journeys] '
                    f"repeat_window), or drop {rule}"
                )
        return self

    def repeat_window_of(self, name: str) -> str:
        """The repeat window of journey type ``name`` (its own, else ``[journeys] repeat_window``)."""
        jt = self.types.get(name)
        return jt.repeat_window if jt is not None and jt.repeat_window is not None else self.repeat_window

    def priced(self) -> bool:
        """True when the workspace sets ``[journeys.costs]`` (else cost to serve is not defined)."""
        return bool(self.costs)

    def ranked(self) -> list[tuple[str, JourneyType]]:
        """Types from the highest priority (1) down."""
        return sorted(self.types.items(), key=lambda item: item[1].priority)

    def declared(self) -> bool:
        """True when journeylens.toml declares its own types (then they are checked strictly)."""
        return "types" in self.model_fields_set

    def check_vocabulary(self, touchpoints: set[str], source: str = "journeylens.toml") -> None:
        """Fail on a declared start/success/failure touchpoint that no event has.

        Args:
            touchpoints: the touchpoints present in the events.
            source: where the definitions came from (named in the error).
        """
        if not self.declared() or not touchpoints:
            return
        for name, jt in self.ranked():
            for part in ("start", "success", "failure", "resume"):
                criteria: Criteria = getattr(jt, part)
                for tp in criteria.touchpoints:
                    if tp not in touchpoints:
                        near = close_matches(tp, touchpoints)
                        raise ConfigError.invalid(
                            Path(source),
                            f"journeys.types.{name}.{part}.touchpoints",
                            f"touchpoint {tp!r} does not occur in the events",
                            hint=(f"Did you mean {', '.join(repr(n) for n in near)}? " if near else "")
                            + "List touchpoints as they appear in `journeylens status` / the events.",
                        )
