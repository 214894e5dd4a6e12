"""Purchase journeys: discovery, cart, checkout, payment, order and delivery messages.

Conversion is decided by one uniform draw ``u`` per journey against nested thresholds
(``u < P(cart)``, ``u < P(checkout)``, ``u < P(order)``), so the funnel is monotone and the
experiment's effect is exact: treatment adds ``effect_absolute`` to P(order) of every journey,
turning some checkout abandoners into buyers. The app payment error happens independently of
``u`` and subtracts a fixed penalty, so it does not change the experiment's absolute effect.
"""

from __future__ import annotations

import numpy as np

from journeylens.synth import _catalogue as cat
from journeylens.synth import _parameters as par
from journeylens.synth._batch import Batch, Outcomes, SurveyInvite
from journeylens.synth._events import (
    DAY,
    HOUR,
    EventBuffer,
    FloatArray,
    IntArray,
    Who,
    cumulative,
    draw,
    into_open_hours,
    waits,
)
from journeylens.synth.population import Agents, resolution_probability, route_to_agents

_ENTRY = cumulative((("direct", 0.62), ("newsletter", 0.25), ("social", 0.13)))
_BROWSE = {ch: (cumulative(opts), cat.tps(*(n for n, _ in opts))) for ch, opts in cat.BROWSE_PAGES.items()}
_CARRIER = cumulative(tuple(par.DELIVERY_SMS.carrier_share.items()))
_P_PROBLEM = np.array([par.DELIVERY_SMS.delivery_problem_probability[c] for c in cat.CARRIERS])


def browse_pages(rng: np.random.Generator, channel: IntArray) -> IntArray:
    """A discovery page per journey, from the web or the app catalogue."""
    n = len(channel)
    pages = {ch: np.array(codes)[draw(rng, cum, n)] for ch, (cum, codes) in _BROWSE.items()}
    return np.where(channel == cat.APP, pages[cat.APP], pages[cat.WEB])


