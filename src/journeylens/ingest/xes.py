"""Streaming XES reader (IEEE 1849): traces become cases, events become records.

Trace attributes are prefixed ``case:`` (the pm4py convention), event attributes keep their keys.
The default mapping onto the canonical model is :data:`XES_MAPPING`; everything else ends up in
``properties``, so ``lifecycle:transition`` stays available as an activity key. The file is read
with ``iterparse`` and each finished trace is freed, so memory stays bounded by one batch.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError, iterparse

import pyarrow as pa

from journeylens.errors import InputError
from journeylens.ingest.readers import LINE, RawBatch, open_binary, records_to_table

XES_MAPPING: dict[str, str] = {
    "case_id": "case:concept:name",
    "touchpoint": "concept:name",
    "timestamp": "time:timestamp",
    "agent_id": "org:resource",
}
"""Canonical column <- XES attribute, applied unless ``--map`` says otherwise."""

_SCALARS = {"string", "date", "int", "float", "boolean", "id"}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _attributes(element: Element, prefix: str = "") -> dict[str, str]:
    """Scalar child attributes of a trace or event; nested lists/containers are flattened."""
    out: dict[str, str] = {}
    for child in element:
        kind = _local(child.tag)
        key = child.get("key")
        if key is None:
            continue
        if kind in _SCALARS:
            out[prefix + key] = child.get("value", "")
        elif kind in ("list", "container"):
            for sub_key, sub_value in _attributes(child).items():
                out[f"{prefix}{key}.{sub_key}"] = sub_value
    return out


def read_xes(path: Path, batch_rows: int) -> Iterator[RawBatch]:  # noqa: PLR0912 - one streaming state machine
    stream = open_binary(path)
    try:
        if not stream.read(1):
            raise InputError.empty_file(str(path))
        stream.seek(0)
        rows: list[dict[str, str]] = []
        trace_attrs: dict[str, str] = {}
        stack: list[str] = []
        event_no = 0
        for action, element in iterparse(stream, events=("start", "end")):
            if action == "start":
                stack.append(_local(element.tag))
                if stack[-1] == "trace":
                    trace_attrs = {}
                continue
            tag = stack.pop()
            parent = stack[-1] if stack else ""
            if tag == "event":
                event_no += 1
                row = dict(trace_attrs)
                row.update(_attributes(element))
                row[LINE] = str(event_no)
                rows.append(row)
                element.clear()
                if len(rows) >= batch_rows:
                    yield _batch(rows)
                    rows = []
            elif tag == "trace":
                element.clear()
            elif parent == "trace" and tag in _SCALARS and element.get("key"):
                # Trace attributes precede the trace's events in XES, so events get a copy.
                trace_attrs["case:" + element.get("key", "")] = element.get("value", "")
            elif parent == "log" and tag != "trace":
                element.clear()
        if event_no == 0 and not rows:
            raise ParseError("no <event> elements found")
        if rows:
            yield _batch(rows)
    except ParseError as exc:
        raise InputError.unreadable(
            str(path),
            f"not a valid XES (XML) file: {exc}.",
            hint="XES files are XML with a <log> root of <trace>s holding <event>s; check the file.",
        ) from exc
    except (EOFError, OSError, zlib.error) as exc:
        raise InputError.unreadable(
            str(path),
            f"the compressed file is truncated or corrupt ({exc}). Nothing from it was loaded.",
            hint="Copy or download the file again; `gzip -t FILE` checks it.",
        ) from exc
    finally:
        stream.close()


def _batch(rows: list[dict[str, str]]) -> RawBatch:
    table = records_to_table(rows)  # type: ignore[arg-type]
    line = table.column(LINE).cast(pa.int64())
    return RawBatch(table.set_column(table.schema.get_field_index(LINE), LINE, line))
