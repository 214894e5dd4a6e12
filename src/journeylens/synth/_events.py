"""The event buffer the journey simulators write into, and the clock arithmetic they share.

A simulator advances one clock per journey (seconds since the journey's planned start) and emits
touchpoints for the journeys selected by a mask. Nothing here loops over journeys or events: an
``emit`` call appends whole arrays, and :meth:`EventBuffer.columns` concatenates them once.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.integer[Any]]
BoolArray = npt.NDArray[np.bool_]

HOUR = 3600.0
DAY = 86400.0
MICROS = 1_000_000


@dataclass(frozen=True)
class Window:
    """The observed period: events are placed from ``start_us`` over ``days`` days (UTC)."""

    start_us: int
    """Start, microseconds since the Unix epoch."""
    days: int

    @property
    def end_us(self) -> int:
        return self.start_us + int(self.days * DAY) * MICROS


class Who(IntEnum):
    """Which identifiers an event carries."""

    DEVICE = 0
    """The device's anonymous_id; the user_id too once the customer logged in on that device."""
    KNOWN = 1
    """user_id only: e-mail, SMS, WhatsApp, call centre, store loyalty card."""
    KNOWN_ON_DEVICE = 2
    """user_id and the device's anonymous_id: chat widget, kiosk after login."""
    ANONYMOUS = 3
    """anonymous_id only, whatever the login state: a kiosk before anyone logs in."""


@dataclass(frozen=True)
class EventColumns:
    """Concatenated output of the simulators, one entry per event (codes, not strings)."""

    journey: IntArray
    offset: FloatArray
    """Seconds since the journey's planned start."""
    channel: IntArray
    touchpoint: IntArray
    outbound: BoolArray
    who: IntArray
    slot: IntArray
    """Device slot (``Population`` row) or -1."""
    agent: IntArray
    case: BoolArray
    value: FloatArray
    login: BoolArray
    """The customer logs in (or is logged in) on the device at this event."""
    identify: BoolArray
    """The event ties the device to the customer's e-mail (newsletter sign-up, e-mail click)."""
    extra: IntArray
    topic: IntArray
    order: BoolArray
    """The event carries the journey's order_id."""

    def __len__(self) -> int:
        return len(self.journey)

    def take(self, index: IntArray | BoolArray) -> EventColumns:
        """The events selected by ``index`` (a boolean mask or positions)."""
        return EventColumns(**{name: getattr(self, name)[index] for name in _FIELDS})


_FIELDS = tuple(EventColumns.__dataclass_fields__)
_DTYPES: dict[str, type] = {
    "journey": np.int32, "offset": np.float64, "channel": np.int8, "touchpoint": np.int16,
    "outbound": np.bool_, "who": np.int8, "slot": np.int32, "agent": np.int32,
    "case": np.bool_, "value": np.float64, "login": np.bool_, "identify": np.bool_,
    "extra": np.int8, "topic": np.int8, "order": np.bool_,
}  # fmt: skip
_DEFAULTS: dict[str, float | int | bool] = {
    "outbound": False, "who": int(Who.KNOWN), "slot": -1, "agent": -1, "case": False,
    "value": np.nan, "login": False, "identify": False, "extra": -1, "topic": -1, "order": False,
}  # fmt: skip

Field = npt.ArrayLike


class EventBuffer:
    """Collects emitted touchpoints as arrays; see the module docstring."""

    def __init__(self) -> None:
        self._parts: dict[str, list[npt.NDArray[np.generic]]] = {name: [] for name in _FIELDS}

    def emit(
        self,
        journeys: IntArray,
        clock: FloatArray,
        mask: BoolArray,
        channel: Field,
        touchpoint: Field,
        **fields: Field,
    ) -> None:
        """Append one touchpoint for every journey where ``mask`` is true.

        Args:
            journeys: Journey index of each row of the batch.
            clock: The batch's clock; the event happens at the current clock value.
            mask: Which rows of the batch emit.
            channel: Channel code, scalar or one per batch row.
            touchpoint: Touchpoint code, scalar or one per batch row.
            **fields: Any other :class:`EventColumns` field, scalar or one per batch row.
        """
        count = int(mask.sum())
        if count == 0:
            return
        values = {"journey": journeys, "offset": clock, "channel": channel, "touchpoint": touchpoint}
        values.update(fields)
        for name in _FIELDS:
            given = values.get(name, _DEFAULTS.get(name))
            array = np.asarray(given)
            column: npt.NDArray[np.generic]
            if array.ndim == 0:
                column = np.full(count, array, dtype=_DTYPES[name])
            else:
                column = array[mask].astype(_DTYPES[name], copy=False)
            self._parts[name].append(column)

    def columns(self) -> EventColumns:
        """Everything emitted so far, concatenated."""
        return EventColumns(
            **{
                name: np.concatenate(parts) if parts else np.empty(0, _DTYPES[name])
                for name, parts in self._parts.items()
            }
        )


def waits(
    rng: np.random.Generator, n: int, median: float, sigma: float, bounds: tuple[float, float]
) -> FloatArray:
    """Log-normal waiting times in seconds around ``median``, clipped to ``bounds``."""
    return np.clip(rng.lognormal(np.log(median), sigma, n), bounds[0], bounds[1])


def into_open_hours(
    rng: np.random.Generator, clock: FloatArray, start_tod: FloatArray, hours: tuple[float, float]
) -> FloatArray:
    """Move each clock forward to the next moment inside daily opening hours (UTC).

    Args:
        rng: Random stream (a few minutes of jitter after opening time).
        clock: Seconds since each journey's planned start.
        start_tod: Time of day (seconds) of each journey's planned start; placement keeps it.
        hours: Opening and closing hour, UTC.
    """
    opens, closes = hours[0] * HOUR, hours[1] * HOUR
    tod = np.mod(start_tod + clock, DAY)
    jitter = rng.uniform(0.0, 1.5 * HOUR, len(clock))
    early = tod < opens
    late = tod >= closes
    return (
        clock + np.where(early, opens - tod + jitter, 0.0) + np.where(late, DAY - tod + opens + jitter, 0.0)
    )


def cumulative(options: tuple[tuple[str, float], ...]) -> FloatArray:
    """Cumulative probabilities of ``(name, weight)`` options, normalised to end at 1."""
    weights = np.array([w for _, w in options], dtype=np.float64)
    cum = np.cumsum(weights / weights.sum())
    cum[-1] = 1.0
    return cum


def draw(rng: np.random.Generator, cum: FloatArray, n: int) -> IntArray:
    """Draw ``n`` option indices from cumulative probabilities ``cum``."""
    return np.searchsorted(cum, rng.random(n), side="right").astype(np.int64)


def draw_rows(rng: np.random.Generator, cum_rows: FloatArray) -> IntArray:
    """Draw one option index per row, each row with its own cumulative probabilities."""
    u = rng.random(len(cum_rows))
    counts: IntArray = (u[:, None] >= cum_rows).sum(axis=1).astype(np.int64)
    return counts
