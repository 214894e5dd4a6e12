"""Themes the taxonomy misses: NMF topics of the negative comments no theme covers.

Negative comments (by the answer's score when it has one, else the ``feedback_sentiment`` label)
without a row in
``feedback_themes`` are read from the engine (at most ``MAX_COMMENTS``, a fixed sample by MD5 of
``feedback_id``), weighted with TF-IDF over a real vocabulary (English stop words dropped, words
in at least two comments), and factorised with non-negative matrix factorisation
(scikit-learn ``NMF``, NNDSVDA start, fixed seed). Each component is a candidate theme: its top
terms, how many comments it explains best, and the comments it weighs most, printed as a YAML
snippet to paste into ``themes.yaml`` (owner and name left for people to decide).

Unsupervised topics are a prompt, not a measurement: docs/voc.md gives the purity measured on
the synthetic world and the real reviews.

Example:
    >>> texts = ["screen cracked", "cracked screen again", "battery drains", "battery died fast"] * 10
    >>> sorted(c.terms[0] for c in nmf_candidates(texts, 2))
    ['battery', 'cracked']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Sequence

    import ibis.expr.types as ir

    from journeylens.store import Store

MAX_COMMENTS = 20_000
MIN_COMMENTS = 20
"""Fewer uncovered negative comments than this give topics of one or two comments: none are shown."""
TOP_TERMS, EXAMPLES = 8, 3
_FRAGMENTS = (
    "don didn doesn isn wasn aren won wouldn couldn shouldn haven hasn ve ll re im ive dont didnt doesnt"
)
CONTRACTIONS = frozenset(_FRAGMENTS.split())
"""What is left of "don't", "I've", ... once words are cut at apostrophes: not topic words."""


@dataclass(frozen=True)
class Candidate:
    """One proposed theme."""

    terms: list[str]
    comments: int
    """Comments this candidate explains best."""
    examples: list[str]
    members: list[int] = field(default_factory=list, repr=False)
    """Positions (in the texts given) of the comments it explains best."""

    def to_dict(self) -> dict[str, Any]:
        return {"terms": self.terms, "comments": self.comments, "examples": self.examples}


def nmf_candidates(texts: Sequence[str], k: int, *, seed: int = 0) -> list[Candidate]:
    """``k`` NMF topics of ``texts`` (fewer when the vocabulary is smaller), largest first."""
    from sklearn.decomposition import NMF
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

    vectorizer = TfidfVectorizer(
        stop_words=sorted(ENGLISH_STOP_WORDS | CONTRACTIONS),
        min_df=2,
        max_df=0.9,
        sublinear_tf=True,
        token_pattern=r"(?u)\b[^\W\d_]{2,}\b",
    )
    matrix = vectorizer.fit_transform(texts)
    vocabulary = np.array(vectorizer.get_feature_names_out())
    k = min(k, len(vocabulary), matrix.shape[0])
    if k < 1:
        return []
    model = NMF(n_components=k, init="nndsvda", random_state=seed, max_iter=500)
    weights = model.fit_transform(matrix)
    best = weights.argmax(axis=1)
    covered = weights.max(axis=1) > 0
    found = []
    for topic in range(k):
        terms = vocabulary[np.argsort(-model.components_[topic])[:TOP_TERMS]].tolist()
        order = np.argsort(-weights[:, topic], kind="stable")
        examples = list(dict.fromkeys(texts[i] for i in order[: EXAMPLES * 5] if weights[i, topic] > 0))
        examples = examples[:EXAMPLES]
        members = np.flatnonzero((best == topic) & covered)
        found.append(Candidate(terms, len(members), examples, members.tolist()))
    return sorted(found, key=lambda c: -c.comments)


def uncovered_negative(store: Store, comments: ir.Table) -> ir.Table:
    """Negative comments (``comments.negative``) with no theme."""
    themed = store.backend.table("feedback_themes").select(_tid="feedback_id").distinct()
    neg = comments.filter(comments.negative)
    return neg.anti_join(themed, neg.feedback_id == themed._tid).select("feedback_id", "comment")


def discover(store: Store, comments: ir.Table, k: int) -> tuple[list[Candidate], int, str | None]:
    """Candidates from the uncovered negative comments, how many there were, and why there are
    none when there are none."""
    pool = uncovered_negative(store, comments)
    n = int(store.execute(pool.count()).as_py())
    if n < MIN_COMMENTS:
        return [], n, (f"{n} negative comments without a theme, {MIN_COMMENTS} needed to propose new themes")
    sample = pool.order_by(pool.feedback_id.hexdigest("md5")).limit(MAX_COMMENTS)
    texts = [str(t) for t in store.execute(sample.select("comment")).column(0).to_pylist()]
    found = nmf_candidates(texts, k)
    return found, n, None if found else "the uncovered comments share no word used at least twice"


def yaml_snippet(candidates: Sequence[Candidate]) -> str:
    """The candidates as theme entries to paste under ``themes:`` (names and owners to decide)."""
    lines = [
        "# Candidate themes from negative comments no theme covers: rename, choose the owner,",
        "# keep the keywords that say the theme, then paste under `themes:` in themes.yaml.",
    ]
    for i, c in enumerate(candidates, 1):
        lines.append(f"  - name: candidate_{i}  # {c.comments} comments")
        lines.append("    owner: service  # product, software, web, marketing, billing, logistics or service")
        lines += [f"    # e.g. {_quote(e)}" for e in c.examples]
        lines.append("    keywords:")
        lines.append(f"      en: [{', '.join(c.terms)}]")
    return "\n".join(lines) + "\n"


def _quote(text: str, width: int = 100) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."
