"""``journeylens feedback export``: every feedback row with what JourneyLens read from it — its
sentiment, label and the model that scored it, its journey, step and agent, and (when themes are
matched) its themes — streamed to a file or standard output (``journeylens.export``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from journeylens.errors import NotFoundError
from journeylens.export import ExportFormat, export_table

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from journeylens.specs.feedback import FeedbackExportSpec
    from journeylens.store import Store

NEEDED = ("feedback_links", "feedback_sentiment", "journeys")


@dataclass(frozen=True)
class FeedbackExport:
    """What :func:`export_feedback` wrote (``path`` is None for standard output)."""

    #: The JSON contract (docs/cli.md reads it).
    JSON_FIELDS: ClassVar[tuple[str, ...]] = ("path", "rows", "format")

    path: Path | None
    rows: int
    format: str

    def to_dict(self) -> dict[str, object]:
        return {
            "path": None if self.path is None else str(self.path),
            "rows": self.rows,
            "format": self.format,
        }


def feedback_rows(store: Store) -> ir.Table:
    """One row per feedback row (none dropped): the answer, its sentiment and its journey link."""
    present = set(store.backend.list_tables())
    missing = [t for t in NEEDED if t not in present]
    if missing:
        raise NotFoundError(
            f"The model has no {', '.join(missing)} table yet.",
            hint="Run `journeylens build` (analyses build it when the model is stale).",
        )
    backend = store.backend
    fb = store.table("feedback").drop("ingest_seq")
    tone = backend.table("feedback_sentiment").rename(_fid="feedback_id")
    links = backend.table("feedback_links").select(
        _lid="feedback_id", journey_id="journey_id", link="link", step="step",
        step_touchpoint="touchpoint", step_agent="agent_id",
    )  # fmt: skip
    journeys = backend.table("journeys").select(_jid="journey_id", journey_type="journey_type")
    rows = fb.left_join(tone, fb.feedback_id == tone._fid).drop("_fid")
    rows = rows.left_join(links, rows.feedback_id == links._lid).drop("_lid")
    rows = rows.left_join(journeys, rows.journey_id == journeys._jid).drop("_jid")
    if "feedback_themes" in present:
        themes = backend.table("feedback_themes")
        joined = themes.group_by(_tid=themes.feedback_id).agg(themes=themes.theme.group_concat(";"))
        rows = rows.left_join(joined, rows.feedback_id == joined._tid).drop("_tid")
    return rows.rename(sentiment_label="label", sentiment_model="model")


def export_feedback(store: Store, spec: FeedbackExportSpec) -> FeedbackExport:
    """Write :func:`feedback_rows` to ``spec.out`` (standard output when None) as CSV, JSON or
    Parquet (from the file's suffix unless ``spec.file_format`` says)."""
    fmt = spec.file_format
    if fmt is None:
        suffix = spec.out.suffix.lower().lstrip(".") if spec.out is not None else ""
        fmt = ExportFormat(suffix) if suffix in ExportFormat.__members__ else ExportFormat.csv
    written = export_table(store, feedback_rows(store), spec.out, fmt)
    return FeedbackExport(written.path, written.rows, fmt.value)
