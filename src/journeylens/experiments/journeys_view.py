"""An experiment's journeys per variant: the process map of each variant's units after exposure.

Reuses the process-map engine (:mod:`journeylens.discovery.dfg`) on the journeys that count for
the experiment: those of units with one variant, starting at or after the unit's exposure. One
transitions query per variant (an experiment has a handful). Downstream effects on the contact
centre are metrics of the experiment itself (``contacts``, ``leakage_rate``, ``fcr``).

Example:
    >>> maps = variant_maps(ws.store, "checkout_redesign", MapSpec(key="channel"))  # doctest: +SKIP
    >>> maps["treatment"].to_dict()["edges"][0]  # doctest: +SKIP
"""

from __future__ import annotations

import uuid

import ibis.expr.types as ir

from journeylens.discovery.dfg import ProcessMap, _apply_thresholds, _assemble, dfg_query, transitions
from journeylens.discovery.selection import journey_log, select_journeys
from journeylens.experiments.units import assigned_units
from journeylens.specs.discovery import JourneyFilter, MapSpec
from journeylens.store import Store
from journeylens.store._backend import drop_scratch, scratch_table


def exposed_journeys(store: Store, name: str, flt: JourneyFilter | None = None) -> ir.Table:
    """(journey_id, variant): the selected journeys of units with one variant, at or after exposure."""
    units = assigned_units(store, name)
    valid = units.filter(units.unit.notnull() & (units.variants == 1))
    journeys = select_journeys(store, flt or JourneyFilter())
    joined = journeys.join(valid, journeys.customer_id == valid.unit)
    return joined.filter(joined.start >= joined.exposure).select("journey_id", "variant")


def variant_maps(store: Store, name: str, spec: MapSpec | None = None) -> dict[str, ProcessMap]:
    """The process map of each variant's journeys after exposure (variants without one are left out)."""
    spec = spec or MapSpec()
    exposed = exposed_journeys(store, name, spec.filter)
    log = journey_log(store, spec.filter, spec.key, check_empty=False)
    variants = sorted(
        str(v) for v in store.execute(exposed.select("variant").distinct()).column(0).to_pylist()
    )
    maps: dict[str, ProcessMap] = {}
    for variant in variants:
        mine = exposed.filter(exposed.variant == variant).select(_jid="journey_id")
        scratch = f"_jl_exp_dfg_{uuid.uuid4().hex[:8]}"
        try:
            moves = scratch_table(
                store.backend, scratch, transitions(log.semi_join(mine, log.journey_id == mine._jid))
            )
            rows = store.execute(dfg_query(moves)).to_pylist()
        finally:
            drop_scratch(store.backend, scratch)
        nodes, edges = _assemble(rows)
        maps[variant] = _apply_thresholds(nodes, edges, spec)
    return maps
