"""What to ingest: :class:`IngestSpec`, built identically by the CLI and the Python API.

:func:`build_spec` validates every option and every path at once, so a user with a bad
``--delimiter``, an unknown ``--map`` target and a missing file hears about all three in one run.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from journeylens.errors import InputError
from journeylens.ingest.delimited import WHITESPACE
from journeylens.ingest.readers import Format, expand_paths
from journeylens.ingest.validation import normalize_channel_name
from journeylens.ingest.values import STRPTIME_DIRECTIVES
from journeylens.store.names import CHANNELS, FEEDBACK_METRICS
from journeylens.store.schema import RAW_TABLES

TableName = Literal[
    "events", "identities", "customers", "feedback", "agents", "assignments", "employee_feedback", "decisions"
]


class IngestSpec(BaseModel):
    """What to ingest and how to read it; built identically by the CLI and the Python API."""

    model_config = ConfigDict(extra="forbid")

    paths: list[str] = Field(min_length=1)
    table: TableName = "events"
    format: Format = "auto"
    delimiter: str | None = Field(
        None, min_length=1, description="One character, or 'whitespace'; None: ',' (tab for .tsv)"
    )
    columns: list[str] | None = Field(
        None, description="Names of the columns of a header-less file (CSV, whitespace-aligned text)"
    )
    encoding: str = "utf-8"
    quote: str = Field('"', min_length=1, max_length=1)
    mapping: dict[str, str] = Field(default_factory=dict, description="canonical column -> source column")
    channel: str | None = None
    touchpoint: str | None = Field(
        None, min_length=1, description="One touchpoint for every record of files without that column"
    )
    metric: str | None = Field(
        None,
        description="One feedback metric (nps, csat, ces, rating, or text for text-only feedback) for files "
        "without that column",
    )
    timestamp_format: str | None = Field(
        None,
        min_length=1,
        description="strptime format of the file's text timestamps, e.g. '%d-%b-%y' (31-Jul-18); "
        "values that do not match it are quarantined",
    )
    max_bad: int = Field(0, ge=0)
    keep_identical: bool = Field(
        False,
        description="No effect, kept so that old scripts run: identical records are always kept "
        "apart by their occurrence in the file (see docs/data-model.md).",
    )

    @field_validator("delimiter", mode="before")
    @classmethod
    def _named_delimiters(cls, value: str | None) -> str | None:
        if value is None:
            return None
        named = {"\\t": "\t", "tab": "\t", "semicolon": ";", "comma": ",", "pipe": "|"}.get(value, value)
        if len(named) != 1 and named != WHITESPACE:
            raise ValueError("expected one character, or tab, semicolon, comma, pipe or whitespace")
        return named

    @field_validator("columns", mode="before")
    @classmethod
    def _column_list(cls, value: str | list[str] | None) -> list[str] | None:
        if isinstance(value, str):  # the CLI's --columns a,b,c
            value = [name.strip() for name in value.split(",")]
        if value is not None and (not value or any(not name for name in value)):
            raise ValueError("expected comma-separated column names, e.g. user_id,timestamp,value")
        return value

    @field_validator("channel")
    @classmethod
    def _known_channel(cls, value: str | None, info: ValidationInfo) -> str | None:
        """Checked when the caller passes the workspace's aliases as validation context
        (``channel_aliases``), so that an unknown ``--channel`` is reported with the other
        options, before anything is read; the ingest itself checks it again either way."""
        aliases = (info.context or {}).get("channel_aliases")
        if value is None or aliases is None:
            return value
        if normalize_channel_name(value, aliases) is None:
            raise ValueError(f"not a known channel or alias (use one of {', '.join(CHANNELS)})")
        return value

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        if info.data.get("table") != "feedback":
            raise ValueError("only feedback has a metric; pass --table feedback")
        metric = value.strip().lower()
        if metric not in FEEDBACK_METRICS:
            raise ValueError(f"not a feedback metric (use one of {', '.join(FEEDBACK_METRICS)})")
        return metric

    @field_validator("timestamp_format")
    @classmethod
    def _strptime_format(cls, value: str | None) -> str | None:
        if value is None:
            return None
        problem = strptime_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError as exc:
            raise ValueError(f"unknown encoding {value!r} (try utf-8, latin-1, cp1252, utf-16)") from exc
        return value

    @field_validator("mapping")
    @classmethod
    def _known_targets(cls, mapping: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        """A ``--map`` target must be a column of the table. The one exception moves a file's
        column that has a model name out of the way (``--map timestamp_original=timestamp``):
        it then lands in the JSON column under the new name."""
        name = info.data.get("table")
        if name not in RAW_TABLES:
            return mapping
        table = RAW_TABLES[name]
        model = set(table.column_names)
        unknown = [t for t, source in mapping.items() if t not in model and source not in model]
        if unknown:
            listing = ", ".join(repr(t) for t in unknown)
            columns = ", ".join(table.column_names)
            raise ValueError(f"{listing}: not a column of table {name} (its columns: {columns})")
        return mapping


_FLAGS = {
    "paths": "PATH", "table": "--table", "format": "--input-format", "delimiter": "--delimiter",
    "encoding": "--encoding", "quote": "--quote", "mapping": "--map", "channel": "--channel",
    "max_bad": "--max-bad", "keep_identical": "--keep-identical", "columns": "--columns",
    "touchpoint": "--touchpoint", "metric": "--metric", "timestamp_format": "--timestamp-format",
}  # fmt: skip


def strptime_problem(fmt: str) -> str | None:
    """What is wrong with a ``--timestamp-format`` (None: nothing): an unknown directive, or no
    date in it."""
    directives, i = [], 0
    while i < len(fmt):
        if fmt[i] != "%":
            i += 1
            continue
        j = i + 2 if fmt[i + 1 : i + 2] == "-" else i + 1  # %-d: no leading zero
        if j >= len(fmt) or fmt[j] not in STRPTIME_DIRECTIVES:
            return f"{fmt[i : j + 1]!r} is not a strptime directive (e.g. %d-%b-%y, %d/%m/%Y %H:%M)"
        directives.append(fmt[j])
        i = j + 1
    if not {"Y", "y", "c", "x"} & set(directives):
        return "the format names no year (%Y or %y): e.g. %d-%b-%y, %d/%m/%Y %H:%M"
    return None


CHANNEL_HINT = (
    f"Use one of {', '.join(CHANNELS)}, or add an alias under [channels.aliases] in journeylens.toml."
)


def build_spec(
    earlier: Sequence[str] = (), /, *, channel_aliases: Mapping[str, str] | None = None, **fields: object
) -> IngestSpec:
    """Validate ingest options into a spec; every bad option and every missing path is reported
    in one :class:`InputError` naming the CLI flag at fault (with ``earlier`` problems the
    caller found, e.g. in the ``--map`` flags). With ``channel_aliases`` (the workspace's
    ``[channels.aliases]``) an unknown ``--channel`` is one of those problems too.

    Example:
        >>> build_spec(paths=["a.csv"], table="events").table  # doctest: +SKIP
        'events'
    """
    problems: list[tuple[str, str]] = [(p, _MAP_HINT) for p in earlier]
    spec: IngestSpec | None = None
    try:
        context = {"channel_aliases": channel_aliases} if channel_aliases is not None else None
        spec = IngestSpec.model_validate(fields, context=context)
    except ValidationError as exc:
        problems += [(_option_problem(e, fields), _option_hint(e)) for e in exc.errors()]
    paths = fields.get("paths")
    if isinstance(paths, list):
        problems += [(p, _PATH_HINT) for p in missing_paths(str(p) for p in paths)]
    if len(problems) == 1:
        raise InputError(*problems[0])
    if problems:
        raise InputError(
            f"{len(problems)} problems with the ingest options; nothing was loaded:\n"
            + "\n".join(f"  - {p}" for p, _ in problems),
            hint="Fix them all and run again; see `journeylens ingest --help`.",
        )
    assert spec is not None
    return spec


_OPTION_HINT = "See `journeylens ingest --help`."
_MAP_HINT = "For example --map case_id=case:concept:name --map touchpoint=concept:name."
_PATH_HINT = "Check the path; globs like 'data/*.csv' and directories are accepted."


def _option_hint(error: object) -> str:
    assert isinstance(error, dict)
    return CHANNEL_HINT if tuple(error["loc"])[:1] == ("channel",) else _OPTION_HINT


def _option_problem(error: object, fields: dict[str, object]) -> str:
    assert isinstance(error, dict)
    loc = tuple(str(p) for p in error["loc"])
    problem = str(error["msg"]).removeprefix("Value error, ").rstrip(".")
    name = loc[0] if loc else ""
    flag = _FLAGS.get(name)
    if flag is None:
        return f"Invalid ingest request: {problem}."
    value = fields.get(name)
    if name == "mapping" and isinstance(value, dict):
        shown = " ".join(f"{t}={s}" for t, s in value.items())
    elif isinstance(value, (list, tuple)):
        shown = ", ".join(str(v) for v in value)
    else:
        shown = str(value)
    return f"Option {flag} {shown!r}: {problem}."


def missing_paths(patterns: Iterable[str]) -> list[str]:
    """One problem per path or glob that names nothing (checked before anything is read)."""
    problems = []
    for pattern in patterns:
        try:
            expand_paths([pattern])
        except InputError as exc:
            problems.append(exc.message)
    return problems


def parse_mapping(pairs: list[str]) -> dict[str, str]:
    """``--map TARGET=SOURCE`` flags as a mapping; a malformed pair, or two sources for one
    target (the second would silently win), is an error naming the flags."""
    mapping, problems = split_mapping(pairs)
    if problems:
        raise InputError("\n".join(problems), hint=_MAP_HINT)
    return mapping


def split_mapping(pairs: list[str]) -> tuple[dict[str, str], list[str]]:
    """The mapping the well-formed ``--map`` flags give, and one problem per bad flag."""
    mapping: dict[str, str] = {}
    problems: list[str] = []
    for pair in pairs:
        target, sep, source = pair.partition("=")
        target, source = target.strip(), source.strip()
        if not sep or not target or not source:
            problems.append(f"Option --map {pair!r}: expected TARGET=SOURCE.")
        elif target in mapping and mapping[target] != source:
            problems.append(
                f"Option --map {pair!r}: {target} is already mapped from {mapping[target]!r} "
                f"(--map {target}={mapping[target]}); a column has one source."
            )
        else:
            mapping[target] = source
    return mapping, problems


def expand(spec: IngestSpec) -> list[Path]:
    """The files of ``spec``, every missing path reported at once."""
    problems = missing_paths(spec.paths)
    if len(problems) == 1:
        raise InputError(problems[0], hint=_PATH_HINT)
    if problems:
        raise InputError(
            "Paths that name no file; nothing was loaded:\n" + "\n".join(f"  - {p}" for p in problems),
            hint=_PATH_HINT,
        )
    return expand_paths(spec.paths)
