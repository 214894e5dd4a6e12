"""Running registered analyses for HTTP callers: one at a time on the workspace's store, cached
per (analysis, spec, data version).

The data version names everything an answer depends on: the last ingest, the last finished build,
the workspace settings, and the files analyses read (maps, the theme taxonomy, the action
catalogue). Any ingest, build or edit changes it, so a cached answer is never stale. Analyses run
under one lock because the embedded DuckDB connection serves one statement at a time; the
lock also makes the automatic build (when data changed) happen once, not once per request.

Example:
    >>> runner = AnalysisRunner(ctx)  # doctest: +SKIP
    >>> runner.run("variants", {"limit": 5}).cached  # doctest: +SKIP
    False
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel

    from journeylens.workspace import Workspace

__all__ = ["AnalysisRunner", "Answer", "data_version"]

_WATCHED = ("maps", "themes.yaml", "journeylens.toml", "actions.toml")


def _files_mark(ws: Workspace) -> list[tuple[str, int, int]]:
    marks = []
    for name in _WATCHED:
        path = ws.root / name
        paths = sorted(path.glob("*")) if path.is_dir() else [path]
        for p in paths:
            if p.is_file():
                stat = p.stat()
                marks.append((str(p.relative_to(ws.root)), stat.st_mtime_ns, stat.st_size))
    return marks


def data_version(ws: Workspace) -> str:
    """A short fingerprint that changes with every ingest, build, or edit of the files analyses
    read."""
    store = ws.store
    last_ingest = store.execute(store.table("ingests").ingest_id.max()).as_py()
    builds = store.table("builds")
    last_build = store.execute(builds.filter(builds.finished_at.notnull()).build_id.max()).as_py()
    forgets = store.execute(store.table("privacy_audit").count()).as_py()  # deleted rows: docs/privacy.md
    raw = json.dumps([last_ingest, last_build, forgets, _files_mark(ws)], default=str)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Answer:
    """An analysis result with the data version it was computed on."""

    result: Any
    version: str
    cached: bool


def spec_key(name: str, spec: BaseModel) -> str:
    """The cache key of ``spec``: its canonical JSON (field order and defaults included)."""
    return name + "\x00" + spec.model_dump_json()


class AnalysisRunner:
    """Runs registry analyses on one workspace, serially, with an LRU cache of answers."""

    def __init__(self, workspace: Workspace, *, size: int = 256) -> None:
        self.workspace = workspace
        self.size = size
        self.lock = threading.RLock()
        self._cache: OrderedDict[str, Answer] = OrderedDict()

    def clear(self) -> None:
        """Forget every cached answer (the next request of each spec runs, as after a build)."""
        with self.lock:
            self._cache.clear()

    def spec(self, name: str, values: Mapping[str, Any]) -> BaseModel:
        """The typed spec of analysis ``name`` from option values (the CLI's validation)."""
        from journeylens.analyses import ANALYSES
        from journeylens.analyses._build import build_spec

        return build_spec(ANALYSES[name], values)

    def run(self, name: str, spec: BaseModel | Mapping[str, Any]) -> Answer:
        """The result of analysis ``name`` on ``spec`` (a typed spec or option values)."""
        from pydantic import BaseModel

        from journeylens.analyses import ANALYSES

        analysis = ANALYSES[name]
        typed = spec if isinstance(spec, BaseModel) else self.spec(name, spec)
        with self.lock:
            if analysis.needs_model:
                self.workspace.ensure_model(notice=lambda _line: None)
            version = data_version(self.workspace)
            key = spec_key(name, typed) + "\x00" + version
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return Answer(hit.result, version, cached=True)
            result = self.workspace.run_analysis(analysis, typed)
            self._cache[key] = Answer(result, version, cached=False)
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
            return self._cache[key]
