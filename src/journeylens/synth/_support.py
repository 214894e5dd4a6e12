"""Support journeys: self-service, assisted contacts, repeats, callbacks, resolution.

A support journey may start digitally (help pages in the web or app), then move to assisted
contacts (call, chat, WhatsApp, e-mail, social) until an agent resolves it, the customer gives
up, or ``max_contacts`` is reached. Each contact's resolution depends on the agent's skill, the
topic and how many contacts came before. The billing FAQ friction is planted here: visitors of
``billing_faq`` on the web call within 48 hours far more often than visitors of other help pages.
"""

from __future__ import annotations

import numpy as np

from journeylens.synth import _catalogue as cat
from journeylens.synth import _parameters as par
from journeylens.synth._batch import Batch, Outcomes, SurveyInvite
from journeylens.synth._events import (
    DAY,
    HOUR,
    BoolArray,
    EventBuffer,
    FloatArray,
    IntArray,
    Who,
    cumulative,
    draw,
    draw_rows,
    into_open_hours,
    waits,
)
from journeylens.synth.population import Agents, resolution_probability, route_to_agents

_PAGES = {
    (sub, ch): (cumulative(opts), np.array(cat.tps(*(name for name, _ in opts))))
    for sub, by_channel in cat.SELF_SERVICE_PAGES.items()
    for ch, opts in by_channel.items()
}
_ROUTES = np.array([np.cumsum(mix) / np.sum(mix) for mix in par.SUPPORT.route_mix])
_LOGIN = np.isin(np.arange(len(cat.TOUCHPOINTS)), cat.tps(*cat.LOGIN_PAGES))
_CONTACT_CENTRE = par.OPEN_HOURS_UTC["contact_centre"]
_ASSISTED = {
    route: np.array([cat.assisted_touchpoint(topic, route) for topic in range(len(cat.TOPICS))])
    for route in ("call", "chat", "whatsapp")
}
# Survey theme by subtype; technical faults and cancellations split between two themes.
_THEME = np.array([cat.THEME_BILLING, cat.THEME_DELIVERY, cat.THEME_QUALITY, cat.THEME_QUALITY])
_ALT_THEME = np.array([cat.THEME_BILLING, cat.THEME_DELIVERY, cat.THEME_USABILITY, cat.THEME_BILLING])


def self_service_pages(rng: np.random.Generator, subtype: IntArray, channel: IntArray) -> IntArray:
    """A help page per journey, from its subtype's page set on its channel."""
    page = np.zeros(len(subtype), dtype=np.int64)
    for (sub, ch), (cum, codes) in _PAGES.items():
        rows = np.flatnonzero((subtype == sub) & (channel == ch))
        page[rows] = codes[draw(rng, cum, len(rows))]
    return page