def simulate_purchases(
    rng: np.random.Generator, b: Batch, agents: Agents, em: EventBuffer, out: Outcomes
) -> SurveyInvite:
    """Emit the events of purchase journeys and record their outcomes."""
    n = len(b)
    t = np.zeros(n)
    j = b.journey
    device = {"who": int(Who.DEVICE), "slot": b.slot}
    behaviour = par.SEGMENT_BEHAVIOUR

    entry = draw(rng, _ENTRY, n)
    newsletter = (entry == 1) & b.opt_in
    social = entry == 2
    campaign = rng.choice(np.array(cat.CAMPAIGNS), n)
    em.emit(j, t, newsletter, cat.EMAIL, cat.tp("promo_newsletter"), outbound=True, extra=campaign)
    t += np.where(newsletter, waits(rng, n, 3 * HOUR, 1.0, 300, 2 * DAY), 0.0)
    em.emit(j, t, newsletter, cat.EMAIL, cat.tp("email_click"), extra=campaign)
    t += np.where(newsletter, rng.uniform(2, 10, n), 0.0)
    em.emit(j, t, social, cat.SOCIAL, cat.tp("social_ad_click"), extra=cat.UTM_SOCIAL, **device)
    t += np.where(social, rng.uniform(2, 10, n), 0.0)

    # Discovery: one session, sometimes a second one hours later.
    login_at_start = rng.random(n) < np.where(b.segment == cat.LOYAL, 0.5, 0.25)
    landing_extra = np.where(newsletter, cat.UTM_NEWSLETTER, np.where(social, cat.UTM_SOCIAL, -1))
    pages = 1 + rng.binomial(5, 0.45, n)
    for step in range(6):
        on = pages > step
        em.emit(
            j, t, on, b.channel, browse_pages(rng, b.channel), login=login_at_start & (step == 0),
            identify=newsletter & (step == 0) & (rng.random(n) < 0.5),
            extra=landing_extra if step == 0 else -1, **device,
        )  # fmt: skip
        t += np.where(on, waits(rng, n, 40, 0.8, 5, 600), 0.0)
    second = rng.random(n) < 0.3
    t += np.where(second, waits(rng, n, 5 * HOUR, 1.2, 1800, 2 * DAY), 0.0)
    more = np.where(second, rng.integers(1, 4, n), 0)
    for step in range(3):
        on = more > step
        page = np.where(rng.random(n) < 0.7, cat.tp("product_page"), cat.tp("product_reviews"))
        em.emit(j, t, on, b.channel, page, **device)
        t += np.where(on, waits(rng, n, 45, 0.8, 5, 600), 0.0)

    # Funnel thresholds (see module docstring).
    u = rng.random(n)
    base = np.array([s.purchase_conversion for s in behaviour])[b.segment]
    p_order = base + par.EXPERIMENT.effect_absolute * b.variant
    cart = u < base + par.CHECKOUT_MARGIN + par.CART_MARGIN
    checkout = u < base + par.CHECKOUT_MARGIN
    em.emit(j, t, cart, b.channel, cat.tp("add_to_cart"), **device)
    t += np.where(cart, waits(rng, n, 60, 0.8, 5, 900), 0.0)
    em.emit(j, t, checkout, b.channel, cat.tp("checkout"), login=True, **device)
    t += np.where(checkout, waits(rng, n, 50, 0.6, 10, 600), 0.0)

    friction = par.PAYMENT_ERROR
    error = checkout & (b.channel == cat.APP) & (rng.random(n) < friction.rate_on_app_checkout)
    order = u < p_order - np.where(error, friction.conversion_penalty, 0.0)
    retry = error & order & (rng.random(n) < friction.retry_share_of_orders)
    phone_order = error & order & ~retry
    error_call = error & ~order & (rng.random(n) < friction.call_share_of_abandoners)
    median = np.array([s.order_value_median for s in behaviour])[b.segment]
    value = np.round(np.maximum(np.exp(rng.normal(np.log(median), 0.55)), 4.99), 2)
    em.emit(
        j,
        t,
        error,
        cat.APP,
        cat.tp("payment_error"),
        extra=rng.choice(np.array(cat.ERROR_CODES), n),
        **device,
    )
    t += np.where(error, waits(rng, n, 90, 0.8, 10, 1800), 0.0)

    calls = phone_order | error_call
    t += np.where(calls, waits(rng, n, 40 * 60, 1.0, 180, 20 * HOUR), 0.0)
    t = np.where(calls, into_open_hours(rng, t, b.tod, par.OPEN_HOURS_UTC["contact_centre"]), t)
    topic = np.full(n, cat.PAYMENT_TOPIC)
    agent = route_to_agents(rng, agents, "voice", topic)
    em.emit(j, t, calls, cat.CALL, cat.tp("ivr_menu"), topic=topic)
    t += np.where(calls, rng.uniform(30, 150, n), 0.0)
    em.emit(
        j, t, calls, cat.CALL, cat.tp("payment_call"), agent=agent, case=True, topic=topic,
        value=np.where(phone_order, value, np.nan), order=phone_order,
    )  # fmt: skip
    t += np.where(calls, waits(rng, n, 8 * 60, 0.5, 120, 2400), 0.0)

    online = order & ~phone_order
    em.emit(j, t, online, b.channel, cat.tp("payment"), login=True, **device)
    t += np.where(online, rng.uniform(5, 40, n), 0.0)
    em.emit(j, t, online, b.channel, cat.tp("order_confirmation"), value=value, order=True, **device)
    t += np.where(order, rng.uniform(30, 120, n), 0.0)
    em.emit(j, t, order, cat.EMAIL, cat.tp("order_confirmation_email"), outbound=True, order=True)

    carrier = draw(rng, _CARRIER, n)
    t += np.where(order, waits(rng, n, 16 * HOUR, 0.3, 6 * HOUR, 40 * HOUR), 0.0)
    t = np.where(order, into_open_hours(rng, t, b.tod, par.OPEN_HOURS_UTC["messages"]), t)
    em.emit(
        j, t, order, cat.SMS, cat.tp("delivery_update"), outbound=True, order=True,
        extra=np.array(cat.CARRIER_EXTRA)[carrier],
    )  # fmt: skip
    problem = order & (rng.random(n) < _P_PROBLEM[carrier])
    delivered = order & ~problem
    t += np.where(delivered, waits(rng, n, 1.2 * DAY, 0.4, 8 * HOUR, 4 * DAY), 0.0)
    t = np.where(delivered, into_open_hours(rng, t, b.tod, par.OPEN_HOURS_UTC["messages"]), t)
    em.emit(j, t, delivered, cat.EMAIL, cat.tp("delivery_confirmation"), outbound=True, order=True)

    reminder = cart & ~order & ~error_call & b.opt_in & (rng.random(n) < 0.4)
    t += np.where(reminder, waits(rng, n, 22 * HOUR, 0.2, 12 * HOUR, 30 * HOUR), 0.0)
    em.emit(j, t, reminder, cat.EMAIL, cat.tp("cart_reminder"), outbound=True)

    invites = _surveys(rng, b, agents, em, t, delivered, calls, order, error, agent)

    rows = b.journey
    out.outcome[rows] = np.where(order, cat.CONVERTED, cat.ABANDONED)
    out.payment_error[rows] = error
    out.contacts[rows] = calls.astype(np.int64)
    out.first_contact_resolution[rows] = phone_order
    out.first_agent[rows] = np.where(calls, agent, -1)
    out.carrier[rows] = np.where(order, carrier, -1)
    out.value[rows] = np.where(order, value, np.nan)
    out.has_order[rows] = order
    out.delivery_problem[rows] = problem
    out.p_order_control[rows] = base - np.where(error, friction.conversion_penalty, 0.0)
    return invites


