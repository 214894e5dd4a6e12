"""What one file's ingest did: :class:`IngestReport`, one per file, also for files that failed."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class IngestReport:
    """Outcome of ingesting one file.

    ``rows_read == loaded + duplicates + quarantined_total + suppressed`` always holds; ``duplicates`` are
    records already stored (by an earlier ingest, an earlier file, or an earlier line with the same
    ``event_id``). A file that could not be ingested has ``error`` (and ``hint``) set and nothing
    of it is stored.
    """

    source: str
    table: str
    ingest_id: int
    rows_read: int = 0
    loaded: int = 0
    duplicates: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    suppressed: int = 0
    """Records naming a forgotten person (the suppression list, docs/privacy.md): dropped, not stored."""
    dst_shifted: int = 0
    """Local times inside a daylight-saving gap, stored shifted forward by the gap."""
    unlinked: int = 0
    """Valid records that name no customer, anonymous id or case (anonymous feedback): stored all
    the same (or already stored), linked to no customer or journey."""
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    """What the user should know about how records were read (e.g. a default channel)."""
    error: str | None = None
    hint: str | None = None

    @property
    def quarantined_total(self) -> int:
        return sum(self.quarantined.values())

    @property
    def failed(self) -> bool:
        return self.error is not None

    def to_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "table": self.table,
            "ingest_id": self.ingest_id,
            "rows_read": self.rows_read,
            "loaded": self.loaded,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined_total,
            "quarantined_by_reason": dict(sorted(self.quarantined.items())),
            "suppressed": self.suppressed,
            "dst_shifted": self.dst_shifted,
            "unlinked": self.unlinked,
            "seconds": round(self.seconds, 3),
            "notes": list(self.notes),
            "error": self.error,
        }
