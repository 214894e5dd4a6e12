"""Streaming readers: files in, Arrow batches with a ``_line`` column out.

Readers never load a file whole. Each yields :class:`RawBatch` objects: the records it could
parse, as an Arrow table of the source columns plus ``_line`` (line of the file, header = line 1,
for CSV and JSON Lines; record number for Parquet and XES), and the records it could not parse at
all (a CSV row with the wrong number of fields, a JSON line that is not an object). The raw text
of those rejects goes to the quarantine table, so e-mail addresses and phone numbers in it are
redacted here (:func:`redact_identifiers`).
"""

from __future__ import annotations

import csv
import glob
import gzip
import io
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal, cast

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from journeylens.errors import InputError
from journeylens.store.schema import Reason

Format = Literal["auto", "csv", "parquet", "jsonl", "xes"]
LINE = "_line"
_SUFFIXES: dict[str, Format] = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".xes": "xes",
}  # fmt: skip
# pyarrow's streaming CSV reader holds several blocks at once: measured on a 10M-record file, peak
# memory is 138 MB with 1 MB blocks, 256 MB with 8 MB, 756 MB with 16 MB and 1.2 GB with 32 MB.
# A record must fit in one block, so a file with larger records is re-read with LARGE blocks.
CSV_BLOCK, CSV_BLOCK_LARGE = 8 << 20, 64 << 20


class RecordLargerThanBlock(Exception):
    """A CSV record does not fit in one parser block; the caller retries with larger blocks."""


@dataclass(frozen=True)
class Reject:
    """A record the reader could not turn into fields."""

    line: int
    raw: str
    reason: Reason
    message: str


@dataclass
class RawBatch:
    data: pa.Table
    rejects: list[Reject] = field(default_factory=list)


@dataclass(frozen=True)
class CsvOptions:
    delimiter: str = ","
    encoding: str = "utf-8"
    quote: str = '"'
    block_size: int = CSV_BLOCK


def expand_paths(patterns: list[str]) -> list[Path]:
    """Expand globs and directories into a sorted list of files (sorted for determinism)."""
    files: list[Path] = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern, recursive=True)) if glob.has_magic(pattern) else [pattern]
        if not matches:
            raise InputError.file_not_found(pattern)
        for match in matches:
            path = Path(match)
            if path.is_dir():
                files.extend(p for p in sorted(path.rglob("*")) if p.is_file() and guess_format(p))
            elif path.is_file():
                files.append(path)
            else:
                raise InputError.file_not_found(match)
    return files


