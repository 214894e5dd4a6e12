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
import pyarrow.compute as pc

from journeylens.synth import _catalogue as cat
from journeylens.synth import _parameters as par
from journeylens.synth._assembly import TIMESTAMP, Names, PlacedEvents
from journeylens.synth._events import DAY, IntArray, draw
from journeylens.synth.journeys import Simulation
from journeylens.synth.population import (
    AGE_BAND_SHARES,
    DEFAULT_NUMBER_E164,
    DEFAULT_NUMBER_RAW,
    EMAIL_STYLES,
    PHONE_STYLES,
    PLAN_BY_SEGMENT,
    Population,
    crm_ids,
    emails,
    phone_subscribers,
    raw_emails,
    raw_phones,
)

_US = 1_000_000
_HISTORY_START_US = 1_546_300_800 * _US  # 2019-01-01: existing customers signed up after this
SHARED_KINDS = ("family_tablet", "store_kiosk", "call_centre_default_number")


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
    owner = np.repeat(np.arange(len(counts)), counts)
    position = np.arange(len(owner)) - (np.cumsum(counts) - counts)[owner]
    return owner, position


def _source(index: IntArray | int, n: int) -> pa.Array:
    names = pa.array([f'{{"source":"{s}"}}' for s in cat.SOURCES])
    return names.take(pa.array(np.broadcast_to(np.asarray(index, dtype=np.int64), (n,))))


def _identity_rows(
    kind: str, value: pa.Array, user: pa.Array, anonymous: pa.Array, micros: IntArray, source: pa.Array
) -> pa.Table:
    return pa.table(
        {
            "identifier_type": pa.array([kind] * len(value), pa.string()),
            "identifier_value": value,
            "user_id": user,
            "anonymous_id": anonymous,
            "timestamp": pa.array(micros, type=TIMESTAMP),
            "properties": source,
        }
    )


def _truth_rows(
    kind: str, raw: pa.Array, normalised: pa.Array, customer: pa.Array, shared: str | None
) -> pa.Table:
    n = len(raw)
    return pa.table(
        {
            "identifier_type": pa.array([kind] * n, pa.string()),
            "identifier_value_raw": raw,
            "identifier_value_normalised": normalised,
            "customer": customer,
            "shared": pa.array(np.full(n, shared is not None)),
            "shared_kind": pa.array([shared] * n, pa.string()),
        }
    )


def signup_micros(
    rng: np.random.Generator, pop: Population, placed: PlacedEvents, window_start_us: int, days: int
) -> IntArray:
    """Signup time: first identified event for first_time customers, else before the window."""
    first_known = np.full(pop.size, np.iinfo(np.int64).max)
    np.minimum.at(first_known, placed.customer[placed.has_user], placed.micros[placed.has_user])
    first_seen = np.full(pop.size, np.iinfo(np.int64).max)
    np.minimum.at(first_seen, placed.customer, placed.micros)
    in_window = window_start_us + (rng.random(pop.size) * days * DAY * _US).astype(np.int64)
    new = np.minimum(first_known, first_seen)
    new = np.where(new == np.iinfo(np.int64).max, in_window, new)
    history = _HISTORY_START_US + (rng.random(pop.size) * (window_start_us - _HISTORY_START_US)).astype(
        np.int64
    )
    return np.where(pop.segment == cat.FIRST_TIME, new, history)


