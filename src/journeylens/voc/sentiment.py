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


CHUNK = 2_000
"""Texts longer than this many characters are scored in pieces of about this size (cut at a space)
and the pieces' scores averaged, weighted by length: VADER looks each word up with ``list.index``,
so its time grows with the square of the text (a 200 kB comment took minutes; in pieces, 0.1 s)."""


def compound(texts: Iterable[str]) -> list[float]:
    """VADER compound score of each text (-1 to +1; 0 for an empty text)."""
    analyzer = _analyzer()
    return [_score(analyzer, text) if text else 0.0 for text in texts]


def _score(analyzer: SentimentIntensityAnalyzer, text: str) -> float:
    if len(text) <= CHUNK:
        return float(analyzer.polarity_scores(text)["compound"])
    pieces, start = [], 0
    while start < len(text):
        end = min(start + CHUNK, len(text))
        if end < len(text):
            cut = text.rfind(" ", start + CHUNK // 2, end)
            end = cut if cut > start else end
        pieces.append(text[start:end])
        start = end
    weights = [len(p) for p in pieces]
    scores = [float(analyzer.polarity_scores(p)["compound"]) for p in pieces]
    return sum(w * v for w, v in zip(weights, scores, strict=True)) / sum(weights)
