"""One batch of raw records into one table, inside the caller's transaction, with per-file accounting.

A batch is a streamed part of one file, or several whole small files (their rows carry the file's
ingest id and path in the ``_jl_file`` / ``_jl_source`` columns). The batch is canonicalised in
one engine pass; invalid records go to ``quarantine``, valid ones get their key and are inserted
unless the store already has it; every count is kept per file.

**Keys of records without one.** In tables of occurrences (events, feedback), such a record's key
is the MD5 of its canonical content and its *occurrence number* k among the identical records of
its file (the first copy is keyed by the content alone, which is also what earlier versions
stored). Identical rows are real records (a customer buying the same thing twice in a day), so
every row of a file loads; re-ingesting the file yields the same keys and loads nothing; and
across files the k-th identical copy has the same key in every file, so an overlapping export
(yesterday's rows again plus new ones) loads only the copies beyond those already stored. Two
files that each hold one copy of a record are taken to hold the same record. The occurrence
number counts identical rows by line within the file, and continues across the batches of a
streamed file (a table of the copies seen so far), so it does not depend on where batches are
cut. In the other tables (identities, customers, agents, assignments) a row states a fact, and
an identical row states it again: it is keyed by content alone and counted as a duplicate.

Quarantine is idempotent like the tables: a record is stored there once per (table, file path,
line, reason, raw record), however often the file is ingested.
"""

from __future__ import annotations

from collections import Counter

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc
from ibis.backends import BaseBackend

from journeylens.ingest.readers import LINE, Reject
from journeylens.ingest.report import IngestReport
from journeylens.ingest.validation import (
    CONTENT,
    DST_SHIFTED,
    FIELD,
    FILE,
    MESSAGE,
    RAW,
    REASON,
    UNLINKED,
    Context,
    canonicalize,
)
from journeylens.store import _backend, _working
from journeylens.store.schema import QUARANTINE_SCHEMA, TableSpec
from journeylens.store.store import Store

STAGE = "_jl_ingest_stage"
COPIES = "_jl_ingest_copies"
KEPT = "_jl_ingest_kept"
SHIPPED = "_jl_ingest_shipped"
_SCAN_CHUNK = 65_536  # rows per Arrow chunk, so that DuckDB scans a batch on every core
_QUARANTINE_KEY = ("table", "source", "line", "reason", "raw")
_SEQ_FILE = 1 << 32  # ingest_seq = ingest id * 2^32 + line


