"""A sentiment model learned from the workspace's own feedback: TF-IDF of word and character
n-grams, then logistic regression (scikit-learn), cross-validated when it is trained.

Features are hashed (``HashingVectorizer``), so the model is nothing but numbers — the inverse
document frequencies, the coefficients and the intercept — and scoring needs no vocabulary: any
batch of texts can be scored on its own, which is how comments are streamed from the engine. The
model is stored as those arrays (``numpy.savez``), never as a pickle, so opening a workspace cannot
run code.

Example:
    >>> texts = ["love it", "great sound", "broken, awful", "stopped working, useless"] * 20
    >>> model = train(texts, [0, 0, 1, 1] * 20, folds=2)
    >>> bool(model.negative_probability(["awful and broken"])[0] > 0.5)
    True
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Sequence

    from scipy.sparse import csr_matrix

HASH_BITS = 18
"""Each of the two feature spaces (words, characters) has 2**HASH_BITS buckets."""
C = 4.0
"""Inverse regularisation strength of the logistic regression (chosen on the Alexa reviews and
held fixed: 1, 4 and 10 gave AUC within 0.01 of each other)."""


def featurize(texts: Sequence[str]) -> csr_matrix:
    """Hashed counts of word 1-2-grams and character 2-5-grams (within word boundaries), side by
    side; lower-cased. The same texts give the same matrix in every process."""
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import HashingVectorizer

    common: dict[str, Any] = {"n_features": 2**HASH_BITS, "alternate_sign": False, "norm": None}
    words = HashingVectorizer(ngram_range=(1, 2), **common)
    chars = HashingVectorizer(analyzer="char_wb", ngram_range=(2, 5), **common)
    texts = list(texts)
    return hstack([words.transform(texts), chars.transform(texts)]).tocsr()


def _tfidf(counts: csr_matrix, idf: np.ndarray) -> csr_matrix:
    """Sub-linear TF times IDF, rows scaled to unit length (as ``TfidfTransformer`` does)."""
    from sklearn.preprocessing import normalize

    weighted = counts.astype(np.float64)
    weighted.data = np.log(weighted.data) + 1.0
    weighted = weighted.multiply(idf).tocsr()
    return normalize(weighted)


def _idf(counts: csr_matrix) -> np.ndarray:
    """Smoothed inverse document frequency, ``ln((1 + n) / (1 + df)) + 1``."""
    n = counts.shape[0]
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    return np.log((1.0 + n) / (1.0 + df)) + 1.0


@dataclass(frozen=True)
class TextModel:
    """A trained model: its arrays, and what is known about how well it does."""

    idf: np.ndarray
    coef: np.ndarray
    intercept: float
    metrics: dict[str, Any] = field(default_factory=dict)
    """``cv_auc`` (mean over folds), ``cv_auc_folds``, ``folds``, ``labelled``, ``negative``,
    ``trained_on`` (rows used to fit), and whatever the caller adds (the data it was trained on)."""

    def negative_probability(self, texts: Sequence[str]) -> np.ndarray:
        """P(negative) of each text."""
        scores = _tfidf(featurize(texts), self.idf) @ self.coef + self.intercept
        return np.asarray(1.0 / (1.0 + np.exp(-scores)), dtype=np.float64)

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            idf=self.idf.astype(np.float32),
            coef=self.coef.astype(np.float32),
            intercept=self.intercept,
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, metrics: dict[str, Any]) -> TextModel:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            return cls(
                idf=arrays["idf"].astype(np.float64),
                coef=arrays["coef"].astype(np.float64),
                intercept=float(arrays["intercept"]),
                metrics=metrics,
            )


def _fit(counts: csr_matrix, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression

    idf = _idf(counts)
    model = LogisticRegression(C=C, max_iter=2000, class_weight="balanced")
    model.fit(_tfidf(counts, idf), labels)
    return idf, model.coef_[0].astype(np.float64), float(model.intercept_[0])


def train(texts: Sequence[str], labels: Sequence[int], *, folds: int = 5, seed: int = 0) -> TextModel:
    """Fit on every labelled text (1 = negative) after ``folds``-fold stratified cross-validation.

    The IDF is refitted inside each fold, so the folds' AUC is what unseen text gets.
    """
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(labels, dtype=np.int64)
    counts = featurize(texts)
    aucs: list[float] = []
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fit_rows, held_rows in splitter.split(np.zeros(len(y)), y):
        idf, coef, intercept = _fit(counts[fit_rows], y[fit_rows])
        held = _tfidf(counts[held_rows], idf) @ coef + intercept
        aucs.append(float(roc_auc_score(y[held_rows], held)))
    idf, coef, intercept = _fit(counts, y)
    metrics = {
        "cv_auc": float(np.mean(aucs)),
        "cv_auc_folds": [round(a, 4) for a in aucs],
        "folds": folds,
        "labelled": len(y),
        "negative": int(y.sum()),
        "trained_on": len(y),
    }
    return TextModel(idf=idf, coef=coef, intercept=intercept, metrics=metrics)
