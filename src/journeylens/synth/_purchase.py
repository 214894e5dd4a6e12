"""Purchase journeys: discovery, cart, checkout, payment, order and delivery messages.

Conversion is decided by one uniform draw ``u`` per journey against nested thresholds
(``u < P(cart)``, ``u < P(checkout)``, ``u < P(order)``), so the funnel is monotone and the
experiment's effect is exact: treatment adds ``effect_absolute`` to P(order) of every journey,
turning some checkout abandoners into buyers. The app payment error strikes a share of app
checkouts independently of ``u`` and subtracts a fixed penalty from P(order), so it lowers
conversion without changing the experiment's absolute effect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from journeylens.synth import _catalogue as cat
from journeylens.synth import _parameters as par
from journeylens.synth._batch import Batch, Outcomes, SurveyInvite, Walk
from journeylens.synth._events import (
    DAY,
    HOUR,
    BoolArray,
    EventBuffer,
    Field,
    FloatArray,
    IntArray,
    Who,
    cumulative,
    draw,
)
from journeylens.synth.population import Agents, resolution_probability, route_to_agents

_ENTRY = cumulative((("direct", 0.62), ("newsletter", 0.25), ("social", 0.13)))
_BROWSE = {
    channel: (cumulative(options), np.array(cat.tps(*(name for name, _ in options))))
    for channel, options in cat.BROWSE_PAGES.items()
}
_CARRIER = cumulative(tuple(par.DELIVERY_SMS.carrier_share.items()))
_P_PROBLEM = np.array([par.DELIVERY_SMS.delivery_problem_probability[c] for c in cat.CARRIERS])
_CONTACT_CENTRE = par.OPEN_HOURS_UTC["contact_centre"]
_MESSAGES = par.OPEN_HOURS_UTC["messages"]


@dataclass(frozen=True)
class Funnel:
    """How far each purchase journey got, and what happened at checkout."""

    base: FloatArray
    """P(order) under control without a payment error (the segment's conversion)."""
    cart: BoolArray
    checkout: BoolArray
    error: BoolArray
    order: BoolArray
    phone_order: BoolArray
    """Ordered by phone after a payment error."""
    calls: BoolArray
    """Called the contact centre about a payment error."""
    agent: IntArray
    value: FloatArray


def browse_pages(rng: np.random.Generator, channel: IntArray) -> IntArray:
    """A discovery page per journey, from the web or the app catalogue."""
    n = len(channel)
    pages = {ch: codes[draw(rng, cum, n)] for ch, (cum, codes) in _BROWSE.items()}
    return np.where(channel == cat.APP, pages[cat.APP], pages[cat.WEB])


def simulate_purchases(
    rng: np.random.Generator, b: Batch, agents: Agents, em: EventBuffer, out: Outcomes
) -> SurveyInvite:
    """Emit the events of purchase journeys and record their outcomes."""
    walk = Walk.start(rng, b, em)
    _discover(walk)
    funnel = _checkout(walk, agents)
    carrier, problem = _fulfil(walk, funnel)
    invites = _surveys(walk, agents, funnel, delivered=funnel.order & ~problem)

    rows = b.journey
    out.outcome[rows] = np.where(funnel.order, cat.CONVERTED, cat.ABANDONED)
    out.payment_error[rows] = funnel.error
    out.contacts[rows] = funnel.calls
    out.first_contact_resolution[rows] = funnel.phone_order
    out.first_agent[rows] = np.where(funnel.calls, funnel.agent, -1)
    out.carrier[rows] = np.where(funnel.order, carrier, -1)
    out.value[rows] = np.where(funnel.order, funnel.value, np.nan)
    out.has_order[rows] = funnel.order
    out.delivery_problem[rows] = problem
    # Expected P(order) under control: the error strikes a share of app checkouts, independently
    # of u, and every journey that would order despite the error also reaches checkout.
    friction = par.PAYMENT_ERROR
    app_penalty = friction.rate_on_app_checkout * friction.conversion_penalty
    outage = _outage(b)
    out.reached_checkout[rows] = funnel.checkout
    out.p_order_control[rows] = (
        funnel.base
        - np.where(b.channel == cat.APP, app_penalty, 0.0)
        - np.where(outage, par.CHECKOUT_OUTAGE.conversion_penalty, 0.0)
    )
    return invites


def _discover(walk: Walk) -> None:
    """Arrive (directly, from a newsletter or a social ad) and browse, in one or two sessions."""
    b, n = walk.batch, walk.n
    entry = draw(walk.rng, _ENTRY, n)
    newsletter = (entry == 1) & b.opt_in
    social = entry == 2
    campaign = walk.rng.choice(np.array(cat.CAMPAIGNS), n)
    walk.emit(newsletter, cat.EMAIL, cat.tp("promo_newsletter"), outbound=True, extra=campaign)
    walk.wait(newsletter, 3 * HOUR, 1.0, (300, 2 * DAY))
    walk.emit(newsletter, cat.EMAIL, cat.tp("email_click"), extra=campaign)
    walk.pause(newsletter, 2, 10)
    device: dict[str, Field] = {"who": int(Who.DEVICE), "slot": b.slot}
    walk.emit(social, cat.SOCIAL, cat.tp("social_ad_click"), extra=cat.UTM_SOCIAL, **device)
    walk.pause(social, 2, 10)

    login_at_start = walk.chance(np.where(b.segment == cat.LOYAL, 0.5, 0.25))
    landing = np.where(newsletter, cat.UTM_NEWSLETTER, np.where(social, cat.UTM_SOCIAL, -1))
    identify = newsletter & walk.chance(0.5)
    pages = 1 + walk.rng.binomial(5, 0.45, n)
    for step in range(6):
        on = pages > step
        first = step == 0
        walk.on_device(
            on, browse_pages(walk.rng, b.channel), login=login_at_start & first,
            identify=identify & first, extra=landing if first else -1,
        )  # fmt: skip
        walk.wait(on, 40, 0.8, (5, 600))
    second = walk.chance(0.3)
    walk.wait(second, 5 * HOUR, 1.2, (1800, 2 * DAY))
    more = np.where(second, walk.rng.integers(1, 4, n), 0)
    for step in range(3):
        on = more > step
        page = np.where(walk.chance(0.7), cat.tp("product_page"), cat.tp("product_reviews"))
        walk.on_device(on, page)
        walk.wait(on, 45, 0.8, (5, 600))


def _checkout(walk: Walk, agents: Agents) -> Funnel:
    """Cart, checkout, the app payment error (and calls about it), payment and order."""
    b, n = walk.batch, walk.n
    u = walk.rng.random(n)
    base = np.array([s.purchase_conversion for s in par.SEGMENT_BEHAVIOUR])[b.segment]
    p_order = base + par.EXPERIMENT.effect_absolute * b.variant
    cart = u < base + par.CHECKOUT_MARGIN + par.CART_MARGIN
    checkout = u < base + par.CHECKOUT_MARGIN
    walk.on_device(cart, cat.tp("add_to_cart"))
    walk.wait(cart, 60, 0.8, (5, 900))
    walk.on_device(checkout, cat.tp("checkout"), login=True)
    walk.wait(checkout, 50, 0.6, (10, 600))

    friction = par.PAYMENT_ERROR
    error = checkout & (b.channel == cat.APP) & walk.chance(friction.rate_on_app_checkout)
    outage = np.where(_outage(b), par.CHECKOUT_OUTAGE.conversion_penalty, 0.0)
    order = u < p_order - np.where(error, friction.conversion_penalty, 0.0) - outage
    retry = error & order & walk.chance(friction.retry_share_of_orders)
    phone_order = error & order & ~retry
    calls = phone_order | (error & ~order & walk.chance(friction.call_share_of_abandoners))
    median = np.array([s.order_value_median for s in par.SEGMENT_BEHAVIOUR])[b.segment]
    value = np.round(np.maximum(np.exp(walk.rng.normal(np.log(median), 0.55)), 4.99), 2)
    walk.on_device(error, cat.tp("payment_error"), extra=walk.rng.choice(np.array(cat.ERROR_CODES), n))
    walk.wait(error, 90, 0.8, (10, 1800))

    walk.wait(calls, 40 * 60, 1.0, (180, 20 * HOUR))
    walk.open_hours(calls, _CONTACT_CENTRE)
    topic = np.full(n, cat.PAYMENT_TOPIC)
    agent = route_to_agents(walk.rng, agents, "voice", topic)
    walk.emit(calls, cat.CALL, cat.tp("ivr_menu"), topic=topic)
    walk.pause(calls, 30, 150)
    walk.emit(
        calls, cat.CALL, cat.tp("payment_call"), agent=agent, case=True, topic=topic,
        value=np.where(phone_order, value, np.nan), order=phone_order,
    )  # fmt: skip
    walk.wait(calls, 8 * 60, 0.5, (120, 2400))

    online = order & ~phone_order
    walk.on_device(online, cat.tp("payment"), login=True)
    walk.pause(online, 5, 40)
    walk.on_device(online, cat.tp("order_confirmation"), value=value, order=True)
    return Funnel(base, cart, checkout, error, order, phone_order, calls, agent, value)


def _outage(b: Batch) -> BoolArray:
    """Journeys planned to start once the checkout outage is on (it hits web and app alike)."""
    on: BoolArray = np.nan_to_num(b.day, nan=-1.0) >= par.CHECKOUT_OUTAGE.start_day
    return on


def _fulfil(walk: Walk, funnel: Funnel) -> tuple[IntArray, BoolArray]:
    """Order e-mail, delivery SMS (carrier), delivery confirmation or a coming delivery problem."""
    order = funnel.order
    walk.pause(order, 30, 120)
    walk.emit(order, cat.EMAIL, cat.tp("order_confirmation_email"), outbound=True, order=True)
    carrier = draw(walk.rng, _CARRIER, walk.n)
    walk.wait(order, 16 * HOUR, 0.3, (6 * HOUR, 40 * HOUR))
    walk.open_hours(order, _MESSAGES)
    extra = np.array(cat.CARRIER_EXTRA)[carrier]
    walk.emit(order, cat.SMS, cat.tp("delivery_update"), outbound=True, order=True, extra=extra)
    problem = order & walk.chance(_P_PROBLEM[carrier])
    delivered = order & ~problem
    walk.wait(delivered, 1.2 * DAY, 0.4, (8 * HOUR, 4 * DAY))
    walk.open_hours(delivered, _MESSAGES)
    walk.emit(delivered, cat.EMAIL, cat.tp("delivery_confirmation"), outbound=True, order=True)

    reminder = funnel.cart & ~order & ~funnel.calls & walk.batch.opt_in & walk.chance(0.4)
    walk.wait(reminder, 22 * HOUR, 0.2, (12 * HOUR, 30 * HOUR))
    walk.emit(reminder, cat.EMAIL, cat.tp("cart_reminder"), outbound=True)
    return carrier, problem


def _surveys(walk: Walk, agents: Agents, funnel: Funnel, *, delivered: BoolArray) -> SurveyInvite:
    """NPS after a delivered order; CSAT after a payment call (about the agent)."""
    b, n = walk.batch, walk.n
    s = par.SURVEYS
    csat = funnel.calls & walk.chance(s.csat_after_assisted)
    nps = delivered & ~csat & walk.chance(s.nps_after_order)
    walk.wait(nps | csat, 10 * HOUR, 0.6, (HOUR, 3 * DAY))
    nps_extra, csat_extra = cat.SURVEY_EXTRA["nps"], cat.SURVEY_EXTRA["csat"]
    walk.emit(nps, cat.EMAIL, cat.tp("survey_invite"), outbound=True, extra=nps_extra)
    walk.emit(csat, cat.SMS, cat.tp("survey_invite"), outbound=True, extra=csat_extra)
    p_resolved = resolution_probability(agents, funnel.agent, np.full(n, cat.PAYMENT_TOPIC), 0)
    noise = walk.rng.normal(0.0, 0.55, n)
    usability = funnel.error
    theme = np.where(walk.chance(0.5), cat.THEME_DELIVERY, cat.THEME_QUALITY)
    common: dict[str, Any] = {"journey": b.journey, "offset": walk.clock, "repeat": False}
    nps_experience = 0.9 + 0.3 * (b.segment == cat.LOYAL) - 1.1 * usability + noise
    return SurveyInvite.concat(
        [
            SurveyInvite.select(
                nps, metric=cat.NPS, channel=b.channel, touchpoint=cat.tp("order_confirmation"),
                agent=-1, case=False, experience=nps_experience,
                theme=np.where(usability, cat.THEME_USABILITY, theme), **common,
            ),
            SurveyInvite.select(
                csat, metric=cat.CSAT, channel=cat.CALL, touchpoint=cat.tp("payment_call"),
                agent=funnel.agent, case=True,
                experience=-0.7 + 1.3 * funnel.order + 2.0 * (p_resolved - 0.6) + noise,
                theme=cat.THEME_USABILITY, **common,
            ),
        ]
    )  # fmt: skip
