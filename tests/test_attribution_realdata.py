"""Attribution against ChannelAttribution (GPL, test-only) and independent references, on its own
example data (../shared/data/journeys/channelattribution_Data.csv: 10,000 paths, 12 channels).

- heuristics: first, last and linear equal ChannelAttribution's ``heuristic_models`` (conversions
  and value), and first/last equal the numbers in ../shared/data/README.md;
- Markov (orders 1, 2, 3): ChannelAttribution simulates; our removal effects are exact. The
  exact credit lies within 3 standard deviations of the mean of ChannelAttribution over 20 seeds
  1,000 apart, and equals a dense numpy reference written here (a different construction: the
  states built path by path in plain Python, removal by redirecting to the null state, absorption
  by a dense solve over the whole chain) to 1e-9;
- Shapley: the simplified value equals the Shapley value computed from its definition over all
  4,096 coalitions of the 12 channels, to 1e-9.

The data and ChannelAttribution are required: a missing file or package fails these tests.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from journeylens.decisions.attribution_heuristics import heuristic_credit
from journeylens.decisions.attribution_markov import markov_credit
from journeylens.decisions.attribution_paths import AttributionPaths, read_path_file
from journeylens.decisions.attribution_shapley import ordered_shapley, shapley_credit

pytestmark = pytest.mark.realdata

DATA = "journeys/channelattribution_Data.csv"
README_FIRST = {"alpha": 6308, "beta": 2831, "eta": 3164, "iota": 4606, "theta": 1606}
README_LAST = {"alpha": 8447, "beta": 989, "eta": 4167, "iota": 3355, "theta": 653}
SEEDS = [1000 * i for i in range(20)]


@pytest.fixture(scope="module")
def data_file(shared_file: Callable[[str], Path]) -> Path:
    return shared_file(DATA)


@pytest.fixture(scope="module")
def frame(data_file: Path) -> pd.DataFrame:
    return pd.read_csv(data_file, sep=";")


@pytest.fixture(scope="module")
def paths(data_file: Path) -> AttributionPaths:
    return read_path_file(data_file)


def _aligned(table: pd.DataFrame, column: str, names: list[str]) -> np.ndarray:
    return table.set_index("channel_name").reindex(names)[column].fillna(0.0).to_numpy(dtype=float)


def test_file_totals(paths: AttributionPaths) -> None:
    assert len(paths.lengths) == 10_000 and len(paths.names) == 12
    assert paths.total_conversions == 19_785 and paths.total_nulls == 68_602
    assert paths.total_value == pytest.approx(74_802.972, abs=5e-4)


def test_heuristics_equal_channelattribution(paths: AttributionPaths, frame: pd.DataFrame) -> None:
    from ChannelAttribution import heuristic_models

    theirs = heuristic_models(
        frame, "path", "total_conversions", var_value="total_conversion_value", flg_pro=False
    )
    for ours, name in (("first", "first_touch"), ("last", "last_touch"), ("linear", "linear_touch")):
        credit = heuristic_credit(paths, ours)
        np.testing.assert_allclose(
            credit.conversions, _aligned(theirs, f"{name}_conversions", paths.names), rtol=1e-12
        )
        np.testing.assert_allclose(credit.value, _aligned(theirs, f"{name}_value", paths.names), rtol=1e-12)
    first = dict(zip(paths.names, heuristic_credit(paths, "first").conversions.tolist(), strict=True))
    last = dict(zip(paths.names, heuristic_credit(paths, "last").conversions.tolist(), strict=True))
    assert {k: first[k] for k in README_FIRST} == README_FIRST
    assert {k: last[k] for k in README_LAST} == README_LAST


# --- Markov ---------------------------------------------------------------------------------------


def _dense_reference(frame: pd.DataFrame, order: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Removal-effect credits (conversions, value) by a dense absorbing chain, built independently."""
    walks: list[tuple[list[tuple[str, ...]], float, float, float]] = []
    for text, conv, val, null in frame[
        ["path", "total_conversions", "total_conversion_value", "total_null"]
    ].itertuples(index=False):
        steps = tuple(s.strip() for s in text.split(">"))
        if len(steps) <= order:
            windows = [steps]
        else:
            windows = [steps[i : i + order] for i in range(len(steps) - order + 1)]
        states = [w for i, w in enumerate(windows) if i == 0 or w != windows[i - 1]]
        walks.append((states, float(conv), float(val), float(null)))
    names = sorted({c for states, *_ in walks for s in states for c in s})
    index = {s: i + 1 for i, s in enumerate(sorted({s for states, *_ in walks for s in states}))}
    n = len(index) + 3  # (start) = 0, states, (conversion) = n - 2, (null) = n - 1
    conv_at, null_at = n - 2, n - 1
    counts = np.zeros((n, n))
    value_at = np.zeros(n)
    for states, conv, val, null in walks:
        seq = [0] + [index[s] for s in states]
        for a, b in itertools.pairwise(seq):
            counts[a, b] += conv + null
        counts[seq[-1], conv_at] += conv
        counts[seq[-1], null_at] += null
        value_at[seq[-1]] += val
    p = counts / np.where(counts.sum(1, keepdims=True) > 0, counts.sum(1, keepdims=True), 1)
    mean_value = np.divide(value_at, counts[:, conv_at], out=np.zeros(n), where=counts[:, conv_at] > 0)

    def absorbed(matrix: np.ndarray) -> tuple[float, float]:
        transient = list(range(n - 2))
        q = matrix[np.ix_(transient, transient)]
        fundamental = np.linalg.inv(np.eye(len(transient)) - q)
        reach = fundamental[0]
        return float(reach @ matrix[transient, conv_at]), float(
            reach @ (matrix[transient, conv_at] * mean_value[transient])
        )

    base = absorbed(p)
    effects = []
    for channel in names:
        removed = p.copy()
        for state, i in index.items():
            if channel in state:
                removed[:, null_at] += removed[:, i]
                removed[:, i] = 0.0
        without = absorbed(removed)
        effects.append([(base[0] - without[0]) / base[0], (base[1] - without[1]) / base[1]])
    arr = np.array(effects)
    total_c, total_v = frame["total_conversions"].sum(), frame["total_conversion_value"].sum()
    return names, arr[:, 0] / arr[:, 0].sum() * total_c, arr[:, 1] / arr[:, 1].sum() * total_v


