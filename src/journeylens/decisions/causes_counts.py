"""The engine's share of ``journeylens causes``: counts, never one query per candidate.

Every function takes the feature table (``causes_features``: distinct ``journey_id``, ``family``,
``key``, ``value``, ``label`` rows of every family) and the outcome table (``journey_id``, ``_y`` 0/1 over the
journeys that count) and returns one Ibis aggregation; Python receives a few hundred rows:

- :func:`feature_counts`: per feature, journeys with it (``n``) and those of them with the outcome
  (``k``) — one pass for every family; "without" is the totals minus these;
- :func:`patterns`: per pattern of presence over the chosen features (a bit mask), journeys and
  outcome count — every pair count (the pair candidates), every 2x2x2 table of the stratified
  checks and the grouped data of the joint logistic regression follow from it;
- :func:`examples`: the smallest ids of journeys with each feature and the outcome.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

CAPPED = ("event", "trait")
"""Families whose keys are capped at ``max_values`` distinct values (low cardinality only)."""


def totals(outcome: ir.Table) -> ir.Table:
    """One row: journeys that count (``n``) and those with the outcome (``k``)."""
    return outcome.aggregate(n=outcome.count(), k=outcome._y.sum().fill_null(0))


def feature_counts(features: ir.Table, outcome: ir.Table, max_values: int) -> ir.Table:
    """``family``, ``key``, ``value``, ``label``, ``n``, ``k`` and ``values`` (distinct values of the
    key) per feature, every family in one pass. A key of a capped family with more than
    ``max_values`` values returns one row (its first label), so that the caller can say it was not
    tested."""
    o = outcome.select("journey_id", "_y")
    j = features.join(o, "journey_id")
    agg = j.group_by("family", "key", "value", "label").agg(n=j.count(), k=j._y.sum())
    agg = agg.mutate(
        values=agg.label.count().over(group_by="key"),
        _first=ibis.row_number().over(group_by="key", order_by="label"),
    )
    kept = ~agg.family.isin(CAPPED) | (agg["values"] <= max_values) | (agg._first == 0)
    return agg.filter(kept).drop("_first")


def _chosen(features: ir.Table, labels: Sequence[str]) -> ir.Table:
    return features.filter(features.label.isin(list(labels))).select("journey_id", "label")


def patterns(features: ir.Table, outcome: ir.Table, labels: Sequence[str]) -> ir.Table:
    """``mask`` (bit ``i`` set: the journey has ``labels[i]``), ``n`` and ``k`` per pattern, every
    counted journey included (mask 0: none of the features)."""
    rows = _chosen(features, labels)
    bit = ibis.cases(*((rows.label == name, 2**i) for i, name in enumerate(labels)), else_=0).cast("int64")
    masks = rows.mutate(_bit=bit).group_by(_jid=rows.journey_id).agg(_mask=ibis._["_bit"].sum())
    o = outcome.select("journey_id", "_y")
    joined = o.left_join(masks, o.journey_id == masks._jid)
    joined = joined.mutate(mask=joined._mask.fill_null(0))
    return joined.group_by("mask").agg(n=joined.count(), k=joined._y.sum())


def examples(features: ir.Table, outcome: ir.Table, labels: Sequence[str], count: int) -> ir.Table:
    """``label`` and ``journey_id``: the ``count`` smallest ids of journeys with the feature and the
    outcome (deterministic on every engine)."""
    hit = outcome.filter(outcome._y == 1).select("journey_id")
    rows = _chosen(features, labels).semi_join(hit, "journey_id")
    ranked = rows.mutate(_rank=ibis.row_number().over(group_by="label", order_by="journey_id"))
    return ranked.filter(ranked._rank < count).select("label", "journey_id")
