"""Statistics of living maps: Laney p' z-scores, a budgeted two-sided CUSUM, and change dating.

Every stage metric of a map arrives here as a short aggregated series (one value per day or week).
Each series is standardised against a baseline window (Laney p' chart for proportions, an
individuals chart for continuous metrics), the z-scores feed a two-sided CUSUM, and the CUSUM
threshold ``h`` is set so that the *map-wide* false-alarm budget holds: with ``S`` series and a
budget of ``a`` alarms per unit of ``U`` periods, each series needs an in-control average run
length (ARL) of ``S * U / a`` periods.

Calibration: Siegmund's approximation of the one-sided ARL, averaged over the estimation error of
a baseline of ``K`` periods (the centre is off by about ``1/sqrt(K)`` sigma and the moving-range
sigma has about ``0.62 (K - 1)`` degrees of freedom), solved for ``h``. Without that averaging a
short baseline raises several times the budgeted alarms; the tests check the result by simulation.

Baseline: the first ``baseline_periods`` periods (default 56, eight weeks of days), or every period
before ``since`` when given. Only the periods after the baseline are monitored. A longer baseline
buys a lower threshold (faster detection) for the same budget; see docs/monitoring.md.

Example:
    >>> from datetime import date, timedelta
    >>> days = tuple(date(2026, 1, 1) + timedelta(days=i) for i in range(70))
    >>> calls = ProportionSeries(days, (45.0, 55.0) * 28 + (90.0,) * 14, (500.0,) * 70)
    >>> report = monitor_series({SeriesName("support", "contact", "call_rate"): calls}, budget="1/month")
    >>> first = report.alerts[0]
    >>> first.direction, first.first_period.isoformat(), first.alarm_period.isoformat()
    ('up', '2026-02-26', '2026-02-26')
    >>> round(first.size, 3), round(first.size_z, 1)
    (0.08, 4.5)
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from functools import cache
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, stats

from journeylens.errors import InputError, close_matches

FloatArray = NDArray[np.float64]
Direction = Literal["up", "down"]

D2 = 1.128
"""Mean moving range of two normal values, in sigmas: sigma = average moving range / D2."""
SIEGMUND_OVERSHOOT = 1.166
"""Siegmund's correction for the overshoot of a normal-increment CUSUM over its threshold."""
DEFAULT_REFERENCE = 0.5
"""CUSUM reference value ``k``: half the 1-sigma shift the chart is tuned to detect fastest."""
DEFAULT_BASELINE_PERIODS = 56
MIN_BASELINE_PERIODS = 8
MR_DF_FACTOR = 0.62
"""A moving-range sigma from m points carries about 0.62 (m - 1) degrees of freedom."""
NAIVE_Z = 1.959964
UNIT_DAYS = {"day": 1.0, "week": 7.0, "month": 365.25 / 12, "quarter": 365.25 / 4, "year": 365.25}


# --- the false-alarm budget -------------------------------------------------------------------


@dataclass(frozen=True)
class FalseAlarmBudget:
    """How many false alarms a whole map may raise per unit of time (``1/month``)."""

    alarms: float
    unit: str

    @property
    def unit_days(self) -> float:
        return UNIT_DAYS[self.unit]

    def target_arl(self, n_series: int, period_days: float = 1.0) -> float:
        """In-control ARL each of ``n_series`` series needs, in periods of ``period_days`` days."""
        return n_series * (self.unit_days / period_days) / self.alarms


def parse_budget(text: str) -> FalseAlarmBudget:
    """Parse a budget such as ``"1/month"``, ``"2/quarter"`` or ``"0.5/week"``.

    Example:
        >>> parse_budget("2/quarter").target_arl(n_series=20)
        913.125
    """
    hint = f"Write alarms/unit, e.g. '1/month' or '2/quarter'; units: {', '.join(UNIT_DAYS)}."
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*/\s*([A-Za-z]+)\s*", text)
    if match is None:
        raise InputError(f"false_alarm_budget {text!r} is not of the form alarms/unit.", hint=hint)
    alarms = float(match.group(1))
    unit = match.group(2).lower()
    unit = unit[:-1] if unit.endswith("s") and unit[:-1] in UNIT_DAYS else unit
    if unit not in UNIT_DAYS:
        near = close_matches(unit, UNIT_DAYS)
        raise InputError(
            f"false_alarm_budget {text!r}: unknown unit {unit!r}.",
            hint=(f"Did you mean {near[0]!r}? " if near else "") + hint,
        )
    if alarms <= 0:
        raise InputError(
            f"false_alarm_budget {text!r}: the number of alarms must be positive.",
            hint="A budget of zero would need an infinite threshold; use a small rate such as '1/year'.",
        )
    return FalseAlarmBudget(alarms, unit)


# --- threshold calibration --------------------------------------------------------------------


