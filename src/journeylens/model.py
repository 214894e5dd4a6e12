"""The derived model (customer_map, journeys, journey_events, feedback_links): build it, and keep it fresh.

Interface shared by every surface. ``ensure_model`` is what an analysis calls before it reads
derived tables: it builds them when they are missing or stale (or refuses with ``--no-build``).

Every build is recorded in the ``builds`` system table: a row is written when it starts and gets
its ``finished_at`` only once every derived table is written, so a build killed half-way is seen
by the next analysis, which rebuilds instead of reading a new customer_map next to old journeys.
The row also keeps what the build covered (the last ingest, the settings it used), which is how
:func:`model_state` tells a fresh model from a stale one with a few small queries.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import ibis
import pyarrow as pa

from journeylens.errors import StaleModelError
from journeylens.store.schema import BUILDS_SCHEMA

if TYPE_CHECKING:
    from journeylens.config import Config
    from journeylens.store import Store

__all__ = [
    "DERIVED_TABLES",
    "MODEL_INPUTS",
    "MODEL_VERSION",
    "BuildPlan",
    "BuildProgress",
    "BuildSummary",
    "ModelState",
    "Notice",
    "StaleModelError",
    "Staleness",
    "build_model",
    "build_plan",
    "config_fingerprint",
    "ensure_model",
    "model_state",
]

#: progress(step description, steps done, steps in all)
BuildProgress = Callable[[str, int, int], None]
#: notice(one line for the user, e.g. "Building customers and journeys: 2 ingests (events) since ...")
Notice = Callable[[str], None]

MODEL_VERSION = 5
"""Layout and rules of the derived tables. Bump it when a release changes what a build writes:
workspaces built by another version are then rebuilt by their next analysis."""
DERIVED_TABLES = ("customer_map", "feedback_sentiment", "journeys", "journey_events", "feedback_links")
MODEL_INPUTS = ("events", "identities", "customers", "feedback")
"""Raw tables a build reads (feedback is outcome evidence: see ``journeys.evidence``). Ingests into
the others (agents, assignments) are joined by analyses at query time, so they do not make the
model stale."""


class Staleness(StrEnum):
    """Why the derived tables cannot be used as they are."""

    NEVER_BUILT = "never_built"
    INTERRUPTED = "interrupted"
    TABLES_MISSING = "tables_missing"
    MODEL_VERSION = "model_version"
    CONFIG_CHANGED = "config_changed"
    NEW_DATA = "new_data"
    FORGOTTEN = "forgotten"


@dataclass(frozen=True)
class ModelState:
    """Whether the derived tables are fresh, and if not, why (see :func:`model_state`)."""

    reasons: tuple[Staleness, ...]
    """Empty when the model is fresh."""
    why: str
    """One phrase for the user: "2 ingests (events) since the last build"."""
    last_build: int | None = None
    """``builds.build_id`` of the most recent build, finished or not."""
    new_ingests: dict[str, int] = field(default_factory=dict)
    """Ingests that loaded rows since the last build, by table."""
    missing: tuple[str, ...] = ()
    """Derived tables that do not exist."""

    @property
    def fresh(self) -> bool:
        return not self.reasons

    @property
    def notice(self) -> str:
        """The line shown when an analysis builds first."""
        return f"Building customers and journeys: {self.why}."

    def to_dict(self) -> dict[str, Any]:
        return {
            "fresh": self.fresh,
            "reasons": [r.value for r in self.reasons],
            "why": self.why,
            "last_build": self.last_build,
            "new_ingests": self.new_ingests,
            "missing": list(self.missing),
        }


@dataclass(frozen=True)
class BuildSummary:
    identifiers: int
    customers: int
    shared_identifiers: int
    rounds: int
    journeys: int
    stitch_seconds: float
    journey_seconds: float
    sentiment_model: str = "lexicon"
    """What scored the comments: ``learned`` or ``lexicon`` (``voc.scoring``)."""
    sentiment_cv_auc: float | None = None
    """The learned model's cross-validated ROC AUC (negative vs rest); None for the lexicon."""
    sentiment_note: str | None = None
    mode: str = "full"
    """``full`` (everything recomputed) or ``incremental`` (see ``journeys.incremental``)."""
    reason: str = ""
    """Why this path ran: for a full build, why the incremental one could not be exact."""
    recomputed_customers: int | None = None
    """Customers whose journeys were recomputed (all of them in a full build)."""
    redecided_journeys: int = 0
    """Open journeys not rebuilt (of other customers, or before a recomputed customer's cut)
    re-decided because the data's end moved (incremental)."""
    from_cut: int = 0
    """Recomputed customers whose journeys before their last break were kept (incremental; see
    ``journeys.incremental``)."""

    @property
    def line(self) -> str:
        """One line for the user: which path ran, and what it recomputed."""
        if self.mode == "incremental":
            return (
                f"Incremental build: {self.recomputed_customers:,} of {self.customers:,} customers "
                f"recomputed{self._from_cut}{self._redecided} ({self.reason})."
            )
        return f"Full build of {self.customers:,} customers: {self.reason}."

    @property
    def _from_cut(self) -> str:
        n = self.from_cut
        return f" ({n:,} from their last break, keeping earlier journeys)" if n else ""

    @property
    def _redecided(self) -> str:
        n = self.redecided_journeys
        return f", {n:,} open journey{'s' if n != 1 else ''} re-decided" if n else ""


