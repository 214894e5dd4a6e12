"""Journeys of one chunk: plan them, simulate their touchpoints, place them on the calendar.

1. **Plan**: each customer gets a Poisson number of journeys (rate by segment), each with a
   type, a device, a planned day and a time of day drawn from a diurnal profile.
2. **Simulate** by type (purchase, support, information), vectorised over all journeys of the
   type; each journey's events are offsets from its planned start. Orders that will go wrong
   spawn a follow-up delivery_problem support journey.
3. **Place**: journeys of a customer never overlap. Walking each customer's journeys in order
   (a loop over the journey *rank*, never over customers), a journey that would start before
   the previous one ended plus a gap is pushed by whole days, which keeps its time of day, so
   the opening hours the simulators respected stay true. Journeys pushed past the window end
   are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from journeylens.synth import _catalogue as cat
from journeylens.synth import _parameters as par
from journeylens.synth._batch import Batch, Outcomes, SurveyInvite
from journeylens.synth._events import (
    DAY,
    HOUR,
    BoolArray,
    EventBuffer,
    EventColumns,
    FloatArray,
    IntArray,
    cumulative,
    draw,
    draw_rows,
)
from journeylens.synth._information import simulate_information
from journeylens.synth._purchase import simulate_purchases
from journeylens.synth._support import simulate_support
from journeylens.synth.population import Agents, Population, choose_devices

WINDOW_DAYS_REFERENCE = 120
# Diurnal profile (UTC hours): morning, lunch and evening peaks of a Dutch audience.
_DIURNAL = ((8.5, 1.5, 0.30), (12.5, 2.0, 0.35), (19.0, 2.0, 0.35))
_SUBTYPES = cumulative((("billing", 0.42), ("delivery", 0.15), ("technical", 0.30), ("cancel", 0.13)))
_DEVICE_CHANNEL = np.array(cat.DEVICE_CHANNEL)


@dataclass(frozen=True)
class JourneyPlan:
    """Planned journeys of a chunk, one entry per journey."""

    customer: IntArray
    kind: IntArray
    subtype: IntArray
    """Support subtype, or -1."""
    slot: IntArray
    tod: FloatArray
    planned: FloatArray
    """Planned start, seconds since the window start (NaN for follow-ups: set by placement)."""
    order_key: IntArray
    """Order of the customer's journeys: 2 * rank, + 1 for a follow-up of that journey."""
    parent: IntArray
    """Journey whose order a follow-up is about, or -1."""

    def __len__(self) -> int:
        return len(self.customer)


@dataclass(frozen=True)
class Simulation:
    """Everything simulated for one chunk, before strings and ids are made."""

    plan: JourneyPlan
    events: EventColumns
    outcomes: Outcomes
    invites: SurveyInvite
    start: FloatArray
    """Placed start of each journey, seconds since the window start."""
    kept: BoolArray
    """Journeys that start inside the window."""


def times_of_day(rng: np.random.Generator, n: int) -> FloatArray:
    """Start times of day (UTC seconds) following the diurnal profile."""
    component = draw(rng, cumulative(tuple((str(m), w) for m, _, w in _DIURNAL)), n)
    mean = np.array([m for m, _, _ in _DIURNAL])[component]
    sd = np.array([s for _, s, _ in _DIURNAL])[component]
    return np.mod(rng.normal(mean, sd), 24.0) * HOUR


def plan_journeys(rng: np.random.Generator, pop: Population, days: int) -> JourneyPlan:
    """Draw every customer's journeys (count, type, device, planned start)."""
    behaviour = par.SEGMENT_BEHAVIOUR
    rate = np.array([b.journeys_per_120_days for b in behaviour])[pop.segment]
    rate = rate * days / WINDOW_DAYS_REFERENCE
    first_time = pop.segment == cat.FIRST_TIME
    count = np.where(first_time, 1 + rng.poisson(np.maximum(rate - 1, 0)), rng.poisson(rate))
    customer = np.repeat(np.arange(pop.size), count)
    day = rng.uniform(0, days, len(customer))
    order = np.lexsort((day, customer))
    day = day[order]
    rank = np.arange(len(customer)) - (np.cumsum(count) - count)[customer]
    mix = np.array([np.cumsum(b.journey_mix) / np.sum(b.journey_mix) for b in behaviour])
    kind = draw_rows(rng, mix[pop.segment[customer]])
    subtype = np.where(kind == cat.SUPPORT, draw(rng, _SUBTYPES, len(customer)), -1)
    tod = times_of_day(rng, len(customer))
    return JourneyPlan(
        customer=customer,
        kind=kind,
        subtype=subtype,
        slot=choose_devices(rng, pop, customer),
        tod=tod,
        planned=np.floor(day) * DAY + tod,
        order_key=2 * rank,
        parent=np.full(len(customer), -1),
    )


