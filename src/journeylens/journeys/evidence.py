"""What decided each journey's outcome (``journeys.outcome_evidence``), and feedback as evidence.

An outcome is *observed* when an event or an answer says how the journey ended, and *inferred*
when it is read from what did not happen (no repeat journey). Every journey names its evidence:

=========================  ==========  =========================================================
evidence                   outcome     rule
=========================  ==========  =========================================================
``success_event``          success     an event met the type's ``success`` criteria (observed;
                                       ``outcome_touchpoint`` names the first such event)
``no_repeat_after_contact``  success   ``resolved_without_repeat``: an assisted contact and no
                                       repeat journey of the type within the repeat window
``no_repeat_self_service``  success    ``self_service_without_repeat``: no assisted contact and
                                       no repeat journey within the repeat window (the customer
                                       solved it alone)
``failure_event``          failed      an event met the ``failure`` criteria (observed;
                                       ``outcome_touchpoint`` names it)
``negative_feedback``      failed      an inferred success that feedback linked to the journey
                                       contradicts (a score at or below ``[journeys.feedback]``
                                       thresholds: the customer gave up silently and said so)
``open``                   open        the last event is within the inactivity gap of the data's
                                       end, or a success by "no repeat" whose repeat window has
                                       not yet passed at the data's end
``no_outcome_event``       abandoned   nothing above: no success, no failure, no inferable end
``no_criteria``            unknown     the type defines no outcome at all
=========================  ==========  =========================================================

A silent give-up (the customer stopped trying, no event says so, no feedback was given) looks
like a resolution without repeat: that part is not observable from the data. Feedback linked to
the journey is the one signal that recovers some of it (a score at or below the metric's
threshold, or a comment VADER scores at or below ``comment_threshold``); ``journeylens bench`` (stage
``outcome_accuracy``) measures how much on synthetic worlds with ground truth.

Feedback is linked to a journey by its ``case_id`` (the journey's case), else by its customer:
the customer's most recent journey that started at or before the answer and ended at most
``[journeys.feedback] window`` before it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from journeylens._units import parse_duration
from journeylens.store.names import SCORE_RANGES

SUCCESS_EVENT = "success_event"
FAILURE_EVENT = "failure_event"
NO_REPEAT_AFTER_CONTACT = "no_repeat_after_contact"
NO_REPEAT_SELF_SERVICE = "no_repeat_self_service"
NEGATIVE_FEEDBACK = "negative_feedback"
OPEN = "open"
NO_OUTCOME_EVENT = "no_outcome_event"
NO_CRITERIA = "no_criteria"

EVIDENCE = (
    SUCCESS_EVENT, NO_REPEAT_AFTER_CONTACT, NO_REPEAT_SELF_SERVICE, FAILURE_EVENT, NEGATIVE_FEEDBACK,
    OPEN, NO_OUTCOME_EVENT, NO_CRITERIA,
)  # fmt: skip
"""Every value of ``journeys.outcome_evidence``."""
OBSERVED = (SUCCESS_EVENT, FAILURE_EVENT, NEGATIVE_FEEDBACK)
"""Evidence that an event or an answer shows (the rest is inferred from what did not happen)."""
INFERRED_SUCCESS = (NO_REPEAT_AFTER_CONTACT, NO_REPEAT_SELF_SERVICE)
"""Successes read from the absence of a repeat journey."""

DEFAULT_NEGATIVE = {"csat": 2.0, "ces": 3.0, "nps": 6.0, "rating": 4.0}
"""Scores at or below which an answer says the journey did not go well: CSAT 1-2 of 5, CES 1-3 of
7 (7 = very easy), NPS detractors (0-6), ratings 0-4 of 10."""


class FeedbackEvidence(BaseModel):
    """``[journeys.feedback]``: when an answer overrides a success inferred from "no repeat".

    Example (journeylens.toml)::

        [journeys.feedback]
        window = "7d"
        negative = { csat = 2, ces = 3, nps = 6 }
        comment_threshold = -0.3
    """

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(
        True, description="Negative feedback linked to a journey overrides an inferred success."
    )
    window: str = Field(
        "7d", description="Feedback up to this long after a journey's last event is about it."
    )
    negative: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_NEGATIVE),
        description="Per metric (nps, csat, ces, rating), the score at or below which an answer is "
        "negative. A metric left out never overrides.",
    )
    comments: bool = Field(
        True, description="A comment whose VADER compound score is at or below comment_threshold is "
        "negative whatever the score."
    )  # fmt: skip
    comment_threshold: float = Field(
        -0.3, description="VADER compound score (-1 to 1) at or below which a comment is negative."
    )

    @field_validator("comment_threshold")
    @classmethod
    def _compound(cls, value: float) -> float:
        if not -1 <= value < 1:
            raise ValueError(
                f"comment_threshold = {value:g} is outside VADER's compound scale -1 to 1 (at 1 every "
                "comment would be negative); e.g. comment_threshold = -0.3"
            )
        return value

    @field_validator("window")
    @classmethod
    def _duration(cls, value: str) -> str:
        if parse_duration(value) < 0:
            raise ValueError(f"{value!r} is negative; the feedback window is a duration such as '7d'")
        return value.strip()

    @field_validator("negative")
    @classmethod
    def _in_range(cls, value: dict[str, float]) -> dict[str, float]:
        for metric, threshold in value.items():
            if metric not in SCORE_RANGES:
                raise ValueError(f"unknown metric {metric!r}; feedback metrics are {', '.join(SCORE_RANGES)}")
            low, high = SCORE_RANGES[metric]
            if not low <= threshold < high:
                raise ValueError(
                    f"negative.{metric} = {threshold:g} is outside {metric}'s scale {low:g}-{high:g} "
                    f"(at {high:g} or above every answer would be negative); e.g. "
                    f"{metric} = {DEFAULT_NEGATIVE[metric]:g}"
                )
        return value

    @model_validator(mode="after")
    def _usable(self) -> FeedbackEvidence:
        if self.enabled and parse_duration(self.window) == 0:
            raise ValueError(
                "window is 0, so no answer after a journey can be linked to it; set e.g. window = "
                '"7d", or enabled = false'
            )
        return self

    def seconds(self) -> int:
        return int(parse_duration(self.window))
