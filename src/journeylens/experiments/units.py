"""Experiment units, their exposure, and per-variant sufficient statistics of journey metrics (Ibis).

A unit is a customer: an assignment's ``user_id`` or ``anonymous_id`` is mapped to its customer
through ``customer_map`` (so an anonymous visitor who later logs in is the same unit). Its variant
is the one it was assigned; its exposure the first assignment's time. A unit assigned to two
variants is counted and excluded; an assignment whose identifier is in no customer is counted and
excluded. Only journeys starting at or after exposure count; journeys in the ``pre_days`` before it
give the same metric's pre-exposure value (the CUPED covariate).

The engine returns one row per variant (and breakdown group) of sums only: ``n``, and per metric
the sum and sum of squares of the unit's value, the denominator's sum, sum of squares and the
cross-product (ratio metrics), and the pre-exposure value's sum, sum of squares and cross-product
(CUPED). Python (:mod:`journeylens.experiments.statistics`) sees those rows, never a unit.

Example:
    >>> METRICS["success_rate"].kind, METRICS["converted"].kind
    ('ratio', 'proportion')
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import ibis
import ibis.expr.types as ir

from journeylens.discovery.selection import customer_segments, select_journeys
from journeylens.errors import NotFoundError, close_matches
from journeylens.identity.stitch import with_customers
from journeylens.specs.discovery import JourneyFilter
from journeylens.store import Store

Kind = Literal["proportion", "mean", "ratio"]
Values = Callable[[ir.Table], ir.NumericValue]
NO_GROUP = "(all)"
NO_JOURNEY = "(no journey after exposure)"


@dataclass(frozen=True)
class Metric:
    """A unit-level metric: its value per journey (or answer), and how units aggregate it."""

    name: str
    kind: Kind
    source: Literal["journeys", "feedback"]
    value: Values
    """Per journey (or feedback answer): what is summed (proportion: the unit's max)."""
    denominator: Values | None = None
    description: str = ""
    inverse: bool = False
    """Lower is better (leakage, repeats, contacts, cost, duration): chance to win flips."""


def _b(v: ir.Value) -> ir.NumericValue:
    return ibis.ifelse(v.fill_null(False), 1, 0)


def _one(j: ir.Table) -> ir.NumericValue:
    return ibis.literal(1)


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("converted", "proportion", "journeys", lambda j: _b(j.outcome == "success"),
               description="share of units with a successful journey after exposure"),
        Metric("success_rate", "ratio", "journeys", lambda j: _b(j.outcome == "success"), _one,
               description="successful journeys / journeys after exposure (purchase: conversion)"),
        Metric("leakage_rate", "ratio", "journeys", lambda j: _b(j.leakage), _one,
               description="journeys that leaked into an assisted channel / journeys", inverse=True),
        Metric("repeat_rate", "ratio", "journeys", lambda j: _b(j.repeat_journey), _one,
               description="repeat journeys / journeys", inverse=True),
        Metric("fcr", "ratio", "journeys", lambda j: _b(j.first_contact_resolution),
               lambda j: _b(j.first_contact_resolution.notnull()),
               description="first-contact resolutions / journeys with an assisted contact"),
        Metric("journeys", "mean", "journeys", _one, description="journeys per unit after exposure"),
        Metric("contacts", "mean", "journeys", lambda j: j.assisted_contacts.fill_null(0),
               description="assisted contacts per unit", inverse=True),
        Metric("cost_to_serve", "mean", "journeys", lambda j: j.cost_to_serve.fill_null(0.0),
               description="cost to serve per unit", inverse=True),
        Metric("value", "mean", "journeys", lambda j: j.value.fill_null(0.0), description="value per unit"),
        Metric("duration", "ratio", "journeys", lambda j: j.duration_s.fill_null(0),
               lambda j: _b(j.duration_s.notnull()), description="seconds per journey", inverse=True),
        Metric("nps", "ratio", "feedback",
               lambda f: ibis.cases((f.score >= 9, 100), (f.score <= 6, -100), else_=0),
               _one, description="net promoter score of answers after exposure (metric nps)"),
        Metric("csat", "ratio", "feedback", lambda f: f.score, _one,
               description="mean CSAT answer after exposure (metric csat)"),
    )
}  # fmt: skip


class ExperimentNotFoundError(NotFoundError):
    """The experiment name is not in ``assignments``."""

    @classmethod
    def unknown(cls, name: str, known: list[str]) -> ExperimentNotFoundError:
        near = close_matches(name, known)
        listed = ", ".join(repr(k) for k in known[:20]) or "none"
        return cls(
            f"No experiment {name!r} in the assignments table (experiments: {listed}).",
            hint=f"Did you mean {near[0]!r}?"
            if near
            else "Ingest the assignments with `journeylens ingest "
            "--table assignments FILE`; `experiment` names come from its 'experiment' column.",
        )


def experiment_names(store: Store) -> list[str]:
    """Every experiment named in ``assignments`` (empty when the table is missing)."""
    if "assignments" not in store.backend.list_tables():
        return []
    t = store.table("assignments")
    return sorted(str(v) for v in store.execute(t.select("experiment").distinct()).column(0).to_pylist())


def assigned_units(store: Store, name: str) -> ir.Table:
    """One row per customer assigned in experiment ``name``: unit, variant, variants, exposure.

    ``variants`` > 1 marks a unit assigned to two variants; ``unit`` is null for an identifier in no
    customer (both are excluded and counted by :func:`exclusions`)."""
    known = experiment_names(store)
    if name not in known:
        raise ExperimentNotFoundError.unknown(name, known)
    a = with_customers(store, "assignments")
    a = a.filter(a.experiment == name)
    key = ibis.coalesce(a.customer_id, "unmapped:" + ibis.coalesce(a.user_id, a.anonymous_id))
    return a.group_by(_key=key).agg(
        unit=a.customer_id.max(),
        variant=a.variant.min(),
        variants=a.variant.nunique(),
        exposure=a.timestamp.min(),
    )


