"""The report's "Voice of the customer" section: which model read the comments and how well it
did, the scores per journey type with their intervals, the themes of the comments, and the emotion
curve with its peak and end.

Everything comes from the analyses a reader can run on their own (``journeylens feedback scores
--by journey_type``, ``journeylens feedback themes``, ``journeylens feedback emotion``); the
section only arranges them. Themes are shown once ``feedback themes`` has written
``feedback_themes`` (the taxonomy lives in the workspace, which the report does not read); a
comment's negativity is its score's (``[journeys.feedback] negative``), else its sentiment label. Without
feedback it is one sentence, not empty charts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from journeylens.report.sections import Section
from journeylens.store import Store

if TYPE_CHECKING:
    from journeylens.journeys.definitions import JourneyRules

TITLE = "Voice of the customer"
INTRO = (
    "What customers say, next to what they do: survey scores per journey type with 95% intervals "
    "(NPS Adjusted-Wald, top-box shares Wilson), the sentiment of every comment, and the emotion "
    "curve — every answer on the journey map's scale of -2 to 2 at the step it is about, with the "
    "peak and end moments people remember (docs/voc.md). Associations, not causes."
)
THEMES_TITLE = "Themes of comments (as `journeylens feedback themes` last wrote them; 95% intervals)"
NO_FEEDBACK = "No feedback: load survey answers or comments with `journeylens ingest FILE --table feedback`."


def voc_section(store: Store, rules: JourneyRules | None = None) -> Section | None:
    """Scores, sentiment and the emotion curve; None before the model is built."""
    from journeylens.specs.feedback import EmotionSpec, FeedbackScoresSpec
    from journeylens.voc.emotion_curve import curve
    from journeylens.voc.scores import feedback_scores

    tables = set(store.backend.list_tables())
    if not {"feedback_links", "feedback_sentiment", "journeys"} <= tables:
        return None
    if not store.count("feedback"):
        return Section(TITLE, intro=INTRO, notes=[NO_FEEDBACK])
    section = Section(TITLE, intro=INTRO)
    section.facts.update(_sentiment_facts(store))
    scores = feedback_scores(store, FeedbackScoresSpec(by="journey_type"))
    if scores.reason is None:
        section.tables.append(("Scores by journey type (95% intervals; vs the rest, BH q)", _scores(scores)))
    else:
        section.notes.append(f"Scores are not defined: {scores.reason}.")
    themes = _themes(store, rules)
    if themes is not None:
        section.tables.append((THEMES_TITLE, themes))
    emotion = curve(store, EmotionSpec())
    if any(r["emotion"] is not None for r in emotion.records()):
        section.figures.append(emotion.plot())
        section.tables.append(
            ("Peak and end per journey type (-2..2, 95% intervals)", _moments(emotion.moments))
        )
    else:
        section.notes.append(
            f"The emotion curve needs at least {EmotionSpec().min_answers} answers about one touchpoint; "
            f"{emotion.context['answers']:,} answers are linked to a journey step."
        )
    return section


def _sentiment_facts(store: Store) -> dict[str, Any]:
    from journeylens.voc.scoring import SENTIMENT, model_info

    tone = store.backend.table(SENTIMENT)
    rows = store.execute(tone.group_by(["model", "label"]).agg(n=tone.count())).to_pylist()
    total = sum(int(r["n"]) for r in rows)
    negative = sum(int(r["n"]) for r in rows if r["label"] == "negative")
    facts: dict[str, Any] = {"Comments scored": f"{total:,}"}
    if total:
        facts["Negative comments"] = f"{negative / total:.0%} ({negative:,})"
    models = {r["model"] for r in rows}
    info = model_info(store, "sentiment") if "learned" in models else None
    if info is not None:
        facts["Sentiment model"] = (
            f"learned here, CV AUC {info['cv_auc']:.2f} on {info['labelled']:,} labelled"
        )
    elif total:
        facts["Sentiment model"] = "lexicon (VADER): too few labelled comments to learn"
    return facts


def _scores(scores: Any) -> pd.DataFrame:
    rows = []
    for r in scores.records():
        if r["value"] is None:
            continue
        scale = 1.0 if r["kind"] in ("nps", "mean") else 100.0
        unit = "" if r["kind"] != "top_box" else "%"
        rows.append(
            {
                "journey type": r["group"],
                "metric": r["metric"],
                "value": f"{r['value'] * scale:.1f}{unit} [{r['lo'] * scale:.1f}–{r['hi'] * scale:.1f}]",
                "answers": r["answers"],
                "q vs rest": "" if r["q"] is None else f"{r['q']:.3g}" + (" *" if r["significant"] else ""),
            }
        )
    return pd.DataFrame(rows)


def _moments(moments: list[dict[str, Any]]) -> pd.DataFrame:
    def ci(m: dict[str, Any], name: str) -> str:
        if m[name] is None:
            return "n/d"
        if m[f"{name}_lo"] is None:
            return f"{m[name]:+.2f}"
        return f"{m[name]:+.2f} [{m[f'{name}_lo']:+.2f}–{m[f'{name}_hi']:+.2f}]"

    return pd.DataFrame(
        [
            {
                "journey type": m["journey_type"],
                "journeys": m["journeys"],
                "peak": ci(m, "peak"),
                "end": ci(m, "end"),
                "peak-end": ci(m, "peak_end"),
                "negative peaks": f"{m['negative_peak_share']:.0%}"
                if m["negative_peak_share"] is not None
                else "",
                "most negative peaks at": m["worst_point"] or "",
            }
            for m in moments
        ]
    )


def _themes(store: Store, rules: JourneyRules | None) -> pd.DataFrame | None:
    """Per theme: comments, share of all comments, negative share and mean sentiment."""
    from journeylens.journeys.definitions import JourneyRules
    from journeylens.voc.settings import SentimentSettings
    from journeylens.voc.theme_summary import judged_comments, theme_rows
    from journeylens.voc.themes import THEMES_TABLE

    if THEMES_TABLE not in store.backend.list_tables():
        return None
    negative = (rules or JourneyRules()).feedback.negative
    comments = judged_comments(store, store.table("feedback"), negative, SentimentSettings())
    table = store.backend.table(THEMES_TABLE)
    names = sorted(str(t) for t in store.execute(table.select("theme").distinct()).column(0).to_pylist())
    rows, total = theme_rows(store, comments, names, {})
    if not total:
        return None

    def share(value: float | None, lo: float | None, hi: float | None) -> str:
        if value is None or lo is None or hi is None:
            return "n/d"
        return f"{value:.1%} [{lo:.1%}–{hi:.1%}]"

    return pd.DataFrame(
        [
            {
                "theme": r["theme"],
                "comments": r["comments"],
                "share of comments": share(r["share"], r["share_lo"], r["share_hi"]),
                "negative": share(r["negative_share"], r["negative_lo"], r["negative_hi"]),
                "sentiment": "n/d"
                if r["sentiment_lo"] is None
                else f"{r['sentiment']:+.2f} [{r['sentiment_lo']:+.2f}–{r['sentiment_hi']:+.2f}]",
            }
            for r in sorted(rows, key=lambda r: -r["comments"])
        ]
    )
