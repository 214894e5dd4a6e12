"""Replace some rows of a large table: delete those whose key is in a set, insert new ones.

The incremental build updates ``journeys``, ``journey_events`` and ``feedback_links`` this way.
DuckDB deletes and inserts in place (cost: the rows touched plus one scan of the key column);
engines without ``DELETE`` (ibis' PySpark tables) rewrite the table from the kept rows and the new
ones, through a working table because Spark cannot overwrite a table it reads.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from journeylens.store._working import drop_scratch, scratch_table

_KEPT = "_jl_rows_kept"


def replace_rows(backend: BaseBackend, name: str, key: str, gone: ir.Table, rows: ir.Table) -> None:
    """Delete the rows of table ``name`` whose ``key`` is in ``gone[key]``, then insert ``rows``.

    ``gone`` and ``rows`` must not read table ``name`` itself (materialise them first).

    Example:
        >>> replace_rows(con, "journeys", "journey_id", stale_ids, recomputed)  # doctest: +SKIP
    """
    table = backend.table(name)
    rows = rows.select(*table.columns).cast(table.schema())
    if backend.name == "duckdb":
        keys = ibis.to_sql(gone.select(key).distinct(), dialect="duckdb")
        # Identifiers only are spliced (quoted); every value stays inside the compiled query.
        backend.raw_sql(f'DELETE FROM "{name}" WHERE "{key}" IN (SELECT "{key}" FROM ({keys}))')
        backend.insert(name, rows)
        return
    kept = table.filter(~table[key].isin(gone[key]))
    merged = scratch_table(backend, _KEPT, kept.union(rows), large=True)
    try:
        backend.create_table(name, merged, overwrite=True)
    finally:
        drop_scratch(backend, _KEPT)
