"""``journeylens feedback themes``: what customers write about, how much, and how they feel.

Per theme of the taxonomy (and ``(no theme)``): the comments that have it, their share of all
comments (95% Wilson interval; the denominator is every non-empty comment of the period), how
many came from the taxonomy and how many from the classifier, the share of them that is negative
(by the answer's score when it has one, else the ``feedback_sentiment`` label; Wilson; the
denominator ``judged``), their mean sentiment (-1..1, t interval), the owner, and
the trend: comments and share per period. A comment with two themes counts in both, so shares
need not add up to one. The engine reduces everything to counts and moments; Python adds the
intervals.

Running it (re)writes ``feedback_themes`` first (:func:`~journeylens.voc.themes.write_themes`);
``--discover`` then proposes new themes (:mod:`~journeylens.voc.theme_discovery`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

import ibis
import pyarrow as pa

from journeylens.discovery._compare import utc_literal
from journeylens.discovery._result import TableResult
from journeylens.discovery._stats import Moments, Proportion
from journeylens.voc.scores import period_label
from journeylens.voc.scoring import labelled_comments
from journeylens.voc.taxonomy import Taxonomy, load_taxonomy, write_starter
from journeylens.voc.theme_discovery import discover, yaml_snippet
from journeylens.voc.themes import CLASSIFIER, TAXONOMY, THEMES_TABLE, write_themes

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    import ibis.expr.types as ir
    import plotly.graph_objects as go

    from journeylens.config import Config
    from journeylens.specs.feedback import FeedbackThemesSpec
    from journeylens.store import Store
    from journeylens.voc.settings import SentimentSettings
    from journeylens.workspace import Workspace

NO_THEME = "(no theme)"


@dataclass(frozen=True)
class FeedbackThemes(TableResult):
    """One row per theme (``table``), the trend per period, how themes were found, candidates."""

    JSON_FIELDS: ClassVar[tuple[str, ...]] = (
        "comments, period, taxonomy, taxonomy_note (the taxonomy file; a note when the starter was written)",
        "build (comments, matched, classified, labelled, classifier_note, classifier metrics)",
        "rows (records: theme, owner, comments, share, share_lo, share_hi, from_taxonomy, "
        "from_classifier, negative, negative_share, negative_lo, negative_hi, judged, scored, sentiment, "
        "sentiment_lo, sentiment_hi)",
        "trend (records: theme, period, comments, total, share, share_lo, share_hi)",
        "discovery (uncovered_negative, reason, candidates: terms, comments, examples; yaml)",
    )

    trend: list[dict[str, Any]] = field(default_factory=list)
    build: dict[str, Any] = field(default_factory=dict)
    discovery: dict[str, Any] | None = None
    context: dict[str, Any] = field(default_factory=dict)
    """``comments`` (non-empty, in the period), ``period``; ``taxonomy`` (its file) and
    ``taxonomy_note`` (set when the starter was just written) from a workspace."""

    def to_dict(self) -> dict[str, Any]:
        return {**self.context, "build": self.build, "rows": self.records(), "trend": self.trend,
                "discovery": self.discovery}  # fmt: skip

    def plot(self) -> go.Figure:
        """Each theme's share of comments with its 95% interval."""
        import plotly.graph_objects as go

        rows = [r for r in self.records() if r["share"] is not None]
        fig = go.Figure()
        fig.add_bar(
            x=[r["theme"] for r in rows],
            y=[r["share"] for r in rows],
            error_y={
                "type": "data",
                "array": [r["share_hi"] - r["share"] for r in rows],
                "arrayminus": [r["share"] - r["share_lo"] for r in rows],
            },
            text=[f"n={r['comments']}" for r in rows],
        )
        fig.update_layout(title="Share of comments per theme (95% Wilson interval)", yaxis_tickformat=".0%")
        return fig


def taxonomy_of(ws: Workspace) -> tuple[Taxonomy, Path, str | None]:
    """The workspace's taxonomy; the starter is written first when the file does not exist."""
    path = ws.root / ws.config.voc.themes.file
    note = None
    if write_starter(path):
        note = f"{path} did not exist: the starter taxonomy was written there; edit it to fit your data"
    return load_taxonomy(path), path, note


def feedback_themes(ws: Workspace, spec: FeedbackThemesSpec) -> FeedbackThemes:
    """Match and classify every comment, then summarise per theme (the workspace's taxonomy).

    Example:
        >>> result = feedback_themes(ws, FeedbackThemesSpec(discover=True))  # doctest: +SKIP
        >>> result.records()[0]["theme"], result.discovery["yaml"]  # doctest: +SKIP
    """
    taxonomy, path, note = taxonomy_of(ws)
    result = summarise_themes(ws.store, ws.config, taxonomy, spec)
    context = {**result.context, "taxonomy": str(path), "taxonomy_note": note}
    return replace(result, context=context)


def summarise_themes(
    store: Store, config: Config, taxonomy: Taxonomy, spec: FeedbackThemesSpec
) -> FeedbackThemes:
    """(Re)write ``feedback_themes`` with ``taxonomy``, then the per-theme summary of the period."""
    built = write_themes(store, taxonomy, config.voc.themes, retrain=spec.retrain)
    comments = _period_comments(store, config, spec)
    rows, total = _theme_rows(store, comments, taxonomy)
    discovery = None
    if spec.discover:
        candidates, uncovered, reason = discover(store, comments, spec.candidates)
        discovery = {
            "uncovered_negative": uncovered, "reason": reason,
            "candidates": [c.to_dict() for c in candidates],
            "yaml": yaml_snippet(candidates) if candidates else None,
        }  # fmt: skip
    return FeedbackThemes(
        pa.Table.from_pylist(rows),
        trend=_trend(store, comments, spec),
        build=built.to_dict(),
        discovery=discovery,
        context={"comments": total, "period": spec.period.value},
    )


