"""XES export (IEEE 1849) of any filtered set of journeys, for pm4py, ProM, Celonis or Disco.

Each journey is a ``<trace>`` named by its ``case_id`` when the source had one (a ticket, an
order, an imported XES trace), else by its ``journey_id``; its events follow in ``step`` order
(ties in time keep ingestion order), so ``pm4py.read_xes`` sees the same traces, events and order
that JourneyLens analyses. Events carry ``concept:name`` (touchpoint), ``time:timestamp`` (UTC,
microseconds), ``org:resource`` (agent), ``channel`` and ``lifecycle:transition`` when the event
had one. Trace attributes add the journey id, type, outcome and customer.

The engine hands over one row per journey (its events as a list sorted by step) in Arrow batches,
and each batch is turned into XML with vectorised string kernels, so memory stays bounded by one
batch of journeys. The file is written next to its
destination and renamed when complete; a path ending in ``.gz`` is gzip-compressed; no path (or
``-``) writes to standard output.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from journeylens.discovery.selection import LIFECYCLE, EmptySelectionError, JourneyFilter, select_journeys
from journeylens.export import destination, text_sink
from journeylens.store import Store
from journeylens.store._backend import json_text

BATCH_JOURNEYS = 10_000
_TRACE_COLUMNS = ("journey_id", "trace", "journey_type", "outcome", "customer_id")
_EVENT_COLUMNS = ("touchpoint", "timestamp", "agent_id", "channel", "lifecycle")
_HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<log xes.version="1.0" xes.features="nested-attributes" xmlns="http://www.xes-standard.org/">
\t<extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>
\t<extension name="Time" prefix="time" uri="http://www.xes-standard.org/time.xesext"/>
\t<extension name="Organizational" prefix="org" uri="http://www.xes-standard.org/org.xesext"/>
\t<extension name="Lifecycle" prefix="lifecycle" uri="http://www.xes-standard.org/lifecycle.xesext"/>
\t<global scope="trace">
\t\t<string key="concept:name" value="__INVALID__"/>
\t</global>
\t<global scope="event">
\t\t<string key="concept:name" value="__INVALID__"/>
\t\t<date key="time:timestamp" value="1970-01-01T00:00:00.000+00:00"/>
\t</global>
\t<classifier name="Activity" keys="concept:name"/>
\t<classifier name="Activity and lifecycle" keys="concept:name lifecycle:transition"/>
\t<string key="concept:name" value="JourneyLens export"/>
"""
_FOOTER = "</log>\n"
_CLOSE = "\t</trace>\n"
# XML attribute values: markup characters escaped, whitespace kept as character references (a
# parser would otherwise normalise it to spaces), other control characters (not XML) dropped.
_ESCAPES = (
    ("&", "&amp;"),
    ("<", "&lt;"),
    (">", "&gt;"),
    ('"', "&quot;"),
    ("\t", "&#9;"),
    ("\n", "&#10;"),
    ("\r", "&#13;"),
)
_NOT_XML = "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f]"


@dataclass(frozen=True)
class XesExport:
    """What :func:`export_xes` wrote (``path`` is None for standard output)."""

    #: The JSON contract (docs/cli.md reads it).
    JSON_FIELDS: ClassVar[tuple[str, ...]] = ("path", "traces", "events")

    path: Path | None
    traces: int
    events: int

    def to_dict(self) -> dict[str, object]:
        path = None if self.path is None else str(self.path)
        return {"path": path, "traces": self.traces, "events": self.events}


def export_xes(
    store: Store,
    flt: JourneyFilter | None,
    path: str | Path | None = None,
    *,
    batch_journeys: int = BATCH_JOURNEYS,
) -> XesExport:
    """Write the journeys ``flt`` selects as XES to ``path`` (gzip when it ends in ``.gz``), or to
    standard output when ``path`` is None or ``-``.

    Raises:
        EmptySelectionError: the filter selects no journeys (no file is written).
        InputError: the destination cannot be written.

    Example:
        >>> export_xes(ws.store, JourneyFilter(journey_type=["support"]), "support.xes.gz")  # doctest: +SKIP
        XesExport(path=PosixPath('support.xes.gz'), traces=4580, events=21348)
    """
    flt = flt or JourneyFilter()
    target = destination(path)
    batches = store.backend.to_pyarrow_batches(export_rows(store, flt), chunk_size=batch_journeys)
    filled = (batch for batch in batches if batch.num_rows)
    first = next(filled, None)
    if first is None:  # before anything is written, so a pipe never sees half a log
        raise EmptySelectionError.for_filter(flt)
    traces = events = 0
    with text_sink(target) as fh:
        fh.write(_HEADER)
        for batch in itertools.chain([first], filled):
            flat = _flatten(batch)
            fh.write(_traces_xml(flat))
            traces += batch.num_rows
            events += flat.num_rows
        fh.write(_FOOTER)
    return XesExport(path=target, traces=traces, events=events)


