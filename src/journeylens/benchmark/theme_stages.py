"""Benchmark stages for feedback themes (issue 15): taxonomy matching in the engine and the learned
theme classifier, next to scikit-learn's own multi-class ``predict_proba`` on the same matrix.

A preparation writes ``themes-v1.parquet`` (untimed, cached with the data): as many comments as
the run has events, each two or three sentences of one theme of the synthetic world's comment
bodies (``synth._catalogue.COMMENT_BODIES``: billing, delivery, usability, product quality,
confusing marketing; any tone) and a reference number that makes it unique. 70% carry the theme
as a label (an extra column ``reason``, which ingest keeps in ``properties``), 30% none; they are
loaded into a workspace as text-only feedback.

- ``floor_theme_predict``: scikit-learn alone on the comments read from the Parquet file: the
  same hashed word and character n-gram counts, ``TfidfTransformer`` and one-vs-rest
  ``LogisticRegression`` (``OneVsRestClassifier``) fitted on the same training sample,
  ``predict_proba`` over every comment in batches. No engine, no table.
- ``themes_taxonomy``: ``voc.themes.write_themes`` with the starter taxonomy (six themes, some
  fifty keywords and phrases) and no classifier: every comment matched in the engine,
  ``feedback_themes`` written.
- ``themes_learned``: ``write_themes`` with the classifier learned from the labels and a
  taxonomy whose keywords occur in no comment (:data:`UNMATCHED`), so that, like the floor, it
  classifies every comment: labels in the engine, the training sample, 5-fold cross-validation
  (the floor does none), every comment streamed from the engine and classified,
  ``feedback_themes`` written.

All three count comments; peak memory is each stage's own process.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from journeylens.benchmark.stages import preparation, stage
from journeylens.benchmark.text_stages import TRAIN, fit_and_predict, load_comments, md5_first
from journeylens.benchmark.theme_accuracy import TRUTH_THEMES

THEME_COMMENTS = "theme_comments"
FILE = "themes-v1.parquet"
"""Named with the layout's version: a cached file of an older layout is not reused."""
WORKSPACE = "themes_ws"
LABEL = "reason"
LABELLED = 0.7
UNMATCHED = "themes:\n" + "".join(
    f"  - {{name: {t}, owner: product, keywords: {{en: [zz{t}zz]}}, reasons: [{t}]}}\n" for t in TRUTH_THEMES
)
"""The five themes, each with a keyword no comment has: the classifier gives every theme."""


def theme_comment_table(n: int, seed: int = 16) -> pa.Table:
    """``n`` unique comments of 2-3 sentences of one theme each; the theme as ``reason`` on 70%."""
    from journeylens.synth._catalogue import COMMENT_BODIES

    rng = np.random.default_rng(seed)
    theme = rng.integers(0, len(TRUTH_THEMES), size=n)
    tone = rng.choice(3, size=n, p=[0.4, 0.2, 0.4])
    sentences = rng.integers(2, 4, size=n)
    texts = []
    for row, (t, o, k) in enumerate(zip(theme.tolist(), tone.tolist(), sentences.tolist(), strict=True)):
        bodies = COMMENT_BODIES[o][t]
        texts.append(" ".join(bodies[i] for i in rng.integers(0, len(bodies), size=k)) + f" Ref {row}.")
    labelled = rng.random(n) < LABELLED
    names = np.array(TRUTH_THEMES)[theme]
    return pa.table(
        {
            "feedback_id": pa.array([f"t{i}" for i in range(n)]),
            "timestamp": pa.array(np.full(n, np.datetime64("2026-01-01T00:00:00", "us")) + np.arange(n)),
            "metric": pa.array(np.full(n, "text")),
            "comment": pa.array(texts),
            LABEL: pa.array(names, mask=~labelled),
        }
    )


@preparation(THEME_COMMENTS)
def write_theme_comments(data: Path, work: Path, memory_limit: str | None) -> int:
    """The comments file (unless cached) and a workspace with them loaded as feedback."""
    return load_comments(data, work, FILE, WORKSPACE, theme_comment_table)


@stage(
    "floor_theme_predict",
    "scikit-learn's own TF-IDF (hashed word and character n-grams) + one-vs-rest LogisticRegression "
    "predict_proba over every comment of the Parquet file (the floor; rows: comments)",
    needs=THEME_COMMENTS,
    unit="comments",
)
def floor_theme_predict(data: Path, work: Path) -> int:
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    table = pq.read_table(data / FILE, columns=["feedback_id", "comment", LABEL])
    labelled = table.filter(pc.is_valid(table.column(LABEL)))
    order = md5_first(labelled.column("feedback_id").to_pylist(), TRAIN)
    texts = [labelled.column("comment")[i].as_py() for i in order]
    labels = [labelled.column(LABEL)[i].as_py() for i in order]
    model = OneVsRestClassifier(LogisticRegression(C=4.0, max_iter=2000, class_weight="balanced"))
    return fit_and_predict(data / FILE, texts, labels, model)


def _themes(work: Path, *, learned: bool) -> int:
    from journeylens.voc.settings import ThemeSettings
    from journeylens.voc.taxonomy import STARTER, parse_taxonomy
    from journeylens.voc.themes import write_themes
    from journeylens.workspace import Workspace

    ws = Workspace.open(work / WORKSPACE)
    taxonomy = parse_taxonomy(UNMATCHED if learned else STARTER, ws.root / "themes.yaml")
    settings = ThemeSettings(
        classifier="auto" if learned else "off", label_property=LABEL if learned else None, max_train=TRAIN
    )
    built = write_themes(ws.store, taxonomy, settings, retrain=True)
    ws.close()
    assert (built.matched > 0, built.classified > 0) == (not learned, learned), built.to_dict()
    return built.comments


@stage(
    "themes_taxonomy",
    "feedback themes, taxonomy only: the starter taxonomy's keywords matched in the engine, "
    "feedback_themes written (rows: comments)",
    floor="floor_theme_predict",
    needs=THEME_COMMENTS,
    unit="comments",
)
def themes_taxonomy(data: Path, work: Path) -> int:
    return _themes(work, learned=False)


@stage(
    "themes_learned",
    "feedback themes, learned: the classifier trained on the labelled comments with 5-fold CV, every "
    "comment streamed and classified (a taxonomy that matches none), feedback_themes written "
    "(rows: comments)",
    floor="floor_theme_predict",
    needs=THEME_COMMENTS,
    unit="comments",
)
def themes_learned(data: Path, work: Path) -> int:
    return _themes(work, learned=True)
