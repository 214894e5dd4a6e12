"""Rule-based attribution on aggregated paths: first, last, linear, position-based, time decay.

Each model splits every path's conversions (and their value) over the path's steps with weights
that sum to one. Steps are counted per occurrence, as ChannelAttribution's ``heuristic_models``
does: in ``a > b > a`` linear gives ``a`` two thirds. ``first``, ``last`` and ``linear`` equal
ChannelAttribution exactly (tests/test_attribution_realdata.py).

- position-based (U-shaped, 40/20/40): a one-step path gives its step everything, two steps half
  each; longer paths give 40% to the first and to the last step and share 20% equally among the
  steps between.
- time decay on a path file (no timestamps): by position, a step ``k`` steps before the last gets
  weight ``0.5 ** (k / half_life_steps)``. On journeys the decay is by time and is computed in the
  engine (``attribution_journeys.time_decay_credit``).

All of it is numpy over the flat steps of the distinct paths (no loop over paths).

Example:
    >>> from journeylens.decisions.attribution_paths import AttributionPaths
    >>> paths = AttributionPaths.from_lists([["a", "b", "a"]], [3], [30.0], [0], source="x")
    >>> credit = heuristic_credit(paths, "linear")
    >>> credit.conversions.tolist(), credit.value.tolist()
    ([2.0, 1.0], [20.0, 10.0])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from journeylens.decisions.attribution_paths import AttributionPaths

HEURISTICS = ("first", "last", "linear", "position", "time_decay")


@dataclass(frozen=True)
class Credit:
    """Conversions and value credited to each step name (aligned with ``paths.names``)."""

    conversions: np.ndarray
    value: np.ndarray


@dataclass(frozen=True)
class _Positions:
    """Per element of ``flat``: its path's length and its 0-based position in the path."""

    length: np.ndarray
    position: np.ndarray


def _positions(paths: AttributionPaths) -> _Positions:
    owner = paths.path_index
    length = paths.lengths[owner]
    return _Positions(length, np.arange(len(paths.flat)) - paths.offsets[:-1][owner])


def _first(p: _Positions, half_life: float) -> np.ndarray:
    return (p.position == 0).astype(float)


def _last(p: _Positions, half_life: float) -> np.ndarray:
    return (p.position == p.length - 1).astype(float)


def _linear(p: _Positions, half_life: float) -> np.ndarray:
    return 1.0 / p.length


def _position(p: _Positions, half_life: float) -> np.ndarray:
    ends = (p.position == 0) | (p.position == p.length - 1)
    middle = 0.2 / np.maximum(p.length - 2, 1)
    return np.where(p.length <= 2, 1.0 / p.length, np.where(ends, 0.4, middle))


def _time_decay(p: _Positions, half_life: float) -> np.ndarray:
    raw = 0.5 ** ((p.length - 1 - p.position) / half_life)
    # The weights of a path sum to 1: a geometric series over its length.
    total = (1 - 0.5 ** (p.length / half_life)) / (1 - 0.5 ** (1 / half_life))
    return np.asarray(raw / total)


_WEIGHTS: dict[str, Callable[[_Positions, float], np.ndarray]] = {
    "first": _first,
    "last": _last,
    "linear": _linear,
    "position": _position,
    "time_decay": _time_decay,
}


def heuristic_credit(paths: AttributionPaths, model: str, *, half_life_steps: float = 1.0) -> Credit:
    """Credit per step name under the rule ``model`` (one of :data:`HEURISTICS`)."""
    weights = _WEIGHTS[model](_positions(paths), half_life_steps)
    owner = paths.path_index
    return spread(paths, weights * paths.conversions[owner], weights * paths.value[owner])


def spread(paths: AttributionPaths, conversions: np.ndarray, value: np.ndarray) -> Credit:
    """Sum per-element credits (aligned with ``flat``) per step name."""
    n = len(paths.names)
    return Credit(
        np.bincount(paths.flat, weights=conversions, minlength=n),
        np.bincount(paths.flat, weights=value, minlength=n),
    )
