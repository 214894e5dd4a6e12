"""Write keys and read/admin tokens, stored only as hashes (``WORKSPACE/keys.json``).

A credential is ``jl_<kind letter>_<id>_<secret>``: the id finds the record, the secret is 32 random
bytes. Because secrets are random (not chosen by people), one SHA-256 is a sound hash: there is
nothing to guess from it. Verification compares digests in constant time. Kinds and what they may do:

- ``write``: send events for one source (its channel labels the events); cannot read.
- ``read``: call analyses and open the dashboard; cannot write.
- ``admin``: read, plus administrative calls (deleting a person).

The file is rewritten atomically and re-read when it changes, so ``journeylens keys revoke``
takes effect on a running server without a restart.

Example:
    >>> import tempfile
    >>> store = KeyStore(Path(tempfile.mkdtemp()) / "keys.json")
    >>> issued = store.create("read", name="cx team")
    >>> store.verify(issued.secret).scopes
    frozenset({'read'})
    >>> store.revoke(issued.record.id).revoked_at is not None
    True
    >>> store.verify(issued.secret) is None
    True
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import threading
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from journeylens.errors import InputError, close_matches

__all__ = ["KEYS_FILE", "KINDS", "Credential", "Issued", "KeyRecord", "KeyStore", "Kind"]

KEYS_FILE = "keys.json"
Kind = Literal["write", "read", "admin"]
KINDS: dict[str, frozenset[str]] = {
    "write": frozenset({"write"}),
    "read": frozenset({"read"}),
    "admin": frozenset({"read", "admin"}),
}
_TOKEN = re.compile(r"^jl_([wra])_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
_SOURCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class KeyRecord:
    """One key as stored: never the secret, only its hash."""

    id: str
    kind: str
    name: str
    source: str | None
    channel: str | None
    created_at: str
    hash: str
    revoked_at: str | None = None


@dataclass(frozen=True)
class Credential:
    """Who is calling, once verified: what the key may do and, for write keys, its source."""

    key_id: str
    kind: str
    scopes: frozenset[str]
    source: str | None = None
    channel: str | None = None


@dataclass(frozen=True)
class Issued:
    """A new key: the secret is shown once, here, and never stored."""

    record: KeyRecord
    secret: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class KeyStore:
    """The keys of one workspace, kept in a JSON file of hashes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._seen: tuple[int, int] | None = None
        self._records: dict[str, KeyRecord] = {}

    def _load(self) -> dict[str, KeyRecord]:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._seen, self._records = None, {}
            return self._records
        mark = (stat.st_mtime_ns, stat.st_size)
        if mark != self._seen:
            try:
                rows = json.loads(self.path.read_text(encoding="utf-8"))["keys"]
                records = {row["id"]: KeyRecord(**row) for row in rows}
            except (ValueError, KeyError, TypeError) as exc:
                raise InputError(
                    f"{self.path}: the key file is not valid ({exc}).",
                    hint="Restore it from a backup, or move it away and create new keys with "
                    "`journeylens keys create`.",
                ) from exc
            self._seen, self._records = mark, records
        return self._records

    def _save(self, records: dict[str, KeyRecord]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".json.tmp")
        text = json.dumps({"keys": [asdict(r) for r in records.values()]}, indent=2)
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)
        self._seen = None

    def records(self) -> list[KeyRecord]:
        """Every key, revoked ones included (oldest first)."""
        with self._lock:
            return sorted(self._load().values(), key=lambda r: (r.created_at, r.id))

    def create(
        self, kind: str, *, name: str = "", source: str | None = None, channel: str | None = None
    ) -> Issued:
        """Issue a key. A write key belongs to a ``source`` (default ``default``) whose events get
        ``channel`` unless they name their own."""
        if kind not in KINDS:
            near = close_matches(kind, KINDS)
            hint = f"Did you mean {', '.join(near)}?" if near else ""
            raise InputError(
                f"Unknown key kind {kind!r}; expected one of {', '.join(KINDS)}.",
                hint=f"{hint} write keys send events, read tokens query, "
                "admin tokens also delete people.".strip(),
            )
        if kind != "write" and (source or channel):
            raise InputError(
                f"--source and --channel belong to write keys, not to a {kind} token.",
                hint="Create a write key per source: "
                "`journeylens keys create write --source web --channel web`.",
            )
        if kind == "write":
            source = source or "default"
            if not _SOURCE.match(source):
                raise InputError(
                    f"Source name {source!r} is not valid.",
                    hint="Use letters, digits, '_', '.' or '-', up to 64 characters, "
                    "e.g. 'web' or 'call-centre'.",
                )
        secret_part = secrets.token_urlsafe(32)
        with self._lock:
            records = dict(self._load())
            key_id = secrets.token_hex(6)
            while key_id in records:
                key_id = secrets.token_hex(6)
            token = f"jl_{kind[0]}_{key_id}_{secret_part}"
            record = KeyRecord(key_id, kind, name, source, channel, _now(), _digest(token))
            records[key_id] = record
            self._save(records)
        return Issued(record, token)

    def revoke(self, key_id: str) -> KeyRecord:
        """Revoke a key by id; it stops working at once (also on a running server)."""
        with self._lock:
            records = dict(self._load())
            if key_id not in records:
                near = close_matches(key_id, records)
                raise InputError(
                    f"No key with id {key_id!r} in {self.path}.",
                    hint=(f"Did you mean {', '.join(near)}? " if near else "")
                    + "List ids with `journeylens keys list`.",
                )
            record = records[key_id]
            if record.revoked_at is None:
                record = replace(record, revoked_at=_now())
                records[key_id] = record
                self._save(records)
            return record

    def verify(self, token: str) -> Credential | None:
        """The credential ``token`` proves, or ``None`` (unknown, malformed, revoked or wrong secret)."""
        match = _TOKEN.match(token or "")
        if match is None:
            return None
        with self._lock:
            record = self._load().get(match.group(2))
        if record is None or record.revoked_at is not None or record.kind[0] != match.group(1):
            return None
        if not hmac.compare_digest(record.hash, _digest(token)):
            return None
        return Credential(record.id, record.kind, KINDS[record.kind], record.source, record.channel)
