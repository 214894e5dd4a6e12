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
        return _pack(idf=self.idf, coef=self.coef, intercept=np.array(self.intercept))

    @classmethod
    def from_bytes(cls, data: bytes, metrics: dict[str, Any]) -> TextModel:
        arrays = _unpack(data)
        return cls(arrays["idf"], arrays["coef"], float(arrays["intercept"]), metrics)


def _pack(**arrays: np.ndarray) -> bytes:
    """Arrays as compressed ``.npz`` bytes (float32; text arrays as they are): no pickle."""
    buffer = io.BytesIO()
    stored: dict[str, Any] = {
        k: a.astype(np.float32) if a.dtype.kind == "f" else a for k, a in arrays.items()
    }
    np.savez_compressed(buffer, **stored)
    return buffer.getvalue()


def _unpack(data: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
        return {k: arrays[k].astype(np.float64) if arrays[k].dtype.kind == "f" else arrays[k] for k in arrays}


def _logistic(features: csr_matrix, labels: np.ndarray) -> tuple[np.ndarray, float]:
    """Coefficients and intercept of a balanced logistic regression (labels 0/1).

    Only the hashed features some text has are fitted: an all-zero column's coefficient is 0 at
    the L2-penalised optimum anyway, and the 2**19 columns would make every solver step slow."""
    from sklearn.linear_model import LogisticRegression

    used = np.unique(features.indices)
    model = LogisticRegression(C=C, max_iter=2000, class_weight="balanced")
    model.fit(features[:, used], labels)
    coef = np.zeros(features.shape[1], dtype=np.float64)
    coef[used] = model.coef_[0]
    return coef, float(model.intercept_[0])


def _fit(counts: csr_matrix, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    idf = _idf(counts)
    coef, intercept = _logistic(_tfidf(counts, idf), labels)
    return idf, coef, intercept


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


@dataclass(frozen=True)
class ClassModel:
    """A trained one-vs-rest classifier over the same features: one logistic regression per class
    (that class against all others), probabilities normalised to sum to one (as scikit-learn's
    ``OneVsRestClassifier`` does)."""

    classes: tuple[str, ...]
    idf: np.ndarray
    coef: np.ndarray
    """One row per class."""
    intercept: np.ndarray
    metrics: dict[str, Any] = field(default_factory=dict)
    """``cv_accuracy``, ``cv_macro_f1``, ``cv_per_class`` ({class: precision, recall, support}),
    ``folds``, ``labelled``, ``per_class`` (labelled comments of each class), ``trained_on``."""

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """P(class) of each text, one column per class."""
        return _class_probabilities(_tfidf(featurize(texts), self.idf), self.coef, self.intercept)

    def to_bytes(self) -> bytes:
        return _pack(idf=self.idf, coef=self.coef, intercept=self.intercept, classes=np.array(self.classes))

    @classmethod
    def from_bytes(cls, data: bytes, metrics: dict[str, Any]) -> ClassModel:
        arrays = _unpack(data)
        classes = tuple(str(c) for c in arrays["classes"].tolist())
        return cls(classes, arrays["idf"], arrays["coef"], arrays["intercept"], metrics)


def _class_probabilities(features: csr_matrix, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    scores = np.asarray(features @ coef.T) + intercept
    p = 1.0 / (1.0 + np.exp(-scores))
    return np.asarray(p / np.maximum(p.sum(axis=1, keepdims=True), 1e-300), dtype=np.float64)


def _fit_classes(counts: csr_matrix, y: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    idf = _idf(counts)
    features = _tfidf(counts, idf)
    fitted = [_logistic(features, (y == c).astype(np.int64)) for c in range(k)]
    return idf, np.vstack([f[0] for f in fitted]), np.array([f[1] for f in fitted])


def train_classes(
    texts: Sequence[str], labels: Sequence[str], *, folds: int = 5, seed: int = 0
) -> ClassModel:
    """Fit one-vs-rest on every labelled text after ``folds``-fold stratified cross-validation
    (IDF refitted inside each fold); the metrics are those of the held-out folds.

    Example:
        >>> texts = ["invoice wrong", "charged twice", "parcel late", "no tracking"] * 10
        >>> model = train_classes(texts, ["billing", "billing", "delivery", "delivery"] * 10, folds=2)
        >>> model.classes, model.metrics["cv_accuracy"]
        (('billing', 'delivery'), 1.0)
    """
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support
    from sklearn.model_selection import StratifiedKFold

    classes = tuple(sorted(set(labels)))
    y = np.searchsorted(np.array(classes), np.array(labels))
    counts = featurize(texts)
    predicted = np.empty_like(y)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fit_rows, held_rows in splitter.split(np.zeros(len(y)), y):
        idf, coef, intercept = _fit_classes(counts[fit_rows], y[fit_rows], len(classes))
        held = _class_probabilities(_tfidf(counts[held_rows], idf), coef, intercept)
        predicted[held_rows] = held.argmax(axis=1)
    precision, recall, _, support = precision_recall_fscore_support(
        y, predicted, labels=range(len(classes)), zero_division=0
    )
    idf, coef, intercept = _fit_classes(counts, y, len(classes))
    metrics = {
        "cv_accuracy": float(accuracy_score(y, predicted)),
        "cv_macro_f1": float(f1_score(y, predicted, average="macro")),
        "cv_per_class": {
            c: {"precision": round(float(p), 4), "recall": round(float(r), 4), "support": int(s)}
            for c, p, r, s in zip(classes, precision, recall, support, strict=True)
        },
        "folds": folds,
        "labelled": len(y),
        "per_class": {c: int((y == i).sum()) for i, c in enumerate(classes)},
        "trained_on": len(y),
    }
    return ClassModel(classes, idf, coef, intercept, metrics)
