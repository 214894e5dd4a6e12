"""File ingestion: read, canonicalise, quarantine, de-duplicate and load, one file per transaction.

Each source file is one batch for atomicity: its valid records and its quarantined records are
committed together, or not at all (on engines with transactions). Re-ingesting a file loads
nothing new because every table has an idempotency key (see ``store.schema``).
"""

from __future__ import annotations

import datetime as _dt
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from ibis.backends import BaseBackend
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from journeylens.config import Config
from journeylens.errors import InputError
from journeylens.ingest.delimited import (
    CSV_BLOCK,
    CSV_BLOCK_LARGE,
    WHITESPACE,
    CsvOptions,
    RecordLargerThanBlock,
    read_csv,
)
from journeylens.ingest.jsonlines import read_jsonl
from journeylens.ingest.readers import (
    LINE,
    Format,
    RawBatch,
    Reject,
    default_delimiter,
    detect_format,
    expand_paths,
    read_parquet,
)
from journeylens.ingest.validation import (
    FIELD,
    MESSAGE,
    RAW,
    REASON,
    Context,
    canonicalize,
    normalize_channel_name,
)
from journeylens.ingest.xes import XES_MAPPING, read_xes
from journeylens.store import _backend
from journeylens.store.schema import QUARANTINE_SCHEMA, RAW_TABLES, TableSpec
from journeylens.store.store import Store

_STAGE = "_jl_ingest_stage"
_SCAN_CHUNK = 65_536  # rows per Arrow chunk, so that DuckDB scans a batch on every core
TableName = Literal["events", "identities", "customers", "feedback", "agents", "assignments"]


class IngestSpec(BaseModel):
    """What to ingest and how to read it; built identically by the CLI and the Python API."""

    model_config = ConfigDict(extra="forbid")

    paths: list[str] = Field(min_length=1)
    table: TableName = "events"
    format: Format = "auto"
    delimiter: str | None = Field(
        None, min_length=1, description="One character, or 'whitespace'; None: ',' (tab for .tsv)"
    )
    columns: list[str] | None = Field(
        None, description="Names of the columns of a header-less file (CSV, whitespace-aligned text)"
    )
    encoding: str = "utf-8"
    quote: str = Field('"', min_length=1, max_length=1)
    mapping: dict[str, str] = Field(default_factory=dict, description="canonical column -> source column")
    channel: str | None = None
    touchpoint: str | None = Field(
        None, min_length=1, description="One touchpoint for every record of files without that column"
    )
    max_bad: int = Field(0, ge=0)
    keep_identical: bool = Field(
        False, description="Keep identical key-less records on different lines apart (always on for XES)."
    )

    @field_validator("delimiter", mode="before")
    @classmethod
    def _named_delimiters(cls, value: str | None) -> str | None:
        if value is None:
            return None
        named = {"\\t": "\t", "tab": "\t", "semicolon": ";", "comma": ",", "pipe": "|"}.get(value, value)
        if len(named) != 1 and named != WHITESPACE:
            raise ValueError("expected one character, or tab, semicolon, comma, pipe or whitespace")
        return named

    @field_validator("columns", mode="before")
    @classmethod
    def _column_list(cls, value: str | list[str] | None) -> list[str] | None:
        if isinstance(value, str):  # the CLI's --columns a,b,c
            value = [name.strip() for name in value.split(",")]
        if value is not None and (not value or any(not name for name in value)):
            raise ValueError("expected comma-separated column names, e.g. user_id,timestamp,value")
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        import codecs

        try:
            codecs.lookup(value)
        except LookupError as exc:
            raise ValueError(f"unknown encoding {value!r} (try utf-8, latin-1, cp1252, utf-16)") from exc
        return value


_FLAGS = {
    "paths": "PATH", "table": "--table", "format": "--input-format", "delimiter": "--delimiter",
    "encoding": "--encoding", "quote": "--quote", "mapping": "--map", "channel": "--channel",
    "max_bad": "--max-bad", "keep_identical": "--keep-identical", "columns": "--columns",
    "touchpoint": "--touchpoint",
}  # fmt: skip


def build_spec(**fields: object) -> IngestSpec:
    """Validate ingest options into a spec; errors name the CLI flag at fault (one translator for
    every command: :func:`journeylens.analyses._build.option_error`)."""
    from journeylens.analyses._build import option_error

    try:
        return IngestSpec.model_validate(fields)
    except ValidationError as exc:

        def option_at(loc: tuple[str, ...]) -> tuple[str, str] | None:
            return (_FLAGS[loc[0]], loc[0]) if loc and loc[0] in _FLAGS else None

        raise option_error(exc, option_at, fields, "ingest") from exc


