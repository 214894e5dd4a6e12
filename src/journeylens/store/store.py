"""The store: canonical tables on an Ibis backend, created and migrated on open."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from ibis.backends import BaseBackend

from journeylens.errors import NotFoundError
from journeylens.store import _backend
from journeylens.store.schema import RAW_TABLES, SYSTEM_TABLES
from journeylens.store.settings import BackendSettings

SCHEMA_VERSION = 1
_META = "journeylens_meta"


class Store:
    """Raw and system tables of one workspace on one engine.

    Example:
        >>> store = Store.connect("duckdb://", timezone="UTC")
        >>> store.count("events")
        0
    """

    def __init__(self, backend: BaseBackend, timezone: str = "UTC") -> None:
        self.backend = backend
        self.timezone = timezone
        self.capabilities = _backend.capabilities(backend)
        self.url = f"{backend.name}://"
        """Where the store lives (for messages)."""
        self.root: Path | None = None
        """The workspace folder the store belongs to, when it belongs to one (the report reads maps/)."""
        self._migrate()

    @classmethod
    def connect(
        cls,
        url: str,
        *,
        timezone: str,
        memory_limit: str | None = None,
        root: Path | None = None,
        settings: BackendSettings | None = None,
    ) -> Store:
        """Open the store at ``url``; ``settings`` is ``[backend]`` (Spark configuration,
        catalog and database)."""
        backend = _backend.connect(
            url, timezone=timezone, memory_limit=memory_limit, root=root, settings=settings
        )
        store = cls(backend, timezone)
        store.url = url
        store.root = root
        return store

    def _schemas(self) -> dict[str, ibis.Schema]:
        schemas = {name: spec.schema() for name, spec in RAW_TABLES.items()}
        schemas.update(SYSTEM_TABLES)
        return schemas

    def _migrate(self) -> None:
        """Create missing tables; add columns that newer versions of the model introduced."""
        existing = set(self.backend.list_tables())
        for name, schema in self._schemas().items():
            if name not in existing:
                self.backend.create_table(name, schema=schema)
                continue
            have = self.backend.table(name).schema()
            for col, dtype in schema.items():
                if col not in have:
                    self._add_column(name, col, dtype)
        if _META not in existing:
            self.backend.create_table(_META, schema=ibis.schema({"schema_version": "int64"}))
            self.backend.insert(_META, pa.table({"schema_version": [SCHEMA_VERSION]}))

    def _add_column(self, table: str, column: str, dtype: Any) -> None:
        type_text = self.backend.compiler.type_mapper.to_string(dtype)
        self.backend.raw_sql(f'ALTER TABLE "{table}" ADD COLUMN "{column}" {type_text}')

    def table(self, name: str) -> ir.Table:
        if name not in self._schemas():
            raise NotFoundError(
                f"Unknown table {name!r}. Tables: {', '.join(self._schemas())}.",
                hint=f"Raw tables are {', '.join(RAW_TABLES)}; `journeylens build` derives the others.",
            )
        return self.backend.table(name)

    def count(self, name: str) -> int:
        return int(self.table(name).count().to_pyarrow().as_py())

    def counts(self) -> dict[str, int]:
        """Row count of every canonical and system table."""
        return {name: self.count(name) for name in self._schemas()}

    def insert(self, name: str, rows: pa.Table | ir.Table) -> None:
        """Append ``rows`` (Arrow or an Ibis expression) to table ``name``, columns by name."""
        schema = self._schemas()[name]
        if isinstance(rows, pa.Table):
            if rows.num_rows == 0:
                return
            rows = ibis.memtable(rows)
        self.backend.insert(name, rows.select(*schema.names).cast(schema))

    def rewrite(self, name: str, rows: ir.Table) -> None:
        """Replace the rows of small table ``name`` by ``rows``, which may read the table itself.

        For system tables of a few rows (``builds``): the rows are materialised first, so engines
        that cannot overwrite a table they read (Spark) work too. Atomic where the engine has
        transactions; elsewhere an interruption may leave the table empty (it is recreated empty).
        """
        schema = self._schemas()[name]
        with self.transaction():
            data = self.execute(rows.select(*schema.names).cast(schema))
            self.backend.create_table(name, data, schema=schema, overwrite=True)

    def next_ingest_id(self) -> int:
        last = self.table("ingests").ingest_id.max().to_pyarrow().as_py()
        return 1 if last is None else int(last) + 1

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with _backend.transaction(self.backend):
            yield

    def local_time(self, ts: ir.TimestampValue) -> ir.TimestampValue:
        """Wall-clock time of ``ts`` in the workspace zone: cut days and weeks from this."""
        return _backend.local_time(self.backend, ts, self.timezone)

    def execute(self, expr: ir.Expr) -> pa.Table:
        """Run an expression on this store's engine and return Arrow."""
        return _backend.to_arrow(self.backend, expr)

    def close(self) -> None:
        self.backend.disconnect()
