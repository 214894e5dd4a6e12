"""An experiment's journeys per variant, side by side: the funnel and the process map of each
variant's units after exposure (``journeylens experiment NAME --funnel A,B,C --maps``).

Both reuse the existing analyses on the journeys that count for the experiment — those of units
with one variant, starting at or after the unit's exposure (:func:`exposed_journeys`):

- **Funnel**: :func:`journeylens.discovery.funnel.funnel` with the variant as its breakdown and
  ``after_exposure``; per step and variant the conversion from step 1 (customers, Wilson
  interval, its denominator) and against the baseline the difference (Newcombe interval) with a z
  or Fisher test, Benjamini-Hochberg across steps and variants.
- **Maps**: the process-map engine (:mod:`journeylens.discovery.dfg`), one transitions query per
  variant (an experiment has a handful). Per transition, the share of the variant's journeys that
  contain it against the baseline's share (journeys are the independent units; transitions within
  a journey are not), tested the same way, BH across transitions and variants; the ``top``
  largest absolute differences per variant are listed.

Downstream effects on the contact centre are metrics of the experiment itself (``contacts``,
``leakage_rate``), added as guardrails when the view is asked for.

Example:
    >>> maps = variant_maps(ws.store, "checkout_redesign", MapSpec(key="channel"))  # doctest: +SKIP
    >>> maps["treatment"].to_dict()["edges"][0]  # doctest: +SKIP
"""

from __future__ import annotations

import uuid
from typing import Any

import ibis.expr.types as ir

from journeylens.discovery._stats import Proportion, benjamini_hochberg, compare_proportions
from journeylens.discovery.dfg import ProcessMap, _apply_thresholds, _assemble, dfg_query, transitions
from journeylens.discovery.selection import journey_log, select_journeys
from journeylens.experiments.units import assigned_units
from journeylens.specs.discovery import JourneyFilter, MapSpec
from journeylens.specs.experiment import ExperimentSpec
from journeylens.store import Store
from journeylens.store._working import drop_scratch, scratch_table


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


NO_BASELINE = "the baseline variant has no customer at step 1 of the funnel after exposure"
NO_FIRST = "no customer of this variant reached step 1 after exposure"
NO_JOURNEYS = "the baseline or this variant has no journey after exposure"


def variant_funnel(store: Store, spec: ExperimentSpec, baseline: str) -> dict[str, Any]:
    """The funnel ``spec.funnel`` per variant, customers' journeys after exposure (module doc).

    Returns ``{"window", "unit", "steps": [...]}``; one step record per (step, variant).
    """
    from journeylens.discovery.funnel import funnel
    from journeylens.specs.funnel import funnel_spec

    fspec = funnel_spec(
        steps=spec.funnel, window=spec.window, unit="customer", by="variant", experiment=spec.name,
        after_exposure=True, filter=spec.filter,
    )  # fmt: skip
    result = funnel(store, fspec)
    got = {(r["breakdown"], r["step"]): r for r in result.records()}
    variants = sorted({v for v, _ in got}, key=lambda v: (v != baseline, v))
    if baseline not in variants:
        variants.insert(0, baseline)
    rows: list[dict[str, Any]] = []
    for step, name in enumerate((s.label for s in fspec.steps), start=1):
        for variant in variants:
            r = got.get((variant, step), {})
            units, first = int(r.get("units") or 0), int(r.get("first_units") or 0)
            mine = Proportion(units, first)
            lo, hi = mine.interval()
            row = {"step": step, "step_name": name, "variant": variant, "units": units, "first_units": first,
                   "conversion": mine.rate, "conversion_lo": lo, "conversion_hi": hi}  # fmt: skip
            if variant != baseline and step > 1:
                b = got.get((baseline, step), {})
                base = Proportion(int(b.get("units") or 0), int(b.get("first_units") or 0))
                row |= _test(mine, base, NO_BASELINE if not base.trials else NO_FIRST)
            rows.append(row)
    _adjust([r for r in rows if "p_value" in r], spec.alpha)
    return {"window": spec.window, "unit": "customer", "steps": rows}


def map_differences(store: Store, spec: ExperimentSpec, baseline: str) -> dict[str, Any]:
    """Per variant, the ``spec.top`` transitions whose share of journeys differs most from the
    baseline's (module doc). Returns ``{"key", "journeys": {variant: n}, "transitions": [...]}``."""
    maps = variant_maps(store, spec.name, MapSpec(filter=spec.filter, key=spec.map_key))
    journeys = {v: int(m.totals["journeys"]) for v, m in maps.items()}
    counts = {v: {(e["source"], e["target"]): e for e in m.to_dict()["edges"]} for v, m in maps.items()}
    base_edges = counts.get(baseline, {})
    base_n = journeys.get(baseline, 0)
    rows: list[dict[str, Any]] = []
    for variant in sorted(v for v in maps if v != baseline):
        mine = counts[variant]
        family = []
        for edge in sorted(set(mine) | set(base_edges)):
            a, b = mine.get(edge, {}), base_edges.get(edge, {})
            ours = Proportion(int(a.get("journeys") or 0), journeys[variant])
            theirs = Proportion(int(b.get("journeys") or 0), base_n)
            family.append(
                {"variant": variant, "source": edge[0], "target": edge[1], "journeys": ours.successes,
                 "share": ours.rate, "transitions": int(a.get("count") or 0),
                 "baseline_journeys": theirs.successes, "baseline_share": theirs.rate,
                 "baseline_transitions": int(b.get("count") or 0)}
                | _test(ours, theirs, NO_JOURNEYS)
            )  # fmt: skip
        _adjust(family, spec.alpha)
        family.sort(key=lambda r: (-abs(r["difference"] or 0.0), r["source"], r["target"]))
        rows.extend(family[: spec.top])
    return {"key": spec.map_key.value, "journeys": journeys, "transitions": rows}


def _test(a: Proportion, b: Proportion, why: str) -> dict[str, Any]:
    t = compare_proportions(a, b)
    return {"difference": t.diff, "difference_lo": t.diff_lo, "difference_hi": t.diff_hi, "test": t.test,
            "p_value": t.p, "q_value": None, "significant": None,
            "reason": None if t.test else why}  # fmt: skip


def _adjust(rows: list[dict[str, Any]], alpha: float) -> None:
    """Benjamini-Hochberg q-values over ``rows`` (one family); significant at ``alpha``."""
    for r, q in zip(rows, benjamini_hochberg([r["p_value"] for r in rows]), strict=True):
        r["q_value"], r["significant"] = q, None if q is None else q < alpha