def simulate_support(
    rng: np.random.Generator, b: Batch, agents: Agents, em: EventBuffer, out: Outcomes
) -> SurveyInvite:
    """Emit the events of support journeys and record their outcomes."""
    n = len(b)
    s = par.SUPPORT
    j, sub = b.journey, b.subtype
    t = np.zeros(n)
    device = {"who": int(Who.DEVICE), "slot": b.slot, "order": b.follow_up}

    digital = rng.random(n) < np.where(b.follow_up, 0.85, np.array(s.digital_first)[sub])
    pages = np.where(digital, 1 + rng.binomial(2, 0.4, n), 0)
    faq_first = digital & (b.channel == cat.WEB) & (sub == cat.BILLING)
    faq_first &= rng.random(n) < par.BILLING_FAQ.landing_share
    login_at_start = rng.random(n) < 0.3
    billing_faq = np.zeros(n, dtype=np.bool_)
    last_page = np.full(n, -1)
    for step in range(3):
        on = pages > step
        page = self_service_pages(rng, sub, b.channel)
        if step == 0:
            page = np.where(faq_first, cat.tp("billing_faq"), page)
            page = np.where(b.follow_up, cat.tp("track_order"), page)
        billing_faq |= on & (page == cat.tp("billing_faq"))
        last_page = np.where(on, page, last_page)
        em.emit(j, t, on, b.channel, page, login=_LOGIN[page] | (login_at_start & (step == 0)), **device)
        t += np.where(on, waits(rng, n, 50, 0.8, 5, 900), 0.0)

    friction_call = billing_faq & (rng.random(n) < par.BILLING_FAQ.call_probability)
    p_self = np.where(
        billing_faq, par.BILLING_FAQ.self_service_resolution, np.array(s.self_service_resolution)[sub]
    )
    self_resolved = digital & ~friction_call & (rng.random(n) < p_self)
    gave_up = digital & ~friction_call & ~self_resolved & (rng.random(n) < s.give_up)
    active = ~self_resolved & ~gave_up
    route = np.where(friction_call, cat.ROUTE_CALL, draw_rows(rng, _ROUTES[sub]))
    friction = par.BILLING_FAQ
    first_wait = np.where(
        friction_call,
        waits(rng, n, friction.call_delay_median_hours * HOUR, 1.0, 300, friction.call_delay_max_hours * HOUR),
        waits(rng, n, 2 * HOUR, 1.3, 120, 3 * DAY),
    )  # fmt: skip
    t += np.where(digital & active, first_wait, 0.0)

    resolved = self_resolved.copy()
    contacts = np.zeros(n, dtype=np.int64)
    switches = np.zeros(n, dtype=np.int64)
    first_agent = np.full(n, -1)
    last_agent = np.full(n, -1)
    last_channel = np.full(n, -1)
    last_touchpoint = np.full(n, -1)
    first_contact_resolution = np.zeros(n, dtype=np.bool_)
    called = np.zeros(n, dtype=np.bool_)
    callback = np.zeros(n, dtype=np.bool_)
    for k in range(s.max_contacts):
        if not active.any():
            break
        call = active & (route == cat.ROUTE_CALL) & ~callback
        back = active & callback
        chat = active & (route == cat.ROUTE_CHAT)
        whatsapp = active & (route == cat.ROUTE_WHATSAPP)
        mail = active & (route == cat.ROUTE_EMAIL)
        social = active & (route == cat.ROUTE_SOCIAL)
        t = np.where(call | back | chat, into_open_hours(rng, t, b.tod, _CONTACT_CENTRE), t)
        agent = np.where(
            call | back,
            route_to_agents(rng, agents, "voice", sub),
            np.where(chat | whatsapp | mail, route_to_agents(rng, agents, "messaging", sub), -1),
        )
        contact = {"agent": agent, "case": True, "topic": sub, "order": b.follow_up}
        em.emit(j, t, call, cat.CALL, cat.tp("ivr_menu"), topic=sub)
        em.emit(j, t, chat, cat.CHAT, cat.tp("chatbot"), who=int(Who.KNOWN_ON_DEVICE), slot=b.slot)
        em.emit(j, t, mail, b.channel, cat.tp("contact_form"), topic=sub, **device)
        em.emit(j, t, social, cat.SOCIAL, cat.tp("social_dm"), topic=sub)
        t += np.where(call | chat, rng.uniform(20, 150, n), 0.0)
        t += np.where(mail, waits(rng, n, 4 * HOUR, 0.8, 1200, 2 * DAY), 0.0)
        t = np.where(mail, into_open_hours(rng, t, b.tod, _CONTACT_CENTRE), t)
        t += np.where(social, waits(rng, n, 2 * HOUR, 0.8, 600, DAY), 0.0)
        em.emit(j, t, call, cat.CALL, _ASSISTED["call"][sub], **contact)
        em.emit(j, t, back, cat.CALL, cat.tp("callback"), outbound=True, **contact)
        em.emit(
            j, t, chat, cat.CHAT, _ASSISTED["chat"][sub], who=int(Who.KNOWN_ON_DEVICE), slot=b.slot, **contact
        )
        em.emit(j, t, whatsapp, cat.WHATSAPP, _ASSISTED["whatsapp"][sub], **contact)
        em.emit(j, t, mail, cat.EMAIL, cat.tp("support_reply"), outbound=True, **contact)
        em.emit(j, t, social, cat.SOCIAL, cat.tp("social_reply"), outbound=True)
        t += np.where(call | back, waits(rng, n, 7 * 60, 0.5, 120, 2400), 0.0)
        t += np.where(chat | whatsapp, waits(rng, n, 12 * 60, 0.5, 180, 3600), 0.0)

        p = np.where(social, par.RESOLUTION.social_resolution, resolution_probability(agents, agent, sub, k))
        ok = active & (rng.random(n) < p)
        resolved |= ok
        contacts += active
        first_contact_resolution |= ok & (k == 0)
        first_agent = np.where(active & (k == 0), agent, first_agent)
        last_agent = np.where(active, agent, last_agent)
        channel = np.select(
            [call | back, chat, whatsapp, mail], [cat.CALL, cat.CHAT, cat.WHATSAPP, cat.EMAIL], cat.SOCIAL
        )
        touchpoint = np.select(
            [call, back, chat, whatsapp, mail],
            [_ASSISTED["call"][sub], cat.tp("callback"), _ASSISTED["chat"][sub], _ASSISTED["whatsapp"][sub],
             cat.tp("support_reply")],
            cat.tp("social_reply"),
        )  # fmt: skip
        last_channel = np.where(active, channel, last_channel)
        last_touchpoint = np.where(active, touchpoint, last_touchpoint)
        called |= call | back

        failed = active & ~ok
        update = failed & (agent >= 0) & (rng.random(n) < 0.3)
        t += np.where(update, waits(rng, n, 40 * 60, 0.6, 300, 6 * HOUR), 0.0)
        em.emit(j, t, update, cat.SMS, cat.tp("ticket_update"), outbound=True, case=True)
        next_callback = failed & call & (rng.random(n) < s.callback_share)
        again = failed & ~next_callback & (rng.random(n) < s.repeat_probability)
        t += np.where(next_callback, waits(rng, n, 4 * HOUR, 0.7, 1800, 1.5 * DAY), 0.0)
        t += np.where(again, waits(rng, n, 18 * HOUR, 1.0, HOUR, 4 * DAY), 0.0)
        new_route = draw_rows(rng, _ROUTES[sub])
        switch = again & (rng.random(n) < s.switch_probability) & (new_route != route)
        switches += switch
        route = np.where(switch, new_route, route)
        callback = next_callback
        active = next_callback | again

    closed = resolved & (contacts > 0) & (last_agent >= 0) & (rng.random(n) < 0.4)
    t += np.where(closed, waits(rng, n, HOUR, 0.8, 120, DAY), 0.0)
    em.emit(j, t, closed, cat.SMS, cat.tp("ticket_resolved"), outbound=True, case=True)

    rows = b.journey
    out.outcome[rows] = np.where(resolved, cat.RESOLVED, cat.UNRESOLVED)
    out.contacts[rows] = contacts
    out.first_contact_resolution[rows] = first_contact_resolution
    out.leakage[rows] = digital & called
    out.channel_switches[rows] = switches
    out.billing_faq[rows] = billing_faq
    out.first_agent[rows] = first_agent
    assisted = {"agent": last_agent, "channel": last_channel, "touchpoint": last_touchpoint}
    return _surveys(
        rng, b, agents, em, t, resolved, self_resolved, contacts, pages, billing_faq, last_page, assisted
    )


