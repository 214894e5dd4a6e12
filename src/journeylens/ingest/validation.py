"""Per-record parsing and validation of one raw batch, as a single Ibis expression.

:func:`canonicalize` turns a batch of source columns into the canonical columns of a table plus
the bookkeeping columns ``_reason``, ``_field``, ``_message`` and ``_raw``. A record is valid when
``_reason`` is null; otherwise the first failed check names the reason, the field and a message
that quotes the offending value. Everything is vectorised in the engine: no Python per record.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from journeylens.ingest import pii
from journeylens.ingest.naming import name_key, name_key_expr
from journeylens.ingest.readers import LINE
from journeylens.ingest.record_checks import _LONG_FIELD, _RECORD_LEN, RecordChecks
from journeylens.ingest.values import (
    Check,
    as_text,
    parse_number,
    parse_timestamp,
    propensity_check,
    quote,
    source_column,
)
from journeylens.store import _backend
from journeylens.store.names import CHANNELS
from journeylens.store.schema import (
    DIRECTIONS,
    Column,
    Kind,
    Reason,
    TableSpec,
)

REASON, FIELD, MESSAGE, RAW = "_reason", "_field", "_message", "_raw"
FILE, SOURCE = "_jl_file", "_jl_source"
"""Optional raw columns of a batch that holds several files: the file's ingest id and its path
(without them the whole batch is ``ctx.ingest_id`` / ``ctx.source``). The output always has FILE."""
CONTENT, DST_SHIFTED, UNLINKED = "_content", "_dst_shifted", "_unlinked"
"""Output bookkeeping: MD5 of a key-less record's canonical content (null when the source gave a
key), whether a local time inside a daylight-saving gap was shifted forward, and whether a valid
record has none of its table's link columns (anonymous feedback)."""
_BOOKKEEPING = frozenset({LINE, FILE, SOURCE})
_RAW_FIELD_CHARS = 4096
_DIRECTION_ALIASES = {"in": "inbound", "incoming": "inbound", "out": "outbound", "outgoing": "outbound"}


@dataclass(frozen=True)
class Context:
    """Everything about the workspace and the run that shapes the transform."""

    source: str
    ingest_id: int
    salt: str
    default_country_code: str
    channel_aliases: dict[str, str]
    max_field_bytes: int
    max_record_bytes: int
    channel: str | None = None
    """Constant channel for every record (``--channel``), already normalised."""
    default_channel: str | None = None
    """Channel of records whose source has none (process logs: ``other``); never overrides one."""
    timezone: str = "UTC"
    """Workspace zone naive timestamps are read in (the engine session's zone)."""
    dst_gaps: bool = False
    """The zone has daylight-saving changes, so naive times may fall in a gap (counted)."""
    timestamp_format: str | None = None
    """``--timestamp-format``: the strptime format every text timestamp is read with."""


def normalize_channel_name(value: str, aliases: Mapping[str, str]) -> str | None:
    """Canonical channel for ``value`` (Python side, for flags); None when unknown."""
    key = name_key(value)
    table = {c: c for c in CHANNELS} | {name_key(k): v for k, v in aliases.items()}
    return table.get(key)


def _clean(value: ir.Value) -> ir.Value:
    """Stage 0 for model columns: text trimmed, empty as null; other types untouched."""
    return _backend.trim_spaces(value).nullif("") if value.type().is_string() else value


def _normalize_channel(value: ir.Value, aliases: dict[str, str]) -> ir.StringValue:
    key = name_key_expr(as_text(value))
    mapping = {c: c for c in CHANNELS} | {name_key(k): v for k, v in aliases.items()}  # aliases win
    return ibis.cases((key.isnull(), ibis.null(dt.string)), else_=key.substitute(mapping, else_="other"))


def _expected_time(fmt: str | None) -> str:
    """The end of a ``bad_timestamp`` message: what was expected, and how to read other layouts."""
    if fmt is not None:
        return f" with --timestamp-format {fmt!r} (fix the value, or the format)"
    return (
        " (expected ISO 8601 with or without offset, a date, 31-Jul-2018, or epoch "
        "seconds/milliseconds; for other layouts pass --timestamp-format, e.g. '%d/%m/%Y %H:%M')"
    )