@dataclass
class IngestReport:
    """Outcome of ingesting one file."""

    source: str
    table: str
    ingest_id: int
    rows_read: int = 0
    loaded: int = 0
    duplicates: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    """What the user should know about how records were read (e.g. a default channel)."""

    @property
    def quarantined_total(self) -> int:
        return sum(self.quarantined.values())

    def to_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "table": self.table,
            "ingest_id": self.ingest_id,
            "rows_read": self.rows_read,
            "loaded": self.loaded,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined_total,
            "quarantined_by_reason": dict(sorted(self.quarantined.items())),
            "seconds": round(self.seconds, 3),
            "notes": list(self.notes),
        }


ProgressFn = Callable[[str, int], None]
"""Called with (source, records read so far in that file) after each batch."""


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

    def ingest(self, spec: IngestSpec, progress: ProgressFn | None = None) -> list[IngestReport]:
        files = expand_paths(spec.paths)
        if not files:
            raise InputError.file_not_found(" ".join(spec.paths))
        channel = self._constant_channel(spec.channel)
        return [self.ingest_file(path, spec, channel, progress) for path in files]

    def _constant_channel(self, channel: str | None) -> str | None:
        if channel is None:
            return None
        canonical = normalize_channel_name(channel, self.config.channels.aliases)
        if canonical is None:
            raise InputError.bad_flag(
                "--channel", channel, "is not a known channel or alias.",
                hint="Use web, app, email, sms, whatsapp, social, chat, call_center, store, mail or "
                "other, or add an alias under [channels.aliases] in journeylens.toml.",
            )  # fmt: skip
        return canonical

    def ingest_file(
        self, path: Path, spec: IngestSpec, channel: str | None, progress: ProgressFn | None = None
    ) -> IngestReport:
        """Ingest one file atomically (one transaction) and report what happened."""
        try:
            return self._ingest_once(path, spec, channel, progress, CSV_BLOCK)
        except RecordLargerThanBlock:  # rolled back; rare, so the cheaper small blocks stay default
            return self._ingest_once(path, spec, channel, progress, CSV_BLOCK_LARGE)

    def _ingest_once(
        self, path: Path, spec: IngestSpec, channel: str | None, progress: ProgressFn | None, block: int
    ) -> IngestReport:
        started = time.perf_counter()
        started_at = _dt.datetime.now(_dt.UTC)
        fmt = detect_format(path) if spec.format == "auto" else spec.format
        table = RAW_TABLES[spec.table]
        defaults = _xes_defaults(spec.mapping) if fmt == "xes" else {}
        ingest_id = self.store.next_ingest_id()
        report = IngestReport(str(path), table.name, ingest_id)
        ctx = Context(
            source=str(path),
            ingest_id=ingest_id,
            salt=self.config.privacy.salt,
            default_country_code=self.config.privacy.default_country_code,
            channel_aliases=self.config.channels.aliases,
            max_field_bytes=self.config.ingest.max_field_bytes,
            max_record_bytes=self.config.ingest.max_record_bytes,
            channel=channel,
            default_channel=PROCESS_LOG_CHANNEL if channel is None and _process_log(fmt, spec) else None,
            keep_identical=spec.keep_identical or fmt == "xes",
        )
        channel_noted = False
        first = True
        with _backend.memory_cap(self.engine, self.config.ingest.memory_limit), self.store.transaction():
            for batch in self._read(path, fmt, spec, block):
                self._load_rejects(batch.rejects, ctx, table.name, report)
                if batch.data.num_rows == 0:
                    continue
                # The first batch with records is checked strictly (a --map naming no column, a
                # missing required column); later ones may lack optional keys (JSON Lines, XES).
                data = _apply_mapping(batch.data, defaults, str(path), strict=False)
                data = _apply_mapping(data, spec.mapping, str(path), strict=first)
                data = _constant_touchpoint(data, spec.touchpoint, str(path))
                if first:
                    _check_required(data, table, ctx, str(path))
                    first = False
                if ctx.default_channel and not channel_noted and "channel" not in data.column_names:
                    report.notes.append(_default_channel_note(ctx.default_channel))
                    channel_noted = True
                self._load_batch(data, table, ctx, report)
                if progress:
                    progress(str(path), report.rows_read)
            if report.rows_read == 0 and not report.quarantined:
                raise InputError.empty_file(str(path))
            report.seconds = time.perf_counter() - started
            self._log(report, started_at)
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

    def _load_batch(self, data: pa.Table, table: TableSpec, ctx: Context, report: IngestReport) -> None:
        report.rows_read += data.num_rows
        chunks = pa.Table.from_batches(data.to_batches(max_chunksize=_SCAN_CHUNK))
        staged = _backend.materialize_over_arrow(
            self.engine, chunks, lambda raw: canonicalize(raw, table, ctx), _STAGE
        )
        bad = staged.filter(staged[REASON].notnull())
        reasons = self.engine.to_pyarrow(bad.group_by(REASON).agg(n=bad.count())).to_pylist()
        n_bad = sum(r["n"] for r in reasons)
        if n_bad:
            report.quarantined.update({r[REASON]: r["n"] for r in reasons})
            self._to_store("quarantine", _quarantine_rows(bad, table.name, ctx), on_store=False)
        good = staged.filter(staged[REASON].isnull())
        inserted = self._to_store(table.name, self._first_unseen(good, table), on_store=True)
        report.loaded += inserted
        report.duplicates += data.num_rows - n_bad - inserted

    def _first_unseen(self, good: ir.Table, table: TableSpec) -> ir.Table:
        """Rows whose key is new to the store, keeping the first occurrence inside the batch."""
        key = good[table.key]
        repeated = self.engine.to_pyarrow(good.count() - key.nunique()).as_py()
        if repeated:  # ranking is costly, so only when the batch really repeats a key
            ranked = good.mutate(_rank=ibis.row_number().over(group_by=table.key, order_by=good[LINE]))
            good = ranked.filter(ranked._rank == 0).drop("_rank")
        rows = good.select(*table.schema().names)
        if self.same_engine:
            return rows.anti_join(self.store.table(table.name), table.key).select(*table.schema().names)
        # Store on another engine: ship the batch there and compare keys on that side.
        shipped = ibis.memtable(self.engine.to_pyarrow(rows))
        return shipped.anti_join(self.store.table(table.name), table.key).select(*table.schema().names)

    def _to_store(self, name: str, rows: ir.Table, *, on_store: bool) -> int:
        """Insert ``rows`` into store table ``name`` and return how many were inserted.

        ``on_store`` says whether ``rows`` is an expression over the store's engine (else over
        the ingest engine); with one engine for both, nothing leaves the database.
        """
        if self.same_engine:
            schema = self.store.table(name).schema()
            count = _backend.insert_select(self.engine, name, rows.select(*schema.names).cast(schema))
            if count is not None:
                return count
        arrow = self.store.execute(rows) if on_store else self.engine.to_pyarrow(rows)
        self.store.insert(name, arrow)
        return int(arrow.num_rows)

    def _load_rejects(self, rejects: list[Reject], ctx: Context, table: str, report: IngestReport) -> None:
        if not rejects:
            return
        rows = pa.table(
            {
                "ingest_id": [ctx.ingest_id] * len(rejects),
                "table": [table] * len(rejects),
                "source": [ctx.source] * len(rejects),
                "line": [r.line for r in rejects],
                "raw": [r.raw[:4096] for r in rejects],
                "reason": [r.reason.value for r in rejects],
                "field": [None] * len(rejects),
                "message": [r.message for r in rejects],
            },
            schema=QUARANTINE_SCHEMA.to_pyarrow(),
        )
        self.store.insert("quarantine", rows)
        report.rows_read += len(rejects)
        report.quarantined.update(r.reason.value for r in rejects)

    def _log(self, report: IngestReport, started_at: _dt.datetime) -> None:
        self.store.insert(
            "ingests",
            pa.table(
                {
                    "ingest_id": [report.ingest_id],
                    "table": [report.table],
                    "source": [report.source],
                    "started_at": pa.array([started_at], pa.timestamp("us", tz="UTC")),
                    "finished_at": pa.array([_dt.datetime.now(_dt.UTC)], pa.timestamp("us", tz="UTC")),
                    "rows_read": [report.rows_read],
                    "loaded": [report.loaded],
                    "duplicates": [report.duplicates],
                    "quarantined": [report.quarantined_total],
                }
            ),
        )


