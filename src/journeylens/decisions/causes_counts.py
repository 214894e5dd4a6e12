"""The engine's share of ``journeylens causes``: counts, never one query per candidate.

Every function takes feature tables (``causes_features``: distinct ``journey_id``, ``family``,
``key``, ``value``, ``label`` rows) and the outcome table (``journey_id``, ``_y`` 0/1 over the
journeys that count) and returns one Ibis aggregation; Python receives a few hundred rows:

- :func:`family_counts`: per feature of one family, journeys with it (``n``) and those of them
  with the outcome (``k``) — one pass per family; "without" is the totals minus these;
- :func:`cooccurrence`: per pair of chosen features, journeys with both and the outcome count
  among them — the pair candidates, and the 2x2x2 tables of the stratified checks (with the
  singles and totals, the four cells of every stratum follow);
- :func:`patterns`: per pattern of presence over the chosen features (a bit mask), journeys and
  outcome count — the grouped data of the joint logistic regression;
- :func:`examples`: the smallest ids of journeys with each feature and the outcome.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import ibis
import ibis.expr.types as ir

CAPPED = ("event", "trait")
"""Families whose keys are capped at ``max_values`` distinct values (low cardinality only)."""


def totals(outcome: ir.Table) -> ir.Table:
    """One row: journeys that count (``n``) and those with the outcome (``k``)."""
    return outcome.aggregate(n=outcome.count(), k=outcome._y.sum().fill_null(0))


def family_counts(features: ir.Table, outcome: ir.Table, family: str, max_values: int) -> ir.Table:
    """``family``, ``key``, ``value``, ``label``, ``n``, ``k`` and ``values`` (distinct values of the
    key) per feature. For a capped family a key with more than ``max_values`` values returns one
    row (its first label) so that the caller can say it was not tested."""
    o = outcome.select("journey_id", "_y")
    j = features.join(o, "journey_id")
    agg = j.group_by("family", "key", "value", "label").agg(n=j.count(), k=j._y.sum())
    by_key = ibis.window(group_by="key")
    agg = agg.mutate(values=agg.label.count().over(by_key))
    if family not in CAPPED:
        return agg
    agg = agg.mutate(_first=ibis.row_number().over(group_by="key", order_by="label"))
    return agg.filter((agg["values"] <= max_values) | (agg._first == 0)).drop("_first")


def _chosen(tables: Mapping[str, ir.Table], labels: Sequence[str]) -> ir.Table:
    by_family: dict[str, list[str]] = {}
    for label in labels:
        by_family.setdefault(label.split(" ", 1)[0], []).append(label)
    parts = [
        tables[f].filter(tables[f].label.isin(names)).select("journey_id", "label")
        for f, names in sorted(by_family.items())
    ]
    return parts[0] if len(parts) == 1 else ibis.union(*parts)


def cooccurrence(tables: Mapping[str, ir.Table], outcome: ir.Table, labels: Sequence[str]) -> ir.Table:
    """``a``, ``b`` (labels, ``a < b``), ``n`` journeys with both, ``k`` of them with the outcome."""
    rows = _chosen(tables, labels).join(outcome.select("journey_id", "_y"), "journey_id")
    left = rows.select(journey_id="journey_id", a="label", _y="_y")
    right = rows.select(_jid="journey_id", b="label")
    pairs = left.join(right, (left.journey_id == right._jid) & (left.a < right.b))
    return pairs.group_by("a", "b").agg(n=pairs.count(), k=pairs._y.sum())


def patterns(tables: Mapping[str, ir.Table], outcome: ir.Table, labels: Sequence[str]) -> ir.Table:
    """``mask`` (bit ``i`` set: the journey has ``labels[i]``), ``n`` and ``k`` per pattern, every
    counted journey included (mask 0: none of the features)."""
    rows = _chosen(tables, labels)
    bit = ibis.cases(*((rows.label == name, 2**i) for i, name in enumerate(labels)), else_=0).cast("int64")
    masks = rows.mutate(_bit=bit).group_by(_jid=rows.journey_id).agg(_mask=ibis._["_bit"].sum())
    o = outcome.select("journey_id", "_y")
    joined = o.left_join(masks, o.journey_id == masks._jid)
    joined = joined.mutate(mask=joined._mask.fill_null(0))
    return joined.group_by("mask").agg(n=joined.count(), k=joined._y.sum())


def examples(
    tables: Mapping[str, ir.Table], outcome: ir.Table, labels: Sequence[str], count: int
) -> ir.Table:
    """``label`` and ``journey_id``: the ``count`` smallest ids of journeys with the feature and the
    outcome (deterministic on every engine)."""
    hit = outcome.filter(outcome._y == 1).select("journey_id")
    rows = _chosen(tables, labels).semi_join(hit, "journey_id")
    ranked = rows.mutate(_rank=ibis.row_number().over(group_by="label", order_by="journey_id"))
    return ranked.filter(ranked._rank < count).select("label", "journey_id")
