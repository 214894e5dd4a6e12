"""Thin backend layer: connect an Ibis backend from a URL and describe what it can do.

Everything engine-specific lives here, behind :class:`Capabilities`, so the core stays plain Ibis.
Heavy engines (PySpark) are imported only when a URL asks for them.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pyarrow as pa
from ibis.backends import BaseBackend
from ibis.backends.sql.compilers.duckdb import DuckDBCompiler
from ibis.backends.sql.compilers.pyspark import PySparkCompiler

from journeylens.errors import BackendError
from journeylens.store._spark import connect_spark
from journeylens.store.settings import BackendSettings, spark_target

# DuckDB 2.0 warns that Arrow output through the DB-API path copies rows once; ibis 12 uses that
# path for every result. The copy is cheap next to the query and the warning is noise for users.
warnings.filterwarnings("ignore", message="Arrow output on a DB-API result", category=UserWarning)


@dataclass(frozen=True)
class Capabilities:
    """What the connected engine supports, so callers never test engine names themselves."""

    name: str
    transactions: bool
    """Multi-statement transactions (BEGIN/COMMIT/ROLLBACK): ingest batches are atomic."""
    drops_columns: bool = False
    """``ALTER TABLE ... DROP COLUMN`` changes only the catalogue (see :func:`keep_columns`)."""


class _DuckDBCursorAdapter:
    """Gives a DuckDB 2.x connection the cursor methods ibis 12 still calls.

    DuckDB 2.0 renamed ``fetch_arrow_table`` to ``to_arrow_table`` and ``fetch_record_batch`` to
    ``to_arrow_reader``; ibis 12.0.0 (the newest release) calls the old names. Everything else is
    forwarded unchanged. Remove once ibis supports DuckDB 2 natively.
    """

    __slots__ = ("_con",)

    def __init__(self, con: Any) -> None:
        object.__setattr__(self, "_con", con)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)

    def execute(self, *args: Any, **kwargs: Any) -> _DuckDBCursorAdapter:
        self._con.execute(*args, **kwargs)
        return self

    def cursor(self) -> _DuckDBCursorAdapter:
        return _DuckDBCursorAdapter(self._con.cursor())

    def fetch_arrow_table(self) -> Any:
        return self._con.to_arrow_table()

    def fetch_record_batch(self, rows_per_batch: int = 1_000_000) -> Any:
        return self._con.to_arrow_reader(rows_per_batch)

    def __enter__(self) -> _DuckDBCursorAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._con.__exit__(*exc)


def _adapt_duckdb(backend: BaseBackend) -> None:
    raw = backend.con
    if not hasattr(raw, "fetch_arrow_table") and hasattr(raw, "to_arrow_table"):
        backend.con = _DuckDBCursorAdapter(raw)


_UTC, _NAIVE = dt.Timestamp(timezone="UTC"), dt.Timestamp()


def _epoch_of_instant(self: DuckDBCompiler, op: ops.ExtractEpochSeconds, *, arg: Any) -> Any:
    """ibis 12 compiles ``epoch_seconds()`` on DuckDB as ``EPOCH(CAST(ts AS TIMESTAMP))``; for a
    UTC instant that cast yields the wall clock of the session time zone (the workspace's), so
    every epoch was off by the zone's offset and gaps across a daylight-saving change by an hour.
    ``EPOCH`` of the instant itself is the true epoch.

    ``EPOCH`` also keeps the fraction of a second, while ibis types the result as an integer and
    Spark's ``unix_timestamp`` drops the fraction (floor): durations and gaps then differed by a
    second between the engines. It is floored to whole seconds here, as on Spark."""
    if op.arg.dtype.is_timestamp() and op.arg.dtype.timezone is not None:
        epoch = self.f.epoch(arg)
    else:
        epoch = _naive_epoch(self, op, arg=arg)
    return self.cast(self.f.floor(epoch), dt.int64)


_naive_epoch = DuckDBCompiler.visit_ExtractEpochSeconds
DuckDBCompiler.visit_ExtractEpochSeconds = _epoch_of_instant


def _spark_typed_literal(self: PySparkCompiler, op: ops.Literal, *, value: Any, dtype: dt.DataType) -> Any:
    """Spark SQL reads a literal such as ``0.35`` as DECIMAL(2,2), not DOUBLE, so arithmetic with
    float literals ran in decimals there (costs rounded to cents, sums typed decimal(13,2)) while
    ibis and DuckDB computed in doubles. Float literals are cast to the type ibis gave them."""
    result = _spark_literal(self, op, value=value, dtype=dtype)
    return self.cast(result, dtype) if dtype.is_floating() and result is not None else result


def _spark_typed_window(self: PySparkCompiler, op: ops.WindowFunction, **kwargs: Any) -> Any:
    """Spark's ROW_NUMBER, RANK, DENSE_RANK and NTILE return INT where ibis (and DuckDB) give
    BIGINT: a table materialised from them had int32 columns, and a union with int64 columns
    failed. Integer window results are cast to the type ibis gave them."""
    result = _spark_window(self, op, **kwargs)
    return self.cast(result, op.dtype) if op.dtype.is_integer() else result


_spark_literal = PySparkCompiler.visit_NonNullLiteral
_spark_window = PySparkCompiler.visit_WindowFunction
PySparkCompiler.visit_NonNullLiteral = _spark_typed_literal
PySparkCompiler.visit_WindowFunction = _spark_typed_window


# DuckDB JSON functions used by the ingest transform. Ingest always runs on DuckDB (the store's
# own connection, or a private in-memory one when the store is another engine), so these are safe
# there; analyses must not use them.
@ibis.udf.scalar.builtin  # type: ignore[untyped-decorator]
def json_merge_patch(target: dt.JSON, patch: dt.JSON) -> dt.JSON:
    """RFC 7396 merge: keys of ``patch`` win; null values in ``patch`` are dropped."""


@ibis.udf.scalar.builtin  # type: ignore[untyped-decorator]
def json_type(value: dt.JSON) -> str:  # type: ignore[empty-body]
    """'OBJECT', 'ARRAY', 'VARCHAR', ... for a JSON value."""


@ibis.udf.scalar.builtin(name="trim")  # type: ignore[untyped-decorator]
def trim_spaces(value: str) -> str:  # type: ignore[empty-body]
    """Plain TRIM (spaces); ibis's strip() passes a character set, which is ~3x slower."""


@ibis.udf.scalar.builtin  # type: ignore[untyped-decorator]
def try_strptime(text: str, fmt: str) -> _NAIVE:  # type: ignore[valid-type]
    """Parse ``text`` with a strptime format; null when it does not match."""


@ibis.udf.scalar.builtin  # type: ignore[untyped-decorator]
def strlen(value: str) -> int:  # type: ignore[empty-body]
    """Length in bytes (no UTF-8 decoding, unlike LENGTH)."""


def connect(
    url: str,
    *,
    timezone: str,
    memory_limit: str | None = None,
    root: Path | None = None,
    settings: BackendSettings | None = None,
) -> BaseBackend:
    """Connect to the engine named by ``url`` with the session time zone set to ``timezone``.

    The session time zone decides how naive timestamps are read on ingest and how calendar
    periods (days, weeks) are cut in analyses; stored values are always UTC instants.
    ``settings`` (``[backend]``) gives a Spark URL its configuration, catalog and database.

    Spark sessions run in UTC (ibis sets it); calendar periods in the workspace zone come from
    :func:`local_time`, and naive source timestamps are read by the ingest engine (DuckDB).
    """
    target = spark_target(url)
    if target is not None:
        spark = (settings or BackendSettings()).model_copy(update={"url": url})
        return connect_spark(spark, target, (root or Path.cwd()) / "spark-warehouse")
    scheme = urlparse(url).scheme
    if scheme == "duckdb":
        path = url[len("duckdb://") :] or ":memory:"
        try:
            backend = ibis.duckdb.connect(path)
        except Exception as exc:  # duckdb raises IOException, lock errors, ...
            raise (storage_error(exc, path) or BackendError.bad_url(url, exc)) from exc
        _adapt_duckdb(backend)
        backend.raw_sql(f"SET TimeZone = '{_quote(timezone)}'")
        if memory_limit:
            backend.raw_sql(f"SET memory_limit = '{_quote(memory_limit)}'")
        # Insertion order is not needed anywhere (we never rely on row order) and keeping it
        # costs memory on large loads.
        backend.raw_sql("SET preserve_insertion_order = false")
        return backend
    try:
        return ibis.connect(url)
    except ImportError as exc:
        # Warehouses come through Ibis' own extras (ibis-framework[bigquery], [snowflake], ...).
        raise BackendError.missing_extra(scheme, scheme, exc, package="ibis-framework") from exc
    except Exception as exc:
        raise BackendError.bad_url(url, exc) from exc


_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (.*?)(?: \(PID (\d+)\))?\.?(?: See|$)")
_READ_ONLY = ("read-only", "read only", "permission denied")


def storage_error(exc: BaseException, path: str) -> BackendError | None:
    """The real cause of an embedded store that cannot be opened or written (another process
    holds its lock; the file or folder is read-only), or None for any other error."""
    text = str(exc)
    if "Could not set lock" in text or "Conflicting lock" in text:
        found = _LOCK_HOLDER.search(text)
        holder = "unknown process"
        if found:
            holder = f"PID {found.group(2)}: {found.group(1)}" if found.group(2) else found.group(1)
        return BackendError.locked(path, holder)
    lowered = text.lower()
    if any(marker in lowered for marker in _READ_ONLY):
        return BackendError.read_only(path, text.splitlines()[0])
    return None


def _quote(value: str) -> str:
    return value.replace("'", "''")


def insert_select(backend: BaseBackend, table: str, rows: ir.Table) -> int | None:
    """``INSERT INTO table SELECT ...`` returning the row count, where the engine reports it.

    Returns None when it does not; callers then count another way. ``rows`` must not contain
    in-memory tables (they are registered only by ibis's own execution path).
    """
    if backend.name != "duckdb":
        return None
    select = ibis.to_sql(rows, dialect="duckdb")
    columns = ", ".join(f'"{c}"' for c in rows.columns)
    result = backend.con.execute(f'INSERT INTO "{table}" ({columns}) {select}').fetchone()
    return int(result[0]) if result else 0


def to_arrow(backend: BaseBackend, expr: ir.Expr) -> Any:
    """Execute ``expr`` to Arrow with the same types on every engine.

    Spark's TIMESTAMP is an instant but reaches Arrow without a zone; ibis keeps the Spark
    session in UTC, so the values are UTC and are labelled so here, and results compare equal
    across engines. (JourneyLens never creates Spark TIMESTAMP_NTZ columns.)
    """
    result = backend.to_pyarrow(expr)
    if backend.name != "pyspark" or not isinstance(result, pa.Table):
        return result
    schema = pa.schema(
        f.with_type(pa.timestamp(f.type.unit, tz="UTC"))
        if pa.types.is_timestamp(f.type) and f.type.tz is None
        else f
        for f in result.schema
    )
    return result.cast(schema)


@ibis.udf.scalar.builtin(name="timezone")  # type: ignore[untyped-decorator]
def _duckdb_local(zone: str, ts: _UTC) -> _NAIVE:  # type: ignore[valid-type]
    """DuckDB: the wall-clock time of an instant in ``zone`` (a naive timestamp)."""


def duckdb_wall_clock(ts: ir.TimestampValue, zone: str) -> ir.TimestampValue:
    """DuckDB only (the ingest engine): the wall-clock time of instant ``ts`` in ``zone``."""
    clock: ir.TimestampValue = _duckdb_local(zone, ts)
    return clock


@ibis.udf.scalar.builtin(name="from_utc_timestamp")  # type: ignore[untyped-decorator]
def _spark_local(ts: _NAIVE, zone: str) -> _NAIVE:  # type: ignore[valid-type]
    """Spark: the wall-clock time of a UTC instant in ``zone``."""


@ibis.udf.scalar.builtin(name="xxhash64")  # type: ignore[untyped-decorator]
def _spark_xxhash64(value: str) -> int:  # type: ignore[empty-body]
    """Spark: 64-bit xxHash (Spark's HASH() is only 32-bit)."""


def hash64(backend: BaseBackend, value: ir.StringValue) -> ir.IntegerValue | None:
    """A 64-bit hash of ``value`` on engines that have one, else None (callers keep strings).

    Used to join on compact integers instead of long strings; callers must check for
    collisions (two values, one hash) and fall back to the strings when one occurs.
    """
    if backend.name == "duckdb":
        return value.hash()
    if backend.name == "pyspark":
        return _spark_xxhash64(value)
    return None


def local_time(backend: BaseBackend, ts: ir.TimestampValue, zone: str) -> ir.TimestampValue:
    """Wall-clock time of ``ts`` in ``zone``, for cutting days, weeks and hours the same way on
    every engine. Engines without a known conversion get UTC (documented in docs/configuration.md).
    """
    if backend.name == "duckdb":
        return _duckdb_local(zone, ts)
    if backend.name == "pyspark":
        return _spark_local(ts, zone)
    return ts


def materialize_over_arrow(
    backend: BaseBackend,
    data: pa.Table,
    build: Callable[[ir.Table], ir.Table],
    target: str,
) -> ir.Table:
    """Run ``build(table of data)`` and store the result in temporary table ``target``.

    On DuckDB the Arrow data is visible to that one query only (a relation's ``query``), so no
    catalog entry pins it: inside a transaction a registered view, even when dropped again (as
    ``ibis.memtable`` does), keeps its Arrow data alive until COMMIT, and a file ingested batch by
    batch would hold every batch in memory. Other engines get an ``ibis.memtable``.
    """
    if backend.name != "duckdb":
        return backend.create_table(target, build(ibis.memtable(data)), temp=True, overwrite=True)
    name = f"{target}_source"
    expr = build(ibis.table(ibis.Schema.from_pyarrow(data.schema), name=name))
    backend.create_table(target, schema=expr.schema(), temp=True, overwrite=True)
    backend.con.from_arrow(data).query(name, ibis.to_sql(expr, dialect="duckdb")).insert_into(target)
    return backend.table(target)


@contextmanager
def shipped(backend: BaseBackend, data: pa.Table, name: str) -> Iterator[ir.Table]:
    """``data`` (Arrow in this process) as a table of ``backend`` while the block runs.

    Spark gets a temporary view of a DataFrame made from the Arrow data itself, so the queries of
    the block (joins, counts, ``INSERT ... SELECT``) run in the engine and their results stay
    there; ibis' ``memtable`` would go through pandas, and reading a result back to re-insert it
    copied every row through this process twice. Other engines get an ``ibis.memtable``.
    """
    if backend.name != "pyspark":
        yield ibis.memtable(data)
        return
    # ibis keeps the SparkSession in ``_session`` and has no way to make a view from Arrow.
    session = backend._session
    session.createDataFrame(data).createOrReplaceTempView(name)
    try:
        yield backend.table(name)
    finally:
        session.catalog.dropTempView(name)


@contextmanager
def memory_cap(backend: BaseBackend, limit: str) -> Iterator[None]:
    """Cap DuckDB's buffer pool for the block, restoring the previous limit afterwards.

    DuckDB's default cap is 80% of RAM; inside one long ingest transaction it then keeps every
    written block cached. A cap makes it evict and spill instead, bounding peak memory.
    """
    with _duckdb_setting(backend, "memory_limit", limit):
        yield


@contextmanager
def unordered_inserts(backend: BaseBackend) -> Iterator[None]:
    """Let DuckDB write the rows of an ``INSERT ... SELECT`` in whatever order its threads finish
    (``preserve_insertion_order = false``) for the block; the previous setting comes back after.

    Nothing in JourneyLens reads a table's physical row order (every ordering is explicit), and
    a loader keeping that order costs DuckDB 5-10% of an ingest's CPU (docs/benchmarks.md).
    """
    with _duckdb_setting(backend, "preserve_insertion_order", "false"):
        yield


@contextmanager
def deferred_checkpoints(backend: BaseBackend) -> Iterator[None]:
    """No automatic DuckDB checkpoint inside the block: the next commit after it, or closing the
    store, checkpoints (the log stays readable after a crash either way).

    DuckDB checkpoints when a commit leaves more than ``checkpoint_threshold`` (16 MiB) of log,
    writing every table changed since, compressed, into the file. A block that writes working
    tables and drops them before it ends saves writing them.
    """
    with _duckdb_setting(backend, "checkpoint_threshold", "1TB"):
        yield


@contextmanager
def _duckdb_setting(backend: BaseBackend, name: str, value: str) -> Iterator[None]:
    """DuckDB setting ``name`` (a fixed identifier) at ``value`` for the block; other engines
    run the block unchanged."""
    if backend.name != "duckdb":
        yield
        return
    (before,) = backend.con.execute("SELECT current_setting(?)", [name]).fetchall()[0]
    backend.raw_sql(f"SET {name} = '{_quote(str(value))}'")
    try:
        yield
    finally:
        backend.raw_sql(f"SET {name} = '{_quote(str(before))}'")


def capabilities(backend: BaseBackend) -> Capabilities:
    """Describe ``backend``; unknown engines get the conservative answer."""
    name = backend.name
    duckdb = name == "duckdb"
    return Capabilities(name=name, transactions=duckdb, drops_columns=duckdb)


@contextmanager
def transaction(backend: BaseBackend) -> Iterator[None]:
    """Run the block atomically where the engine allows it.

    On engines without transactions the block simply runs: an interrupted ingest may leave part
    of a file loaded there (idempotency keys make a re-run load only the rest).
    """
    if not capabilities(backend).transactions:
        yield
        return
    backend.raw_sql("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        backend.raw_sql("ROLLBACK")
        raise
    backend.raw_sql("COMMIT")


@ibis.udf.scalar.builtin(name="get_json_object")  # type: ignore[untyped-decorator]
def _get_json_object(value: str, path: str) -> str:  # type: ignore[empty-body]
    """Spark (and engines that store JSON as text): a JSON path's value as text."""


@ibis.udf.scalar.builtin(name="json_extract_string")  # type: ignore[untyped-decorator]
def _json_extract_string(value: dt.JSON, path: str) -> str:  # type: ignore[empty-body]
    """DuckDB: a JSON path's value as text."""


_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def json_text(value: ir.Value, key: str) -> ir.StringValue:
    """The value at ``key`` of a JSON object column as text (numbers too, as on every engine),
    on engines with a JSON type (DuckDB) and on engines that keep JSON as text (PySpark).

    Keys are quoted in the JSON path, so XES keys such as ``lifecycle:transition`` or
    ``org:resource`` are read as one key (ibis' ``value[key]`` split them at the colon).
    """
    if value.type().is_json():
        escaped = key.replace("\\", "\\\\").replace('"', '\\"')
        text: ir.StringValue = _json_extract_string(value, f'$."{escaped}"')
        return text
    if _PLAIN_KEY.match(key):
        return _get_json_object(value, f"$.{key}")
    return _get_json_object(value, "$['" + key.replace("'", "\\'") + "']")
