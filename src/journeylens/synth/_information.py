"""Information journeys: newsletters, browsing, store visits and the in-store kiosk.

Most information journeys are a short anonymous or logged-in browse. Some start from a promo
newsletter whose conditions confuse people into a chat (the "confusing marketing" theme); some
end in a store, where kiosk users look things up on a shared kiosk before (maybe) logging in.
"""

from __future__ import annotations

import numpy as np

from journeylens.synth import _catalogue as cat
from journeylens.synth import _parameters as par
from journeylens.synth._batch import Batch, Outcomes, SurveyInvite
from journeylens.synth._events import DAY, HOUR, EventBuffer, Who, cumulative, draw, into_open_hours, waits
from journeylens.synth.population import Agents, resolution_probability, route_to_agents

_PAGES = {
    ch: (cumulative(opts), np.array(cat.tps(*(n for n, _ in opts))))
    for ch, opts in cat.INFORMATION_PAGES.items()
}


def information_pages(rng: np.random.Generator, channel: np.ndarray) -> np.ndarray:
    """An information page per journey, from the web or the app catalogue."""
    n = len(channel)
    pages = {ch: codes[draw(rng, cum, n)] for ch, (cum, codes) in _PAGES.items()}
    return np.where(channel == cat.APP, pages[cat.APP], pages[cat.WEB])


def simulate_information(
    rng: np.random.Generator, b: Batch, agents: Agents, em: EventBuffer, out: Outcomes
) -> SurveyInvite:
    """Emit the events of information journeys."""
    n = len(b)
    j = b.journey
    t = np.zeros(n)
    device = {"who": int(Who.DEVICE), "slot": b.slot}

    social = rng.random(n) < 0.1
    em.emit(j, t, social, cat.SOCIAL, cat.tp("social_comment"))
    t += np.where(social, waits(rng, n, HOUR, 1.0, 120, DAY), 0.0)

    promo = b.opt_in & (rng.random(n) < 0.2)
    campaign = rng.choice(np.array(cat.CAMPAIGNS), n)
    em.emit(j, t, promo, cat.EMAIL, cat.tp("promo_newsletter"), outbound=True, extra=campaign)
    clicked = promo & (rng.random(n) < 0.6)
    t += np.where(promo, waits(rng, n, 3 * HOUR, 1.0, 300, 2 * DAY), 0.0)
    em.emit(j, t, clicked, cat.EMAIL, cat.tp("email_click"), extra=campaign)
    t += np.where(clicked, rng.uniform(2, 10, n), 0.0)
    em.emit(
        j, t, clicked, b.channel, cat.tp("promo_terms"), extra=cat.UTM_NEWSLETTER,
        identify=rng.random(n) < 0.5, **device,
    )  # fmt: skip
    t += np.where(clicked, waits(rng, n, 60, 0.8, 10, 900), 0.0)

    # Confusing promo conditions send some readers to chat.
    confused = clicked & (rng.random(n) < 0.35)
    t = np.where(confused, into_open_hours(rng, t, b.tod, par.OPEN_HOURS_UTC["contact_centre"]), t)
    topic = np.full(n, cat.PROMO_TOPIC)
    agent = route_to_agents(rng, agents, "messaging", topic)
    on_device = {"who": int(Who.KNOWN_ON_DEVICE), "slot": b.slot}
    em.emit(j, t, confused, cat.CHAT, cat.tp("chatbot"), **on_device)
    t += np.where(confused, rng.uniform(20, 120, n), 0.0)
    promo_chat = cat.assisted_touchpoint(cat.PROMO_TOPIC, "chat")
    em.emit(j, t, confused, cat.CHAT, promo_chat, agent=agent, case=True, topic=topic, **on_device)
    t += np.where(confused, waits(rng, n, 10 * 60, 0.5, 120, 3600), 0.0)
    answered = confused & (rng.random(n) < resolution_probability(agents, agent, topic, 0))

    login_at_start = rng.random(n) < 0.25
    pages = 1 + rng.binomial(3, 0.4, n)
    for step in range(4):
        on = pages > step
        page = information_pages(rng, b.channel)
        em.emit(
            j, t, on, b.channel, page, login=login_at_start & (step == 0),
            identify=page == cat.tp("newsletter_signup"), **device,
        )  # fmt: skip
        t += np.where(on, waits(rng, n, 45, 0.8, 5, 900), 0.0)

    kiosk_user = b.kiosk_slot >= 0
    visit = rng.random(n) < np.where(kiosk_user, 0.8, 0.1)
    t += np.where(visit, waits(rng, n, 20 * HOUR, 0.8, HOUR, 3 * DAY), 0.0)
    t = np.where(visit, into_open_hours(rng, t, b.tod, par.OPEN_HOURS_UTC["store"]), t)
    card = visit & (rng.random(n) < 0.6)
    em.emit(j, t, card, cat.STORE, cat.tp("store_visit"))
    t += np.where(card, rng.uniform(60, 900, n), 0.0)
    kiosk = visit & kiosk_user
    kiosk_login = kiosk & (rng.random(n) < 0.7)
    em.emit(j, t, kiosk, cat.STORE, cat.tp("kiosk_product_lookup"), who=int(Who.ANONYMOUS), slot=b.kiosk_slot)
    t += np.where(kiosk, rng.uniform(20, 180, n), 0.0)
    kiosk_known = {"who": int(Who.KNOWN_ON_DEVICE), "slot": b.kiosk_slot}
    em.emit(j, t, kiosk_login, cat.STORE, cat.tp("kiosk_login"), **kiosk_known)
    t += np.where(kiosk_login, rng.uniform(10, 60, n), 0.0)
    em.emit(j, t, kiosk_login, cat.STORE, cat.tp("kiosk_order_status"), **kiosk_known)

    out.outcome[b.journey] = cat.INFORMED
    out.contacts[b.journey] = confused.astype(np.int64)
    out.first_contact_resolution[b.journey] = answered
    out.first_agent[b.journey] = np.where(confused, agent, -1)

    csat = confused & (rng.random(n) < par.SURVEYS.csat_after_assisted)
    t += np.where(csat, waits(rng, n, 2 * HOUR, 0.8, 300, 2 * DAY), 0.0)
    em.emit(j, t, csat, cat.SMS, cat.tp("survey_invite"), outbound=True, extra=cat.SURVEY_EXTRA["csat"])
    experience = -0.5 + 1.0 * answered + rng.normal(0.0, 0.5, n)
    return SurveyInvite.select(
        csat, journey=j, offset=t, metric=cat.CSAT, channel=cat.CHAT, touchpoint=promo_chat,
        agent=agent, case=True, experience=experience, theme=cat.THEME_MARKETING, repeat=False,
    )  # fmt: skip
