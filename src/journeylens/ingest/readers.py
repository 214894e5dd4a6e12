"""Streaming readers: files in, Arrow batches with a ``_line`` column out.

Readers never load a file whole. Each yields :class:`RawBatch` objects: the records it could
parse, as an Arrow table of the source columns plus ``_line`` (line of the file, header = line 1,
for CSV and JSON Lines; record number for Parquet and XES), and the records it could not parse at
all (a CSV row with the wrong number of fields, a JSON line that is not an object). The raw text
of those rejects goes to the quarantine table, so e-mail addresses and phone numbers in it are
redacted here (:func:`redact_identifiers`).
"""

from __future__ import annotations

import glob
import gzip
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal, cast

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from journeylens.errors import InputError
from journeylens.store.schema import Reason

Format = Literal["auto", "csv", "parquet", "jsonl", "xes"]
LINE = "_line"
_SUFFIXES: dict[str, Format] = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".xes": "xes",
}  # fmt: skip


@dataclass(frozen=True)
class Reject:
    """A record the reader could not turn into fields."""

    line: int
    raw: str
    reason: Reason
    message: str
    line_breaks: int = field(default=0, compare=False, repr=False)
    """Line breaks inside the record (a malformed CSV record that ran over several lines)."""


@dataclass
class RawBatch:
    data: pa.Table
    rejects: list[Reject] = field(default_factory=list)


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


def is_corrupt(exc: BaseException) -> bool:
    """gzip/zlib failures; any other OSError (permissions, a directory) is not about the content."""
    return isinstance(exc, (EOFError, zlib.error, gzip.BadGzipFile))


def read_error(path: Path, exc: BaseException) -> InputError:
    """A file that cannot be read: corrupt compressed data, or what the OS said (``Permission denied``)."""
    if is_corrupt(exc):
        return corrupt_file_error(path, exc)
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return InputError.unreadable(
        str(path),
        f"cannot read: {reason}.",
        hint="Check that the path is a file you may read (`ls -l FILE` shows its type and permissions).",
    )


def check_not_empty(path: Path, head: bytes) -> None:
    if not head.strip():
        raise InputError.empty_file(str(path))


# --- what a file really holds ------------------------------------------------------------------

