"""Line-by-line reading of damaged delimited text: the slow path that loses no valid row.

pyarrow reads clean files fast, but some damage stops it or makes it swallow lines: an undecodable
byte in a transcoded file, a quote that opens and never closes, a record larger than its blocks.
From the damaged spot on, records are read here one physical line at a time with the ``csv``
module, and every line ends up either in a record or in quarantine:

- a line with a byte the encoding cannot decode is quarantined (``encoding``, with the byte offset);
- a record that reaches the end of the file (or :data:`MAX_SPAN_BYTES`) inside a quoted value, or
  that spans several lines with the wrong number of fields, costs only its first line
  (``malformed_row``): reading resumes at the next physical line.

Once :data:`CALM_LINES` clean records in a row have been read, pyarrow takes over again from the
next line, so one damaged spot in a large file costs little more than its own lines.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from journeylens.ingest.readers import LINE, RawBatch, Reject, open_binary, redact_identifiers
from journeylens.store.schema import Reason

if TYPE_CHECKING:
    from journeylens.ingest.delimited import CsvOptions

MAX_SPAN_BYTES = 64 << 20
"""Longest record the line reader assembles across lines before it calls its quote unbalanced."""
_READ = 1 << 20

Line = tuple[int, str]
"""A physical line: its number in the file and its text without the line break."""
Record = tuple[int, list[str | None]]


def encoding_hint(encoding: str) -> str:
    return f"Hint: if the file is not {encoding}, pass its encoding, e.g. --encoding latin-1 or cp1252."


def lines_from(stream: IO[bytes], encoding: str, first_line: int, skip: int) -> Iterator[Line | Reject]:
    """Physical lines of ``stream`` from line ``first_line + skip`` on (``first_line`` is the
    line the stream starts at); a line that does not decode becomes an ``encoding`` reject."""
    if codecs.lookup(encoding).name.startswith(("utf-16", "utf-32")):
        yield from _text_lines(stream, encoding, first_line, skip)
        return
    number, offset, rest = first_line, 0, b""
    while chunk := stream.read(_READ):
        if number + chunk.count(b"\n") < first_line + skip:  # skipped whole, without splitting
            number, offset = number + chunk.count(b"\n"), offset + len(chunk)
            continue
        parts = (rest + chunk).split(b"\n")
        rest = parts.pop()
        for raw in parts:
            if number >= first_line + skip:
                yield _decoded(raw, number, offset, encoding)
            number, offset = number + 1, offset + len(raw) + 1
    if rest:
        yield _decoded(rest, number, offset, encoding)


def _text_lines(stream: IO[bytes], encoding: str, first_line: int, skip: int) -> Iterator[Line | Reject]:
    """Encodings whose line breaks are not the byte ``\\n``: decoded as a stream (a bad byte there
    cannot be isolated to a line, so it stops the file with the encoding hint)."""
    text = io.TextIOWrapper(stream, encoding=encoding, newline="")
    for number, line in enumerate(text, start=first_line):
        if number >= first_line + skip:
            yield number, line.rstrip("\r\n")


def _decoded(raw: bytes, number: int, offset: int, encoding: str) -> Line | Reject:
    try:
        text = raw.decode(encoding).removesuffix("\r")
        return number, text.removeprefix("\ufeff") if number == 1 else text
    except UnicodeDecodeError as exc:
        bad = raw[exc.start]
        text = redact_identifiers(raw.decode(encoding, "replace").removesuffix("\r"))
        message = (
            f"byte 0x{bad:02x} at byte offset {offset + exc.start} of the file (column {exc.start + 1} "
            f"of the line) is not valid {encoding}. {encoding_hint(encoding)}"
        )
        return Reject(number, text, Reason.ENCODING, message)


class _Feed:
    """Hands ``csv.reader`` the lines of one record, remembering which it took and whether the
    record wanted more than there was (a quote still open at the end, or past the size limit)."""

    def __init__(self, first: Line, pull: Iterator[Line | Reject]) -> None:
        self.taken: list[Line | Reject] = [first]
        self.size = len(first[1])
        self.pull = pull
        self.starved = False

    def __iter__(self) -> Iterator[str]:
        yield self.taken[0][1] + "\n"  # type: ignore[index]
        for item in self.pull:
            self.taken.append(item)
            if isinstance(item, Reject) or self.size > MAX_SPAN_BYTES:
                break  # a quoted value does not run across an undecodable line, nor forever
            self.size += len(item[1])
            yield item[1] + "\n"
        self.starved = True


class Source:
    """Lines from upstream, after any pushed back for reading again (never finished for good:
    lines pushed back after the end are still handed out)."""

    def __init__(self, upstream: Iterable[Line | Reject]) -> None:
        self.upstream = iter(upstream)
        self.backlog: deque[Line | Reject] = deque()
        self.furthest = 0
        """Number of the last line read from upstream."""

    def __iter__(self) -> Source:
        return self

    def __next__(self) -> Line | Reject:
        if self.backlog:
            return self.backlog.popleft()
        item = next(self.upstream)
        self.furthest = _number(item)
        return item


def records(
    source: Iterable[Line | Reject], names: list[str], delimiter: str, quote: str, *, strict: bool = True
) -> Iterator[Record | Reject]:
    """Records and rejects, in file order, with every line accounted for exactly once.

    ``strict`` also refuses text after a closing quote (``"a"b``), the mark of a stray quote
    closed by another one lines later.
    """
    stream = source if isinstance(source, Source) else Source(source)
    while (item := next(stream, None)) is not None:
        if isinstance(item, Reject):
            yield item
            continue
        if not item[1].strip():
            continue  # a blank line is no record
        feed = _Feed(item, stream)
        try:
            row = next(csv.reader(feed, delimiter=delimiter, quotechar=quote, strict=strict), [])
            broken = None
        except csv.Error as exc:
            row, broken = [], str(exc)
        number, text = item
        last = _number(feed.taken[-1])
        if not broken and len(feed.taken) > 1 and not _quoted_line_breaks(feed.taken, quote):
            broken = "a quote that is not at the start or end of a value"
        if feed.starved:
            yield _reject(number, text, "a quote opened on this line is never closed")
        elif len(feed.taken) > 1 and (broken or len(row) != len(names)):
            found = f"is not valid CSV there ({broken})" if broken else f"has {len(row)} fields"
            yield _reject(
                number, text,
                f"the record starting here runs to line {last} and {found}, expected {len(names)} "
                "fields (an unbalanced quote?)",
            )  # fmt: skip
        elif broken or len(row) != len(names):
            found = (
                f"not valid CSV ({broken})" if broken else f"expected {len(names)} fields, found {len(row)}"
            )
            yield Reject(number, redact_identifiers(text), Reason.MALFORMED_ROW, found)
            continue
        else:
            yield number, [value or None for value in row]
            continue
        stream.backlog.extendleft(reversed(feed.taken[1:]))  # re-read from the next physical line


class LineSeeker:
    """Physical lines of a file by number, read forward once: the lines of pyarrow's multi-line
    records are read again here to check them, skipping everything in between at C speed."""

    def __init__(self, stream: IO[bytes], encoding: str) -> None:
        self.stream, self.encoding = stream, encoding
        self.text = codecs.lookup(encoding).name.startswith(("utf-16", "utf-32"))
        self.lines: Iterator[Line | Reject] = lines_from(stream, encoding, 1, 0) if self.text else iter(())
        self.pending: Line | Reject | None = None
        self.buffer, self.line, self.offset = b"", 1, 0  # self.buffer starts at line self.line

    def take(self, start: int, end: int) -> list[Line | Reject]:
        """Lines ``start`` to ``end`` (inclusive); ``start`` is past every line taken before."""
        if self.text:
            return self._take_text(start, end)
        self.skip(start - self.line)
        out: list[Line | Reject] = []
        while self.line <= end:
            newline = self.buffer.find(b"\n")
            if newline < 0:
                more = self.stream.read(_READ)
                if more:
                    self.buffer += more
                    continue
                newline = len(self.buffer)  # the last line, without a line break
                if not self.buffer:
                    break
            raw = self.buffer[:newline]
            out.append(_decoded(raw, self.line, self.offset, self.encoding))
            self.buffer = self.buffer[newline + 1 :]
            self.line, self.offset = self.line + 1, self.offset + newline + 1
        return out

    def _take_text(self, start: int, end: int) -> list[Line | Reject]:
        out: list[Line | Reject] = []
        while (item := self.pending or next(self.lines, None)) is not None:
            self.pending = None
            if _number(item) > end:
                self.pending = item
                break
            if _number(item) >= start:
                out.append(item)
        return out

    def skip(self, lines: int) -> None:
        """Pass ``lines`` lines without reading them one by one."""
        while lines > 0:
            found = np.flatnonzero(np.frombuffer(self.buffer, np.uint8) == ord("\n"))
            if len(found) >= lines:
                cut = int(found[lines - 1]) + 1
                self.buffer, self.offset, self.line = self.buffer[cut:], self.offset + cut, self.line + lines
                return
            self.line, self.offset, lines = (
                self.line + len(found),
                self.offset + len(self.buffer),
                lines - len(found),
            )
            self.buffer = self.stream.read(_READ)
            if not self.buffer:
                return


def _quoted_line_breaks(taken: list[Line | Reject], quote: str) -> bool:
    """Whether every line break of a record falls inside a quoted value, counting quotes as
    RFC 4180 does (each one toggles; a doubled one toggles twice). A stray quote closed by a
    quote of a later record breaks this even when the ``csv`` module accepts the result."""
    total = 0
    texts = [item[1] for item in taken if not isinstance(item, Reject)]
    for text in texts[:-1]:
        total += text.count(quote)
        if total % 2 == 0:
            return False
    return (total + texts[-1].count(quote)) % 2 == 0


def _number(item: Line | Reject) -> int:
    return item.line if isinstance(item, Reject) else item[0]


QUOTE_HINT = (
    'Hint: close or double the quote (""), or pass --quote if the file quotes with another character.'
)


def _reject(number: int, text: str, what: str) -> Reject:
    return Reject(
        number, redact_identifiers(text), Reason.MALFORMED_ROW,
        f"{what}; this line is quarantined and reading resumes at line {number + 1}. {QUOTE_HINT}",
    )  # fmt: skip


def batches(items: Iterable[Record | Reject], names: list[str], batch_rows: int) -> Iterator[RawBatch]:
    """Records gathered into Arrow batches of text columns (plus ``_line``), rejects alongside."""
    columns: list[list[str | None]] = [[] for _ in names]
    lines: list[int] = []
    rejects: list[Reject] = []
    for item in items:
        if isinstance(item, Reject):
            rejects.append(item)
            continue
        lines.append(item[0])
        for column, value in zip(columns, item[1], strict=True):
            column.append(value)
        if len(lines) >= batch_rows:
            yield _batch(names, columns, lines, rejects)
            columns, lines, rejects = [[] for _ in names], [], []
    if lines or rejects:
        yield _batch(names, columns, lines, rejects)


def _batch(
    names: list[str], columns: list[list[str | None]], lines: list[int], rejects: list[Reject]
) -> RawBatch:
    data = {name: pa.array(values, pa.string()) for name, values in zip(names, columns, strict=True)}
    data[LINE] = pa.array(lines, pa.int64())
    return RawBatch(pa.table(data), rejects)


# --- handing over between the line reader and pyarrow ----------------------------------------

CALM_LINES = 10_000
"""Clean records the line reader reads past damage before pyarrow takes over again."""


def until_calm(
    found: Iterator[Record | Reject], source: Source, handback: list[int], enabled: bool
) -> Iterator[Record | Reject]:
    """Pass records on until :data:`CALM_LINES` clean ones in a row; then note the next line."""
    clean = 0
    for item in found:
        yield item
        clean = 0 if isinstance(item, Reject) else clean + 1
        if enabled and clean >= CALM_LINES and not source.backlog:
            handback.append(source.furthest + 1)
            return


def from_line(path: Path, line: int) -> IO[bytes]:
    """The file, positioned at the start of physical line ``line``."""
    stream = open_binary(path)
    seeker = LineSeeker(stream, "utf-8")
    seeker.skip(line - 1)
    return io.BufferedReader(_Prefixed(seeker.buffer, stream), buffer_size=1 << 20)


class _Prefixed(io.RawIOBase):
    """Bytes already read, then the rest of a stream."""

    def __init__(self, head: bytes, stream: IO[bytes]) -> None:
        self.head, self.stream = head, stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.head[: len(buffer)] if self.head else self.stream.read(len(buffer))
        self.head = self.head[len(data) :] if self.head else b""
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self.stream.close()
        super().close()


class Recheck:
    """Records pyarrow read over several lines, read again strictly from the file's own lines.

    pyarrow is lenient: a stray quote closed by another stray quote lines later, or one never
    closed before the end of the file, gives a record of the right field count that swallowed
    the lines between. Read again with the ``csv`` module in strict mode (which refuses text
    after a closing quote) and the quote count of each line, such a record is not one record.
    Clean files with no value over several lines never open the file a second time.
    """

    def __init__(self, path: Path, options: CsvOptions, names: list[str]) -> None:
        self.path, self.options, self.names = path, options, names
        self.seeker: LineSeeker | None = None
        self.stream: IO[bytes] | None = None

    def first_damaged(self, skipped: list[Reject], multiline: list[tuple[int, int]]) -> int | None:
        """The first line where a quote led pyarrow astray: a malformed record over several
        lines, or a multi-line record that is not one record when read strictly."""
        broken = [r.line for r in skipped if r.line_breaks]
        for start, end in multiline:
            if broken and start > min(broken):
                break
            if self.seeker is None:
                self.stream = open_binary(self.path)
                self.seeker = LineSeeker(self.stream, self.options.encoding)
            lines = self.seeker.take(start, end)
            delimiter, quote = self.options.delimiter, self.options.quote
            again = list(records(lines, self.names, delimiter, quote, strict=True))
            if len(again) != 1 or isinstance(again[0], Reject) or again[0][0] != start:
                broken.append(start)
                break
        return min(broken) if broken else None

    def close(self) -> None:
        if self.stream is not None:
            self.stream.close()
