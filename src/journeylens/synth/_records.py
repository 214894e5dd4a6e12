"""CRM-side tables of a chunk: customers, identities, experiment assignments, identifier truth.

Identities are written *raw*, as source systems hold them: e-mails with capitals and stray
spaces, phone numbers in national and international spellings, the call-centre's own number
typed in when a caller had none, and identify calls tying an anonymous device to an e-mail.
The truth table says which customer every raw value belongs to and which values are shared.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from journeylens.synth import _catalogue as cat
from journeylens.synth import _ids as ids
from journeylens.synth import _parameters as par
from journeylens.synth._assembly import TIMESTAMP, Chunk
from journeylens.synth._events import DAY, MICROS, IntArray, draw
from journeylens.synth.population import (
    AGE_BAND_SHARES,
    DEFAULT_NUMBER_E164,
    DEFAULT_NUMBER_RAW,
    EMAIL_STYLES,
    PHONE_STYLES,
    PLAN_BY_SEGMENT,
    crm_ids,
    emails,
    phone_subscribers,
    raw_emails,
    raw_phones,
)

_HISTORY_START_US = 1_546_300_800 * MICROS  # 2019-01-01: existing customers signed up after this
_NEVER = np.iinfo(np.int64).max
SHARED_KINDS = ("family_tablet", "store_kiosk", "call_centre_default_number")
_EMAIL_SOURCES = np.array([cat.SOURCES.index(s) for s in ("crm", "web_signup", "newsletter")])
_PHONE_SOURCES = np.array([cat.SOURCES.index(s) for s in ("crm", "call_center")])


@dataclass(frozen=True)
class Records:
    """The CRM-side tables of a chunk plus the shared-identifier usage found in it."""

    customers: pa.Table
    identities: pa.Table
    assignments: pa.Table
    identifier_truth: pa.Table
    shared: pa.Table
    """identifier_type, value, kind, customer: one row per (shared identifier, customer)."""


def _repeat_rows(counts: IntArray) -> tuple[IntArray, IntArray]:
    """Owner and position of ``counts[i]`` rows per owner ``i``."""
    owner = np.repeat(np.arange(len(counts)), counts)
    position = np.arange(len(owner)) - (np.cumsum(counts) - counts)[owner]
    return owner, position


def _strings(value: str, n: int) -> pa.Array:
    return pa.array([value] * n, pa.string())


def _identity_rows(
    kind: str,
    value: pa.Array,
    user: pa.Array,
    *,
    micros: IntArray,
    source: IntArray | int,
    anonymous: pa.Array | None = None,
) -> pa.Table:
    sources = pa.array([f'{{"source":"{s}"}}' for s in cat.SOURCES])
    n = len(value)
    return pa.table(
        {
            "identifier_type": _strings(kind, n),
            "identifier_value": value,
            "user_id": user,
            "anonymous_id": pa.nulls(n, pa.string()) if anonymous is None else anonymous,
            "timestamp": pa.array(micros - micros % 1000, type=TIMESTAMP),  # milliseconds, as elsewhere
            "properties": ids.take(sources, np.broadcast_to(source, (n,))),
        }
    )


def _truth_rows(
    kind: str, raw: pa.Array, normalised: pa.Array, customer: pa.Array, shared: str | None
) -> pa.Table:
    n = len(raw)
    return pa.table(
        {
            "identifier_type": _strings(kind, n),
            "identifier_value_raw": raw,
            "identifier_value_normalised": normalised,
            "customer": customer,
            "shared": pa.array(np.full(n, shared is not None)),
            "shared_kind": pa.array([shared] * n, pa.string()),
        }
    )


def signup_micros(rng: np.random.Generator, chunk: Chunk) -> IntArray:
    """Signup time: first identified event for first_time customers, else before the window."""
    pop, placed, window = chunk.pop, chunk.placed, chunk.window
    first_known = np.full(pop.size, _NEVER)
    np.minimum.at(first_known, placed.customer[placed.has_user], placed.micros[placed.has_user])
    first_seen = np.full(pop.size, _NEVER)
    np.minimum.at(first_seen, placed.customer, placed.micros)
    in_window = window.start_us + (rng.random(pop.size) * (window.end_us - window.start_us)).astype(np.int64)
    new = np.minimum(first_known, first_seen)
    new = np.where(new == _NEVER, in_window, new)
    history = _HISTORY_START_US + (rng.random(pop.size) * (window.start_us - _HISTORY_START_US)).astype(
        np.int64
    )
    return np.where(pop.segment == cat.FIRST_TIME, new, history)


def _after(rng: np.random.Generator, since: IntArray, until: int) -> IntArray:
    """A moment between ``since`` and ``until`` (microseconds)."""
    return since + (rng.random(len(since)) * (until - since)).astype(np.int64)


def build_records(rng: np.random.Generator, chunk: Chunk) -> Records:
    """Customers, identities, assignments and the identifier truth of one chunk."""
    pop, users = chunk.pop, chunk.names.user_ids
    signup = signup_micros(rng, chunk)
    normalised = emails(pop, rng)
    style = rng.integers(0, EMAIL_STYLES, pop.size)
    end = chunk.window.end_us

    crm = crm_ids(pop)
    crm_rows = _identity_rows("crm_id", crm, users, micros=signup, source=0)

    owner, position = _repeat_rows(1 + (rng.random(pop.size) < 0.5) + (rng.random(pop.size) < 0.2))
    email_raw, email_users = (
        raw_emails(ids.take(normalised, owner), style[owner] + position),
        ids.take(users, owner),
    )
    email_rows = _identity_rows(
        "email", email_raw, email_users, source=_EMAIL_SOURCES[position],
        micros=np.where(position == 0, signup[owner], _after(rng, signup[owner], end)),
    )  # fmt: skip

    p_owner, p_position = _repeat_rows(np.where(pop.has_phone, 1 + (rng.random(pop.size) < 0.4), 0))
    p_style = rng.integers(0, PHONE_STYLES, pop.size)[p_owner] + p_position
    phone_raw, e164 = raw_phones(pop.country[p_owner], phone_subscribers(pop, chunk.seed)[p_owner], p_style)
    phone_rows = _identity_rows(
        "phone", phone_raw, ids.take(users, p_owner), source=_PHONE_SOURCES[p_position],
        micros=np.where(p_position == 0, signup[p_owner], _after(rng, signup[p_owner], end)),
    )  # fmt: skip

    d_owner = np.flatnonzero(pop.default_number)
    default_raw = ids.take(
        pa.array(DEFAULT_NUMBER_RAW), rng.integers(0, len(DEFAULT_NUMBER_RAW), len(d_owner))
    )
    default_customers = ids.take(users, d_owner)
    default_rows = _identity_rows(
        "phone", default_raw, default_customers, source=_PHONE_SOURCES[1],
        micros=_after(rng, np.full(len(d_owner), chunk.window.start_us), end),
    )  # fmt: skip

    shared_devices, device_truth = _device_truth(chunk)
    default_e164 = _strings(DEFAULT_NUMBER_E164, len(d_owner))
    shared_number = pa.table(
        {
            "identifier_type": _strings("phone", len(d_owner)),
            "value": default_e164,
            "kind": _strings(SHARED_KINDS[2], len(d_owner)),
            "customer": default_customers,
        }
    )
    return Records(
        customers=_customers(rng, chunk, normalised, signup),
        identities=pa.concat_tables(
            [crm_rows, email_rows, phone_rows, default_rows, _identify_rows(chunk, normalised, style)]
        ),
        assignments=_assignments(chunk),
        identifier_truth=pa.concat_tables(
            [
                _truth_rows("crm_id", crm, crm, users, None),
                _truth_rows("email", email_raw, ids.take(normalised, owner), email_users, None),
                _truth_rows("phone", phone_raw, e164, ids.take(users, p_owner), None),
                _truth_rows("phone", default_raw, default_e164, default_customers, SHARED_KINDS[2]),
                device_truth,
            ]
        ),
        shared=pa.concat_tables([shared_devices, shared_number]),
    )


def _identify_rows(chunk: Chunk, normalised: pa.Array, style: IntArray) -> pa.Table:
    """Identify calls (newsletter sign-up, e-mail click) linking a device to the e-mail."""
    placed = chunk.placed
    ev = placed.events
    said = np.flatnonzero(ev.identify & placed.has_anonymous)
    who = placed.customer[said]
    newsletter = ev.touchpoint[said] == cat.tp("newsletter_signup")
    return _identity_rows(
        "email",
        raw_emails(ids.take(normalised, who), style[who]),
        ids.take(chunk.names.user_ids, who, placed.has_user[said]),
        anonymous=ids.take(chunk.names.anonymous_ids, ev.slot[said]),
        micros=placed.micros[said],
        source=np.where(newsletter, cat.SOURCES.index("newsletter"), cat.SOURCES.index("email_click")),
    )


def _device_truth(chunk: Chunk) -> tuple[pa.Table, pa.Table]:
    """Which customer each used anonymous_id belongs to; tablets and kiosks used by several."""
    pop, placed, names = chunk.pop, chunk.placed, chunk.names
    used = np.unique(placed.events.slot[placed.has_anonymous])
    device, kind = pop.slot_device[used], pop.slot_shared[used]
    tablet = kind == 1
    users_per_tablet = np.bincount(device[tablet], minlength=int(device.max(initial=0)) + 1)
    shared_tablet = tablet & (users_per_tablet[np.where(tablet, device, 0)] >= 2)
    is_shared = shared_tablet | (kind == 2)
    anonymous = ids.take(names.anonymous_ids, used)
    customer = ids.take(names.user_ids, pop.slot_customer[used])
    shared_kind = ids.take(pa.array(SHARED_KINDS[:2]), np.where(kind == 2, 1, 0), is_shared)
    truth = pa.table(
        {
            "identifier_type": _strings("anonymous_id", len(used)),
            "identifier_value_raw": anonymous,
            "identifier_value_normalised": anonymous,
            "customer": customer,
            "shared": pa.array(is_shared),
            "shared_kind": shared_kind,
        }
    )
    rows = pa.array(np.flatnonzero(is_shared))
    shared = pa.table(
        {
            "identifier_type": truth.column("identifier_type").take(rows),
            "value": anonymous.take(rows),
            "kind": shared_kind.take(rows),
            "customer": customer.take(rows),
        }
    )
    return shared, truth


def _customers(rng: np.random.Generator, chunk: Chunk, normalised: pa.Array, signup: IntArray) -> pa.Table:
    """The CRM extract: segment and traits; household members share their city."""
    pop = chunk.pop
    offsets = np.cumsum([0] + [len(cat.CITIES[c]) for c in cat.COUNTRIES])
    all_cities = pa.array([city for c in cat.COUNTRIES for city in cat.CITIES[c]])
    city = offsets[pop.country] + (rng.random(pop.size) * np.diff(offsets)[pop.country]).astype(np.int64)
    city = np.where(pop.tablet_slot >= 0, city[(np.arange(pop.size) // 3) * 3], city)
    plan = np.empty(pop.size, dtype=np.int64)
    for segment, cum in enumerate(PLAN_BY_SEGMENT):
        rows = np.flatnonzero(pop.segment == segment)
        plan[rows] = draw(rng, cum, len(rows))
    return pa.table(
        {
            "user_id": chunk.names.user_ids,
            "segment": ids.take(pa.array(cat.SEGMENTS), pop.segment),
            "country": ids.take(pa.array(cat.COUNTRIES), pop.country),
            "city": ids.take(all_cities, city),
            "signup_date": pa.array((signup // (int(DAY) * MICROS)).astype(np.int32), type=pa.date32()),
            "age_band": ids.take(pa.array(cat.AGE_BANDS), draw(rng, AGE_BAND_SHARES, pop.size)),
            "plan": ids.take(pa.array(cat.PLANS), plan),
            "email": raw_emails(normalised, rng.integers(0, EMAIL_STYLES, pop.size)),
            "marketing_opt_in": pa.array(pop.opt_in),
        }
    )


def _assignments(chunk: Chunk) -> pa.Table:
    """Users exposed to the experiment: assigned at the start of their first purchase journey."""
    pop, placed = chunk.pop, chunk.placed
    on_purchase = chunk.sim.plan.kind[placed.events.journey] == cat.PURCHASE
    first = np.full(pop.size, _NEVER)
    np.minimum.at(first, placed.customer[on_purchase], placed.micros[on_purchase])
    assigned = np.flatnonzero(first < _NEVER)
    experiment = par.EXPERIMENT
    return pa.table(
        {
            "user_id": ids.take(chunk.names.user_ids, assigned),
            "experiment": _strings(experiment.name, len(assigned)),
            "variant": ids.take(pa.array(experiment.variants), pop.variant[assigned]),
            "timestamp": pa.array(first[assigned], type=TIMESTAMP),
        }
    )