@pytest.mark.parametrize("order", [1, 2, 3])
def test_exact_markov_equals_a_dense_reference(
    paths: AttributionPaths, frame: pd.DataFrame, order: int
) -> None:
    names, conversions, value = _dense_reference(frame, order)
    ours = markov_credit(paths, order=order)
    assert names == paths.names
    np.testing.assert_allclose(ours.credit.conversions, conversions, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(ours.credit.value, value, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("order", [1, 2, 3])
def test_exact_markov_lies_within_channelattributions_simulation(
    paths: AttributionPaths, frame: pd.DataFrame, order: int
) -> None:
    from ChannelAttribution import markov_model

    runs = [
        markov_model(
            frame, "path", "total_conversions", var_value="total_conversion_value", var_null="total_null",
            order=order, seed=seed, verbose=False, flg_pro=False,
        )
        for seed in SEEDS
    ]  # fmt: skip
    ours = markov_credit(paths, order=order)
    for column, exact in (
        ("total_conversions", ours.credit.conversions),
        ("total_conversion_value", ours.credit.value),
    ):
        simulated = np.array([_aligned(r, column, paths.names) for r in runs])
        mean, sd = simulated.mean(axis=0), simulated.std(axis=0, ddof=1)
        z = (exact - mean) / sd
        assert np.all(np.abs(z) <= 3), dict(zip(paths.names, z.round(2).tolist(), strict=True))
        # The simulation moves between seeds: the exact answer is what it estimates.
        assert np.all(sd > 0)


# --- Shapley --------------------------------------------------------------------------------------


def _brute_force_shapley(paths: AttributionPaths, weights: np.ndarray) -> np.ndarray:
    """The Shapley value from its definition: v(S) = weights of the paths whose channels lie in S."""
    n = len(paths.names)
    masks = np.array(
        [sum(1 << c for c in set(paths.flat[a:b].tolist())) for a, b in itertools.pairwise(paths.offsets)]
    )
    worth = np.zeros(1 << n)
    for coalition in range(1 << n):
        worth[coalition] = weights[(masks & ~coalition) == 0].sum()
    factorial = [math.factorial(k) for k in range(n + 1)]
    values = np.zeros(n)
    for player in range(n):
        bit = 1 << player
        for coalition in range(1 << n):
            if coalition & bit:
                continue
            size = bin(coalition).count("1")
            values[player] += (
                factorial[size]
                * factorial[n - size - 1]
                / factorial[n]
                * (worth[coalition | bit] - worth[coalition])
            )
    return values


def test_simplified_shapley_equals_brute_force(paths: AttributionPaths) -> None:
    simplified = shapley_credit(paths)
    np.testing.assert_allclose(
        simplified.conversions, _brute_force_shapley(paths, paths.conversions), rtol=1e-9, atol=1e-9
    )
    np.testing.assert_allclose(
        simplified.value, _brute_force_shapley(paths, paths.value), rtol=1e-9, atol=1e-9
    )
    ordered: dict[str, float] = {}
    for r in ordered_shapley(paths):
        ordered[r["step"]] = ordered.get(r["step"], 0.0) + r["conversions"]
    np.testing.assert_allclose([ordered[s] for s in paths.names], simplified.conversions, rtol=1e-12)
