"""JSON Lines, read in 16 MB chunks: pyarrow for clean chunks, line by line for the rest.

Values that hold text on a chunk's first line are read as text, so pyarrow cannot turn date-time
strings into zone-less timestamps; lines that are not JSON objects become rejects with their line,
and so do lines nested deeper than :data:`MAX_JSON_DEPTH` (found without recursion, before any
parser or type walk descends into them).
"""

from __future__ import annotations

import io
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.json as pajson

from journeylens.errors import InputError
from journeylens.ingest.readers import (
    LINE,
    RawBatch,
    Reject,
    check_content,
    check_not_empty,
    open_binary,
    read_error,
    records_to_table,
    redact_identifiers,
)
from journeylens.store.schema import Reason

_JSON_CHUNK = 16 << 20
_BOM = b"\xef\xbb\xbf"
MAX_JSON_DEPTH = 64
"""Deepest nesting of objects and arrays read from a JSON Lines record; deeper lines are
quarantined as ``too_deep``. Event data rarely nests past 10 levels."""
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_BRACKET = re.compile(rb"[\[\]{}]")


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
        check_not_empty(path, head)
        check_content(path, head, "jsonl")
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
    deep = _deep_lines(clean)
    if not deep and b"\n\n" not in clean and not clean.startswith(b"\n") and _is_utf8(clean):
        table = _jsonl_fast(clean)
        if table is not None and table.num_rows == clean.count(b"\n") + (0 if clean.endswith(b"\n") else 1):
            lines = np.arange(first_line, first_line + table.num_rows, dtype=np.int64)
            return RawBatch(table.append_column(LINE, pa.array(lines)))
    return _jsonl_slow(clean, first_line, max_record_bytes, deep)


def _is_utf8(chunk: bytes) -> bool:
    """pyarrow's JSON reader passes invalid UTF-8 through into text; checked in one pass here."""
    try:
        pa.array([chunk], pa.binary()).cast(pa.string())
    except pa.ArrowInvalid:
        return False
    return True


def _deep_lines(chunk: bytes) -> dict[int, int]:
    """Lines of ``chunk`` (0-based) nested deeper than :data:`MAX_JSON_DEPTH`, with their depth.

    A line cannot nest deeper than it has opening brackets, counted per line with numpy; only
    lines with more openers than the limit are measured exactly, without recursion.
    """
    data = np.frombuffer(chunk, np.uint8)
    opens = (data == ord("{")) | (data == ord("["))
    if int(np.count_nonzero(opens)) <= MAX_JSON_DEPTH:
        return {}
    starts = np.concatenate(([0], np.flatnonzero(data == ord("\n")) + 1))
    starts = starts[starts < len(data)]
    per_line = np.add.reduceat(opens, starts, dtype=np.int64)
    deep = {}
    for index in np.flatnonzero(per_line > MAX_JSON_DEPTH).tolist():
        end = chunk.find(b"\n", int(starts[index]))
        depth = json_depth(chunk[int(starts[index]) : end if end >= 0 else len(chunk)])
        if depth > MAX_JSON_DEPTH:
            deep[index] = depth
    return deep


def json_depth(raw: bytes, stop: int = MAX_JSON_DEPTH) -> int:
    """How deeply objects and arrays nest in one JSON text, up to just past ``stop``.

    Brackets inside strings do not count; the walk is a loop, so any depth is safe to measure.

    Example:
        >>> json_depth(b'{"a": [{"b": "[[["}]}')
        3
    """
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub(b"", raw)):
        depth += 1 if match.group() in b"[{" else -1
        if depth > deepest:
            deepest = depth
            if deepest > stop:
                break
    return deepest


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
    """Whether a timestamp or date hides anywhere in a (nested) type; a loop, not recursion."""
    todo = [kind]
    while todo:
        kind = todo.pop()
        if pa.types.is_temporal(kind):
            return True
        if pa.types.is_struct(kind):
            todo.extend(kind.field(i).type for i in range(kind.num_fields))
        elif pa.types.is_list(kind) or pa.types.is_large_list(kind):
            todo.append(kind.value_type)
    return False


def _jsonl_slow(chunk: bytes, first_line: int, max_record_bytes: int, deep: dict[int, int]) -> RawBatch:
    """Line-by-line fallback for chunks with bad lines, blank lines, deep lines or mixed types."""
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
        if offset in deep:
            rejects.append(_too_deep(line, raw))
            continue
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            rejects.append(_not_utf8(line, raw, exc))
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


def _not_utf8(line: int, raw: bytes, exc: UnicodeDecodeError) -> Reject:
    message = (
        f"byte 0x{raw[exc.start]:02x} at byte offset {exc.start} of the line is not valid UTF-8. Hint: "
        "JSON Lines must be UTF-8; convert the file, e.g. `iconv -f LATIN1 -t UTF-8 FILE > FILE.utf8`."
    )
    return Reject(line, redact_identifiers(raw.decode("utf-8", "replace")), Reason.ENCODING, message)


def _too_deep(line: int, raw: bytes) -> Reject:
    preview = redact_identifiers(raw[:1024].decode("utf-8", "replace"))[:200]
    message = (
        f"objects/arrays nested more than {MAX_JSON_DEPTH} levels deep (the limit). Hint: flatten "
        "the record, or send the deep part as one JSON text field."
    )
    return Reject(line, preview + ("..." if len(raw) > 200 else ""), Reason.TOO_DEEP, message)


def _json_scalar(value: object) -> object:
    """Nested objects and lists travel as JSON text (they land in properties)."""
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return value