def _surveys(
    rng: np.random.Generator,
    b: Batch,
    agents: Agents,
    em: EventBuffer,
    t: FloatArray,
    delivered: np.ndarray,
    calls: np.ndarray,
    order: np.ndarray,
    error: np.ndarray,
    agent: IntArray,
) -> SurveyInvite:
    """NPS after a delivered order; CSAT after a payment call (about the agent)."""
    n = len(b)
    s = par.SURVEYS
    csat = calls & (rng.random(n) < s.csat_after_assisted)
    nps = delivered & ~csat & (rng.random(n) < s.nps_after_order)
    t = t + np.where(nps | csat, waits(rng, n, 10 * HOUR, 0.6, HOUR, 3 * DAY), 0.0)
    em.emit(
        b.journey, t, nps, cat.EMAIL, cat.tp("survey_invite"), outbound=True, extra=cat.SURVEY_EXTRA["nps"]
    )
    em.emit(
        b.journey, t, csat, cat.SMS, cat.tp("survey_invite"), outbound=True, extra=cat.SURVEY_EXTRA["csat"]
    )
    p_resolved = resolution_probability(agents, agent, np.full(n, cat.PAYMENT_TOPIC), 0)
    noise = rng.normal(0.0, 0.55, n)
    nps_experience = 0.9 + 0.3 * (b.segment == cat.LOYAL) - 1.1 * error + noise
    csat_experience = -0.7 + 1.3 * order + 2.0 * (p_resolved - 0.6) + noise
    theme = np.where(
        error, cat.THEME_USABILITY, np.where(rng.random(n) < 0.5, cat.THEME_DELIVERY, cat.THEME_QUALITY)
    )
    nps_invites = SurveyInvite.select(
        nps, journey=b.journey, offset=t, metric=cat.NPS, channel=b.channel,
        touchpoint=cat.tp("order_confirmation"), agent=-1, case=False, experience=nps_experience,
        theme=theme, repeat=False,
    )  # fmt: skip
    csat_invites = SurveyInvite.select(
        csat, journey=b.journey, offset=t, metric=cat.CSAT, channel=cat.CALL,
        touchpoint=cat.tp("payment_call"), agent=agent, case=True, experience=csat_experience,
        theme=cat.THEME_USABILITY, repeat=False,
    )  # fmt: skip
    return SurveyInvite.concat([nps_invites, csat_invites])
