"""CSV and other delimited text (TSV, ';', '|'), streamed with pyarrow in bounded blocks.

Lines reported for records are physical file lines (the header is line 1), also after blank lines,
quoted values with newlines and malformed rows; malformed rows become rejects with their line.
"""

from __future__ import annotations

import codecs
import sys
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from journeylens.errors import InputError
from journeylens.ingest import _resync
from journeylens.ingest._header import MAX_COLUMNS, csv_header
from journeylens.ingest.readers import (
    LINE,
    RawBatch,
    Reject,
    corrupt_file_error,
    is_corrupt,
    open_binary,
    printable,
    read_error,
    redact_identifiers,
)
from journeylens.store.schema import Reason

# pyarrow's streaming CSV reader holds several blocks at once: measured on a 10M-record file, peak
# memory is 138 MB with 1 MB blocks, 256 MB with 8 MB, 756 MB with 16 MB and 1.2 GB with 32 MB.
# A record must fit in one block, so a file with larger records is re-read with LARGE blocks.
CSV_BLOCK, CSV_BLOCK_LARGE = 8 << 20, 64 << 20
__all__ = ["MAX_COLUMNS", "WHITESPACE", "CsvOptions", "RecordLargerThanBlock", "read_csv"]
WHITESPACE = "whitespace"
"""``--delimiter whitespace``: fields separated by runs of spaces and tabs (aligned text)."""


class RecordLargerThanBlock(Exception):
    """A CSV record does not fit in one parser block; the caller retries with larger blocks."""


@dataclass(frozen=True)
class CsvOptions:
    delimiter: str = ","
    encoding: str = "utf-8"
    quote: str = '"'
    block_size: int = CSV_BLOCK
    columns: tuple[str, ...] | None = None
    """Names of the columns of a file without a header row (``--columns``)."""


def read_csv(path: Path, options: CsvOptions, batch_rows: int) -> Iterator[RawBatch]:
    """Parse blocks with pyarrow and hand them on in batches of about ``batch_rows`` records
    (fewer, larger batches: each batch costs a few statements in the engine)."""
    if options.delimiter == WHITESPACE:
        from journeylens.ingest.whitespace import read_whitespace

        yield from read_whitespace(path, options, batch_rows)
        return
    pending: list[RawBatch] = []
    for block in _csv_blocks(path, options, batch_rows):
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


def _is_utf8(encoding: str) -> bool:
    return codecs.lookup(encoding).name == "utf-8"


@contextmanager
def _captured_decode_errors(captured: list[BaseException]) -> Iterator[None]:
    """pyarrow decodes a malformed row as UTF-8 before calling the handler; when that fails it
    prints "Exception ignored" and stops with a parse error. Catch the first, so the second
    sends the rest of the file to the line reader instead of the user's terminal."""
    previous = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        if isinstance(unraisable.exc_value, UnicodeDecodeError):
            captured.append(unraisable.exc_value)
        else:
            previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous


def _csv_blocks(path: Path, options: CsvOptions, batch_rows: int) -> Iterator[RawBatch]:
    """pyarrow reads until damage leads it astray; the line reader reads from the damaged line
    until the damage is well behind; pyarrow takes over again; and so on, in a loop."""
    names, header_lines = csv_header(path, options)
    line: int | None = header_lines + 1
    after_header = True
    while line is not None:
        handover: list[int] = []
        yield from _pyarrow_blocks(
            path, options, names, line, batch_rows, handover, after_header=after_header
        )
        if not handover:
            return
        handback: list[int] = []
        handover[0] = max(handover[0], line)  # never back: each round reads past some lines
        yield from _line_blocks(path, options, names, handover[0], batch_rows, handback)
        line, after_header = (handback[0] if handback else None), False


