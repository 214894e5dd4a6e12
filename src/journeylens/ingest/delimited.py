"""CSV and other delimited text (TSV, ';', '|'), streamed with pyarrow in bounded blocks.

Lines reported for records are physical file lines (the header is line 1), also after blank lines,
quoted values with newlines and malformed rows; malformed rows become rejects with their line.
"""

from __future__ import annotations

import csv
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from journeylens.errors import InputError
from journeylens.ingest.readers import (
    LINE,
    RawBatch,
    Reject,
    check_not_empty,
    corrupt_file_error,
    is_corrupt,
    open_binary,
    read_error,
    redact_identifiers,
)
from journeylens.store.schema import Reason

# pyarrow's streaming CSV reader holds several blocks at once: measured on a 10M-record file, peak
# memory is 138 MB with 1 MB blocks, 256 MB with 8 MB, 756 MB with 16 MB and 1.2 GB with 32 MB.
# A record must fit in one block, so a file with larger records is re-read with LARGE blocks.
CSV_BLOCK, CSV_BLOCK_LARGE = 8 << 20, 64 << 20


class RecordLargerThanBlock(Exception):
    """A CSV record does not fit in one parser block; the caller retries with larger blocks."""


@dataclass(frozen=True)
class CsvOptions:
    delimiter: str = ","
    encoding: str = "utf-8"
    quote: str = '"'
    block_size: int = CSV_BLOCK


def read_csv(path: Path, options: CsvOptions, batch_rows: int) -> Iterator[RawBatch]:
    """Parse blocks with pyarrow and hand them on in batches of about ``batch_rows`` records
    (fewer, larger batches: each batch costs a few statements in the engine)."""
    pending: list[RawBatch] = []
    for block in _csv_blocks(path, options):
        pending.append(block)
        if sum(b.data.num_rows for b in pending) >= batch_rows:
            yield _concat(pending)
            pending = []
    if pending:
        yield _concat(pending)


def _concat(batches: list[RawBatch]) -> RawBatch:
    tables = [b.data for b in batches if b.data.num_rows]
    data = pa.concat_tables(tables) if tables else batches[0].data
    return RawBatch(data, [r for b in batches for r in b.rejects])


def _csv_blocks(path: Path, options: CsvOptions) -> Iterator[RawBatch]:
    names, header_lines = _csv_header(path, options)
    first_line = header_lines + 1  # file line of the first data record
    rejects: list[Reject] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        line = int(row.number) if row.number is not None else -1
        rejects.append(
            Reject(
                line,
                redact_identifiers(row.text),
                Reason.MALFORMED_ROW,
                f"expected {row.expected_columns} fields, found {row.actual_columns}",
            )
        )
        return "skip"

    try:
        stream = open_binary(path)
    except OSError as exc:
        raise _csv_error(path, options, exc) from exc
    try:
        # The header is parsed once, above, and pyarrow is given its names: skip_rows counts
        # physical lines, which is what header_lines is. Blank lines are kept (as all-null rows)
        # so that record numbers stay line numbers; they are dropped after numbering.
        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(
                column_names=names,
                skip_rows=header_lines,
                encoding=options.encoding,
                block_size=options.block_size,
                use_threads=False,
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=options.delimiter,
                quote_char=options.quote,
                newlines_in_values=True,
                ignore_empty_lines=False,
                invalid_row_handler=on_invalid,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in names},
                strings_can_be_null=True,
                null_values=[""],
            ),
        )
        next_record = 0  # data records seen so far, including blank lines and malformed rows
        newlines_before = 0  # newlines inside quoted values of earlier batches
        # The parser runs blocks ahead of the batches it hands out, so a malformed row is often
        # reported before the batch it sits in: rows wait here until their batch comes.
        waiting: list[Reject] = []
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            table = pa.Table.from_batches([batch])
            waiting += rejects
            rejects.clear()
            skipped, waiting = _rejects_within(waiting, first_line + next_record, table.num_rows)
            lines, skipped, newlines_before = _csv_lines(
                table, first_line, next_record, skipped, newlines_before
            )
            next_record += table.num_rows + len(skipped)
            table = _drop_blank_rows(table.append_column(LINE, pa.array(lines, pa.int64())))
            yield RawBatch(table, skipped)
        waiting += rejects
        if waiting:
            empty = pa.table({name: pa.array([], pa.string()) for name in names})
            _, skipped, _ = _csv_lines(empty, first_line, next_record, waiting, newlines_before)
            yield RawBatch(pa.table({LINE: pa.array([], pa.int64())}), skipped)
    except (pa.ArrowInvalid, EOFError, OSError, zlib.error, UnicodeDecodeError) as exc:
        if "straddling" in str(exc) and options.block_size < CSV_BLOCK_LARGE:
            raise RecordLargerThanBlock from exc
        raise _csv_error(path, options, exc) from exc
    finally:
        stream.close()