def siegmund_arl(h: float | FloatArray, k: float | FloatArray, drift: float | FloatArray = 0.0) -> FloatArray:
    """One-sided CUSUM ARL for N(drift, 1) increments, reference ``k``, threshold ``h`` (Siegmund).

    Example:
        >>> round(float(siegmund_arl(4.0, 0.5)), 0)
        338.0
    """
    b = np.asarray(h, dtype=float) + SIEGMUND_OVERSHOOT
    delta = np.asarray(drift, dtype=float) - np.asarray(k, dtype=float)
    x = np.minimum(-2.0 * delta * b, 700.0)
    small = np.abs(delta) < 1e-9
    safe = np.where(small, 1.0, delta)
    arl = np.where(small, b**2, (np.expm1(x) - x) / (2.0 * safe**2))
    return np.maximum(arl, 1.0)


@cache
def _estimation_nodes(baseline_periods: int | None) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Centre offsets, sigma ratios and weights of the baseline estimation error, as a product grid."""
    if baseline_periods is None:
        return np.zeros(1), np.ones(1), np.ones(1)
    offsets, w_offsets = np.polynomial.hermite_e.hermegauss(40)
    w_offsets = w_offsets / w_offsets.sum()
    df = MR_DF_FACTOR * (baseline_periods - 1)
    quantiles = (np.arange(200) + 0.5) / 200
    ratios = np.sqrt(stats.chi2.ppf(quantiles, df) / df)
    delta = np.repeat(offsets / math.sqrt(baseline_periods), ratios.size)
    sigma_ratio = np.tile(ratios, offsets.size)
    weights = np.repeat(w_offsets, ratios.size) / ratios.size
    return delta, sigma_ratio, weights


def expected_alarm_rate(h: float, k: float = DEFAULT_REFERENCE, baseline_periods: int | None = None) -> float:
    """False alarms per period of a two-sided CUSUM on in-control z-scores.

    With ``baseline_periods`` the rate is averaged over the error of a baseline of that many periods:
    a z-score is then ``(x - offset) / ratio`` for standard normal ``x``, which is a CUSUM on ``x``
    with reference ``offset + k * ratio`` and threshold ``h * ratio``.
    """
    offset, ratio, weight = _estimation_nodes(baseline_periods)
    up = 1.0 / siegmund_arl(h * ratio, offset + k * ratio)
    down = 1.0 / siegmund_arl(h * ratio, -offset + k * ratio)
    return float(np.sum(weight * (up + down)))


@cache
def cusum_threshold(
    target_arl: float, k: float = DEFAULT_REFERENCE, baseline_periods: int | None = None
) -> float:
    """Threshold ``h`` whose two-sided in-control ARL is ``target_arl`` periods.

    ``baseline_periods=None`` treats the centre and sigma as known (plain Siegmund).

    Example:
        >>> round(cusum_threshold(600.0), 2)
        5.24
    """
    if target_arl < 2.0:
        raise InputError(
            f"target ARL {target_arl:g} periods is too short to monitor.",
            hint="Allow fewer false alarms (a smaller budget) or monitor fewer series.",
        )
    goal = 1.0 / target_arl
    return float(optimize.brentq(lambda h: expected_alarm_rate(h, k, baseline_periods) - goal, 0.0, 200.0))


# --- charts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChartScores:
    """Standardised values of one series against its baseline.

    ``z`` is what the CUSUM reads (Laney p' or individuals chart); ``plain_z`` is the same value on
    a plain p chart (binomial sigma only; equal to ``z`` for continuous metrics); ``sigma`` is the
    per-period sigma in the metric's own units, and ``sigma_z`` Laney's over-dispersion factor.
    """

    z: FloatArray
    plain_z: FloatArray
    values: FloatArray
    center: float
    sigma: FloatArray
    sigma_z: float
    baseline_periods: int


def moving_range_sigma(values: FloatArray) -> float:
    """Sigma from the average moving range of consecutive finite values (MR-bar / 1.128)."""
    finite = values[np.isfinite(values)]
    if finite.size < 2:
        return math.nan
    return float(np.mean(np.abs(np.diff(finite))) / D2)


def laney_z(successes: Sequence[float], trials: Sequence[float], baseline_periods: int) -> ChartScores:
    """Laney p' z-scores: ``(p_i - p̄) / (sigma_pi * sigma_z)`` with p̄ and sigma_z from the baseline.

    ``sigma_pi = sqrt(p̄ (1 - p̄) / n_i)``; ``sigma_z`` is the moving-range sigma of the baseline's
    plain z-scores, so over-dispersion (day-to-day variation beyond binomial) widens the chart.
    Periods with no trials get NaN and are skipped by the CUSUM.

    Example:
        >>> s = laney_z([10, 12, 9, 11, 30], [100] * 5, baseline_periods=4)
        >>> bool(s.z[-1] > 3)
        True
    """
    x = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    if x.shape != n.shape or np.any(x < 0) or np.any(x > n):
        raise InputError(
            "successes and trials must have the same length with 0 <= successes <= trials.",
            hint="Pass one (successes, trials) pair per period.",
        )
    base = slice(0, baseline_periods)
    p_bar = float(x[base].sum() / n[base].sum()) if n[base].sum() > 0 else math.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n > 0, x / n, np.nan)
        sigma_p = np.where(n > 0, np.sqrt(p_bar * (1 - p_bar) / n), np.nan)
        plain = (p - p_bar) / sigma_p
        sigma_z = moving_range_sigma(plain[base])
        z = plain / sigma_z
    return ChartScores(z, plain, p, p_bar, sigma_p * sigma_z, sigma_z, baseline_periods)


def individuals_z(values: Sequence[float], baseline_periods: int) -> ChartScores:
    """Individuals-chart z-scores: ``(x_i - mean) / sigma`` with the moving-range sigma of the baseline.

    For continuous metrics such as the median time in a stage per period. NaN values are skipped.
    """
    v = np.asarray(values, dtype=float)
    base = v[:baseline_periods]
    center = float(np.nanmean(base)) if np.isfinite(base).any() else math.nan
    sigma = moving_range_sigma(base)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (v - center) / sigma
    return ChartScores(z, z, v, center, np.full(v.shape, sigma), 1.0, baseline_periods)


def naive_band_alarms(z: FloatArray, start: int = 0, z_crit: float = NAIVE_Z) -> int:
    """Count periods outside plain ±1.96 sigma bands from ``start`` on (the rule living maps avoid).

    Each in-control period breaks such a band with probability 5%, so 20 series over 90 days raise
    about 90 alarms a quarter even when nothing changes (more with over-dispersion on a p chart).
    """
    tail = z[start:]
    return int(np.sum(np.abs(tail[np.isfinite(tail)]) > z_crit))


# --- CUSUM and change dating ------------------------------------------------------------------


@dataclass(frozen=True)
class CusumAlarm:
    """One alarm of :func:`cusum_alarms`; periods are indexes into the series."""

    direction: Direction
    first_period: int
    alarm_period: int
    statistic: float
    run_z: tuple[float, ...]

    @property
    def size_z(self) -> float:
        """Estimated shift: mean z over the run, in sigmas (negative for a downward shift)."""
        finite = [v for v in self.run_z if math.isfinite(v)]
        return float(np.mean(finite))


def cusum_alarms(z: FloatArray, h: float, k: float = DEFAULT_REFERENCE, start: int = 0) -> list[CusumAlarm]:
    """Two-sided CUSUM over ``z[start:]``, restarting both sides at zero after each alarm.

    The change is dated at the start of the alarming side's run: the period after it last stood
    at zero. NaN periods leave the statistics unchanged.

    Example:
        >>> z = np.array([0.0] * 10 + [2.0] * 10)
        >>> [(a.direction, a.first_period, a.alarm_period) for a in cusum_alarms(z, h=4.0)]
        [('up', 10, 12), ('up', 13, 15), ('up', 16, 18)]
    """
    alarms: list[CusumAlarm] = []
    up = down = 0.0
    up_start = down_start = start
    for i in range(start, len(z)):
        zi = float(z[i])
        if not math.isfinite(zi):
            continue
        if up == 0.0:
            up_start = i
        if down == 0.0:
            down_start = i
        up = max(0.0, up + zi - k)
        down = max(0.0, down - zi - k)
        if up > h or down > h:
            rising = up >= down
            first = up_start if rising else down_start
            alarms.append(
                CusumAlarm(
                    "up" if rising else "down",
                    first,
                    i,
                    up if rising else down,
                    tuple(float(v) for v in z[first : i + 1]),
                )
            )
            up = down = 0.0
    return alarms


# --- series of a map and their alerts ---------------------------------------------------------


@dataclass(frozen=True)
class SeriesName:
    """Which series: the map, the stage and the metric (``conversion``, ``time_in_stage_p50``, ...)."""

    map: str
    stage: str
    metric: str

    def __str__(self) -> str:
        return f"{self.map}/{self.stage}/{self.metric}"


@dataclass(frozen=True)
class ProportionSeries:
    """A rate per period: ``successes`` out of ``trials`` (conversion, deviation share, ...)."""

    periods: tuple[date, ...]
    successes: tuple[float, ...]
    trials: tuple[float, ...]


@dataclass(frozen=True)
class ContinuousSeries:
    """One continuous value per period (median time in stage, volume, mean score)."""

    periods: tuple[date, ...]
    values: tuple[float, ...]


Series = ProportionSeries | ContinuousSeries


@dataclass(frozen=True)
class AlertEvidence:
    """The numbers behind an alert, for the ``alerts`` table and for people who ask why."""

    cusum: float
    threshold: float
    reference: float
    target_arl: float
    center: float
    sigma_z: float
    baseline_periods: int
    run_z: tuple[float, ...]


@dataclass(frozen=True)
class MapAlert:
    """A change in one series of a map: direction, size (in the metric's units and in sigmas),
    dates, and how often it alarmed again (``realarms``, up to ``last_alarm_period``).

    :func:`monitor_series` gives one per CUSUM alarm (no re-alarms yet);
    :func:`journeylens.maps.alerts.group_alarms` merges the alarms of one change.
    """

    series: SeriesName
    direction: Direction
    size: float
    size_z: float
    first_period: date
    alarm_period: date
    realarms: int
    last_alarm_period: date
    evidence: AlertEvidence

    def to_dict(self) -> dict[str, Any]:
        """One row as printed (``--format json``): evidence as a nested object."""
        row = asdict(self)
        row.pop("series")
        return {"map": self.series.map, "stage": self.series.stage, "metric": self.series.metric, **row}


@dataclass(frozen=True)
class MonitorReport:
    """Alerts of a map, the threshold policy used, and the series that could not be monitored."""

    alerts: tuple[MapAlert, ...]
    target_arl: float
    unmonitored: dict[SeriesName, str]


def baseline_length(periods: Sequence[date], since: date | None, baseline_periods: int) -> int:
    """Number of leading periods that form the baseline: those before ``since``, else the first K."""
    return sum(1 for p in periods if p < since) if since is not None else min(baseline_periods, len(periods))


def chart_scores(series: Series, baseline: int) -> ChartScores:
    """Laney p' scores for a proportion series, individuals-chart scores for a continuous one."""
    if isinstance(series, ProportionSeries):
        return laney_z(series.successes, series.trials, baseline)
    return individuals_z(series.values, baseline)


def _check_lengths(name: SeriesName, series: Series) -> None:
    columns = (series.successes, series.trials) if isinstance(series, ProportionSeries) else (series.values,)
    if any(len(c) != len(series.periods) for c in columns):
        raise InputError(
            f"series {name}: {len(series.periods)} periods but {[len(c) for c in columns]} values.",
            hint="Give one value per period (fill periods without data with NaN, or 0 trials).",
        )


def _unusable(scores: ChartScores) -> str | None:
    if scores.baseline_periods < MIN_BASELINE_PERIODS:
        return f"baseline has {scores.baseline_periods} periods, at least {MIN_BASELINE_PERIODS} are needed"
    sigma = scores.sigma[np.isfinite(scores.sigma)]
    if not (math.isfinite(scores.center) and scores.sigma_z > 0 and sigma.size and sigma.max() > 0):
        return "baseline has no variation (constant, all-zero or all-success values)"
    return None


def monitor_series(
    series: Mapping[SeriesName, Series],
    budget: str | FalseAlarmBudget,
    *,
    period_days: float = 1.0,
    k: float = DEFAULT_REFERENCE,
    baseline_periods: int = DEFAULT_BASELINE_PERIODS,
    since: date | None = None,
) -> MonitorReport:
    """Run the budgeted CUSUM over every series of a map and return its alerts.

    The budget is shared by all series given (including those that turn out unmonitorable, so
    adding a metric never loosens the others); each series' threshold accounts for its own
    baseline length. ``period_days`` is 1 for daily series and 7 for weekly ones.
    """
    policy = parse_budget(budget) if isinstance(budget, str) else budget
    target = policy.target_arl(max(len(series), 1), period_days)
    alerts: list[MapAlert] = []
    unmonitored: dict[SeriesName, str] = {}
    for name, one in series.items():
        _check_lengths(name, one)
        base = baseline_length(one.periods, since, baseline_periods)
        scores = chart_scores(one, base)
        problem = _unusable(scores)
        if problem is not None:
            unmonitored[name] = problem
            continue
        h = cusum_threshold(target, k, base)
        for alarm in cusum_alarms(scores.z, h, k, start=base):
            run = slice(alarm.first_period, alarm.alarm_period + 1)
            evidence = AlertEvidence(
                alarm.statistic, h, k, target, scores.center, scores.sigma_z, base, alarm.run_z
            )
            alerts.append(
                MapAlert(
                    series=name,
                    direction=alarm.direction,
                    size=float(np.nanmean(scores.values[run]) - scores.center),
                    size_z=alarm.size_z,
                    first_period=one.periods[alarm.first_period],
                    alarm_period=one.periods[alarm.alarm_period],
                    realarms=0,
                    last_alarm_period=one.periods[alarm.alarm_period],
                    evidence=evidence,
                )
            )
    return MonitorReport(tuple(alerts), target, unmonitored)