def _surveys(
    rng: np.random.Generator,
    b: Batch,
    agents: Agents,
    em: EventBuffer,
    t: FloatArray,
    resolved: BoolArray,
    self_resolved: BoolArray,
    contacts: IntArray,
    pages: IntArray,
    billing_faq: BoolArray,
    last_page: IntArray,
    assisted: dict[str, IntArray],
) -> SurveyInvite:
    """CSAT about the last agent after assisted contacts; CES after successful self-service."""
    n = len(b)
    s = par.SURVEYS
    agent = assisted["agent"]
    csat = (contacts > 0) & (agent >= 0) & (rng.random(n) < s.csat_after_assisted)
    ces = self_resolved & (rng.random(n) < s.ces_after_self_service)
    t = t + np.where(csat | ces, waits(rng, n, 2 * HOUR, 0.8, 300, 2 * DAY), 0.0)
    em.emit(
        b.journey, t, csat, cat.SMS, cat.tp("survey_invite"), outbound=True, extra=cat.SURVEY_EXTRA["csat"]
    )
    em.emit(
        b.journey, t, ces, cat.EMAIL, cat.tp("survey_invite"), outbound=True, extra=cat.SURVEY_EXTRA["ces"]
    )
    skill = agents.skill[np.maximum(agent, 0)]
    noise = rng.normal(0.0, 0.5, n)
    csat_experience = (
        -0.6
        + 1.6 * resolved
        - 0.5 * (contacts - 1)
        + 1.5 * (skill - par.SKILL_CENTRE)
        - 0.4 * billing_faq
        + noise
    )
    ces_experience = 0.8 - 0.35 * (pages - 1) + noise
    theme = np.where(rng.random(n) < 0.6, _THEME[b.subtype], _ALT_THEME[b.subtype])
    return SurveyInvite.concat(
        [
            SurveyInvite.select(
                csat, journey=b.journey, offset=t, metric=cat.CSAT, channel=assisted["channel"],
                touchpoint=assisted["touchpoint"], agent=agent, case=True,
                experience=csat_experience, theme=theme, repeat=contacts > 1,
            ),
            SurveyInvite.select(
                ces, journey=b.journey, offset=t, metric=cat.CES, channel=b.channel,
                touchpoint=last_page, agent=-1, case=False, experience=ces_experience,
                theme=np.where(b.subtype == cat.BILLING, cat.THEME_BILLING, cat.THEME_USABILITY),
                repeat=False,
            ),
        ]
    )  # fmt: skip
