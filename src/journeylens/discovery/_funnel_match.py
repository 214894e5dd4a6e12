"""Which events match which funnel steps: a step bitmask and exclusion flags per event."""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from journeylens.specs.funnel import FunnelSpec, StepMatcher
from journeylens.store._backend import json_text

Target = tuple[str, int, StepMatcher]
"""("s", step, alternative) or ("x", exclusion, alternative); numbers are 1-based."""


def classify(log: ir.Table, spec: FunnelSpec) -> ir.Table:
    """``log`` plus ``mask`` (bit ``k - 1`` set: the event matches step ``k``; 0 for none) and
    ``x1..xM`` (the event matches exclusion ``e``), for every event.

    When every alternative names a touchpoint (the usual funnel) a left join with a small table of
    those touchpoints does the matching, so the engine looks up one key per event instead of
    comparing it with every step; other conditions (channel, properties) are checked only where
    the touchpoint matched.

    Example:
        >>> classify(log, FunnelSpec(steps=["home", "web:checkout"]))  # doctest: +SKIP
    """
    targets: list[Target] = [("s", k, m) for k, step in enumerate(spec.steps, 1) for m in step.any_of]
    targets += [("x", e, m) for e, x in enumerate(spec.exclusions, 1) for m in x.any_of]
    if any(m.touchpoint is None for _, _, m in targets):
        return _by_expression(log, spec, targets)
    return _by_lookup(log, spec, targets)


def matches(t: ir.Table, matchers: Sequence[StepMatcher]) -> ir.BooleanValue:
    """Whether an event of ``t`` matches any of ``matchers``."""
    return _or([_pred(t, m) for m in matchers])


def _pred(t: ir.Table, m: StepMatcher, *, with_touchpoint: bool = True) -> ir.BooleanValue:
    preds: list[ir.BooleanValue] = []
    if m.touchpoint is not None and with_touchpoint:
        preds.append(t.touchpoint == m.touchpoint)
    if m.channel is not None:
        preds.append(t.channel == m.channel)
    preds.extend(json_text(t.properties, k) == v for k, v in m.properties.items())
    return ibis.and_(*preds).fill_null(False) if preds else ibis.literal(True)


def _or(preds: Sequence[ir.BooleanValue]) -> ir.BooleanValue:
    return ibis.or_(*preds) if preds else ibis.literal(False)


def _by_lookup(log: ir.Table, spec: FunnelSpec, targets: list[Target]) -> ir.Table:
    plain: dict[str, list[int]] = {}
    for kind, i, m in targets:
        if not m.channel and not m.properties:
            bits = plain.setdefault(str(m.touchpoint), [0, 0])
            bits[kind == "x"] |= 1 << (i - 1)
    touchpoints = sorted({str(m.touchpoint) for _, _, m in targets})
    lookup = ibis.memtable(
        pa.table(
            {
                "_tp": touchpoints,
                "_sbits": pa.array([plain.get(tp, [0, 0])[0] for tp in touchpoints], pa.int64()),
                "_xbits": pa.array([plain.get(tp, [0, 0])[1] for tp in touchpoints], pa.int64()),
            }
        )
    )
    j = log.left_join(lookup, log.touchpoint == lookup._tp)
    sbits, xbits = j._sbits.fill_null(0), j._xbits.fill_null(0)
    constrained = [(kind, i, m) for kind, i, m in targets if m.channel or m.properties]
    mask: ir.IntegerValue = sbits
    for kind, i, m in constrained:
        if kind == "s":
            hit = j._tp.notnull() & (j.touchpoint == m.touchpoint) & _pred(j, m, with_touchpoint=False)
            mask = mask | ibis.ifelse(hit, 1 << (i - 1), 0).cast("int64")
    flags = {}
    for e in range(1, len(spec.exclusions) + 1):
        own = [j._tp.notnull() & (j.touchpoint == m.touchpoint) & _pred(j, m, with_touchpoint=False)
               for kind, i, m in constrained if kind == "x" and i == e]  # fmt: skip
        flags[f"x{e}"] = _or([(xbits & (1 << (e - 1))) != 0, *own])
    return j.select(*log.columns, mask=mask.cast("int64"), **flags)


def _by_expression(log: ir.Table, spec: FunnelSpec, targets: list[Target]) -> ir.Table:
    steps = [_or([_pred(log, m) for kind, i, m in targets if kind == "s" and i == k])
             for k in range(1, len(spec.steps) + 1)]  # fmt: skip
    flags = {f"x{e}": _or([_pred(log, m) for kind, i, m in targets if kind == "x" and i == e])
             for e in range(1, len(spec.exclusions) + 1)}  # fmt: skip
    mask: ir.IntegerValue = ibis.literal(0, "int64")
    for k, hit in enumerate(steps):
        mask = mask | ibis.ifelse(hit, 1 << k, 0).cast("int64")
    return log.select(*log.columns, mask=mask, **flags)
