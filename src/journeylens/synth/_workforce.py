"""The employees behind the contacts: engagement, training, and what they do to resolution.

Two effects are planted on top of agent skill (see :mod:`.population`), each a lift of the
probability that an assisted contact resolves the problem (so, at the first contact, of
first-contact resolution):

- **Team engagement.** Each team has a latent engagement level (1-5) per calendar month: the
  team's base plus a monthly deviation that averages to zero over the window. A contact handled
  in month ``m`` by a team ``t`` agent gets ``engagement_slope * deviation[t, m]``: a team
  resolves more in its more engaged months, and its average over the window is its skill.
  Engagement is observed only through monthly ``engagement`` answers (1-5) of the team's agents
  in ``employee_feedback``, and an ``enps`` answer (0-10) in the middle of the window.
- **Training.** A random ``trained_share`` of agents completes a coaching course at a random
  time in the middle fifth of the window (an ``employee_feedback`` row with metric ``training``
  and no score); every contact they handle afterwards gets ``training_lift``.

Agents are chosen for training at random (not for being weak), so a before/after comparison of
trained agents against untrained ones is unconfounded apart from sampling noise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from journeylens.synth import _ids as ids
from journeylens.synth import _parameters as par
from journeylens.synth._events import DAY, MICROS, FloatArray, IntArray, Window
from journeylens.synth.population import Agents

TIMESTAMP = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class WorkforceParameters:
    """The planted engagement and training effects (recorded in ``ground_truth.json``)."""

    team_engagement: tuple[float, ...] = (3.6, 3.3, 3.0, 3.5, 3.1)
    """Base engagement (1-5) of each team of ``TEAMS``, in order."""
    monthly_deviation_sd: float = 0.5
    engagement_slope: float = 0.08
    """Lift of P(resolved at a contact) per engagement point above the team's own average."""
    agent_offset_sd: float = 0.4
    answer_noise_sd: float = 0.5
    response_rate: float = 0.85
    trained_share: float = 0.3
    training_window: tuple[float, float] = (0.4, 0.6)
    """Training happens between these fractions of the window."""
    training_lift: float = 0.08
    """Lift of P(resolved at a contact) for contacts after the agent's training."""


WORKFORCE = WorkforceParameters()


def contact_again() -> float:
    """P(another contact after an unresolved agent contact), averaged over support subtypes.

    A customer who gives up silently after an unresolved contact looks resolved to a behavioural
    model (one contact, no repeat), so a lift of P(resolved) shows in measured first-contact
    resolution multiplied by this share (repeat journeys of the same type dilute it a little more).
    """
    s = par.SUPPORT
    call = np.mean([mix[0] / sum(mix[:4]) for mix in s.route_mix])
    again = s.repeat_probability
    return float(call * (s.callback_share + (1 - s.callback_share) * again) + (1 - call) * again)


@dataclass(frozen=True)
class Workforce:
    """Planted engagement and training; called as the ``lift`` of :class:`.population.Agents`."""

    team: IntArray
    month_start: FloatArray
    """Day (since the window start) each calendar month begins, plus the window's end."""
    deviation: FloatArray
    """Engagement deviation per team and month, [team, month], each row averaging zero."""
    trained_day: FloatArray
    """Day each agent completed training (NaN: never)."""
    params: WorkforceParameters

    def month_of(self, day: FloatArray) -> IntArray:
        last = len(self.month_start) - 2
        return np.clip(np.searchsorted(self.month_start, day, side="right") - 1, 0, last)

    def __call__(self, agent: IntArray, day: FloatArray) -> FloatArray:
        """Lift of P(resolve) for contacts of ``agent`` (-1: none) on ``day`` (NaN: unknown)."""
        agent, day = np.asarray(agent), np.asarray(day, dtype=np.float64)
        known = (agent >= 0) & ~np.isnan(day)
        a = np.maximum(agent, 0)
        d = np.nan_to_num(day)
        engaged = self.params.engagement_slope * self.deviation[self.team[a], self.month_of(d)]
        trained = np.nan_to_num(self.trained_day[a], nan=np.inf) <= d
        return np.where(known, engaged + self.params.training_lift * trained, 0.0)


def build_workforce(seed: int, agents: Agents, window: Window) -> Workforce:
    """Engagement by team and month and the training schedule (its own random stream)."""
    p = WORKFORCE
    rng = np.random.default_rng([seed, 0xE4F])
    start = np.datetime64(window.start_us, "us")
    first = start.astype("datetime64[M]")
    end = start + np.timedelta64(int(window.days * DAY), "s")
    months = np.arange(first, (end - np.timedelta64(1, "us")).astype("datetime64[M]") + 1)
    edges = (months.astype("datetime64[us]") - start).astype(np.int64) / (DAY * MICROS)
    month_start = np.append(np.maximum(edges, 0.0), float(window.days))
    deviation = rng.normal(0.0, p.monthly_deviation_sd, (len(par.TEAMS), len(months)))
    deviation -= deviation.mean(axis=1, keepdims=True)
    n = len(agents.team)
    trained = rng.random(n) < p.trained_share
    lo, hi = p.training_window
    trained_day = np.where(trained, rng.uniform(lo, hi, n) * window.days, np.nan)
    return Workforce(agents.team, month_start, deviation, trained_day, p)


