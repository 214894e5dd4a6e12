"""Markov-chain attribution with removal effects computed exactly (Anderl et al. 2016).

The chain is ChannelAttribution's: a state of order ``k`` is a window of ``k`` consecutive steps
(a tuple; a path shorter than ``k`` is one state, the whole path), windows slide one step at a
time, and a window equal to the one before is collapsed (``a > a > b`` at order 1 is
``a, b``). Every path adds its journeys (conversions + nulls) to ``(start) -> first state``, to
each state -> next state, and its conversions and nulls to ``last state -> (conversion)`` and
``-> (null)``; transition probabilities are the row-normalised counts.

Removing a channel sends every transition into a state that contains it to ``(null)``. Its
removal effect is ``1 - P(conversion without it) / P(conversion)``, which is also the share of
converting journeys that visit it. Credits are the removal effects normalised to the total
conversions (ChannelAttribution's convention). The value is credited the same way, with each
conversion worth the mean value of the conversions that ended in the same last state (which is
what ChannelAttribution samples from).

ChannelAttribution estimates these probabilities by simulating journeys through the chain
(its answer moves between seeds, by up to a few percent for large channels); here each one is
the solution of a sparse linear system: for the absorbing chain with transient block ``Q``,
``P(conversion) = e_start' (I - Q)^-1 r`` with ``r`` the one-step conversion probabilities, and
a removal deletes the rows and columns of the channel's states. One sparse LU per channel gives
both the conversion and the value effect. Paths longer than the longest observed path are not
cut off (ChannelAttribution's simulation counts such walks as non-converting).

Example:
    >>> from journeylens.decisions.attribution_paths import AttributionPaths
    >>> paths = AttributionPaths.from_lists([["a", "b"], ["b"]], [1, 1], [10.0, 20.0], [1, 1], source="x")
    >>> result = markov_credit(paths, order=1)
    >>> [round(x, 4) for x in result.removal_effects.tolist()]
    [0.5, 1.0]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from journeylens.decisions.attribution_heuristics import Credit
from journeylens.decisions.attribution_paths import AttributionPaths


@dataclass(frozen=True)
class MarkovChain:
    """The aggregated chain: ``counts[i, j]`` journeys from transient state i to j (state 0 is
    ``(start)``), per state the conversions, their value and the nulls that end there, and
    ``members[i, c]``: whether state i contains step name c."""

    codes: np.ndarray
    counts: sp.csr_matrix
    conversions: np.ndarray
    value: np.ndarray
    nulls: np.ndarray
    members: sp.csc_matrix
    names: list[str]
    order: int

    def states(self) -> list[tuple[str, ...]]:
        """The transient states as tuples of step names (``()`` is ``(start)``)."""
        base = len(self.names) + 1
        decoded: list[tuple[str, ...]] = [()]
        for code in self.codes.tolist():
            digits = [(code // base**j) % base for j in range(self.order)]
            decoded.append(tuple(self.names[d - 1] for d in digits if d))
        return decoded


@dataclass(frozen=True)
class MarkovResult:
    """Removal effects (conversions and value) and the credits they imply, per step name."""

    credit: Credit
    removal_effects: np.ndarray
    value_removal_effects: np.ndarray
    conversion_probability: float
    states: int


def _window_codes(paths: AttributionPaths, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Each path's states as integer codes (digits in base ``names + 1``, 0 pads a window of a
    path shorter than ``order``) and the path of each, in path order, repeats collapsed."""
    base = len(paths.names) + 1
    owner = paths.path_index
    length = paths.lengths[owner]
    position = np.arange(len(paths.flat)) - paths.offsets[:-1][owner]
    padded = np.concatenate([paths.flat + 1, np.zeros(order, dtype=np.int64)])
    codes = np.zeros(len(paths.flat), dtype=np.int64)
    for j in range(order):
        inside = position + j < length
        codes += np.where(inside, padded[j : j + len(paths.flat)], 0) * base**j
    starts = position <= np.maximum(length - order, 0)
    codes, owner = codes[starts], owner[starts]
    repeat = np.zeros(len(codes), dtype=bool)
    repeat[1:] = (codes[1:] == codes[:-1]) & (owner[1:] == owner[:-1])
    return codes[~repeat], owner[~repeat]


