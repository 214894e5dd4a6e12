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
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from journeylens.errors import InputError
from journeylens.store.names import RAW_TABLE_NAMES
from journeylens.synth._assembly import (
    Chunk,
    event_tables,
    feedback_tables,
    journey_truth,
    names_for,
    place_events,
)
from journeylens.synth._decisions import decision_log
from journeylens.synth._events import MICROS, Window
from journeylens.synth._records import build_records
from journeylens.synth._truth import GROUND_TRUTH, TRUTH_FILES, Tally, chunk_stats, write_ground_truth
from journeylens.synth._workforce import build_workforce, employee_feedback
from journeylens.synth.feedback import answer_surveys
from journeylens.synth.journeys import simulate_journeys
from journeylens.synth.population import Agents, build_agents, build_population

Format = Literal["parquet", "csv"]
TABLES = RAW_TABLE_NAMES
_CHUNK_STREAM = 1
"""Chunks draw from ``(seed, 1, chunk)``; agents from ``(seed, 0xA6E)``: the streams never meet."""


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
    employee_feedback: int
    decisions: int
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
    out = Path(out)
    _prepare(out)
    window = Window(int(window_start.timestamp()) * MICROS, days)
    agents = build_agents(seed)
    workforce = build_workforce(seed, agents, window)
    agents = replace(agents, lift=workforce)
    _write(agents.table, out / "agents" / f"agents.{fmt}", fmt)
    staff = employee_feedback(seed, agents, workforce, window)
    _write(staff, out / "employee_feedback" / f"employee_feedback.{fmt}", fmt)
    tally = Tally(agents=agents.table.num_rows, employee_feedback=staff.num_rows)
    chunks = -(-customers // chunk_customers)
    settings = {
        "seed": seed, "customers": customers, "chunk_customers": chunk_customers, "start": start,
        "days": days, "format": fmt,
    }  # fmt: skip
    write_ground_truth(out, settings, tally, agents, complete=False)
    with _TruthWriters(out) as truth:
        for index in range(chunks):
            first = index * chunk_customers
            size = min(chunk_customers, customers - first)
            parts, stats = _simulate_chunk(seed, agents, window, index=index, first=first, size=size)
            for table in (t for t in TABLES if t not in ("agents", "employee_feedback")):
                _write(parts[table], out / table / f"part-{index:05d}.{fmt}", fmt)
            truth.write(parts)
            tally.add(parts, stats)
            del parts  # free the chunk before the next one is drawn
            if progress is not None:
                progress(first + size, customers)
    write_ground_truth(out, settings, tally, agents, complete=True)
    return WorldSummary(
        out=out,
        ground_truth=out / GROUND_TRUTH,
        fmt=fmt,
        chunks=chunks,
        agents=tally.agents,
        employee_feedback=staff.num_rows,
        **tally.rows,
    )


class _TruthWriters:
    """One Parquet writer per per-row truth file, appended to chunk by chunk."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.writers: dict[str, pq.ParquetWriter] = {}

    def __enter__(self) -> _TruthWriters:
        return self

    def write(self, parts: dict[str, pa.Table]) -> None:
        for name, path in TRUTH_FILES.items():
            table = parts[f"truth_{name}"]
            if name not in self.writers:
                self.writers[name] = pq.ParquetWriter(
                    self.out / path, table.schema, **parquet_options(table.schema)
                )
            self.writers[name].write_table(table)

    def __exit__(self, *exc: object) -> None:
        for writer in self.writers.values():
            writer.close()


def _simulate_chunk(
    seed: int, agents: Agents, window: Window, *, index: int, first: int, size: int
) -> tuple[dict[str, pa.Table], dict[str, float]]:
    """All tables of one chunk, drawn from the chunk's own random stream."""
    rng = np.random.default_rng([seed, _CHUNK_STREAM, index])
    pop = build_population(rng, index, first, size)
    sim = simulate_journeys(rng, pop, agents, window.days)
    placed = place_events(sim, window)
    chunk = Chunk(seed, window, pop, sim, placed, names_for(seed, pop, sim, agents))
    events, events_truth = event_tables(rng, chunk)
    feedback, feedback_truth = feedback_tables(chunk, answer_surveys(rng, sim.invites, sim.start, sim.kept))
    records = build_records(rng, chunk)
    decisions, decision_stats = decision_log(seed, index, pop.segment, chunk.names.user_ids, window)
    parts = {
        "events": events,
        "identities": records.identities,
        "customers": records.customers,
        "feedback": feedback,
        "assignments": records.assignments,
        "decisions": decisions,
        "truth_events": events_truth,
        "truth_identifiers": records.identifier_truth,
        "truth_journeys": journey_truth(chunk),
        "truth_feedback": feedback_truth,
        "shared": records.shared,
    }
    return parts, chunk_stats(pop, sim, agents) | decision_stats


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
        raise InputError.bad_flag(
            "--start", start, f"not a date ({exc})", "Use YYYY-MM-DD, e.g. 2026-01-01."
        ) from exc
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


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


# Columns with (nearly) one distinct value per row: dictionary encoding would only cost time.
_UNIQUE_LIKE = frozenset(
    {
        "event_id", "feedback_id", "journey_id", "user_id", "anonymous_id", "case_id", "order_id",
        "parent_journey_id", "customer", "identifier_value", "identifier_value_raw",
        "identifier_value_normalised", "email", "comment",
    }
)  # fmt: skip


def parquet_options(schema: pa.Schema) -> dict[str, Any]:
    """Fast, compact Parquet settings: zstd, dictionaries and statistics where they pay off."""
    strings = [f.name for f in schema if pa.types.is_string(f.type)]
    return {
        "compression": "zstd",
        "use_dictionary": [name for name in strings if name not in _UNIQUE_LIKE],
        "write_statistics": [f.name for f in schema if not pa.types.is_string(f.type)],
    }


def _write(table: pa.Table, path: Path, fmt: str) -> None:
    if fmt == "parquet":
        pq.write_table(table, path, **parquet_options(table.schema))
        return
    pacsv.write_csv(pa.table([_csv_text(c) for c in table.columns], names=table.column_names), path)


def _csv_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Timestamps as ISO 8601 with milliseconds and a Z (2026-01-03T09:15:02.120Z)."""
    if not pa.types.is_timestamp(column.type):
        return column
    millis = pc.cast(column, pa.timestamp("ms", tz="UTC"), safe=False)
    return pc.strftime(millis, format="%Y-%m-%dT%H:%M:%SZ")
