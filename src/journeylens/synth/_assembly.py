"""Turn a chunk's simulation (integer codes, offsets) into the raw tables and their truth.

This is where identifiers get their final form: events get timestamps, are ordered by time,
carry a user_id only once the customer logged in on the device, and get raw channel spellings;
identities get raw e-mail and phone spellings; every table gets its per-row ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from journeylens.synth import _catalogue as cat
from journeylens.synth import _ids as ids
from journeylens.synth import _parameters as par
from journeylens.synth._events import BoolArray, EventColumns, IntArray, Who, Window
from journeylens.synth.feedback import Answers
from journeylens.synth.journeys import Simulation
from journeylens.synth.population import Agents, Population, anonymous_ids, user_ids

TIMESTAMP = pa.timestamp("us", tz="UTC")
_NO_LOGIN = np.iinfo(np.int64).max


_ALIASES = {
    cat.CALL: np.array([cat.ALIAS_CODES[a] for a in ("phone", "Call", "IVR")]),
    cat.WHATSAPP: np.array([cat.ALIAS_CODES["WhatsApp"]]),
    cat.EMAIL: np.array([cat.ALIAS_CODES["e-mail"]]),
}


@dataclass(frozen=True)
class Names:
    """String forms of a chunk's entities, looked up with ``take``."""

    user_ids: pa.Array
    anonymous_ids: pa.Array
    agent_ids: pa.Array
    journey_ids: pa.Array
    case_ids: pa.Array
    order_fragments: pa.Array
    order_ids: pa.Array


def names_for(seed: int, pop: Population, sim: Simulation, agents: Agents) -> Names:
    """Ids of the chunk's customers, devices, journeys, cases and orders."""
    journeys = np.arange(len(sim.plan))
    order_journey = np.where(sim.plan.parent >= 0, sim.plan.parent, journeys)
    order_ids = ids.hex_ids("o", ids.keys(pop.chunk, order_journey), ids.salt(seed, "order_id"))
    return Names(
        user_ids=user_ids(pop),
        anonymous_ids=anonymous_ids(pop, seed),
        agent_ids=agents.table.column("agent_id").combine_chunks(),
        journey_ids=ids.hex_ids("j", ids.keys(pop.chunk, journeys), ids.salt(seed, "journey_id")),
        case_ids=ids.hex_ids("CS-", ids.keys(pop.chunk, journeys), ids.salt(seed, "case_id")),
        order_fragments=pc.binary_join_element_wise('"order_id":"', order_ids, '"', ""),
        order_ids=order_ids,
    )


@dataclass(frozen=True)
class PlacedEvents:
    """Kept events in output order, with what identity and truth tables need from them."""

    events: EventColumns
    micros: IntArray
    """Timestamp, microseconds since the Unix epoch."""
    customer: IntArray
    has_user: BoolArray
    has_anonymous: BoolArray


def place_events(sim: Simulation, window: Window) -> PlacedEvents:
    """Timestamps, time order and identifier presence of the chunk's kept events."""
    raw = sim.events
    rows = np.flatnonzero(sim.kept[raw.journey])
    millis = np.floor((sim.start[raw.journey[rows]] + raw.offset[rows]) * 1000.0).astype(np.int64)
    order = np.argsort(millis, kind="stable")
    ev = raw.take(rows[order])
    micros = window.start_us + millis[order] * 1000
    on_device = ev.who == int(Who.DEVICE)
    login_at = np.full(int(ev.slot.max(initial=-1)) + 1, _NO_LOGIN, dtype=np.int64)
    logs_in = on_device & ev.login
    np.minimum.at(login_at, ev.slot[logs_in], micros[logs_in])
    has_user = np.where(on_device, micros >= login_at[np.maximum(ev.slot, 0)], ev.who != int(Who.ANONYMOUS))
    has_anonymous = (ev.slot >= 0) & (ev.who != int(Who.KNOWN))
    return PlacedEvents(ev, micros, sim.plan.customer[ev.journey], has_user, has_anonymous)


@dataclass(frozen=True)
class Chunk:
    """One chunk, simulated and placed, with the ids of its entities: input of every table."""

    seed: int
    window: Window
    pop: Population
    sim: Simulation
    placed: PlacedEvents
    names: Names


def _channel_labels(rng: np.random.Generator, channel: IntArray) -> IntArray:
    """Canonical channel codes, with a few rows swapped for raw alias spellings."""
    label = channel.copy()
    for canonical, aliases in _ALIASES.items():
        rows = np.flatnonzero(channel == canonical)
        share = par.CHANNEL_ALIAS_SHARE[cat.CHANNELS[canonical]]
        rows = rows[rng.random(len(rows)) < share]
        label[rows] = aliases[rng.integers(0, len(aliases), len(rows))]
    return label


