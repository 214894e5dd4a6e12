"""Streaming XES reader (IEEE 1849): traces become cases, events become records.

Trace attributes are prefixed ``case:`` (the pm4py convention), event attributes keep their keys.
The default mapping onto the canonical model is :data:`XES_MAPPING`; everything else ends up in
``properties``, so ``lifecycle:transition`` stays available as an activity key. The file is read
with ``iterparse`` and every finished child of the log and of a trace is detached from the tree,
so memory stays bounded by one batch, however many traces and events the file holds.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO
from xml.etree.ElementTree import Element, ParseError, iterparse

import pyarrow as pa

from journeylens.errors import InputError
from journeylens.ingest.readers import (
    LINE,
    RawBatch,
    Reject,
    check_content,
    open_binary,
    read_error,
    records_to_table,
)
from journeylens.store.schema import Reason

XES_MAPPING: dict[str, str] = {
    "case_id": "case:concept:name",
    "touchpoint": "concept:name",
    "timestamp": "time:timestamp",
    "agent_id": "org:resource",
}
"""Canonical column <- XES attribute, applied unless ``--map`` says otherwise."""

_SCALARS = {"string", "date", "int", "float", "boolean", "id"}
_NESTED = {"list", "container"}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


MAX_XES_DEPTH = 64
"""Deepest nesting of list/container attributes read from an XES event or trace; an event
with (or in a trace with) deeper attributes is quarantined as ``too_deep``."""


class _TooDeep(Exception):
    pass


def _attribute(element: Element, prefix: str = "") -> dict[str, str]:
    """One attribute element as ``{key: value}``; a list/container flattens to ``key.child`` keys.

    A loop over an explicit stack, in document order: nesting depth never reaches Python's
    recursion limit; past :data:`MAX_XES_DEPTH` it raises ``_TooDeep``.
    """
    out: dict[str, str] = {}
    todo = [(element, prefix, 1)]
    while todo:
        node, above, depth = todo.pop()
        kind, key = _local(node.tag), node.get("key")
        if key is None:
            continue
        if kind in _SCALARS:
            out[above + key] = node.get("value", "")
        elif kind in _NESTED:
            if depth >= MAX_XES_DEPTH:
                raise _TooDeep
            todo.extend((child, f"{above}{key}.", depth + 1) for child in reversed(node))
    return out


def _attributes(element: Element, prefix: str = "") -> dict[str, str]:
    """Scalar child attributes of a trace or event; nested lists/containers are flattened."""
    out: dict[str, str] = {}
    for child in element:
        out.update(_attribute(child, prefix))
    return out


def read_xes(path: Path, batch_rows: int) -> Iterator[RawBatch]:
    try:
        stream = open_binary(path)
    except OSError as exc:
        raise read_error(path, exc) from exc
    try:
        head = stream.read(65536)
        if not head:
            raise InputError.empty_file(str(path))
        check_content(path, head, "xes")
        stream.seek(0)
        rows: list[dict[str, str]] = []
        rejects: list[Reject] = []
        for row in _events(stream):
            if isinstance(row, Reject):
                rejects.append(row)
                continue
            rows.append(row)
            if len(rows) >= batch_rows:
                yield _batch(rows, rejects)
                rows, rejects = [], []
        if rows or rejects:
            yield _batch(rows, rejects)
    except ParseError as exc:
        raise InputError.unreadable(
            str(path),
            f"not a valid XES (XML) file: {exc}.",
            hint="XES files are XML with a <log> root of <trace>s holding <event>s; check the file.",
        ) from exc
    except (EOFError, OSError, zlib.error) as exc:
        raise read_error(path, exc) from exc
    finally:
        stream.close()


def _events(stream: IO[bytes]) -> Iterator[dict[str, str] | Reject]:
    """Each event as a row: its trace's attributes (``case:``), its own, and its number (or a
    reject, for an event whose or whose trace's attributes nest too deep).

    ``stack`` holds the open elements. A finished child of the log or of a trace has been used
    once it ends, so it is removed from its parent; otherwise the tree would keep every trace.
    """
    stack: list[Element] = []
    trace_attrs: dict[str, str] = {}
    trace_too_deep = False
    event_no = 0
    for action, element in iterparse(stream, events=("start", "end")):
        if action == "start":
            stack.append(element)
            if _local(element.tag) == "trace":
                trace_attrs, trace_too_deep = {}, False
            continue
        stack.pop()
        tag = _local(element.tag)
        parent = stack[-1] if stack else None
        parent_tag = _local(parent.tag) if parent is not None else ""
        if tag == "event":
            event_no += 1
            try:
                row = dict(trace_attrs)
                row.update(_attributes(element))
                row[LINE] = str(event_no)
                yield _too_deep(event_no, trace_attrs, "its trace's") if trace_too_deep else row
            except _TooDeep:
                yield _too_deep(event_no, trace_attrs, "its")
        elif tag == "trace":
            trace_attrs, trace_too_deep = {}, False  # an event outside any trace starts afresh
        elif parent_tag == "trace":
            # Trace attributes precede the trace's events in XES, so events get a copy.
            try:
                trace_attrs.update(_attribute(element, "case:"))
            except _TooDeep:
                trace_too_deep = True
        if parent is not None and (len(stack) == 1 or parent_tag == "trace"):
            parent.remove(element)
    if event_no == 0:
        raise ParseError("no <event> elements found")


def _too_deep(event_no: int, trace_attrs: dict[str, str], whose: str) -> Reject:
    case = trace_attrs.get("case:concept:name")
    raw = f"<event> number {event_no}" + (f" of trace {case!r}" if case else "")
    message = (
        f"{whose} list/container attributes nest more than {MAX_XES_DEPTH} levels deep (the limit). "
        "Hint: flatten the nested attributes before export."
    )
    return Reject(event_no, raw, Reason.TOO_DEEP, message)


def _batch(rows: list[dict[str, str]], rejects: list[Reject]) -> RawBatch:
    if not rows:
        return RawBatch(pa.table({LINE: pa.array([], pa.int64())}), rejects)
    table = records_to_table(rows)  # type: ignore[arg-type]
    line = table.column(LINE).cast(pa.int64())
    return RawBatch(table.set_column(table.schema.get_field_index(LINE), LINE, line), rejects)
