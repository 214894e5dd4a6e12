"""The header row of a delimited file: column names, the column limit, header-less files.

The header is read before pyarrow sees the file, so that what is wrong with it (too many
columns, duplicate names, bytes the encoding cannot read) is said at once, naming the file.
"""

from __future__ import annotations

import csv
import io
import zlib
from collections import Counter
from pathlib import Path
from typing import IO, TYPE_CHECKING

from journeylens.errors import InputError
from journeylens.ingest.readers import check_content, check_not_empty, open_binary, printable, read_error

if TYPE_CHECKING:
    from journeylens.ingest.delimited import CsvOptions

MAX_COLUMNS = 10_000
"""Most columns a delimited file may have; a wider header is refused before it is parsed."""


def csv_header(path: Path, options: CsvOptions) -> tuple[list[str], int]:
    """Column names (stripped) and the number of file lines up to and including the header row.

    Blank lines before the header and quoted newlines inside it count as lines. With
    ``options.columns`` the file has no header: those are the names, and no line is skipped.
    """
    try:
        with open_binary(path) as fh:
            head = _head(path, fh, options)
    except (EOFError, OSError, zlib.error) as exc:
        raise read_error(path, exc) from exc
    check_not_empty(path, head)
    check_content(path, head, "csv", options.encoding)
    if options.columns:
        return check_names(path, [n.strip() for n in options.columns]), 0
    try:
        text, error = head.decode(options.encoding), None
    except UnicodeDecodeError as exc:
        text, error = head[: exc.start].decode(options.encoding, "ignore"), exc
    text = text.lstrip("\ufeff")
    # newline="": lines end at \n, \r\n or \r, as they do for pyarrow, which skips them by count.
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=options.delimiter, quotechar=options.quote)
    try:
        first = next((row for row in rows if row), [])
    except csv.Error as exc:
        raise InputError.unreadable(
            str(path), f"cannot parse the header row: {printable(str(exc))}.",
            hint="Check --delimiter and --quote, or name the columns of a header-less file with --columns.",
        ) from exc  # fmt: skip
    complete = len(io.StringIO(text, newline="").readlines()) > rows.line_num or text.endswith(("\n", "\r"))
    if error is not None and not complete:
        raise InputError.unreadable(
            str(path),
            f"the header (line {max(rows.line_num, 1)}) is not valid {options.encoding} text: byte "
            f"0x{head[error.start]:02x} at byte offset {error.start}.",
            hint="Pass the file's encoding, e.g. --encoding latin-1 (or cp1252, utf-16).",
        )
    if not first:
        raise InputError.empty_file(str(path))
    return check_names(path, [n.strip() for n in first]), rows.line_num


def _head(path: Path, stream: IO[bytes], options: CsvOptions) -> bytes:
    """The first megabyte, or more when the header row is longer: its fields are counted as it
    streams past, so that a header of a million columns is refused in a moment, not parsed."""
    head = stream.read(1 << 20)
    if len(head) < 1 << 20 or b"\n" in head.lstrip():
        return head
    delimiter = options.delimiter.encode(options.encoding, "replace").lstrip(b"\xff\xfe\xfe\xff")
    fields = head.count(delimiter) + 1
    parts = [head]
    while fields <= MAX_COLUMNS and (chunk := stream.read(1 << 20)):
        line_end = chunk.find(b"\n")
        fields += chunk[: line_end if line_end >= 0 else len(chunk)].count(delimiter)
        parts.append(chunk)
        if line_end >= 0:
            break
    while fields > MAX_COLUMNS and (chunk := stream.read(8 << 20)):  # count only: nothing is kept
        line_end = chunk.find(b"\n")
        fields += chunk[: line_end if line_end >= 0 else len(chunk)].count(delimiter)
        if line_end >= 0:
            break
    if fields > MAX_COLUMNS:
        raise too_many_columns(path, fields)
    return b"".join(parts)


def too_many_columns(path: Path, count: int) -> InputError:
    return InputError.unreadable(
        str(path),
        f"the header has {count:,} columns; at most {MAX_COLUMNS:,} are read.",
        hint="Check --delimiter (a wrong one can split every value); keep the columns you need, "
        "e.g. with `cut -d, -f1-20 FILE`.",
    )


def check_names(path: Path, names: list[str]) -> list[str]:
    """Column names that can name a table: at most MAX_COLUMNS, unique and not empty."""
    if len(names) > MAX_COLUMNS:
        raise too_many_columns(path, len(names))
    dupes = sorted(n for n, k in Counter(names).items() if k > 1)
    if dupes or "" in names:
        raise InputError.unreadable(
            str(path),
            f"the header has {'duplicate' if dupes else 'empty'} column names {dupes or ['']}.",
            hint="Give every column a unique name in the header row (or in --columns).",
        )
    return names
