"""The derived model (customer_map, journeys, journey_events): build it, and keep it fresh.

Interface shared by every surface. ``ensure_model`` is what an analysis calls before it reads
derived tables: it builds them when they are missing or stale (or refuses with ``--no-build``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from journeylens.errors import JourneyLensError

if TYPE_CHECKING:
    from journeylens.config import Config
    from journeylens.store import Store

#: progress(step description, steps done, steps in all)
BuildProgress = Callable[[str, int, int], None]
#: notice(one line for the user, e.g. "Building journeys: 2 ingests since the last build")
Notice = Callable[[str], None]


class StaleModelError(JourneyLensError):
    """Derived tables are missing or older than the data, and building was refused (--no-build)."""


@dataclass(frozen=True)
class BuildSummary:
    identifiers: int
    customers: int
    shared_identifiers: int
    rounds: int
    journeys: int
    stitch_seconds: float
    journey_seconds: float


def build_model(store: Store, config: Config, progress: BuildProgress | None = None) -> BuildSummary:
    """Stitch identities into customers, then split their events into journeys (full build)."""
    import time

    from journeylens.identity import stitch
    from journeylens.journeys import build_journeys

    report = progress or (lambda _step, _done, _total: None)
    report("Stitching identities", 0, 2)
    started = time.perf_counter()
    result = stitch(store, config.identity)
    stitch_seconds = round(time.perf_counter() - started, 2)
    report("Building journeys", 1, 2)
    started = time.perf_counter()
    built = build_journeys(store, config.journeys)
    journey_seconds = round(time.perf_counter() - started, 2)
    report("Done", 2, 2)
    cmap = result.customer_map
    summary = store.execute(
        cmap.aggregate(identifiers=cmap.count(), customers=cmap.customer_id.nunique())
    ).to_pylist()[0]
    return BuildSummary(
        identifiers=int(summary["identifiers"]),
        customers=int(summary["customers"]),
        shared_identifiers=int(store.execute(result.shared.count()).as_py()),
        rounds=result.rounds,
        journeys=int(store.execute(built.journeys.count()).as_py()),
        stitch_seconds=stitch_seconds,
        journey_seconds=journey_seconds,
    )


def ensure_model(
    store: Store,
    config: Config,
    *,
    build: bool = True,
    progress: BuildProgress | None = None,
    notice: Notice | None = None,
) -> BuildSummary | None:
    """Build the derived tables when they are missing or stale; return the build, or None if fresh.

    With ``build=False`` a stale model raises :class:`StaleModelError` naming `journeylens build`.
    (Placeholder: only missing tables count as stale until build state is recorded.)
    """
    if "journeys" in store.backend.list_tables():
        return None
    if not build:
        raise StaleModelError(
            "The journeys have not been built yet.", hint="Run `journeylens build`, or drop --no-build."
        )
    if notice is not None:
        notice("Building customers and journeys first (no journeys yet).")
    return build_model(store, config, progress)
