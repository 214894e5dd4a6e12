"""Writing tables out of the engine: to a file, or to standard output for pipes.

Rows stream from the engine in Arrow batches (``to_pyarrow_batches``), so an export needs memory
for one batch whatever the table's size, and works the same on DuckDB and Spark. A file is
written beside its destination and renamed onto it only when complete, so a failed export never
leaves half a file under the real name. ``None`` or ``"-"`` as the destination means standard
output, for the text formats; Parquet is binary and is refused there with a hint.
"""

from __future__ import annotations

import gzip
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO, TYPE_CHECKING

from journeylens.errors import InputError

if TYPE_CHECKING:
    import ibis.expr.types as ir
    import pyarrow as pa

    from journeylens.store import Store

BATCH_ROWS = 100_000
STDOUT = "-"


class ExportFormat(StrEnum):
    """File formats of ``journeylens export``."""

    csv = "csv"
    json = "json"
    parquet = "parquet"


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: ``path`` is None for standard output."""

    path: Path | None
    rows: int

    @property
    def where(self) -> str:
        return "standard output" if self.path is None else str(self.path)


def destination(out: str | Path | None) -> Path | None:
    """The file to write, or None for standard output (``None`` or ``-``)."""
    if out is None or str(out) == STDOUT:
        return None
    return Path(out)


def export_table(
    store: Store, expr: ir.Table, out: str | Path | None, fmt: ExportFormat = ExportFormat.csv
) -> ExportResult:
    """Stream the rows of ``expr`` to ``out`` (a file, or standard output when None or ``-``).

    CSV has a header row; JSON is one array of objects (timestamps in ISO 8601); Parquet needs a
    file.

    Example:
        >>> export_table(ws.store, ws.store.table("events"), "events.csv")  # doctest: +SKIP
        ExportResult(path=PosixPath('events.csv'), rows=21348)
    """
    path = destination(out)
    fmt = ExportFormat(fmt)
    if path is None and fmt is ExportFormat.parquet:
        raise InputError(
            "Parquet is a binary format and is not written to standard output.",
            hint="Name a file with --out FILE.parquet, or choose --format csv or json for a pipe.",
        )
    batches = store.backend.to_pyarrow_batches(expr, chunk_size=BATCH_ROWS)
    schema: pa.Schema = batches.schema
    if fmt is ExportFormat.parquet:
        assert path is not None  # refused above
        return ExportResult(path, _parquet(batches, schema, path))
    with binary_sink(path) as sink:
        rows = _csv(batches, schema, sink) if fmt is ExportFormat.csv else _json(batches, sink)
    return ExportResult(path, rows)


def _csv(batches: Iterator[pa.RecordBatch], schema: pa.Schema, sink: IO[bytes]) -> int:
    import pyarrow.csv as pacsv

    rows = 0
    with pacsv.CSVWriter(sink, schema) as writer:
        for batch in batches:
            writer.write_batch(batch)
            rows += batch.num_rows
    return rows


def _json(batches: Iterator[pa.RecordBatch], sink: IO[bytes]) -> int:
    import orjson

    rows = 0
    sink.write(b"[")
    for batch in batches:
        if batch.num_rows == 0:
            continue
        # One C call per batch: the batch's array without its brackets, joined by commas.
        body = orjson.dumps(batch.to_pylist(), option=orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z)[1:-1]
        sink.write((b",\n" if rows else b"\n") + body)
        rows += batch.num_rows
    sink.write(b"\n]\n")
    return rows


def _parquet(batches: Iterator[pa.RecordBatch], schema: pa.Schema, path: Path) -> int:
    import pyarrow.parquet as pq

    rows = 0
    with _partial(path) as partial, pq.ParquetWriter(partial, schema) as writer:
        for batch in batches:
            writer.write_batch(batch)
            rows += batch.num_rows
    return rows


@contextmanager
def binary_sink(path: Path | None) -> Iterator[IO[bytes]]:
    """Standard output (left open), or a file written atomically."""
    if path is None:
        sys.stdout.flush()
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    with _partial(path) as partial, partial.open("wb") as raw:
        yield raw


@contextmanager
def text_sink(path: Path | None) -> Iterator[IO[str]]:
    """Text (UTF-8) to standard output, or atomically to ``path`` (gzip when it ends in ``.gz``)."""
    if path is None:
        sys.stdout.flush()
        yield sys.stdout
        sys.stdout.flush()
        return
    with _partial(path) as partial, _open_text(partial, compress=path.name.endswith(".gz")) as raw:
        yield raw


def _open_text(path: Path, *, compress: bool) -> IO[str]:
    if compress:
        return gzip.open(path, "wt", encoding="utf-8", compresslevel=6)
    return path.open("w", encoding="utf-8")


@contextmanager
def _partial(target: Path) -> Iterator[Path]:
    """A temporary path beside ``target``, renamed onto it when the block succeeds."""
    partial = target.with_name(f".{target.name}.partial")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial.touch()
    except OSError as exc:
        raise InputError(
            f"Cannot write {target}: {exc.strerror or exc}.", hint="Check the folder exists and is writable."
        ) from None
    try:
        yield partial
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