def export_rows(store: Store, flt: JourneyFilter) -> ir.Table:
    """One row per selected journey with its events as a list sorted by step.

    A row holds a whole trace, so the file is right however the engine splits or orders the
    stream (DuckDB may emit the batches of an ordered result out of order when it does not
    preserve insertion order). Journeys are asked for by start time, then id.
    """
    journeys = select_journeys(store, flt).select(
        "journey_id", "case_id", "customer_id", "journey_type", "outcome", "start"
    )
    je, events = store.backend.table("journey_events"), store.table("events")
    joined = je.join(journeys, "journey_id").join(events, je.event_id == events.event_id)
    rows = joined.select(
        journeys.journey_id, journeys.case_id, journeys.customer_id, journeys.journey_type,
        journeys.outcome, journeys.start,
        event=ibis.struct(
            {
                "step": je.step,
                "touchpoint": events.touchpoint,
                "timestamp": events.timestamp,
                "agent_id": events.agent_id,
                "channel": events.channel,
                "lifecycle": json_text(events.properties, LIFECYCLE),
            }
        ),
    )  # fmt: skip
    # Sorting structs compares ``step`` first, and steps are unique within a journey.
    keys = ["journey_id", "case_id", "customer_id", "journey_type", "outcome", "start"]
    per_journey = rows.group_by(keys).agg(events=rows.event.collect().sort())
    return per_journey.select(
        "journey_id",
        "customer_id",
        "journey_type",
        "outcome",
        "events",
        trace=ibis.coalesce(per_journey.case_id, per_journey.journey_id),
        start=per_journey.start,
    ).order_by(["start", "journey_id"])


def _flatten(batch: pa.RecordBatch) -> pa.Table:
    """One row per event, with its journey's columns repeated."""
    lists = batch.column("events")
    parents = pc.list_parent_indices(lists)
    events = pc.list_flatten(lists)
    columns = {name: pc.take(batch.column(name), parents) for name in _TRACE_COLUMNS}
    columns.update({name: events.field(name) for name in _EVENT_COLUMNS})
    return pa.table(columns)


def _traces_xml(flat: pa.Table) -> str:
    """XML of whole traces: rows are events, grouped by journey and in step order."""
    journey = flat["journey_id"].combine_chunks()
    previous = pa.concat_arrays([pa.array([None], pa.string()), journey.slice(0, len(journey) - 1)])
    opens = pc.fill_null(pc.not_equal(journey, previous), True)
    # A new journey closes the previous trace, except the first one of the batch.
    closing = pa.array([""] + [_CLOSE] * (len(journey) - 1), pa.string())
    trace_head = _join(
        "\t<trace>\n",
        _attr("string", "concept:name", flat["trace"]),
        _attr("string", "journeylens:journey_id", flat["journey_id"]),
        _attr("string", "journey_type", flat["journey_type"]),
        _attr("string", "outcome", flat["outcome"]),
        _attr("string", "customer_id", flat["customer_id"]),
    )
    prefix = pc.if_else(opens, _join(closing, trace_head), "")
    event = _join(
        prefix,
        "\t\t<event>\n",
        _attr("string", "concept:name", flat["touchpoint"], indent=3),
        _attr("date", "time:timestamp", _timestamps(flat["timestamp"]), indent=3),
        _attr("string", "org:resource", flat["agent_id"], indent=3),
        _attr("string", "channel", flat["channel"], indent=3),
        _attr("string", "lifecycle:transition", flat["lifecycle"], indent=3),
        "\t\t</event>\n",
    )
    return "".join(event.to_pylist()) + _CLOSE


def _attr(kind: str, key: str, values: pa.ChunkedArray | pa.Array, indent: int = 2) -> pa.Array:
    """``<kind key="key" value="..."/>`` per row, or an empty string where the value is NULL."""
    text = values.cast(pa.string()) if values.type != pa.string() else values
    element = _join("\t" * indent + f'<{kind} key="{key}" value="', _escape(text), '"/>\n')
    return pc.fill_null(element, "")


def _escape(values: pa.ChunkedArray | pa.Array) -> pa.Array:
    out = pc.replace_substring_regex(values, _NOT_XML, "")
    for raw, ref in _ESCAPES:
        out = pc.replace_substring(out, raw, ref)
    return out


def _timestamps(values: pa.ChunkedArray) -> pa.Array:
    """ISO 8601 in UTC with microseconds; engines that hand back naive UTC (Spark) are labelled."""
    text = pc.strftime(values, format="%Y-%m-%dT%H:%M:%S")
    return pc.binary_join_element_wise(text, "+00:00", "")


def _join(*parts: pa.Array | pa.ChunkedArray | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")
