"""The numbers that drive the synthetic world, kept in one place so the ground truth can cite them.

Every planted effect (friction causes, the experiment, agent skill) is a frozen dataclass here.
``world.py`` writes them verbatim into ``ground_truth.json``; the simulators read the same
objects, so the documented truth and the generated behaviour cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SegmentBehaviour:
    """How one customer segment behaves over a 120-day window."""

    share: float
    journeys_per_120_days: float
    journey_mix: tuple[float, float, float]
    """Probability of purchase, support and information for a journey."""
    purchase_conversion: float
    """P(order) of a purchase journey in the control variant without a payment error."""
    app_share: float
    """Probability that a customer's primary device is the app."""
    order_value_median: float
    marketing_opt_in: float


SEGMENT_BEHAVIOUR: tuple[SegmentBehaviour, ...] = (
    # first_time: new customers, few journeys, often browsing, low conversion
    SegmentBehaviour(0.35, 2.2, (0.50, 0.15, 0.35), 0.20, 0.25, 45.0, 0.55),
    # loyal: frequent, app-heavy, convert well
    SegmentBehaviour(0.25, 11.0, (0.50, 0.30, 0.20), 0.42, 0.60, 75.0, 0.80),
    # occasional: in between
    SegmentBehaviour(0.40, 4.5, (0.40, 0.30, 0.30), 0.28, 0.35, 60.0, 0.60),
)

SEGMENT_DESCRIPTION = (
    "Each customer is drawn independently into first_time / loyal / occasional with the shares "
    "below (numpy Generator seeded by (seed, chunk)). The segment sets the journey frequency "
    "(Poisson number of journeys per window, first_time customers have at least one), the mix "
    "of journey types, the purchase conversion, the primary device (app vs web), the order "
    "value and marketing opt-in. first_time customers sign up during the window (their "
    "signup_date is their first identified event); the others signed up between 2019 and 2025."
)

CHECKOUT_MARGIN = 0.14
"""P(reach checkout) - P(order): checkout abandoners; must exceed the experiment effect."""
CART_MARGIN = 0.22
"""P(add to cart) - P(reach checkout)."""
HOUSEHOLD_SHARE = 0.06
"""Share of customers that lead a household sharing a family tablet with 1-2 others."""
KIOSK_USER_SHARE = 0.015
"""Share of customers who use an in-store kiosk (its anonymous_id is shared by all of them)."""
KIOSKS = 2
DEFAULT_NUMBER_SHARE = 0.025
"""Share of customers on whom agents recorded the call-centre's own number as their phone."""
PHONELESS_SHARE = 0.1


@dataclass(frozen=True)
class BillingFaqFriction:
    """Cause 1: the web billing FAQ does not answer the question and sends people to the phone."""

    channel: str = "web"
    touchpoint: str = "billing_faq"
    landing_share: float = 0.7
    """Share of web billing self-service attempts that start on the billing FAQ."""
    call_probability: float = 0.6
    """P(inbound call within 48 h | billing FAQ visited), against ~0.2 for other help pages."""
    call_delay_median_hours: float = 3.0
    call_delay_max_hours: float = 30.0
    """Calls are drawn within this delay, then moved into opening hours (still < 48 h)."""
    self_service_resolution: float = 0.1
    """P(resolved without contact | billing FAQ visited and no call)."""


@dataclass(frozen=True)
class PaymentErrorFriction:
    """Cause 2: an app payment error at checkout causes abandonment or a call."""

    channel: str = "app"
    touchpoint: str = "payment_error"
    rate_on_app_checkout: float = 0.2
    conversion_penalty: float = 0.25
    """Absolute drop in P(order) of the journey when the error happens."""
    retry_share_of_orders: float = 0.55
    """Orders that still happen: share retried in the app; the rest are placed by phone."""
    call_share_of_abandoners: float = 0.45
    """Journeys lost to the error: share that call (payment_call) before giving up."""


@dataclass(frozen=True)
class DeliverySmsFriction:
    """Cause 3: one carrier's delivery SMS has no tracking link, so more delivery problems."""

    channel: str = "sms"
    touchpoint: str = "delivery_update"
    carrier_share: dict[str, float] = field(default_factory=lambda: {"parcelnet": 0.6, "swiftpost": 0.4})
    delivery_problem_probability: dict[str, float] = field(
        default_factory=lambda: {"parcelnet": 0.04, "swiftpost": 0.16}
    )
    """P(a delivery_problem support journey follows an order), by carrier."""


@dataclass(frozen=True)
class CheckoutOutageFriction:
    """Cause 4, switched on mid-window: a new payment provider fails some checkouts.

    From ``start_day`` on (days since the window start, by a journey's planned start), P(order)
    of every purchase journey drops by ``conversion_penalty``: checkouts that would have ordered
    now end at checkout. The uniform draw that decides conversion is reused, so the purchase
    simulation draws no extra random number (fewer orders do mean fewer delivery-problem follow-ups,
    which shifts the draws of the support journeys simulated after them). A living map of purchase
    journeys should see conversion at its checkout stage fall (``journeylens map monitor``).
    """

    stage: str = "checkout"
    touchpoint: str = "checkout"
    channels: tuple[str, ...] = ("web", "app")
    start_day: int = 75
    conversion_penalty: float = 0.1


