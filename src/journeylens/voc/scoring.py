"""Every comment's sentiment, written with the model: ``feedback_sentiment`` (one row per feedback
row with a non-empty comment).

Which model scores (``[voc.sentiment] mode``):

* **learned** (:mod:`journeylens.voc.text_model`) — trained on the workspace's own labelled
  comments (answers whose score says negative or not, or an explicit label), cross-validated, and
  kept in the ``text_models`` table with its metrics and a fingerprint of the data it learned from;
  the next build reuses it while that data is unchanged. ``sentiment = 1 - 2 P(negative)``.
* **lexicon** — VADER's compound score. Used by ``auto`` until :data:`~.settings.MIN_LABELLED`
  labelled comments exist (and :data:`~.settings.MIN_PER_CLASS` of each class).

Every row also keeps the lexicon's score (``lexicon``): outcome evidence reads it
(``[journeys.feedback] comment_threshold`` is on VADER's scale). ``label`` is ``negative`` at or
below -0.05, ``positive`` at or above 0.05, else ``neutral``.

Text is read from the engine in Arrow batches of distinct comments (keyed by MD5), scored in
Python, and only (key, scores) go back: the whole table is never in memory.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.datatypes as dt
import numpy as np
import pyarrow as pa

from journeylens.store._backend import json_text
from journeylens.voc.sentiment import compound
from journeylens.voc.settings import SentimentSettings
from journeylens.voc.text_model import ClassModel, TextModel, train

if TYPE_CHECKING:
    from collections.abc import Sequence

    import ibis.expr.types as ir

    from journeylens.store import Store

SENTIMENT, MODELS = "feedback_sentiment", "text_models"
LEXICON, LEARNED = "lexicon", "learned"
NEUTRAL = 0.05
"""Sentiment strictly between -NEUTRAL and NEUTRAL is ``neutral`` (VADER's own convention)."""
BATCH = 20_000
SENTIMENT_SCHEMA = pa.schema(
    [("feedback_id", pa.string()), ("sentiment", pa.float64()), ("label", pa.string()),
     ("model", pa.string()), ("lexicon", pa.float64())]
)  # fmt: skip
MODELS_SCHEMA = pa.schema(
    [("name", pa.string()), ("fingerprint", pa.string()), ("trained_at", pa.timestamp("us", tz="UTC")),
     ("metrics", pa.string()), ("weights", pa.binary())]
)  # fmt: skip


@dataclass(frozen=True)
class SentimentBuild:
    """What scored the comments, and why."""

    model: str
    comments: int
    labelled: int
    negative: int
    note: str | None = None
    """Why the lexicon scored although a learned model was asked for (``mode = "learned"``)."""
    metrics: dict[str, Any] = field(default_factory=dict)


def labelled_comments(
    feedback: ir.Table, negative: dict[str, float], settings: SentimentSettings, keep: Sequence[str] = ()
) -> ir.Table:
    """``feedback_id``, ``comment``, ``ingest_seq``, the columns in ``keep`` and ``_label`` (1
    negative, 0 not, NULL unlabelled) of every answer with a non-empty comment."""
    said = feedback.filter(feedback.comment.notnull() & (feedback.comment.strip() != ""))
    weak = ibis.cases(
        *(((said.metric == m) & (said.score <= t), 1) for m, t in negative.items()),
        *(((said.metric == m) & (said.score > t), 0) for m, t in negative.items()),
        else_=ibis.null(dt.int64),
    )
    label = weak
    if settings.label_property:
        said_label = json_text(said.properties, settings.label_property).strip().lower()
        explicit = ibis.cases(
            (said_label.isin(settings.negative_labels), 1),
            (said_label.notnull() & (said_label != ""), 0),
            else_=ibis.null(dt.int64),
        )
        label = ibis.coalesce(explicit, weak)
    return said.select("feedback_id", "comment", "ingest_seq", *keep, _label=label.cast(dt.int64))


def write_sentiment(
    store: Store, settings: SentimentSettings, negative: dict[str, float], *, retrain: bool = False
) -> SentimentBuild:
    """Score every comment and (re)write ``feedback_sentiment``; learn or reuse a model first when
    the mode allows. ``retrain`` learns anew even when the stored model's data is unchanged."""
    comments = labelled_comments(store.table("feedback"), negative, settings)
    stats = store.execute(
        comments.aggregate(
            n=comments.count(),
            labelled=comments._label.notnull().cast("int64").sum(),
            negative=(comments._label == 1).cast("int64").sum(),
            last=comments.ingest_seq.max(),
        )
    ).to_pylist()[0]
    n, labelled, neg = int(stats["n"] or 0), int(stats["labelled"] or 0), int(stats["negative"] or 0)
    model, note = None, None
    if settings.mode != LEXICON:
        shortfall = _shortfall(labelled, neg, settings)
        if shortfall:
            note = f"The lexicon (VADER) scored the comments: {shortfall}."
        else:
            fingerprint = f"{labelled}:{neg}:{stats['last']}:{settings.model_dump_json()}"
            model = None if retrain else load_model(store, "sentiment", fingerprint)
            if model is None:
                model = _learn(store, comments, settings)
                save_model(store, "sentiment", model, fingerprint)
    _score(store, comments, model)
    return SentimentBuild(
        model=LEARNED if model else LEXICON,
        comments=n,
        labelled=labelled,
        negative=neg,
        note=note,
        metrics=model.metrics if model else {},
    )


def _shortfall(labelled: int, negative: int, settings: SentimentSettings) -> str | None:
    """Why no model can be learned from these labels, or None."""
    positive = labelled - negative
    if labelled < settings.min_labelled:
        return (
            f"{labelled} labelled comments, {settings.min_labelled} needed to learn a model "
            "(comments on scored answers, or min_labelled in [voc.sentiment])"
        )
    if min(negative, positive) < settings.min_per_class:
        which = "negative" if negative < positive else "not negative"
        alone = (
            " (with one class only there is nothing to tell apart)" if min(negative, positive) == 0 else ""
        )
        return (
            f"{min(negative, positive)} {which} comments, {settings.min_per_class} of each class "
            f"needed{alone}"
        )
    return None


def _learn(store: Store, comments: ir.Table, settings: SentimentSettings) -> TextModel:
    labelled = comments.filter(comments._label.notnull())
    sample = labelled.order_by(labelled.feedback_id.hexdigest("md5")).limit(settings.max_train)
    rows = store.execute(sample.select("comment", "_label"))
    model = train(rows.column("comment").to_pylist(), rows.column("_label").to_pylist(), folds=settings.folds)
    return model


def _score(store: Store, comments: ir.Table, model: TextModel | None) -> None:
    keyed = comments.mutate(_key=comments.comment.hexdigest("md5"))
    keys: list[pa.Array] = []
    lexicon: list[np.ndarray] = []
    learned: list[np.ndarray] = []
    texts = keyed.select("_key", "comment").distinct()
    for batch in store.backend.to_pyarrow_batches(texts, chunk_size=BATCH):
        if batch.num_rows == 0:
            continue
        text = batch.column(1).to_pylist()
        keys.append(batch.column(0))
        lexicon.append(np.asarray(compound(text), dtype=np.float64))
        if model is not None:
            learned.append(1.0 - 2.0 * model.negative_probability(text))
    lex = np.concatenate(lexicon) if lexicon else np.zeros(0)
    value = np.concatenate(learned) if model is not None and learned else lex
    labels = np.where(value <= -NEUTRAL, "negative", np.where(value >= NEUTRAL, "positive", "neutral"))
    scores = pa.table(
        {
            "_key": pa.concat_arrays([k.cast(pa.string()) for k in keys])
            if keys
            else pa.array([], pa.string()),
            "sentiment": pa.array(value, pa.float64()),
            "label": pa.array(labels.tolist(), pa.string()),
            "lexicon": pa.array(lex, pa.float64()),
        }
    )
    scored = ibis.memtable(scores)
    joined = keyed.join(scored, "_key").select(
        "feedback_id",
        "sentiment",
        "label",
        model=ibis.literal(LEARNED if model else LEXICON),
        lexicon="lexicon",
    )
    store.backend.create_table(SENTIMENT, joined, overwrite=True)


def save_model(store: Store, name: str, model: TextModel | ClassModel, fingerprint: str) -> None:
    """Keep ``model`` in ``text_models`` under ``name`` (replacing the one before)."""
    row = pa.table(
        {
            "name": [name],
            "fingerprint": [fingerprint],
            "trained_at": [_dt.datetime.now(_dt.UTC)],
            "metrics": [json.dumps(model.metrics)],
            "weights": [model.to_bytes()],
        },
        schema=MODELS_SCHEMA,
    )
    backend = store.backend
    if MODELS in backend.list_tables():
        others = store.execute(backend.table(MODELS).filter(ibis._.name != name))
        row = pa.concat_tables([others.cast(MODELS_SCHEMA), row])
    backend.create_table(MODELS, ibis.memtable(row), overwrite=True)


def load_model(store: Store, name: str, fingerprint: str | None = None) -> TextModel | None:
    """The stored model ``name`` (only if learned from data with ``fingerprint``, when given)."""
    found = load_weights(store, name, fingerprint)
    return TextModel.from_bytes(*found) if found else None


def load_weights(
    store: Store, name: str, fingerprint: str | None = None
) -> tuple[bytes, dict[str, Any]] | None:
    """The stored weights and metrics of model ``name`` (only if learned from data with
    ``fingerprint``, when given): for any model class's ``from_bytes``."""
    backend = store.backend
    if MODELS not in backend.list_tables():
        return None
    rows = store.execute(backend.table(MODELS).filter(ibis._.name == name)).to_pylist()
    if not rows or (fingerprint is not None and rows[0]["fingerprint"] != fingerprint):
        return None
    return rows[0]["weights"], json.loads(rows[0]["metrics"])


def model_info(store: Store, name: str) -> dict[str, Any] | None:
    """Metrics, fingerprint and training time of the stored model ``name``, without its weights."""
    backend = store.backend
    if MODELS not in backend.list_tables():
        return None
    rows = store.execute(backend.table(MODELS).filter(ibis._.name == name).drop("weights")).to_pylist()
    if not rows:
        return None
    return {
        **json.loads(rows[0]["metrics"]),
        "fingerprint": rows[0]["fingerprint"],
        "trained_at": rows[0]["trained_at"],
    }
