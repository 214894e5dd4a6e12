"""Shapley-value attribution (Zhao, Mahboobi & Bagheri 2018, "Shapley value methods for
attribution modeling in online advertising").

The coalition game: the worth of a set of channels ``S`` is the conversions (or value) of the
paths whose channels all lie in ``S``. Its Shapley value has a closed form, the *simplified*
Shapley value: each path's conversions are shared equally among the distinct channels it
touched, ``phi_j = sum over sets T containing j of R(T) / |T|`` with ``R(T)`` the conversions of
paths whose channel set is exactly ``T``. The tests check it against the definition (all
coalitions, brute force) to 1e-9.

Repeated channels: coalitions are sets, so a channel touched twice in a path counts once; it gets
the same share as a channel touched once. The *ordered* Shapley value splits each channel's credit
by the position of its **first** touch among the path's distinct channels (1 = the first channel
the customer met), so the ordered credits of a channel sum to its simplified credit.

Example:
    >>> from journeylens.decisions.attribution_paths import AttributionPaths
    >>> paths = AttributionPaths.from_lists([["a", "b", "a"], ["b"]], [4, 1], [8.0, 1.0], [0, 0], source="x")
    >>> shapley_credit(paths).conversions.tolist()
    [2.0, 3.0]
    >>> [(r["step"], r["position"], r["conversions"]) for r in ordered_shapley(paths)]
    [('a', 1, 2.0), ('b', 1, 1.0), ('b', 2, 2.0)]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from journeylens.decisions.attribution_heuristics import Credit
from journeylens.decisions.attribution_paths import AttributionPaths


@dataclass(frozen=True)
class _Touches:
    """Each (path, distinct channel) once: its channel, path, and the rank of its first touch."""

    name: np.ndarray
    owner: np.ndarray
    rank: np.ndarray
    distinct: np.ndarray


def _touches(paths: AttributionPaths) -> _Touches:
    owner = paths.path_index
    keys = owner * len(paths.names) + paths.flat
    _, first = np.unique(keys, return_index=True)
    first = np.sort(first)  # path order, then first-touch order within the path
    owner_u = owner[first]
    distinct = np.bincount(owner_u, minlength=len(paths.lengths))
    group_start = np.concatenate([[0], np.cumsum(distinct)[:-1]])
    rank = np.arange(len(first)) - group_start[owner_u] + 1
    return _Touches(paths.flat[first], owner_u, rank, distinct)


def shapley_credit(paths: AttributionPaths) -> Credit:
    """The simplified Shapley value of every channel (module doc)."""
    t = _touches(paths)
    share = 1.0 / t.distinct[t.owner]
    n = len(paths.names)
    return Credit(
        np.bincount(t.name, weights=share * paths.conversions[t.owner], minlength=n),
        np.bincount(t.name, weights=share * paths.value[t.owner], minlength=n),
    )


def ordered_shapley(paths: AttributionPaths) -> list[dict[str, Any]]:
    """The ordered Shapley value: records of (step, position of first touch, conversions, value)."""
    t = _touches(paths)
    share = 1.0 / t.distinct[t.owner]
    width = int(t.rank.max()) if len(t.rank) else 0
    cells = t.name * (width + 1) + t.rank
    size = len(paths.names) * (width + 1)
    conversions = np.bincount(cells, weights=share * paths.conversions[t.owner], minlength=size)
    value = np.bincount(cells, weights=share * paths.value[t.owner], minlength=size)
    touched = np.bincount(cells, minlength=size)
    return [
        {
            "step": paths.names[int(cell) // (width + 1)],
            "position": int(cell) % (width + 1),
            "conversions": float(conversions[cell]),
            "value": float(value[cell]),
        }
        for cell in np.flatnonzero(touched)
    ]
