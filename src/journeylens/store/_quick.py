"""Small read-only answers from an embedded DuckDB file, without Ibis: for commands that must start fast.

``journeylens status`` is the first command a user runs and the one scripts poll; through Ibis it
pays for Ibis's DuckDB backend (which imports pandas) before the first query, about 0.5 s here.
This module answers it with the ``duckdb`` module alone (0.1 s), read-only. It is the backend
layer's DuckDB fast path; the portable path is :func:`journeylens.quality.status` on any engine,
and a test keeps the two equal. Whenever the fast path cannot answer exactly (another engine, a
file another process holds open for writing, tables an older version made), it returns None and
the caller takes the portable path, which also migrates the tables.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

_DUCKDB = "duckdb://"


def resolve_url(url: str, root: Path) -> str:
    """Make a relative DuckDB file path in ``url`` relative to the workspace ``root``."""
    parsed = urlparse(url)
    if parsed.scheme == "duckdb":
        path = url[len(_DUCKDB) :]
        if path and path != ":memory:" and not Path(path).is_absolute():
            return f"{_DUCKDB}{(root / path).resolve()}"
    return url


def embedded_file(url: str) -> Path | None:
    """The DuckDB file a resolved ``url`` names, when it is one that exists; else None."""
    if not url.startswith(_DUCKDB):
        return None
    path = url[len(_DUCKDB) :]
    if not path or path == ":memory:" or not Path(path).is_file():
        return None
    return Path(path)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# The same three answers as quality.status, in DuckDB SQL over the same tables. Quarantined
# records are counted once per (file, line): stores written before quarantine became idempotent
# hold a copy per ingest of the file.
_QUARANTINE = """
SELECT "table", reason, field, count(*) AS records, min(source) AS example_source,
       min(line) AS example_line
FROM (SELECT DISTINCT "table", source, line, reason, field FROM quarantine)
GROUP BY "table", reason, field
ORDER BY records DESC, "table", reason
"""
_INGESTS = "SELECT * FROM ingests ORDER BY ingest_id DESC LIMIT ?"
# Anonymous feedback, counted in the same statement as the table sizes.
_UNLINKED = (
    "SELECT -1 AS i, count(*) AS n FROM feedback "
    "WHERE user_id IS NULL AND anonymous_id IS NULL AND case_id IS NULL"
)


def status_rows(path: Path, tables: Sequence[str], last: int) -> dict[str, Any] | None:
    """``{"tables": counts, "unlinked_feedback": n, "quarantine": [...], "ingests": [...]}``
    (as :meth:`journeylens.quality.Status.to_dict`) read from the file at
    ``path``, or None when the portable path must answer (see the module docstring)."""
    import duckdb

    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return None
    try:
        present = {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        if not {*tables, "feedback"} <= present:
            return None
        counts = " UNION ALL ".join(
            [*(f"SELECT {i} AS i, count(*) AS n FROM {_quoted(t)}" for i, t in enumerate(tables)), _UNLINKED]
        )
        by_index = dict(con.execute(counts).fetchall())
        return {
            "tables": {t: int(by_index[i]) for i, t in enumerate(tables)},
            "unlinked_feedback": int(by_index[-1]),
            "quarantine": _records(con.execute(_QUARANTINE)),
            "ingests": _records(con.execute(_INGESTS, [last])),
        }
    except duckdb.Error:
        return None
    finally:
        con.close()


def _records(cursor: Any) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, map(_utc, row), strict=True)) for row in cursor.fetchall()]


def _utc(value: Any) -> Any:
    """Stored instants in UTC, as the portable path returns them (not in the session's zone)."""
    if isinstance(value, _dt.datetime) and value.tzinfo is not None:
        return value.astimezone(_dt.UTC)
    return value