def add_follow_ups(rng: np.random.Generator, plan: JourneyPlan, parents: IntArray) -> JourneyPlan:
    """Append a delivery_problem support journey after each journey in ``parents``."""
    n = len(parents)
    return JourneyPlan(
        customer=np.concatenate([plan.customer, plan.customer[parents]]),
        kind=np.concatenate([plan.kind, np.full(n, cat.SUPPORT)]),
        subtype=np.concatenate([plan.subtype, np.full(n, cat.DELIVERY)]),
        slot=np.concatenate([plan.slot, plan.slot[parents]]),
        tod=np.concatenate([plan.tod, times_of_day(rng, n)]),
        planned=np.concatenate([plan.planned, np.full(n, np.nan)]),
        order_key=np.concatenate([plan.order_key, plan.order_key[parents] + 1]),
        parent=np.concatenate([plan.parent, parents]),
    )


def place_journeys(rng: np.random.Generator, plan: JourneyPlan, duration: FloatArray) -> FloatArray:
    """Start of every journey so that a customer's journeys never overlap (module docstring)."""
    n = len(plan)
    order = np.lexsort((plan.order_key, plan.customer))
    customer = plan.customer[order]
    follow = plan.parent[order] >= 0
    tod, planned, length = plan.tod[order], plan.planned[order], duration[order]
    # Most gaps between journeys are long; a few are short, so boundaries are not trivial.
    gap = np.where(rng.random(n) < 0.1, rng.uniform(1, 6, n), rng.uniform(12, 48, n)) * HOUR
    gap = np.where(follow, rng.uniform(18, 72, n) * HOUR, gap)
    new_customer = np.ones(n, dtype=np.bool_)
    new_customer[1:] = customer[1:] != customer[:-1]
    group_start = np.maximum.accumulate(np.where(new_customer, np.arange(n), 0))
    rank = np.arange(n) - group_start
    start = np.where(rank == 0, planned, np.nan)
    end = start + length
    for r in range(1, int(rank.max(initial=0)) + 1):
        at = np.flatnonzero(rank == r)
        prev = at - 1
        base = np.where(follow[at], start[prev] - tod[prev] + tod[at], planned[at])
        shift = np.ceil(np.maximum(end[prev] + gap[at] - base, 0.0) / DAY) * DAY
        start[at] = base + shift
        end[at] = start[at] + length[at]
    placed = np.empty(n)
    placed[order] = start
    return placed


def _planned_day(plan: JourneyPlan, rows: IntArray) -> FloatArray:
    """Planned start in days; a follow-up's is estimated as its order's plus two days."""
    parent = plan.parent[rows]
    follow_up = plan.planned[np.maximum(parent, 0)] / DAY + FOLLOW_UP_DAYS
    return np.where(parent >= 0, follow_up, plan.planned[rows] / DAY)


FOLLOW_UP_DAYS = 2.0
"""Estimated delay of a delivery problem after its order (placement draws the real one)."""


def _batch(plan: JourneyPlan, pop: Population, kind: int) -> Batch:
    rows = np.flatnonzero(plan.kind == kind)
    customer = plan.customer[rows]
    slot = plan.slot[rows]
    return Batch(
        journey=rows,
        customer=customer,
        segment=pop.segment[customer],
        subtype=plan.subtype[rows],
        slot=slot,
        channel=_DEVICE_CHANNEL[pop.slot_kind[slot]],
        tod=plan.tod[rows],
        day=_planned_day(plan, rows),
        variant=pop.variant[customer],
        opt_in=pop.opt_in[customer],
        kiosk_slot=pop.kiosk_slot[customer],
        follow_up=plan.parent[rows] >= 0,
    )


def simulate_journeys(rng: np.random.Generator, pop: Population, agents: Agents, days: int) -> Simulation:
    """Plan, simulate and place all journeys of a chunk's customers."""
    plan = plan_journeys(rng, pop, days)
    outcomes = Outcomes.empty(len(plan))
    em = EventBuffer()
    invites = [simulate_purchases(rng, _batch(plan, pop, cat.PURCHASE), agents, em, outcomes)]
    parents = np.flatnonzero(outcomes.delivery_problem)
    plan = add_follow_ups(rng, plan, parents)
    outcomes = outcomes.extended(len(parents))
    invites.append(simulate_support(rng, _batch(plan, pop, cat.SUPPORT), agents, em, outcomes))
    invites.append(simulate_information(rng, _batch(plan, pop, cat.INFORMATION), agents, em, outcomes))
    events = em.columns()
    duration = np.zeros(len(plan))
    np.maximum.at(duration, events.journey, events.offset)
    start = place_journeys(rng, plan, duration)
    return Simulation(
        plan=plan,
        events=events,
        outcomes=outcomes,
        invites=SurveyInvite.concat(invites),
        start=start,
        kept=start < days * DAY,
    )
