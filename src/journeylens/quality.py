"""Data-quality and load status of a workspace: table sizes, quarantine, recent ingests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ibis

from journeylens.store import Store


@dataclass(frozen=True)
class Status:
    tables: dict[str, int]
    quarantine: list[dict[str, Any]]
    """Quarantined records by table, reason and field (each file line once), most frequent first."""
    ingests: list[dict[str, Any]]
    """The most recent ingest runs, newest first."""

    def to_dict(self) -> dict[str, Any]:
        return {"tables": self.tables, "quarantine": self.quarantine, "ingests": self.ingests}


def status(store: Store, last: int = 10) -> Status:
    """Row counts, quarantine by reason and the ``last`` ingests.

    Example:
        >>> status(Store.connect("duckdb://", timezone="UTC")).tables["events"]
        0
    """
    # Re-ingesting a file quarantines its bad records again; count each (file, line) once.
    log = store.table("quarantine")
    q = log.select("table", "source", "line", "reason", "field").distinct()
    by_reason = (
        q.group_by(["table", "reason", "field"])
        .agg(records=q.count(), example_source=q.source.min(), example_line=q.line.min())
        .order_by([ibis.desc("records"), "table", "reason"])
    )
    ingests = store.table("ingests").order_by(ibis.desc("ingest_id")).limit(last)
    return Status(
        tables=store.counts(),
        quarantine=store.execute(by_reason).to_pylist(),
        ingests=store.execute(ingests).to_pylist(),
    )
