"""The suppression list: identifiers of forgotten people, as salted hashes, checked on every ingest.

An identifier is listed as ``SHA-256(salt + ":" + value as stored)``: a user id, anonymous id or
case id as it is, an e-mail or phone as its stored (already salted) hash. The same hashing as
``ingest.pii`` with the workspace salt, so the list holds nothing that identifies anyone without
the salt, and a record is matched after canonicalisation (an e-mail written differently still
normalises to the same stored hash). Ingest drops matching records before anything is stored and
counts them as ``suppressed`` (``ingest.batches``); the collector loads through the same path.

Example:
    >>> import ibis
    >>> t = ibis.memtable({"user_id": ["u1", "u2"]})
    >>> hashes = ibis.memtable({"identifier_hash": ["x"]})
    >>> flag = suppressed(t, hashes, "s" * 16, "31")
"""

from __future__ import annotations

import datetime as _dt

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from journeylens.ingest.pii import hash_identifier, normalize_email, normalize_phone
from journeylens.ingest.validation import RAW
from journeylens.privacy.subject import tokens
from journeylens.store.schema import SUPPRESSIONS_SCHEMA
from journeylens.store.store import Store

__all__ = ["ID_COLUMNS", "SUPPRESSIONS", "add_suppressions", "suppressed", "suppression_list"]

SUPPRESSIONS = "suppressions"
ID_COLUMNS = ("user_id", "anonymous_id", "case_id", "identifier_value")
"""Columns of raw records that name a person; a record is suppressed when any of them is listed."""
TEXT_COLUMNS = ("comment", RAW)
"""Free text checked too: feedback giving a forgotten person's e-mail is theirs, and so is a bad
record (headed for quarantine) whose raw text names them."""


def suppressed(records: ir.Table, hashes: ir.Table, salt: str, default_country_code: str) -> ir.BooleanValue:
    """True for the records of ``records`` that name a listed identifier, in an identifier column
    or in a free-text comment (never null)."""
    listed = hashes.identifier_hash
    flags = [
        hash_identifier(records[c].cast("string"), salt).isin(listed).fill_null(False)
        for c in ID_COLUMNS
        if c in records.columns
    ]
    for column in TEXT_COLUMNS:
        if column in records.columns:
            said = _mentioning(records, column, listed, salt, default_country_code)
            flags.append(records[column].isin(said).fill_null(False))
    flag: ir.BooleanValue = ibis.literal(False)
    for one in flags:
        flag = flag | one
    return flag


def _mentioning(
    records: ir.Table, column: str, listed: ir.Column, salt: str, default_country_code: str
) -> ir.Column:
    """Texts with a word that is a listed identifier, or an e-mail or phone whose stored hash is."""
    words = tokens(records, column)
    stored = [
        words.token,
        hash_identifier(normalize_email(words.token), salt),
        hash_identifier(normalize_phone(words.token, default_country_code), salt),
    ]
    hit: ir.BooleanValue = ibis.literal(False)
    for value in stored:
        hit = hit | hash_identifier(value, salt).isin(listed).fill_null(False)
    return words.filter(hit).text


def suppression_list(store: Store, engine: BaseBackend) -> ir.Table | None:
    """The list as a table on ``engine`` (the ingest engine), or None when it is empty."""
    listed = store.table(SUPPRESSIONS)
    if int(store.execute(listed.count()).as_py()) == 0:
        return None
    if engine is store.backend:
        return listed.select("identifier_hash")
    # One hash per forgotten identifier: a short list, copied to the ingest engine (DuckDB).
    return ibis.memtable(store.execute(listed.select("identifier_hash")))


def add_suppressions(store: Store, values: ir.Table, salt: str, request_id: str) -> int:
    """List the hashes of ``values.value`` (stored forms) not listed yet; return how many were new."""
    listed = store.table(SUPPRESSIONS)
    hashed = values.select(identifier_hash=hash_identifier(values.value, salt)).distinct()
    new = hashed.anti_join(listed, "identifier_hash")
    n = int(store.execute(new.count()).as_py())
    if n:
        now = ibis.literal(_dt.datetime.now(_dt.UTC), type=SUPPRESSIONS_SCHEMA["added_at"])
        store.insert(SUPPRESSIONS, new.mutate(request_id=ibis.literal(request_id), added_at=now))
    return n
