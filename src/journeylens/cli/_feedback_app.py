"""``journeylens feedback``: the voice-of-the-customer command group. Its analyses (scores,
emotion, export) come from the registry; ``train`` is here because it changes the workspace (it
learns the text models again) rather than computing a result."""

from __future__ import annotations

from pathlib import Path

import typer

from journeylens.cli._commands import FormatOpt, NoBuildOpt, WorkspaceOpt, ensure_fresh
from journeylens.cli._output import OutputFormat, err_console, render

feedback_app = typer.Typer(
    help="Voice of the customer: scores, sentiment, emotion and themes on the journey (docs/voc.md).",
    no_args_is_help=True,
)


@feedback_app.command("train")
def feedback_train(
    workspace: WorkspaceOpt = Path("."), fmt: FormatOpt = OutputFormat.table, no_build: NoBuildOpt = False
) -> None:
    """Learn the sentiment model from the workspace's labelled comments now (scores that say
    negative or not, or [voc.sentiment] label_property), cross-validated; rescore every comment.
    Builds usually do this themselves when labelled feedback arrives."""
    from journeylens.voc.scoring import write_sentiment
    from journeylens.workspace import Workspace

    ws = Workspace.open(workspace)
    ensure_fresh(ws, build=not no_build)
    settings = ws.config.voc.sentiment
    if settings.mode == "lexicon":
        settings = settings.model_copy(update={"mode": "learned"})
        err_console.print("[voc.sentiment] mode is lexicon: training anyway; builds keep using the lexicon.")
    built = write_sentiment(ws.store, settings, ws.config.journeys.feedback.negative, retrain=True)
    metrics = built.metrics
    row = {
        "model": built.model,
        "comments": built.comments,
        "labelled": built.labelled,
        "negative": built.negative,
        "cv_auc": round(metrics["cv_auc"], 4) if metrics else None,
        "cv_auc_folds": metrics.get("cv_auc_folds") if metrics else None,
        "note": built.note,
    }
    render(row, fmt, title="Sentiment model")
