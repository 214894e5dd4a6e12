"""Benchmark stages for attribution: exact Markov removal effects on a path file next to
ChannelAttribution's simulation (the peer), and ``attribution`` on the world's journeys next to a
hand-written DuckDB path aggregation (the floor).

The path file is written from the world (untimed): each journey's channels in step order, in
ChannelAttribution's layout (``path`` joined by ' > ', total_conversions,
total_conversion_value, total_null; a conversion is a successful journey). ``attribution_o1`` and
``attribution_o3`` read it and solve the order-1 and order-3 chains exactly; ChannelAttribution
runs as a process of its own (``scripts/channelattribution_peer.py``: GPL, test-only), so its
time includes starting Python, pandas and the package and reading the file; the script also
writes the seconds ``markov_model`` alone took (``ca_markov-o{order}.json``). Rows: paths.

``attribution_journeys`` runs every model (Markov order 1) from the journeys: the engine
aggregates the paths and the time decay, numpy and scipy do the rest; its floor is the path
aggregation alone in SQL. Rows: the events of the journeys.
"""

from __future__ import annotations

import json
from pathlib import Path

from journeylens.benchmark.discovery_stages import PM4PY_PEER, _world_duckdb
from journeylens.benchmark.stages import JOURNEYS, WORLD, preparation, stage
from journeylens.decisions.attribution import journey_attribution
from journeylens.decisions.attribution_markov import markov_credit
from journeylens.decisions.attribution_paths import read_path_file
from journeylens.errors import InputError
from journeylens.specs.attribution import AttributionSpec
from journeylens.workspace import Workspace

PATH_FILE = "attribution_paths.csv"
PATHS = "attribution_paths"
CA_PEER = PM4PY_PEER.with_name("channelattribution_peer.py")
CREDITS = "ca_markov-o{order}.json"

FLOOR_SQL = """
SELECT count(*) AS paths, sum(conversions) AS conversions, sum(events) AS events FROM (
    SELECT path, sum((outcome = 'success')::INT) AS conversions, sum(n) AS events
    FROM (
        SELECT je.journey_id, any_value(j.outcome) AS outcome, count(*) AS n,
               string_agg(e.channel, ' > ' ORDER BY je.step) AS path
        FROM journey_events je JOIN journeys j USING (journey_id) JOIN events e USING (event_id)
        GROUP BY je.journey_id
    ) GROUP BY path
)
"""


@preparation(PATHS, after=JOURNEYS)
def write_path_file(data: Path, work: Path, memory_limit: str | None) -> int:
    """The world's decided journeys as a ChannelAttribution path file (channels in step order)."""
    con = _world_duckdb(work)
    path = str(work / PATH_FILE)
    con.execute(
        f"""COPY (
            SELECT path, sum((outcome = 'success')::INT) AS total_conversions,
                   sum(CASE WHEN outcome = 'success' THEN coalesce(value, 0) ELSE 0 END)
                       AS total_conversion_value,
                   sum((outcome <> 'success')::INT) AS total_null
            FROM (
                SELECT je.journey_id, any_value(j.outcome) AS outcome, any_value(j.value) AS value,
                       string_agg(e.channel, ' > ' ORDER BY je.step) AS path
                FROM journey_events je JOIN journeys j USING (journey_id) JOIN events e USING (event_id)
                WHERE j.outcome NOT IN ('open', 'unknown')
                GROUP BY je.journey_id
            ) GROUP BY path ORDER BY path
        ) TO '{path}' (HEADER, DELIMITER ';')"""
    )
    rows = con.execute(f"SELECT count(*) FROM read_csv('{path}', delim = ';')").fetchone()
    con.close()
    return int(rows[0]) if rows else 0


def _ours(work: Path, order: int) -> int:
    paths = read_path_file(work / PATH_FILE)
    result = markov_credit(paths, order=order)
    credits = dict(zip(paths.names, result.credit.conversions.tolist(), strict=True))
    (work / f"attribution-o{order}.json").write_text(json.dumps(credits))
    return len(paths.lengths)


def _peer(work: Path, order: int) -> int:
    import subprocess
    import sys

    if not CA_PEER.is_file():
        raise InputError(
            f"The ChannelAttribution peer {CA_PEER} is missing: it is part of the source checkout, not "
            "the package.",
            hint="Run `journeylens bench` from a clone of the repository, or leave out the ca_markov stages.",
        )
    out = work / CREDITS.format(order=order)
    done = subprocess.run(
        [sys.executable, str(CA_PEER), str(work / PATH_FILE), str(order), str(out)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode:
        raise RuntimeError(f"ChannelAttribution peer failed:\n{done.stderr[-2000:]}")
    return int(done.stdout.split()[-1])


def _register(order: int) -> None:
    """The stage pair of one Markov order: ours, and ChannelAttribution's (its peer)."""

    @stage(
        f"attribution_o{order}",
        f"exact Markov removal effects, order {order}, on the world's path file (read, chain, one "
        "sparse solve per channel)",
        needs=PATHS, unit="paths", peer=f"ca_markov_o{order}",
    )  # fmt: skip
    def ours(data: Path, work: Path) -> int:
        return _ours(work, order)

    @stage(
        f"ca_markov_o{order}",
        f"ChannelAttribution markov_model, order {order}, on the same path file (a process of its "
        "own; the peer)",
        needs=PATHS, unit="paths", requires=("ChannelAttribution", "test"),
    )  # fmt: skip
    def peer(data: Path, work: Path) -> int:
        return _peer(work, order)


for _order in (1, 3):
    _register(_order)


@stage(
    "floor_attribution_paths",
    "hand-written DuckDB SQL: each journey's channel path in step order, counted per path (the floor)",
    needs=JOURNEYS,
)
def floor_attribution_paths(data: Path, work: Path) -> int:
    con = _world_duckdb(work)
    row = con.execute(FLOOR_SQL).fetchone()
    con.close()
    return int(row[2]) if row else 0


@stage(
    "attribution_journeys",
    "attribution of the world's successful journeys per channel: every model, Markov order 1",
    floor="floor_attribution_paths",
    needs=JOURNEYS,
)
def attribution_journeys(data: Path, work: Path) -> int:
    ws = Workspace.open(work / WORLD)
    result = journey_attribution(ws.store, AttributionSpec())
    events = ws.store.backend.table("journey_events").count()
    rows = int(ws.store.execute(events).as_py())
    ws.close()
    (work / "attribution-journeys.json").write_text(json.dumps(result.credit("markov")))
    return rows