def _properties(chunk: Chunk) -> pa.Array:
    """JSON objects from a few fragments: device, contact reason, static extras, order id."""
    ev, placed = chunk.placed.events, chunk.placed
    device = np.where(placed.has_anonymous, chunk.pop.slot_kind[np.maximum(ev.slot, 0)], -1)
    combination = ((device + 1) * (len(cat.TOPICS) + 1) + ev.topic + 1) * (len(cat.EXTRA_FRAGMENTS) + 1)
    combination = combination + ev.extra + 1
    properties = ids.take(_CLOSED, combination)
    ordered = np.flatnonzero(ev.order)
    if len(ordered):
        with_order = pc.binary_join_element_wise(
            ids.take(_OPEN, combination[ordered]),
            ids.take(chunk.names.order_fragments, ev.journey[ordered]),
            "}",
            "",
        )
        properties = pc.replace_with_mask(properties, pa.array(ev.order), with_order)
    return properties


def _static_properties() -> tuple[pa.Array, pa.Array]:
    """Every combination of the static fragments, as a closed object and as an open prefix.

    Built once: ``_CLOSED[c]`` is ``{...}`` (null when empty) and ``_OPEN[c]`` is ``{...,`` ready
    for an order id, where ``c`` enumerates (device kind, contact reason, extra), each + 1 so
    that 0 means absent.
    """
    closed: list[str | None] = []
    opened: list[str] = []
    for device in (None, *cat.DEVICE_KINDS):
        for topic in (None, *cat.TOPICS):
            for extra in (None, *cat.EXTRA_FRAGMENTS):
                parts = [f'"device":"{device}"' if device else None,
                         f'"contact_reason":"{topic}"' if topic else None, extra]  # fmt: skip
                body = ",".join(p for p in parts if p)
                closed.append("{" + body + "}" if body else None)
                opened.append("{" + body + ("," if body else ""))
    return pa.array(closed, pa.string()), pa.array(opened, pa.string())


_CLOSED, _OPEN = _static_properties()


def event_tables(rng: np.random.Generator, chunk: Chunk) -> tuple[pa.Table, pa.Table]:
    """The ``events`` part of the chunk (schema.EVENTS columns) and its per-event truth."""
    placed, names, plan = chunk.placed, chunk.names, chunk.sim.plan
    ev = placed.events
    n = len(ev)
    event_ids = ids.hex_ids("e", ids.keys(chunk.pop.chunk, np.arange(n)), ids.salt(chunk.seed, "event_id"))
    user = ids.take(names.user_ids, placed.customer, placed.has_user)
    events = pa.table(
        {
            "event_id": event_ids,
            "timestamp": pa.array(placed.micros, type=TIMESTAMP),
            "user_id": user,
            "anonymous_id": ids.take(names.anonymous_ids, ev.slot, placed.has_anonymous),
            "case_id": ids.take(names.case_ids, ev.journey, ev.case),
            "channel": ids.take(pa.array(cat.CHANNEL_LABELS), _channel_labels(rng, ev.channel)),
            "touchpoint": ids.take(pa.array(cat.TOUCHPOINTS), ev.touchpoint),
            "direction": ids.take(pa.array(cat.DIRECTIONS), ev.outbound.astype(np.int64)),
            "agent_id": ids.take(names.agent_ids, ev.agent, ev.agent >= 0),
            "value": pa.array(ev.value, type=pa.float64(), mask=np.isnan(ev.value)),
            "properties": _properties(chunk),
        }
    )
    subtype = plan.subtype[ev.journey]
    truth = pa.table(
        {
            "event_id": event_ids,
            "customer": ids.take(names.user_ids, placed.customer),
            "journey_id": ids.take(names.journey_ids, ev.journey),
            "journey_type": ids.take(pa.array(cat.JOURNEY_TYPES), plan.kind[ev.journey]),
            "journey_subtype": ids.take(pa.array(cat.SUPPORT_SUBTYPES), subtype, subtype >= 0),
        }
    )
    return events, truth


