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
    check_content,
    open_binary,
    read_error,
    records_to_table,
)

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


def _attribute(element: Element, prefix: str = "") -> dict[str, str]:
    """One attribute element as ``{key: value}``; a list/container flattens to ``key.child`` keys."""
    kind = _local(element.tag)
    key = element.get("key")
    if key is None:
        return {}
    if kind in _SCALARS:
        return {prefix + key: element.get("value", "")}
    if kind in _NESTED:
        return {f"{prefix}{key}.{sub_key}": value for sub_key, value in _attributes(element).items()}
    return {}


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
        for row in _events(stream):
            rows.append(row)
            if len(rows) >= batch_rows:
                yield _batch(rows)
                rows = []
        if rows:
            yield _batch(rows)
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


def _events(stream: IO[bytes]) -> Iterator[dict[str, str]]:
    """Each event as a row: its trace's attributes (``case:``), its own, and its number.

    ``stack`` holds the open elements. A finished child of the log or of a trace has been used
    once it ends, so it is removed from its parent; otherwise the tree would keep every trace.
    """
    stack: list[Element] = []
    trace_attrs: dict[str, str] = {}
    event_no = 0
    for action, element in iterparse(stream, events=("start", "end")):
        if action == "start":
            stack.append(element)
            if _local(element.tag) == "trace":
                trace_attrs = {}
            continue
        stack.pop()
        tag = _local(element.tag)
        parent = stack[-1] if stack else None
        parent_tag = _local(parent.tag) if parent is not None else ""
        if tag == "event":
            event_no += 1
            row = dict(trace_attrs)
            row.update(_attributes(element))
            row[LINE] = str(event_no)
            yield row
        elif tag == "trace":
            trace_attrs = {}  # an event outside any trace must not inherit the last trace's
        elif parent_tag == "trace":
            # Trace attributes precede the trace's events in XES, so events get a copy.
            trace_attrs.update(_attribute(element, "case:"))
        if parent is not None and (len(stack) == 1 or parent_tag == "trace"):
            parent.remove(element)
    if event_no == 0:
        raise ParseError("no <event> elements found")


def _batch(rows: list[dict[str, str]]) -> RawBatch:
    table = records_to_table(rows)  # type: ignore[arg-type]
    line = table.column(LINE).cast(pa.int64())
    return RawBatch(table.set_column(table.schema.get_field_index(LINE), LINE, line))
