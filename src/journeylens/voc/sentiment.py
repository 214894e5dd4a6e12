"""Sentiment of free-text comments with VADER (a lexicon and rule model, no training, offline).

VADER's compound score runs from -1 (most negative) to +1. Comments are read from the engine in
Arrow batches and each distinct text is scored once; only the scores go back to the engine, as a
working table keyed by ``feedback_id``.

Example:
    >>> compound(["The agent was rude and nothing got fixed."])[0] < -0.3
    True
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ibis.expr.types as ir
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from journeylens.store import Store

NEGATIVE_TONE = "_jl_negative_comments"
"""Working table of :func:`negative_comments` (dropped by the journey build)."""
BATCH = 50_000


@cache
def _analyzer() -> SentimentIntensityAnalyzer:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def compound(texts: Iterable[str]) -> list[float]:
    """VADER compound score of each text (-1 to +1; 0 for an empty text)."""
    analyzer = _analyzer()
    return [float(analyzer.polarity_scores(text)["compound"]) if text else 0.0 for text in texts]


def negative_comments(store: Store, feedback: ir.Table, threshold: float) -> ir.Table:
    """A working table of the ``feedback_id`` of every answer whose comment's compound score is at
    or below ``threshold``.

    Args:
        store: where the feedback lives (the table is written there).
        feedback: answers with ``feedback_id`` and ``comment``.
        threshold: compound score at or below which a comment is negative (-1 to 1).
    """
    import ibis
    import pyarrow as pa
    import pyarrow.compute as pc

    from journeylens.store._backend import scratch_table

    said = feedback.filter(feedback.comment.notnull() & (feedback.comment.strip() != ""))
    texts = said.select("comment").distinct()
    negative: list[str] = []
    for batch in store.backend.to_pyarrow_batches(texts, chunk_size=BATCH):
        column = batch.column(0)
        scores = pa.array(compound(column.to_pylist()), type=pa.float64())
        negative.extend(pc.filter(column, pc.less_equal(scores, threshold)).to_pylist())
    bad = ibis.memtable(pa.table({"_text": pa.array(negative, type=pa.string())}))
    ids = said.join(bad, said.comment == bad._text).select("feedback_id").distinct()
    return scratch_table(store.backend, NEGATIVE_TONE, ids)
