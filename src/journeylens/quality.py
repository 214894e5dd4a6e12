"""Data-quality and load status of a workspace: table sizes, quarantine, recent ingests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from journeylens.store._quick import embedded_file, status_rows
from journeylens.store.names import RAW_TABLE_NAMES, SYSTEM_TABLE_NAMES

if TYPE_CHECKING:
    from journeylens.store import Store
    from journeylens.workspace import Workspace

LAST_INGESTS = 10


@dataclass(frozen=True)
class Status:
    tables: dict[str, int]
    quarantine: list[dict[str, Any]]
    """Quarantined records by table, reason and field (each file line once), most frequent first."""
    ingests: list[dict[str, Any]]
    """The most recent ingest runs, newest first."""
    unlinked_feedback: int = 0
    """Feedback rows that name no user_id, anonymous_id or case_id (anonymous answers): kept and
    counted in feedback totals, linked to no customer or journey."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "tables": self.tables,
            "unlinked_feedback": self.unlinked_feedback,
            "quarantine": self.quarantine,
            "ingests": self.ingests,
        }


def workspace_status(ws: Workspace, last: int = LAST_INGESTS) -> Status:
    """:func:`status` of a workspace, read without the engine when its store is an embedded
    DuckDB file nobody is writing to (``journeylens status`` starts in a fraction of a second),
    else through the store on any engine.

    Example:
        >>> workspace_status(Workspace.open("my-workspace")).tables["events"]  # doctest: +SKIP
        21348
    """
    path = embedded_file(ws.url)
    quick = status_rows(path, (*RAW_TABLE_NAMES, *SYSTEM_TABLE_NAMES), last) if path else None
    return Status(**quick) if quick is not None else status(ws.store, last)


def status(store: Store, last: int = LAST_INGESTS) -> Status:
    """Row counts, quarantine by reason and the ``last`` ingests.

    Example:
        >>> status(Store.connect("duckdb://", timezone="UTC")).tables["events"]
        0
    """
    import ibis

    # Re-ingesting a file quarantines its bad records again; count each (file, line) once.
    log = store.table("quarantine")
    q = log.select("table", "source", "line", "reason", "field").distinct()
    by_reason = (
        q.group_by(["table", "reason", "field"])
        .agg(records=q.count(), example_source=q.source.min(), example_line=q.line.min())
        .order_by([ibis.desc("records"), "table", "reason"])
    )
    ingests = store.table("ingests").order_by(ibis.desc("ingest_id")).limit(last)
    fb = store.table("feedback")
    unlinked = fb.filter(fb.user_id.isnull() & fb.anonymous_id.isnull() & fb.case_id.isnull()).count()
    return Status(
        tables=store.counts(),
        quarantine=store.execute(by_reason).to_pylist(),
        ingests=store.execute(ingests).to_pylist(),
        unlinked_feedback=int(store.execute(unlinked).as_py()),
    )
