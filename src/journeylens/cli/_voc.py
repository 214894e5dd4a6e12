"""Terminal views of the voice-of-the-customer analyses (``journeylens feedback ...``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text

from journeylens.cli._output import OutputFormat, err_console, render
from journeylens.cli._views import _dim, _num, _p, _pct, _readable, _undefined, _with_ci
from journeylens.journeys.undefined import NOT_DEFINED

if TYPE_CHECKING:
    from journeylens.voc.emotion_curve import EmotionCurve
    from journeylens.voc.export import FeedbackExport
    from journeylens.voc.scores import FeedbackScores
    from journeylens.voc.theme_summary import FeedbackThemes


def _points(value: float | None, signed: bool = False, *, bare: bool = False) -> str:
    """NPS points (-100 to 100) with one decimal."""
    if value is None:
        return NOT_DEFINED
    return f"{value:+.1f}" if signed else f"{value:.1f}"


_SHOW = {"nps": _points, "top_box": _pct, "mean": _num}


def _count(row: dict[str, Any]) -> str:
    if row["kind"] == "nps":
        return f"+{row['promoters']:,} -{row['detractors']:,} /{row['answers']:,}"
    if row["kind"] == "top_box":
        return f"{row['top_box']:,}/{row['answers']:,}"
    return f"{row['answers']:,}"


def feedback_scores(result: FeedbackScores, spec: Any, *, wide: bool = False) -> None:
    """Score [95% CI] and its denominator per group; the difference from the rest with q."""
    ctx = result.context
    if result.reason is not None:
        err_console.print(Text.assemble(("Not defined: ", "bold yellow"), f"the scores: {result.reason}."))
        err_console.print(Text.assemble(("Hint: ", "bold"), result.hint or ""), soft_wrap=True)
        return
    records = result.records()
    # "rest" unless a metric has exactly two groups (then the first is compared with the second).
    named = any(row["baseline"] not in (None, "rest") for row in records)
    rows = []
    for row in records:
        show = _SHOW[row["kind"]]
        rows.append({
            ctx["by"]: row["group"], "metric": row["metric"],
            "value": _with_ci(row["value"], row["lo"], row["hi"], show),
            "n": _count(row),
            **({"vs": row["baseline"] or ""} if named else {}),
            "diff": "" if row["diff"] is None else _with_ci(
                row["diff"], row["diff_lo"], row["diff_hi"], show, signed=True
            ),
            "q": _p(row["q"]) + (" *" if row["significant"] else ""),
            "test": row["test"] or "", "p": _p(row["p"]),
        })  # fmt: skip
    against = "" if named else " vs the rest"
    title = f"score [95% CI]; diff{against} [95% CI]; q (Benjamini-Hochberg), * when q < 0.05"
    render(
        _readable(rows, "group scores", wide), OutputFormat.table, title=title, extra=("test", "p"), wide=wide
    )
    _dim(
        "nps: points, Adjusted-Wald interval, n = +promoters -detractors /answers; csat, ces: top-box "
        f"share (csat >= {ctx['csat_top_box']:g}, ces >= {ctx['ces_top_box']:g}), Wilson interval, "
        "n = top box/answers; means: t interval, n = answers."
    )
    _dim(
        f"{ctx['answers']:,} answers with a score, {ctx['unlinked']:,} not linked to a journey "
        f"(kept; by journey type or outcome they are the (unlinked) group). Metrics: {ctx['metrics_reason']}."
    )
    _undefined({f"{r['metric']} of {r['group']}": r["reason"] for r in records if r["reason"]})


def _emotion(value: float | None, signed: bool = False, *, bare: bool = False) -> str:
    """An emotion on -2..2 (always signed)."""
    return NOT_DEFINED if value is None else f"{value:+.2f}"


def _gap(r: dict[str, Any]) -> dict[str, str]:
    return {
        "expected": _emotion(r["expected"]),
        "gap": _with_ci(r["gap"], r["gap_lo"], r["gap_hi"], _emotion),
    }


def feedback_emotion(result: EmotionCurve, spec: Any, *, wide: bool = False) -> None:
    """The curve point by point (emotion [95% CI], expected, gap), then the peak and end moments."""
    ctx = result.context
    rows = [
        {
            "type": r["journey_type"], **({"segment": r["group"]} if spec.by_segment else {}),
            ctx["points"]: r["point"], "answers": f"{r['answers']:,}",
            "emotion": _with_ci(r["emotion"], r["lo"], r["hi"], _emotion),
            **(_gap(r) if ctx["map"] else {}),
            "neg. peaks": f"{r['negative_peaks']:,}",
        }
        for r in result.records()
    ]  # fmt: skip
    title = "emotion (-2..2) [95% CI]" + ("; gap = actual - expected (map)" if ctx["map"] else "")
    render(_readable(rows, "points", wide), OutputFormat.table, title=title, wide=wide)
    moments = [
        {
            "type": m["journey_type"], **({"segment": m["group"]} if spec.by_segment else {}),
            "journeys": f"{m['journeys']:,}",
            "peak": _with_ci(m["peak"], m["peak_lo"], m["peak_hi"], _emotion),
            "end": _with_ci(m["end"], m["end_lo"], m["end_hi"], _emotion),
            "peak-end": _with_ci(m["peak_end"], m["peak_end_lo"], m["peak_end_hi"], _emotion),
            "negative peak": _with_ci(
                m["negative_peak_share"], m["negative_peak_lo"], m["negative_peak_hi"], _pct
            ),
            "most negative peaks at": m["worst_point"] or "",
        }
        for m in result.moments
    ]  # fmt: skip
    if moments:
        render(
            _readable(moments, "moments", wide), OutputFormat.table, title="peak and end [95% CI]", wide=wide
        )
    _dim(
        f"{ctx['answers']:,} answers linked to a journey step"
        + (f"; {ctx['unplaced']:,} about no stage of the map (left out)" if ctx["map"] else "")
        + ". Scores on -2..2: NPS and ratings (s-5)/2.5, CSAT s-3, CES (s-4)*2/3; text: sentiment x 2."
    )
    _undefined({f"{r['point']} ({r['journey_type']})": r["reason"] for r in result.records() if r["reason"]})


def feedback_export(result: FeedbackExport, spec: Any, *, wide: bool = False) -> None:
    where = "standard output" if result.path is None else str(result.path)
    err_console.print(Text(f"{result.rows:,} feedback rows written to {where} ({result.format})"))


def feedback_themes(result: FeedbackThemes, spec: Any, *, wide: bool = False) -> None:
    """Per theme: comments and share [95% CI], negative share, mean sentiment, owner; then how
    the themes were found and, with --discover, the candidates as YAML."""
    ctx, build = result.context, result.build
    if ctx.get("taxonomy_note"):
        err_console.print(Text.assemble(("Note: ", "bold"), ctx["taxonomy_note"], "."), soft_wrap=True)
    rows = [
        {
            "theme": r["theme"], "owner": r["owner"] or "",
            "comments": f"{r['comments']:,}",
            "share": _with_ci(r["share"], r["share_lo"], r["share_hi"], _pct),
            "negative": _with_ci(r["negative_share"], r["negative_lo"], r["negative_hi"], _pct),
            "sentiment": _with_ci(r["sentiment"], r["sentiment_lo"], r["sentiment_hi"], _num),
            "classifier": f"{r['from_classifier']:,}",
        }
        for r in result.records()
    ]  # fmt: skip
    render(
        rows,
        OutputFormat.table,
        title=f"themes of {ctx['comments']:,} comments [95% CI]",
        extra=(),
        wide=wide,
    )
    _dim(
        "share: of all non-empty comments (a comment can have several themes), Wilson interval; negative: "
        "share of the theme's comments labelled negative, Wilson; sentiment: mean -1..1, t interval; "
        "classifier: comments no keyword matched that the classifier gave this theme."
    )
    metrics = build.get("classifier") or {}
    if metrics:
        _dim(
            f"Classifier: {metrics['labelled']:,} labelled comments, {metrics['folds']}-fold CV accuracy "
            f"{metrics['cv_accuracy']:.3f}, macro F1 {metrics['cv_macro_f1']:.3f}."
        )
    if build.get("classifier_note"):
        _dim(build["classifier_note"])
    _discovery(result.discovery)


def _discovery(found: dict[str, Any] | None) -> None:
    if found is None:
        return
    if found["reason"]:
        err_console.print(Text.assemble(("No candidate themes: ", "bold yellow"), f"{found['reason']}."))
        return
    err_console.print(
        Text(
            f"Candidate themes from {found['uncovered_negative']:,} negative comments without a theme:",
            "bold",
        )
    )
    print(found["yaml"], end="")
