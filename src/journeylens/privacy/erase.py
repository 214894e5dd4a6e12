"""Deleting a person's rows from every table of the store, found by their columns, not by a list.

The tables are enumerated from the engine (``list_tables``), so a table added by a later feature
is covered the day it exists: a row is the person's when

- a column named like an identifier kind (``user_id``, ``anonymous_id``, ``case_id``,
  ``customer_id``, ``journey_id``, ``event_id``, ``feedback_id``) holds one of theirs;
- its ``(identifier_type, identifier_value)`` is one of their identity-graph nodes
  (``identities``, ``customer_map``);
- a free-text column (``comment``, ``raw``, ``message``) mentions one of their identifiers
  (``subject.mentions``): a comment giving their e-mail, a quarantined record with their id.

Learned text models (``text_models``) hold weights and vocabularies learned from every comment,
not rows: they are dropped whole and relearned by the next build without the person. Working
tables (``_jl_*``) are dropped: every run recreates them. Tables JourneyLens keeps about its own
work (``ingests``, ``builds``, ``alerts``: file paths, build times, aggregate change statistics)
name no one and match no rule; the trace test checks that.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from journeylens.privacy.subject import IDS, KEY_KINDS, mentions, values_of
from journeylens.store._delete import Predicate, delete_where
from journeylens.store._working import drop_scratch, scratch_table
from journeylens.store.store import Store

__all__ = ["KEPT", "LEARNED", "TEXT_COLUMNS", "erase"]

TEXT_COLUMNS = ("comment", "raw", "message")
LEARNED = ("text_models",)
KEPT = ("journeylens_meta", "suppressions", "privacy_audit")
"""The schema version, and what forgetting itself keeps (hashes and counts, no identifier)."""
_TEXTS = "_jl_forget_texts"
_SEP = "\x1f"


def erase(
    store: Store, ids: ir.Table, salt: str, default_country_code: str, *, dry_run: bool = False
) -> dict[str, int]:
    """Delete the person's rows everywhere; rows deleted per table (tables with none left out).

    ``dry_run`` only counts the rows that would go (the parity suite compares them).
    """
    backend = store.backend
    removed: dict[str, int] = {}
    names = sorted(backend.list_tables())
    for name in names:
        # ibis_*: this process's in-memory Arrow views, not stored (gone when it closes)
        if name.startswith(("_jl_", "ibis_")) or name in KEPT:
            continue
        if name in LEARNED:
            n = _remove(store, name, lambda t: ibis.literal(True), dry_run)
        else:
            n = _erase_table(store, name, ids, salt, default_country_code, dry_run)
        if n:
            removed[name] = n
    if not dry_run:
        drop_scratch(backend, *(n for n in names if n.startswith("_jl_") and n != IDS))
    return removed


def _remove(store: Store, name: str, predicate: Predicate, dry_run: bool) -> int:
    if not dry_run:
        return delete_where(store.backend, name, predicate)
    table = store.backend.table(name)
    return int(store.execute(table.filter(predicate(table).fill_null(False)).count()).as_py())


def _erase_table(
    store: Store, name: str, ids: ir.Table, salt: str, default_country_code: str, dry_run: bool
) -> int:
    backend = store.backend
    table = backend.table(name)
    texts = [c for c in TEXT_COLUMNS if c in table.columns and table[c].type().is_string()]
    if not texts and not _identifying(table):
        return 0
    hits = {}
    scratch = [f"{_TEXTS}_{i}" for i in range(len(texts))]
    try:
        for column, working in zip(texts, scratch, strict=True):
            found = mentions(table, column, ids, salt, default_country_code)
            hits[column] = scratch_table(backend, working, found)
        return _remove(store, name, lambda t: _theirs(t, ids, hits), dry_run)
    finally:
        drop_scratch(backend, *scratch)


def _identifying(table: ir.Table) -> bool:
    return any(c in table.columns for c in (*KEY_KINDS, "identifier_value"))


def _theirs(t: ir.Table, ids: ir.Table, hits: dict[str, ir.Table]) -> ir.BooleanValue:
    flag: ir.BooleanValue = ibis.literal(False)
    for kind in KEY_KINDS:
        if kind in t.columns:
            flag = flag | t[kind].cast("string").isin(values_of(ids, kind)).fill_null(False)
    if "identifier_type" in t.columns and "identifier_value" in t.columns:
        node = t.identifier_type.cast("string") + _SEP + t.identifier_value.cast("string")
        flag = flag | node.isin(ids.kind + _SEP + ids.value).fill_null(False)
    for column, found in hits.items():
        flag = flag | t[column].isin(found.text).fill_null(False)
    return flag
