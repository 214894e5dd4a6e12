"""The main job: a synthetic omnichannel world, ingested into a fresh workspace, and its report."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from journeylens.config import CONFIG_FILE
from journeylens.errors import WorkspaceError
from journeylens.ingest import IngestReport, IngestSpec
from journeylens.ingest.pipeline import TableName
from journeylens.report import write_report
from journeylens.synth import generate_world
from journeylens.workspace import Workspace

# Load order: reference tables first, so a reader of a half-finished demo sees whole customers.
DEMO_TABLES: tuple[TableName, ...] = (
    "agents",
    "customers",
    "identities",
    "events",
    "feedback",
    "assignments",
)
_DEMO_MARK = ".journeylens-demo"


@dataclass(frozen=True)
class DemoResult:
    workspace: Path
    data: Path
    report: Path
    ingests: list[IngestReport]


class DemoProgress:
    """Callbacks the CLI turns into progress bars; the defaults do nothing."""

    def stage(self, name: str, total: int | None) -> None:
        """A new stage starts (``total`` in its own unit, or None when unknown)."""

    def advance(self, done: int) -> None:
        """The current stage reached ``done``."""


def run_demo(
    directory: Path, customers: int = 20_000, seed: int = 7, progress: DemoProgress | None = None
) -> DemoResult:
    """Create (or recreate) a demo workspace in ``directory`` and write its report.

    Example:
        >>> run_demo(Path("/tmp/jl-demo"), customers=200)  # doctest: +SKIP
    """
    progress = progress or DemoProgress()
    directory = directory.resolve()
    _claim(directory)
    ws = Workspace.init(directory, force=True, timezone="UTC")
    data = directory / "data"
    progress.stage("Generating synthetic customers", customers)
    generate_world(data, customers=customers, seed=seed, progress=lambda done, _: progress.advance(done))
    reports: list[IngestReport] = []
    for table in DEMO_TABLES:
        folder = data / table
        progress.stage(f"Ingesting {table}", None)
        spec = IngestSpec(paths=[str(folder)], table=table)
        reports.extend(ws.ingest(spec, progress=_rows(progress)))
    progress.stage("Writing the report", None)
    report = write_report(ws.store, directory / "report.html", title="JourneyLens demo")
    ws.close()
    return DemoResult(directory, data, report, reports)


def _rows(progress: DemoProgress) -> Callable[[str, int], None]:
    return lambda _source, rows: progress.advance(rows)


def _claim(directory: Path) -> None:
    """Start from a clean folder: reuse an earlier demo's, refuse anybody else's."""
    if not directory.exists() or not any(directory.iterdir()):
        directory.mkdir(parents=True, exist_ok=True)
        (directory / _DEMO_MARK).touch()
        return
    if not (directory / _DEMO_MARK).exists():
        what = "a workspace" if (directory / CONFIG_FILE).exists() else "files"
        raise WorkspaceError(
            f"{directory} already holds {what} that the demo did not create.",
            hint="Pass an empty or new folder: `journeylens demo ./journeylens-demo`.",
        )
    for child in directory.iterdir():
        if child.name != _DEMO_MARK:
            shutil.rmtree(child) if child.is_dir() else child.unlink()
