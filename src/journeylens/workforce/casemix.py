"""Case-mix adjustment by indirect standardisation, and funnel-plot control limits.

A contact's **expected** outcome is the population rate of its case-mix cell (journey type x
contact reason x segment x channel x time of day, or the factors asked for), computed in the
engine as a window mean over the cell. Summed per agent (or team) this gives ``observed`` O,
``expected`` E and the null variance V = sum p(1 - p): the indirectly standardised ratio O/E is
1 when an agent resolves as often as the population would on the same cases.

Funnel plot (Spiegelhalter 2005, *Funnel plots for comparing institutional performance*): O/E
against E, with control limits for a unit performing at the population rate,
``1 +- z * sqrt(V) / E`` (the normal approximation to the binomial sum), at 95% (z = 1.96) and
99.8% (z = 3.09). A unit outside the 99.8% limits is unlikely to be there by chance alone. The
interval of O/E itself is ``(O +- 1.96 sqrt(V)) / E`` (the same approximation around the unit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
from scipy.stats import norm

Z95 = float(norm.ppf(0.975))
Z998 = float(norm.ppf(0.999))
CELL = "_cell_rate"


def with_expected(t: ir.Table, outcome: str, factors: list[str]) -> ir.Table:
    """Rows of ``t`` where ``outcome`` is defined, each with its cell's population rate."""
    defined = t.filter(t[outcome].notnull())
    rate = defined[outcome].cast("float64").mean().over(ibis.window(group_by=factors))
    return defined.mutate(**{CELL: rate})


def observed_expected(t: ir.Table, outcome: str, factors: list[str], by: list[str]) -> ir.Table:
    """Per ``by`` group: n, observed O, expected E and null variance V of ``outcome``."""
    return sums(with_expected(t, outcome, factors), outcome, by)


def sums(e: ir.Table, outcome: str, by: list[str]) -> ir.Table:
    """Per ``by`` group of rows that carry their expected rate (:func:`with_expected`): n, O, E, V."""
    p = e[CELL]
    return e.group_by(by).agg(
        n=e.count(),
        observed=e[outcome].sum(),
        expected=p.sum(),
        variance=(p * (1.0 - p)).sum(),
    )


def cell_counts(t: ir.Table, outcome: str, factors: list[str], by: list[str]) -> ir.Table:
    """Per ``by`` group and case-mix cell: trials, successes and the cell's population rate."""
    return counts_by_cell(with_expected(t, outcome, factors), outcome, by)


def counts_by_cell(e: ir.Table, outcome: str, by: list[str]) -> ir.Table:
    """:func:`cell_counts` of rows that already carry their expected rate (:func:`with_expected`)."""
    return e.group_by([*by, CELL]).agg(trials=e.count(), successes=e[outcome].sum())


@dataclass(frozen=True)
class Standardised:
    """O/E of one unit with its interval and where it falls on the funnel plot."""

    n: int
    observed: float
    expected: float
    variance: float

    @property
    def ratio(self) -> float | None:
        return None if self.expected <= 0 else self.observed / self.expected

    def interval(self) -> tuple[float | None, float | None]:
        if self.expected <= 0:
            return None, None
        half = Z95 * math.sqrt(self.variance)
        return (self.observed - half) / self.expected, (self.observed + half) / self.expected

    def limits(self, z: float) -> tuple[float | None, float | None]:
        """Funnel control limits of O/E at this unit's E for a unit at the population rate."""
        if self.expected <= 0:
            return None, None
        half = z * math.sqrt(self.variance) / self.expected
        return 1.0 - half, 1.0 + half

    def funnel(self) -> str | None:
        """``above``/``below`` the 99.8% limits, ``above 95%``/``below 95%``, or ``within``."""
        ratio = self.ratio
        if ratio is None:
            return None
        for z, tag in ((Z998, ""), (Z95, " 95%")):
            lo, hi = self.limits(z)
            if lo is not None and hi is not None and ratio > hi:
                return "above" + tag
            if lo is not None and ratio < lo:
                return "below" + tag
        return "within"

    def record(self, rate: float | None) -> dict[str, Any]:
        """O, E, O/E with its interval, the adjusted rate (O/E x the population rate), limits."""
        lo, hi = self.interval()
        l95, h95 = self.limits(Z95)
        l998, h998 = self.limits(Z998)
        ratio = self.ratio

        def scaled(x: float | None) -> float | None:
            return None if x is None or rate is None else x * rate

        return {
            "observed": self.observed, "expected": self.expected, "oe": ratio, "oe_lo": lo, "oe_hi": hi,
            "adjusted": scaled(ratio), "adjusted_lo": scaled(lo), "adjusted_hi": scaled(hi),
            "limit95_lo": l95, "limit95_hi": h95, "limit998_lo": l998, "limit998_hi": h998,
            "funnel": self.funnel(),
        }  # fmt: skip


def funnel_curve(variance_per_expected: float, expected: list[float], z: float) -> list[tuple[float, float]]:
    """Control limits ``(lo, hi)`` of O/E along the funnel at each E, for a population whose
    null variance per expected success is ``variance_per_expected`` (1 - the population rate)."""
    return [
        (
            1.0 - z * math.sqrt(variance_per_expected * e) / e,
            1.0 + z * math.sqrt(variance_per_expected * e) / e,
        )
        for e in expected
    ]
