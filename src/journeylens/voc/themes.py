"""Every comment's themes: ``feedback_themes(feedback_id, theme, source)``.

``source`` says what found the theme:

* ``taxonomy`` — the workspace's ``themes.yaml`` (:mod:`~journeylens.voc.taxonomy`), matched in the
  engine: a theme's keywords as one whole-word regular expression over the lower-cased comment,
  its patterns case-insensitively over the comment. A comment can have several themes.
* ``classifier`` — a one-vs-rest TF-IDF + logistic-regression model
  (:func:`~journeylens.voc.text_model.train_classes`) learned from labelled comments, for the
  comments no keyword matched, when it is at least ``min_probability`` sure. Labels come from
  ``[voc.themes] label_property`` or from the ``contact_reason`` of the journey the answer is
  linked to (``feedback_links``), through each theme's ``reasons``. The model is kept in
  ``text_models`` (name ``themes``) with its cross-validated metrics and a fingerprint of its data
  and taxonomy; it is reused while both are unchanged.

The table is written by ``journeylens feedback themes`` (not by ``journeylens build``): the
taxonomy is edited far more often than the data changes, matching is one scan per theme, and the
build stays independent of a file people are editing. Text for the classifier is read in Arrow
batches of distinct comments and only (key, theme) go back to the engine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.datatypes as dt
import numpy as np
import pyarrow as pa

from journeylens.store._backend import json_text
from journeylens.voc.scoring import BATCH, load_weights, save_model
from journeylens.voc.text_model import ClassModel, train_classes

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from journeylens.store import Store
    from journeylens.voc.settings import ThemeSettings
    from journeylens.voc.taxonomy import Taxonomy

THEMES_TABLE = "feedback_themes"
TAXONOMY, CLASSIFIER = "taxonomy", "classifier"
MODEL_NAME = "themes"
_LABEL = "_theme_label"


@dataclass(frozen=True)
class ThemesBuild:
    """How the comments got their themes."""

    comments: int
    matched: int
    """Comments with at least one taxonomy theme."""
    classified: int
    """Comments without one that the classifier gave a theme."""
    labelled: dict[str, int] = field(default_factory=dict)
    """Labelled comments per theme (the classifier's training data)."""
    note: str | None = None
    """Why no classifier was used, when none was."""
    metrics: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "comments": self.comments, "matched": self.matched, "classified": self.classified,
            "labelled": self.labelled, "classifier_note": self.note, "classifier": self.metrics,
        }  # fmt: skip


def said(feedback: ir.Table) -> ir.Table:
    """Answers with a non-empty comment."""
    return feedback.filter(feedback.comment.notnull() & (feedback.comment.strip() != ""))


def taxonomy_matches(comments: ir.Table, taxonomy: Taxonomy) -> ir.Table:
    """``feedback_id``, ``theme`` of every comment a theme's keywords or patterns match."""
    lowered = comments.comment.lower()
    parts = []
    for theme in taxonomy.themes:
        regex = theme.regex()
        tests = [lowered.re_search(regex)] if regex else []
        tests += [comments.comment.re_search(p) for p in theme.pattern_list()]
        hit = tests[0]
        for test in tests[1:]:
            hit = hit | test
        parts.append(
            comments.filter(hit).select("feedback_id", theme=ibis.literal(theme.name, type=dt.string))
        )
    return ibis.union(*parts, distinct=True)


def theme_labels(store: Store, comments: ir.Table, taxonomy: Taxonomy, settings: ThemeSettings) -> ir.Table:
    """``comments`` with ``_theme_label``: the theme a label property or the linked journey's
    contact reason names (NULL when neither names one)."""
    mapping = taxonomy.reason_map()

    def to_theme(value: ir.StringValue) -> ir.StringValue:
        clean = value.strip().lower()
        return ibis.cases(*((clean == reason, theme) for reason, theme in mapping.items()), else_=None)

    tables = set(store.backend.list_tables())
    reason: ir.StringValue | None = None
    if {"feedback_links", "journeys"} <= tables:
        links = store.backend.table("feedback_links").select(_fid="feedback_id", _jid="journey_id")
        journeys = store.backend.table("journeys").select(_jid2="journey_id", _reason="contact_reason")
        reasons = links.join(journeys, links._jid == journeys._jid2).select("_fid", "_reason")
        comments = comments.left_join(reasons, comments.feedback_id == reasons._fid).drop("_fid")
        reason = to_theme(comments._reason)
    named = (
        to_theme(json_text(comments.properties, settings.label_property)) if settings.label_property else None
    )
    present = [v for v in (named, reason) if v is not None]
    label = ibis.coalesce(*present) if len(present) > 1 else present[0] if present else ibis.null(dt.string)
    labelled = comments.mutate(**{_LABEL: label})
    return labelled.drop("_reason") if reason is not None else labelled


