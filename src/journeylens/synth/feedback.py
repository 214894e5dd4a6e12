"""Survey answers (NPS, CSAT, CES) whose scores and comments follow the experience.

Each invitation carries a latent *experience* computed by its journey simulator (resolved at
the first contact by a skilled agent is high; repeat contacts, friction and unresolved problems
are low). A share of invitees answer; the score is a noisy logistic map of the experience onto
the metric's scale; the comment's tone follows the score and its subject follows the journey's
theme (billing, delivery, usability, product quality, confusing marketing).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from journeylens.synth import _catalogue as cat
from journeylens.synth import _ids as ids
from journeylens.synth import _parameters as par
from journeylens.synth._batch import SurveyInvite
from journeylens.synth._events import DAY, HOUR, BoolArray, FloatArray, IntArray, waits

# metric -> (lowest, highest, slope, intercept, noise sd, negative at or below, positive at or above)
SCALES: dict[int, tuple[float, float, float, float, float, float, float]] = {
    cat.NPS: (0, 10, 1.4, 0.9, 0.8, 6, 9),
    cat.CSAT: (1, 5, 1.4, 0.5, 0.4, 2, 4),
    cat.CES: (1, 7, 1.4, 0.7, 0.5, 3, 6),
}
SCORE_MODEL = (
    "score = clip(round(low + (high - low) * sigmoid(slope * experience + intercept) + N(0, sd))); "
    "experience (per journey) rises with resolution and agent skill and falls with repeat "
    "contacts, payment errors, the billing FAQ and confusing promotions. Tone: negative at or "
    "below the first threshold (NPS <= 6, CSAT <= 2, CES <= 3), positive at or above the second "
    "(NPS >= 9, CSAT >= 4, CES >= 6; CES 7 = very easy)."
)


@dataclass(frozen=True)
class Answers:
    """Answered surveys of a chunk (one entry per answer), codes plus the comment text."""

    invite: SurveyInvite
    """The invitations that were answered (aligned with the other fields)."""
    seconds: FloatArray
    """Answer time, seconds since the window start."""
    score: FloatArray
    tone: IntArray
    comment: pa.Array

    def __len__(self) -> int:
        return len(self.seconds)


def answer_surveys(
    rng: np.random.Generator, invites: SurveyInvite, start: FloatArray, kept: BoolArray
) -> Answers:
    """Decide who answers, when, with which score and comment."""
    n = len(invites.journey)
    answered = kept[invites.journey] & (rng.random(n) < par.SURVEYS.response_rate)
    rows = np.flatnonzero(answered)
    invite = SurveyInvite(**{k: getattr(invites, k)[rows] for k in invites.__dataclass_fields__})
    m = len(rows)
    seconds = start[invite.journey] + invite.offset + waits(rng, m, 3 * HOUR, 1.2, (300, 5 * DAY))
    score = np.zeros(m)
    tone = np.full(m, cat.NEUTRAL)
    noise = rng.normal(0.0, 1.0, m)
    for metric, (low, high, slope, intercept, sd, negative, positive) in SCALES.items():
        at = invite.metric == metric
        p = 1.0 / (1.0 + np.exp(-(slope * invite.experience[at] + intercept)))
        score[at] = np.clip(np.round(low + (high - low) * p + sd * noise[at]), low, high)
        tone[at] = np.where(
            score[at] <= negative, cat.NEGATIVE, np.where(score[at] >= positive, cat.POSITIVE, cat.NEUTRAL)
        )
    return Answers(invite, seconds, score, tone, comments(rng, invite, tone))


def _table(entries: tuple[str | None, ...]) -> pa.Array:
    return pa.array(list(entries), type=pa.string())


_OPENERS = _table(tuple(o for tone in cat.COMMENT_OPENERS for o in tone))
_BODIES = _table(tuple(b for tone in cat.COMMENT_BODIES for theme in tone for b in theme))
_REPEATS = _table(cat.REPEAT_SENTENCES)
_AGENTS = _table(cat.AGENT_SENTENCES[cat.NEGATIVE] + cat.AGENT_SENTENCES[cat.POSITIVE])
_VARIANTS = len(cat.COMMENT_BODIES[0][0])


def comments(rng: np.random.Generator, invite: SurveyInvite, tone: IntArray) -> pa.Array:
    """Free-text comments: mostly present, some missing (null) and a few empty strings."""
    n = len(tone)
    per_tone = len(cat.COMMENT_OPENERS[0])
    opener = ids.take(_OPENERS, tone * per_tone + rng.integers(0, per_tone, n))
    body_index = (tone * len(cat.THEMES) + invite.theme) * _VARIANTS + rng.integers(0, _VARIANTS, n)
    body = ids.take(_BODIES, body_index)
    repeat_valid = invite.repeat & (tone == cat.NEGATIVE)
    repeat = ids.take(_REPEATS, rng.integers(0, len(_REPEATS), n), repeat_valid)
    agent_valid = (invite.agent >= 0) & (tone != cat.NEUTRAL) & (rng.random(n) < 0.5)
    per_agent = len(cat.AGENT_SENTENCES[cat.NEGATIVE])
    agent_index = (tone == cat.POSITIVE) * per_agent + rng.integers(0, per_agent, n)
    agent = ids.take(_AGENTS, agent_index, agent_valid)
    text = ids.join_present([opener, body, repeat, agent], " ")
    # Some people type in lower case without the final full stop.
    casual = pa.array(rng.random(n) < 0.15)
    text = pc.if_else(casual, pc.utf8_rtrim(pc.utf8_lower(text), characters="."), text)
    written = pa.array(rng.random(n) < par.SURVEYS.comment_rate)
    blank = pa.array(rng.random(n) < 0.15)
    empty = pc.if_else(blank, pa.scalar("", pa.string()), pa.scalar(None, pa.string()))
    return pc.if_else(written, text, empty)
