"""A proposed experiment for each backlog item: which rate to test, its baseline with the
denominator it was measured on, the minimum detectable effect (MDE) sized from the item's own
estimate, the units per variant a two-arm test needs and the days that takes at the traffic seen.

The rate and its effect come from the item's evidence (its first, the kept finding's):

=====================  ==============================================  ==========================
kind                   metric (baseline rate over its denominator)     MDE (the estimated excess)
=====================  ==============================================  ==========================
avoidable contact      exposures followed by an assisted contact       peer rate - contact rate
friction cause         the outcome's rate among journeys with it       - (rate with - without)
team performance       first-contact resolution of the team's contacts (expected - observed) / n
negative theme         negative share of the theme's judged comments   - excess / judged
=====================  ==============================================  ==========================

The MDE is the whole estimated excess: the test is sized to detect a fix that removes all of it
(a fix that removes half needs about four times the units: n grows with 1 / MDE²). Sample size:
:func:`journeylens.nba.power.sample_size` (two-sided z test, alpha 0.05, power 0.8, 50/50, the
variance p (1 - p) of the baseline rate). Days: both variants' units at the denominator's rate per
day over the data's span. Map deviations and missed time targets carry money per journey or a
share against a target, not an excess rate: they get a ``reason`` instead of a design.

Example:
    >>> proposed_experiment(item, days=120)["per_variant"]  # doctest: +SKIP
    1843
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from journeylens.decisions.backlog import Opportunity
from journeylens.nba.power import ALPHA, POWER, sample_size

NOT_A_RATE = (
    "its evidence is not an excess rate with a denominator (map deviations are money per journey, time "
    "targets a share against a goal): design the test from `journeylens map check`"
)
DEGENERATE = "the baseline rate is 0 or 1 (no variance) or the estimated effect is zero: no power calculation"


@dataclass(frozen=True)
class _Rate:
    metric: str
    unit: str
    base_rate: float
    denominator: int
    mde: float


def _rate(o: Opportunity, per_year: float) -> _Rate | None:
    """The tested rate of ``o`` from its first evidence, or None when it has none."""
    n = o.evidence[0].numbers if o.evidence else {}
    if o.kind == "avoidable contact" and n.get("exposures"):
        return _Rate(
            f"share of {o.subject} exposures followed by an assisted contact", "exposure",
            float(n["contact_rate"]), int(n["exposures"]), float(n["peer_rate"]) - float(n["contact_rate"]),
        )  # fmt: skip
    if o.kind == "friction cause" and n.get("journeys_with"):
        return _Rate(
            f"rate of the outcome ({o.count_unit}) among journeys with {n['label']}", "journey",
            float(n["rate_with"]), int(n["journeys_with"]), -float(n["difference"]),
        )  # fmt: skip
    if o.kind == "team performance" and n.get("fcr_n"):
        total = int(n["fcr_n"])
        return _Rate(
            f"first-contact resolution of {o.subject}'s contacts", "contact", float(n["observed"]) / total,
            total, (float(n["expected"]) - float(n["observed"])) / total,
        )  # fmt: skip
    if o.kind == "negative theme" and n.get("judged") and o.count is not None:
        judged = int(n["judged"])
        return _Rate(
            f"negative share of judged comments on {o.subject}", "comment", float(n["negative_share"]),
            judged, -o.count / per_year / judged,
        )  # fmt: skip
    return None


def proposed_experiment(o: Opportunity, days: float) -> dict[str, Any]:
    """The design for ``o`` (module doc); ``reason`` says why there is none.

    ``days`` is the data's span (the backlog's ``days``): the denominator per day is its count over it.
    """
    rate = _rate(o, 365.0 / days)
    empty: dict[str, Any] = dict.fromkeys(
        ("metric", "unit", "base_rate", "denominator", "mde", "variance", "per_variant", "total",
         "eligible_per_day", "days", "design"),
    )  # fmt: skip
    base = {"id": o.id, **empty, "base_reason": None, "mde_source": None, "alpha": ALPHA, "power": POWER}
    if rate is None:
        return base | {"reason": NOT_A_RATE, "base_reason": NOT_A_RATE}
    variance = rate.base_rate * (1 - rate.base_rate)
    described = {
        "metric": rate.metric, "unit": rate.unit, "base_rate": rate.base_rate,
        "denominator": rate.denominator, "mde": rate.mde, "variance": variance,
        "mde_source": f"the item's estimated effect ({o.count_unit}): removing all of the excess",
    }  # fmt: skip
    if variance <= 0 or rate.mde == 0:
        return base | described | {"reason": DEGENERATE}
    n = math.ceil(sample_size(rate.mde, variance))
    per_day = rate.denominator / days
    needed = 2 * n / per_day
    design = (
        f"Randomise {rate.unit}s 50/50 between the fix of {o.subject} and today's experience; "
        f"{n:,} {rate.unit}s per variant detect {rate.mde * 100:+.1f} points on {rate.base_rate * 100:.1f}% "
        f"(two-sided alpha {ALPHA}, power {POWER}); at {per_day:,.1f} a day that is {needed:,.0f} days. "
        "Analyse with `journeylens experiment NAME`."
    )
    return base | described | {
        "per_variant": n, "total": 2 * n, "eligible_per_day": per_day, "days": needed, "design": design,
        "reason": None,
    }  # fmt: skip
