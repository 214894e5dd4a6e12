"""Checks that output says nothing the data does not define: shared by the real-data report and
acceptance tests.

- :func:`degenerate`: why a chart says nothing (one bar, only zeros, no values), or ``None``.
- :func:`stated_undefined`: where a JSON document states a value of a metric the data does not
  define (a rate over unknown outcomes, a cost nobody configured) or leaves one null without saying
  why. Values are found by their field names, as every surface writes them: ``<metric>_rate``,
  ``<metric>_lo`` ... with ``<metric>_reason``, or records ``{"metric": m, "value": ..., "reason": ...}``.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterator
from typing import Any

import plotly.graph_objects as go

# What a record of one metric holds besides its counts: each is a statement about the metric.
_RECORD_VALUES = ("value", "lo", "hi", "baseline_value", "diff", "diff_lo", "diff_hi", "statistic", "p", "q")
# Counts of an undefined rate are honest only as zero ("0 of 0 journeys with a defined outcome").
_COUNT_SUFFIXES = ("n", "d")


def plotted(trace: Any) -> list[float]:
    """The plotted quantities of a trace: y, or x of a horizontal bar."""
    horizontal = getattr(trace, "orientation", None) == "h"
    values = trace.x if horizontal else getattr(trace, "y", None)
    return [float(v) for v in (values if values is not None else []) if v is not None]


def degenerate(figure: go.Figure) -> str | None:
    """Why a chart says nothing (one bar, nothing but zeros, no data), or None."""
    traces = [t for t in figure.data if t.type != "sankey"]
    if not traces:
        sankeys = [t for t in figure.data if t.type == "sankey"]
        if sankeys and not any(len(t.link.value or ()) for t in sankeys):
            return "a Sankey without links"
        return None
    values = [v for t in traces for v in plotted(t)]
    if not values:
        return "no values"
    if all(v == 0 or math.isnan(v) for v in values):
        return "only zeros"
    bars = [t for t in traces if t.type == "bar"]
    if bars and sum(len(plotted(t)) for t in bars) < 2:
        return "a single bar"
    return None


def _records(document: Any, path: str = "$") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(document, dict):
        yield path, document
        for key, value in document.items():
            yield from _records(value, f"{path}.{key}")
    elif isinstance(document, list):
        for i, value in enumerate(document):
            yield from _records(value, f"{path}[{i}]")


def _said(record: dict[str, Any], key: str) -> bool:
    reason = record.get(key)
    return isinstance(reason, str) and bool(reason.strip())


def stated_undefined(
    document: Any, undefined: Collection[str], *, spec_keys: Collection[str] = ("spec",)
) -> list[str]:
    """Every place where ``document`` states a value of a metric in ``undefined``, or leaves a rate
    null without a reason. Empty when the output is honest.

    ``undefined`` names metrics as fields spell them (``success``, ``leakage``,
    ``first_contact_resolution``, ``cost``); ``cost`` also covers every field that names a cost
    (``cost_mean``, ``unit_cost``, ``cost_to_serve``). Echoed specs (``spec_keys``) are not output.
    """
    problems: list[str] = []
    for path, record in _records(document):
        if any(f".{key}" in path for key in spec_keys):
            continue
        metric = record.get("metric")
        if isinstance(metric, str) and _matches(metric, undefined):
            stated = [k for k in _RECORD_VALUES if record.get(k) is not None]
            if stated or not _said(record, "reason"):
                problems.append(f"{path}: {metric} states {stated or 'no reason'}")
        for key, value in record.items():
            problems += _field_problems(path, record, key, value, undefined)
    return problems


def _matches(name: str, undefined: Collection[str]) -> bool:
    return any(name == m or name.startswith(f"{m}_") or (m == "cost" and "cost" in name) for m in undefined)


def _field_problems(
    path: str, record: dict[str, Any], key: str, value: Any, undefined: Collection[str]
) -> list[str]:
    if key.endswith("reason") or isinstance(value, (dict, list)):
        return []
    out: list[str] = []
    if key.endswith("_rate") and value is None and not _said(record, key.removesuffix("_rate") + "_reason"):
        out.append(f"{path}.{key}: null without {key.removesuffix('_rate')}_reason")
    for metric in undefined:
        if metric == "cost":
            if "cost" not in key:
                continue
            if value is not None:
                out.append(f"{path}.{key} = {value!r} without configured costs")
            if not any(_said(record, k) for k in record if "cost" in k and k.endswith("reason")):
                out.append(f"{path}.{key}: no cost reason")
            continue
        # A field named exactly like the metric is one journey's flag (leakage: false), not a rate.
        if not key.startswith(f"{metric}_"):
            continue
        if key.removeprefix(f"{metric}_") in _COUNT_SUFFIXES:
            if value not in (0, None):
                out.append(f"{path}.{key} = {value!r}: counts a metric the data does not define")
        elif value is not None:
            out.append(f"{path}.{key} = {value!r} although {metric} is not defined")
        elif not _said(record, f"{metric}_reason"):
            out.append(f"{path}.{key}: null without {metric}_reason")
    return out
