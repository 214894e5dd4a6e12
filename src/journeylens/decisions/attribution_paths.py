"""Aggregated conversion paths, the input of every attribution model, and the path-file reader.

A path is a sequence of steps (channels, touchpoints or ``channel:touchpoint``) with how many
journeys took it and converted (``conversions``, with their ``value``) or did not (``nulls``).
Paths come from the workspace's journeys (``decisions.attribution_journeys``, aggregated in the
engine) or from a file in ChannelAttribution's layout::

    path;total_conversions;total_conversion_value;total_null
    eta > iota > alpha > eta;1;0.244;3

Steps are split on the path separator (``>``) and trimmed. A path with an empty step (``a > > b``,
a separator at either end), a negative or non-numeric count, a missing column or a step named like
a state of the Markov chain (start, conversion, null) is refused with the file, line and field.

The paths are held flat, for numpy: ``flat`` is every step of every path as an index into
``names``, and path ``i`` is ``flat[offsets[i]:offsets[i + 1]]``.

Example:
    >>> paths = AttributionPaths.from_lists([["web", "email"]], [1], [2.5], [3], source="example")
    >>> paths.names, paths.steps, paths.total_conversions
    (['email', 'web'], [('web', 'email')], 1.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from journeylens.errors import InputError

PATH_COLUMNS = ("path", "total_conversions", "total_conversion_value", "total_null")
RESERVED = ("start", "conversion", "null")
"""States of the Markov chain besides the steps; a step may not be named like them (with or
without ChannelAttribution's parentheses)."""
_RESERVED_NAMES = {name for r in RESERVED for name in (r, f"({r})")}


@dataclass(frozen=True)
class AttributionPaths:
    """Distinct paths with their conversions, conversion value and non-converting journeys."""

    names: list[str]
    flat: np.ndarray
    offsets: np.ndarray
    conversions: np.ndarray
    value: np.ndarray
    nulls: np.ndarray
    source: str

    @classmethod
    def from_arrow(
        cls,
        steps: pa.ListArray | pa.ChunkedArray,
        conversions: Sequence[float] | np.ndarray,
        value: Sequence[float] | np.ndarray,
        nulls: Sequence[float] | np.ndarray,
        *,
        source: str,
    ) -> AttributionPaths:
        """Paths from a list array of step names (trimmed, non-empty) and their counts."""
        if isinstance(steps, pa.ChunkedArray):
            steps = steps.combine_chunks() if steps.num_chunks else pa.array([], pa.list_(pa.string()))
        offsets = np.asarray(steps.offsets, dtype=np.int64)
        encoded = pc.dictionary_encode(steps.flatten())
        dictionary = encoded.dictionary.to_pylist()
        order = np.argsort(np.array(dictionary, dtype=object)) if dictionary else np.zeros(0, np.int64)
        rank = np.empty(len(dictionary), dtype=np.int64)
        rank[order] = np.arange(len(dictionary))
        flat = rank[np.asarray(encoded.indices, dtype=np.int64)] if len(encoded) else np.zeros(0, np.int64)
        return cls(
            names=[dictionary[i] for i in order],
            flat=flat,
            offsets=offsets - offsets[0],
            conversions=np.asarray(conversions, dtype=float),
            value=np.asarray(value, dtype=float),
            nulls=np.asarray(nulls, dtype=float),
            source=source,
        )

    @classmethod
    def from_lists(
        cls,
        steps: Sequence[Sequence[str]],
        conversions: Sequence[float],
        value: Sequence[float],
        nulls: Sequence[float],
        *,
        source: str,
    ) -> AttributionPaths:
        """Paths from Python lists (tests, small examples)."""
        array = pa.array([list(s) for s in steps], type=pa.list_(pa.string()))
        return cls.from_arrow(array, conversions, value, nulls, source=source)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def path_index(self) -> np.ndarray:
        """For each element of ``flat``, the path it belongs to."""
        return np.repeat(np.arange(len(self.lengths)), self.lengths)

    @property
    def steps(self) -> list[tuple[str, ...]]:
        """Each path as a tuple of step names (for people and tests; the models use ``flat``)."""
        names = self.names
        return [
            tuple(names[i] for i in self.flat[a:b])
            for a, b in zip(self.offsets[:-1].tolist(), self.offsets[1:].tolist(), strict=True)
        ]

    @property
    def total_conversions(self) -> float:
        return float(self.conversions.sum())

    @property
    def total_value(self) -> float:
        return float(self.value.sum())

    @property
    def total_nulls(self) -> float:
        return float(self.nulls.sum())


def reserved_step(name: str) -> bool:
    """Whether a step is named like a state of the chain (``start``, ``(null)``, ...)."""
    return name.strip().lower() in _RESERVED_NAMES


def reserved_error(where: str, step: str) -> InputError:
    return InputError(
        f"{where}: the step {step!r} is named like a state of the Markov chain ({', '.join(RESERVED)}).",
        hint="Rename the channel (e.g. 'start_page' or 'null_channel') in the source.",
    )


def read_path_file(path: str | Path, *, sep: str = ";", path_sep: str = ">") -> AttributionPaths:
    """Read a path file in ChannelAttribution's layout (module doc); every row is checked.

    Example:
        >>> read_path_file("channelattribution_Data.csv").total_conversions  # doctest: +SKIP
        19785.0
    """
    import pyarrow.csv as pa_csv

    file = Path(path)
    if not file.is_file():
        raise InputError.file_not_found(str(file))
    if file.stat().st_size == 0:
        raise InputError.empty_file(str(file))
    try:
        table = pa_csv.read_csv(
            file,
            parse_options=pa_csv.ParseOptions(delimiter=sep),
            convert_options=pa_csv.ConvertOptions(column_types=dict.fromkeys(PATH_COLUMNS, pa.string())),
        )
    except pa.ArrowInvalid as exc:
        raise InputError.unreadable(
            str(file), f"not a {sep!r}-separated file: {exc}", hint=f"Check the separator (--sep {sep!r})."
        ) from None
    missing = [c for c in PATH_COLUMNS if c not in table.column_names]
    if missing:
        raise InputError.missing_columns(
            str(file),
            missing,
            table.column_names,
            hint=f"A path file has the columns {', '.join(PATH_COLUMNS)}, separated by {sep!r} "
            "(--sep); write 0 for a column you do not have.",
        )
    if table.num_rows == 0:
        raise InputError.empty_file(str(file))
    counts = [_numbers(file, table, c, integer=c != "total_conversion_value") for c in PATH_COLUMNS[1:]]
    text = table["path"].combine_chunks().fill_null("")
    split = pc.split_pattern(text, path_sep)
    steps = pa.ListArray.from_arrays(split.offsets, pc.utf8_trim_whitespace(split.flatten()))
    _check_steps(file, text, steps, path_sep)
    if not counts[0].any():
        raise InputError(
            f"{file}: total_conversions is 0 on every line: there is nothing to attribute.",
            hint="Check that the conversions are in the total_conversions column.",
        )
    return AttributionPaths.from_arrow(steps, *counts, source=str(file))


def _line(row: int) -> int:
    """The file line of data row ``row`` (0-based; the header is line 1)."""
    return row + 2


def _numbers(file: Path, table: pa.Table, column: str, *, integer: bool) -> np.ndarray:
    texts = pc.utf8_trim_whitespace(table[column].combine_chunks().fill_null(""))
    try:
        values = np.asarray(pc.cast(texts, pa.float64()).to_numpy(zero_copy_only=False), dtype=float)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        values = np.array([_number(t) for t in texts.to_pylist()], dtype=float)
    bad = ~np.isfinite(values) | (values < 0)
    if integer:
        bad |= np.isfinite(values) & (values != np.floor(values))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        problem = (
            "is not a number" if not np.isfinite(values[row])
            else "is negative" if values[row] < 0
            else "is not a whole number"
        )  # fmt: skip
        raise InputError(
            f"{file} line {_line(row)}, field {column}: {texts[row].as_py()!r} {problem}.",
            hint="Counts are whole numbers of journeys and values are amounts, none below zero.",
        )
    return values


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("nan")


def _check_steps(file: Path, text: pa.Array, steps: pa.ListArray, path_sep: str) -> None:
    empty = pc.equal(pc.list_flatten(steps), "")
    if pc.any(empty).as_py():
        row = int(
            pc.list_parent_indices(steps).to_numpy()[np.flatnonzero(empty.to_numpy(zero_copy_only=False))[0]]
        )
        raise InputError(
            f"{file} line {_line(row)}, field path: {text[row].as_py()!r} has an empty step (two "
            f"separators in a row, {path_sep!r} at the start or end, or no step at all).",
            hint=f"Join the steps with ' {path_sep} ' and remove the empty ones.",
        )
    names = pc.unique(pc.list_flatten(steps)).to_pylist()
    for name in names:
        if reserved_step(name):
            flat = pc.list_flatten(steps)
            at = np.flatnonzero(pc.equal(flat, name).to_numpy(zero_copy_only=False))[0]
            row = int(pc.list_parent_indices(steps).to_numpy()[at])
            raise reserved_error(f"{file} line {_line(row)}, field path", name)
