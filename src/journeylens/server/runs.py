"""Running registered analyses for HTTP callers: one at a time on the workspace's store, cached
per (analysis, spec, data version).

The data version names everything an answer depends on: the last ingest, the last finished build,
the workspace settings, and the files analyses read (maps, the theme taxonomy, the action
catalogue). Any ingest, build or edit changes it, so a cached answer never passes for current. Analyses run
under one lock because the embedded DuckDB connection serves one statement at a time; the
lock also makes the automatic build (when data changed) happen once, not once per request.

While a writer holds the store (a build started by a request whose data changed, the collector's
ingest, a deletion: :meth:`AnalysisRunner.writing`), a request waits at most ``wait`` seconds and
is then answered from the previous consistent version: that version's cached answer, marked
``stale`` with what is running, or, when there is none, a 503 problem with ``Retry-After``. The
request that started a build waits for it (its answer is on the new data). Another process cannot
build meanwhile: DuckDB lets one process open the store, so ``journeylens build`` on a served
workspace fails at once naming the server's PID (docs/api.md).

Example:
    >>> runner = AnalysisRunner(ctx)  # doctest: +SKIP
    >>> runner.run("variants", {"limit": 5}).cached  # doctest: +SKIP
    False
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from journeylens.server.problems import Problem

if TYPE_CHECKING:
    from pydantic import BaseModel

    from journeylens.workspace import Workspace

__all__ = ["WRITERS", "AnalysisRunner", "Answer", "data_version"]

WRITERS = {
    "build": ("Build in progress", "A build of customers and journeys is running"),
    "ingest": ("Ingest in progress", "An ingest is running"),
    "forget": ("Deletion in progress", "A deletion (forget) is running"),
}
"""What can hold the store for writing: the title and sentence a request that meets it gets."""

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
    stale: str | None = None
    """What was writing (a :data:`WRITERS` key) when this previous version's answer was served;
    None when ``version`` is the current data."""

    @property
    def state(self) -> str:
        """``current``, or ``stale; running=build`` (the ``X-Data-State`` header)."""
        return "current" if self.stale is None else f"stale; running={self.stale}"


def spec_key(name: str, spec: BaseModel) -> str:
    """The cache key of ``spec``: its canonical JSON (field order and defaults included)."""
    return name + "\x00" + spec.model_dump_json()


class AnalysisRunner:
    """Runs registry analyses on one workspace, serially, with an LRU cache of answers."""

    def __init__(
        self, workspace: Workspace, *, size: int = 256, wait: float = 0.5, patience: float = 120.0
    ) -> None:
        self.workspace = workspace
        self.size = size
        self.wait = wait
        """Seconds a request waits for a writer before it is answered from the previous version."""
        self.patience = patience
        """Seconds a request waits behind other analyses before it is refused (503)."""
        self.lock = threading.RLock()
        self._cache: OrderedDict[str, Answer] = OrderedDict()
        self._cache_lock = threading.Lock()  # the cache is also read by requests not holding `lock`
        self.version: str | None = None
        """The last data version an answer was computed on: the previous one while a writer runs."""
        self.writer: str | None = None
        """What holds the store for writing now (a :data:`WRITERS` key), or None."""

    @contextmanager
    def writing(self, writer: str) -> Iterator[None]:
        """Hold the store to write (``ingest``, ``forget``); requests meanwhile get the previous
        version's answers instead of waiting."""
        with self.lock:
            before, self.writer = self.writer, writer
            try:
                yield
            finally:
                self.writer = before
                if writer == "forget":  # answers naming a forgotten person are never served again
                    with self._cache_lock:
                        self._cache.clear()

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Hold the store to read something uncached: after a bounded wait for a writer, a 503."""
        self._acquire(None)  # without a key it holds the lock or raises
        try:
            yield
        finally:
            self.lock.release()

    def _acquire(self, key: str | None) -> Answer | None:
        """Take the lock, or the previous version's answer of ``key`` once a writer kept it for
        ``wait`` seconds (then the lock is not held)."""
        start = time.monotonic()
        while not self.lock.acquire(timeout=self.wait):
            writer = self.writer
            if writer is not None:
                with self._cache_lock:
                    hit = self._cache.get(f"{key}\x00{self.version}") if key is not None else None
                if hit is not None:
                    return Answer(hit.result, hit.version, cached=True, stale=writer)
                raise self._busy(*WRITERS[writer], writer)
            if time.monotonic() - start > self.patience:
                raise self._busy("Busy", "Other analyses are still running", None)
        return None

    def _busy(self, title: str, what: str, writer: str | None) -> Problem:
        retry = max(1, round(self.wait * 4))
        return Problem(
            503,
            title,
            f"{what} on this workspace, and this answer is not cached for the previous data "
            f"version ({self.version or 'none yet'}).",
            headers={"Retry-After": str(retry)},
            hint=f"Retry in {retry} s; the answer is computed once the store is free.",
            data_version=self.version,
            running=writer,
        )

    def _building(self, _line: str) -> None:
        self.writer = "build"  # ensure_model's notice: a build starts now

    def ensure_model(self) -> None:
        """Build customers and journeys when the data changed (holding :attr:`lock`); requests
        meanwhile are answered from the previous version."""
        before = self.writer
        try:
            self.workspace.ensure_model(notice=self._building)
        finally:
            self.writer = before

    def clear(self) -> None:
        """Forget every cached answer (the next request of each spec runs, as after a build)."""
        with self.lock, self._cache_lock:
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
        earlier = self._acquire(spec_key(name, typed))
        if earlier is not None:
            return earlier
        try:
            if analysis.needs_model:
                self.ensure_model()
            version = self.version = data_version(self.workspace)
            key = spec_key(name, typed) + "\x00" + version
            with self._cache_lock:
                hit = self._cache.get(key)
                if hit is not None:
                    self._cache.move_to_end(key)
                    return Answer(hit.result, version, cached=True)
            answer = Answer(self.workspace.run_analysis(analysis, typed), version, cached=False)
            with self._cache_lock:
                self._cache[key] = answer
                while len(self._cache) > self.size:
                    self._cache.popitem(last=False)
            return answer
        finally:
            self.lock.release()