def _period_comments(store: Store, config: Config, spec: FeedbackThemesSpec) -> ir.Table:
    fb = store.table("feedback")
    if spec.since is not None:
        fb = fb.filter(fb.timestamp >= utc_literal(spec.since))
    if spec.until is not None:
        fb = fb.filter(fb.timestamp < utc_literal(spec.until))
    return judged_comments(store, fb, config.journeys.feedback.negative, config.voc.sentiment)


def judged_comments(
    store: Store, fb: ir.Table, negative: dict[str, float], settings: SentimentSettings
) -> ir.Table:
    """Comments of ``fb`` with their sentiment and ``negative``: what the answer's score says
    (NPS <= 6, CSAT <= 2, ... as ``[journeys.feedback] negative``) or its explicit label when it
    has one, else the sentiment label."""
    said = labelled_comments(fb, negative, settings, ["timestamp"])
    sentiment = store.backend.table("feedback_sentiment").select(_sid="feedback_id", sentiment="sentiment",
                                                                  _mood="label")  # fmt: skip
    joined = said.left_join(sentiment, said.feedback_id == sentiment._sid)
    negative = ibis.coalesce(joined._label == 1, joined._mood == "negative")
    return joined.select("feedback_id", "comment", "timestamp", "sentiment", negative=negative)


def _with_themes(store: Store, comments: ir.Table) -> ir.Table:
    themes = store.backend.table(THEMES_TABLE).rename(_tid="feedback_id")
    joined = comments.join(themes, comments.feedback_id == themes._tid)
    return joined.select(*comments.columns, "theme", "source")


def _aggregates(t: ir.Table) -> dict[str, ir.Value]:
    return {
        "n": t.count(),
        "taxonomy": (t.source == TAXONOMY).cast("int64").sum(),
        "classifier": (t.source == CLASSIFIER).cast("int64").sum(),
        "negative": t.negative.cast("int64").sum(),
        "judged": t.negative.count(),
        "scored": t.sentiment.count(),
        "mean": t.sentiment.mean(),
        "var": t.sentiment.var(how="sample"),
    }


def _theme_rows(store: Store, comments: ir.Table, taxonomy: Taxonomy) -> tuple[list[dict[str, Any]], int]:
    return theme_rows(store, comments, taxonomy.names, taxonomy.owners())


def theme_rows(
    store: Store, comments: ir.Table, names: Sequence[str], owners: dict[str, str]
) -> tuple[list[dict[str, Any]], int]:
    """One summary row per theme in ``names`` and ``(no theme)``, over ``comments`` (see
    :func:`judged_comments`) and the ``feedback_themes`` table; and how many comments there are."""
    themed = _with_themes(store, comments)
    found = {
        r["theme"]: r for r in store.execute(themed.group_by("theme").agg(**_aggregates(themed))).to_pylist()
    }
    ids = themed.select(_fid="feedback_id").distinct()
    bare = comments.anti_join(ids, comments.feedback_id == ids._fid).mutate(source=ibis.null("string"))
    found[NO_THEME] = store.execute(bare.aggregate(**_aggregates(bare))).to_pylist()[0]
    total = int(store.execute(comments.count()).as_py())
    rows = [_row(name, owners.get(name), found.get(name), total) for name in [*names, NO_THEME]]
    return rows, total


def _row(theme: str, owner: str | None, agg: dict[str, Any] | None, total: int) -> dict[str, Any]:
    agg = agg or {}
    n = int(agg.get("n") or 0)
    share = Proportion(n, total)
    negative = Proportion(int(agg.get("negative") or 0), int(agg.get("judged") or 0))
    sentiment = Moments.of(int(agg.get("scored") or 0), agg.get("mean"), agg.get("var"))
    (s_lo, s_hi), (n_lo, n_hi), (m_lo, m_hi) = share.interval(), negative.interval(), sentiment.interval()
    return {
        "theme": theme, "owner": owner, "comments": n, "share": share.rate, "share_lo": s_lo,
        "share_hi": s_hi, "from_taxonomy": int(agg.get("taxonomy") or 0),
        "from_classifier": int(agg.get("classifier") or 0), "negative": negative.successes,
        "negative_share": negative.rate, "negative_lo": n_lo, "negative_hi": n_hi, "judged": negative.trials,
        "scored": sentiment.count, "sentiment": sentiment.value,
        "sentiment_lo": m_lo, "sentiment_hi": m_hi,
    }  # fmt: skip


def _trend(store: Store, comments: ir.Table, spec: FeedbackThemesSpec) -> list[dict[str, Any]]:
    dated = comments.mutate(_period=period_label(store, comments.timestamp, spec.period))
    totals = {
        r["_period"]: int(r["n"])
        for r in store.execute(dated.group_by("_period").agg(n=dated.count())).to_pylist()
    }
    themed = _with_themes(store, dated)
    counts = store.execute(
        themed.group_by("theme", "_period").agg(n=themed.count()).order_by("theme", "_period")
    ).to_pylist()
    out = []
    for r in counts:
        share = Proportion(int(r["n"]), totals[r["_period"]])
        lo, hi = share.interval()
        out.append({"theme": r["theme"], "period": r["_period"], "comments": share.successes,
                    "total": share.trials, "share": share.rate, "share_lo": lo, "share_hi": hi})  # fmt: skip
    return out
