"""Parsing single values (timestamps, numbers) and the checks on what they parse to, as Ibis
expressions; :mod:`journeylens.ingest.validation` assembles them into a table's transform."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from dataclasses import dataclass

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from journeylens.store import _backend
from journeylens.store.schema import UTC_TIMESTAMP, Reason

# Offsets beyond +-18:00 (ISO 8601 / java.time's limit; real zones use -12:00..+14:00) and years
# outside 1-9999 are impossible, not merely unusual: the engine would store them shifted or
# beyond what Spark, Parquet and Python can represent.
_MAX_OFFSET_S = 18 * 3600
_MIN_INSTANT = ibis.literal(_dt.datetime(1, 1, 1, tzinfo=_dt.UTC), type=UTC_TIMESTAMP)
_MAX_INSTANT = ibis.literal(_dt.datetime.max.replace(tzinfo=_dt.UTC), type=UTC_TIMESTAMP)
# ISO text without an offset or zone name: a wall-clock time read in the workspace zone.
_NAIVE_ISO = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9:.,]*)?$"
_COMPACT_DATE, _COMPACT_TIME = r"^[0-9]{8}$", r"^[0-9]{14}$"
_EPOCH = ibis.literal(_dt.datetime(1970, 1, 1, tzinfo=_dt.UTC), type=UTC_TIMESTAMP)
# Epochs are accepted for 1990-01-01 .. 2100-01-01 only: a bare number outside that range is far
# more likely a compact date, an id or microseconds than a touchpoint from 1970 or 2611.
_EPOCH_S_RANGE = (631_152_000, 4_102_444_800)
_EPOCH_MS_RANGE = (_EPOCH_S_RANGE[0] * 1000, _EPOCH_S_RANGE[1] * 1000)
# A day, an English month abbreviation and a year (31-Jul-18, as spreadsheets export dates): the
# month name leaves no doubt which number is the day, so it is read without --timestamp-format.
_MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec"
_DAY_MONTH_NAME = r"(?i)^[0-9]{{1,2}}-(" + _MONTHS + r")-[0-9]{{{}}}$"
# strptime directives the engine (DuckDB) knows; a --timestamp-format is checked against them.
STRPTIME_DIRECTIVES = frozenset("aAwdbBmyYHIpMSfgnzZjUWcxX%")


@dataclass
class Check:
    """A rule over the parsed batch: which rows fail it, and how to explain the failure."""

    failed: Callable[[ir.Table], ir.BooleanValue]
    reason: Reason
    field: str | None
    message: Callable[[ir.Table], ir.StringValue]


def quote(value: ir.Value) -> ir.StringValue:
    text = value.cast(dt.string)
    short = ibis.cases((text.length() > 60, text.substr(0, 57) + "..."), else_=text)
    return "'" + short + "'"


def as_text(value: ir.Value) -> ir.StringValue:
    """A cleaned source value as text (non-text sources are cast)."""
    return value if value.type().is_string() else value.cast(dt.string)


def parse_timestamp(value: ir.Value, fmt: str | None = None) -> ir.TimestampValue:
    """ISO 8601 with or without offset, date only, compact ``YYYYMMDD[HHMMSS]``, a day, an English
    month name and a year (``31-Jul-18``, ``31-Jul-2018``), epoch seconds or milliseconds
    (1990-2100). Anything else is null (and quarantined as ``bad_timestamp``).

    With ``fmt`` (``--timestamp-format``, a strptime format) text is read with that format only.
    Two-digit years (``%y``) follow the POSIX pivot: 69-99 are 1969-1999, 00-68 are 2000-2068.
    Naive values take the session time zone, which the backend layer sets to the workspace's.
    """
    dtype = value.type()
    if dtype.is_timestamp() or dtype.is_date():
        return value.cast(UTC_TIMESTAMP)
    if dtype.is_numeric() and fmt is None:
        return _from_epoch(value.cast(dt.float64))
    text = as_text(value)
    if fmt is not None:
        return _strptime(text, fmt)
    return _text_forms(
        text,
        iso=text.try_cast(UTC_TIMESTAMP),
        read=lambda layout: _strptime(text, layout),
        epoch=_from_epoch(text.try_cast(dt.float64)),
    )


def _text_forms(
    text: ir.StringValue,
    *,
    iso: ir.TimestampValue,
    read: Callable[[str], ir.TimestampValue],
    epoch: ir.TimestampValue,
) -> ir.TimestampValue:
    """The text forms read without ``--timestamp-format``, in one CASE: ``iso`` (the engine's
    cast), the compact and month-name layouts through ``read(strptime format)``, and ``epoch``.
    :func:`parse_timestamp` gives instants; :func:`time_checks` the wall clocks written, from
    the same branches, so that every naive form is checked for a daylight-saving gap."""
    # The engine's cast also reads 01-02-18 as the year 1 (0001-02-18): ISO only with a year of
    # four or more digits, so that layouts like that one are quarantined, never guessed.
    iso_year = text.substr(0, 4).try_cast(dt.int64).notnull()
    # CASE evaluates lazily: only values that are not ISO date-times reach the other branches.
    return ibis.cases(
        (iso.notnull() & iso_year, iso),
        (text.re_search(_COMPACT_DATE), read("%Y%m%d")),
        (text.re_search(_COMPACT_TIME), read("%Y%m%d%H%M%S")),
        (text.re_search(r"^[0-9]+(\.[0-9]+)?$"), epoch),
        (text.re_search(_DAY_MONTH_NAME.format(2)), read("%d-%b-%y")),
        (text.re_search(_DAY_MONTH_NAME.format(4)), read("%d-%b-%Y")),
        else_=ibis.null(iso.type()),
    )


def _strptime(text: ir.StringValue, fmt: str) -> ir.TimestampValue:
    return _backend.try_strptime(text, fmt).cast(UTC_TIMESTAMP)


def _from_epoch(number: ir.FloatingValue) -> ir.TimestampValue:
    """Epoch seconds or milliseconds within 1990-2100, told apart by magnitude; else null."""
    seconds = (number >= _EPOCH_S_RANGE[0]) & (number < _EPOCH_S_RANGE[1])
    millis = (number >= _EPOCH_MS_RANGE[0]) & (number < _EPOCH_MS_RANGE[1])
    return ibis.cases(
        (seconds, _EPOCH + (number * 1000).round().cast(dt.int64).as_interval("ms")),
        (millis, _EPOCH + number.round().cast(dt.int64).as_interval("ms")),
        else_=ibis.null(UTC_TIMESTAMP),
    )


def parse_number(value: ir.Value) -> ir.FloatingValue:
    if value.type().is_numeric():
        return value.cast(dt.float64)
    return as_text(value).try_cast(dt.float64)


def source_column(name: str) -> str:
    """Stage-1 column carrying the untouched source value of ``name``."""
    return f"_src__{name}"


def _naive_text(text: ir.StringValue) -> ir.BooleanValue:
    """Text read as a wall clock of the workspace zone: ISO without an offset, and the compact
    and month-name layouts (which never carry one)."""
    return (
        text.re_search(_NAIVE_ISO)
        | text.re_search(_COMPACT_DATE)
        | text.re_search(_COMPACT_TIME)
        | text.re_search(_DAY_MONTH_NAME.format(2))
        | text.re_search(_DAY_MONTH_NAME.format(4))
    )


@dataclass
class TimeChecks:
    """What a timestamp column adds to a transform (see :func:`time_checks`)."""

    wall: dict[str, ir.Value]
    """Stage-1 column: the wall clock as written, offset dropped (null when not text/naive)."""
    impossible: Check
    in_gap: Callable[[ir.Table], ir.BooleanValue] | None


def time_checks(name: str, source: ir.Value, dst_zone: str | None, fmt: str | None = None) -> TimeChecks:
    """Quarantine impossible instants; find naive times inside a daylight-saving gap of
    ``dst_zone`` (None: the zone has no gaps). ``fmt``: the ``--timestamp-format`` text is read with.

    The wall clock as written (offset dropped) is kept next to the parsed instant ``name``: their
    difference is the offset the text carried, and a naive time whose instant does not read back
    as the same wall clock in the workspace zone fell in a gap. The engine, like zoneinfo with
    ``fold=0``, reads such a time with the offset before the change, i.e. it is shifted forward by
    the gap (02:30 on a 02:00->03:00 night is stored as 03:30 local).
    """
    dtype = source.type()
    wall, src = f"_wall__{name}", source_column(name)
    naive: Callable[[ir.Table], ir.BooleanValue] | None = None
    clock: ir.Value
    if fmt is not None and not dtype.is_temporal():
        # The wall clock is what the format reads; a format with an offset is not naive (and the
        # engine returns an instant for it, not a wall clock).
        zoned = "%z" in fmt or "%Z" in fmt
        clock = ibis.null(dt.Timestamp()) if zoned else _backend.try_strptime(as_text(source), fmt)
        naive = None if zoned else (lambda s: ibis.literal(True))
    elif dtype.is_string():
        # A 'Z' suffix is offset zero and not naive: only the instant's own range needs checking,
        # so the commonest machine-written form skips the second parse.
        text = as_text(source)
        written = _text_forms(
            text,
            iso=text.try_cast(dt.Timestamp()),
            read=lambda layout: _backend.try_strptime(text, layout),
            epoch=ibis.null(dt.Timestamp()),  # an instant: no wall clock written
        )
        clock = ibis.cases((text.endswith("Z"), ibis.null(dt.Timestamp())), else_=written)
        naive = lambda s: _naive_text(s[src])  # noqa: E731
    elif dtype.is_timestamp() and dtype.timezone is None:
        clock = source
        naive = lambda s: ibis.literal(True)  # noqa: E731
    else:
        clock = ibis.null(dt.Timestamp())

    def offset(s: ir.Table) -> ir.IntegerValue:
        return (s[wall].epoch_seconds() - s[name].epoch_seconds()).abs()

    def failed(s: ir.Table) -> ir.BooleanValue:
        year = s[wall].year()
        written = (year > 9999) | (year < 1) | (offset(s) > _MAX_OFFSET_S)
        return s[name].notnull() & ((s[name] < _MIN_INSTANT) | (s[name] > _MAX_INSTANT) | written)

    def message(s: ir.Table) -> ir.StringValue:
        why = ibis.cases(
            (offset(s) > _MAX_OFFSET_S, " has a UTC offset beyond +-18:00"),
            else_=" is outside the years 1-9999",
        )
        return f"{name}: " + quote(s[src]) + why

    in_gap = None
    if dst_zone is not None and naive is not None:
        written_naive, zone = naive, dst_zone

        def in_gap(s: ir.Table) -> ir.BooleanValue:
            moved = _backend.duckdb_wall_clock(s[name], zone) != s[wall]
            # CASE: the pattern runs only on the few values whose wall clock moved.
            return s[wall].notnull() & ibis.cases((moved, written_naive(s)), else_=False)

    return TimeChecks({wall: clock}, Check(failed, Reason.IMPOSSIBLE_TIMESTAMP, name, message), in_gap)


def propensity_check() -> Check:
    """A logged propensity is a probability the policy had of taking the action: in (0, 1].

    Zero would make the inverse-propensity weight infinite and above one is not a probability, so
    such a decision is quarantined (an empty propensity is kept: "not logged").
    """
    return Check(
        lambda s: s.propensity.notnull() & ((s.propensity <= 0) | (s.propensity > 1)),
        Reason.BAD_PROPENSITY,
        "propensity",
        lambda s: (
            "propensity: "
            + s.propensity.cast(dt.string)
            + " is outside (0, 1]; log the probability the policy had of taking this action"
        ),
    )
