"""The planted benchmark of ``journeylens causes``: journeys with known true causes, decoys and nulls.

Each replicate draws 3,000 journeys with 18 touchpoint features: three true causes (each raises the
log-odds of the outcome), three decoys (a proxy of a true cause that has no effect of its own:
present with 70% of the cause's journeys and 6% of the others, or the cause's journeys plus
10% of the rest) and twelve nulls (two of them correlated with each other). The features and the
outcome go into an in-memory DuckDB as the engine tables the search reads, so the replicates run
the same code path as ``journeylens causes`` (every engine aggregation, the contrasts, BH, the
conditional step and the joint model). A found feature is a cause in the result; a true cause is
found when its single feature is.

Measured over 60 replicates (docs/decisions.md, "Root causes"): see the numbers asserted below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ibis
import numpy as np
import pytest

from journeylens.decisions.causes_search import Search, Settings, search

REPLICATES = 60
JOURNEYS = 3_000
TRUE = {"t1": (0.15, 1.0), "t2": (0.10, 1.0), "t3": (0.20, 0.8)}
"""True causes: prevalence and log-odds effect."""
BASE_LOGIT = -2.0


@dataclass(frozen=True)
class World:
    features: dict[str, np.ndarray]
    outcome: np.ndarray


def planted(seed: int) -> World:
    """One replicate: true causes, decoys, nulls and the outcome (module doc)."""
    rng = np.random.default_rng(seed)
    n = JOURNEYS
    f: dict[str, np.ndarray] = {name: rng.random(n) < prev for name, (prev, _) in TRUE.items()}
    f["d1"] = np.where(f["t1"], rng.random(n) < 0.7, rng.random(n) < 0.06)
    f["d2"] = np.where(f["t2"], rng.random(n) < 0.7, rng.random(n) < 0.06)
    f["d3"] = f["t3"] | (rng.random(n) < 0.10)
    for i in range(10):
        f[f"n{i}"] = rng.random(n) < rng.uniform(0.05, 0.4)
    f["n10"] = rng.random(n) < 0.2
    f["n11"] = np.where(f["n10"], rng.random(n) < 0.6, rng.random(n) < 0.1)
    logit = BASE_LOGIT + sum(effect * f[name] for name, (_, effect) in TRUE.items())
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    return World(f, y)


def run(world: World) -> Search:
    """The world through the search, on DuckDB tables shaped like the engine's feature tables."""
    con = ibis.duckdb.connect()
    ids = [f"j{i:05d}" for i in range(JOURNEYS)]
    rows: dict[str, list[Any]] = {"journey_id": [], "family": [], "key": [], "value": [], "label": []}
    for name, present in world.features.items():
        for i in np.flatnonzero(present):
            rows["journey_id"].append(ids[i])
            rows["family"].append("touchpoint")
            rows["key"].append("touchpoint")
            rows["value"].append(f"web:{name}")
            rows["label"].append(f"touchpoint web:{name}")
    features = con.create_table("features", ibis.memtable(rows))
    outcome = con.create_table(
        "outcome", ibis.memtable({"journey_id": ids, "_y": world.outcome.astype("int64")})
    )
    return search(features, outcome, con.to_pyarrow, Settings())


def _name(label: str) -> str:
    return label.removeprefix("touchpoint web:")


@pytest.fixture(scope="module")
def measured() -> dict[str, float]:
    hits = flags = contrast_hits = contrast_flags = single_hits = single_flags = 0
    decoy_replicates = 0
    wrong: dict[str, int] = {}
    for seed in range(REPLICATES):
        result = run(planted(seed))
        found = {_name(r["label"]) for r in result.rows if r["cause"]}
        flagged = {
            _name(r["label"])
            for r in result.rows
            if r["q"] is not None and r["q"] <= 0.05 and r["difference"] > 0
        }
        singles = {f for f in flagged if " & " not in f}
        for name in found - set(TRUE):
            wrong[name] = wrong.get(name, 0) + 1
        hits += len(found & set(TRUE))
        flags += len(found)
        contrast_hits += len(flagged & set(TRUE))
        contrast_flags += len(flagged)
        single_hits += len(singles & set(TRUE))
        single_flags += len(singles)
        decoy_replicates += bool(flagged & {"d1", "d2", "d3"})
    return {
        "precision": hits / flags,
        "recall": hits / (len(TRUE) * REPLICATES),
        "contrast_precision": contrast_hits / contrast_flags,
        "contrast_recall": contrast_hits / (len(TRUE) * REPLICATES),
        "contrast_single_precision": single_hits / single_flags,
        "contrast_decoy_share": decoy_replicates / REPLICATES,
        "false_causes": wrong,  # type: ignore[dict-item]
    }


def test_conditional_step_reaches_precision_and_recall(measured: dict[str, float]) -> None:
    print(measured)
    assert measured["precision"] >= 0.8
    assert measured["recall"] >= 0.85


def test_contrast_and_bh_alone_flag_decoys(measured: dict[str, float]) -> None:
    # Contrast + BH finds the true causes too, but flags decoys: the conditional step is needed.
    assert measured["contrast_recall"] >= measured["recall"]
    assert measured["contrast_decoy_share"] > 0.5
    assert measured["contrast_precision"] < measured["precision"]


def test_decoys_are_named_proxies_of_their_cause() -> None:
    result = run(planted(3))
    verdicts = {_name(r["label"]): r["verdict"] for r in result.rows}
    assert verdicts["d1"] == "proxy of touchpoint web:t1"
    assert {verdicts["t1"], verdicts["t2"], verdicts["t3"]} == {"kept"}
