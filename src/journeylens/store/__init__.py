"""Storage layer: canonical tables on an Ibis backend (DuckDB by default).

The public names are imported on first use, so that reading ``store.names`` or the settings does
not import the engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from journeylens._lazy import lazy_names

if TYPE_CHECKING:
    from journeylens.store.schema import RAW_TABLES, Reason, TableSpec
    from journeylens.store.store import Store

_LAZY = {
    "RAW_TABLES": "journeylens.store.schema",
    "Reason": "journeylens.store.schema",
    "TableSpec": "journeylens.store.schema",
    "Store": "journeylens.store.store",
}


__getattr__ = lazy_names(__name__, _LAZY)


__all__ = ["RAW_TABLES", "Reason", "Store", "TableSpec"]