def employee_feedback(seed: int, agents: Agents, workforce: Workforce, window: Window) -> pa.Table:
    """Monthly engagement answers, one mid-window eNPS answer, and training completions."""
    p = workforce.params
    rng = np.random.default_rng([seed, 0xE4F, 1])
    n, months = len(agents.team), len(workforce.month_start) - 1
    offset = rng.normal(0.0, p.agent_offset_sd, n)
    base = np.array(p.team_engagement)[agents.team]
    latent = base[:, None] + workforce.deviation[agents.team] + offset[:, None]
    engagement = np.clip(np.round(latent + rng.normal(0, p.answer_noise_sd, (n, months))), 1, 5)
    middle = (workforce.month_start[:-1] + workforce.month_start[1:]) / 2
    answer_day = middle[None, :] + rng.uniform(-3, 3, (n, months))
    answered = rng.random((n, months)) < p.response_rate
    agent_e, month_e = np.nonzero(answered)
    mid = window.days / 2
    enps_agent = np.flatnonzero(rng.random(n) < p.response_rate)
    enps_latent = latent[enps_agent, workforce.month_of(np.full(len(enps_agent), mid))]
    enps = np.clip(np.round(2.5 * (enps_latent - 1) + rng.normal(0, 1.0, len(enps_agent))), 0, 10)
    trained = np.flatnonzero(~np.isnan(workforce.trained_day))
    agent = np.concatenate([agent_e, enps_agent, trained])
    day = np.concatenate(
        [
            answer_day[agent_e, month_e],
            mid + rng.uniform(0, 2, len(enps_agent)),
            workforce.trained_day[trained],
        ]
    )
    metric = np.concatenate(
        [np.zeros(len(agent_e), np.int64), np.ones(len(enps_agent), np.int64), np.full(len(trained), 2)]
    )
    score = np.concatenate([engagement[agent_e, month_e], enps, np.full(len(trained), np.nan)])
    order = np.lexsort((agent, day))
    micros = window.start_us + np.floor(day[order] * DAY * 1000).astype(np.int64) * 1000
    comment = np.where(metric[order] == 2, 1, 0)
    return pa.table(
        {
            "agent_id": ids.take(agents.table.column("agent_id").combine_chunks(), agent[order]),
            "timestamp": pa.array(micros, type=TIMESTAMP),
            "metric": ids.take(pa.array(["engagement", "enps", "training"]), metric[order]),
            "score": pa.array(score[order], mask=np.isnan(score[order])),
            "comment": ids.take(
                pa.array([None, "coaching course: first-contact resolution"], pa.string()), comment
            ),
        }
    )


def workforce_truth(agents: Agents, start: str) -> dict[str, Any]:
    """The planted effects and every agent's true skill, for ``ground_truth.json``."""
    workforce = agents.lift
    if not isinstance(workforce, Workforce):
        return {}
    months = np.arange(len(workforce.month_start) - 1)
    first = np.datetime64(start, "M")
    return {
        "parameters": asdict(workforce.params),
        "contact_again_after_unresolved": round(contact_again(), 4),
        "observable_fcr_lift": {
            "engagement_per_point": round(workforce.params.engagement_slope * contact_again(), 4),
            "training": round(workforce.params.training_lift * contact_again(), 4),
            "why": "A lift of P(resolved) shows in measured first-contact resolution times "
            "contact_again_after_unresolved: a customer who gives up silently after an unresolved "
            "contact looks resolved to a behavioural model.",
        },
        "effects": "P(resolved at an assisted contact) = base[topic] + skill_slope * (skill - 0.65) "
        "- decay * previous contacts + engagement_slope * (team engagement in the contact's "
        "month - the team's average engagement) + training_lift * (contact after the agent's "
        "training), clipped. Engagement answers (1-5) are round(team base + monthly deviation + "
        "agent offset + noise); months are calendar months (UTC).",
        "engagement_deviation": {
            team.name: {str(first + m): round(float(workforce.deviation[t, m]), 4) for m in months}
            for t, team in enumerate(par.TEAMS)
        },
        "agents": [
            {
                "agent_id": agent_id,
                "team": par.TEAMS[int(workforce.team[i])].name,
                "skill": round(float(agents.skill[i]), 4),
                "trained_day": None
                if np.isnan(workforce.trained_day[i])
                else round(float(workforce.trained_day[i]), 4),
            }
            for i, agent_id in enumerate(agents.table.column("agent_id").to_pylist())
        ],
    }