@dataclass(frozen=True)
class BuildPlan:
    """Which path the next build takes (see :func:`build_plan`)."""

    mode: str
    reason: str
    watermark: int = 0
    """The last build's ``ingest_watermark`` (incremental builds read what came after it)."""
    full_stitch: bool = False
    """An incremental build that stitches identity in full (``reason`` says why)."""


def config_fingerprint(config: Config) -> str:
    """SHA-256 of the settings the model depends on (``[identity]``, ``[journeys]``, ``[voc]``).

    The effective settings are hashed (defaults included), as canonical JSON, so reordering the
    TOML changes nothing while any changed value, or new defaults in a release, does.

    Example:
        >>> from journeylens.config import Config
        >>> len(config_fingerprint(Config.new()))
        64
    """
    sections = {
        "identity": config.identity.model_dump(mode="json"),
        "journeys": config.journeys.model_dump(mode="json"),
        # Themes are matched by `feedback themes`, not by the build: their settings leave it fresh.
        "voc": config.voc.model_dump(mode="json", exclude={"themes"}),
    }
    text = json.dumps(sections, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def model_state(store: Store, config: Config) -> ModelState:
    """Say whether customer_map, journeys and journey_events can be read as they are, and why not.

    Cheap: the table list, the last ``builds`` row and an aggregate of the ``ingests`` log; no
    event is read.

    Example:
        >>> state = model_state(workspace.store, workspace.config)  # doctest: +SKIP
        >>> state.fresh, state.why  # doctest: +SKIP
        (False, '2 ingests (events) since the last build')
    """
    present = set(store.backend.list_tables())
    missing = tuple(name for name in DERIVED_TABLES if name not in present)
    last = _last_build(store)
    if last is None:
        why = "they have not been built yet" if missing else "no build of the existing tables is recorded"
        return ModelState((Staleness.NEVER_BUILT,), why, missing=missing)
    build_id = int(last["build_id"])
    if last["finished_at"] is None:
        started = last["started_at"]
        return ModelState(
            (Staleness.INTERRUPTED,),
            f"the previous build (build {build_id}, started {started:%Y-%m-%d %H:%M} UTC) was "
            "interrupted or failed before it finished",
            build_id,
            missing=missing,
        )
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        return ModelState(
            (Staleness.TABLES_MISSING,),
            f"{', '.join(missing)} {verb} missing although build {build_id} finished",
            build_id,
            missing=missing,
        )
    reasons: list[Staleness] = []
    phrases: list[str] = []
    if last["model_version"] != MODEL_VERSION:
        reasons.append(Staleness.MODEL_VERSION)
        phrases.append(
            f"the tables were written by model version {last['model_version']} "
            f"(this JourneyLens writes {MODEL_VERSION})"
        )
    if last["config_fingerprint"] != config_fingerprint(config):
        reasons.append(Staleness.CONFIG_CHANGED)
        phrases.append("the [identity] or [journeys] settings changed since the last build")
    new = _ingests_since(store, int(last["ingest_watermark"] or 0))
    if new:
        reasons.append(Staleness.NEW_DATA)
        count = sum(new.values())
        phrases.append(f"{count} ingest{'s' if count != 1 else ''} ({', '.join(new)}) since the last build")
    forgotten = _forgotten_since(store, last["started_at"])
    if forgotten:  # rows were deleted (docs/privacy.md): recompute aggregates and learned models
        reasons.append(Staleness.FORGOTTEN)
        phrases.append(f"{forgotten} person(s) forgotten since the last build")
    if not reasons:
        return ModelState((), f"up to date (build {build_id})", build_id)
    return ModelState(tuple(reasons), "; ".join(phrases), build_id, new_ingests=new)


def ensure_model(
    store: Store,
    config: Config,
    *,
    build: bool = True,
    progress: BuildProgress | None = None,
    notice: Notice | None = None,
) -> BuildSummary | None:
    """Build the derived tables when they are missing or stale; return the build, or None if fresh.

    When it builds, ``notice`` gets one line saying what and why, and ``progress`` follows the
    build. With ``build=False`` a stale model raises :class:`StaleModelError` naming
    `journeylens build`.

    Example:
        >>> ensure_model(ws.store, ws.config, notice=print)  # doctest: +SKIP
        Building customers and journeys: 1 ingest (events) since the last build.
    """
    state = model_state(store, config)
    if state.fresh:
        return None
    if not build:
        raise StaleModelError.needs_build(state.why)
    if notice is not None:
        notice(state.notice)
    return build_model(store, config, progress)


def build_plan(store: Store, config: Config, *, full: bool = False) -> BuildPlan:
    """Incremental when the last build finished with this model version and these settings and no
    row it saw is gone; else full, with the reason.

    Example:
        >>> build_plan(ws.store, ws.config).mode  # doctest: +SKIP
        'incremental'
    """
    if full:
        return BuildPlan("full", "asked for (--full)")
    state = model_state(store, config)
    blocking = set(state.reasons) - {Staleness.NEW_DATA}
    if blocking:
        return BuildPlan("full", state.why)
    last = _last_build(store)
    assert last is not None  # a finished build exists when nothing blocks
    why = _cannot_extend(store, last)
    if why:
        return BuildPlan("full", why)
    watermark = int(last["ingest_watermark"] or 0)
    phrase = state.why if state.new_ingests else "no new data"
    if config.identity.max_per_customer:
        # Limits settle links type by type across whole components (identity.limits); the
        # incremental stitch (identity.extend) relabels touched components without them.
        phrase += "; identity stitched in full: [identity] max_per_customer is set"
        return BuildPlan("incremental", phrase, watermark, full_stitch=True)
    return BuildPlan("incremental", phrase, watermark)


def _cannot_extend(store: Store, last: dict[str, Any]) -> str | None:
    """Why the last build cannot be extended (a full build is needed), or None."""
    from journeylens.identity.stitch import LINKS
    from journeylens.journeys.build import is_case_log
    from journeylens.journeys.segment import BREAKS

    build = last["build_id"]
    if not last.get("input_rows"):
        return f"build {build} recorded no row counts to compare with"
    seen = json.loads(str(last["input_rows"]))
    now = _input_rows(store, int(last["ingest_watermark"] or 0))
    gone = [f"{t}: {seen[t]:,} → {now[t]:,}" for t in MODEL_INPUTS if now.get(t, 0) < seen.get(t, 0)]
    if gone:
        return f"rows were deleted since build {build} ({'; '.join(gone)})"
    # Working tables the last build kept for this one (a forget drops them with every other).
    missing = [name for name in (LINKS, BREAKS) if name not in store.backend.list_tables()]
    if missing:
        return f"what build {build} kept for the next one is gone ({', '.join(missing)})"
    if not store.execute(store.backend.table(BREAKS).count()).as_py() and not is_case_log(store):
        # A process log's journeys are its cases, and its build keeps no breaks to cut at.
        return f"build {build} split a process log (every event of a case); events without a case came since"
    return None


def build_model(
    store: Store, config: Config, progress: BuildProgress | None = None, *, full: bool = False
) -> BuildSummary:
    """Stitch identities into customers, then split their events into journeys.

    Incremental when it can be exact (:func:`build_plan`; ``full=True`` forces the full path):
    only the customers the data since the last build touches are recomputed
    (``journeys.incremental``); the result equals a full build's. The build is recorded in
    ``builds``: started first, finished only after every derived table is written. A build that
    is killed or fails stays unfinished, and the next :func:`ensure_model` rebuilds in full.
    Missing events and journey types naming unknown touchpoints are refused before anything is
    written.

    Example:
        >>> summary = build_model(ws.store, ws.config)  # doctest: +SKIP
        >>> summary.journeys  # doctest: +SKIP
        1204
    """
    from journeylens.journeys.build import check_inputs
    from journeylens.store._backend import deferred_checkpoints

    # Errors a user can fix are raised before anything is written or recorded. An incremental
    # build skips the check (a scan of every event): the last build passed it with the same
    # settings, and no event has been deleted since.
    plan = build_plan(store, config, full=full)
    if plan.mode == "full":
        check_inputs(store, config.journeys)
        return _build(store, config, plan, progress)
    # An incremental build's large working tables are dropped before it ends: DuckDB's automatic
    # checkpoint (at 16 MiB of log) would write them to the file compressed for nothing, and
    # then checkpoint again at the end. A full build was slower so (docs/benchmarks.md).
    with deferred_checkpoints(store.backend):
        return _build(store, config, plan, progress)


def _build(store: Store, config: Config, plan: BuildPlan, progress: BuildProgress | None) -> BuildSummary:
    from journeylens.identity import stitch
    from journeylens.identity.extend import extend_customers
    from journeylens.journeys import incremental
    from journeylens.journeys.build import write_journeys
    from journeylens.voc.scoring import write_sentiment

    report = progress or _quiet
    build_id = _start(store, config, plan.mode)
    before = None
    if plan.mode == "incremental":
        # Only a full stitch needs the old map copied to tell which identifiers moved.
        before = incremental.snapshot(store, copy_map=plan.full_stitch)
    report("Stitching identities into customers", 0, 3)
    started = time.perf_counter()
    if before is None or plan.full_stitch:
        result = stitch(store, config.identity)
    else:
        result = extend_customers(store, config.identity, incremental.first_new_seq(plan.watermark))
        before = before.moved(result.moved)
    stitch_seconds = round(time.perf_counter() - started, 2)
    report("Scoring feedback text", 1, 3)
    sentiment = write_sentiment(store, config.voc.sentiment, config.journeys.feedback.negative)
    report("Building journeys", 2, 3)
    started = time.perf_counter()
    if before is None:
        write_journeys(store, config.journeys)
        update = None
    else:
        update = incremental.update_journeys(store, config.journeys, before, plan.watermark)
    journey_seconds = round(time.perf_counter() - started, 2)
    cmap = result.customer_map
    summary = store.execute(
        cmap.aggregate(identifiers=cmap.count(), customers=cmap.customer_id.nunique())
    ).to_pylist()[0]
    shared = int(store.execute(result.shared.count()).as_py())
    journeys = int(store.execute(store.backend.table("journeys").count()).as_py())
    _finish(store, build_id)
    report("Done", 3, 3)
    return BuildSummary(
        identifiers=int(summary["identifiers"]),
        customers=int(summary["customers"]),
        shared_identifiers=shared,
        rounds=result.rounds,
        journeys=journeys,
        stitch_seconds=stitch_seconds,
        journey_seconds=journey_seconds,
        sentiment_model=sentiment.model,
        sentiment_cv_auc=round(sentiment.metrics["cv_auc"], 4) if sentiment.metrics else None,
        sentiment_note=sentiment.note,
        mode=plan.mode,
        reason=plan.reason,
        recomputed_customers=int(summary["customers"]) if update is None else update.recomputed_customers,
        redecided_journeys=0 if update is None else update.redecided_journeys,
        from_cut=0 if update is None else update.from_cut,
    )


def _quiet(_step: str, _done: int, _total: int) -> None:
    """Progress callback that shows nothing."""


def _last_build(store: Store) -> dict[str, Any] | None:
    builds = store.table("builds")
    rows: list[dict[str, Any]] = store.execute(builds.order_by(ibis.desc("build_id")).limit(1)).to_pylist()
    return rows[0] if rows else None


def _ingests_since(store: Store, watermark: int) -> dict[str, int]:
    """Ingests after ``watermark`` that loaded rows into a table the model reads, by table."""
    log = store.table("ingests")
    new = log.filter((log.ingest_id > watermark) & (log.loaded > 0) & log.table.isin(MODEL_INPUTS))
    rows = store.execute(new.group_by("table").agg(n=new.count())).to_pylist()
    by_table = {str(r["table"]): int(r["n"]) for r in rows}
    return {name: by_table[name] for name in MODEL_INPUTS if name in by_table}


def _forgotten_since(store: Store, started: _dt.datetime) -> int:
    """Forget requests (``privacy_audit``) committed after the build ``started``."""
    audit = store.table("privacy_audit")
    return int(store.execute(audit.filter(audit.requested_at >= started).count()).as_py())


def _input_rows(store: Store, watermark: int) -> dict[str, int]:
    """Rows of each raw table the model reads that ingests up to ``watermark`` loaded."""
    below = (watermark + 1) << 32  # ingest_seq = ingest id * 2^32 + record number
    return {
        name: int(
            store.execute(store.table(name).filter(store.table(name).ingest_seq < below).count()).as_py()
        )
        for name in MODEL_INPUTS
    }


def _start(store: Store, config: Config, mode: str) -> int:
    """Record a started build: its id, its path, and the last ingest, rows and settings it covers."""
    last = store.execute(store.table("builds").build_id.max()).as_py()
    watermark = store.execute(store.table("ingests").ingest_id.max()).as_py()
    watermark = 0 if watermark is None else int(watermark)
    build_id = 1 if last is None else int(last) + 1
    row = {
        "build_id": [build_id],
        "started_at": [_dt.datetime.now(_dt.UTC)],
        "finished_at": [None],
        "ingest_watermark": [watermark],
        "config_fingerprint": [config_fingerprint(config)],
        "model_version": [MODEL_VERSION],
        "mode": [mode],
        "input_rows": [json.dumps(_input_rows(store, watermark), sort_keys=True)],
    }
    store.insert("builds", pa.table(row, schema=BUILDS_SCHEMA.to_pyarrow()))
    return build_id


def _finish(store: Store, build_id: int) -> None:
    builds = store.table("builds")
    now = ibis.literal(_dt.datetime.now(_dt.UTC), type=BUILDS_SCHEMA["finished_at"])
    store.rewrite(
        "builds",
        builds.mutate(finished_at=ibis.ifelse(builds.build_id == build_id, now, builds.finished_at)),
    )