BILLING_FAQ = BillingFaqFriction()
PAYMENT_ERROR = PaymentErrorFriction()
DELIVERY_SMS = DeliverySmsFriction()
CHECKOUT_OUTAGE = CheckoutOutageFriction()


@dataclass(frozen=True)
class Experiment:
    """The A/B test planted in the world."""

    name: str = "checkout_redesign"
    variants: tuple[str, str] = ("control", "treatment")
    treatment_share: float = 0.5
    unit: str = "user_id"
    metric: str = "purchase_journey_conversion"
    metric_definition: str = (
        "Share of purchase journeys that end in an order (an event with value > 0), over the "
        "purchase journeys of assigned users; every purchase journey follows the assignment."
    )
    effect_absolute: float = 0.03
    """Added to P(order) of every purchase journey of treated users (no clipping occurs)."""


EXPERIMENT = Experiment()


@dataclass(frozen=True)
class Team:
    """An agent team: which contacts it takes and how good it is."""

    name: str
    group: str
    """``voice`` (call centre) or ``messaging`` (chat, WhatsApp, e-mail)."""
    site: str
    agents: int
    skill: float
    """Mean agent skill in [0, 1]; individual skill = team skill + N(0, 0.06)."""


TEAMS: tuple[Team, ...] = (
    Team("voice_amsterdam", "voice", "Amsterdam", 40, 0.80),
    Team("voice_eindhoven", "voice", "Eindhoven", 35, 0.65),
    Team("voice_nearshore", "voice", "Lisbon", 35, 0.48),
    Team("messaging_core", "messaging", "Amsterdam", 25, 0.75),
    Team("messaging_flex", "messaging", "Remote", 15, 0.55),
)
AGENT_SKILL_SD = 0.06
SKILL_CENTRE = 0.65

# Routing: probability that a contact of a topic reaches each team of its group. Technical
# faults go more often to the nearshore team, so raw team comparisons are confounded by case mix.
VOICE_ROUTING_DEFAULT = (0.40, 0.35, 0.25)
VOICE_ROUTING_TECHNICAL = (0.25, 0.30, 0.45)
MESSAGING_ROUTING = (0.65, 0.35)


@dataclass(frozen=True)
class ResolutionModel:
    """P(resolved at an assisted contact) = base[topic] + slope * (skill - 0.65) - decay * n."""

    base_by_topic: dict[str, float] = field(
        default_factory=lambda: {
            "billing": 0.62,
            "delivery": 0.55,
            "technical": 0.45,
            "cancellation": 0.72,
            "payment": 0.60,
            "promo": 0.80,
        }
    )
    skill_slope: float = 0.9
    decay_per_previous_contact: float = 0.05
    social_resolution: float = 0.15
    """Social care replies rarely solve the problem; they redirect."""
    floor: float = 0.03
    ceiling: float = 0.97


RESOLUTION = ResolutionModel()


@dataclass(frozen=True)
class SupportBehaviour:
    """How support journeys unfold before and between contacts."""

    digital_first: tuple[float, float, float, float] = (0.75, 0.80, 0.70, 0.60)
    """P(self-service attempt first), by subtype (billing, delivery, technical, cancellation)."""
    self_service_resolution: tuple[float, float, float, float] = (0.42, 0.35, 0.30, 0.45)
    give_up: float = 0.10
    """P(no contact at all after a failed self-service attempt)."""
    route_mix: tuple[tuple[float, float, float, float, float], ...] = (
        (0.40, 0.28, 0.12, 0.15, 0.05),
        (0.35, 0.35, 0.15, 0.10, 0.05),
        (0.42, 0.30, 0.10, 0.13, 0.05),
        (0.50, 0.22, 0.10, 0.18, 0.00),
    )
    """P(call, chat, whatsapp, email, social) for the first contact, by subtype."""
    callback_share: float = 0.25
    """After an unresolved call: P(the company calls back)."""
    repeat_probability: float = 0.80
    """After an unresolved contact without callback: P(the customer contacts again)."""
    switch_probability: float = 0.40
    """P(a repeat contact uses another route than the previous one)."""
    max_contacts: int = 4


SUPPORT = SupportBehaviour()


@dataclass(frozen=True)
class Surveys:
    """Who is asked for feedback and how often they answer."""

    nps_after_order: float = 0.4
    csat_after_assisted: float = 0.6
    ces_after_self_service: float = 0.4
    response_rate: float = 0.5
    comment_rate: float = 0.65
    """P(the respondent writes a comment); a few of the rest leave an empty string."""


SURVEYS = Surveys()

CHANNEL_ALIAS_SHARE = {"call_center": 0.05, "whatsapp": 0.06, "email": 0.03}
"""Share of rows of a channel written with a raw alias spelling instead of the canonical name."""

OPEN_HOURS_UTC = {"contact_centre": (7.0, 19.0), "store": (8.0, 17.0), "messages": (7.0, 18.0)}
