"""A workspace: a folder with ``journeylens.toml``, a ``maps/`` folder, ``themes.yaml`` and (by default)
a DuckDB file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from journeylens._workspace_analyses import WorkspaceAnalyses
from journeylens.config import CONFIG_FILE, Config
from journeylens.errors import WorkspaceError
from journeylens.store._quick import resolve_url
from journeylens.voc.taxonomy import write_starter

if TYPE_CHECKING:
    from pydantic import BaseModel

    from journeylens._map_analyses import MapAnalyses
    from journeylens.analyses import Analysis
    from journeylens.ingest import IngestReport, IngestSpec
    from journeylens.ingest.pipeline import ProgressFn
    from journeylens.model import BuildProgress, BuildSummary, Notice
    from journeylens.store import Store


class Workspace(WorkspaceAnalyses):
    """Entry point of the Python API; every analysis is a method (``ws.dfg()``, ``ws.funnel(...)``).

    Example:
        >>> ws = Workspace.init("/tmp/jl-doctest", force=True)
        >>> ws.store.count("events")
        0
    """

    def __init__(self, root: Path, config: Config) -> None:
        self.root = root
        self.config = config
        self._store: Store | None = None

    @classmethod
    def init(cls, root: str | Path, *, force: bool = False, timezone: str | None = None) -> Workspace:
        """Create a workspace in ``root`` (created if needed) and return it."""
        root = Path(root).resolve()
        config_path = root / CONFIG_FILE
        if config_path.exists() and not force:
            raise WorkspaceError.already_exists(root)
        config = Config.new(workspace={"timezone": timezone} if timezone else {})
        if config_path.exists():
            # --force rewrites the settings but keeps the salt: a new salt would orphan every
            # e-mail and phone hash already stored.
            config.privacy.salt = Config.load(config_path).privacy.salt
        try:
            (root / "maps").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WorkspaceError.cannot_create(root, exc) from exc
        config.dump(config_path)
        write_starter(root / config.voc.themes.file)
        return cls(root, config)

    @classmethod
    def open(cls, start: str | Path = ".") -> Workspace:
        """Open the workspace at ``start`` or the nearest parent folder that has one."""
        start = Path(start).resolve()
        for folder in (start, *start.parents):
            if (folder / CONFIG_FILE).is_file():
                return cls(folder, Config.load(folder / CONFIG_FILE))
        raise WorkspaceError.not_found(start)

    @property
    def url(self) -> str:
        return resolve_url(self.config.backend.url, self.root)

    @property
    def store(self) -> Store:
        if self._store is None:
            from journeylens.store import Store  # the engine: only when data is touched

            self._store = Store.connect(
                self.url,
                timezone=self.config.workspace.timezone,
                memory_limit=self.config.backend.memory_limit,
                root=self.root,
                settings=self.config.backend,
            )
        return self._store

    def ingest(
        self, spec: IngestSpec | None = None, progress: ProgressFn | None = None, **fields: object
    ) -> list[IngestReport]:
        """Ingest files; takes an :class:`IngestSpec` or its fields as keywords.

        Example:
            >>> ws.ingest(paths=["events.csv"], table="events")  # doctest: +SKIP
        """
        # The readers (CSV, XES, JSON Lines) load with the first ingest, not with every command.
        from journeylens.ingest import Ingestor
        from journeylens.ingest.pipeline import build_spec

        spec = spec or build_spec(channel_aliases=self.config.channels.aliases, **fields)
        return Ingestor(self.store, self.config).ingest(spec, progress)

    def ensure_model(
        self,
        *,
        build: bool = True,
        progress: BuildProgress | None = None,
        notice: Notice | None = None,
    ) -> BuildSummary | None:
        """Build customers and journeys when they are missing or older than the data.

        Every analysis calls this first; ``build=False`` raises instead of building.
        """
        from journeylens.model import ensure_model

        return ensure_model(self.store, self.config, build=build, progress=progress, notice=notice)

    def build(self, progress: BuildProgress | None = None, *, full: bool = False) -> BuildSummary:
        """Stitch customers and build journeys now, whether or not they are stale (``journeylens build``);
        incremental where that is exact, ``full=True`` recomputes every customer.

        Example:
            >>> ws.build().journeys  # doctest: +SKIP
            4580
        """
        from journeylens.model import build_model

        return build_model(self.store, self.config, progress, full=full)

    def report(
        self,
        out: str | Path | None = None,
        *,
        title: str = "JourneyLens report",
        build: bool = True,
        progress: BuildProgress | None = None,
        notice: Notice | None = None,
    ) -> Path:
        """Write the self-contained HTML report (default ``WORKSPACE/report.html``) and return its path.

        Customers and journeys are built first when they are missing or stale, as for any
        analysis (``build=False`` raises :class:`~journeylens.errors.StaleModelError` instead).

        Example:
            >>> ws.report()  # doctest: +SKIP
            PosixPath('/data/ws/report.html')
        """
        from journeylens.report import write_report  # plotly: only when a report is written

        if self.store.count("events"):  # an empty workspace still gets its (empty) report
            self.ensure_model(build=build, progress=progress, notice=notice)
        path = Path(out) if out is not None else self.root / "report.html"
        return write_report(self.store, path, title=title, rules=self.config.journeys)

    def map(self, name: str) -> MapAnalyses:
        """A designed map of the workspace (``maps/NAME.yaml``, or a path), its analyses as methods
        with the map bound: ``ws.map("purchase").check()`` is ``ws.map_check("purchase")``.

        An unknown name raises :class:`~journeylens.errors.InputError` naming the maps folder, the
        maps it holds and close matches, as the command line does.

        Example:
            >>> ws.map("purchase").show(format="mermaid").text  # doctest: +SKIP
        """
        from journeylens._map_analyses import MapAnalyses

        return MapAnalyses(self, name)

    def run_analysis(self, analysis: Analysis, spec: BaseModel) -> Any:
        """Run a registered analysis on a ready spec (the model must be fresh; see ``analysis``)."""
        from journeylens.analyses import load

        return load(analysis.run)(self if analysis.takes_workspace else self.store, spec)

    def analysis(self, name: str, values: dict[str, Any], *, build: bool = True) -> Any:
        """Build the spec of analysis ``name`` from option values, keep the model fresh, and run it.

        The generated methods (``ws.dfg(...)``) call this; it is the Python twin of the CLI runner.

        Example:
            >>> ws.analysis("variants", {"type": "purchase", "limit": 5})  # doctest: +SKIP
        """
        from journeylens.analyses import ANALYSES
        from journeylens.analyses._build import build_spec

        chosen = ANALYSES[name]
        spec = build_spec(chosen, values)
        if chosen.needs_model:
            self.ensure_model(build=build, notice=_say)
        return self.run_analysis(chosen, spec)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def _say(line: str) -> None:
    """The one line an automatic build prints in a notebook or script (stderr, like the CLI's)."""
    print(line, file=sys.stderr)
