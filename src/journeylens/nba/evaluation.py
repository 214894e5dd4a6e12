"""Offline evaluation of a candidate next-best-action policy from logged decisions.

Each logged decision ``i`` has a state ``s``, the action ``a`` the logging policy took with
probability ``p`` (its propensity) and a reward ``r``. For a deterministic candidate policy
``pi`` (state -> action) the weight is ``w = 1[a = pi(s)] / p`` and:

- IPS: ``V = mean(w r)``;
- self-normalised IPS (SNIPS): ``V = sum(w r) / sum(w)``, its variance by the delta method
  (per-decision terms ``w (r - V) / mean(w)``);
- doubly robust (DR, Dudik et al. 2011): ``V = mean(q(s, pi(s)) + w (r - q(s, a)))`` with the
  direct-method model ``q`` = the mean reward of the (state, action) cell.

Intervals: 95%, normal approximation (central limit theorem) on the per-decision terms, i.e.
``V +- 1.96 sd(terms) / sqrt(n)``. The effective sample size is ``(sum w)^2 / sum w^2``.

The engine reduces the decisions to one row per (state, action) with the sums the three
estimators need (:func:`decision_cells`, one pass); every estimate here is exact arithmetic on
those sums, so no per-decision data reaches Python.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

Z95 = 1.959963984540054
SUMS = ("n", "sum_r", "sum_r2", "sum_w", "sum_w2", "sum_wr", "sum_wr2", "sum_w2r", "sum_w2r2")
"""Per (state, action) cell: decisions, and the sums of r, r^2, w, w^2, w r, w r^2, w^2 r, w^2 r^2
with w = 1 / propensity."""
MIN_ESS = 400.0
"""Effective sample size an exploration share is sized for: a success rate near 0.5 then has a
95% interval of about +-0.05."""


def decision_cells(decisions: ir.Table, by: Sequence[str] = ()) -> ir.Table:
    """One row per (``by``..., state, action): the sums of :data:`SUMS` over decisions with a
    propensity and a reward, and the counts of those without (``no_propensity``, ``no_reward``)."""
    usable = decisions.propensity.notnull() & decisions.reward.notnull()
    r = decisions.reward.cast("float64")
    w = 1.0 / decisions.propensity.cast("float64")

    def total(value: ir.FloatingValue) -> ir.FloatingValue:
        return ibis.cases((usable, value), else_=0.0).sum()

    return decisions.group_by([*by, "state", "action"]).agg(
        n=usable.cast("int64").sum(),
        no_propensity=decisions.propensity.isnull().cast("int64").sum(),
        no_reward=(decisions.propensity.notnull() & decisions.reward.isnull()).cast("int64").sum(),
        sum_r=total(r),
        sum_r2=total(r * r),
        sum_w=total(w),
        sum_w2=total(w * w),
        sum_wr=total(w * r),
        sum_wr2=total(w * r * r),
        sum_w2r=total(w * w * r),
        sum_w2r2=total(w * w * r * r),
    )


@dataclass(frozen=True)
class Cells:
    """The engine's cells as columns (``state`` and ``action`` per row, the sums as arrays)."""

    state: list[str]
    action: list[str]
    sums: dict[str, np.ndarray]

    @classmethod
    def of(cls, table: pa.Table) -> Cells:
        return cls(
            table.column("state").to_pylist(),
            table.column("action").to_pylist(),
            {name: np.asarray(table.column(name).to_numpy(), dtype=np.float64) for name in SUMS},
        )

    @property
    def states(self) -> list[str]:
        return sorted(set(self.state))

    @property
    def actions(self) -> list[str]:
        return sorted(set(self.action))

    def mask(self, states: Sequence[str]) -> np.ndarray:
        return np.isin(np.asarray(self.state, dtype=object), list(states))


@dataclass(frozen=True)
class Estimate:
    """A policy value with its standard error and 95% CLT interval."""

    value: float | None
    se: float | None

    @property
    def interval(self) -> tuple[float | None, float | None]:
        if self.value is None or self.se is None:
            return None, None
        return self.value - Z95 * self.se, self.value + Z95 * self.se

    def record(self, prefix: str) -> dict[str, float | None]:
        lo, hi = self.interval
        return {prefix: self.value, f"{prefix}_se": self.se, f"{prefix}_lo": lo, f"{prefix}_hi": hi}


