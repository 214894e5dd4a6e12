"""Whitespace-aligned text (``--delimiter whitespace``): fields separated by runs of spaces/tabs.

Reports and legacy exports often align columns with spaces (the CDNOW purchase log, fixed-width
dumps). Leading and trailing spaces are ignored, quotes are ordinary characters, and a value
cannot hold a space. The file is read in blocks like CSV; each block is split into lines and
fields by pyarrow kernels, so memory stays bounded and no Python loop runs over clean lines.
Lines with a different number of fields are quarantined (``malformed_row``) with their line,
lines that do not decode as ``--encoding`` too (``encoding``, with the byte offset).
"""

from __future__ import annotations

import codecs
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from journeylens.errors import InputError
from journeylens.ingest import _resync
from journeylens.ingest._header import MAX_COLUMNS, check_names, too_many_columns
from journeylens.ingest.delimited import CsvOptions
from journeylens.ingest.readers import (
    LINE,
    RawBatch,
    Reject,
    check_content,
    check_not_empty,
    open_binary,
    read_error,
    redact_identifiers,
)
from journeylens.store.schema import Reason

_BLOCK = 8 << 20
_GAPS = r"[ \t]+"
_BOM = b"\xef\xbb\xbf"


def read_whitespace(path: Path, options: CsvOptions, batch_rows: int) -> Iterator[RawBatch]:
    """Records of an aligned text file, in batches of about ``batch_rows`` records.

    Example:
        >>> import tempfile
        >>> f = Path(tempfile.mkdtemp()) / "cd.txt"
        >>> _ = f.write_text(" 00004 0001 19970101  2   29.33\\n")
        >>> batch = next(read_whitespace(f, CsvOptions(columns=("c", "i", "d", "n", "v")), 1000))
        >>> batch.data.column("v").to_pylist(), batch.data.column("_line").to_pylist()
        (['29.33'], [1])
    """
    try:
        stream = open_binary(path)
    except OSError as exc:
        raise read_error(path, exc) from exc
    try:
        names: list[str] | None = list(options.columns) if options.columns else None
        if names is not None:
            check_names(path, names)
        pending: list[RawBatch] = []
        for first_line, offset, block in _blocks(path, stream, options.encoding):
            lines = _lines(block, first_line, offset, options.encoding)
            if names is None:
                names, lines = _header(path, lines)
            pending.append(_fields(lines, names))
            if sum(b.data.num_rows for b in pending) >= batch_rows:
                yield _joined(pending, names)
                pending = []
        if names is None:
            raise InputError.empty_file(str(path))
        if pending:
            yield _joined(pending, names)
    except (EOFError, OSError, zlib.error) as exc:
        raise read_error(path, exc) from exc
    except UnicodeDecodeError as exc:
        raise InputError.unreadable(
            str(path), f"the file is not valid {options.encoding} text ({exc}).",
            hint="Pass the file's encoding, e.g. --encoding latin-1 (or cp1252, utf-16).",
        ) from exc  # fmt: skip
    finally:
        stream.close()


def _blocks(path: Path, stream: IO[bytes], encoding: str) -> Iterator[tuple[int, int, pa.Array]]:
    """Blocks of whole lines as one-element UTF-8 (or binary, for UTF-8 input) arrays, with
    the number of their first line and their byte offset in the file."""
    read = stream.read
    head = read(_BLOCK)
    check_not_empty(path, head)
    check_content(path, head, "csv", encoding)
    codec = codecs.lookup(encoding).name
    if codec.startswith(("utf-16", "utf-32")):  # line breaks are not the byte \n: decode first
        decoder = codecs.getincrementaldecoder(encoding)()
        source = iter(lambda: decoder.decode(read(_BLOCK)).encode(), b"")
        pieces: Iterator[bytes] = iter([decoder.decode(head).encode(), *source])
        codec = "utf-8"
    else:
        pieces = iter([head.removeprefix(_BOM), *iter(lambda: read(_BLOCK), b"")])
    line, offset, rest = 1, len(head) - len(head.removeprefix(_BOM)), b""
    for piece in pieces:
        data = rest + piece
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            rest = data
            continue
        block, rest = data[:cut], data[cut:]
        yield line, offset, _decoded(block, codec, line, offset)
        line, offset = line + block.count(b"\n"), offset + len(block)
    if rest:
        yield line, offset, _decoded(rest + b"\n", codec, line, offset)


def _decoded(block: bytes, codec: str, line: int, offset: int) -> pa.Array:
    """The block as UTF-8 bytes; lines that do not decode are kept as bytes and caught later."""
    if codec == "utf-8":
        return pa.array([block], pa.binary())
    try:
        return pa.array([block.decode(codec).encode()], pa.binary())
    except UnicodeDecodeError:  # rare: decode line by line, marking the bad ones
        return pa.array([b"\n".join(_line_utf8(raw, codec) for raw in block.split(b"\n"))], pa.binary())


