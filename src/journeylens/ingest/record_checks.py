"""The checks a raw record must pass to become a canonical row, one :class:`Check` each: sizes,
required values (always, or depending on another field), values that do not parse, non-finite
numbers, impossible times, closed vocabularies, "one of these columns" and feedback scores in the
range of their metric.

:class:`RecordChecks` is the part of ``validation._Builder`` that adds them to ``self.checks``; each
check is an expression over the builder's stage-1 columns (module doc of ``validation``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from journeylens.ingest.values import Check, quote, source_column, time_checks
from journeylens.store.names import EMPLOYEE_SCORE_RANGES, SCORE_RANGES, TEXT
from journeylens.store.schema import Column, Reason, TableSpec

if TYPE_CHECKING:
    from journeylens.ingest.validation import Context

_RECORD_LEN, _LONG_FIELD = "_record_len", "_long_field"
"""Stage-1 measures of a record: its text bytes, and the first field over the field limit."""


class RecordChecks:
    """Adds the checks of one table's records to ``checks`` (a mixin of the batch builder, which
    sets the attributes below)."""

    raw: ir.Table
    spec: TableSpec
    ctx: Context
    checks: list[Check]
    helpers: dict[str, ir.Value]
    dst: Callable[[ir.Table], ir.BooleanValue] | None

    def _check_sizes(self) -> None:
        limit, field_limit = self.ctx.max_record_bytes, self.ctx.max_field_bytes
        # The field check comes first: one oversized field is the more precise diagnosis.
        self.checks.append(
            Check(
                lambda s: s[_LONG_FIELD].notnull(),
                Reason.FIELD_TOO_LARGE,
                None,  # named per row, see _assemble
                lambda s: s[_LONG_FIELD] + f": value exceeds the field limit of {field_limit} bytes",
            )
        )
        self.checks.append(
            Check(
                lambda s: s[_RECORD_LEN] > limit,
                Reason.RECORD_TOO_LARGE,
                None,
                lambda s: (
                    "record of " + s[_RECORD_LEN].cast(dt.string) + f" bytes exceeds the limit of {limit}"
                ),
            )
        )

    def _require(self, name: str) -> None:
        self.checks.append(
            Check(
                lambda s: s[name].isnull(),
                Reason.MISSING_FIELD,
                name,
                lambda s: ibis.literal(f"{name}: required value is empty"),
            )
        )

    def _require_where(self, column: Column) -> None:
        """A value required in some records only: a score unless the metric is text, a comment
        when it is."""
        name = column.name
        unless = column.required_unless is not None
        other, value = column.required_unless or column.required_when or ("", "")
        why = (
            f" ({other} {value} is the only one without it)"
            if unless
            else f" (required when {other} is {value})"
        )

        def missing(s: ir.Table) -> ir.BooleanValue:
            applies = (s[other] != value) if unless else (s[other] == value)
            return s[name].isnull() & applies.fill_null(unless)

        self.checks.append(
            Check(
                missing,
                Reason.MISSING_FIELD,
                name,
                lambda s: ibis.literal(f"{name}: required value is empty{why}"),
            )
        )

    def _reject_unparsed(self, name: str, reason: Reason, explanation: str) -> None:
        source_type = self.raw[name].type()
        if source_type.is_temporal() or (source_type.is_numeric() and reason is Reason.BAD_NUMBER):
            return  # typed sources cannot fail to parse (numeric timestamps can: epoch range)
        self.checks.append(
            Check(
                lambda s: s[source_column(name)].notnull() & s[name].isnull(),
                reason,
                name,
                lambda s: f"{name}: cannot parse " + quote(s[source_column(name)]) + explanation,
            )
        )

    def _reject_not_finite(self, name: str) -> None:
        self.checks.append(
            Check(
                lambda s: s[name].isnan() | s[name].isinf(),
                Reason.NOT_FINITE,
                name,
                lambda s: f"{name}: " + quote(s[source_column(name)]) + " is not a finite number",
            )
        )

    def _check_time_range(self, name: str, source: ir.Value) -> None:
        zone = self.ctx.timezone if self.ctx.dst_gaps else None
        found = time_checks(name, source, zone, self.ctx.timestamp_format)
        self.helpers.update(found.wall)
        self.checks.append(found.impossible)
        if found.in_gap is not None:
            earlier, gap = self.dst, found.in_gap
            self.dst = gap if earlier is None else (lambda s: earlier(s) | gap(s))

    def _reject_choice(self, name: str, choices: tuple[str, ...]) -> None:
        self.checks.append(
            Check(
                lambda s: s[name].notnull() & ~s[name].isin(choices),
                reason=Reason.BAD_VALUE,
                field=name,
                message=lambda s: (
                    f"{name}: " + quote(s[source_column(name)]) + f" is not one of {', '.join(choices)}"
                ),
            )
        )

    def _check_one_of(self) -> None:
        if not self.spec.one_of:
            return
        names = self.spec.one_of
        label = " / ".join(names)
        self.checks.append(
            Check(
                lambda s: ibis.and_(*(s[c].isnull() for c in names)),
                Reason.MISSING_FIELD,
                label,
                lambda s: ibis.literal(f"{label}: at least one is required, all are empty"),
            )
        )

    def _check_score(self) -> None:
        def out_of_range(s: ir.Table) -> ir.BooleanValue:
            score, metric = s.score, s.metric
            outside = ibis.or_(
                *(
                    (metric == m) & ((score < lo) | (score > hi))
                    for m, (lo, hi) in {**SCORE_RANGES, **EMPLOYEE_SCORE_RANGES}.items()
                )
            )
            return score.notnull() & outside

        self.checks.append(
            Check(
                lambda s: s.score.notnull() & (s.metric == TEXT).fill_null(False),
                Reason.BAD_VALUE,
                "score",
                lambda s: ibis.literal(
                    "score: text-only feedback (metric text) has no score; give scored answers their "
                    "metric (nps, csat, ces, rating)"
                ),
            )
        )
        self.checks.append(
            Check(
                out_of_range,
                Reason.BAD_VALUE,
                "score",
                lambda s: "score: " + s.score.cast(dt.string) + " is outside the range of metric " + s.metric,
            )
        )
