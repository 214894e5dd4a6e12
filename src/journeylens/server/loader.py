"""Moves the collector's write-ahead log into the store, exactly once per message.

A background thread seals the log's segments every ``interval`` seconds and stores them in one
transaction, holding the runner's lock (the embedded store serves one statement at a time):

1. messages whose ``(source, messageId)`` is already in ``collector_seen`` are skipped (a retry of
   a message stored before; a segment stored just before a crash, read again), and so are repeats
   inside the segments;
2. the others become canonical records (``collector_messages.records``) and go through the file
   ingestion's own path (:meth:`~journeylens.ingest.pipeline.Ingestor.load_records`): the same
   checks, PII hashing, quarantine with typed reasons and ``ingests`` rows;
3. their keys are added to ``collector_seen`` in the same transaction, so a message is marked seen
   exactly when it is stored.

Only after the commit are the segments deleted. A crash at any point leaves either the segments
(stored again: every key is seen, nothing loads twice) or nothing to do.

Example:
    >>> loader = Loader(ctx, wal)  # doctest: +SKIP
    >>> loader.drain()  # everything acknowledged so far is now in the store  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as _dt
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from journeylens.ingest.readers import LINE, records_to_table
from journeylens.server.collector_messages import Envelope, dedup_key, records
from journeylens.server.wal import WriteAheadLog, read_segment

if TYPE_CHECKING:
    from journeylens.ingest.pipeline import Ingestor
    from journeylens.server.app import ServerContext

__all__ = ["SOURCE_PREFIX", "LoadOutcome", "Loader", "unseen"]

SOURCE_PREFIX = "collector:"
"""``source`` of rows the collector stored: ``collector:<write key source>``."""
SEEN = "collector_seen"
MAX_PAUSE = 5.0
"""Longest wait between two loader cycles (seconds): how stale the store can be under load."""
_log = logging.getLogger("journeylens.server.loader")


@dataclass
class LoadOutcome:
    """What one loader cycle did."""

    messages: int = 0
    repeats: int = 0
    """Messages already stored (retries) or repeated in the log."""
    stored: dict[str, int] = field(default_factory=dict)
    """Rows loaded per table."""
    quarantined: int = 0


def _keys(entries: list[tuple[Envelope, dict[str, Any]]]) -> pa.Table:
    return pa.table(
        {
            "source": [e.source for e, _ in entries],
            "message_id": [dedup_key(m) for _, m in entries],
            "_pos": list(range(len(entries))),
        }
    )


def _with_lines(rows: list[dict[str, object]]) -> pa.Table:
    data = records_to_table(rows)
    # A column no record filled has Arrow type null; the checks read it as text.
    for i, column in enumerate(data.columns):
        if pa.types.is_null(column.type):
            data = data.set_column(i, data.field(i).name, column.cast(pa.string()))
    return data.append_column(LINE, pa.array(range(1, data.num_rows + 1), pa.int64()))


def unseen(keys: ir.Table, seen: ir.Table) -> ir.Table:
    """The first position of each ``(source, message_id)`` of ``keys`` that ``seen`` lacks."""
    fresh = keys.anti_join(seen, ["source", "message_id"])
    return fresh.group_by(["source", "message_id"]).agg(_pos=fresh._pos.min())


class Loader:
    """Stores what the log holds, in the background and on demand (:meth:`drain`)."""

    def __init__(self, ctx: ServerContext, wal: WriteAheadLog, *, interval: float = 0.25) -> None:
        self.ctx, self.wal, self.interval = ctx, wal, interval
        self._cycle = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._ingestor: Ingestor | None = None
        self.failures = 0
        """Cycles that failed (the segments stay and are tried again)."""

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="journeylens-loader", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        busy = 0.0
        while not self._stop.is_set():
            self._wake.wait(self._pause(busy))
            self._wake.clear()
            started = time.monotonic()
            try:
                self.load_once()
                busy = time.monotonic() - started
            except Exception:  # kept for the next cycle; a defect must not kill the thread
                self.failures += 1
                _log.exception("loading the collector log failed; retrying")
                self._stop.wait(min(5.0, self.interval * 2 ** min(self.failures, 6)))

    def _pause(self, busy: float) -> float:
        """Seconds to wait before the next cycle: ``interval``, or twice the last cycle's time when
        that is longer (at most ``MAX_PAUSE``). A cycle has a fixed cost (one ingest transaction)
        and shares the process with the request handlers, so under a high rate the loader takes
        larger groups less often instead of holding the interpreter most of the time."""
        return min(MAX_PAUSE, max(self.interval, 2 * busy))

    def drain(self) -> LoadOutcome:
        """Block until everything in the log when called is in the store; what was stored."""
        total = LoadOutcome()
        while True:
            outcome = self.load_once()
            if not outcome.messages:
                return total
            total.messages += outcome.messages
            total.repeats += outcome.repeats
            total.quarantined += outcome.quarantined
            for name, n in outcome.stored.items():
                total.stored[name] = total.stored.get(name, 0) + n

    def close(self) -> None:
        """Stop the thread and store what is left (a clean shutdown leaves an empty log)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
        self._thread = None
        self._stop.clear()  # start() may run it again (an app whose lifespan ran twice)
        self.wal.close()
        self.drain()

    # -- one cycle ----------------------------------------------------------------------------

    def load_once(self) -> LoadOutcome:
        with self._cycle:
            segments = self.wal.seal()
            if not segments:
                return LoadOutcome()
            entries = list(self._read(segments))
            outcome = self._store(entries) if entries else LoadOutcome()
            for path in segments:
                path.unlink(missing_ok=True)
            return outcome

    def _read(self, segments: Iterable[Path]) -> Iterable[tuple[Envelope, dict[str, Any]]]:
        for path in segments:
            for payload in read_segment(path):
                record = orjson.loads(payload)
                envelope = Envelope(record["s"], record["c"], record["r"])
                for message in record["m"]:
                    yield envelope, message

    def _store(self, entries: list[tuple[Envelope, dict[str, Any]]]) -> LoadOutcome:
        from journeylens.ingest.pipeline import Ingestor

        outcome = LoadOutcome(messages=len(entries))
        store = self.ctx.workspace.store
        keys = _keys(entries)
        with self.ctx.runner.writing("ingest"), store.transaction():
            new = store.execute(unseen(ibis.memtable(keys), store.table(SEEN)))
            chosen = set(new.column("_pos").to_pylist())
            outcome.repeats = len(entries) - len(chosen)
            by_source: dict[str, list[tuple[Envelope, dict[str, Any]]]] = {}
            for i in sorted(chosen):
                by_source.setdefault(entries[i][0].source, []).append(entries[i])
            if self._ingestor is None or self._ingestor.store is not store:  # reopened after a close
                self._ingestor = Ingestor(store, self.ctx.workspace.config)
            ingestor = self._ingestor
            ingest_ids: dict[str, int] = {}
            for source, mine in sorted(by_source.items()):
                tables: dict[str, list[dict[str, object]]] = {}
                for envelope, message in mine:
                    for name, rows in records([message], envelope).items():
                        tables.setdefault(name, []).extend(rows)
                for name, rows in tables.items():
                    if not rows:
                        continue
                    report = ingestor.load_records(name, _with_lines(rows), SOURCE_PREFIX + source)  # type: ignore[arg-type]
                    ingest_ids.setdefault(source, report.ingest_id)
                    outcome.stored[name] = outcome.stored.get(name, 0) + report.loaded
                    outcome.quarantined += report.quarantined_total
            if new.num_rows:
                ids = pc.index_in(new.column("source"), pa.array(sorted(ingest_ids)))
                id_values = pa.array([ingest_ids[s] for s in sorted(ingest_ids)], pa.int64())
                now = _dt.datetime.now(_dt.UTC)
                marks = pa.table(
                    {
                        "source": new.column("source"),
                        "message_id": new.column("message_id"),
                        "ingest_id": pc.take(id_values, ids),
                        "stored_at": pa.array([now] * new.num_rows, pa.timestamp("us", tz="UTC")),
                    }
                )
                store.insert(SEEN, marks)
        return outcome