def _csv_header(path: Path, options: CsvOptions) -> tuple[list[str], int]:
    """Column names (stripped) and the number of file lines up to and including the header row.

    Blank lines before the header and quoted newlines inside it count as lines.
    """
    try:
        with open_binary(path) as fh:
            head = fh.read(1 << 20)
    except (EOFError, OSError, zlib.error) as exc:
        raise _csv_error(path, options, exc) from exc
    check_not_empty(path, head)
    try:
        text = head.decode(options.encoding)
    except UnicodeDecodeError:
        text = head.decode(options.encoding, errors="ignore")
    text = text.lstrip("\ufeff")
    # newline="": lines end at \n, \r\n or \r, as they do for pyarrow, which skips them by count.
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=options.delimiter, quotechar=options.quote)
    try:
        first = next((row for row in rows if row), [])
    except csv.Error as exc:
        raise _csv_error(path, options, exc) from exc
    if not first:
        raise InputError.empty_file(str(path))
    names = [n.strip() for n in first]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes or "" in names:
        raise InputError.unreadable(
            str(path),
            f"the header has {'duplicate' if dupes else 'empty'} column names {dupes or ['']}.",
            hint="Give every column a unique name in the header row.",
        )
    return names, rows.line_num


def _rejects_within(waiting: list[Reject], first: int, parsed: int) -> tuple[list[Reject], list[Reject]]:
    """Split malformed rows into those among a batch's records and those after it.

    The batch's ``parsed`` records start at number ``first`` (pyarrow's numbering, which counts
    skipped rows); each skipped row inside the batch pushes its end one number further.
    """
    ordered = sorted(waiting, key=lambda r: r.line)
    inside = 0
    while inside < len(ordered) and ordered[inside].line < first + parsed + inside:
        inside += 1
    return ordered[:inside], ordered[inside:]


def _csv_lines(
    table: pa.Table, first_line: int, first_record: int, skipped: list[Reject], newlines_before: int
) -> tuple[np.ndarray, list[Reject], int]:
    """File line of each parsed and each skipped record (``first_line``: the first record's line).

    Records are numbered consecutively; blank lines are records too (pyarrow reads them as
    all-null rows), and malformed rows that the parser skipped occupy numbers as well (pyarrow
    reports them by record, as ``first_line + record``). Quoted values with newlines push later
    records down by that many lines. Returns the parsed records' lines, the skipped rows with
    their lines corrected, and the running count of embedded newlines.
    """
    n = table.num_rows
    records = np.arange(n, dtype=np.int64) + first_record
    skipped_records = np.sort(np.asarray([r.line for r in skipped], dtype=np.int64) - first_line)
    if len(skipped_records):
        free = skipped_records - np.arange(len(skipped_records))
        records = records + np.searchsorted(free, records, side="right")
    extra = np.zeros(n, dtype=np.int64)
    for column in table.columns:
        if pc.any(pc.match_substring(column, "\n")).as_py():
            extra += pc.fill_null(pc.count_substring(column, "\n"), 0).to_numpy(zero_copy_only=False)
    before = newlines_before + np.concatenate([[0], np.cumsum(extra)[:-1]]) if n else extra
    lines = records + first_line + before
    corrected = []
    for reject in sorted(skipped, key=lambda r: r.line):
        earlier = np.searchsorted(records, reject.line - first_line)  # parsed records before this row
        shift = newlines_before + int(extra[:earlier].sum())
        corrected.append(Reject(reject.line + shift, reject.raw, reject.reason, reject.message))
    return lines, corrected, newlines_before + int(extra.sum())


def _drop_blank_rows(table: pa.Table) -> pa.Table:
    """Drop blank lines: rows where every source field is null (a row of only delimiters too).

    Checking the first column's null count first keeps the common case, no blank line, free.
    """
    columns = [table.column(i) for i in range(table.num_columns) if table.field(i).name != LINE]
    if not columns or columns[0].null_count == 0:
        return table
    blank = columns[0].is_null()
    for column in columns[1:]:
        blank = pc.and_(blank, column.is_null())
    return table.filter(pc.invert(blank)) if pc.any(blank).as_py() else table


def _csv_error(path: Path, options: CsvOptions, exc: Exception) -> InputError:
    text = str(exc)
    if "UTF8" in text or "utf-8" in text.lower() or isinstance(exc, UnicodeDecodeError):
        return InputError.unreadable(
            str(path),
            f"the file is not valid {options.encoding} text ({text.splitlines()[0]}).",
            hint="Pass the file's encoding, e.g. --encoding latin-1 (or cp1252, utf-16).",
        )
    if isinstance(exc, OSError) and not is_corrupt(exc) and exc.errno is not None:
        return read_error(path, exc)  # the OS refused (permissions, a directory): not about content
    if is_corrupt(exc) or "gzip" in text.lower() or "truncated" in text.lower():
        return corrupt_file_error(path, exc)
    if "straddling" in text or "block" in text:
        return InputError.unreadable(
            str(path),
            f"a record is larger than {options.block_size >> 20} MB or a quote is never closed ({text}).",
            hint="Check the quoting around the reported position, or pass --quote.",
        )
    return InputError.unreadable(
        str(path), f"cannot parse CSV: {text}", hint="Check --delimiter, --quote and --encoding."
    )
