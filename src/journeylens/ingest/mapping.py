"""From a reader's batches to the table's columns: ``--map`` renames, format defaults (XES), the
required-column check, and the notes a user should read about how records were read."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pyarrow as pa

from journeylens.errors import InputError
from journeylens.ingest.readers import LINE, Format, RawBatch
from journeylens.ingest.spec import IngestSpec
from journeylens.ingest.xes import XES_MAPPING
from journeylens.store.schema import Column, TableSpec

PROCESS_LOG_CHANNEL = "other"
# Columns of pm4py's CSV layout (XES attribute names); a --map from them marks a process log.
_PM4PY_COLUMNS = frozenset({"case:concept:name", "concept:name", "time:timestamp"})


@dataclass
class Columns:
    """How one file's batches become the table's columns (state carried across its batches)."""

    source: str
    fmt: Format
    spec: IngestSpec
    table: TableSpec
    channel: str | None
    """``--channel``, already normalised."""
    default_channel: str | None = None
    notes: list[str] = field(default_factory=list)
    _first: bool = True

    def __post_init__(self) -> None:
        if self.channel is None and process_log(self.fmt, self.spec):
            self.default_channel = PROCESS_LOG_CHANNEL
        self.defaults = xes_defaults(self.spec.mapping) if self.fmt == "xes" else {}

    def apply(self, batches: Iterator[RawBatch]) -> Iterator[RawBatch]:
        """Rename each batch's columns. The first batch with records is checked strictly (a
        --map naming no column, a missing required column); later ones may lack optional keys
        (JSON Lines, XES)."""
        for batch in batches:
            if batch.data.num_rows == 0:
                yield batch
                continue
            data = apply_mapping(batch.data, self.defaults, self.source, strict=False)
            data = apply_mapping(data, self.spec.mapping, self.source, strict=self._first)
            data = constant_column(data, "touchpoint", self.spec.touchpoint, self.source)
            data = constant_column(data, "metric", self.spec.metric, self.source)
            if self._first:
                self._check_required(data)
                self._first = False
                if self.default_channel and "channel" not in data.column_names:
                    self.notes.append(default_channel_note(self.default_channel))
            yield RawBatch(data, batch.rejects)

    def _check_required(self, data: pa.Table) -> None:
        """A file missing a required column is refused whole, before anything is loaded."""
        table = self.table
        names = [n for n in data.column_names if n != LINE]
        present = set(names) | ({"channel"} if self.channel or self.default_channel else set())
        missing = [c.name for c in table.columns if self._file_needs(c) and c.name not in present]
        if table.one_of and not present.intersection(table.one_of):
            missing.append(" or ".join(table.one_of))
        if not missing:
            return
        hint = "Rename columns with --map TARGET=SOURCE"
        if "channel" in missing:
            hint += ", or set one channel for the whole file with --channel web|app|call_center|..."
        if "metric" in missing:
            hint += ", or set one metric for the whole file with --metric nps|csat|ces|rating|text"
        if "score" in missing:
            hint += "; a file of comments without scores is text-only feedback: --metric text"
        if len(names) == 1 and any(d in names[0] for d in ";\t|,"):
            sep = next(d for d in ";\t|," if d in names[0])
            hint = (
                f"The header looks like one column: the file is probably delimited by {sep!r}; "
                f"pass --delimiter {sep!r}"
            )
        raise InputError.missing_columns(self.source, missing, names, hint=hint + ".")

    def _file_needs(self, column: Column) -> bool:
        """A column every record needs; one required except where another column has a value
        (a score, except for text-only feedback) is needed unless the whole file has that value
        or may have it (its column is in the file)."""
        if column.required:
            return True
        if column.required_unless is None:
            return False
        other, value = column.required_unless
        constant = getattr(self.spec, other, None)
        return constant is not None and constant != value


def process_log(fmt: Format, spec: IngestSpec) -> bool:
    """A process-mining event log (XES, or pm4py's layout mapped with --map): such logs have no
    channel concept, so their events get ``other`` instead of being refused."""
    return spec.table == "events" and (fmt == "xes" or bool(_PM4PY_COLUMNS & set(spec.mapping.values())))


def default_channel_note(channel: str) -> str:
    return (
        f"The file has no channel: its events were given channel {channel!r}. Set one with "
        "--channel web|app|call_center|... or map a column with --map channel=COLUMN."
    )


def xes_defaults(user: dict[str, str]) -> dict[str, str]:
    """XES standard attributes onto the model, unless the user mapped that target or source."""
    taken = set(user) | set(user.values())
    return {t: s for t, s in XES_MAPPING.items() if t not in taken and s not in taken}


def apply_mapping(data: pa.Table, mapping: dict[str, str], source: str, strict: bool) -> pa.Table:
    """Rename source columns to canonical names (``target=source``); a source may feed several.

    ``strict`` mappings (the user's) must name columns of the file; lenient ones (format
    defaults) are skipped when the file lacks the column or already has the target.
    """
    names = data.column_names
    active: dict[str, str] = {}
    for target, column in mapping.items():
        if not strict:
            if column in names and target not in names:
                active[target] = column
            continue
        if column not in names:
            raise InputError.missing_columns(
                source, [column], [n for n in names if n != LINE],
                hint=f"Fix --map {target}={column}: the right side must be a column of the file.",
            )  # fmt: skip
        # The file's own column of that name may be moving elsewhere (--map x_original=x).
        renamed_away = any(src == target and tgt != target for tgt, src in mapping.items())
        if target in names and target != column and not renamed_away:
            raise InputError.bad_flag(
                "--map", f"{target}={column}", f"the file already has a column named {target!r}.",
                hint=f"Rename that one first (--map {target}_original={target}), or drop this --map.",
            )  # fmt: skip
        active[target] = column
    if not active:
        return data
    targets = {column: [t for t, c in active.items() if c == column] for column in active.values()}
    arrays, out_names = [], []
    for name in names:
        for target in targets.get(name, [name]):
            arrays.append(data.column(name))
            out_names.append(target)
    return pa.Table.from_arrays(arrays, names=out_names)


def constant_column(data: pa.Table, name: str, value: str | None, source: str) -> pa.Table:
    """``--touchpoint``, ``--metric``: one value of column ``name`` for files that have none (a
    purchase log, one file per step; reviews that are all star ratings)."""
    if value is None:
        return data
    if name in data.column_names:
        raise InputError.bad_flag(
            f"--{name}", value, f"{source} already has a {name} column.",
            hint=f"Drop --{name} to use the file's column, or rename that "
            f"(--map {name}_original={name}).",
        )  # fmt: skip
    return data.append_column(name, pa.repeat(pa.scalar(value, pa.string()), data.num_rows))
