"""What a journey simulator works on (a :class:`Batch`, walked by a :class:`Walk`) and gives back.

A batch is every journey of one type in a chunk, with the per-journey facts the simulator needs.
Outcomes are written into plan-wide arrays (the per-journey ground truth); survey invitations
are returned so that :mod:`journeylens.synth.feedback` can turn them into answers.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from journeylens.synth._events import (
    BoolArray,
    EventBuffer,
    Field,
    FloatArray,
    IntArray,
    Who,
    into_open_hours,
    waits,
)


@dataclass(frozen=True)
class Batch:
    """Journeys of one type: one entry per journey, aligned arrays."""

    journey: IntArray
    """Index into the chunk's journey plan."""
    customer: IntArray
    segment: IntArray
    subtype: IntArray
    slot: IntArray
    """Device slot the digital part of the journey runs on."""
    channel: IntArray
    """Digital channel of that device (web or app)."""
    tod: FloatArray
    """Time of day (UTC seconds) of the planned start."""
    day: FloatArray
    """Planned start in days since the window start (follow-ups: estimated; placement moves it)."""
    variant: IntArray
    opt_in: BoolArray
    kiosk_slot: IntArray
    follow_up: BoolArray
    """A delivery problem that follows an earlier order (it carries that order's id)."""

    def __len__(self) -> int:
        return len(self.journey)


@dataclass(frozen=True)
class Outcomes:
    """Per-journey ground truth, one entry per planned journey; simulators fill their rows."""

    outcome: IntArray
    contacts: IntArray
    first_contact_resolution: BoolArray
    leakage: BoolArray
    """A digital self-service attempt ended in a call."""
    channel_switches: IntArray
    payment_error: BoolArray
    billing_faq: BoolArray
    carrier: IntArray
    first_agent: IntArray
    value: FloatArray
    has_order: BoolArray
    delivery_problem: BoolArray
    """The order will be followed by a delivery_problem support journey."""
    p_order_control: FloatArray
    """P(order) of a purchase journey had the user been in control (experiment truth)."""
    reached_checkout: BoolArray
    """A purchase journey got to checkout."""

    @classmethod
    def empty(cls, n: int) -> Outcomes:
        return cls(
            outcome=np.full(n, -1, np.int64),
            contacts=np.zeros(n, np.int64),
            first_contact_resolution=np.zeros(n, np.bool_),
            leakage=np.zeros(n, np.bool_),
            channel_switches=np.zeros(n, np.int64),
            payment_error=np.zeros(n, np.bool_),
            billing_faq=np.zeros(n, np.bool_),
            carrier=np.full(n, -1, np.int64),
            first_agent=np.full(n, -1, np.int64),
            value=np.full(n, np.nan),
            has_order=np.zeros(n, np.bool_),
            delivery_problem=np.zeros(n, np.bool_),
            p_order_control=np.full(n, np.nan),
            reached_checkout=np.zeros(n, np.bool_),
        )

    def extended(self, n: int) -> Outcomes:
        """The same outcomes with room for ``n`` more journeys (follow-ups)."""
        extra = Outcomes.empty(n)
        return Outcomes(
            **{f.name: np.concatenate([getattr(self, f.name), getattr(extra, f.name)]) for f in fields(self)}
        )


@dataclass(frozen=True)
class SurveyInvite:
    """Survey invitations sent at the end of journeys (one entry per invitation)."""

    journey: IntArray
    offset: FloatArray
    """Seconds since the journey's planned start at which the invitation was sent."""
    metric: IntArray
    channel: IntArray
    """Channel the survey asks about."""
    touchpoint: IntArray
    agent: IntArray
    case: BoolArray
    experience: FloatArray
    """Latent experience: resolved quickly > 1, repeat contacts and friction < 0."""
    theme: IntArray
    repeat: BoolArray
    """The customer had to come back (comments may say so)."""

    @classmethod
    def concat(cls, parts: list[SurveyInvite]) -> SurveyInvite:
        return cls(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)})

    @classmethod
    def select(
        cls,
        mask: BoolArray,
        *,
        journey: IntArray,
        offset: FloatArray,
        metric: IntArray | int,
        channel: IntArray | int,
        touchpoint: IntArray | int,
        agent: IntArray | int,
        case: BoolArray | bool,
        experience: FloatArray,
        theme: IntArray | int,
        repeat: BoolArray | bool,
    ) -> SurveyInvite:
        """Invitations for the rows of a batch where ``mask`` is true (scalars broadcast)."""
        n = len(mask)

        def pick(value: object, dtype: type) -> np.ndarray:
            return np.broadcast_to(np.asarray(value, dtype=dtype), (n,))[mask]

        return cls(
            journey=pick(journey, np.int64),
            offset=pick(offset, np.float64),
            metric=pick(metric, np.int64),
            channel=pick(channel, np.int64),
            touchpoint=pick(touchpoint, np.int64),
            agent=pick(agent, np.int64),
            case=pick(case, np.bool_),
            experience=pick(experience, np.float64),
            theme=pick(theme, np.int64),
            repeat=pick(repeat, np.bool_),
        )


@dataclass
class Walk:
    """A batch being simulated: its random stream, its clock and the buffer events go to.

    The clock holds, per journey, the seconds since its planned start; helpers advance it only
    for the journeys selected by a mask, so simulators read as a sequence of steps.
    """

    rng: np.random.Generator
    batch: Batch
    em: EventBuffer
    clock: FloatArray

    @classmethod
    def start(cls, rng: np.random.Generator, batch: Batch, em: EventBuffer) -> Walk:
        return cls(rng, batch, em, np.zeros(len(batch)))

    @property
    def n(self) -> int:
        return len(self.batch)

    def chance(self, p: float | FloatArray) -> BoolArray:
        """One Bernoulli draw per journey."""
        return self.rng.random(self.n) < p

    def emit(self, mask: BoolArray, channel: Field, touchpoint: Field, **fields: Field) -> None:
        """Emit a touchpoint now for the journeys in ``mask``."""
        self.em.emit(self.batch.journey, self.clock, mask, channel, touchpoint, **fields)

    def on_device(self, mask: BoolArray, touchpoint: Field, **fields: Field) -> None:
        """Emit a web or app touchpoint on each journey's device."""
        fields = {"who": int(Who.DEVICE), "slot": self.batch.slot, **fields}
        self.emit(mask, self.batch.channel, touchpoint, **fields)

    def wait(self, mask: BoolArray, median: float, sigma: float, bounds: tuple[float, float]) -> None:
        """Advance the clock of ``mask`` by a log-normal wait."""
        self.clock = self.clock + np.where(mask, waits(self.rng, self.n, median, sigma, bounds), 0.0)

    def pause(self, mask: BoolArray, low: float, high: float) -> None:
        """Advance the clock of ``mask`` by a uniform pause."""
        self.clock = self.clock + np.where(mask, self.rng.uniform(low, high, self.n), 0.0)

    def open_hours(self, mask: BoolArray, hours: tuple[float, float]) -> None:
        """Move the clock of ``mask`` into daily opening hours (UTC)."""
        moved = into_open_hours(self.rng, self.clock, self.batch.tod, hours)
        self.clock = np.where(mask, moved, self.clock)
