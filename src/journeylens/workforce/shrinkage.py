"""Empirical-Bayes agent and team effects: a Bayesian binomial mixed model (statsmodels).

The model, for a contact of agent ``a`` in team ``t`` whose case-mix cell resolves at the
population rate ``p``::

    logit P(resolved) = b0 + b1 * logit(p) + u_t + v_a,   u_t ~ N(0, s_team^2), v_a ~ N(0, s_agent^2)

fitted by variational Bayes with ``statsmodels.genmod.bayes_mixed_glm.BinomialBayesMixedGLM``.
The case mix enters through ``logit(p)``, so the effects are adjusted for it; an agent with few
contacts is pulled towards its team, a small team towards the population (shrinkage). The team
effect is ``u_t``; the agent's is ``u_t + v_a`` (log-odds), each with its posterior sd.

Only aggregated rows reach Python: per agent and case-mix cell, the trials, successes and cell
rate. statsmodels takes one row per Bernoulli trial, so those counts are expanded to 0/1 rows
here (memory grows with the number of contacts in the window: ~40 bytes each). The fit starts
from fixed values (:func:`start_sd`), so the same data give the same effects on every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

EPSILON = 1e-4
"""Cell rates are clipped to [EPSILON, 1 - EPSILON] before the logit (a cell where every contact
resolved has rate 1)."""


@dataclass(frozen=True)
class CellCounts:
    """Per (agent, case-mix cell): trials, successes and the cell's population rate."""

    agent: list[str]
    team: list[str]
    rate: np.ndarray
    trials: np.ndarray
    successes: np.ndarray


@dataclass(frozen=True)
class Effects:
    """Posterior means and sds of the effects (log-odds), and the fixed effects."""

    agent: dict[str, tuple[float, float]]
    team: dict[str, tuple[float, float]]
    fixed: tuple[float, float]
    sd_team: float
    sd_agent: float
    contacts: int


def design(
    cells: CellCounts,
) -> tuple[np.ndarray, np.ndarray, sparse.csr_array, np.ndarray, list[str], list[str]]:
    """The model's 0/1 outcome, fixed-effect and variance-component design (module doc)."""
    trials = cells.trials.astype(np.int64)
    successes = cells.successes.astype(np.int64)
    rows = np.repeat(np.arange(len(trials)), trials)
    first = np.cumsum(trials) - trials
    within = np.arange(len(rows)) - first[rows]
    endog = (within < successes[rows]).astype(np.float64)
    p = np.clip(cells.rate, EPSILON, 1 - EPSILON)
    exog = np.column_stack([np.ones(len(rows)), np.log(p / (1 - p))[rows]])
    teams = sorted(set(cells.team))
    agents = sorted(set(cells.agent))
    team_index = np.array([teams.index(t) for t in cells.team])[rows]
    agent_index = np.array([agents.index(a) for a in cells.agent])[rows]
    n = len(rows)
    columns = np.concatenate([team_index, len(teams) + agent_index])
    exog_vc = sparse.csr_array(
        (np.ones(2 * n), (np.concatenate([np.arange(n), np.arange(n)]), columns)),
        shape=(n, len(teams) + len(agents)),
    )
    ident = np.array([0] * len(teams) + [1] * len(agents))
    return endog, exog, exog_vc, ident, teams, agents


def fit_effects(cells: CellCounts) -> Effects:
    """Fit the model (module doc) by variational Bayes; team and agent effects with their sds."""
    from statsmodels.genmod.bayes_mixed_glm import BinomialBayesMixedGLM

    endog, exog, exog_vc, ident, teams, agents = design(cells)
    model = BinomialBayesMixedGLM(endog, exog, exog_vc, ident, vcp_p=1.0, fe_p=2.0)
    result = model.fit_vb(sd=start_sd(model))
    mean, sd = np.asarray(result.vc_mean), np.asarray(result.vc_sd)
    k = len(teams)
    team = {t: (float(mean[i]), float(sd[i])) for i, t in enumerate(teams)}
    agent_of = dict(zip(cells.agent, cells.team, strict=True))
    agent = {}
    for j, a in enumerate(agents):
        u, su = team[agent_of[a]]
        # The posterior of u_t + v_a: VB treats them as independent, so the variances add.
        agent[a] = (u + float(mean[k + j]), float(np.hypot(su, sd[k + j])))
    vcp = np.exp(np.asarray(result.vcp_mean))
    return Effects(
        agent=agent,
        team=team,
        fixed=(float(result.fe_mean[0]), float(result.fe_mean[1])),
        sd_team=float(vcp[0]),
        sd_agent=float(vcp[1]),
        contacts=len(endog),
    )


def start_sd(model: Any) -> np.ndarray:
    """Fixed starting posterior sds: statsmodels draws them at random when none are given, which
    would make the fit differ (slightly) from run to run; ``exp(-0.5)`` is the centre of its draw."""
    return np.full(model.k_fep + model.k_vcp + model.k_vc, np.exp(-0.5))


def logistic(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


def logit(p: float) -> float:
    p = min(max(p, EPSILON), 1 - EPSILON)
    return float(np.log(p / (1 - p)))
