"""Rendering of command results as a Rich table, JSON or CSV (``--format``), and the progress bar."""

from __future__ import annotations

import csv
import datetime as _dt
import io
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from typing import Any, Protocol

import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

console = Console(stderr=False, highlight=False)
err_console = Console(stderr=True, highlight=False)

Record = Mapping[str, Any]


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def _plain(value: Any) -> Any:
    """JSON-ready values: ISO dates, string keys, and None for NaN and infinities (not valid JSON)."""
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def to_json(value: Any) -> str:
    """Always valid JSON: NaN/inf as null, dates ISO 8601, non-string keys as strings.

    Example:
        >>> print(to_json({"rate": float("nan"), 1: "a"}))
        {
          "rate": null,
          "1": "a"
        }
    """
    return orjson.dumps(_plain(value), option=_JSON_OPTIONS, default=_json_default).decode()


_JSON_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY


def _json_default(value: Any) -> Any:
    """Numbers orjson does not know (Decimal, numpy scalars) as numbers; anything else is a bug."""
    import decimal

    if isinstance(value, decimal.Decimal):
        return float(value) if value.is_finite() else None
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        number = item()
        if isinstance(number, float) and not math.isfinite(number):
            return None
        if isinstance(number, (int, float, bool, str)):
            return number
    raise TypeError(f"{type(value).__name__} is not JSON-serializable")


def render(records: Sequence[Record] | Record, fmt: OutputFormat, *, title: str | None = None) -> None:
    """Print ``records`` (a list of records, or one record for single results) in ``fmt``.

    JSON is an array of records (or an object for a single result) with the same field names in
    every format; scripts can rely on them (documented in docs/cli.md).
    """
    if fmt is OutputFormat.json:
        sys.stdout.write(to_json(records) + "\n")
        return
    rows = [records] if isinstance(records, Mapping) else list(records)
    if fmt is OutputFormat.csv:
        buffer = io.StringIO()
        fields = list(dict.fromkeys(k for row in rows for k in row))
        writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_cell(row.get(k)) for k in fields})
        sys.stdout.write(buffer.getvalue())
        return
    table = Table(title=title, title_justify="left")
    fields = list(dict.fromkeys(k for row in rows for k in row))
    for name in fields:
        numeric = all(
            (isinstance(r.get(name), (int, float)) and not isinstance(r.get(name), bool))
            or r.get(name) is None
            for r in rows
        )
        table.add_column(name, justify="right" if numeric else "left")
    for row in rows:
        table.add_row(*(_table_cell(row.get(k)) for k in fields))
    console.print(table)


def _csv_cell(value: Any) -> Any:
    value = _plain(value)
    if isinstance(value, (dict, list)):
        return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY, default=_json_default).decode()
    return value


def _table_cell(value: Any) -> str:
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


class Result(Protocol):
    """What the discovery results share: a whole-result JSON view and one table of rows."""

    def to_dict(self) -> dict[str, Any]: ...

    def records(self) -> list[dict[str, Any]]: ...


def render_machine(result: Result, fmt: OutputFormat) -> bool:
    """JSON (the whole result) or CSV (its rows) for scripts; False when ``fmt`` is the table view,
    which each command lays out itself."""
    if fmt is OutputFormat.json:
        render(result.to_dict(), fmt)
        return True
    if fmt is OutputFormat.csv:
        render(result.records(), fmt)
        return True
    return False


def build_progress(progress_bar: Progress) -> Callable[[str, int, int], None]:
    """The model build's ``progress(step, done, total)`` drawn as one task of ``progress_bar``."""
    task: list[Any] = []

    def progress(step: str, done: int, total: int) -> None:
        if not task:
            task.append(progress_bar.add_task(step, total=total))
        progress_bar.update(task[0], completed=done, total=total, description=step)

    return progress


def notice(line: str) -> None:
    """One dim line on stderr: what a command does before its result (e.g. building the model)."""
    err_console.print(line, style="dim", markup=False, soft_wrap=True)


def bar() -> Progress:
    """The progress bar of long commands, on stderr (hidden when stderr is not a terminal).

    Example:
        >>> with bar() as b:  # doctest: +SKIP
        ...     task = b.add_task("Building journeys", total=2)
    """
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err_console, disable=not err_console.is_terminal,
    )  # fmt: skip