@dataclass(frozen=True)
class PolicyValue:
    """IPS, SNIPS and DR estimates of one candidate policy over ``n`` logged decisions."""

    n: int
    matched: int
    """Decisions whose logged action is the candidate's (the only ones IPS learns from)."""
    ess: float | None
    ips: Estimate
    snips: Estimate
    dr: Estimate
    logged: Estimate
    """The logging policy's own value (mean reward), for comparison."""

    def record(self) -> dict[str, Any]:
        return {
            "decisions": self.n, "matched": self.matched, "ess": self.ess,
            **self.ips.record("ips"), **self.snips.record("snips"), **self.dr.record("dr"),
            **self.logged.record("logged"),
        }  # fmt: skip


def _mean_estimate(total: float, squares: float, n: int) -> Estimate:
    """Mean of per-decision terms from their sum and sum of squares (sample variance, CLT)."""
    if n < 2:
        return Estimate(total / n if n else None, None)
    mean = total / n
    variance = max(squares - n * mean * mean, 0.0) / (n - 1)
    return Estimate(mean, math.sqrt(variance / n))


def policy_value(cells: Cells, policy: Mapping[str, str], states: Sequence[str] | None = None) -> PolicyValue:
    """Value of the deterministic ``policy`` (state -> action) over the decisions of ``states``
    (default: the policy's states). In a state the policy does not name, it keeps the logged
    action (weight 1: the observed reward).

    Example:
        >>> cells = Cells.of(store.execute(decision_cells(store.table("decisions"))))  # doctest: +SKIP
        >>> policy_value(cells, {"support|track_order": "offer_chat"}).dr.interval  # doctest: +SKIP
    """
    scope = list(states if states is not None else policy)
    keep = cells.mask(scope)
    s = {k: v[keep].copy() for k, v in cells.sums.items()}
    state = np.asarray(cells.state, dtype=object)[keep]
    action = np.asarray(cells.action, dtype=object)[keep]
    logged = np.array([st not in policy for st in state], dtype=bool)
    for weighted, plain in (("sum_w", "n"), ("sum_w2", "n"), ("sum_wr", "sum_r"), ("sum_w2r", "sum_r"),
                            ("sum_wr2", "sum_r2"), ("sum_w2r2", "sum_r2")):  # fmt: skip
        s[weighted][logged] = s[plain][logged]
    matched = logged | np.array(
        [policy.get(st) == a for st, a in zip(state, action, strict=True)], dtype=bool
    )
    n = int(s["n"].sum())
    m = {k: float(v[matched].sum()) for k, v in s.items()}
    ips = _mean_estimate(m["sum_wr"], m["sum_w2r2"], n)
    snips = _snips(m, n)
    dr_sum = dr_squares = 0.0
    for name in scope:
        in_state = state == name
        if name not in policy:
            dr_sum += float(s["sum_r"][in_state].sum())
            dr_squares += float(s["sum_r2"][in_state].sum())
            continue
        here = in_state & matched
        n_s = float(s["n"][in_state].sum())
        n_q = float(s["n"][here].sum())
        c = float(s["sum_r"][here].sum()) / n_q if n_q else 0.0  # direct-method model q(s, pi(s))
        sw, swr = float(s["sum_w"][here].sum()), float(s["sum_wr"][here].sum())
        sw2, sw2r, sw2r2 = (float(s[k][here].sum()) for k in ("sum_w2", "sum_w2r", "sum_w2r2"))
        dr_sum += n_s * c + swr - c * sw
        dr_squares += n_s * c * c + 2 * c * (swr - c * sw) + sw2r2 - 2 * c * sw2r + c * c * sw2
    dr = _mean_estimate(dr_sum, dr_squares, n)
    ess = m["sum_w"] ** 2 / m["sum_w2"] if m["sum_w2"] > 0 else None
    baseline = _mean_estimate(float(s["sum_r"].sum()), float(s["sum_r2"].sum()), n)
    return PolicyValue(n, int(s["n"][matched].sum()), ess, ips, snips, dr, baseline)