def write_themes(
    store: Store, taxonomy: Taxonomy, settings: ThemeSettings, *, retrain: bool = False
) -> ThemesBuild:
    """Match the taxonomy, learn or reuse the classifier when there are labels enough, and
    (re)write ``feedback_themes``."""
    comments = said(store.table("feedback"))
    matches = taxonomy_matches(comments, taxonomy)
    found = matches.select("feedback_id", "theme", source=ibis.literal(TAXONOMY))
    model: ClassModel | None = None
    note: str | None = None
    labelled: dict[str, int] = {}
    if settings.classifier != "off":
        model, note, labelled = _classifier(store, comments, taxonomy, settings, retrain=retrain)
    if model is not None:
        covered = matches.select(_fid="feedback_id").distinct()
        uncovered = comments.anti_join(covered, comments.feedback_id == covered._fid)
        guessed = _classify(store, uncovered, model, settings.min_probability)
        found = found.union(guessed.select("feedback_id", "theme", source=ibis.literal(CLASSIFIER)))
    store.backend.create_table(THEMES_TABLE, found, overwrite=True)
    written = store.backend.table(THEMES_TABLE)
    per_source = store.execute(written.group_by("source").agg(n=written.feedback_id.nunique())).to_pylist()
    counts = {str(r["source"]): int(r["n"]) for r in per_source}
    return ThemesBuild(
        comments=int(store.execute(comments.count()).as_py()),
        matched=counts.get(TAXONOMY, 0),
        classified=counts.get(CLASSIFIER, 0),
        labelled=labelled,
        note=note,
        metrics=model.metrics if model is not None else {},
    )


def _classifier(
    store: Store, comments: ir.Table, taxonomy: Taxonomy, settings: ThemeSettings, *, retrain: bool
) -> tuple[ClassModel | None, str | None, dict[str, int]]:
    """The model (stored or learned now), or why there is none; labelled comments per theme."""
    labelled = theme_labels(store, comments, taxonomy, settings)
    labelled = labelled.filter(labelled[_LABEL].notnull())
    rows = store.execute(
        labelled.group_by(_LABEL).agg(n=labelled.count(), last=labelled.ingest_seq.max()).order_by(_LABEL)
    ).to_pylist()
    per_class = {str(r[_LABEL]): int(r["n"]) for r in rows}
    usable = {k: n for k, n in per_class.items() if n >= settings.min_per_class}
    total = sum(per_class.values())
    if total < settings.min_labelled or len(usable) < 2:
        shortfall = (
            f"{total} labelled comments, {settings.min_labelled} needed"
            if total < settings.min_labelled
            else f"{len(usable)} theme(s) with at least {settings.min_per_class} labelled comments, 2 needed"
        )
        return (
            None,
            (
                f"Themes come from the taxonomy only: {shortfall} to learn a classifier (labels: "
                "[voc.themes] label_property, or a contact_reason listed under a theme's reasons)."
            ),
            per_class,
        )
    last = max(int(r["last"] or 0) for r in rows)
    fingerprint = json.dumps(
        [usable, last, taxonomy.model_dump(mode="json"), settings.model_dump(mode="json")], sort_keys=True
    )
    stored = None if retrain else load_weights(store, MODEL_NAME, fingerprint)
    if stored is not None:
        return ClassModel.from_bytes(*stored), None, per_class
    train = labelled.filter(labelled[_LABEL].isin(list(usable)))
    sample = train.order_by(train.feedback_id.hexdigest("md5")).limit(settings.max_train)
    data = store.execute(sample.select("comment", _LABEL))
    model = train_classes(
        data.column("comment").to_pylist(), data.column(_LABEL).to_pylist(), folds=settings.folds
    )
    save_model(store, MODEL_NAME, model, fingerprint)
    dropped = sorted(set(per_class) - set(usable))
    note = (
        f"Not learned (fewer than {settings.min_per_class} labelled comments): {', '.join(dropped)}."
        if dropped
        else None
    )
    return model, note, per_class


def _classify(store: Store, comments: ir.Table, model: ClassModel, min_probability: float) -> ir.Table:
    """``feedback_id``, ``theme`` of the comments the model is sure enough about."""
    keyed = comments.mutate(_key=comments.comment.hexdigest("md5"))
    keys: list[str] = []
    themes: list[str] = []
    classes = np.array(model.classes)
    for batch in store.backend.to_pyarrow_batches(
        keyed.select("_key", "comment").distinct(), chunk_size=BATCH
    ):
        if batch.num_rows == 0:
            continue
        p = model.probabilities(batch.column(1).to_pylist())
        best = p.argmax(axis=1)
        sure = p[np.arange(len(best)), best] >= min_probability
        keys += [k for k, s in zip(batch.column(0).to_pylist(), sure, strict=True) if s]
        themes += classes[best[sure]].tolist()
    guessed = ibis.memtable(
        pa.table({"_key": pa.array(keys, pa.string()), "theme": pa.array(themes, pa.string())})
    )
    return keyed.join(guessed, "_key").select("feedback_id", "theme")
