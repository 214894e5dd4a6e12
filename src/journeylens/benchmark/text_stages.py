"""Benchmark stages for feedback text (issue 15): sentiment of one comment per event of the run.

A preparation writes ``comments.parquet`` (untimed, cached with the data): as many comments as the
run has events, each two to four sentences drawn from the synthetic world's comment bodies
(``synth._catalogue.COMMENT_BODIES``) and a reference number that makes it unique, with an NPS
score that follows the tone on 70% of them and no score (text only) on the rest — and loads them
into a workspace as feedback.

- ``floor_text_predict``: scikit-learn's own pipeline on the same comments read from the Parquet
  file — the same hashed word and character n-gram TF-IDF, ``LogisticRegression`` fitted on the
  same training sample, ``predict_proba`` over every comment in batches. No engine, no table.
- ``sentiment_learned``: ``voc.scoring.write_sentiment`` in learned mode on the workspace: labels
  from the scores in the engine, the training sample, 5-fold cross-validation (which the floor
  does not do), then every distinct comment streamed from the engine, scored, and
  ``feedback_sentiment`` written back.
- ``sentiment_lexicon``: the same with VADER (no training), for its comments per second.

All three count comments; peak memory is each stage's own process.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from journeylens.benchmark.stages import _fresh_workspace, preparation, stage
from journeylens.ingest import IngestSpec

COMMENTS = "comments"
"""The prepared comments (a Parquet file of the run's data) loaded into a workspace."""
FILE = "comments-v2.parquet"
"""Named with the layout's version: a cached file of an older layout is not reused."""
WORKSPACE = "comments_ws"
TRAIN = 20_000
"""Labelled comments both the floor and JourneyLens learn from (``[voc.sentiment] max_train``)."""
NEGATIVE_NPS = 6.0
BATCH = 20_000


def comment_table(n: int, seed: int = 15) -> pa.Table:
    """``n`` comments of 2-4 sentences; tone 0 negative, 1 neutral, 2 positive; NPS on 70%."""
    from journeylens.synth._catalogue import COMMENT_BODIES

    rng = np.random.default_rng(seed)
    tone = rng.choice(3, size=n, p=[0.25, 0.25, 0.5])
    pools = [[b for theme in bodies for b in theme] for bodies in COMMENT_BODIES]
    sentences = rng.integers(2, 5, size=n)
    # Real comments are nearly all distinct; sentences from a small pool are not, and scoring each
    # distinct text once would flatter JourneyLens. A reference number makes every comment unique.
    texts = [
        " ".join(pools[t][i] for i in rng.integers(0, len(pools[t]), size=k)) + f" Ref {n}."
        for n, (t, k) in enumerate(zip(tone.tolist(), sentences.tolist(), strict=True))
    ]
    centre = np.array([3.0, 7.5, 9.5])[tone] + rng.normal(0, 1.0, n)
    score = np.clip(np.round(centre), 0, 10)
    scored = rng.random(n) < 0.7
    return pa.table(
        {
            "feedback_id": pa.array([f"c{i}" for i in range(n)]),
            "timestamp": pa.array(np.full(n, np.datetime64("2026-01-01T00:00:00", "us")) + np.arange(n)),
            "metric": pa.array(np.where(scored, "nps", "text")),
            "score": pa.array(np.where(scored, score, np.nan), mask=~scored),
            "comment": pa.array(texts),
        }
    )


@preparation(COMMENTS)
def write_comments(data: Path, work: Path, memory_limit: str | None) -> int:
    """The comments file (unless cached) and a workspace with them loaded as feedback."""
    return load_comments(data, work, FILE, WORKSPACE, comment_table)


def load_comments(data: Path, work: Path, file: str, workspace: str, make: Callable[[int], pa.Table]) -> int:
    """Write ``file`` with ``make(events of the run)`` unless it is cached with that many rows, and
    load it as feedback into a fresh workspace ``workspace``."""
    path = data / file
    events = int((data / "events.count").read_text())
    if not path.exists() or pq.ParquetFile(path).metadata.num_rows != events:
        partial = data / f"{file}.partial"
        pq.write_table(make(events), partial)
        partial.rename(path)
    ws = _fresh_workspace(work, workspace)
    [report] = ws.ingest(IngestSpec(paths=[str(path)], table="feedback"))
    ws.close()
    return report.loaded


def _labelled(table: pa.Table) -> tuple[list[str], np.ndarray]:
    """The training sample: the first :data:`TRAIN` comments with a score, by MD5 of their id
    (as ``voc.scoring`` samples), labelled negative at NPS 6 or below."""
    scored = table.filter(pc.is_valid(table.column("score")))
    order = md5_first(scored.column("feedback_id").to_pylist(), TRAIN)
    texts = scored.column("comment").to_pylist()
    scores = scored.column("score").to_numpy(zero_copy_only=False)
    return [texts[i] for i in order], (scores[order] <= NEGATIVE_NPS).astype(np.int64)


def hashed_counts() -> Callable[[list[str]], Any]:
    """scikit-learn's own hashed counts of word 1-2-grams and character 2-5-grams, side by side
    (the features ``voc.text_model`` computes, built here from scikit-learn alone)."""
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import HashingVectorizer

    common: dict[str, Any] = {"n_features": 2**18, "alternate_sign": False, "norm": None}
    words = HashingVectorizer(ngram_range=(1, 2), **common)
    chars = HashingVectorizer(analyzer="char_wb", ngram_range=(2, 5), **common)

    def counts(texts: list[str]) -> Any:
        return hstack([words.transform(texts), chars.transform(texts)]).tocsr()

    return counts


def md5_first(ids: list[str], limit: int) -> list[int]:
    """Positions of the first ``limit`` ids by MD5 (the order ``voc`` samples training data in)."""
    import hashlib

    return sorted(range(len(ids)), key=lambda i: hashlib.md5(ids[i].encode()).hexdigest())[:limit]


@stage(
    "floor_text_predict",
    "scikit-learn's own TF-IDF (hashed word and character n-grams) + LogisticRegression predict_proba "
    "over every comment of the Parquet file (the floor; rows: comments)",
    needs=COMMENTS,
    unit="comments",
)
def floor_text_predict(data: Path, work: Path) -> int:
    from sklearn.linear_model import LogisticRegression

    table = pq.read_table(data / FILE, columns=["feedback_id", "comment", "score"])
    texts, labels = _labelled(table)
    model = LogisticRegression(C=4.0, max_iter=2000, class_weight="balanced")
    return fit_and_predict(data / FILE, texts, labels, model)


def fit_and_predict(path: Path, texts: list[str], labels: Any, model: Any) -> int:
    """scikit-learn alone: TF-IDF of :func:`hashed_counts` and ``model`` fitted on the training
    texts, then ``predict_proba`` over every comment of the Parquet file ``path`` in batches."""
    from sklearn.feature_extraction.text import TfidfTransformer

    counts = hashed_counts()
    tfidf = TfidfTransformer(sublinear_tf=True).fit(counts(texts))
    model.fit(tfidf.transform(counts(texts)), labels)
    rows = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH, columns=["comment"]):
        model.predict_proba(tfidf.transform(counts(batch.column(0).to_pylist())))
        rows += batch.num_rows
    return rows