def _snips(m: dict[str, float], n: int) -> Estimate:
    if m["sum_w"] <= 0 or n < 2:
        return Estimate(None, None)
    value = m["sum_wr"] / m["sum_w"]
    mean_w = m["sum_w"] / n
    squares = (m["sum_w2r2"] - 2 * value * m["sum_w2r"] + value * value * m["sum_w2"]) / mean_w**2
    return Estimate(value, math.sqrt(max(squares, 0.0) / (n - 1) / n))


def action_values(cells: Cells) -> list[dict[str, Any]]:
    """Per state, every logged action's value if it were always taken there (DR, with IPS, SNIPS,
    the effective sample size and the naive success rate of the cell), ranked by DR, best first."""
    rows = []
    for state in cells.states:
        for action in cells.actions:
            value = policy_value(cells, {state: action})
            here = [
                i
                for i, (st, a) in enumerate(zip(cells.state, cells.action, strict=True))
                if (st, a) == (state, action)
            ]
            n_cell = float(sum(cells.sums["n"][i] for i in here))
            naive = float(sum(cells.sums["sum_r"][i] for i in here)) / n_cell if n_cell else None
            rows.append({"state": state, "action": action, "naive": naive, **value.record()})
    rows.sort(key=lambda r: (r["state"], -(r["dr"] if r["dr"] is not None else -math.inf)))
    rank: dict[str, int] = {}
    for r in rows:
        rank[r["state"]] = r["rank"] = rank.get(r["state"], 0) + 1
    return rows


def exploration_share(
    decisions_per_state: float, actions: int, target_ess: float = MIN_ESS
) -> dict[str, Any]:
    """The share of decisions to randomise uniformly over ``actions`` (epsilon-greedy) so that any
    candidate action of a state gets about ``target_ess`` effective decisions: each explored
    action then has propensity >= share / actions, so ``ess ~ decisions * share / actions``."""
    if actions < 2 or decisions_per_state <= 0:
        return {"share": None, "reason": "fewer than two actions or no decisions to randomise"}
    share = min(max(actions * target_ess / decisions_per_state, 0.05), 1.0)
    return {
        "share": round(share, 3),
        "target_ess": target_ess,
        "reason": f"randomise {share:.0%} of decisions uniformly over the {actions} actions and log "
        f"each decision's propensity: a state with {decisions_per_state:,.0f} decisions then gives any "
        f"action about {target_ess:.0f} effective decisions",
    }


def _dr_parts(cells: Cells, state: str, action: str) -> tuple[float, float, float]:
    """The (state, action) cell's direct-method value q, sum of w and sum of w r."""
    here = np.array([(st, a) == (state, action) for st, a in zip(cells.state, cells.action, strict=True)])
    n_q = float(cells.sums["n"][here].sum())
    c = float(cells.sums["sum_r"][here].sum()) / n_q if n_q else 0.0
    return c, float(cells.sums["sum_w"][here].sum()), float(cells.sums["sum_wr"][here].sum())


def dr_uplift(cells: Cells, state: str, action: str, baseline: str) -> Estimate:
    """DR estimate of value(always ``action``) - value(always ``baseline``) in ``state``, with its
    CLT interval on the per-decision differences (the two terms share the decisions, so the
    difference's variance includes their covariance; a decision matches at most one of them)."""
    n = float(cells.sums["n"][cells.mask([state])].sum())
    if n < 2:
        return Estimate(None, None)
    a = policy_value(cells, {state: action})
    b = policy_value(cells, {state: baseline})
    if a.dr.value is None or b.dr.value is None or a.dr.se is None or b.dr.se is None:
        return Estimate(None, None)
    ca, swa, swra = _dr_parts(cells, state, action)
    cb, swb, swrb = _dr_parts(cells, state, baseline)
    cross = n * ca * cb + ca * (swrb - cb * swb) + cb * (swra - ca * swa)
    sq_a = a.dr.se**2 * n * (n - 1) + n * a.dr.value**2
    sq_b = b.dr.se**2 * n * (n - 1) + n * b.dr.value**2
    diff = a.dr.value - b.dr.value
    squares = sq_a + sq_b - 2 * cross
    return Estimate(diff, math.sqrt(max(squares - n * diff * diff, 0.0) / (n - 1) / n))
