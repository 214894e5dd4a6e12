"""Benchmark stage for next best action: scoring journeys against the per-state action ranking.

``nba_scoring`` runs what ``journeylens nba`` runs after the catalogue check: the offline section
(decision sums; the benchmark world logs no decisions, so it states why there is no estimate),
the transition counts of closed journeys (one engine pass), the per-state ranking of a
three-action catalogue (Python, on the aggregated counts), and the scoring join of journeys to it,
streamed out of the engine in Arrow batches. The world has few open journeys, so the stage
scores every journey as if it were open at its last event: the join's cost is per journey. Rows:
journeys scored; the harness records seconds and peak RSS.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from journeylens.benchmark.stages import JOURNEYS, WORLD, preparation, run_size, stage
from journeylens.nba import transitions
from journeylens.nba.catalogue import NbaSettings
from journeylens.nba.offline import offline
from journeylens.nba.recommend import rank_states, score
from journeylens.store import Store
from journeylens.workspace import Workspace

CATALOGUE = NbaSettings.model_validate(
    {
        "actions": [
            {"name": "sms_tracking_link", "touchpoint": "delivery_update", "channel": "sms"},
            {"name": "offer_chat", "touchpoint": "delivery_chat", "channel": "chat"},
            {"name": "self_service", "touchpoint": "track_order", "channel": "web"},
        ]
    }
)
BATCH_ROWS = 250_000


def _ranking(store: Store) -> list[dict[str, Any]]:
    """What ``journeylens nba`` does before scoring: the offline section (no decisions here), the
    transition counts of closed journeys and the per-state ranking of the catalogue."""
    evaluated = offline(store, CATALOGUE.baseline, {})
    counts = store.execute(transitions.transition_counts(store)).to_pylist()
    return rank_states(counts, list(CATALOGUE.actions), evaluated, CATALOGUE.baseline, 30)


@stage(
    "nba_scoring",
    "journeylens nba: transition counts, per-state ranking of 3 actions, scoring join of every "
    "journey (as if open) streamed out in Arrow batches",
    needs=JOURNEYS,
    unit="journeys",
)
def nba_scoring(data: Path, work: Path) -> int:
    ws = Workspace.open(work / WORLD)
    store = ws.store
    ranking = _ranking(store)
    states = transitions.open_states(store, open_only=False)
    recommendations = 0
    for batch in store.backend.to_pyarrow_batches(score(states, ranking, None, 3), chunk_size=BATCH_ROWS):
        recommendations += batch.num_rows
    journeys = int(store.execute(states.count()).as_py())
    ws.close()
    if recommendations < journeys:
        raise RuntimeError(f"{recommendations} recommendation rows for {journeys} journeys: some were lost")
    return journeys


# Scoring at the size (1M open journeys, from a world of about 5M events): as many open
# journeys as the run has events (--events 1M: 1M), more than the world has journeys. The world's
# journey states are repeated under new journey ids into a table of that many rows (untimed),
# and the stage scores it as ``journeylens nba`` scores open journeys.
OPEN_TABLE, OPEN_PREPARED = "bench_open_states", "open_states"


@preparation(OPEN_PREPARED, after=JOURNEYS)
def write_open_states(data: Path, work: Path, memory_limit: str | None) -> int:
    import ibis

    wanted = run_size(data)
    ws = Workspace.open(work / WORLD)
    states = transitions.open_states(ws.store, open_only=False)
    n = int(ws.store.execute(states.count()).as_py())
    copies = ibis.range(-(-wanted // n)).unnest().name("copy").as_table()
    many = states.cross_join(copies)
    many = many.mutate(journey_id=many.journey_id + "#" + many.copy.cast("string")).drop("copy")
    ws.store.backend.create_table(OPEN_TABLE, many.order_by("journey_id").limit(wanted), overwrite=True)
    ws.close()
    return wanted


@stage(
    "nba_open",
    "journeylens nba scoring of as many open journeys as the run has events (the world's states "
    "repeated): transition counts, ranking, scoring join streamed out",
    needs=OPEN_PREPARED,
    unit="journeys",
)
def nba_open(data: Path, work: Path) -> int:
    ws = Workspace.open(work / WORLD)
    store = ws.store
    ranking = _ranking(store)
    states = store.backend.table(OPEN_TABLE)
    journeys = set()
    for batch in store.backend.to_pyarrow_batches(score(states, ranking, None, 3), chunk_size=BATCH_ROWS):
        journeys.update(batch.column("journey_id").unique().to_pylist())
    ws.close()
    if len(journeys) != run_size(data):
        raise RuntimeError(f"{len(journeys)} journeys scored of {run_size(data)}: some were lost")
    return len(journeys)
