"""File ingestion: read, canonicalise, quarantine, de-duplicate and load, with per-file outcomes.

**Atomicity.** Every file is all-or-nothing: its valid records and its quarantined records are
committed together, or not at all (on engines with transactions). A large file is one transaction
of its own, streamed in batches. Small files (up to :data:`SMALL_FILE_BYTES`) are read first and
loaded in groups of up to :data:`GROUP_FILES` in one transaction, which is what makes a folder of
thousands of one-row exports load at hundreds of files per second; each file still gets its own
report, ingest id, ``ingests`` row and quarantine rows. If the engine fails on a group, the group
is rolled back and its files are loaded again one transaction each, so a failure never takes the
other files of the group with it.

**Failures.** A file that cannot be read (empty, unreadable, a required column missing, ...) is
reported with its reason and skipped; the files after it are still loaded. When any file failed,
:meth:`Ingestor.ingest` raises :class:`~journeylens.errors.IngestFailedError` at the end, carrying
every file's report. Paths that name nothing and bad options are checked before anything is read,
and all of them are reported at once.

Re-ingesting a file loads nothing new because every table has an idempotency key (see
``ingest.batches`` for records without one, and ``store.schema``).
"""

from __future__ import annotations

import datetime as _dt
import time
import zoneinfo
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
from ibis.backends import BaseBackend

from journeylens.config import Config
from journeylens.errors import IngestFailedError, InputError, JourneyLensError
from journeylens.ingest.batches import BatchLoader
from journeylens.ingest.delimited import (
    CSV_BLOCK,
    CSV_BLOCK_LARGE,
    CsvOptions,
    RecordLargerThanBlock,
    read_csv,
)
from journeylens.ingest.jsonlines import read_jsonl
from journeylens.ingest.mapping import Columns
from journeylens.ingest.readers import Format, RawBatch, default_delimiter, detect_format, read_parquet
from journeylens.ingest.report import IngestReport
from journeylens.ingest.spec import CHANNEL_HINT, IngestSpec, TableName, build_spec, expand
from journeylens.ingest.validation import FILE, SOURCE, Context, normalize_channel_name
from journeylens.ingest.xes import read_xes
from journeylens.store import _backend
from journeylens.store.schema import RAW_TABLES
from journeylens.store.store import Store

__all__ = ["IngestReport", "IngestSpec", "Ingestor", "TableName", "build_spec"]

SMALL_FILE_BYTES = 256 << 10
"""Files up to this size are read whole and loaded together with their neighbours."""
GROUP_FILES = 500
GROUP_BYTES = 32 << 20

ProgressFn = Callable[[str, int], None]
"""Called with (source, records read so far in that file) after each batch."""


@dataclass
class _Read:
    """A small file read whole, waiting for its group's transaction."""

    path: Path
    columns: Columns
    batches: list[RawBatch]
    report: IngestReport


