"""Sentiment of free-text comments with VADER (a lexicon and rule model, no training, offline).

VADER's compound score runs from -1 (most negative) to +1. ``voc.scoring`` reads comments from the
engine in Arrow batches and scores each distinct text once.

Example:
    >>> compound(["The agent was rude and nothing got fixed."])[0] < -0.3
    True
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer


@cache
def _analyzer() -> SentimentIntensityAnalyzer:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def compound(texts: Iterable[str]) -> list[float]:
    """VADER compound score of each text (-1 to +1; 0 for an empty text)."""
    analyzer = _analyzer()
    return [float(analyzer.polarity_scores(text)["compound"]) if text else 0.0 for text in texts]