def _quarantine_rows(bad: ir.Table, table: str, ctx: Context) -> ir.Table:
    return bad.select(
        ingest_id=ibis.literal(ctx.ingest_id, type="int64"),
        table=ibis.literal(table),
        source=ibis.literal(ctx.source),
        line=bad[LINE].cast("int64"),
        raw=bad[RAW],
        reason=bad[REASON],
        field=bad[FIELD],
        message=bad[MESSAGE],
    )


PROCESS_LOG_CHANNEL = "other"
# Columns of pm4py's CSV layout (XES attribute names); a --map from them marks a process log.
_PM4PY_COLUMNS = frozenset({"case:concept:name", "concept:name", "time:timestamp"})


def _process_log(fmt: Format, spec: IngestSpec) -> bool:
    """A process-mining event log (XES, or pm4py's layout mapped with --map): such logs have no
    channel concept, so their events get ``other`` instead of being refused."""
    return spec.table == "events" and (fmt == "xes" or bool(_PM4PY_COLUMNS & set(spec.mapping.values())))


def _default_channel_note(channel: str) -> str:
    return (
        f"The file has no channel: its events were given channel {channel!r}. Set one with "
        "--channel web|app|call_center|... or map a column with --map channel=COLUMN."
    )


def _xes_defaults(user: dict[str, str]) -> dict[str, str]:
    """XES standard attributes onto the model, unless the user mapped that target or source."""
    taken = set(user) | set(user.values())
    return {t: s for t, s in XES_MAPPING.items() if t not in taken and s not in taken}