def journey_truth(chunk: Chunk) -> pa.Table:
    """One row per kept journey: type, span, outcome and the behavioural facts behind it."""
    sim, placed, names = chunk.sim, chunk.placed, chunk.names
    rows = np.flatnonzero(sim.kept)
    first = np.full(len(sim.plan), np.iinfo(np.int64).max)
    last = np.full(len(sim.plan), np.iinfo(np.int64).min)
    count = np.bincount(placed.events.journey, minlength=len(sim.plan))
    np.minimum.at(first, placed.events.journey, placed.micros)
    np.maximum.at(last, placed.events.journey, placed.micros)
    has_case = np.zeros(len(sim.plan), dtype=np.bool_)
    has_case[placed.events.journey[placed.events.case]] = True
    o, plan = sim.outcomes, sim.plan
    subtype, parent, agent = plan.subtype[rows], plan.parent[rows], o.first_agent[rows]
    order_of = np.where(parent >= 0, parent, rows)
    return pa.table(
        {
            "journey_id": ids.take(names.journey_ids, rows),
            "customer": ids.take(names.user_ids, plan.customer[rows]),
            "journey_type": ids.take(pa.array(cat.JOURNEY_TYPES), plan.kind[rows]),
            "journey_subtype": ids.take(pa.array(cat.SUPPORT_SUBTYPES), subtype, subtype >= 0),
            "start": pa.array(first[rows], type=TIMESTAMP),
            "end": pa.array(last[rows], type=TIMESTAMP),
            "events": pa.array(count[rows]),
            "outcome": ids.take(pa.array(cat.OUTCOMES), o.outcome[rows]),
            "contacts": pa.array(o.contacts[rows]),
            "first_contact_resolution": pa.array(o.first_contact_resolution[rows]),
            "leakage": pa.array(o.leakage[rows]),
            "channel_switches": pa.array(o.channel_switches[rows]),
            "payment_error": pa.array(o.payment_error[rows]),
            "billing_faq": pa.array(o.billing_faq[rows]),
            "carrier": ids.take(pa.array(cat.CARRIERS), o.carrier[rows], o.carrier[rows] >= 0),
            "variant": ids.take(pa.array(par.EXPERIMENT.variants), chunk.pop.variant[plan.customer[rows]]),
            "first_agent_id": ids.take(names.agent_ids, agent, agent >= 0),
            "case_id": ids.take(names.case_ids, rows, has_case[rows]),
            "order_id": ids.take(names.order_ids, order_of, o.has_order[order_of]),
            "value": pa.array(o.value[rows], mask=np.isnan(o.value[rows])),
            "parent_journey_id": ids.take(names.journey_ids, parent, parent >= 0),
        }
    )


def feedback_tables(chunk: Chunk, answers: Answers) -> tuple[pa.Table, pa.Table]:
    """The ``feedback`` part of the chunk (schema.FEEDBACK columns) and its per-answer truth."""
    names, seed = chunk.names, chunk.seed
    inv = answers.invite
    n = len(answers)
    order = np.lexsort((np.arange(n), answers.seconds))
    micros = chunk.window.start_us + np.floor(answers.seconds[order] * 1000).astype(np.int64) * 1000
    journey, customer = inv.journey[order], chunk.sim.plan.customer[inv.journey[order]]
    feedback_ids = ids.hex_ids("f", ids.keys(chunk.pop.chunk, np.arange(n)), ids.salt(seed, "feedback_id"))
    metric = inv.metric[order]
    survey = pa.array(
        [f'{{"survey":"{s}"}}' for s in ("nps_post_purchase", "csat_post_contact", "ces_self_service")]
    )
    table = pa.table(
        {
            "feedback_id": feedback_ids,
            "timestamp": pa.array(micros, type=TIMESTAMP),
            "user_id": ids.take(names.user_ids, customer),
            "anonymous_id": pa.nulls(n, pa.string()),
            "case_id": ids.take(names.case_ids, journey, inv.case[order]),
            "channel": ids.take(pa.array(cat.CHANNELS), inv.channel[order]),
            "touchpoint": ids.take(pa.array(cat.TOUCHPOINTS), inv.touchpoint[order]),
            "metric": ids.take(pa.array(cat.FEEDBACK_METRICS), metric),
            "score": pa.array(answers.score[order]),
            "comment": ids.take(answers.comment, order),
            "agent_id": ids.take(names.agent_ids, inv.agent[order], inv.agent[order] >= 0),
            "properties": ids.take(survey, metric),
        }
    )
    truth = pa.table(
        {
            "feedback_id": feedback_ids,
            "customer": table.column("user_id"),
            "journey_id": ids.take(names.journey_ids, journey),
            "theme": ids.take(pa.array(cat.THEMES), inv.theme[order]),
            "tone": ids.take(pa.array(cat.TONES), answers.tone[order]),
        }
    )
    return table, truth