def build_chain(paths: AttributionPaths, order: int) -> MarkovChain:
    """Count the chain's transitions over the distinct paths (numpy on aggregated paths)."""
    codes, owner = _window_codes(paths, order)
    unique, inverse = np.unique(codes, return_inverse=True)
    state = inverse.astype(np.int64) + 1
    n = len(unique) + 1
    first = np.ones(len(state), dtype=bool)
    first[1:] = owner[1:] != owner[:-1]
    last = np.ones(len(state), dtype=bool)
    last[:-1] = first[1:]
    previous = np.where(first, 0, np.concatenate([[0], state[:-1]]))
    total = (paths.conversions + paths.nulls)[owner]
    counts = sp.csr_matrix((total, (previous, state)), shape=(n, n))
    ends, ended = state[last], owner[last]
    base = len(paths.names) + 1
    digits = [(unique // base**j) % base - 1 for j in range(order)]
    rows = np.concatenate([np.arange(1, n)] * order)
    cols = np.concatenate(digits)
    inside = cols >= 0
    members = sp.csc_matrix(
        (np.ones(int(inside.sum())), (rows[inside], cols[inside])), shape=(n, len(paths.names))
    )
    return MarkovChain(
        codes=unique,
        counts=counts,
        conversions=np.bincount(ends, weights=paths.conversions[ended], minlength=n),
        value=np.bincount(ends, weights=paths.value[ended], minlength=n),
        nulls=np.bincount(ends, weights=paths.nulls[ended], minlength=n),
        members=members,
        names=paths.names,
        order=order,
    )


def _absorbing(chain: MarkovChain) -> tuple[sp.csc_matrix, np.ndarray]:
    """``I - Q`` and the rewards per state: (conversion probability, expected value per step)."""
    out = np.asarray(chain.counts.sum(axis=1)).ravel() + chain.conversions + chain.nulls
    safe = np.where(out > 0, out, 1.0)
    q = sp.diags(1.0 / safe) @ chain.counts
    conv = chain.conversions / safe
    mean_value = np.divide(
        chain.value, chain.conversions, out=np.zeros_like(chain.value), where=chain.conversions > 0
    )
    rewards = np.column_stack([conv, conv * mean_value])
    return sp.csc_matrix(sp.identity(q.shape[0]) - q), rewards


def _from_start(system: sp.csc_matrix, rewards: np.ndarray) -> np.ndarray:
    """(P(conversion), expected value) from ``(start)`` (state 0): one transposed sparse solve."""
    start = np.zeros(system.shape[0])
    start[0] = 1.0
    visits = splu(sp.csc_matrix(system.T)).solve(start)
    return np.asarray(visits @ rewards)


def markov_credit(paths: AttributionPaths, *, order: int = 1) -> MarkovResult:
    """Exact removal effects and credits of the order-``order`` chain (module doc)."""
    chain = build_chain(paths, order)
    system, rewards = _absorbing(chain)
    base = _from_start(system, rewards)
    effects = np.zeros((len(paths.names), 2))
    for k in range(len(paths.names)):
        column = chain.members[:, k]
        keep = np.ones(system.shape[0], dtype=bool)
        keep[column.indices] = False
        kept = np.flatnonzero(keep)
        without = _from_start(system[kept][:, kept], rewards[kept])
        effects[k] = np.divide(base - without, base, out=np.zeros(2), where=base > 0)
    return MarkovResult(
        credit=Credit(
            _normalised(effects[:, 0], paths.total_conversions), _normalised(effects[:, 1], paths.total_value)
        ),
        removal_effects=effects[:, 0],
        value_removal_effects=effects[:, 1],
        conversion_probability=float(base[0]),
        states=system.shape[0] - 1,
    )


def _normalised(effects: np.ndarray, total: float) -> np.ndarray:
    s = effects.sum()
    return effects / s * total if s > 0 else np.zeros_like(effects)
