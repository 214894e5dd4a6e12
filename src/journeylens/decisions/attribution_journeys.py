"""The workspace's journeys as attribution paths: one Ibis expression aggregates them.

Each selected journey becomes the sequence of its steps (channel, touchpoint or
``channel:touchpoint``) in ``step`` order — timestamp, then ingestion order, so ties are broken
the same way on every engine — and journeys with the same sequence are counted together:
``conversions`` (journeys with the chosen outcome), their ``value`` (the journeys' value column),
``nulls`` (journeys with any other decided outcome). Journeys still ``open`` or of ``unknown``
outcome (unless that is the chosen outcome) are left out of the paths and counted in
``undecided``. Only the distinct paths reach Python.

The time-decay model needs the time of each touch, so it is a second expression over the same
journeys: a touch ``t`` before the journey's last event weighs ``0.5 ** (t / half_life)``, the
weights of a journey are normalised to one, and each converting journey's conversion and value
are shared by those weights.

Example:
    >>> paths, undecided = journey_paths(ws.store, AttributionSpec())  # doctest: +SKIP
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

from journeylens.decisions.attribution_heuristics import Credit
from journeylens.decisions.attribution_paths import AttributionPaths
from journeylens.discovery.selection import ActivityKey, journey_log, select_journeys
from journeylens.discovery.variants import _ordered_activities
from journeylens.errors import JourneyLensError
from journeylens.specs.attribution import AttributionBy, AttributionSpec
from journeylens.store import Store

UNDECIDED = ("open", "unknown")
_KEYS = {
    AttributionBy.channel: ActivityKey.channel,
    AttributionBy.touchpoint: ActivityKey.touchpoint,
    AttributionBy.channel_touchpoint: ActivityKey.channel_touchpoint,
}


class NoConversionsError(JourneyLensError, LookupError):
    """The chosen outcome occurs in none of the selected journeys: nothing to attribute."""

    @classmethod
    def for_outcome(cls, outcome: str, present: dict[str, int], described: str) -> NoConversionsError:
        listed = ", ".join(f"{k} {v:,}" for k, v in sorted(present.items())) or "none"
        return cls(
            f"No selected journey has the outcome {outcome!r} ({described}); outcomes present: {listed}.",
            hint="Choose a present outcome with --outcome, or loosen the journey filter.",
        )


@dataclass(frozen=True)
class JourneyPaths:
    """The aggregated paths and the journeys left out because their outcome is not decided."""

    paths: AttributionPaths
    journeys: int
    undecided: int


def _decided(log: ir.Table, outcome: str) -> tuple[ir.BooleanValue, ir.BooleanValue]:
    converted = log.outcome == outcome
    undecided = log.outcome.isin([o for o in UNDECIDED if o != outcome])
    return converted, undecided


def paths_expression(store: Store, spec: AttributionSpec) -> ir.Table:
    """Distinct paths with ``conversions``, ``value``, ``nulls`` and ``undecided`` journeys."""
    log = journey_log(store, spec.filter, _KEYS[spec.by])
    per_journey = log.group_by("journey_id").agg(
        steps=_ordered_activities(store.backend, log), outcome=log.outcome.max()
    )
    values = select_journeys(store, spec.filter).select("journey_id", journey_value=ibis._.value)
    journeys = per_journey.join(values, "journey_id")
    converted, undecided = _decided(journeys, spec.outcome)
    counted = ~undecided
    return journeys.group_by("steps").agg(
        conversions=(converted & counted).sum().cast("int64"),
        value=journeys.journey_value.fill_null(0.0).cast("float64").sum(where=converted),
        nulls=(~converted & counted).sum().cast("int64"),
        undecided=undecided.sum().cast("int64"),
    )


def journey_paths(store: Store, spec: AttributionSpec) -> JourneyPaths:
    """Run :func:`paths_expression`; refuse when no journey converted (saying which outcomes exist)."""
    table = store.execute(paths_expression(store, spec))
    conversions = np.asarray(table["conversions"].to_numpy(), dtype=float)
    undecided = int(pa.compute.sum(table["undecided"]).as_py() or 0)
    if conversions.sum() == 0:
        outcomes = select_journeys(store, spec.filter).group_by("outcome").agg(n=ibis._.count())
        present = {r["outcome"]: r["n"] for r in store.execute(outcomes).to_pylist()}
        raise NoConversionsError.for_outcome(spec.outcome, present, spec.filter.describe())
    decided = table.filter(pa.compute.greater(pa.compute.add(table["conversions"], table["nulls"]), 0))
    paths = AttributionPaths.from_arrow(
        decided["steps"],
        decided["conversions"].to_numpy(),
        np.nan_to_num(np.asarray(decided["value"].to_numpy(zero_copy_only=False), dtype=float)),
        decided["nulls"].to_numpy(),
        source="journeys",
    )
    journeys = int(paths.total_conversions + paths.total_nulls)
    return JourneyPaths(paths, journeys, undecided)


def time_decay_expression(store: Store, spec: AttributionSpec) -> ir.Table:
    """Per step name: the time-decayed share of the converting journeys and of their value."""
    log = journey_log(store, spec.filter, _KEYS[spec.by]).filter(ibis._.outcome == spec.outcome)
    values = select_journeys(store, spec.filter).select("journey_id", journey_value=ibis._.value)
    log = log.join(values, "journey_id")
    journey = ibis.window(group_by=log.journey_id)
    ended = log.mutate(end_s=log.timestamp.epoch_seconds().max().over(journey))
    rate = math.log(2.0) / spec.half_life_s
    weighted = ended.mutate(
        weight=((ended.timestamp.epoch_seconds() - ended.end_s).cast("float64") * rate).exp()
    )
    shared = weighted.mutate(
        share=weighted.weight / weighted.weight.sum().over(ibis.window(group_by="journey_id"))
    )
    return shared.group_by(step=shared.activity).agg(
        conversions=shared.share.sum(),
        value=(shared.share * shared.journey_value.fill_null(0.0).cast("float64")).sum(),
    )


def time_decay_credit(store: Store, spec: AttributionSpec, names: list[str]) -> Credit:
    """Run :func:`time_decay_expression`, aligned with ``names``."""
    rows = {r["step"]: r for r in store.execute(time_decay_expression(store, spec)).to_pylist()}
    return Credit(
        np.array([float(rows[n]["conversions"]) if n in rows else 0.0 for n in names]),
        np.array([float(rows[n]["value"] or 0.0) if n in rows else 0.0 for n in names]),
    )