class Ingestor:
    """Loads files into one store under one workspace configuration."""

    def __init__(self, store: Store, config: Config) -> None:
        self.store = store
        self.config = config
        # The transform uses DuckDB functions; on other engines it runs on a private DuckDB.
        self.same_engine = store.backend.name == "duckdb"
        if self.same_engine:
            self.engine: BaseBackend = store.backend
        else:
            self.engine = _backend.connect("duckdb://", timezone=config.workspace.timezone)
        self._dst_gaps = _has_dst(config.workspace.timezone)

    def ingest(self, spec: IngestSpec, progress: ProgressFn | None = None) -> list[IngestReport]:
        """Ingest every file of ``spec``; see the module docstring for what a failure does."""
        files = expand(spec)
        channel = self._constant_channel(spec.channel)
        try:
            reports = self._ingest_all(files, spec, channel, progress)
        except JourneyLensError:
            raise
        except Exception as exc:  # the store refusing writes is the same for every file: say why
            cause = _backend.storage_error(exc, self.store.url.removeprefix("duckdb://"))
            if cause is None:
                raise
            raise cause from exc
        failed = [r for r in reports if r.failed]
        if failed:
            raise _failure(reports, failed)
        return reports

    def _ingest_all(
        self, files: list[Path], spec: IngestSpec, channel: str | None, progress: ProgressFn | None
    ) -> list[IngestReport]:
        reports: list[IngestReport] = []
        for group, streamed in _groups(files):
            if streamed:
                reports.append(
                    self._guarded(group[0], spec, lambda p: self.ingest_file(p, spec, channel, progress))
                )
            else:
                reports += self._ingest_group(group, spec, channel, progress)
        return reports

    def _constant_channel(self, channel: str | None) -> str | None:
        if channel is None:
            return None
        canonical = normalize_channel_name(channel, self.config.channels.aliases)
        if canonical is None:
            raise InputError.bad_flag(
                "--channel", channel, "is not a known channel or alias.",
                hint=CHANNEL_HINT,
            )  # fmt: skip
        return canonical

    def _guarded(self, path: Path, spec: IngestSpec, run: Callable[[Path], IngestReport]) -> IngestReport:
        try:
            return run(path)
        except JourneyLensError as exc:
            return IngestReport(str(path), spec.table, 0, error=exc.message, hint=exc.hint)

    @contextmanager
    def _session(self) -> Iterator[None]:
        """The ingest engine's settings while a transaction loads: a memory cap, and inserts free
        to write rows in any order."""
        limit = self.config.ingest.memory_limit
        with _backend.memory_cap(self.engine, limit), _backend.unordered_inserts(self.engine):
            yield

    def _context(self, source: str, ingest_id: int, columns: Columns) -> Context:
        ingest = self.config.ingest
        return Context(
            source=source,
            ingest_id=ingest_id,
            salt=self.config.privacy.salt,
            default_country_code=self.config.privacy.default_country_code,
            channel_aliases=self.config.channels.aliases,
            max_field_bytes=ingest.max_field_bytes,
            max_record_bytes=ingest.max_record_bytes,
            channel=columns.channel,
            default_channel=columns.default_channel,
            timezone=self.config.workspace.timezone,
            dst_gaps=self._dst_gaps,
            timestamp_format=columns.spec.timestamp_format,
        )

    # -- records that arrived without a file (the HTTP collector) --------------------------

    def load_records(self, table: TableName, data: pa.Table, source: str) -> IngestReport:
        """Load ``data`` (source columns plus ``_line``) into ``table`` through the same checks,
        hashing, quarantine and de-duplication as a file, inside the caller's transaction (so the
        caller can commit its own bookkeeping with it); logs one ``ingests`` row."""
        started, started_at = time.perf_counter(), _dt.datetime.now(_dt.UTC)
        spec = IngestSpec(paths=[source], table=table, format="jsonl")
        columns = Columns(source, "jsonl", spec, RAW_TABLES[table], None)
        report = IngestReport(source, table, self.store.next_ingest_id())
        ctx = self._context(source, report.ingest_id, columns)
        loader = BatchLoader(self.store, self.engine, RAW_TABLES[table])
        for batch in columns.apply(iter([RawBatch(data)])):
            if batch.data.num_rows:
                loader.load(batch.data, ctx, {report.ingest_id: report})
        _finish(report, columns, started)
        self._log([report], started_at)
        return report

    # -- one large file, streamed ---------------------------------------------------------

    def ingest_file(
        self, path: Path, spec: IngestSpec, channel: str | None, progress: ProgressFn | None = None
    ) -> IngestReport:
        """Ingest one file atomically (one transaction) and report what happened."""
        try:
            return self._stream(path, spec, channel, progress, CSV_BLOCK)
        except RecordLargerThanBlock:  # rolled back; rare, so the cheaper small blocks stay default
            return self._stream(path, spec, channel, progress, CSV_BLOCK_LARGE)

    def _stream(
        self, path: Path, spec: IngestSpec, channel: str | None, progress: ProgressFn | None, block: int
    ) -> IngestReport:
        started, started_at = time.perf_counter(), _dt.datetime.now(_dt.UTC)
        fmt = detect_format(path) if spec.format == "auto" else spec.format
        table = RAW_TABLES[spec.table]
        columns = Columns(str(path), fmt, spec, table, channel)
        report = IngestReport(str(path), table.name, self.store.next_ingest_id())
        ctx = self._context(str(path), report.ingest_id, columns)
        loader = BatchLoader(self.store, self.engine, table)
        with self._session(), self.store.transaction():
            for batch in columns.apply(self._read(path, fmt, spec, block)):
                loader.reject(batch.rejects, report)
                if batch.data.num_rows:
                    loader.load(batch.data, ctx, {report.ingest_id: report})
                if progress:
                    progress(str(path), report.rows_read)
            if report.rows_read == 0:
                raise InputError.empty_file(str(path))
            _finish(report, columns, started)
            self._log([report], started_at)
        return report

    def _read(self, path: Path, fmt: Format, spec: IngestSpec, block: int) -> Iterator[RawBatch]:
        rows = self.config.ingest.batch_rows
        if fmt == "csv":
            delimiter = spec.delimiter or default_delimiter(path) or ","
            columns = tuple(spec.columns) if spec.columns else None
            return read_csv(path, CsvOptions(delimiter, spec.encoding, spec.quote, block, columns), rows)
        if fmt == "parquet":
            return read_parquet(path, rows)
        if fmt == "jsonl":
            return read_jsonl(path, self.config.ingest.max_record_bytes)
        return read_xes(path, rows)

    # -- many small files, one transaction ------------------------------------------------

    def _ingest_group(
        self, group: list[Path], spec: IngestSpec, channel: str | None, progress: ProgressFn | None
    ) -> list[IngestReport]:
        started_at = _dt.datetime.now(_dt.UTC)
        outcomes: dict[Path, IngestReport] = {}
        ready: list[_Read] = []
        for path in group:
            try:
                ready.append(self._read_whole(path, spec, channel, progress))
            except JourneyLensError as exc:
                outcomes[path] = IngestReport(str(path), spec.table, 0, error=exc.message, hint=exc.hint)
            except RecordLargerThanBlock:
                outcomes[path] = self._guarded(path, spec, lambda p: self.ingest_file(p, spec, channel))
        if ready:
            try:
                self._load_group(ready, spec, started_at)
            except Exception:  # rolled back: load the files one by one, so one cannot sink the rest
                for item in ready:
                    outcomes[item.path] = self._guarded(
                        item.path, spec, lambda p: self.ingest_file(p, spec, channel)
                    )
                ready = []
        for item in ready:
            outcomes[item.path] = item.report
        return [outcomes[p] for p in group]

    def _read_whole(
        self, path: Path, spec: IngestSpec, channel: str | None, progress: ProgressFn | None
    ) -> _Read:
        started = time.perf_counter()
        fmt = detect_format(path) if spec.format == "auto" else spec.format
        table = RAW_TABLES[spec.table]
        columns = Columns(str(path), fmt, spec, table, channel)
        batches, rows = [], 0
        for batch in columns.apply(self._read(path, fmt, spec, CSV_BLOCK)):
            batches.append(batch)
            rows += batch.data.num_rows + len(batch.rejects)
            if progress:
                progress(str(path), rows)
        if not rows:
            raise InputError.empty_file(str(path))
        report = IngestReport(str(path), table.name, 0, seconds=time.perf_counter() - started)
        return _Read(path, columns, batches, report)

    def _load_group(self, ready: list[_Read], spec: IngestSpec, started_at: _dt.datetime) -> None:
        started = time.perf_counter()
        first_id = self.store.next_ingest_id()
        for i, item in enumerate(ready):
            item.report.ingest_id = first_id + i
        table = RAW_TABLES[spec.table]
        # Files whose one batch has the same columns (and channel default) are loaded as one.
        together: dict[tuple[object, ...], list[_Read]] = {}
        alone: list[_Read] = []
        for item in ready:
            data = [b for b in item.batches if b.data.num_rows]
            if len(data) == 1:
                together.setdefault((data[0].data.schema, item.columns.default_channel), []).append(item)
            elif data:
                alone.append(item)
        with self._session(), self.store.transaction():
            loader = BatchLoader(self.store, self.engine, table)
            for item in ready:
                for batch in item.batches:
                    loader.reject(batch.rejects, item.report)
            for items in together.values():
                BatchLoader(self.store, self.engine, table).load(*self._combined(items))
            for item in alone:
                single = BatchLoader(self.store, self.engine, table)
                ctx = self._context(str(item.path), item.report.ingest_id, item.columns)
                for batch in item.batches:
                    if batch.data.num_rows:
                        single.load(batch.data, ctx, {item.report.ingest_id: item.report})
            share = (time.perf_counter() - started) / len(ready)
            for item in ready:
                # Its own reading time plus its share of the group's transaction.
                _finish(item.report, item.columns, time.perf_counter() - item.report.seconds - share)
            self._log([item.report for item in ready], started_at)

    def _combined(self, items: list[_Read]) -> tuple[pa.Table, Context, dict[int, IngestReport]]:
        first = items[0]
        ctx = self._context(str(first.path), first.report.ingest_id, first.columns)
        reports = {item.report.ingest_id: item.report for item in items}
        datas = [next(b.data for b in item.batches if b.data.num_rows) for item in items]
        if len(items) == 1:
            return datas[0], ctx, reports
        tables = []
        for item, data in zip(items, datas, strict=True):
            n = data.num_rows
            tables.append(
                data.append_column(
                    FILE, pa.repeat(pa.scalar(item.report.ingest_id, pa.int64()), n)
                ).append_column(SOURCE, pa.repeat(pa.scalar(str(item.path), pa.string()), n))
            )
        return pa.concat_tables(tables), ctx, reports

    def _log(self, reports: list[IngestReport], started_at: _dt.datetime) -> None:
        finished = _dt.datetime.now(_dt.UTC)
        self.store.insert(
            "ingests",
            pa.table(
                {
                    "ingest_id": [r.ingest_id for r in reports],
                    "table": [r.table for r in reports],
                    "source": [r.source for r in reports],
                    "started_at": pa.array([started_at] * len(reports), pa.timestamp("us", tz="UTC")),
                    "finished_at": pa.array([finished] * len(reports), pa.timestamp("us", tz="UTC")),
                    "rows_read": [r.rows_read for r in reports],
                    "loaded": [r.loaded for r in reports],
                    "duplicates": [r.duplicates for r in reports],
                    "quarantined": [r.quarantined_total for r in reports],
                    "suppressed": [r.suppressed for r in reports],
                }
            ),
        )


