"""Working tables: what a multi-step computation materialises between its statements, and how.

On DuckDB a working table is temporary (in memory, uncompressed, cheap to write) unless it holds
a row per event of a full build (``large``): temporary data beyond the memory limit is spilled
uncompressed, and journeys on 50M events filled 41 GB of spill that way. Elsewhere (ibis' PySpark
backend has no temporary tables) every working table is an ordinary table each run overwrites.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import ibis.expr.operations as ops
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from journeylens.store._backend import capabilities
from journeylens.store.settings import MEMORY_SIZE


def scratch_table(
    backend: BaseBackend, name: str, obj: ir.Table | None = None, *, large: bool = False, **kwargs: Any
) -> ir.Table:
    """Materialise ``obj`` as a working table for a multi-step computation.

    A temporary table where the engine has them (DuckDB); elsewhere (ibis' PySpark backend has
    no temporary tables) an ordinary table that each run overwrites.

    ``large`` marks tables with a row per event: on DuckDB they are ordinary tables, stored
    compressed like any table, because temporary data beyond the memory limit is spilled to disk
    uncompressed (journeys on 50M events filled 41 GB of spill before this). Drop them with
    :func:`drop_scratch` when done.
    """
    if backend.name != "duckdb":
        return backend.create_table(name, obj, overwrite=True, **kwargs)
    temp = not large
    # ibis overwrites a DuckDB temporary table by writing a new one and copying it under the name
    # (a second full write: 15% of journey building at 10M events). Dropping first writes once;
    # only an expression that reads the table it replaces still needs ibis' way.
    if not isinstance(obj, ir.Table) or name not in _table_names(obj):
        backend.drop_table(name, force=True)
        return backend.create_table(name, obj, temp=temp, **kwargs)
    return backend.create_table(name, obj, temp=temp, overwrite=True, **kwargs)


WORKING_ROW_BYTES = 1024
"""What the working tables of one event take in memory, all together, when temporary. Measured at
10M events: about 280 bytes for an incremental build's claims, episodes and assignment, 470 with
its picked events too; 1 KB leaves room (docs/benchmarks.md, "Incremental build")."""
_UNIT = {"KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
         "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}  # fmt: skip


def fits_in_memory(backend: BaseBackend, events: ir.Table) -> bool:
    """Working tables of ``events`` (one row each) can be temporary (``scratch_table`` without
    ``large``): together they take at most a quarter of DuckDB's memory limit, so they are not
    spilled, and temporary ones are cheaper to write than compressed ones. Always ``False`` (and
    nothing counted) elsewhere."""
    if backend.name != "duckdb":
        return False
    rows = int(backend.to_pyarrow(events.count()).as_py())
    (limit,) = backend.con.execute("SELECT current_setting('memory_limit')").fetchall()[0]
    size = re.match(MEMORY_SIZE, str(limit).strip())  # as DuckDB reports it: "18.8 GiB"
    if size is None:
        return False
    return rows * WORKING_ROW_BYTES <= float(size[0][: size.start(2)]) * _UNIT[size[2]] / 4


def drop_scratch(backend: BaseBackend, *names: str) -> None:
    """Drop working tables made by :func:`scratch_table` (missing ones are fine)."""
    for name in names:
        backend.drop_table(name, force=True)


def _table_names(expr: ir.Table) -> set[str]:
    """Names of the tables ``expr`` reads."""
    return {op.name for op in expr.op().find(ops.PhysicalTable)}


def keep_columns(backend: BaseBackend, name: str, columns: Sequence[str]) -> ir.Table:
    """Narrow the stored table ``name`` to ``columns`` in place, on an engine that
    :attr:`Capabilities.drops_columns` (DuckDB: nothing is rewritten, and the dropped columns'
    blocks are freed at the next checkpoint)."""
    if not capabilities(backend).drops_columns:
        raise ValueError(f"{backend.name} cannot drop columns in place; write the columns to keep instead")
    for column in backend.table(name).columns:
        if column not in columns:
            backend.raw_sql(f'ALTER TABLE "{name}" DROP COLUMN "{column}"')
    return backend.table(name)
