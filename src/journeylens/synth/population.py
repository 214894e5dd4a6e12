"""Who lives in the world: customers, their devices and identifiers, households, agents.

One :class:`Population` is built per chunk of customers from that chunk's random stream. Devices
are "slots": one row per (customer, device) pair, so a family tablet used by three people is
three slots sharing one anonymous_id, and each person's login on it is tracked separately.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from journeylens.synth import _catalogue as cat
from journeylens.synth import _ids as ids
from journeylens.synth import _parameters as par
from journeylens.synth._events import BoolArray, FloatArray, IntArray, cumulative, draw

KIOSK_SLOT_KIND = cat.KIOSK
_DEVICE_COUNT = cumulative((("1", 0.45), ("2", 0.40), ("3", 0.15)))
_COUNTRY = cumulative((("NL", 0.85), ("BE", 0.10), ("DE", 0.05)))
_SECONDARY_KIND = cumulative((("desktop", 0.35), ("mobile_web", 0.30), ("ios", 0.2), ("android", 0.15)))
_DOMAINS_BY_COUNTRY = (
    cumulative(tuple((d, w) for d, w in zip(cat.EMAIL_DOMAINS, (5, 4, 2, 3, 2, 2, 0, 0, 1, 2), strict=True))),
    cumulative(tuple((d, w) for d, w in zip(cat.EMAIL_DOMAINS, (5, 3, 2, 0, 0, 2, 4, 0, 1, 0), strict=True))),
    cumulative(tuple((d, w) for d, w in zip(cat.EMAIL_DOMAINS, (5, 2, 2, 0, 0, 1, 0, 5, 1, 0), strict=True))),
)
PLAN_BY_SEGMENT = (
    cumulative((("basic", 0.7), ("plus", 0.25), ("premium", 0.05))),
    cumulative((("basic", 0.3), ("plus", 0.4), ("premium", 0.3))),
    cumulative((("basic", 0.5), ("plus", 0.35), ("premium", 0.15))),
)
AGE_BAND_SHARES = cumulative(tuple(zip(cat.AGE_BANDS, (0.12, 0.24, 0.22, 0.18, 0.14, 0.10), strict=True)))
PHONE_MULTIPLIER = 48271
"""Phone subscriber numbers are a bijection of the customer index mod 10**8: never shared."""
DEFAULT_NUMBER_E164 = "+31207000000"
DEFAULT_NUMBER_RAW = ("020-7000000", "0207000000", "+31 20 700 0000", "+31207000000")


@dataclass(frozen=True)
class Population:
    """The customers of one chunk and their devices (see module docstring)."""

    chunk: int
    first: int
    """Global index of the chunk's first customer."""
    segment: IntArray
    country: IntArray
    variant: IntArray
    """0 control, 1 treatment in the planted experiment."""
    first_name: IntArray
    last_name: IntArray
    opt_in: BoolArray
    default_number: BoolArray
    """Agents recorded the call-centre number as this customer's phone."""
    has_phone: BoolArray
    # device slots, rows grouped by customer: personal devices, then tablets, then kiosks
    slot_customer: IntArray
    slot_kind: IntArray
    slot_device: IntArray
    """Device number: slots with the same number share one anonymous_id."""
    slot_shared: IntArray
    """0 personal, 1 family tablet, 2 store kiosk."""
    personal_first: IntArray
    personal_count: IntArray
    tablet_slot: IntArray
    kiosk_slot: IntArray

    @property
    def size(self) -> int:
        return len(self.segment)

    @property
    def global_index(self) -> IntArray:
        return self.first + np.arange(self.size, dtype=np.int64)