def _score(work: Path, mode: str) -> int:
    from journeylens.voc.scoring import SENTIMENT, write_sentiment
    from journeylens.voc.settings import SentimentSettings
    from journeylens.workspace import Workspace

    ws = Workspace.open(work / WORKSPACE)
    settings = SentimentSettings(mode=mode, max_train=TRAIN)
    built = write_sentiment(ws.store, settings, {"nps": NEGATIVE_NPS}, retrain=True)
    assert built.model == mode, built.note
    rows = int(ws.store.execute(ws.store.backend.table(SENTIMENT).count()).as_py())
    ws.close()
    return rows


@stage(
    "sentiment_learned",
    "feedback sentiment, learned mode: weak labels in the engine, training with 5-fold CV, every "
    "distinct comment streamed and scored, feedback_sentiment written (rows: comments)",
    floor="floor_text_predict",
    needs=COMMENTS,
    unit="comments",
)
def sentiment_learned(data: Path, work: Path) -> int:
    return _score(work, "learned")


@stage(
    "sentiment_lexicon",
    "feedback sentiment, lexicon mode (VADER): every distinct comment streamed and scored, "
    "feedback_sentiment written (rows: comments)",
    floor="floor_text_predict",
    needs=COMMENTS,
    unit="comments",
)
def sentiment_lexicon(data: Path, work: Path) -> int:
    return _score(work, "lexicon")