# Leading bytes of formats people hand a text reader by mistake: (magic, what it is, what to do).
_MAGIC: list[tuple[bytes, str, str]] = [
    (b"PAR1", "a Parquet file", "Pass --input-format parquet (or name the file .parquet)."),
    (b"PK\x03\x04", "a zip archive (an .xlsx workbook is one too)",
     "Unzip it and ingest the files inside (`unzip FILE -d DIR`, then `journeylens ingest DIR`); "
     "save a spreadsheet as CSV first."),
    (b"PK\x05\x06", "an empty zip archive", "Unzip it and ingest the files inside."),
    (b"\xd0\xcf\x11\xe0", "an old Excel/Office document", "Save the sheet as CSV, then ingest that."),
    (b"SQLite format 3\x00", "a SQLite database", "Export the table to CSV or Parquet, then ingest that."),
    (b"%PDF", "a PDF document", "Export the data as CSV, Parquet or JSON Lines."),
    (b"BZh", "bzip2-compressed", "Decompress it first (`bunzip2 FILE`); gzip is read directly."),
    (b"\xfd7zXZ\x00", "xz-compressed", "Decompress it first (`unxz FILE`); gzip is read directly."),
    (b"(\xb5/\xfd", "zstd-compressed", "Decompress it first (`unzstd FILE`); gzip is read directly."),
]  # fmt: skip
_UTF_BOMS: list[tuple[bytes, str]] = [
    (b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"),
]  # fmt: skip
_TEXT_FORMATS = {"csv": "CSV", "jsonl": "JSON Lines", "xes": "XES"}


def text_bom(head: bytes) -> str | None:
    """``utf-16`` or ``utf-32`` when ``head`` starts with that byte-order mark, else None."""
    return next((name for bom, name in _UTF_BOMS if head.startswith(bom)), None)


def _binary(head: bytes) -> bool:
    """Bytes no text file holds: NUL, or many control characters (tab, newlines, form feed and
    escape are text)."""
    if not head or b"\x00" in head:
        return bool(head)
    controls = sum(head.count(bytes([c])) for c in (*range(1, 9), 11, *range(14, 27), *range(28, 32)))
    return controls > len(head) // 20


def check_content(path: Path, head: bytes, fmt: str, encoding: str = "utf-8") -> None:
    """Refuse a file whose first bytes show it is not ``fmt`` text, saying what it is instead.

    ``head`` is the start of the file after gzip decompression. A UTF-16/32 byte-order mark is
    accepted only when ``encoding`` says so (CSV) — JSON Lines must be UTF-8; XML declares its own.
    """
    name = _TEXT_FORMATS.get(fmt, fmt)
    if head[:2] == b"\x1f\x8b":
        raise InputError.unreadable(
            str(path), "the file is gzip-compressed twice (gzip inside gzip).",
            hint="Decompress one layer (`gunzip -c FILE > ONCE.gz`) and ingest ONCE.gz.",
        )  # fmt: skip
    for magic, what, hint in _MAGIC:
        if head.startswith(magic):
            raise InputError.unreadable(str(path), f"the file is {what}, not {name} text.", hint=hint)
    bom = text_bom(head)
    if bom and fmt != "xes" and not encoding.lower().replace("_", "-").startswith(bom):
        hint = (
            f"Pass --encoding {bom}."
            if fmt == "csv"
            else f"Convert it to UTF-8 first: `iconv -f {bom.upper()} -t UTF-8 FILE > FILE.utf8`."
        )
        raise InputError.unreadable(
            str(path), f"the file is {bom.upper()} text (it starts with a byte-order mark).", hint=hint
        )
    if not bom and _binary(head[:65536]):
        named_gz = path.suffix.lower() in (".gz", ".gzip") and not is_gzip(path)
        raise InputError.unreadable(
            str(path),
            f"the file holds binary data, not {name} text (it starts with '{printable(head[:16])}')"
            + ("; its name ends in .gz, but it is not gzip-compressed." if named_gz else "."),
            hint="Check that this is the file you meant; --input-format csv|parquet|jsonl|xes "
            "reads it as another format.",
        )


def sniff(path: Path) -> bytes:
    """The first 64 KB of a file as its reader will see them (after gzip); corrupt gzip raises."""
    try:
        with open_binary(path) as fh:
            return fh.read(65536)
    except (EOFError, OSError, zlib.error) as exc:
        raise read_error(path, exc) from exc


def printable(data: bytes | str, limit: int = 60) -> str:
    """A short, terminal-safe rendering of raw content for messages: control and undecodable
    bytes are spelled as escapes, so that binary never reaches the user's terminal.

    Example:
        >>> printable(b"PAR1\x15\x04\xff")
        'PAR1\\x15\\x04\\xff'
    """
    text = data.decode("utf-8", "backslashreplace") if isinstance(data, bytes) else data
    shown = "".join(c if c.isprintable() or c == " " else ascii(c)[1:-1] for c in text[:limit])
    return shown + ("..." if len(text) > limit else "")


# --- Parquet -----------------------------------------------------------------------------------


def read_parquet(path: Path, batch_rows: int) -> Iterator[RawBatch]:
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise read_error(path, exc) from exc
    if not magic:
        raise InputError.empty_file(str(path))
    if magic != b"PAR1":
        _not_parquet(path)
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError.unreadable(
            str(path),
            f"not a readable Parquet file ({printable(str(exc), 200)}).",
            hint="Check the file; use --input-format to read it as another format.",
        ) from exc
    start = 1
    for batch in pf.iter_batches(batch_size=batch_rows):
        table = pa.Table.from_batches([batch])
        lines = pa.array(np.arange(start, start + table.num_rows, dtype=np.int64))
        start += table.num_rows
        yield RawBatch(table.append_column(LINE, lines))


def _not_parquet(path: Path) -> None:
    """A file named or flagged Parquet without Parquet's magic bytes: say what it holds instead."""
    head = sniff(path)
    if head.startswith(b"PAR1"):  # gzip around a Parquet file
        what, hint = "a gzip-compressed Parquet file", "Decompress it first (`gunzip FILE`)."
    elif head[:1] in (b"{", b"["):
        what, hint = "JSON text", "Pass --input-format jsonl."
    elif head.lstrip()[:1] == b"<":
        what, hint = "XML text", "Pass --input-format xes if it is an XES event log."
    else:
        check_content(path, head, "parquet")  # zip, binary, UTF-16 ...: named there
        what, hint = "text", "Pass --input-format csv (or jsonl) to read it as text."
    raise InputError.unreadable(str(path), f"the file is {what}, not Parquet.", hint=hint)


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
