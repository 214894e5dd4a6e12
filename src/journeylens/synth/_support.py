"""Support journeys: self-service, assisted contacts, repeats, callbacks, resolution.

A support journey may start digitally (help pages in the web or app), then move to assisted
contacts (call, chat, WhatsApp, e-mail, social) until an agent resolves it, the customer gives
up, or ``max_contacts`` is reached. Each contact's resolution depends on the agent's skill, the
topic and how many contacts came before. The billing FAQ friction is planted here: visitors of
``billing_faq`` on the web call within 48 hours far more often than visitors of other help pages.
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
    IntArray,
    Who,
    cumulative,
    draw,
    draw_rows,
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


@dataclass(frozen=True)
class SelfService:
    """What the digital part of each support journey did."""

    digital: BoolArray
    pages: IntArray
    last_page: IntArray
    billing_faq: BoolArray
    resolved: BoolArray
    contacting: BoolArray
    route: IntArray
    """First assisted route (``CONTACT_ROUTES`` code) for journeys that make contact."""


@dataclass
class Contacts:
    """Running state of the assisted contacts of each support journey."""

    resolved: BoolArray
    count: IntArray
    switches: IntArray
    first_agent: IntArray
    last_agent: IntArray
    last_channel: IntArray
    last_touchpoint: IntArray
    first_contact_resolution: BoolArray
    called: BoolArray


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
    walk = Walk.start(rng, b, em)
    digital = _self_service(walk)
    contacts = _contact(walk, agents, digital)
    closed = contacts.resolved & (contacts.count > 0) & (contacts.last_agent >= 0) & walk.chance(0.4)
    walk.wait(closed, HOUR, 0.8, (120, DAY))
    walk.emit(closed, cat.SMS, cat.tp("ticket_resolved"), outbound=True)

    rows = b.journey
    out.outcome[rows] = np.where(contacts.resolved, cat.RESOLVED, cat.UNRESOLVED)
    out.contacts[rows] = contacts.count
    out.first_contact_resolution[rows] = contacts.first_contact_resolution
    out.leakage[rows] = digital.digital & contacts.called
    out.channel_switches[rows] = contacts.switches
    out.billing_faq[rows] = digital.billing_faq
    out.first_agent[rows] = contacts.first_agent
    return _surveys(walk, agents, digital, contacts)


def _self_service(walk: Walk) -> SelfService:
    """Help pages first (often), then: solved, given up, or on to an assisted contact."""
    b, n, s = walk.batch, walk.n, par.SUPPORT
    digital = walk.chance(np.where(b.follow_up, 0.85, np.array(s.digital_first)[b.subtype]))
    pages = np.where(digital, 1 + walk.rng.binomial(2, 0.4, n), 0)
    faq_first = digital & (b.channel == cat.WEB) & (b.subtype == cat.BILLING)
    faq_first &= walk.chance(par.BILLING_FAQ.landing_share)
    login_at_start = walk.chance(0.3)
    billing_faq = np.zeros(n, dtype=np.bool_)
    last_page = np.full(n, -1)
    for step in range(3):
        on = pages > step
        page = self_service_pages(walk.rng, b.subtype, b.channel)
        if step == 0:
            page = np.where(faq_first, cat.tp("billing_faq"), page)
            page = np.where(b.follow_up, cat.tp("track_order"), page)
        billing_faq |= on & (page == cat.tp("billing_faq"))
        last_page = np.where(on, page, last_page)
        login = _LOGIN[page] | (login_at_start & (step == 0))
        walk.on_device(on, page, login=login, order=b.follow_up)
        walk.wait(on, 50, 0.8, (5, 900))

    friction = par.BILLING_FAQ
    friction_call = billing_faq & walk.chance(friction.call_probability)
    p_self = np.where(
        billing_faq, friction.self_service_resolution, np.array(s.self_service_resolution)[b.subtype]
    )
    resolved = digital & ~friction_call & walk.chance(p_self)
    gave_up = digital & ~friction_call & ~resolved & walk.chance(s.give_up)
    contacting = ~resolved & ~gave_up
    route = np.where(friction_call, cat.ROUTE_CALL, draw_rows(walk.rng, _ROUTES[b.subtype]))
    # The FAQ's callers call soon (within 48 h even after waiting for opening hours).
    delay_max = friction.call_delay_max_hours * HOUR
    first_wait = np.where(
        friction_call,
        waits(walk.rng, n, friction.call_delay_median_hours * HOUR, 1.0, (300, delay_max)),
        waits(walk.rng, n, 2 * HOUR, 1.3, (120, 3 * DAY)),
    )
    walk.clock = walk.clock + np.where(digital & contacting, first_wait, 0.0)
    return SelfService(digital, pages, last_page, billing_faq, resolved, contacting, route)


def _contact(walk: Walk, agents: Agents, digital: SelfService) -> Contacts:
    """Assisted contacts until resolved, given up, or ``max_contacts`` (callbacks count)."""
    b, n, s = walk.batch, walk.n, par.SUPPORT
    state = Contacts(
        resolved=digital.resolved.copy(),
        count=np.zeros(n, dtype=np.int64),
        switches=np.zeros(n, dtype=np.int64),
        first_agent=np.full(n, -1),
        last_agent=np.full(n, -1),
        last_channel=np.full(n, -1),
        last_touchpoint=np.full(n, -1),
        first_contact_resolution=np.zeros(n, dtype=np.bool_),
        called=np.zeros(n, dtype=np.bool_),
    )
    active, route, callback = digital.contacting, digital.route, np.zeros(n, dtype=np.bool_)
    for k in range(s.max_contacts):
        if not active.any():
            break
        agent, channel, touchpoint = _one_contact(walk, agents, active, route, callback)
        p = resolution_probability(agents, agent, b.subtype, k, b.day + walk.clock / DAY)
        p = np.where(route == cat.ROUTE_SOCIAL, par.RESOLUTION.social_resolution, p)
        ok = active & walk.chance(p)
        state.resolved |= ok
        state.count += active
        state.first_contact_resolution |= ok & (k == 0)
        state.first_agent = np.where(active & (k == 0), agent, state.first_agent)
        state.last_agent = np.where(active, agent, state.last_agent)
        state.last_channel = np.where(active, channel, state.last_channel)
        state.last_touchpoint = np.where(active, touchpoint, state.last_touchpoint)
        state.called |= active & (channel == cat.CALL)

        failed = active & ~ok
        update = failed & (agent >= 0) & walk.chance(0.3)
        walk.wait(update, 40 * 60, 0.6, (300, 6 * HOUR))
        walk.emit(update, cat.SMS, cat.tp("ticket_update"), outbound=True)
        next_callback = failed & (route == cat.ROUTE_CALL) & ~callback & walk.chance(s.callback_share)
        again = failed & ~next_callback & walk.chance(s.repeat_probability)
        walk.wait(next_callback, 4 * HOUR, 0.7, (1800, 1.5 * DAY))
        walk.wait(again, 18 * HOUR, 1.0, (HOUR, 4 * DAY))
        new_route = draw_rows(walk.rng, _ROUTES[b.subtype])
        switch = again & walk.chance(s.switch_probability) & (new_route != route)
        state.switches += switch
        route = np.where(switch, new_route, route)
        callback = next_callback
        active = next_callback | again
    return state


def _one_contact(
    walk: Walk, agents: Agents, active: BoolArray, route: IntArray, callback: BoolArray
) -> tuple[IntArray, IntArray, IntArray]:
    """Emit one assisted contact per active journey; return its agent, channel and touchpoint."""
    b, sub = walk.batch, walk.batch.subtype
    back = active & callback
    call = active & (route == cat.ROUTE_CALL) & ~callback
    chat = active & (route == cat.ROUTE_CHAT)
    whatsapp = active & (route == cat.ROUTE_WHATSAPP)
    mail = active & (route == cat.ROUTE_EMAIL)
    social = active & (route == cat.ROUTE_SOCIAL)
    walk.open_hours(call | back | chat, _CONTACT_CENTRE)
    voice = route_to_agents(walk.rng, agents, "voice", sub)
    messaging = route_to_agents(walk.rng, agents, "messaging", sub)
    agent = np.where(call | back, voice, np.where(chat | whatsapp | mail, messaging, -1))
    on_device: dict[str, Field] = {"who": int(Who.KNOWN_ON_DEVICE), "slot": b.slot}
    walk.emit(call, cat.CALL, cat.tp("ivr_menu"), topic=sub)
    walk.emit(chat, cat.CHAT, cat.tp("chatbot"), **on_device)
    walk.on_device(mail, cat.tp("contact_form"), topic=sub, order=b.follow_up)
    walk.emit(social, cat.SOCIAL, cat.tp("social_dm"), topic=sub)
    walk.pause(call | chat, 20, 150)
    walk.wait(mail, 4 * HOUR, 0.8, (1200, 2 * DAY))
    walk.open_hours(mail, _CONTACT_CENTRE)
    walk.wait(social, 2 * HOUR, 0.8, (600, DAY))

    handled: dict[str, Field] = {"agent": agent, "case": True, "topic": sub, "order": b.follow_up}
    touchpoint = np.select(
        [call, back, chat, whatsapp, mail],
        [_ASSISTED["call"][sub], cat.tp("callback"), _ASSISTED["chat"][sub], _ASSISTED["whatsapp"][sub],
         cat.tp("support_reply")],
        cat.tp("social_reply"),
    )  # fmt: skip
    walk.emit(call, cat.CALL, touchpoint, **handled)
    walk.emit(back, cat.CALL, touchpoint, outbound=True, **handled)
    walk.emit(chat, cat.CHAT, touchpoint, **handled, **on_device)
    walk.emit(whatsapp, cat.WHATSAPP, touchpoint, **handled)
    walk.emit(mail, cat.EMAIL, touchpoint, outbound=True, **handled)
    walk.emit(social, cat.SOCIAL, touchpoint, outbound=True)
    walk.wait(call | back, 7 * 60, 0.5, (120, 2400))
    walk.wait(chat | whatsapp, 12 * 60, 0.5, (180, 3600))
    channel = np.select(
        [call | back, chat, whatsapp, mail], [cat.CALL, cat.CHAT, cat.WHATSAPP, cat.EMAIL], cat.SOCIAL
    )
    return agent, channel, touchpoint


def _surveys(walk: Walk, agents: Agents, digital: SelfService, contacts: Contacts) -> SurveyInvite:
    """CSAT about the last agent after assisted contacts; CES after successful self-service."""
    b, n, s = walk.batch, walk.n, par.SURVEYS
    agent = contacts.last_agent
    csat = (contacts.count > 0) & (agent >= 0) & walk.chance(s.csat_after_assisted)
    ces = digital.resolved & walk.chance(s.ces_after_self_service)
    walk.wait(csat | ces, 2 * HOUR, 0.8, (300, 2 * DAY))
    walk.emit(csat, cat.SMS, cat.tp("survey_invite"), outbound=True, extra=cat.SURVEY_EXTRA["csat"])
    walk.emit(ces, cat.EMAIL, cat.tp("survey_invite"), outbound=True, extra=cat.SURVEY_EXTRA["ces"])
    skill = agents.skill[np.maximum(agent, 0)]
    noise = walk.rng.normal(0.0, 0.5, n)
    csat_experience = (
        -0.6
        + 1.6 * contacts.resolved
        - 0.5 * (contacts.count - 1)
        + 1.5 * (skill - par.SKILL_CENTRE)
        - 0.4 * digital.billing_faq
        + noise
    )
    theme = np.where(walk.chance(0.6), _THEME[b.subtype], _ALT_THEME[b.subtype])
    common: dict[str, Any] = {"journey": b.journey, "offset": walk.clock}
    return SurveyInvite.concat(
        [
            SurveyInvite.select(
                csat, metric=cat.CSAT, channel=contacts.last_channel, touchpoint=contacts.last_touchpoint,
                agent=agent, case=True, experience=csat_experience, theme=theme,
                repeat=contacts.count > 1, **common,
            ),
            SurveyInvite.select(
                ces, metric=cat.CES, channel=b.channel, touchpoint=digital.last_page, agent=-1,
                case=False, experience=0.8 - 0.35 * (digital.pages - 1) + noise,
                theme=np.where(b.subtype == cat.BILLING, cat.THEME_BILLING, cat.THEME_USABILITY),
                repeat=False, **common,
            ),
        ]
    )  # fmt: skip
