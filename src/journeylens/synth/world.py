"""Generate a whole synthetic world: chunk by chunk, written as it goes, with its ground truth.

Customers are split into chunks of ``chunk_customers``. Chunk ``k`` draws everything from a
numpy Generator seeded by ``(seed, k)`` only, so a chunk's content does not depend on how many
chunks follow it, and each chunk is written and freed before the next one starts (memory stays
bounded by one chunk). The per-row truth is appended to ``ground_truth/*.parquet``; the
summary truth (``ground_truth.json``) is written last.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from journeylens.errors import InputError
from journeylens.synth._assembly import (
    event_tables,
    feedback_tables,
    journey_truth,
    names_for,
    place_events,
)
from journeylens.synth._records import build_records
from journeylens.synth._truth import GROUND_TRUTH, TRUTH_FILES, Tally, write_ground_truth
from journeylens.synth.feedback import answer_surveys
from journeylens.synth.journeys import simulate_journeys
from journeylens.synth.population import Agents, build_agents, build_population

Format = Literal["parquet", "csv"]
TABLES = ("events", "identities", "customers", "feedback", "agents", "assignments")
_CHUNK_STREAM = 1


@dataclass(frozen=True)
class WorldSummary:
    """What :func:`generate_world` wrote."""

    out: Path
    ground_truth: Path
    fmt: str
    chunks: int
    customers: int
    events: int
    identities: int
    feedback: int
    agents: int
    assignments: int
    journeys: int

    @property
    def counts(self) -> dict[str, int]:
        """Rows per raw table."""
        return {name: getattr(self, name) for name in TABLES}


def generate_world(
    out: Path,
    customers: int,
    seed: int = 7,
    *,
    fmt: Format = "parquet",
    chunk_customers: int = 25_000,
    start: str = "2026-01-01",
    days: int = 120,
    progress: Callable[[int, int], None] | None = None,
) -> WorldSummary:
    """Write a deterministic synthetic omnichannel world and its ground truth to ``out``.

    Args:
        out: Output directory; created if missing. A previous world there is replaced; any
            other non-empty directory is refused.
        customers: Number of customers (about 25 events each over 120 days).
        seed: Same seed and arguments give byte-identical files.
        fmt: ``parquet`` or ``csv`` for the raw tables (the per-row truth is always Parquet).
        chunk_customers: Customers generated, written and freed at a time.
        start: First day of the window (UTC, ``YYYY-MM-DD``).
        days: Length of the window in days.
        progress: Called as ``progress(done_customers, total_customers)`` after each chunk.

    Returns:
        Row counts per table and where things were written.

    Raises:
        InputError: An argument is invalid or ``out`` holds something that is not a world.

    Example:
        >>> from pathlib import Path
        >>> import tempfile
        >>> summary = generate_world(Path(tempfile.mkdtemp()) / "w", customers=50, seed=1)
        >>> summary.customers
        50
    """
    window_start = _check_arguments(customers, fmt, chunk_customers, start, days)
    _prepare(out)
    window_start_us = int(window_start.timestamp()) * 1_000_000
    agents = build_agents(seed)
    _write(agents.table, out / "agents" / f"agents.{fmt}", fmt)
    tally = Tally(agents=agents.table.num_rows)
    chunks = -(-customers // chunk_customers)
    truth_dir = out / "ground_truth"
    settings = {
        "seed": seed, "customers": customers, "chunk_customers": chunk_customers, "start": start,
        "days": days, "format": fmt,
    }  # fmt: skip
    write_ground_truth(out, settings, tally, agents, complete=False)
    writers: dict[str, pq.ParquetWriter] = {}
    try:
        for chunk in range(chunks):
            first = chunk * chunk_customers
            size = min(chunk_customers, customers - first)
            parts = _simulate_chunk(seed, chunk, first, size, days, window_start_us, agents)
            for table in TABLES[:4] + TABLES[5:]:
                _write(parts[table], out / table / f"part-{chunk:05d}.{fmt}", fmt)
            for name, path in TRUTH_FILES.items():
                truth = parts[f"truth_{name}"]
                if name not in writers:
                    writers[name] = pq.ParquetWriter(out / path, truth.schema, compression="zstd")
                writers[name].write_table(truth)
            tally.add(parts, size)
            del parts
            if progress is not None:
                progress(first + size, customers)
    finally:
        for writer in writers.values():
            writer.close()
    write_ground_truth(out, settings, tally, agents, complete=True)
    return WorldSummary(
        out=out,
        ground_truth=out / GROUND_TRUTH,
        fmt=fmt,
        chunks=chunks,
        journeys=tally.rows["journeys"],
        **{name: tally.rows[name] for name in TABLES},
    )


def _simulate_chunk(
    seed: int, chunk: int, first: int, size: int, days: int, window_start_us: int, agents: Agents
) -> dict[str, pa.Table]:
    rng = np.random.default_rng([seed, _CHUNK_STREAM, chunk])
    pop = build_population(rng, chunk, first, size)
    sim = simulate_journeys(rng, pop, agents, days)
    placed = place_events(sim, window_start_us)
    names = names_for(seed, pop, sim, agents)
    events, events_truth = event_tables(rng, seed, pop, sim, placed, names)
    answers = answer_surveys(rng, sim.invites, sim.start, sim.kept)
    feedback, feedback_truth = feedback_tables(seed, pop, sim, answers, names, window_start_us)
    records = build_records(rng, seed, pop, sim, placed, names, window_start_us, days)
    return {
        "events": events,
        "identities": records.identities,
        "customers": records.customers,
        "feedback": feedback,
        "assignments": records.assignments,
        "truth_events": events_truth,
        "truth_identifiers": records.identifier_truth,
        "truth_journeys": journey_truth(pop, sim, placed, names),
        "truth_feedback": feedback_truth,
        "shared": records.shared,
    }


def _check_arguments(customers: int, fmt: str, chunk_customers: int, start: str, days: int) -> datetime:
    if customers < 1:
        raise InputError.bad_flag("--customers", str(customers), "must be at least 1", "Use e.g. 20000.")
    if chunk_customers < 1:
        raise InputError.bad_flag(
            "--chunk-customers", str(chunk_customers), "must be at least 1", "The default is 25000."
        )
    if days < 1:
        raise InputError.bad_flag("--days", str(days), "must be at least 1", "The default is 120.")
    if fmt not in ("parquet", "csv"):
        raise InputError.unknown_choice("format", fmt, ["parquet", "csv"])
    try:
        day = date.fromisoformat(start)
    except ValueError as exc:
        raise InputError.bad_flag("--start", start, f"not a date ({exc})", "Use YYYY-MM-DD, e.g. 2026-01-01.") from exc
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


def _prepare(out: Path) -> None:
    """Create ``out``, or clear a previous world in it; refuse anything else that is non-empty."""
    if out.exists() and not out.is_dir():
        raise InputError.unreadable(str(out), "exists and is not a directory", "Choose a directory path.")
    if out.is_dir() and any(out.iterdir()):
        if not (out / GROUND_TRUTH).is_file():
            raise InputError.unreadable(
                str(out),
                f"directory is not empty and holds no previous world ({GROUND_TRUTH} is missing)",
                "Choose an empty or new directory; only a previous synthetic world is overwritten.",
            )
        for name in (*TABLES, "ground_truth"):
            if (out / name).is_dir():
                shutil.rmtree(out / name)
        (out / GROUND_TRUTH).unlink()
    for name in (*TABLES, "ground_truth"):
        (out / name).mkdir(parents=True, exist_ok=True)


def _write(table: pa.Table, path: Path, fmt: str) -> None:
    if fmt == "parquet":
        pq.write_table(table, path, compression="zstd")
        return
    columns = []
    for column in table.columns:
        if pa.types.is_timestamp(column.type):
            # ISO 8601 with millisecond precision and a Z, e.g. 2026-01-03T09:15:02.120Z.
            column = pc.strftime(column.cast(pa.timestamp("ms", tz="UTC")), format="%Y-%m-%dT%H:%M:%SZ")
        columns.append(column)
    pacsv.write_csv(pa.table(columns, names=table.column_names), path)
