"""Deleting the rows of a table that match an Ibis predicate (backend layer).

Ibis has no DELETE. On DuckDB the predicate is compiled by Ibis and spliced, as a parsed sqlglot
tree (never as text built from values), into ``DELETE FROM table AS alias WHERE ...``: the rows go
in place, inside the caller's transaction. Engines without that path (Spark) get the portable
fallback: the kept rows are written to a working table of the engine and the table is rewritten
from it, which is exact but reads and writes the whole table twice (fine for the rare erasure
request; see docs/privacy.md).

Example:
    >>> n = delete_where(store.backend, "events", lambda t: t.user_id == "u1")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable

import ibis
import ibis.expr.types as ir
import sqlglot
from ibis.backends import BaseBackend
from sqlglot import exp

from journeylens.store import _backend, _working

__all__ = ["Predicate", "delete_where"]

Predicate = Callable[[ir.Table], ir.BooleanValue]


def delete_where(backend: BaseBackend, name: str, predicate: Predicate) -> int:
    """Delete the rows of table ``name`` for which ``predicate(table)`` is true; return how many.

    A null predicate keeps the row (as SQL's WHERE does), on every engine.
    """
    table = backend.table(name)
    doomed = predicate(table).fill_null(False)
    n = int(_backend.to_arrow(backend, table.filter(doomed).count()).as_py())
    if n == 0:
        return 0
    if backend.name == "duckdb":
        backend.raw_sql(_duckdb_delete(name, table.filter(doomed)))
    else:
        # Spark cannot overwrite a table its query reads: the kept rows go to a working table of
        # the engine first (never through this process), which then replaces the table.
        kept = _working.scratch_table(backend, f"_jl_kept_{name}", table.filter(~doomed))
        backend.create_table(name, kept, overwrite=True)
        _working.drop_scratch(backend, kept.get_name())
    return n


def _duckdb_delete(name: str, selection: ir.Table) -> str:
    """``DELETE FROM name AS t0 WHERE <the selection's WHERE>`` (and its CTEs, if Ibis made any)."""
    select = sqlglot.parse_one(str(ibis.to_sql(selection, dialect="duckdb")), read="duckdb")
    source = select.find(exp.From)
    where = select.args.get("where")
    if source is None or where is None:  # pragma: no cover - a filter always compiles to both
        raise RuntimeError(f"cannot compile a DELETE for {name}")
    target = exp.to_table(name, quoted=True).as_(source.this.alias_or_name)
    delete = exp.Delete(this=target, where=where)
    if select.args.get("with_") is not None:
        delete.set("with_", select.args["with_"])
    return delete.sql("duckdb")
