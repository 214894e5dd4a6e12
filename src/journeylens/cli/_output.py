"""Rendering of command results as a Rich table, JSON or CSV (``--format``), and the progress bar."""

from __future__ import annotations

import csv
import datetime as _dt
import io
import math
import sys
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

import orjson
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

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


def json_bytes(value: Any) -> bytes:
    """:func:`to_json` without the indentation, as bytes (the REST API's bodies)."""
    return orjson.dumps(_plain(value), option=orjson.OPT_SERIALIZE_NUMPY, default=_json_default)


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


def csv_text(rows: Sequence[Record]) -> str:
    """``rows`` as CSV: a header of every field (first-seen order), then one line per record; the
    CLI's ``--format csv``, the REST API's ``text/csv`` and the dashboard's CSV links write
    exactly this."""
    buffer = io.StringIO()
    fields = list(dict.fromkeys(k for row in rows for k in row))
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_cell(row.get(k)) for k in fields})
    return buffer.getvalue()


def render(
    records: Sequence[Record] | Record,
    fmt: OutputFormat,
    *,
    title: str | None = None,
    extra: Collection[str] = (),
    wide: bool | None = None,
) -> None:
    """Print ``records`` (a list of records, or one record for single results) in ``fmt``.

    JSON is an array of records (or an object for a single result) with the same field names in
    every format; scripts can rely on them (documented in docs/cli.md). The table fits the
    terminal (80 columns when it is not one): header names wrap at their words, long text folds,
    numbers and instants keep their whole width, and the leading columns that fit are shown (views
    put the important first); the ``extra`` fields and those that do not fit appear only when
    ``wide`` (``--wide``; None: the command has no such flag), and stderr names them. JSON and
    CSV always carry every field.
    """
    if fmt is OutputFormat.json:
        sys.stdout.write(to_json(records) + "\n")
        return
    rows = [records] if isinstance(records, Mapping) else list(records)
    if fmt is OutputFormat.csv:
        sys.stdout.write(csv_text(rows))
        return
    fields = list(dict.fromkeys(k for row in rows for k in row))
    shown = fields if wide else [k for k in fields if k not in extra]
    columns = [_column(name, [row.get(name) for row in rows]) for name in shown]
    if not wide:
        columns = _fit(columns, console.width)
    widths = _widths(columns, None if wide else console.width)
    out = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column, width in zip(columns, widths, strict=True):
        out.add_column(
            Text(column.header, overflow="fold"),
            justify="right" if column.numeric else "left",
            overflow="fold",
            width=width,
        )
    for cells in zip(*(c.cells for c in columns), strict=True):
        out.add_row(*(Text(cell) for cell in cells))  # data, not Rich markup: "[checkout]" stays
    # --wide: the whole table at its natural width (the terminal may wrap it; `less -S` reads it).
    if wide:  # Console.print never goes wider than the console: widen it for this table
        narrow = console.width
        console.width = max(narrow, sum(widths) + _GAP * len(widths))
        try:
            console.print(out)
        finally:
            console.width = narrow
    else:
        console.print(out)
    hidden = [_header(k) for k in fields if k not in {c.name for c in columns}]
    if hidden:
        where = "--wide adds" if wide is not None else "Not shown at this width:"
        err_console.print(
            f"{where} {', '.join(hidden)}; --format json or csv has every field.",
            style="dim", markup=False, soft_wrap=True,
        )  # fmt: skip


def first(rows: Sequence[Record], keys: Sequence[str]) -> list[dict[str, Any]]:
    """``rows`` with the fields ``keys`` (those present) moved to the front, for a table that reads
    the important columns first."""
    return [{**{k: row[k] for k in keys if k in row}, **row} for row in rows]


@dataclass(frozen=True)
class _Column:
    name: str
    header: str
    cells: list[str]
    numeric: bool
    natural: int
    """Width on one line: the header and the widest cell."""
    least: int
    """Narrowest readable width: a number's whole width (numbers never fold), a text's word (up to
    :data:`TEXT_MIN`; longer words fold)."""


#: A text column narrows to this many characters (longer words fold) before columns are left out.
TEXT_MIN = 16
#: Characters between two columns: padding, rule, padding.
_GAP = 3


def _column(name: str, values: list[Any]) -> _Column:
    """How one field reads in a table; ``None`` is ``n/d`` (not defined) in a number column and an
    empty cell in a text column."""
    numeric = all(_number(v) or v is None for v in values) and any(v is not None for v in values)
    cells = [_table_cell(v, missing="n/d" if numeric else "") for v in values]
    header = _header(name)
    word = max((len(w) for w in header.split()), default=0)
    widest = max((len(line) for c in cells for line in c.splitlines() or [""]), default=0)
    longest = max((len(w) for c in cells for w in c.split()), default=0)
    # Numbers and instants keep their whole width: a folded number or time misreads.
    whole = numeric or all(isinstance(v, _dt.datetime) or v is None for v in values)
    least = max(widest, word) if whole else max(min(longest, TEXT_MIN), min(word, TEXT_MIN), 1)
    return _Column(name, header, cells, numeric, max(len(header), widest, 1), least)


def _fit(columns: list[_Column], width: int) -> list[_Column]:
    """The leading columns whose narrowest layout fits ``width`` (views put the important first);
    at least the first one."""
    kept: list[_Column] = []
    used = -_GAP
    for column in columns:
        used += column.least + _GAP
        if used > width and kept:
            break
        kept.append(column)
    return kept


def _widths(columns: list[_Column], width: int | None) -> list[int]:
    """Each column's width: its natural width, the widest narrowed first (down to its least) until
    the table fits ``width`` (None: no limit)."""
    widths = [c.natural for c in columns]
    if width is None:
        return widths
    excess = sum(widths) + _GAP * (len(widths) - 1) - width
    while excess > 0:
        slack = [i for i, c in enumerate(columns) if widths[i] > c.least]
        if not slack:
            break
        widest = max(slack, key=lambda i: widths[i])
        widths[widest] -= 1
        excess -= 1
    return widths


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _header(name: str) -> str:
    """A field name as a table header: words split so that they wrap (``rows_read`` -> ``rows read``)."""
    return name.replace("_", " ")


def _csv_cell(value: Any) -> Any:
    value = _plain(value)
    if isinstance(value, (dict, list)):
        return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY, default=_json_default).decode()
    return value


def _table_cell(value: Any, missing: str = "") -> str:
    # A person reads the second (a space lets the column wrap between date and time); JSON and
    # CSV keep the full ISO 8601 instant.
    value = value.strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, _dt.datetime) else _plain(value)
    if value is None:
        return missing
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