def build_records(
    rng: np.random.Generator,
    seed: int,
    pop: Population,
    sim: Simulation,
    placed: PlacedEvents,
    names: Names,
    window_start_us: int,
    days: int,
) -> Records:
    """Customers, identities, assignments and the identifier truth of one chunk."""
    window_end_us = window_start_us + int(days * DAY) * _US
    signup = signup_micros(rng, pop, placed, window_start_us, days)
    users = names.user_ids
    normalised = emails(pop, rng)
    style = rng.integers(0, EMAIL_STYLES, pop.size)

    crm = crm_ids(pop)
    crm_rows = _identity_rows(
        "crm_id", crm, users, pa.nulls(pop.size, pa.string()), signup, _source(0, pop.size)
    )

    owner, position = _repeat_rows(1 + (rng.random(pop.size) < 0.5) + (rng.random(pop.size) < 0.2))
    later = signup[owner] + (rng.random(len(owner)) * (window_end_us - signup[owner])).astype(np.int64)
    email_raw = raw_emails(normalised.take(pa.array(owner)), style[owner] + position)
    email_users = users.take(pa.array(owner))
    email_rows = _identity_rows(
        "email", email_raw, email_users, pa.nulls(len(owner), pa.string()),
        np.where(position == 0, signup[owner], later), _source(np.array([0, 1, 3])[position], len(owner)),
    )  # fmt: skip

    phone_counts = np.where(pop.has_phone, 1 + (rng.random(pop.size) < 0.4), 0)
    p_owner, p_position = _repeat_rows(phone_counts)
    p_style = rng.integers(0, PHONE_STYLES, pop.size)[p_owner] + p_position
    phone_raw, e164 = raw_phones(pop.country[p_owner], phone_subscribers(pop, seed)[p_owner], p_style)
    p_later = signup[p_owner] + (rng.random(len(p_owner)) * (window_end_us - signup[p_owner])).astype(
        np.int64
    )
    phone_rows = _identity_rows(
        "phone", phone_raw, users.take(pa.array(p_owner)), pa.nulls(len(p_owner), pa.string()),
        np.where(p_position == 0, signup[p_owner], p_later), _source(np.array([0, 2])[p_position], len(p_owner)),
    )  # fmt: skip

    d_owner = np.flatnonzero(pop.default_number)
    default_raw = pa.array(DEFAULT_NUMBER_RAW).take(
        pa.array(rng.integers(0, len(DEFAULT_NUMBER_RAW), len(d_owner)))
    )
    d_micros = window_start_us + (rng.random(len(d_owner)) * days * DAY * _US).astype(np.int64)
    default_rows = _identity_rows(
        "phone", default_raw, users.take(pa.array(d_owner)), pa.nulls(len(d_owner), pa.string()),
        d_micros, _source(2, len(d_owner)),
    )  # fmt: skip

    ev = placed.events
    said = np.flatnonzero(ev.identify & placed.has_anonymous)
    who = placed.customer[said]
    identify_rows = _identity_rows(
        "email",
        raw_emails(normalised.take(pa.array(who)), style[who]),
        users.take(pa.array(who, type=pa.int64(), mask=~placed.has_user[said])),
        names.anonymous_ids.take(pa.array(ev.slot[said])),
        placed.micros[said],
        _source(np.where(ev.touchpoint[said] == cat.tp("newsletter_signup"), 3, 4), len(said)),
    )
    identities = pa.concat_tables([crm_rows, email_rows, phone_rows, default_rows, identify_rows])

    shared, anonymous_truth = _device_truth(pop, placed, names)
    default_customers = users.take(pa.array(d_owner))
    identifier_truth = pa.concat_tables(
        [
            _truth_rows("crm_id", crm, crm, users, None),
            _truth_rows("email", email_raw, normalised.take(pa.array(owner)), email_users, None),
            _truth_rows("phone", phone_raw, e164, users.take(pa.array(p_owner)), None),
            _truth_rows(
                "phone", default_raw, pa.array([DEFAULT_NUMBER_E164] * len(d_owner), pa.string()),
                default_customers, SHARED_KINDS[2],
            ),
            anonymous_truth,
        ]
    )  # fmt: skip
    shared = pa.concat_tables(
        [
            shared,
            pa.table(
                {
                    "identifier_type": pa.array(["phone"] * len(d_owner), pa.string()),
                    "value": pa.array([DEFAULT_NUMBER_E164] * len(d_owner), pa.string()),
                    "kind": pa.array([SHARED_KINDS[2]] * len(d_owner), pa.string()),
                    "customer": default_customers,
                }
            ),
        ]
    )
    return Records(
        customers=_customers(rng, pop, users, normalised, signup),
        identities=identities,
        assignments=_assignments(pop, sim, placed, users),
        identifier_truth=identifier_truth,
        shared=shared,
    )