def _line_utf8(raw: bytes, codec: str) -> bytes:
    try:
        return raw.decode(codec).encode()
    except UnicodeDecodeError:
        return raw if not _valid_utf8(raw) else raw + b"\xff"  # keep it invalid so it is rejected


def _valid_utf8(raw: bytes) -> bool:
    try:
        raw.decode()
    except UnicodeDecodeError:
        return False
    return True


class _Lines:
    """One block's lines as text, with their numbers; undecodable lines already rejected."""

    def __init__(self, text: pa.Array, numbers: np.ndarray, rejects: list[Reject]) -> None:
        self.text, self.numbers, self.rejects = text, numbers, rejects


def _lines(block: pa.Array, first_line: int, offset: int, encoding: str) -> _Lines:
    raw = pc.split_pattern(block, b"\n").flatten()[:-1]  # the block ends with \n: last piece is empty
    numbers = np.arange(first_line, first_line + len(raw), dtype=np.int64)
    try:
        text = raw.cast(pa.string())
        rejects: list[Reject] = []
    except pa.ArrowInvalid:
        text, numbers, rejects = _without_bad_bytes(raw, numbers, offset, encoding)
    text = pc.utf8_trim(text, " \t\r")
    keep = pc.greater(pc.utf8_length(text), 0)  # blank lines are no records
    return _Lines(text.filter(keep), numbers[keep.to_numpy(zero_copy_only=False)], rejects)


def _without_bad_bytes(
    raw: pa.Array, numbers: np.ndarray, offset: int, encoding: str
) -> tuple[pa.Array, np.ndarray, list[Reject]]:
    """The damaged-block path: lines that are not UTF-8 become ``encoding`` rejects."""
    values = raw.to_pylist()
    starts = offset + np.concatenate([[0], np.cumsum([len(v) + 1 for v in values])[:-1]])
    good, rejects = [], []
    for value, number, start in zip(values, numbers.tolist(), starts.tolist(), strict=True):
        try:
            value.decode()
            good.append(True)
        except UnicodeDecodeError as exc:
            good.append(False)
            message = (
                f"byte 0x{value[exc.start]:02x} at byte offset {start + exc.start} of the file (column "
                f"{exc.start + 1} of the line) is not valid {encoding}. {_resync.encoding_hint(encoding)}"
            )
            text = redact_identifiers(value.decode("utf-8", "replace").rstrip("\r"))
            rejects.append(Reject(number, text, Reason.ENCODING, message))
    mask = np.asarray(good, dtype=bool)
    return raw.filter(pa.array(mask)).cast(pa.string()), numbers[mask], rejects


def _header(path: Path, lines: _Lines) -> tuple[list[str], _Lines]:
    """Names from the first non-blank line; the lines after it."""
    if len(lines.text) == 0:
        raise InputError.empty_file(str(path))
    first = lines.text[0].as_py()
    if first.count(" ") + first.count("\t") >= MAX_COLUMNS:
        fields = len(first.split())
        if fields > MAX_COLUMNS:
            raise too_many_columns(path, fields)
    names = check_names(path, first.split())
    rest = _Lines(lines.text[1:], lines.numbers[1:], [r for r in lines.rejects if r.line > lines.numbers[0]])
    if any(r.line < lines.numbers[0] for r in lines.rejects):
        raise InputError.unreadable(
            str(path), "the header is not valid text in the given encoding.",
            hint="Pass the file's encoding, e.g. --encoding latin-1 (or cp1252, utf-16).",
        )  # fmt: skip
    return names, rest


def _fields(lines: _Lines, names: list[str]) -> RawBatch:
    """Split each line at runs of spaces/tabs; lines with another field count are rejects."""
    parts = pc.split_pattern_regex(lines.text, _GAPS)
    counts = pc.list_value_length(parts).to_numpy(zero_copy_only=False)
    fits = counts == len(names)
    rejects = list(lines.rejects)
    if not fits.all():
        texts = lines.text.filter(pa.array(~fits)).to_pylist()
        for number, text, found in zip(
            lines.numbers[~fits].tolist(), texts, counts[~fits].tolist(), strict=True
        ):
            message = f"expected {len(names)} fields separated by spaces/tabs, found {found}"
            rejects.append(Reject(number, redact_identifiers(text), Reason.MALFORMED_ROW, message))
        parts = parts.filter(pa.array(fits))
    columns = {name: pc.list_element(parts, i) for i, name in enumerate(names)}
    columns[LINE] = pa.array(lines.numbers[fits], pa.int64())
    return RawBatch(pa.table(columns), sorted(rejects, key=lambda r: r.line))


def _joined(batches: list[RawBatch], names: list[str]) -> RawBatch:
    tables = [b.data for b in batches if b.data.num_rows]
    empty = pa.table({**{n: pa.array([], pa.string()) for n in names}, LINE: pa.array([], pa.int64())})
    return RawBatch(pa.concat_tables(tables) if tables else empty, [r for b in batches for r in b.rejects])
