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


THEME_MIN_LABELLED = 100
"""Labelled comments needed before the theme classifier is learned: with fewer, each of five
held-out folds has under 20 comments and its accuracy moves by 0.05 with a single comment."""
THEME_MIN_PER_CLASS = 20
"""A theme needs this many labelled comments to be a class of the classifier (4 per held-out fold)."""


class ThemeSettings(BaseModel):
    """``[voc.themes]``: where the taxonomy is and how the theme classifier learns.

    Labels: a comment is labelled with a theme when its ``label_property`` names the theme (or one
    of the theme's ``reasons``), else when the journey it is linked to states a ``contact_reason``
    listed under a theme's ``reasons``. Unlabelled comments no keyword matched get the
    classifier's theme when it is at least ``min_probability`` sure.
    """

    model_config = ConfigDict(extra="forbid")

    file: str = Field("themes.yaml", description="The taxonomy, relative to the workspace folder.")
    classifier: Literal["auto", "off"] = Field(
        "auto", description="auto: learn one once enough labelled comments exist; off: the taxonomy only."
    )
    label_property: str | None = Field(
        None, description="A property of feedback rows that names the comment's theme (or a reason)."
    )
    min_labelled: int = Field(THEME_MIN_LABELLED, ge=20, description="Labelled comments needed to learn.")
    min_per_class: int = Field(
        THEME_MIN_PER_CLASS, ge=5, description="Labelled comments a theme needs to be learned."
    )
    min_probability: float = Field(
        0.5, gt=0.0, lt=1.0, description="The classifier's theme is kept when at least this probable."
    )
    max_train: int = Field(50_000, ge=100, description="At most this many labelled comments train it.")
    folds: int = Field(5, ge=2, le=20, description="Cross-validation folds when training.")


class VocSettings(BaseModel):
    """``[voc]``: voice of the customer."""

    model_config = ConfigDict(extra="forbid")

    sentiment: SentimentSettings = Field(default_factory=SentimentSettings)
    contacts: ContactsSettings = Field(default_factory=ContactsSettings)
    themes: ThemeSettings = Field(default_factory=ThemeSettings)
