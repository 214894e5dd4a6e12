"""The journeys behind a table row or chart mark: the dashboard's drill-down, as one Ibis query.

A row of the process map is a transition (``source`` then ``target``), a row of the touchpoint
inventory or a funnel step is a touchpoint; the journeys behind it are the selected journeys that
contain it. Each listed journey links to its customer's 360.

Example:
    >>> flt = JourneyFilter()
    >>> behind = journeys_behind(ws.store, flt, source="home", target="checkout")  # doctest: +SKIP
    >>> behind.total, behind.rows[0]["customer_id"]  # doctest: +SKIP
    (41, 'c_0007')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ibis

from journeylens.discovery.dfg import transitions
from journeylens.discovery.selection import journey_log, select_journeys
from journeylens.specs.discovery import ActivityKey, JourneyFilter

if TYPE_CHECKING:
    from journeylens.store import Store

__all__ = ["JourneyList", "journeys_behind"]

COLUMNS = (
    "journey_id", "customer_id", "journey_type", "start", "end", "outcome", "touchpoints",
    "channels", "duration_s",
)  # fmt: skip


@dataclass(frozen=True)
class JourneyList:
    """The first ``len(rows)`` of ``total`` journeys behind a mark, latest first."""

    total: int
    rows: list[dict[str, Any]]
    behind: str

    @property
    def records(self) -> list[dict[str, Any]]:
        return self.rows


def journeys_behind(
    store: Store,
    flt: JourneyFilter | None = None,
    *,
    touchpoint: str | None = None,
    source: str | None = None,
    target: str | None = None,
    key: ActivityKey = ActivityKey.touchpoint,
    limit: int = 100,
) -> JourneyList:
    """The selected journeys that contain ``touchpoint``, or the transition ``source`` -> ``target``
    (activities under ``key``), or all of them when neither is given."""
    flt = flt or JourneyFilter()
    journeys = select_journeys(store, flt)
    behind = "all selected journeys"
    if source is not None and target is not None:
        moves = transitions(journey_log(store, flt, key, check_empty=False))
        hits = moves.filter((moves.activity == source) & (moves.target == target))
        journeys = journeys.semi_join(hits.select("journey_id").distinct(), "journey_id")
        behind = f"journeys with {source} then {target}"
    elif touchpoint is not None:
        log = journey_log(store, flt, key, check_empty=False)
        hits = log.filter(log.activity == touchpoint).select("journey_id").distinct()
        journeys = journeys.semi_join(hits, "journey_id")
        behind = f"journeys with {touchpoint}"
    total = int(store.execute(journeys.count()).as_py())
    listed = journeys.select(*COLUMNS).order_by([ibis.desc("start"), "journey_id"]).limit(limit)
    return JourneyList(total, store.execute(listed).to_pylist(), behind)