def build_population(rng: np.random.Generator, chunk: int, first: int, size: int) -> Population:
    """Draw the customers ``first .. first + size - 1`` and their devices."""
    shares = cumulative(tuple((s, b.share) for s, b in zip(cat.SEGMENTS, par.SEGMENT_BEHAVIOUR, strict=True)))
    segment = draw(rng, shares, size)
    country = draw(rng, _COUNTRY, size)
    variant = (rng.random(size) < par.EXPERIMENT.treatment_share).astype(np.int64)
    first_name = rng.integers(0, len(cat.FIRST_NAMES), size)
    last_name = rng.integers(0, len(cat.LAST_NAMES), size)
    opt_in_rate = np.array([b.marketing_opt_in for b in par.SEGMENT_BEHAVIOUR])[segment]
    opt_in = rng.random(size) < opt_in_rate
    default_number = rng.random(size) < par.DEFAULT_NUMBER_SHARE
    has_phone = rng.random(size) >= par.PHONELESS_SHARE

    # Personal devices: the primary one follows the segment's app preference.
    count = draw(rng, _DEVICE_COUNT, size) + 1
    personal_first = np.cumsum(count) - count
    slot_customer = np.repeat(np.arange(size), count)
    position = np.arange(len(slot_customer)) - personal_first[slot_customer]
    app_share = np.array([b.app_share for b in par.SEGMENT_BEHAVIOUR])[segment]
    primary_app = rng.random(size) < app_share
    primary_kind = np.where(
        primary_app,
        np.where(rng.random(size) < 0.55, cat.IOS, cat.ANDROID),
        np.where(rng.random(size) < 0.55, cat.DESKTOP, cat.MOBILE_WEB),
    )
    kind = np.where(position == 0, primary_kind[slot_customer], draw(rng, _SECONDARY_KIND, len(position)))
    device = np.arange(len(slot_customer))

    # Households of up to three consecutive customers share a tablet (and a last name).
    block = np.arange(size) // 3
    in_household_block = rng.random(block[-1] + 1 if size else 0) < par.HOUSEHOLD_SHARE
    household_size = np.where(rng.random(len(in_household_block)) < 0.6, 2, 3)
    member = in_household_block[block] & ((np.arange(size) % 3) < household_size[block])
    member &= np.bincount(block[member], minlength=len(in_household_block))[block] >= 2
    leader = block * 3
    last_name = np.where(member, last_name[leader], last_name)
    country = np.where(member, country[leader], country)
    members = np.flatnonzero(member)
    tablet_slot = np.full(size, -1, dtype=np.int64)
    tablet_slot[members] = len(slot_customer) + np.arange(len(members))

    kiosk_user = np.flatnonzero(rng.random(size) < par.KIOSK_USER_SHARE)
    kiosk = rng.integers(0, par.KIOSKS, len(kiosk_user))
    kiosk_slot = np.full(size, -1, dtype=np.int64)
    kiosk_slot[kiosk_user] = len(slot_customer) + len(members) + np.arange(len(kiosk_user))

    return Population(
        chunk=chunk,
        first=first,
        segment=segment,
        country=country,
        variant=variant,
        first_name=first_name,
        last_name=last_name,
        opt_in=opt_in,
        default_number=default_number,
        has_phone=has_phone,
        slot_customer=np.concatenate([slot_customer, members, kiosk_user]),
        slot_kind=np.concatenate(
            [kind, np.full(len(members), cat.TABLET), np.full(len(kiosk_user), KIOSK_SLOT_KIND)]
        ),
        slot_device=np.concatenate([device, len(device) + block[members], kiosk]),
        slot_shared=np.concatenate(
            [
                np.zeros(len(device), np.int64),
                np.ones(len(members), np.int64),
                np.full(len(kiosk_user), 2, np.int64),
            ]
        ),
        personal_first=personal_first,
        personal_count=count,
        tablet_slot=tablet_slot,
        kiosk_slot=kiosk_slot,
    )


def choose_devices(rng: np.random.Generator, pop: Population, customer: IntArray) -> IntArray:
    """Device slot each journey of ``customer`` runs on: the family tablet, the primary or any."""
    n = len(customer)
    tablet = pop.tablet_slot[customer]
    use_tablet = (tablet >= 0) & (rng.random(n) < 0.4)
    any_device = pop.personal_first[customer] + (rng.random(n) * pop.personal_count[customer]).astype(
        np.int64
    )
    primary = pop.personal_first[customer]
    chosen = np.where(rng.random(n) < 0.6, primary, any_device)
    return np.where(use_tablet, tablet, chosen)