def _base_suffix(path: Path) -> str | None:
    """The lower-cased suffix that names the format, under any ``.gz``: ``a.TSV.gz`` -> ``.tsv``."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".gz", ".gzip"):
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else None


def guess_format(path: Path) -> Format | None:
    """Format from the file name (``.csv``, ``.jsonl.gz``, ...), or None."""
    suffix = _base_suffix(path)
    return _SUFFIXES.get(suffix) if suffix else None


def default_delimiter(path: Path) -> str | None:
    """The delimiter a file's name implies when the user gave none: a tab for ``.tsv``.

    Example:
        >>> default_delimiter(Path("calls.tsv.gz")), default_delimiter(Path("calls.csv"))
        ('\\t', None)
    """
    return "\t" if _base_suffix(path) == ".tsv" else None


def detect_format(path: Path) -> Format:
    fmt = guess_format(path)
    if fmt is None:
        raise InputError.unreadable(
            str(path),
            "cannot tell the file format from its name.",
            hint="Pass --input-format csv|parquet|jsonl|xes.",
        )
    return fmt


def is_gzip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def open_binary(path: Path) -> IO[bytes]:
    """Open a file for reading, transparently decompressing gzip."""
    if is_gzip(path):
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


def corrupt_file_error(path: Path, exc: BaseException) -> InputError:
    """The one message for a compressed file that ends early or does not decompress."""
    return InputError.unreadable(
        str(path),
        f"the compressed file is truncated or corrupt ({exc}). Nothing from it was loaded.",
        hint="Copy or download the file again; `gzip -t FILE` checks it.",
    )


def _is_corrupt(exc: BaseException) -> bool:
    """gzip/zlib failures; any other OSError (permissions, a directory) is not about the content."""
    return isinstance(exc, (EOFError, zlib.error, gzip.BadGzipFile))


def read_error(path: Path, exc: BaseException) -> InputError:
    """A file that cannot be read: corrupt compressed data, or what the OS said (``Permission denied``)."""
    if _is_corrupt(exc):
        return corrupt_file_error(path, exc)
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return InputError.unreadable(
        str(path),
        f"cannot read: {reason}.",
        hint="Check that the path is a file you may read (`ls -l FILE` shows its type and permissions).",
    )


def _check_not_empty(path: Path, head: bytes) -> None:
    if not head.strip():
        raise InputError.empty_file(str(path))


# --- CSV ---------------------------------------------------------------------------------------


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
    _check_not_empty(path, head)
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
    if isinstance(exc, OSError) and not _is_corrupt(exc) and exc.errno is not None:
        return read_error(path, exc)  # the OS refused (permissions, a directory): not about content
    if _is_corrupt(exc) or "gzip" in text.lower() or "truncated" in text.lower():
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


# --- Parquet -----------------------------------------------------------------------------------


def read_parquet(path: Path, batch_rows: int) -> Iterator[RawBatch]:
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise read_error(path, exc) from exc
    if not magic:
        raise InputError.empty_file(str(path))
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError.unreadable(
            str(path),
            f"not a readable Parquet file ({exc}).",
            hint="Check the file; use --input-format to read it as another format.",
        ) from exc
    start = 1
    for batch in pf.iter_batches(batch_size=batch_rows):
        table = pa.Table.from_batches([batch])
        lines = pa.array(np.arange(start, start + table.num_rows, dtype=np.int64))
        start += table.num_rows
        yield RawBatch(table.append_column(LINE, lines))


# --- JSON Lines --------------------------------------------------------------------------------

_JSON_CHUNK = 16 << 20
_BOM = b"\xef\xbb\xbf"


def read_jsonl(path: Path, max_record_bytes: int) -> Iterator[RawBatch]:
    """Read JSON Lines in chunks; a chunk that pyarrow rejects is re-read line by line.

    A line longer than ``max_record_bytes`` is never held whole: it is skipped up to its newline
    and reported as ``record_too_large``.
    """
    try:
        stream = open_binary(path)
    except OSError as exc:
        raise read_error(path, exc) from exc
    try:
        head = stream.read(_JSON_CHUNK)
        _check_not_empty(path, head)
        _check_not_array(path, head)
        next_line = 1
        pending = head
        while True:
            more = stream.read(_JSON_CHUNK)
            block = pending + more
            if not block:
                break
            cut = block.rfind(b"\n") + 1 if more else len(block)
            if cut == 0:  # one line, longer than everything read so far
                if len(block) <= max_record_bytes:
                    pending = block
                    continue
                reject, pending = _skip_long_line(stream, block, next_line, max_record_bytes)
                next_line += 1
                yield RawBatch(pa.table({LINE: pa.array([], pa.int64())}), [reject])
                continue
            chunk, pending = block[:cut], block[cut:]
            yield _jsonl_chunk(chunk, next_line, max_record_bytes)
            next_line += chunk.count(b"\n") + (0 if chunk.endswith(b"\n") else 1)
            if not more:
                break
    except (EOFError, OSError, zlib.error) as exc:
        raise read_error(path, exc) from exc
    finally:
        stream.close()


def _check_not_array(path: Path, head: bytes) -> None:
    if head.lstrip(_BOM).lstrip()[:1] == b"[":
        raise InputError.unreadable(
            str(path),
            "the file holds a JSON array, not JSON Lines (one JSON object per line).",
            hint="Convert it to JSON Lines first, e.g. `jq -c '.[]' FILE > FILE.jsonl`.",
        )


def _skip_long_line(
    stream: IO[bytes], block: bytes, line: int, max_record_bytes: int
) -> tuple[Reject, bytes]:
    """Read past the rest of an oversized line; returns its reject and what follows its newline."""
    size, start = len(block), block[:1024]
    rest = b""
    while more := stream.read(_JSON_CHUNK):
        newline = more.find(b"\n")
        if newline >= 0:
            size, rest = size + newline, more[newline + 1 :]
            break
        size += len(more)
    return _too_large(line, start, size, max_record_bytes), rest


def _too_large(line: int, start: bytes, size: int, max_record_bytes: int) -> Reject:
    # Redacted before it is cut, so that no e-mail or phone survives in part at the cut.
    preview = redact_identifiers(start[:1024].decode("utf-8", "replace"))[:200]
    return Reject(
        line, preview + "...", Reason.RECORD_TOO_LARGE, f"record of {size} bytes exceeds {max_record_bytes}"
    )


def _jsonl_chunk(chunk: bytes, first_line: int, max_record_bytes: int) -> RawBatch:
    clean = chunk.lstrip(_BOM) if first_line == 1 else chunk
    if b"\n\n" not in clean and not clean.startswith(b"\n"):
        table = _jsonl_fast(clean)
        if table is not None and table.num_rows == clean.count(b"\n") + (0 if clean.endswith(b"\n") else 1):
            lines = np.arange(first_line, first_line + table.num_rows, dtype=np.int64)
            return RawBatch(table.append_column(LINE, pa.array(lines)))
    return _jsonl_slow(clean, first_line, max_record_bytes)


def _jsonl_fast(chunk: bytes) -> pa.Table | None:
    """The whole chunk parsed by pyarrow, with text kept as text; None sends it line by line.

    pyarrow infers ISO strings as timestamps, converting offsets to UTC and dropping the zone,
    and naive strings as timestamps too; later code would read both as workspace-local time. So
    every key that holds text on the chunk's first line is declared a string, and a chunk in
    which a timestamp is still inferred (a key that first appears later) goes line by line.
    """
    end = chunk.find(b"\n")
    try:
        first = orjson.loads(chunk[:end] if end >= 0 else chunk)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(first, dict):
        return None
    text_fields = [(key, kind) for key, value in first.items() if (kind := _text_type(value)) is not None]
    options = pajson.ParseOptions(explicit_schema=pa.schema(text_fields), unexpected_field_behavior="infer")
    try:
        table = pajson.read_json(io.BytesIO(chunk), parse_options=options)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return None if any(_has_temporal(f.type) for f in table.schema) else table


def _text_type(value: object) -> pa.DataType | None:
    """The Arrow type that keeps ``value``'s text as text (nested objects too), or None to infer."""
    if isinstance(value, str):
        return pa.string()
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return pa.list_(pa.string())
    if isinstance(value, dict):
        fields = [(k, kind) for k, v in value.items() if (kind := _text_type(v)) is not None]
        return pa.struct(fields) if fields else None
    return None