def _device_truth(pop: Population, placed: PlacedEvents, names: Names) -> tuple[pa.Table, pa.Table]:
    """Which customer each used anonymous_id belongs to; tablets and kiosks used by several."""
    used = np.unique(placed.events.slot[placed.has_anonymous])
    device = pop.slot_device[used]
    kind = pop.slot_shared[used]
    tablet = kind == 1
    users_per_tablet = np.bincount(device[tablet], minlength=int(device.max(initial=0)) + 1)
    shared_tablet = tablet & (users_per_tablet[np.where(tablet, device, 0)] >= 2)
    is_shared = shared_tablet | (kind == 2)
    shared_kind = np.where(kind == 2, 1, 0)
    anonymous = names.anonymous_ids.take(pa.array(used))
    customer = names.user_ids.take(pa.array(pop.slot_customer[used]))
    kinds = pa.array(SHARED_KINDS[:2])
    truth = pa.table(
        {
            "identifier_type": pa.array(["anonymous_id"] * len(used), pa.string()),
            "identifier_value_raw": anonymous,
            "identifier_value_normalised": anonymous,
            "customer": customer,
            "shared": pa.array(is_shared),
            "shared_kind": kinds.take(pa.array(shared_kind, mask=~is_shared)),
        }
    )
    rows = pa.array(np.flatnonzero(is_shared))
    shared = pa.table(
        {
            "identifier_type": truth.column("identifier_type").take(rows),
            "value": anonymous.take(rows),
            "kind": truth.column("shared_kind").take(rows),
            "customer": customer.take(rows),
        }
    )
    return shared, truth


def _customers(
    rng: np.random.Generator, pop: Population, users: pa.Array, normalised: pa.Array, signup: IntArray
) -> pa.Table:
    offsets = np.cumsum([0] + [len(cat.CITIES[c]) for c in cat.COUNTRIES])
    all_cities = pa.array([city for c in cat.COUNTRIES for city in cat.CITIES[c]])
    sizes = np.diff(offsets)
    city = offsets[pop.country] + (rng.random(pop.size) * sizes[pop.country]).astype(np.int64)
    member = pop.tablet_slot >= 0
    city = np.where(member, city[(np.arange(pop.size) // 3) * 3], city)
    plan = np.empty(pop.size, dtype=np.int64)
    for segment, cum in enumerate(PLAN_BY_SEGMENT):
        rows = np.flatnonzero(pop.segment == segment)
        plan[rows] = draw(rng, cum, len(rows))
    age = draw(rng, AGE_BAND_SHARES, pop.size)
    return pa.table(
        {
            "user_id": users,
            "segment": pa.array(cat.SEGMENTS).take(pa.array(pop.segment)),
            "country": pa.array(cat.COUNTRIES).take(pa.array(pop.country)),
            "city": all_cities.take(pa.array(city)),
            "signup_date": pa.array((signup // (86_400 * _US)).astype(np.int32), type=pa.date32()),
            "age_band": pa.array(cat.AGE_BANDS).take(pa.array(age)),
            "plan": pa.array(cat.PLANS).take(pa.array(plan)),
            "email": raw_emails(normalised, rng.integers(0, EMAIL_STYLES, pop.size)),
            "marketing_opt_in": pa.array(pop.opt_in),
        }
    )


def _assignments(pop: Population, sim: Simulation, placed: PlacedEvents, users: pa.Array) -> pa.Table:
    """Users exposed to the experiment: assigned at the start of their first purchase journey."""
    on_purchase = sim.plan.kind[placed.events.journey] == cat.PURCHASE
    first = np.full(pop.size, np.iinfo(np.int64).max)
    np.minimum.at(first, placed.customer[on_purchase], placed.micros[on_purchase])
    assigned = np.flatnonzero(first < np.iinfo(np.int64).max)
    experiment = par.EXPERIMENT
    return pa.table(
        {
            "user_id": users.take(pa.array(assigned)),
            "experiment": pa.array([experiment.name] * len(assigned), pa.string()),
            "variant": pa.array(experiment.variants).take(pa.array(pop.variant[assigned])),
            "timestamp": pa.array(first[assigned], type=TIMESTAMP),
        }
    )