class BatchLoader:
    """Loads batches into one table of ``store``; ``engine`` (DuckDB) runs the transform.

    One loader serves one file, or one group of small files; :meth:`load` is called once per
    batch, in file order.
    """

    def __init__(self, store: Store, engine: BaseBackend, table: TableSpec) -> None:
        self.store, self.engine, self.table = store, engine, table
        self.same_engine = engine is store.backend
        self._batches = 0
        # Imported here: privacy reads ingest.pii, whose package imports this module.
        from journeylens.privacy.suppression import suppression_list

        self._suppressed = suppression_list(store, engine)

    def load(self, data: pa.Table, ctx: Context, reports: dict[int, IngestReport]) -> None:
        """Load ``data`` (records of the files in ``reports``, keyed by ingest id)."""
        multi = FILE in data.column_names
        for file, n in _rows_per_file(data, ctx.ingest_id).items():
            reports[file].rows_read += n
        if self._batches and self.table.occurrences:
            self._remember_copies()
        self._batches += 1
        chunks = pa.Table.from_batches(data.to_batches(max_chunksize=_SCAN_CHUNK))
        staged = _backend.materialize_over_arrow(
            self.engine, chunks, lambda raw: canonicalize(raw, self.table, ctx), STAGE
        )
        if self._suppressed is not None:
            staged = self._suppress(staged, ctx, reports)
        n_bad = self._tally(staged, reports)
        if n_bad:
            self._quarantine(staged.filter(staged[REASON].notnull()))
        good = staged.filter(staged[REASON].isnull())
        stats = self.engine.to_pyarrow(
            good.aggregate(
                contents=good[CONTENT].count(),
                distinct_contents=good[CONTENT].nunique(),
                keys=good[self.table.key].count(),
                distinct_keys=good[self.table.key].nunique(),
            )
        ).to_pylist()[0]
        repeats = stats["contents"] > stats["distinct_contents"]
        counted = self.table.occurrences
        keyed = self._keyed(good, rank=counted and (multi or repeats or self._batches > 1))
        # Identical records of two files in one batch get one key, as they would one after the other.
        dedupe = multi or stats["keys"] > stats["distinct_keys"] or (repeats and not counted)
        self._insert(self._first_unseen(keyed, dedupe), reports, multi, ctx.ingest_id)

    def reject(self, rejects: list[Reject], report: IngestReport) -> None:
        """Records the reader could not split into fields (quarantined as they are)."""
        if not rejects:
            return
        report.rows_read += len(rejects)
        report.quarantined.update(r.reason.value for r in rejects)
        rows = pa.table(
            {
                "ingest_id": [report.ingest_id] * len(rejects),
                "table": [self.table.name] * len(rejects),
                "source": [report.source] * len(rejects),
                "line": [r.line for r in rejects],
                "raw": [r.raw[:4096] for r in rejects],
                "reason": [r.reason.value for r in rejects],
                "field": [None] * len(rejects),
                "message": [r.message for r in rejects],
            },
            schema=QUARANTINE_SCHEMA.to_pyarrow(),
        )
        stored = self.store.table("quarantine")
        # The lines the reader could not split: few, already in this process, compared here.
        self.store.insert(
            "quarantine", self.store.execute(ibis.memtable(rows).anti_join(stored, _QUARANTINE_KEY))
        )

    # -- steps ----------------------------------------------------------------------------

    def _tally(self, staged: ir.Table, reports: dict[int, IngestReport]) -> int:
        """Quarantined records by reason, shifted local times and unlinked records, per file;
        returns the bad total."""
        counts = staged.group_by([FILE, REASON]).agg(
            n=staged.count(),
            dst=staged[DST_SHIFTED].cast("int64").sum(),
            unlinked=staged[UNLINKED].cast("int64").sum(),
        )
        bad = 0
        for row in self.engine.to_pyarrow(counts).to_pylist():
            report = reports[row[FILE]]
            report.dst_shifted += int(row["dst"] or 0)
            report.unlinked += int(row["unlinked"] or 0)
            if row[REASON] is not None:
                report.quarantined[row[REASON]] += row["n"]
                bad += row["n"]
        return bad

    def _quarantine(self, bad: ir.Table) -> None:
        rows = bad.select(
            ingest_id=bad[FILE],
            table=ibis.literal(self.table.name),
            source=bad.source,
            line=bad[LINE].cast("int64"),
            raw=bad[RAW],
            reason=bad[REASON],
            field=bad[FIELD],
            message=bad[MESSAGE],
        )
        self._to_store("quarantine", rows, _QUARANTINE_KEY)

    def _suppress(self, staged: ir.Table, ctx: Context, reports: dict[int, IngestReport]) -> ir.Table:
        """Drop the records naming a forgotten person (``privacy.suppression``), counted per file."""
        from journeylens.privacy.suppression import suppressed

        assert self._suppressed is not None
        flag = suppressed(staged, self._suppressed, ctx.salt, ctx.default_country_code)
        dropped = staged.filter(flag)
        counts = self.engine.to_pyarrow(dropped.group_by(FILE).agg(n=dropped.count())).to_pylist()
        if not counts:  # the usual batch: nothing to drop, and no second copy of it
            return staged
        for row in counts:
            reports[row[FILE]].suppressed += int(row["n"])
        # Materialised once: the steps after this read the batch several times.
        return _working.scratch_table(self.engine, KEPT, staged.filter(~flag))

    def _remember_copies(self) -> None:
        """Before the next batch of a streamed file replaces the staged one, count its copies of
        each key-less content: the occurrence numbers of the next batch continue from there."""
        staged = self.engine.table(STAGE)
        valid = staged.filter(staged[REASON].isnull() & staged[CONTENT].notnull())
        copies = valid.group_by(CONTENT).agg(_copies=valid.count())
        if self._batches == 1:
            self.engine.create_table(COPIES, copies, temp=True, overwrite=True)
        else:
            self.engine.insert(COPIES, copies)

    def _keyed(self, good: ir.Table, *, rank: bool) -> ir.Table:
        """``good`` with its final key: the source's, or content plus occurrence number."""
        key, content = self.table.key, good[CONTENT]
        if not rank:  # no content repeats: every record is the first copy of its content
            return good.mutate(**{key: good[key].fill_null(content)})
        seen = ibis.row_number().over(group_by=[good[FILE], content], order_by=good[LINE])
        ranked = good.mutate(_occurrence=seen + 1)
        if self._batches > 1:
            prior = self.engine.table(COPIES)
            prior = prior.group_by(CONTENT).agg(_prior=prior._copies.sum())
            joined = ranked.left_join(prior, CONTENT)
            ranked = joined.mutate(_occurrence=joined._occurrence + joined._prior.fill_null(0)).select(
                *ranked.columns
            )
        occurrence = ranked._occurrence
        later = (ranked[CONTENT] + "\x1f#" + occurrence.cast("string")).hexdigest("md5")
        derived = ibis.cases((occurrence == 1, ranked[CONTENT]), else_=later)
        return ranked.mutate(**{key: ranked[key].fill_null(derived)}).drop("_occurrence")

    def _first_unseen(self, keyed: ir.Table, dedupe: bool) -> ir.Table:
        """Rows whose key is new to the batch (first by file, then line) and to the store."""
        if dedupe:  # ranking is costly, so only when the batch really repeats a key
            first = ibis.row_number().over(group_by=self.table.key, order_by=keyed.ingest_seq)
            ranked = keyed.mutate(_rank=first)
            keyed = ranked.filter(ranked._rank == 0).drop("_rank")
        return keyed.select(*self.table.schema().names)

    def _insert(self, rows: ir.Table, reports: dict[int, IngestReport], multi: bool, single: int) -> None:
        name = self.table.name
        if self.same_engine:
            new = rows.anti_join(self.store.table(name), self.table.key).select(*rows.columns)
            inserted = _backend.insert_select(self.engine, name, new.cast(self.store.table(name).schema()))
            if inserted is not None and not multi:
                reports[single].loaded += inserted
                return
            if inserted is None:  # pragma: no cover - insert_select answers on DuckDB
                self.store.insert(name, new)
            for file, n in self._stored_per_file(list(reports)).items():
                reports[file].loaded += n
            return
        for file, n in self._append_unseen(name, rows, (self.table.key,), per_file=True).items():
            reports[file].loaded += n

    def _stored_per_file(self, files: list[int]) -> Counter[int]:
        """Rows this transaction stored for ``files`` (their ingest ids are new, so every row of
        theirs in the table is one just inserted)."""
        t = self.store.table(self.table.name)
        lo, hi = min(files) * _SEQ_FILE, (max(files) + 1) * _SEQ_FILE
        mine = t.filter((t.ingest_seq >= lo) & (t.ingest_seq < hi))
        per = mine.group_by(file=(mine.ingest_seq // _SEQ_FILE)).agg(n=mine.count())
        rows = self.store.execute(per).to_pylist()
        wanted = set(files)
        return Counter({int(r["file"]): int(r["n"]) for r in rows if int(r["file"]) in wanted})

    def _to_store(self, name: str, rows: ir.Table, key: tuple[str, ...]) -> None:
        """Insert the rows (an expression on the ingest engine) whose ``key`` is not stored yet."""
        stored = self.store.table(name)
        if self.same_engine:
            new = rows.anti_join(stored, list(key)).select(*rows.columns)
            if _backend.insert_select(self.engine, name, new.cast(stored.schema())) is not None:
                return
        self._append_unseen(name, rows, key, per_file=False)

    def _append_unseen(
        self, name: str, rows: ir.Table, key: tuple[str, ...], *, per_file: bool
    ) -> Counter[int]:
        """Store on another engine (Spark): append the rows whose ``key`` it has not stored yet;
        with ``per_file``, how many per file.

        The batch is transformed by the ingest engine (DuckDB, in this process, which reads the
        files) and shipped to the store once, as a view of the engine; the comparison of keys,
        the counts and the ``INSERT ... SELECT`` then run there. Only the counts (a row per file)
        come back.
        """
        with _backend.shipped(self.store.backend, self.engine.to_pyarrow(rows), SHIPPED) as batch:
            new = batch.anti_join(self.store.table(name), list(key)).select(*batch.columns)
            counts: Counter[int] = Counter()
            if per_file:
                per = new.group_by(file=new.ingest_seq // _SEQ_FILE).agg(n=new.count())
                counts.update({int(r["file"]): int(r["n"]) for r in self.store.execute(per).to_pylist()})
                if not counts:  # nothing new: no second pass over the batch
                    return counts
            self.store.insert(name, new)
        return counts


def _rows_per_file(data: pa.Table, single: int) -> Counter[int]:
    if FILE not in data.column_names:
        return Counter({single: data.num_rows})
    counts = pc.value_counts(data.column(FILE)).to_pylist()
    return Counter({int(c["values"]): int(c["counts"]) for c in counts})