def _apply_mapping(data: pa.Table, mapping: dict[str, str], source: str, strict: bool) -> pa.Table:
    """Rename source columns to canonical names (``target=source``); a source may feed several.

    ``strict`` mappings (the user's) must name columns of the file; lenient ones (format
    defaults) are skipped when the file lacks the column or already has the target.
    """
    names = data.column_names
    active: dict[str, str] = {}
    for target, column in mapping.items():
        if not strict:
            if column in names and target not in names:
                active[target] = column
            continue
        if column not in names:
            raise InputError.missing_columns(
                source, [column], [n for n in names if n != LINE],
                hint=f"Fix --map {target}={column}: the right side must be a column of the file.",
            )  # fmt: skip
        # The file's own column of that name may be moving elsewhere (--map x_original=x).
        renamed_away = any(src == target and tgt != target for tgt, src in mapping.items())
        if target in names and target != column and not renamed_away:
            raise InputError.bad_flag(
                "--map", f"{target}={column}", f"the file already has a column named {target!r}.",
                hint=f"Rename that one first (--map {target}_original={target}), or drop this --map.",
            )  # fmt: skip
        active[target] = column
    if not active:
        return data
    targets = {column: [t for t, c in active.items() if c == column] for column in active.values()}
    arrays, out_names = [], []
    for name in names:
        for target in targets.get(name, [name]):
            arrays.append(data.column(name))
            out_names.append(target)
    return pa.Table.from_arrays(arrays, names=out_names)


def _constant_touchpoint(data: pa.Table, touchpoint: str | None, source: str) -> pa.Table:
    """``--touchpoint``: one step name for files that have none (a purchase log, one file per step)."""
    if touchpoint is None:
        return data
    if "touchpoint" in data.column_names:
        raise InputError.bad_flag(
            "--touchpoint", touchpoint, f"{source} already has a touchpoint column.",
            hint="Drop --touchpoint to use the file's column, or rename that "
            "(--map touchpoint_original=touchpoint).",
        )  # fmt: skip
    return data.append_column("touchpoint", pa.repeat(pa.scalar(touchpoint, pa.string()), data.num_rows))


def _check_required(data: pa.Table, table: TableSpec, ctx: Context, source: str) -> None:
    """A file missing a required column is refused whole, before anything is loaded."""
    names = [n for n in data.column_names if n != LINE]
    present = set(names) | ({"channel"} if ctx.channel or ctx.default_channel else set())
    missing = [c.name for c in table.columns if c.required and c.name not in present]
    if table.one_of and not present.intersection(table.one_of):
        missing.append(" or ".join(table.one_of))
    if not missing:
        return
    hint = "Rename columns with --map TARGET=SOURCE"
    if "channel" in missing:
        hint += ", or set one channel for the whole file with --channel web|app|call_center|..."
    if len(names) == 1 and any(d in names[0] for d in ";\t|,"):
        sep = next(d for d in ";\t|," if d in names[0])
        hint = (
            f"The header looks like one column: the file is probably delimited by {sep!r}; "
            f"pass --delimiter {sep!r}"
        )
    raise InputError.missing_columns(source, missing, names, hint=hint + ".")
