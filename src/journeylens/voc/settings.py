"""``[voc]`` settings: how feedback text is scored (read at start-up, so no engine here).

Example (journeylens.toml)::

    [voc.sentiment]
    mode = "auto"            # learned once enough labelled text exists, else the lexicon
    label_property = "label" # an explicit label column, when the feedback files have one
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from journeylens.contacts.settings import ContactsSettings

MIN_LABELLED = 200
"""Labelled comments needed before ``auto`` learns a model (and at least :data:`MIN_PER_CLASS` of
each class): below that, 5-fold cross-validation has under 40 comments per fold and its AUC says
little."""
MIN_PER_CLASS = 30


class SentimentSettings(BaseModel):
    """``[voc.sentiment]``: which model scores comments, and where its labels come from.

    Labels: a comment is *negative* when its answer's score is at or below the metric's threshold
    in ``[journeys.feedback] negative`` (NPS 0-6, CSAT 1-2, ...), and *not negative* above it; a
    row whose ``label_property`` says otherwise is labelled by that instead. Text-only feedback has
    no label: it is what the model is for.
    """

    model_config = ConfigDict(extra="forbid")

    mode: Literal["auto", "learned", "lexicon"] = Field(
        "auto",
        description="auto: the learned model once enough labelled text exists, else the lexicon "
        "(VADER); learned: the same, but says when it cannot learn; lexicon: VADER only.",
    )
    min_labelled: int = Field(MIN_LABELLED, ge=20, description="Labelled comments needed to learn a model.")
    min_per_class: int = Field(
        MIN_PER_CLASS, ge=5, description="Negative and not-negative comments each needed to learn."
    )
    label_property: str | None = Field(
        None,
        description="A property of feedback rows (a source column outside the model) that labels the "
        "comment; it wins over the score.",
    )
    negative_labels: list[str] = Field(
        default_factory=lambda: ["negative", "neg", "0", "false", "no"],
        description="Values of label_property that mean negative (case-insensitive); any other "
        "non-empty value means not negative.",
    )
    max_train: int = Field(
        100_000,
        ge=100,
        description="At most this many labelled comments train the model (a fixed sample by hash "
        "of feedback_id when there are more).",
    )
    folds: int = Field(5, ge=2, le=20, description="Cross-validation folds when training.")

    @field_validator("negative_labels")
    @classmethod
    def _lower(cls, values: list[str]) -> list[str]:
        return [v.strip().lower() for v in values if v.strip()]


class VocSettings(BaseModel):
    """``[voc]``: voice of the customer."""

    model_config = ConfigDict(extra="forbid")

    sentiment: SentimentSettings = Field(default_factory=SentimentSettings)
    contacts: ContactsSettings = Field(default_factory=ContactsSettings)