def _pyarrow_blocks(
    path: Path,
    options: CsvOptions,
    names: list[str],
    first_line: int,
    batch_rows: int,
    handover: list[int],
    *,
    after_header: bool,
) -> Iterator[RawBatch]:
    """Records from line ``first_line`` on, read by pyarrow: right after the header, or where
    the line reader hands back after damage. Stops at damage, with its line in ``handover``."""
    at = _Cursor(first_line)
    invalid = _InvalidRows(0 if after_header else first_line - 1)
    decode_errors: list[BaseException] = []
    utf8 = _is_utf8(options.encoding)
    try:
        stream = open_binary(path) if after_header else _resync.from_line(path, first_line)
    except OSError as exc:
        raise _csv_error(path, options, exc) from exc
    check = _resync.Recheck(path, options, names)
    try:
        try:
            skip = first_line - 1 if after_header else 0
            reader = _open(stream, names, skip, options, invalid, decode_errors)
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:  # damage in the first block
            _check_block_size(exc, options)
            handover.append(at.next_line)
            return
        while True:
            try:
                with _captured_decode_errors(decode_errors):
                    batch = reader.read_next_batch()
            except StopIteration:
                break
            except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
                _check_block_size(exc, options)
                # Damage pyarrow cannot step over: the rest of the file is read line by line.
                handover.append(at.next_line)
                return
            table, skipped, multiline = at.number(pa.Table.from_batches([batch]), invalid.take())
            damaged = check.first_damaged(skipped, multiline)
            if damaged is not None:
                # pyarrow's reading went astray at a quote on that line, and what it read after
                # is not to be trusted: the rest of the file is read line by line from there.
                before = table.filter(pc.less(table.column(LINE), damaged))
                yield _finish(before, [r for r in skipped if r.line < damaged], options, utf8)
                handover.append(damaged)
                return
            yield _finish(table, skipped, options, utf8)
        skipped = at.rest(invalid.take(), names)
        damaged = check.first_damaged(skipped, [])
        empty = pa.table({LINE: pa.array([], pa.int64())})
        if damaged is not None:
            yield _finish(empty, [r for r in skipped if r.line < damaged], options, utf8)
            handover.append(damaged)
        elif skipped:
            yield _finish(empty, skipped, options, utf8)
    except (pa.ArrowInvalid, EOFError, OSError, zlib.error, UnicodeDecodeError) as exc:
        raise _csv_error(path, options, exc) from exc
    finally:
        stream.close()
        check.close()


class _Cursor:
    """Where pyarrow's batches sit in the file: turns record numbers into physical lines."""

    def __init__(self, first_line: int) -> None:
        self.first_line = first_line  # file line of the first data record
        self.records = 0  # data records seen so far, including blank lines and malformed rows
        self.newlines = 0  # newlines inside quoted values and malformed records so far
        # The parser runs blocks ahead of the batches it hands out, so a malformed row is often
        # reported before the batch it sits in: rows wait here until their batch comes.
        self.waiting: list[Reject] = []

    @property
    def next_line(self) -> int:
        return self.first_line + self.records + self.newlines

    def number(
        self, table: pa.Table, reported: list[Reject]
    ) -> tuple[pa.Table, list[Reject], list[tuple[int, int]]]:
        """The batch with ``_line`` (blank rows dropped), the malformed rows inside it, and the
        first and last line of each record that runs over several lines."""
        self.waiting += reported
        skipped, self.waiting = _rejects_within(self.waiting, self.first_line + self.records, table.num_rows)
        lines, skipped, self.newlines, extra = _csv_lines(
            table, self.first_line, self.records, skipped, self.newlines
        )
        self.records += table.num_rows + len(skipped)
        table = _drop_blank_rows(table.append_column(LINE, pa.array(lines, pa.int64())))
        several = np.flatnonzero(extra)
        return (
            table,
            skipped,
            list(zip(lines[several].tolist(), (lines + extra)[several].tolist(), strict=True)),
        )

    def rest(self, reported: list[Reject], names: list[str]) -> list[Reject]:
        """Malformed rows after the last batch."""
        waiting = self.waiting + reported
        if not waiting:
            return []
        empty = pa.table({name: pa.array([], pa.string()) for name in names})
        return _csv_lines(empty, self.first_line, self.records, waiting, self.newlines)[1]


