"""The main job: a synthetic omnichannel world, ingested into a fresh workspace; its journeys and report."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from journeylens.config import CONFIG_FILE
from journeylens.errors import WorkspaceError
from journeylens.ingest import IngestReport, IngestSpec
from journeylens.ingest.pipeline import TableName
from journeylens.journeys.definitions import EXAMPLE_COSTS
from journeylens.maps._demo_maps import write_demo_maps
from journeylens.model import BuildProgress, build_model
from journeylens.report import write_report
from journeylens.server.keys import KEYS_FILE, KeyStore
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
    journeys: int
    """Journeys built from the stitched customers' events (the report's Journeys section)."""
    read_token: str = ""
    """A read token for the demo workspace: the dashboard's login and the REST API's credential."""


class DemoProgress:
    """Callbacks the CLI turns into progress bars; the defaults do nothing."""

    def stage(self, name: str, total: int | None) -> None:
        """A new stage starts (``total`` in its own unit, or None when unknown)."""

    def advance(self, done: int) -> None:
        """The current stage reached ``done``."""


def run_demo(
    directory: Path, customers: int = 20_000, seed: int = 7, progress: DemoProgress | None = None
) -> DemoResult:
    """Create (or recreate) a demo workspace in ``directory``, build its journeys, write its report.

    Example:
        >>> run_demo(Path("/tmp/jl-demo"), customers=200)  # doctest: +SKIP
    """
    progress = progress or DemoProgress()
    directory = directory.resolve()
    _claim(directory)
    ws = Workspace.init(directory, force=True, timezone="UTC")
    # The synthetic world writes Dutch-style national numbers (06-...), as ground_truth.json says.
    ws.config.privacy.default_country_code = "31"
    # The demo prices its contact centre explicitly (a new workspace has no costs until set).
    ws.config.journeys.costs = dict(EXAMPLE_COSTS)
    ws.config.dump(ws.root / CONFIG_FILE)
    data = directory / "data"
    progress.stage("Generating synthetic customers", customers)
    generate_world(data, customers=customers, seed=seed, progress=lambda done, _: progress.advance(done))
    reports: list[IngestReport] = []
    for table in DEMO_TABLES:
        folder = data / table
        progress.stage(f"Ingesting {table}", None)
        spec = IngestSpec(paths=[str(folder)], table=table)
        reports.extend(ws.ingest(spec, progress=_rows(progress)))
    progress.stage("Ingesting a legacy IVR export", None)
    legacy = write_legacy_ivr_export(data, seed)
    # The old system says 'Telefoon'; teach the workspace that alias, as a user would.
    ws.config.channels.aliases["telefoon"] = "call_center"
    ws.config.dump(ws.root / CONFIG_FILE)
    reports.extend(
        ws.ingest(
            IngestSpec(
                paths=[str(legacy)],
                delimiter=";",
                encoding="latin-1",
                mapping={
                    "event_id": "CallID",
                    "user_id": "Caller",
                    "timestamp": "Start",
                    "touchpoint": "Menu",
                    "channel": "Medium",
                },
            )
        )
    )
    # Through build_model, so the build is recorded and later analyses find the model fresh.
    summary = build_model(ws.store, ws.config, progress=_steps(progress))
    # Designed maps, as a CX team keeps them: the report draws each with the data.
    write_demo_maps(ws.root)
    # The starter taxonomy of themes, matched (and a classifier learned) as `feedback themes` does.
    progress.stage("Finding themes in comments", None)
    ws.feedback_themes()
    progress.stage("Writing the report", None)
    report = write_report(
        ws.store, directory / "report.html", title="JourneyLens demo", rules=ws.config.journeys
    )
    # A read token, so the dashboard (`journeylens serve`) opens on the demo without another step.
    token = KeyStore(ws.root / KEYS_FILE).create("read", name="demo dashboard").secret
    ws.close()
    return DemoResult(directory, data, report, reports, summary.journeys, token)


LEGACY_FLAWS = {
    7: ("Start", "31-02-2026 25:61"),  # not a date
    19: ("Menu", ""),  # the IVR lost the menu
    23: ("Caller", ""),  # anonymous caller, no case either
    41: ("Start", "gisteren"),
}
"""Line (1 = header) -> (field, bad value) planted in the legacy export; the report shows them."""
LEGACY_MALFORMED_LINE = 31
"""A line with too few fields."""


def write_legacy_ivr_export(data: Path, seed: int, rows: int = 400) -> Path:
    """A call-centre IVR log as an old system exports it: ';', Latin-1, its own column names,
    naive local times, 'IVR'/'Telefoon' for the channel, a malformed line and a few bad values.
    Callers are real customers of the synthetic world, so the records join their journeys.
    """
    import numpy as np
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed + 1)
    customers = pq.read_table(data / "customers", columns=["user_id"]).column("user_id").to_pylist()
    menus = ["Facturen", "Levering", "Storing", "Opzeggen", "Overig", "Menú principal"]
    lines = ["CallID;Caller;Start;Menu;Medium"]
    for i in range(rows):
        if len(lines) + 1 == LEGACY_MALFORMED_LINE:
            lines.append("ivr-broken;line;without;all")
        line_no = len(lines) + 1
        values = {
            "CallID": f"ivr-{seed}-{i:05d}",
            "Caller": customers[int(rng.integers(len(customers)))],
            "Start": f"2026-{1 + i % 4:02d}-{1 + i % 28:02d} {8 + i % 10:02d}:{i % 60:02d}:00",
            "Menu": menus[int(rng.integers(len(menus)))],
            "Medium": "IVR" if i % 3 else "Telefoon",
        }
        if line_no in LEGACY_FLAWS:
            field, bad = LEGACY_FLAWS[line_no]
            values[field] = bad
        lines.append(";".join(values.values()))
    path = data / "legacy" / "ivr_export.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    return path


def _rows(progress: DemoProgress) -> Callable[[str, int], None]:
    return lambda _source, rows: progress.advance(rows)


def _steps(progress: DemoProgress) -> BuildProgress:
    """Each step of the build (stitching, journeys) as a stage of its own."""

    def step(name: str, done: int, total: int) -> None:
        if done < total:
            progress.stage(name, None)

    return step


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
