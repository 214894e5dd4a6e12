"""Information journeys: newsletters, browsing, store visits and the in-store kiosk.

Most information journeys are a short anonymous or logged-in browse. Some start from a promo
newsletter whose conditions confuse people into a chat (the "confusing marketing" theme); some
end in a store, where kiosk users look things up on a shared kiosk before (maybe) logging in.
"""

from __future__ import annotations

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
    IntArray,
    Who,
    cumulative,
    draw,
)
from journeylens.synth.population import Agents, resolution_probability, route_to_agents

_PAGES = {
    channel: (cumulative(options), np.array(cat.tps(*(name for name, _ in options))))
    for channel, options in cat.INFORMATION_PAGES.items()
}
_PROMO_CHAT = cat.assisted_touchpoint(cat.PROMO_TOPIC, "chat")


def information_pages(rng: np.random.Generator, channel: IntArray) -> IntArray:
    """An information page per journey, from the web or the app catalogue."""
    n = len(channel)
    pages = {ch: codes[draw(rng, cum, n)] for ch, (cum, codes) in _PAGES.items()}
    return np.where(channel == cat.APP, pages[cat.APP], pages[cat.WEB])


def simulate_information(
    rng: np.random.Generator, b: Batch, agents: Agents, em: EventBuffer, out: Outcomes
) -> SurveyInvite:
    """Emit the events of information journeys."""
    walk = Walk.start(rng, b, em)
    social = walk.chance(0.1)
    walk.emit(social, cat.SOCIAL, cat.tp("social_comment"))
    walk.wait(social, HOUR, 1.0, (120, DAY))
    confused, agent, answered = _promotion(walk, agents)
    _browse(walk)
    _store_visit(walk)

    out.outcome[b.journey] = cat.INFORMED
    out.contacts[b.journey] = confused
    out.first_contact_resolution[b.journey] = answered
    out.first_agent[b.journey] = np.where(confused, agent, -1)

    csat = confused & walk.chance(par.SURVEYS.csat_after_assisted)
    walk.wait(csat, 2 * HOUR, 0.8, (300, 2 * DAY))
    walk.emit(csat, cat.SMS, cat.tp("survey_invite"), outbound=True, extra=cat.SURVEY_EXTRA["csat"])
    experience = -0.5 + 1.0 * answered + walk.rng.normal(0.0, 0.5, walk.n)
    return SurveyInvite.select(
        csat, journey=b.journey, offset=walk.clock, metric=cat.CSAT, channel=cat.CHAT,
        touchpoint=_PROMO_CHAT, agent=agent, case=True, experience=experience,
        theme=cat.THEME_MARKETING, repeat=False,
    )  # fmt: skip


def _promotion(walk: Walk, agents: Agents) -> tuple[BoolArray, IntArray, BoolArray]:
    """A promo newsletter, its landing page, and the chats its unclear conditions cause."""
    b, n = walk.batch, walk.n
    promo = b.opt_in & walk.chance(0.2)
    campaign = walk.rng.choice(np.array(cat.CAMPAIGNS), n)
    walk.emit(promo, cat.EMAIL, cat.tp("promo_newsletter"), outbound=True, extra=campaign)
    clicked = promo & walk.chance(0.6)
    walk.wait(promo, 3 * HOUR, 1.0, (300, 2 * DAY))
    walk.emit(clicked, cat.EMAIL, cat.tp("email_click"), extra=campaign)
    walk.pause(clicked, 2, 10)
    walk.on_device(clicked, cat.tp("promo_terms"), extra=cat.UTM_NEWSLETTER, identify=walk.chance(0.5))
    walk.wait(clicked, 60, 0.8, (10, 900))

    confused = clicked & walk.chance(0.35)
    walk.open_hours(confused, par.OPEN_HOURS_UTC["contact_centre"])
    topic = np.full(n, cat.PROMO_TOPIC)
    agent = route_to_agents(walk.rng, agents, "messaging", topic)
    on_device: dict[str, Field] = {"who": int(Who.KNOWN_ON_DEVICE), "slot": b.slot}
    walk.emit(confused, cat.CHAT, cat.tp("chatbot"), **on_device)
    walk.pause(confused, 20, 120)
    walk.emit(confused, cat.CHAT, _PROMO_CHAT, agent=agent, case=True, topic=topic, **on_device)
    walk.wait(confused, 10 * 60, 0.5, (120, 3600))
    answered = confused & walk.chance(resolution_probability(agents, agent, topic, 0))
    return confused, agent, answered


def _browse(walk: Walk) -> None:
    """One to four information pages; a newsletter sign-up ties the device to the e-mail."""
    login_at_start = walk.chance(0.25)
    pages = 1 + walk.rng.binomial(3, 0.4, walk.n)
    for step in range(4):
        on = pages > step
        page = information_pages(walk.rng, walk.batch.channel)
        signup = page == cat.tp("newsletter_signup")
        walk.on_device(on, page, login=login_at_start & (step == 0), identify=signup)
        walk.wait(on, 45, 0.8, (5, 900))


def _store_visit(walk: Walk) -> None:
    """Some visit a store (loyalty card scanned or not); kiosk users use the shared kiosk."""
    kiosk_slot = walk.batch.kiosk_slot
    kiosk_user = kiosk_slot >= 0
    visit = walk.chance(np.where(kiosk_user, 0.8, 0.1))
    walk.wait(visit, 20 * HOUR, 0.8, (HOUR, 3 * DAY))
    walk.open_hours(visit, par.OPEN_HOURS_UTC["store"])
    card = visit & walk.chance(0.6)
    walk.emit(card, cat.STORE, cat.tp("store_visit"))
    walk.pause(card, 60, 900)
    kiosk = visit & kiosk_user
    kiosk_login = kiosk & walk.chance(0.7)
    before_login: dict[str, Field] = {"who": int(Who.ANONYMOUS), "slot": kiosk_slot}
    logged_in: dict[str, Field] = {"who": int(Who.KNOWN_ON_DEVICE), "slot": kiosk_slot}
    walk.emit(kiosk, cat.STORE, cat.tp("kiosk_product_lookup"), **before_login)
    walk.pause(kiosk, 20, 180)
    walk.emit(kiosk_login, cat.STORE, cat.tp("kiosk_login"), **logged_in)
    walk.pause(kiosk_login, 10, 60)
    walk.emit(kiosk_login, cat.STORE, cat.tp("kiosk_order_status"), **logged_in)