class _InvalidRows:
    """pyarrow's handler for rows with the wrong number of fields: each becomes a reject."""

    def __init__(self, lines_before: int) -> None:
        self.rejects: list[Reject] = []
        self.lines_before = lines_before  # pyarrow numbers rows from where its stream starts

    def take(self) -> list[Reject]:
        taken, self.rejects = self.rejects, []
        return taken

    def __call__(self, row: pacsv.InvalidRow) -> str:
        line = int(row.number) + self.lines_before if row.number is not None else -1
        first, newline, span = row.text.partition("\n")
        message = f"expected {row.expected_columns} fields, found {row.actual_columns}"
        if newline:  # a quote opened here ran on over later lines: only this line is lost
            message = (
                f"this line starts a record of {row.actual_columns} fields (expected "
                f"{row.expected_columns}) that runs over {span.count(chr(10)) + 2} lines: an "
                f"unbalanced quote? This line is quarantined and reading resumes at the next "
                f"line. {_resync.QUOTE_HINT}"
            )
        raw = redact_identifiers(first.removesuffix("\r"))
        self.rejects.append(Reject(line, raw, Reason.MALFORMED_ROW, message, row.text.count("\n")))
        return "skip"


def _open(
    stream: IO[bytes],
    names: list[str],
    header_lines: int,
    options: CsvOptions,
    invalid: _InvalidRows,
    decode_errors: list[BaseException],
) -> pacsv.CSVStreamingReader:
    """pyarrow's streaming reader (which parses the first block on open).

    The header is parsed once, by ``_csv_header``, and pyarrow is given its names: skip_rows
    counts physical lines, which is what header_lines is. Blank lines are kept (as all-null rows)
    so that record numbers stay line numbers; they are dropped after numbering. UTF-8 is read
    as bytes and checked per value, so one bad byte costs one record, not the file.
    """
    utf8 = _is_utf8(options.encoding)
    with _captured_decode_errors(decode_errors):
        return pacsv.open_csv(
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
                invalid_row_handler=invalid,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.binary() if utf8 else pa.string() for name in names},
                strings_can_be_null=True,
                null_values=[""],
            ),
        )


def _check_block_size(exc: BaseException, options: CsvOptions) -> None:
    """A record larger than a small block is read again with large blocks (by the caller);
    anything else pyarrow stops at, the line reader takes over."""
    if "straddling" in str(exc) and options.block_size < CSV_BLOCK_LARGE:
        raise RecordLargerThanBlock from exc


def _line_blocks(
    path: Path, options: CsvOptions, names: list[str], line: int, batch_rows: int, handback: list[int]
) -> Iterator[RawBatch]:
    """Records from file line ``line`` on, read line by line (see ``_resync``), until the damage
    is well behind: then the line pyarrow may read on from is put in ``handback``."""
    try:
        with open_binary(path) as stream:
            source = _resync.Source(_resync.lines_from(stream, options.encoding, 1, line - 1))
            found = _resync.records(source, names, options.delimiter, options.quote)
            calm = _resync.until_calm(found, source, handback, _is_ascii_compatible(options.encoding))
            yield from _resync.batches(calm, names, min(batch_rows, 100_000))
    except (EOFError, OSError, zlib.error, UnicodeDecodeError) as exc:
        raise _csv_error(path, options, exc) from exc


def _is_ascii_compatible(encoding: str) -> bool:
    return not codecs.lookup(encoding).name.startswith(("utf-16", "utf-32"))


def _finish(table: pa.Table, skipped: list[Reject], options: CsvOptions, utf8: bool) -> RawBatch:
    """UTF-8 read as bytes becomes text; a record with bytes that are not UTF-8 becomes a reject."""
    if not utf8:
        return RawBatch(table, skipped)
    table, bad = _utf8_checked(table, options.delimiter)
    return RawBatch(table, sorted([*skipped, *bad], key=lambda r: r.line) if bad else skipped)