def _finish(report: IngestReport, columns: Columns, started: float) -> None:
    report.duplicates = report.rows_read - report.loaded - report.quarantined_total - report.suppressed
    report.notes += columns.notes
    report.seconds = time.perf_counter() - started


def _groups(files: list[Path]) -> Iterator[tuple[list[Path], bool]]:
    """Runs of small files (bounded in count and bytes), and every large file on its own to be
    streamed (``(files, streamed)``), in the order given."""
    run: list[Path] = []
    size = 0
    for path in files:
        try:
            nbytes = path.stat().st_size
        except OSError:
            nbytes = 0  # the reader reports why it cannot be read
        if nbytes > SMALL_FILE_BYTES:
            if run:
                yield run, False
            run, size = [], 0
            yield [path], True
            continue
        if run and (len(run) >= GROUP_FILES or size + nbytes > GROUP_BYTES):
            yield run, False
            run, size = [], 0
        run.append(path)
        size += nbytes
    if run:
        yield run, False


def _failure(reports: list[IngestReport], failed: list[IngestReport]) -> IngestFailedError:
    loaded = len(reports) - len(failed)
    if len(failed) == 1:
        (bad,) = failed
        message = bad.error or ""
        if loaded:
            message += f" (the other {loaded} file(s) were loaded.)"
        return IngestFailedError(message, bad.hint, reports)
    lines = "\n".join(f"  - {r.error}" for r in failed)
    return IngestFailedError(
        f"{len(failed)} of {len(reports)} files could not be loaded (the others were):\n{lines}",
        "Fix those files and ingest them again; files already loaded will not load twice.",
        reports,
    )


def _has_dst(zone: str) -> bool:
    """Whether ``zone`` ever changed its offset in 1900-2100, i.e. may have gaps in local time."""
    try:
        info = zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    offsets = {
        _dt.datetime(year, month, 1, tzinfo=info).utcoffset()
        for year in range(1900, 2101)
        for month in (1, 7)
    }
    return len(offsets) > 1