def anonymous_ids(pop: Population, seed: int) -> pa.StringArray:
    """anonymous_id of every slot (UUID-shaped; kiosks have ids outside any chunk)."""
    chunk = np.where(pop.slot_shared == 2, ids.RESERVED_CHUNK, pop.chunk).astype(np.uint64)
    key = (chunk << np.uint64(ids.ROW_BITS)) | pop.slot_device.astype(np.uint64)
    return ids.uuid_ids(key, ids.salt(seed, "anonymous_id"))


def user_ids(pop: Population) -> pa.StringArray:
    """user_id of every customer: ``u`` + the global customer number."""
    return ids.decimal_ids("u", pop.global_index, 8)


def crm_ids(pop: Population) -> pa.StringArray:
    """CRM id of every customer (a different number space than user_id, as in real CRMs)."""
    return ids.decimal_ids("CRM-", 40_000_000 + pop.global_index, 9)


def emails(pop: Population, rng: np.random.Generator) -> pa.Array:
    """Normalised (lower-case) e-mail address of every customer; unique by the global number."""
    first = ids.take(pa.array(cat.FIRST_NAMES), pop.first_name)
    last = ids.take(pa.array(cat.LAST_NAMES), pop.last_name)
    initial = pc.utf8_slice_codeunits(first, 0, 1)
    number = pa.array(pop.global_index).cast(pa.string())
    style = rng.integers(0, 4, pop.size)
    local = pc.choose(
        pa.array(style),
        pc.binary_join_element_wise(first, ".", last, number, ""),
        pc.binary_join_element_wise(initial, ".", last, number, ""),
        pc.binary_join_element_wise(first, last, number, ""),
        pc.binary_join_element_wise(last, ".", first, number, ""),
    )
    domain_index = np.empty(pop.size, dtype=np.int64)
    for country, cum in enumerate(_DOMAINS_BY_COUNTRY):
        rows = np.flatnonzero(pop.country == country)
        domain_index[rows] = draw(rng, cum, len(rows))
    domain = ids.take(pa.array(cat.EMAIL_DOMAINS), domain_index)
    return pc.binary_join_element_wise(local, domain, "@")


EMAIL_STYLES = 5


def raw_emails(normalised: pa.Array, style: IntArray) -> pa.Array:
    """E-mail as typed into some system: case changes and stray spaces (all normalise back)."""
    title = pc.utf8_title(normalised)
    return pc.choose(
        pa.array(style % EMAIL_STYLES),
        normalised,
        title,
        pc.utf8_upper(normalised),
        pc.binary_join_element_wise(" ", normalised, " ", ""),
        pc.binary_join_element_wise(title, " ", ""),
    )


def phone_subscribers(pop: Population, seed: int) -> IntArray:
    """Eight-digit subscriber number of every customer (unique within the world)."""
    offset = int(ids.salt(seed, "phone")) % 10**8
    return (pop.global_index * PHONE_MULTIPLIER + offset) % 10**8


PHONE_STYLES = 5
_MOBILE_PREFIXES = ("6", "4", "151")
"""Mobile prefixes after the country code (NL, BE, DE); the subscriber number follows."""


def raw_phones(country: IntArray, subscriber: IntArray, style: IntArray) -> tuple[pa.Array, pa.Array]:
    """Raw phone numbers in varied formats, and their E.164 form.

    Dutch numbers come in national and international spellings (``06-12345678``,
    ``+31 6 1234 5678``, ``0031612345678``, ...), all normalising to ``+316...`` with default
    country code 31. Belgian and German numbers are always written internationally, because a
    national spelling would be ambiguous under that default.
    """
    s = ids.decimal_ids("", subscriber, 8)
    s4a, s4b = pc.utf8_slice_codeunits(s, 0, 4), pc.utf8_slice_codeunits(s, 4, 8)
    pairs = [pc.utf8_slice_codeunits(s, i, i + 2) for i in range(0, 8, 2)]
    national = pc.binary_join_element_wise(ids.take(pa.array(_MOBILE_PREFIXES), country), s, "")
    code = ids.take(pa.array(cat.COUNTRY_CALLING_CODES), country)
    prefix = ids.take(pa.array(_MOBILE_PREFIXES), country)
    e164 = pc.binary_join_element_wise("+", code, national, "")
    dutch = (
        e164,
        pc.binary_join_element_wise("+31 6 ", s4a, " ", s4b, ""),
        pc.binary_join_element_wise("0031", national, ""),
        pc.binary_join_element_wise("06-", s, ""),
        pc.binary_join_element_wise("06", *pairs, " "),
    )
    foreign = (
        e164,
        pc.binary_join_element_wise("+", code, " ", national, ""),
        pc.binary_join_element_wise("00", code, national, ""),
        pc.binary_join_element_wise("00", code, " ", national, ""),
        pc.binary_join_element_wise("+", code, " ", prefix, " ", s4a, " ", s4b, ""),
    )
    index = pa.array(style % PHONE_STYLES)
    raw = pc.if_else(pa.array(country == 0), pc.choose(index, *dutch), pc.choose(index, *foreign))
    return raw, e164


