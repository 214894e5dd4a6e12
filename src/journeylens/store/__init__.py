"""Storage layer: canonical tables on an Ibis backend (DuckDB by default)."""

from __future__ import annotations

from journeylens.store.schema import RAW_TABLES, Reason, TableSpec
from journeylens.store.store import Store

__all__ = ["RAW_TABLES", "Reason", "Store", "TableSpec"]