class _Builder(RecordChecks):
    """Builds the canonical columns and the checks for one table from one raw batch (the checks
    themselves: :class:`~journeylens.ingest.record_checks.RecordChecks`).

    The expression has two stages so that every value is parsed exactly once: stage 1 parses
    each canonical column and measures the record; stage 2 derives the checks, the key and the
    messages from stage-1 columns by reference (a single flat select would repeat each parse in
    every check that mentions it).
    """

    def __init__(self, raw: ir.Table, spec: TableSpec, ctx: Context) -> None:
        self.raw, self.spec, self.ctx = raw, spec, ctx
        self.source_columns = [c for c in raw.columns if c not in _BOOKKEEPING]
        self.checks: list[Check] = []
        self.parsed: dict[str, ir.Value] = {}
        self.helpers: dict[str, ir.Value] = {}
        """Stage-1 columns the checks need besides the parsed ones (a timestamp's wall clock)."""
        self.dst: Callable[[ir.Table], ir.BooleanValue] | None = None
        """Which valid records had a local time inside a daylight-saving gap (shifted forward)."""

    def src(self, name: str) -> ir.Value | None:
        return self.raw[name] if name in self.source_columns else None

    def build(self) -> ir.Table:
        raw = self.raw
        model = set(self.spec.column_names)
        self.raw = raw.select(
            **{c: _clean(raw[c]) if c in model else raw[c] for c in self.source_columns},
            **self._measure(raw),
            **{LINE: raw[LINE]},
            **{FILE: raw[FILE] if FILE in raw.columns else ibis.literal(self.ctx.ingest_id, type=dt.int64)},
            **{SOURCE: raw[SOURCE] if SOURCE in raw.columns else ibis.literal(self.ctx.source)},
        )
        self._check_sizes()
        for column in self.spec.columns:
            if column.name not in (self.spec.key, self.spec.extras):
                self.parsed[column.name] = self._parse(column)
                if column.required:
                    self._require(column.name)
                elif column.required_unless or column.required_when:
                    self._require_where(column)
        self._check_one_of()
        if "score" in self.parsed and "metric" in self.parsed:
            self._check_score()
        if "propensity" in self.parsed:
            self.checks.append(propensity_check())
        if self.spec.extras:
            self.parsed[self.spec.extras] = self._extras()
        stage1 = self.raw.select(
            **{source_column(c): self.raw[c] for c in self.source_columns},
            **self.parsed,
            **self.helpers,
            **{c: self.raw[c] for c in (_RECORD_LEN, _LONG_FIELD, LINE, FILE, SOURCE)},
        )
        return self._assemble(stage1)

    # -- stage 1 --------------------------------------------------------------------------

    def _measure(self, raw: ir.Table) -> dict[str, ir.Value]:
        text = {c: raw[c] for c in self.source_columns if raw[c].type().is_string()}
        lengths = {c: _backend.strlen(v).fill_null(0) for c, v in text.items()}
        total = sum(lengths.values(), ibis.literal(0))
        limit = self.ctx.max_field_bytes
        longest = ibis.cases(*((n > limit, name) for name, n in lengths.items()), else_=ibis.null(dt.string))
        return {_RECORD_LEN: total, _LONG_FIELD: longest if lengths else ibis.null(dt.string)}

    def _parse(self, column: Column) -> ir.Value:
        name = column.name
        if name == "channel" and self.ctx.channel:
            return ibis.literal(self.ctx.channel)
        source = self.src(name)
        default = self.ctx.default_channel if name == "channel" else None
        if source is None:
            return ibis.literal(default, type=column.dtype)
        if default is not None:
            source = as_text(source).fill_null(default)
        if column.kind is Kind.TIMESTAMP:
            fmt = self.ctx.timestamp_format
            self._reject_unparsed(name, Reason.BAD_TIMESTAMP, _expected_time(fmt))
            self._check_time_range(name, source)
            return parse_timestamp(source, fmt)
        if column.kind is Kind.NUMBER:
            self._reject_unparsed(name, Reason.BAD_NUMBER, " is not a number")
            self._reject_not_finite(name)
            return parse_number(source)
        return self._text(column, source)

    def _text(self, column: Column, source: ir.Value) -> ir.Value:
        name, text = column.name, as_text(source)
        if name == "channel":
            return _normalize_channel(text, self.ctx.channel_aliases)
        if name == "direction":
            self._reject_choice(name, DIRECTIONS)
            return text.lower().substitute(_DIRECTION_ALIASES)
        if name == "metric":
            self._reject_choice(name, column.choices)
            return text.lower()
        if name == "identifier_type":
            return pii.canonical_identifier_type(text)
        if column.pii and "identifier_type" in self.parsed:
            self.checks.append(
                Check(
                    lambda s: s[source_column(name)].notnull() & s[name].isnull(),
                    Reason.BAD_VALUE,
                    name,
                    lambda s: (
                        f"{name}: not a valid " + s.identifier_type + " (value withheld: personal data)"
                    ),
                )
            )
            kind = self.parsed["identifier_type"]
            return pii.protect_by_type(text, kind, self.ctx.salt, self.ctx.default_country_code)
        return text

    def _extras(self) -> ir.Value:
        """Every source column outside the model, as one JSON object (PII hashed)."""
        assert self.spec.extras
        # A source column named like a system column ('source' is common) stays in the extras.
        known = set(self.spec.column_names)
        fields: dict[str, ir.Value] = {}
        for name in self.source_columns:
            if name in known:
                continue
            kind = pii.pii_kind(name)
            value = self.raw[name]
            fields[name] = self._protected(value, kind) if kind else value
        channel = self.src("channel")
        if channel is not None and not self.ctx.channel and "channel" in self.parsed:
            # Unknown channels become 'other'; keep what the source said so nothing is lost.
            unknown = (self.parsed["channel"] == "other") & (as_text(channel).lower() != "other")
            fields["channel_raw"] = ibis.cases((unknown, as_text(channel)), else_=ibis.null(dt.string))
        empty = ibis.literal("{}").cast(dt.json)
        given = self.src(self.spec.extras)
        base: ir.Value = empty if given is None else self._given_json(given)
        if not fields:
            return base.nullif(empty)
        extras = ibis.struct(fields).cast(dt.json)
        if given is None and "channel_raw" not in fields:
            return extras
        # Merging into {} also drops null members (RFC 7396), e.g. channel_raw of known channels.
        return _backend.json_merge_patch(base.fill_null(empty), extras).nullif(empty)

    def _protected(self, value: ir.Value, kind: str) -> ir.StringValue:
        return pii.protect(as_text(value), kind, self.ctx.salt, self.ctx.default_country_code)

    def _given_json(self, given: ir.Value) -> ir.Value:
        if given.type().is_struct() or given.type().is_map():
            # Arrow unifies nested objects across lines into one struct, filling absent keys with
            # nulls; merging into {} drops them again (RFC 7396), so each record keeps its own keys.
            return _backend.json_merge_patch(ibis.literal("{}").cast(dt.json), given.cast(dt.json))
        name = self.spec.extras
        assert name
        self.checks.append(
            Check(
                lambda s: s[source_column(name)].notnull() & s[name].isnull(),
                Reason.BAD_JSON,
                name,
                lambda s: f"{name}: " + quote(s[source_column(name)]) + " is not a JSON object",
            )
        )
        parsed = as_text(given).try_cast(dt.json)
        return ibis.cases((_backend.json_type(parsed) == "OBJECT", parsed), else_=ibis.null(dt.json))

    # -- checks (evaluated in stage 2) ----------------------------------------------------

    # -- stage 2 --------------------------------------------------------------------------

    def _raw_field(self, s: ir.Table, name: str) -> ir.Value:
        """A source field as kept in quarantine: truncated, and personal identifiers hashed."""
        value = s[source_column(name)]
        kind = pii.pii_kind(name)
        if kind:
            return self._protected(value, kind)
        column = next((c for c in self.spec.columns if c.name == name and c.pii), None)
        if column is not None and "identifier_type" in self.parsed:
            return pii.protect_by_type(
                as_text(value), s.identifier_type, self.ctx.salt, self.ctx.default_country_code
            )
        return value.cast(dt.string).substr(0, _RAW_FIELD_CHARS)

    def _content(self, s: ir.Table) -> ir.StringValue:
        """MD5 of the record's canonical content, for records without a key of their own.

        The stored key of such a record also counts its occurrence among identical records of
        its file (see ``ingest.batches``): identical rows are real records, not duplicates.
        """
        content = [
            s[c.name].cast(dt.string).fill_null("\x00") for c in self.spec.columns if c.name != self.spec.key
        ]
        digest = ibis.literal("\x1f").join(content).hexdigest("md5")
        key = self.spec.key
        if key not in self.source_columns:
            return digest
        # CASE, not COALESCE: the engine then hashes only the rows that lack a key.
        return ibis.cases((as_text(s[source_column(key)]).isnull(), digest), else_=ibis.null(dt.string))

    def _given_key(self, s: ir.Table) -> ir.StringValue:
        key = self.spec.key
        if key not in self.source_columns:
            return ibis.null(dt.string)
        return as_text(s[source_column(key)])

    def _assemble(self, s: ir.Table) -> ir.Table:
        # Evaluate the checks once, as the index of the first failed one (0 = valid); reason,
        # field, message and raw record then branch on that integer and only run for bad rows.
        first = ibis.cases(
            *((c.failed(s).fill_null(False), i) for i, c in enumerate(self.checks, start=1)), else_=0
        )
        s = s.mutate(_failure=first)
        failure = s._failure

        def per_failure(value: Callable[[Check], ir.Value]) -> ir.StringValue:
            branches = ((failure == i, value(c)) for i, c in enumerate(self.checks, start=1))
            return ibis.cases(*branches, else_=ibis.null(dt.string))

        reason = per_failure(lambda c: ibis.literal(c.reason.value))
        field = per_failure(lambda c: ibis.literal(c.field) if c.field else s[_LONG_FIELD])
        message = per_failure(lambda c: c.message(s))
        raw_json = (
            ibis.struct({c: self._raw_field(s, c) for c in self.source_columns}).cast(dt.json).cast(dt.string)
        )
        columns = {c.name: s[c.name].cast(c.dtype) for c in self.spec.columns if c.name != self.spec.key}
        columns[self.spec.key] = self._given_key(s)
        dst = self.dst(s) if self.dst is not None else ibis.literal(False)
        links = self.spec.links
        unlinked = ibis.and_(*(s[c].isnull() for c in links)) if links else ibis.literal(False)
        return s.select(
            *(columns[name].name(name) for name in self.spec.column_names),
            source=s[SOURCE],
            ingest_seq=s[FILE] * (1 << 32) + s[LINE],
            **{LINE: s[LINE], FILE: s[FILE], CONTENT: self._content(s)},
            **{REASON: reason, FIELD: field, MESSAGE: message},
            **{RAW: ibis.cases((failure > 0, raw_json), else_=ibis.null(dt.string))},
            **{DST_SHIFTED: (failure == 0) & dst.fill_null(False)},
            **{UNLINKED: (failure == 0) & unlinked},
        )


def canonicalize(raw: ir.Table, spec: TableSpec, ctx: Context) -> ir.Table:
    """Canonical columns of ``spec`` plus ``_reason/_field/_message/_raw`` for each raw record.

    Example:
        >>> import pyarrow as pa
        >>> from journeylens.store.schema import EVENTS
        >>> ctx = Context("x.csv", 1, "s" * 16, "", {}, 1 << 20, 1 << 22)
        >>> raw = ibis.memtable(pa.table({"timestamp": ["2024-01-01"], "user_id": ["u1"],
        ...     "channel": ["Phone"], "touchpoint": ["billing"], "_line": [2]}))
        >>> expr = canonicalize(raw, EVENTS, ctx)
    """
    return _Builder(raw, spec, ctx).build()