def unit_values(
    store: Store, units: ir.Table, metrics: list[Metric], flt: JourneyFilter, pre_days: int, by: str | None
) -> ir.Table:
    """Per valid unit: variant, group and, per metric, ``{m}_x`` (after exposure), ``{m}_d``
    (denominator) and ``{m}_p`` (the pre-exposure value). One join and aggregation per source."""
    valid = units.filter(units.unit.notnull() & (units.variants == 1))
    out = valid.select("unit", "variant", "exposure")
    for source in ("journeys", "feedback"):
        chosen = [m for m in metrics if m.source == source]
        if chosen or (source == "journeys" and by == "entry_channel"):
            per = _per_unit(store, valid, chosen, source, flt, pre_days, by)
            out = out.left_join(per, out.unit == per._u).drop("_u")
    zeros = {c: out[c].fill_null(0) for c in out.columns if c[-2:] in ("_x", "_d", "_p")}
    out = out.mutate(**zeros)
    if by == "segment":
        seg = customer_segments(store, flt.segment_trait)
        out = out.left_join(seg, out.unit == seg.customer_id)
        out = out.mutate(group=out.segment.fill_null("(no segment)")).drop("customer_id", "segment")
    elif by == "entry_channel":
        out = out.mutate(group=out._entry.fill_null(NO_JOURNEY)).drop("_entry")
    else:
        out = out.mutate(group=ibis.literal(NO_GROUP))
    return out


def _per_unit(
    store: Store,
    valid: ir.Table,
    metrics: list[Metric],
    source: str,
    flt: JourneyFilter,
    pre_days: int,
    by: str | None,
) -> ir.Table:
    if source == "journeys":
        rows = select_journeys(store, flt)
        rows = rows.mutate(_at=rows.start)
    else:
        rows = with_customers(store, "feedback")
        rows = rows.mutate(_at=rows.timestamp)
    u = valid.select(_u="unit", _exp="exposure")
    j = rows.join(u, rows.customer_id == u._u)
    post = j._at >= j._exp
    pre = (j._at < j._exp) & (j._at >= j._exp - ibis.interval(days=pre_days))
    aggs: dict[str, ir.Value] = {}
    for m in metrics:
        scope = (j.metric == m.name) if source == "feedback" else ibis.literal(True)
        x = m.value(j)
        for suffix, window in (("_x", post), ("_p", pre)):
            keep = window & scope
            if m.kind == "proportion":
                aggs[m.name + suffix] = ibis.ifelse(keep, x, 0).max()
            else:
                aggs[m.name + suffix] = ibis.ifelse(keep, x, 0).sum()
        if m.denominator is not None:
            aggs[m.name + "_d"] = ibis.ifelse(post & scope, m.denominator(j), 0).sum()
    if source == "journeys":
        aggs["_post_journeys"] = ibis.ifelse(post, 1, 0).sum()
    per = j.group_by("_u").agg(**aggs)
    if source == "journeys" and by == "entry_channel":
        # The first journey after exposure, over post-exposure rows only: engines disagree on
        # which row an arg-min with null keys returns.
        after = j.filter(post)
        entry = after.group_by(_eu=after._u).agg(_entry=after.first_channel.argmin(after._at))
        per = per.left_join(entry, per._u == entry._eu).drop("_eu")
    return per


def variant_sums(values: ir.Table, metrics: list[Metric]) -> ir.Table:
    """Per variant and group: ``n`` and the sufficient statistics of every metric."""
    aggs: dict[str, ir.Value] = {"n": values.count()}
    if "_post_journeys" in values.columns:
        aggs["no_journey_units"] = ibis.ifelse(values._post_journeys == 0, 1, 0).sum()
    for m in metrics:
        x, p = values[m.name + "_x"].cast("float64"), values[m.name + "_p"].cast("float64")
        aggs[f"{m.name}__sum"] = x.sum()
        aggs[f"{m.name}__ss"] = (x * x).sum()
        aggs[f"{m.name}__pre_sum"] = p.sum()
        aggs[f"{m.name}__pre_ss"] = (p * p).sum()
        aggs[f"{m.name}__xp"] = (x * p).sum()
        if m.denominator is not None:
            d = values[m.name + "_d"].cast("float64")
            aggs[f"{m.name}__d_sum"] = d.sum()
            aggs[f"{m.name}__d_ss"] = (d * d).sum()
            aggs[f"{m.name}__xd"] = (x * d).sum()
    return values.group_by("variant", "group").agg(**aggs).order_by("group", "variant")


def exclusions(units: ir.Table) -> ir.Table:
    """One row: units in two variants, identifiers in no customer, and per-variant assigned counts."""
    return units.aggregate(
        assigned=units.count(),
        multiple_variants=ibis.ifelse(units.unit.notnull() & (units.variants > 1), 1, 0).sum(),
        unmapped=ibis.ifelse(units.unit.isnull(), 1, 0).sum(),
        first_exposure=units.exposure.min(),
        last_exposure=units.exposure.max(),
    )


def assigned_variants(store: Store, name: str) -> list[str]:
    """Every variant name assigned in ``name`` (a variant whose units were all excluded still shows)."""
    a = store.table("assignments")
    found = store.execute(a.filter(a.experiment == name).select("variant").distinct()).column(0).to_pylist()
    return sorted(str(v) for v in found)
