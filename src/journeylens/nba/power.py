"""Proposed experiments: turn a next-best-action candidate into an A/B test design.

Sample size per variant for a minimum detectable effect (MDE) at the observed base rate and
variance: two independent groups, two-sided z test, standardised effect ``d = mde / sd`` with
``sd`` the metric's standard deviation in the control group (``sqrt(p (1 - p))`` for a success
rate). The size solves the exact two-sided power equation of statsmodels' ``NormalIndPower``::

    power = Phi(d sqrt(n / (1 + 1/ratio)) - z_{1-alpha/2}) + Phi(-d sqrt(n / (1 + 1/ratio)) - z_{1-alpha/2})

(``n`` = size of the control group, the treatment group has ``ratio * n``), so it agrees with
``statsmodels.stats.power.zt_ind_solve_power`` (a test checks 1e-6).

Example:
    >>> round(sample_size(0.02, 0.45 * 0.55), 1)
    9713.0
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from scipy.optimize import brentq
from scipy.stats import norm

ALPHA = 0.05
POWER = 0.8


def _power(d: float, n: float, alpha: float, ratio: float) -> float:
    crit = norm.isf(alpha / 2)
    shift = d * math.sqrt(n / (1 + 1 / ratio))
    return float(norm.cdf(shift - crit) + norm.cdf(-shift - crit))


def sample_size(
    mde: float, variance: float, alpha: float = ALPHA, power: float = POWER, ratio: float = 1.0
) -> float:
    """Units in the control group (the treatment has ``ratio`` times as many) for a two-sided
    z test at ``alpha`` to detect ``mde`` with probability ``power``; not rounded up."""
    if mde == 0 or variance <= 0:
        raise ValueError("the minimum detectable effect and the variance must be non-zero")
    d = abs(mde) / math.sqrt(variance)
    guess = ((norm.isf(alpha / 2) + norm.ppf(power)) / d) ** 2 * (1 + 1 / ratio)
    return float(
        brentq(lambda n: _power(d, n, alpha, ratio) - power, guess * 0.5, guess * 1.5 + 10, xtol=1e-10)
    )


@dataclass(frozen=True)
class ExperimentDesign:
    """A proposed A/B test of one action against the baseline, in the states it applies to."""

    action: str
    baseline: str
    states: list[str]
    metric: str
    base_rate: float
    variance: float
    mde: float
    mde_source: str
    alpha: float
    power: float
    per_variant: int
    total: int
    eligible_per_day: float | None
    days: float | None
    unit: str = "customer"
    design: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def propose(
    action: str, baseline: str, states: list[str], base_rate: float, mde: float, mde_source: str,
    eligible_per_day: float | None, alpha: float = ALPHA, power: float = POWER,
) -> ExperimentDesign:  # fmt: skip
    """A two-arm design (50/50) for ``action`` against ``baseline`` on journey success."""
    variance = base_rate * (1 - base_rate)
    n = math.ceil(sample_size(mde, variance, alpha, power))
    days = 2 * n / eligible_per_day if eligible_per_day else None
    where = ", ".join(states)
    return ExperimentDesign(
        action=action, baseline=baseline, states=states, metric="journey success rate",
        base_rate=base_rate, variance=variance, mde=mde, mde_source=mde_source, alpha=alpha, power=power,
        per_variant=n, total=2 * n, eligible_per_day=eligible_per_day, days=days,
        design=f"Randomise customers in {where} 50/50 between '{action}' and '{baseline}' at the moment "
        f"of decision; log the assignment (assignments table, experiment nba_{action}) and each "
        f"decision's propensity (0.5); analyse with `journeylens experiment nba_{action}`. "
        f"{n:,} customers per variant detect {mde * 100:+.1f} points on a base rate of "
        f"{base_rate * 100:.1f}% (two-sided alpha {alpha}, power {power}).",
    )  # fmt: skip