def _has_temporal(kind: pa.DataType) -> bool:
    if pa.types.is_temporal(kind):
        return True
    if pa.types.is_struct(kind):
        return any(_has_temporal(kind.field(i).type) for i in range(kind.num_fields))
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _has_temporal(kind.value_type)
    return False


def _jsonl_slow(chunk: bytes, first_line: int, max_record_bytes: int) -> RawBatch:
    """Line-by-line fallback for chunks with bad lines, blank lines or mixed types."""
    records: list[dict[str, object]] = []
    lines: list[int] = []
    rejects: list[Reject] = []
    for offset, raw in enumerate(chunk.split(b"\n")):
        line = first_line + offset
        if not raw.strip():
            continue
        if len(raw) > max_record_bytes:
            rejects.append(_too_large(line, raw, len(raw), max_record_bytes))
            continue
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            text = redact_identifiers(raw.decode("utf-8", "replace"))
            rejects.append(Reject(line, text, Reason.BAD_JSON, f"not valid JSON: {exc}"))
            continue
        if not isinstance(value, dict):
            text = redact_identifiers(raw.decode("utf-8", "replace"))
            message = f"a JSON {type(value).__name__} is not a record; each line must be an object"
            rejects.append(Reject(line, text, Reason.NOT_AN_OBJECT, message))
            continue
        records.append({k: _json_scalar(v) for k, v in value.items()})
        lines.append(line)
    table = records_to_table(records)
    return RawBatch(table.append_column(LINE, pa.array(lines, pa.int64())), rejects)


def records_to_table(records: list[dict[str, object]]) -> pa.Table:
    """Columns for the union of the records' keys (a key missing from a record is null).

    A column whose values do not share one Arrow type (a number on one line, text on the next)
    is kept as text, with non-text values spelled as JSON (``true``, ``1.5``); nested objects and
    lists arrive as JSON text already.

    Example:
        >>> records_to_table([{"x": True}, {"x": "yes"}]).column("x").to_pylist()
        ['true', 'yes']
    """
    names = list(dict.fromkeys(key for record in records for key in record))
    columns = {}
    for name in names:
        values = [record.get(name) for record in records]
        try:
            columns[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            columns[name] = pa.array([_json_text(v) for v in values], pa.string())
    return pa.table(columns) if columns else pa.table({})


def _json_text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _json_scalar(value: object) -> object:
    """Nested objects and lists travel as JSON text (they land in properties)."""
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return value


# --- personal identifiers in rejects -----------------------------------------------------------

# A date (with its time) is matched first and kept, and a phone never runs into one, so that a
# record's dates stay readable. A phone does not start inside a word: "cust1234567" is an id.
# Matches start only at word boundaries, which keeps the scan linear on long words.
_DATE = r"\d{4}-\d{2}-\d{2}(?![\d\-])"
_IDENTIFIERS = re.compile(
    rf"(?P<date>{_DATE}(?:[T ]\d{{2}}:\d{{2}}(?::\d{{2}}(?:[.,]\d+)?)?)?)"
    r"|(?P<email>(?<![\w.%+\-])[\w.%+\-]+@[\w\-]+(?:\.[\w\-]+)+)"
    rf"|(?P<phone>(?<!\w)\+?\(?\d(?:[\s\-()]*(?!{_DATE})\d){{6,}}\)?)"
)


def _redacted(match: re.Match[str]) -> str:
    if match.lastgroup == "email":
        return "[redacted-email]"
    if match.lastgroup == "phone":
        return "[redacted-phone]"
    return match.group()


def redact_identifiers(text: str) -> str:
    """Replace e-mail addresses and phone-like digit runs (7+ digits) in raw record text.

    Reader rejects keep the record's raw text for the quarantine table, where nothing else is
    hashed; ISO dates are left alone so that the text still shows when the record happened.

    Example:
        >>> redact_identifiers("ann@example.com,+31 6 1234 5678,2024-01-15T09:00:00Z")
        '[redacted-email],[redacted-phone],2024-01-15T09:00:00Z'
    """
    return _IDENTIFIERS.sub(_redacted, text)