def _utf8_checked(table: pa.Table, delimiter: str) -> tuple[pa.Table, list[Reject]]:
    """Binary columns as UTF-8 text; records with a value that is not UTF-8 become rejects.

    Clean columns convert in one pass; only a column that fails is looked at value by value.
    """
    columns: dict[str, pa.ChunkedArray] = {}
    bad_rows: dict[int, str] = {}
    for name in table.column_names:
        column = table.column(name)
        if name == LINE or not pa.types.is_binary(column.type):
            continue
        try:
            columns[name] = column.cast(pa.string())
        except pa.ArrowInvalid:
            values = column.combine_chunks()
            for row in _not_utf8(values, 0):
                if row in bad_rows:
                    continue
                value = values[row].as_py()
                start = _bad_byte(value) or 0
                bad_rows[row] = (
                    f"field {name!r}: byte 0x{value[start]:02x} at byte offset {start} of "
                    f"the value is not valid utf-8. {_resync.encoding_hint('utf-8')}"
                )
    if not bad_rows:
        for name, column in columns.items():
            table = table.set_column(table.schema.get_field_index(name), name, column)
        return table, []
    keep = np.ones(table.num_rows, dtype=bool)
    keep[list(bad_rows)] = False
    bad = table.filter(pa.array(~keep))
    rejects = []
    lines = bad.column(LINE).to_pylist()
    raws = zip(*(bad.column(n).to_pylist() for n in table.column_names if n != LINE), strict=True)
    for row, line, values in zip(sorted(bad_rows), lines, raws, strict=True):
        raw = delimiter.join((v or b"").decode("utf-8", "replace") for v in values)
        rejects.append(Reject(line, redact_identifiers(raw), Reason.ENCODING, bad_rows[row]))
    good = table.filter(pa.array(keep))
    casted = {n: good.column(n).cast(pa.string()) for n in good.column_names if n != LINE}
    return pa.table({**casted, LINE: good.column(LINE)}), rejects


_SCAN_VALUES = 256  # below this many values, a failing slice is searched value by value


def _not_utf8(values: pa.Array, offset: int) -> Iterator[int]:
    """Rows of ``values`` (binary) that are not UTF-8, found by halving: a slice that casts
    cleanly is skipped whole, so a block with a few bad values costs a few vectorised casts
    rather than a Python pass over every value."""
    try:
        values.cast(pa.string())
        return
    except pa.ArrowInvalid:
        pass
    if len(values) <= _SCAN_VALUES:
        for row, value in enumerate(values.to_pylist()):
            if value is not None and _bad_byte(value) is not None:
                yield offset + row
        return
    half = len(values) // 2
    yield from _not_utf8(values.slice(0, half), offset)
    yield from _not_utf8(values.slice(half), offset + half)


def _bad_byte(value: bytes) -> int | None:
    """Offset of the first byte of ``value`` that is not UTF-8 (None: it is UTF-8)."""
    try:
        value.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start
    return None


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
) -> tuple[np.ndarray, list[Reject], int, np.ndarray]:
    """File line of each parsed and each skipped record (``first_line``: the first record's line).

    Records are numbered consecutively; blank lines are records too (pyarrow reads them as
    all-null rows), and malformed rows that the parser skipped occupy numbers as well (pyarrow
    reports them by record, as ``first_line + record``). Quoted values with newlines, and
    malformed records over several lines, push later records down by that many lines. Returns
    the parsed records' lines, the skipped rows with their lines corrected, the running count of
    embedded newlines, and the number of line breaks inside each parsed record.
    """
    n = table.num_rows
    records = np.arange(n, dtype=np.int64) + first_record
    ordered = sorted(skipped, key=lambda r: r.line)
    skipped_records = np.asarray([r.line for r in ordered], dtype=np.int64) - first_line
    if len(skipped_records):
        free = skipped_records - np.arange(len(skipped_records))
        records = records + np.searchsorted(free, records, side="right")
    extra = np.zeros(n, dtype=np.int64)
    for column in table.columns:
        if pc.any(pc.match_substring(column, "\n")).as_py():
            extra += pc.fill_null(pc.count_substring(column, "\n"), 0).to_numpy(zero_copy_only=False)
    spans = np.asarray([r.line_breaks for r in ordered], dtype=np.int64)
    every = np.concatenate([records, skipped_records])
    newlines = np.concatenate([extra, spans])
    order = np.argsort(every, kind="stable") if ordered else np.arange(len(every))
    shift = np.empty(len(every), dtype=np.int64)
    shift[order] = (
        newlines_before + np.concatenate([[0], np.cumsum(newlines[order])[:-1]]) if len(every) else 0
    )
    lines = records + first_line + shift[:n]
    corrected = [replace(r, line=r.line + int(s)) for r, s in zip(ordered, shift[n:], strict=True)]
    return lines, corrected, newlines_before + int(newlines.sum()), extra


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
    text = printable(str(exc), 300)
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