@dataclass(frozen=True)
class Agents:
    """All agents (global, not per chunk): routing arrays plus the ``agents`` table."""

    team: IntArray
    skill: FloatArray
    team_first: IntArray
    team_size: IntArray
    table: pa.Table
    lift: Callable[[IntArray, FloatArray], FloatArray] | None = None
    """Lift of P(resolve) by agent and contact day: engagement and training (``._workforce``)."""


def build_agents(seed: int) -> Agents:
    """The contact-centre workforce; the same for every chunk of a seed."""
    rng = np.random.default_rng([seed, 0xA6E])
    sizes = np.array([t.agents for t in par.TEAMS])
    team = np.repeat(np.arange(len(par.TEAMS)), sizes)
    team_skill = np.array([t.skill for t in par.TEAMS])
    skill = np.clip(team_skill[team] + rng.normal(0, par.AGENT_SKILL_SD, len(team)), 0.2, 0.97)
    tenure = np.round(np.exp(rng.normal(np.log(4 + 45 * (skill - 0.3)), 0.45)), 1)
    rating = np.clip(np.round(1 + 4 * (skill + rng.normal(0, 0.08, len(team)) - 0.3) / 0.6), 1, 5)
    names = [t.name for t in par.TEAMS]
    table = pa.table(
        {
            "agent_id": ids.decimal_ids("ag", np.arange(1, len(team) + 1), 4),
            "team": ids.take(pa.array(names), team),
            "site": ids.take(pa.array([t.site for t in par.TEAMS]), team),
            "tenure": pa.array(tenure, pa.float64()),
            "skill_level": pa.array(rating.astype(np.int64)),
            "group": ids.take(pa.array([t.group for t in par.TEAMS]), team),
        }
    )
    return Agents(team, skill, np.cumsum(sizes) - sizes, sizes, table)


def route_to_agents(rng: np.random.Generator, agents: Agents, group: str, topic: IntArray) -> IntArray:
    """Agent who takes each contact: a team by the routing table, then anyone in the team."""
    n = len(topic)
    if group == "voice":
        default = rng.choice(3, size=n, p=par.VOICE_ROUTING_DEFAULT)
        technical = rng.choice(3, size=n, p=par.VOICE_ROUTING_TECHNICAL)
        team = np.where(topic == cat.TECHNICAL, technical, default)
    else:
        team = 3 + rng.choice(2, size=n, p=par.MESSAGING_ROUTING)
    return agents.team_first[team] + (rng.random(n) * agents.team_size[team]).astype(np.int64)


def resolution_probability(
    agents: Agents,
    agent: IntArray,
    topic: IntArray,
    previous_contacts: int | IntArray,
    day: FloatArray | None = None,
) -> FloatArray:
    """P(an agent resolves the contact): see :class:`~._parameters.ResolutionModel`, plus the
    agents' ``lift`` on the contact's ``day`` (days since the window start) when both are given."""
    model = par.RESOLUTION
    base = np.array([model.base_by_topic[t] for t in cat.TOPICS])[topic]
    skill = agents.skill[np.maximum(agent, 0)]
    p = base + model.skill_slope * (skill - par.SKILL_CENTRE)
    p = p - model.decay_per_previous_contact * np.asarray(previous_contacts)
    if agents.lift is not None and day is not None:
        p = p + agents.lift(agent, day)
    return np.clip(p, model.floor, model.ceiling)
