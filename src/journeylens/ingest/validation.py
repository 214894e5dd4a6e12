"""Per-record parsing and validation of one raw batch, as a single Ibis expression.

:func:`canonicalize` turns a batch of source columns into the canonical columns of a table plus
the bookkeeping columns ``_reason``, ``_field``, ``_message`` and ``_raw``. A record is valid when
``_reason`` is null; otherwise the first failed check names the reason, the field and a message
that quotes the offending value. Everything is vectorised in the engine: no Python per record.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from journeylens.ingest import pii
from journeylens.ingest.readers import LINE
from journeylens.store import _backend
from journeylens.store.schema import (
    CHANNELS,
    DIRECTIONS,
    SCORE_RANGES,
    UTC_TIMESTAMP,
    Column,
    Kind,
    Reason,
    TableSpec,
)

REASON, FIELD, MESSAGE, RAW = "_reason", "_field", "_message", "_raw"
_EPOCH = ibis.literal(_dt.datetime(1970, 1, 1, tzinfo=_dt.UTC), type=UTC_TIMESTAMP)
_EPOCH_MS_THRESHOLD = 1e11  # larger magnitudes are milliseconds (1e11 s is the year 5138)
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


@dataclass
class _Check:
    failed: ir.BooleanValue
    reason: Reason
    field: str | None
    message: ir.StringValue


def channel_key(value: str) -> str:
    """The form channel names are compared in: lower case, runs of space/dash as '_'."""
    return "_".join(value.strip().lower().replace("-", " ").split())


def normalize_channel_name(value: str, aliases: dict[str, str]) -> str | None:
    """Canonical channel for ``value`` (Python side, for flags); None when unknown."""
    key = channel_key(value)
    table = {channel_key(k): v for k, v in aliases.items()} | {c: c for c in CHANNELS}
    return table.get(key)


def _quote(value: ir.Value) -> ir.StringValue:
    text = value.cast(dt.string)
    short = ibis.cases((text.length() > 60, text.substr(0, 57) + "..."), else_=text)
    return "'" + short + "'"


def _as_text(value: ir.Value) -> ir.StringValue:
    return value.cast(dt.string).strip().nullif("")


def _parse_timestamp(value: ir.Value) -> ir.TimestampValue:
    """ISO 8601 with or without offset, date only, epoch seconds or milliseconds.

    Naive values take the session time zone, which the backend layer sets to the workspace's.
    """
    dtype = value.type()
    if dtype.is_timestamp() or dtype.is_date():
        return value.cast(UTC_TIMESTAMP)
    if dtype.is_numeric():
        return _from_epoch(value.cast(dt.float64))
    text = value.cast(dt.string).strip()
    numeric = text.re_search(r"^-?[0-9]+(\.[0-9]+)?$")
    return ibis.cases(
        (numeric, _from_epoch(text.try_cast(dt.float64))),
        else_=text.replace(" UTC", "Z").try_cast(UTC_TIMESTAMP),
    )


def _from_epoch(seconds_or_ms: ir.FloatingValue) -> ir.TimestampValue:
    ms = ibis.cases((seconds_or_ms.abs() >= _EPOCH_MS_THRESHOLD, seconds_or_ms), else_=seconds_or_ms * 1000)
    return _EPOCH + ms.round().cast(dt.int64).as_interval("ms")


def _parse_number(value: ir.Value) -> ir.FloatingValue:
    if value.type().is_numeric():
        return value.cast(dt.float64)
    return value.cast(dt.string).strip().try_cast(dt.float64)


def _normalize_channel(value: ir.Value, aliases: dict[str, str]) -> ir.StringValue:
    key = value.cast(dt.string).strip().lower().re_replace(r"[\s\-]+", "_")
    mapping = {channel_key(k): v for k, v in aliases.items()} | {c: c for c in CHANNELS}
    return ibis.cases((key.isnull(), ibis.null(dt.string)), else_=key.substitute(mapping, else_="other"))


class _Builder:
    """Builds the canonical columns and the checks for one table from one raw batch."""

    def __init__(self, raw: ir.Table, spec: TableSpec, ctx: Context) -> None:
        self.raw, self.spec, self.ctx = raw, spec, ctx
        self.source_columns = [c for c in raw.columns if c != LINE]
        self.checks: list[_Check] = []
        self.values: dict[str, ir.Value] = {}

    def src(self, name: str) -> ir.Value | None:
        return self.raw[name] if name in self.source_columns else None

    def build(self) -> ir.Table:
        self._check_sizes()
        for column in self.spec.columns:
            if column.name not in (self.spec.key, self.spec.extras):
                self.values[column.name] = self._column(column)
        self._check_one_of()
        if "score" in self.values and "metric" in self.values:
            self._check_score()
        if self.spec.extras:
            self.values[self.spec.extras] = self._extras()
        self.values[self.spec.key] = self._key()
        return self._assemble()

    # -- checks ---------------------------------------------------------------------------

    def _fail(
        self, failed: ir.BooleanValue, reason: Reason, field: str | None, message: ir.StringValue
    ) -> None:
        self.checks.append(_Check(failed.fill_null(False), reason, field, message))

    def _check_sizes(self) -> None:
        lengths = {c: self.raw[c].cast(dt.string).length().fill_null(0) for c in self.source_columns}
        total = sum(lengths.values(), ibis.literal(0))
        self._fail(
            total > self.ctx.max_record_bytes,
            Reason.RECORD_TOO_LARGE,
            None,
            "record of "
            + total.cast(dt.string)
            + f" characters exceeds the limit of {self.ctx.max_record_bytes}",
        )
        for name, length in lengths.items():
            self._fail(
                length > self.ctx.max_field_bytes,
                Reason.FIELD_TOO_LARGE,
                name,
                f"{name}: value of " + length.cast(dt.string)
                + f" characters exceeds the limit of {self.ctx.max_field_bytes}",
            )  # fmt: skip

    def _column(self, column: Column) -> ir.Value:
        value = self._parse(column)
        if column.required:
            self._fail(
                value.isnull(), Reason.MISSING_FIELD, column.name, f"{column.name}: required value is empty"
            )
        return value

    def _parse(self, column: Column) -> ir.Value:
        name = column.name
        if name == "channel" and self.ctx.channel:
            return ibis.literal(self.ctx.channel)
        source = self.src(name)
        if source is None:
            return ibis.literal(None, type=column.dtype)
        present = _as_text(source).notnull()
        if column.kind is Kind.TIMESTAMP:
            value = _parse_timestamp(source)
            self._fail(
                present & value.isnull(),
                Reason.BAD_TIMESTAMP,
                name,
                f"{name}: cannot parse " + _quote(source)
                + " (expected ISO 8601 with or without offset, a date, or epoch seconds/milliseconds)",
            )  # fmt: skip
            return value
        if column.kind is Kind.NUMBER:
            number = _parse_number(source)
            self._fail(
                present & number.isnull(),
                Reason.BAD_NUMBER,
                name,
                f"{name}: " + _quote(source) + " is not a number",
            )
            return number
        return self._text(column, source)

    def _text(self, column: Column, source: ir.Value) -> ir.Value:
        name, text = column.name, _as_text(source)
        if name == "channel":
            return _normalize_channel(text, self.ctx.channel_aliases)
        if name == "direction":
            text = text.lower().substitute(_DIRECTION_ALIASES)
            self._fail(
                text.notnull() & ~text.isin(DIRECTIONS),
                Reason.BAD_VALUE,
                name,
                f"{name}: " + _quote(source) + " is not inbound or outbound",
            )
        elif name == "metric":
            text = text.lower()
            self._fail(
                text.notnull() & ~text.isin(column.choices),
                Reason.BAD_VALUE,
                name,
                f"{name}: " + _quote(source) + f" is not one of {', '.join(column.choices)}",
            )
        if column.pii and "identifier_type" in self.spec.column_names:
            kind = self.values["identifier_type"]
            text = pii.protect_by_type(text, kind, self.ctx.salt, self.ctx.default_country_code)
        return text

    def _check_one_of(self) -> None:
        if not self.spec.one_of:
            return
        none = ibis.and_(*(self.values[c].isnull() for c in self.spec.one_of))
        names = " / ".join(self.spec.one_of)
        self._fail(none, Reason.MISSING_FIELD, names, f"{names}: at least one is required, all are empty")

    def _check_score(self) -> None:
        score, metric = self.values["score"], self.values["metric"]
        out_of_range = ibis.or_(
            *((metric == m) & ((score < lo) | (score > hi)) for m, (lo, hi) in SCORE_RANGES.items())
        )
        self._fail(
            score.notnull() & out_of_range,
            Reason.BAD_VALUE,
            "score",
            "score: " + score.cast(dt.string) + " is outside the range of metric " + metric.cast(dt.string),
        )

    # -- derived columns ------------------------------------------------------------------

    def _extras(self) -> ir.Value:
        """Every source column outside the model, as one JSON object (PII hashed)."""
        assert self.spec.extras
        known = set(self.spec.column_names) | {"source", "ingest_seq"}
        fields: dict[str, ir.Value] = {}
        for name in self.source_columns:
            if name in known:
                continue
            value = self.raw[name]
            kind = pii.PII_COLUMNS.get(name.lower())
            if kind:
                value = pii.protect(_as_text(value), kind, self.ctx.salt, self.ctx.default_country_code)
            fields[name] = value
        empty = ibis.literal("{}").cast(dt.json)
        base: ir.Value = empty
        given = self.src(self.spec.extras)
        if given is not None:
            base = self._given_json(given)
        if not fields:
            return base.nullif(empty) if given is not None else ibis.literal(None, type=dt.json)
        merged = _backend.json_merge_patch(base.fill_null(empty), ibis.struct(fields).cast(dt.json))
        return merged.nullif(empty)

    def _given_json(self, given: ir.Value) -> ir.Value:
        name = self.spec.extras
        if given.type().is_struct() or given.type().is_map():
            return given.cast(dt.json)
        parsed = _as_text(given).try_cast(dt.json)
        self._fail(
            _as_text(given).notnull() & (parsed.isnull() | (_backend.json_type(parsed) != "OBJECT")),
            Reason.BAD_JSON,
            name,
            f"{name}: " + _quote(given) + " is not a JSON object",
        )
        return parsed

    def _key(self) -> ir.StringValue:
        """The source's key where given, else an MD5 of the canonical content and the line.

        The line keeps identical records of one file apart (process logs repeat events at the
        same second) while re-ingesting the same file still produces the same keys. Sources
        that repeat records across files should carry an event_id (Segment's messageId).
        """
        content = [
            self.values[c.name].cast(dt.string).fill_null("\x00")
            for c in self.spec.columns
            if c.name != self.spec.key
        ]
        content.append(self.raw[LINE].cast(dt.string))
        digest = ibis.literal("\x1f").join(content).hexdigest("md5")
        given = self.src(self.spec.key)
        return digest if given is None else _as_text(given).fill_null(digest)

    def _assemble(self) -> ir.Table:
        checks = self.checks  # order matters: the first failed check is reported
        reason = ibis.cases(*((c.failed, c.reason.value) for c in checks), else_=ibis.null(dt.string))
        field = ibis.cases(*((c.failed, c.field or "") for c in checks), else_=ibis.null(dt.string)).nullif(
            ""
        )
        message = ibis.cases(*((c.failed, c.message) for c in checks), else_=ibis.null(dt.string))
        raw_json = ibis.struct(
            {c: self.raw[c].cast(dt.string).substr(0, _RAW_FIELD_CHARS) for c in self.source_columns}
        ).cast(dt.json).cast(dt.string)  # fmt: skip
        seq = ibis.literal(self.ctx.ingest_id << 32, type=dt.int64) + self.raw[LINE]
        columns = {
            name: self.values[name].cast(self.spec.column(name).dtype) for name in self.spec.column_names
        }
        return self.raw.select(
            **columns,
            source=ibis.literal(self.ctx.source),
            ingest_seq=seq,
            **{LINE: self.raw[LINE], REASON: reason, FIELD: field, MESSAGE: message},
            **{RAW: ibis.cases((reason.notnull(), raw_json), else_=ibis.null(dt.string))},
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
