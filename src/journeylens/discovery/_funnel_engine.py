"""Funnel attempts as Ibis window passes: linear in events x steps, no join per step.

:func:`matched_events` sorts each unit's events once (timestamp, ingestion order, event id) and
keeps those that match a step or an exclusion, with ``pos`` (their place in that order), ``ms``
(epoch milliseconds), ``mask`` (bit ``k - 1``: matches step ``k``), exclusion counters and what the
unit did next. Everything after that reads this table. The output of the attempt functions is one
row per unit: its best attempt, with ``level`` (furthest step), ``start_pos``, ``start_ms``,
``last_pos`` and ``c1..cN`` (when each step was done in that attempt; null when skipped or not
reached). An attempt is identified by its unit and the position of its step-1 event.

Ordered and strict funnels advance every attempt one level per pass. Pass ``L`` unions the attempts
waiting at level ``L`` with the events that can take them further and finds, for each attempt, the
first such event after it with one running ``min`` over the following rows. Everything needed about
that event (position, time, exclusion counts so far, next exclusion) is non-decreasing in position,
so the running minimum *is* the value at that event. Each pass reads only the attempts at that level
and the events of the candidate steps of the units concerned, so the total work is linear in events
x steps. Any-order funnels need two passes in all: the j-th occurrence of each step after every
event (``lead`` per step), then the first of those after each attempt start (running ``min``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

SEQUENCE = ("ts", "seq", "event_id")
"""How a unit's events are ordered: timestamp, then ingestion order, then event id."""

Materialize = Callable[[str, ir.Table], ir.Table]
Reached = Callable[[ir.Table], set[int]]
"""Runs a one-column table of levels and returns them as a set."""
_NOT_DONE = 1 << 62


@dataclass(frozen=True)
class Plan:
    """The engine's view of a spec: numbers only."""

    steps: int
    order: str
    window: int
    """Conversion window in milliseconds."""
    optional: tuple[bool, ...]
    exclusions: tuple[tuple[int, int], ...]
    groups: tuple[int, ...] = ()
    """Any order: for each step, the 1-based index of its group of identical steps."""

    def candidates(self, level: int) -> list[int]:
        """Steps an attempt at ``level`` may take next: up to and including the next required one."""
        out = []
        for step in range(level + 1, self.steps + 1):
            out.append(step)
            if not self.optional[step - 1]:
                break
        return out

    def active(self, level: int) -> list[int]:
        """Exclusions (0-based) that void an attempt while it waits at ``level``."""
        return [e for e, (i, j) in enumerate(self.exclusions) if i <= level < j]


def _null(dtype: str) -> ir.Value:
    return ibis.null().cast(dtype)


def _any(preds: Sequence[ir.BooleanValue]) -> ir.BooleanValue:
    out = preds[0]
    for pred in preds[1:]:
        out = out | pred
    return out


def millis(ts: ir.TimestampValue) -> ir.IntegerValue:
    """Epoch milliseconds as an integer, the same on every engine (comparisons stay exact)."""
    whole = ts.epoch_seconds().cast("float64").floor().cast("int64")
    return whole * 1000 + ts.millisecond().cast("int64")


def spans(first_steps: ir.Table, plan: Plan) -> ir.Table:
    """(_u, _lo, _hi) per unit: from its first attempt start to the end of its last window.

    ``first_steps`` holds the events that start attempts (unit, ts). The end is in raw time, a
    millisecond wider than the window, so that pruning with it never cuts an event that counts.
    """
    reach = ibis.interval(milliseconds=plan.window + 1)
    ts = first_steps.ts
    return first_steps.group_by(_u="unit").aggregate(_lo=ts.min(), _hi=(ts.max() + reach).cast(ts.type()))


def matched_events(
    classified: ir.Table,
    plan: Plan,
    *,
    positioned: bool,
    bounds: ir.Table,
    keep: Sequence[str] = (),
) -> ir.Table:
    """The events that match a step or an exclusion, with positions, what came next, and
    exclusion counters — from one sort of each unit's events.

    ``classified`` has every event: unit, ts, seq, event_id, activity, ``mask`` (step ``k`` is bit
    ``k - 1``; 0 when none), ``x1..xM`` (exclusions), ``pos`` when ``positioned`` and ``keep``.
    ``bounds`` (see :func:`spans`) limits each unit to the time its attempts can use. Positions
    count every event, so a strict funnel's next step is simply the next position; ``next_activity``
    and ``next_ms`` describe the unit's next event (for "where did they go"). Adds ``ms`` (epoch
    milliseconds).
    """
    n_x = len(plan.exclusions)
    cols = ["unit", *SEQUENCE, "activity", *keep, "mask", *[f"x{e}" for e in range(1, n_x + 1)]]
    t = classified.select(*cols, *(["pos"] if positioned else []))
    # Only events from a unit's first attempt to the end of its last window can matter: the rest
    # (and units that never start an attempt) stay out of the sort. Cutting a prefix and a suffix
    # keeps the positions of the remaining events consecutive.
    t = t.join(bounds, (t.unit == bounds._u) & (t.ts >= bounds._lo) & (t.ts <= bounds._hi)).select(t)
    t = t.mutate(ms=millis(t.ts))
    order = ["pos"] if positioned else list(SEQUENCE)
    every = ibis.window(group_by="unit", order_by=order)
    upto = ibis.window(group_by="unit", order_by=order, rows=(None, 0))
    after = ibis.window(group_by="unit", order_by=order, rows=(1, None))
    extra: dict[str, ir.Value] = {
        "next_activity": t.activity.lead().over(every),
        "next_ms": t.ms.lead().over(every),
    }
    if not positioned:
        extra["pos"] = ibis.row_number().over(every)
    for e in range(1, n_x + 1):
        x = t[f"x{e}"]
        extra[f"x{e}_ci"] = x.cast("int64").sum().over(upto)
        extra[f"x{e}_nx"] = ibis.ifelse(x, t.ms, _null("int64")).min().over(after)
    t = t.mutate(**extra)
    t = t.filter(_any([t.mask != 0, *[t[f"x{e}"] for e in range(1, n_x + 1)]]))
    cb = {f"x{e}_cb": t[f"x{e}_ci"] - t[f"x{e}"].cast("int64") for e in range(1, n_x + 1)}
    # The sort keys are not needed further on: positions replace them.
    return t.drop("activity", *SEQUENCE).mutate(pos=t.pos.cast("int64"), **cb)


def step_hit(events: ir.Table, step: int) -> ir.BooleanValue:
    """Whether an event of ``matched_events`` matches ``step`` (1-based)."""
    return (events.mask & (1 << (step - 1))) != 0


def hits_any(events: ir.Table, steps: Sequence[int]) -> ir.BooleanValue:
    bits = sum(1 << (c - 1) for c in steps)
    return (events.mask & bits) != 0


# --- ordered and strict ------------------------------------------------------------------------


def _attempt_columns(plan: Plan) -> dict[str, str]:
    cols = {"arrived": "int64", "start_pos": "int64", "start_ms": "int64"}
    for e in range(1, len(plan.exclusions) + 1):
        cols |= {f"a{e}_c": "int64", f"a{e}_nx": "int64"}
    return cols


def _event_columns(plan: Plan, cands: Sequence[int]) -> dict[str, str]:
    cols = {"ms": "int64", "mask": "int64"}
    for e in range(1, len(plan.exclusions) + 1):
        cols |= {f"x{e}_ci": "int64", f"x{e}_cb": "int64", f"x{e}_nx": "int64"}
    return cols


def starts(events: ir.Table, plan: Plan) -> ir.Table:
    """Every step-1 event starts an attempt at level 1."""
    first = events.filter(step_hit(events, 1))
    cols: dict[str, ir.Value] = {
        "unit": first.unit, "pos": first.pos, "arrived": first.ms,
        "start_pos": first.pos, "start_ms": first.ms,
    }  # fmt: skip
    for e in range(1, len(plan.exclusions) + 1):
        cols |= {f"a{e}_c": first[f"x{e}_ci"], f"a{e}_nx": first[f"x{e}_nx"]}
    return first.select(**cols).mutate(level=ibis.literal(1, "int64"), done=ibis.literal(False))


def advance(events: ir.Table, waiting: ir.Table, level: int, plan: Plan) -> ir.Table:
    """One pass: every attempt waiting at ``level`` moves on, stops there, or is voided.

    Returns the attempts that moved (``done`` false; new ``level``, ``pos`` and ``arrived``) and
    those that stopped (``done`` true); voided attempts are dropped.
    """
    cands, active = plan.candidates(level), plan.active(level)
    # Only the units with an attempt waiting here: late passes then touch few events.
    ev = events.filter(hits_any(events, cands)).semi_join(waiting.select("unit").distinct(), "unit")
    attempt_cols, event_cols = _attempt_columns(plan), _event_columns(plan, cands)
    ev_rows = ev.select(
        "unit", "pos", kind=ibis.literal(0, "int8"), **{c: ev[c] for c in event_cols},
        **{c: _null(t) for c, t in attempt_cols.items()},
    )  # fmt: skip
    at_rows = waiting.select(
        "unit", "pos", kind=ibis.literal(1, "int8"), **{c: _null(t) for c, t in event_cols.items()},
        **{c: waiting[c] for c in attempt_cols},
    )  # fmt: skip
    u = ev_rows.union(at_rows)
    w = ibis.window(group_by="unit", order_by=["pos", "kind"], rows=(1, None))

    def first_after(value: ir.Value) -> ir.Value:
        # Event rows carry event values, attempt rows nulls: the minimum over the following rows is
        # the value at the next candidate event, because every value here grows with position.
        return value.min().over(w)

    nxt: dict[str, ir.Value] = {
        "d_pos": first_after(ibis.ifelse(u.kind == 0, u.pos, _null("int64"))),
        "d_ms": first_after(u.ms),
    }
    if len(cands) > 1:
        nxt |= {f"n{c}": first_after(ibis.ifelse(step_hit(u, c), u.pos, _null("int64"))) for c in cands}
    for e in range(1, len(plan.exclusions) + 1):
        nxt |= {f"d{e}_ci": first_after(u[f"x{e}_ci"]), f"d{e}_nx": first_after(u[f"x{e}_nx"])}
        if e - 1 in active:
            nxt[f"d{e}_cb"] = first_after(u[f"x{e}_cb"])
    a = u.mutate(**nxt)
    a = a.filter(a.kind == 1)
    moves = a.d_pos.notnull() & (a.d_ms <= a.start_ms + plan.window)
    if plan.order == "strict":
        moves = moves & (a.d_pos == a.pos + 1)
    voided = [
        ibis.ifelse(
            moves, a[f"d{e + 1}_cb"] > a[f"a{e + 1}_c"], a[f"a{e + 1}_nx"] <= a.start_ms + plan.window
        )
        for e in active
    ]
    if voided:
        a = a.filter(~_any([v.fill_null(False) for v in voided]))
    # The event may match several of the steps an attempt can take next: it takes the furthest.
    to: ir.Value = ibis.literal(cands[0], "int64")
    for c in cands[1:]:
        to = ibis.ifelse(a[f"n{c}"] == a.d_pos, c, to)
    out: dict[str, ir.Value] = {
        "unit": a.unit, "pos": ibis.ifelse(moves, a.d_pos, a.pos),
        "arrived": ibis.ifelse(moves, a.d_ms, a.arrived), "start_pos": a.start_pos, "start_ms": a.start_ms,
    }  # fmt: skip
    for e in range(1, len(plan.exclusions) + 1):
        out[f"a{e}_c"] = ibis.ifelse(moves, a[f"d{e}_ci"], a[f"a{e}_c"])
        out[f"a{e}_nx"] = ibis.ifelse(moves, a[f"d{e}_nx"], a[f"a{e}_nx"])
    return a.select(**out, level=ibis.ifelse(moves, to, level).cast("int64"), done=~moves)


def ordered_attempts(
    events: ir.Table, plan: Plan, materialize: Materialize, reached: Reached
) -> tuple[ir.Table, ir.Table]:
    """Finished attempts of an ordered or strict funnel (one pass per level), and their arrivals.

    Arrivals are ``(unit, start_pos, level, arrived)``: when each attempt did each step it did.
    ``reached`` tells after each pass which levels attempts moved to, so that levels nobody
    reaches cost no pass (most attempts of a long funnel stop after a few steps).
    """
    first = materialize("start", starts(events, plan))
    waiting: dict[int, list[ir.Table]] = {1: [first]}
    finished: list[ir.Table] = []
    arrivals = [first]
    for level in range(1, plan.steps):
        if not waiting.get(level):
            continue
        moved = materialize(f"level{level}", advance(events, _union(waiting.pop(level)), level, plan))
        finished.append(moved.filter(moved.done))
        arrivals.append(moved.filter(~moved.done))
        targets = reached(moved.filter(~moved.done).select("level").distinct())
        for target in plan.candidates(level):
            if target in targets:
                waiting.setdefault(target, []).append(moved.filter(~moved.done & (moved.level == target)))
    finished.extend(waiting.get(plan.steps, []))
    every = _union([f.select("unit", "level", "start_pos", "start_ms", last_pos=f.pos) for f in finished])
    path = _union([a.select("unit", "start_pos", "level", "arrived") for a in arrivals])
    return every, path


def ordered_times(best: ir.Table, path: ir.Table, plan: Plan) -> ir.Table:
    """``c1..cN`` of the best ordered attempts, from the arrivals of those attempts."""
    steps = path.join(best.select("unit", "start_pos"), ["unit", "start_pos"])
    times = {
        f"c{k}": ibis.ifelse(steps.level == k, steps.arrived, _null("int64")).max()
        for k in range(1, plan.steps + 1)
    }
    per = steps.group_by(["unit", "start_pos"]).aggregate(**times)
    return best.join(per, ["unit", "start_pos"]).select(
        "unit", "level", "start_pos", "start_ms", "last_pos", *times
    )


def _union(tables: list[ir.Table]) -> ir.Table:
    out = tables[0]
    for t in tables[1:]:
        out = out.union(t)
    return out


# --- any order ---------------------------------------------------------------------------------


def any_order_attempts(events: ir.Table, plan: Plan) -> ir.Table:
    """Attempts of an any-order funnel: one per event that matches a step.

    Each event counts for the first group of identical steps it matches; an attempt from event
    ``s`` completes as many steps as there are such events (up to each group's size) from ``s`` on
    within the window.
    """
    n_groups = max(plan.groups)
    sizes = [plan.groups.count(g) for g in range(1, n_groups + 1)]
    group: ir.Value = _null("int64")
    for g in range(n_groups, 0, -1):
        members = [k + 1 for k, gk in enumerate(plan.groups) if gk == g]
        group = ibis.ifelse(hits_any(events, members), g, group)
    t = events.mutate(grp=group.cast("int64"))
    same = ibis.window(group_by=["unit", "grp"], order_by="pos")
    leads: dict[str, ir.Value] = {}
    for j in range(2, max(sizes) + 1):
        leads |= {f"l{j}_ms": t.ms.lead(j - 1).over(same), f"l{j}_pos": t.pos.lead(j - 1).over(same)}
    t = t.mutate(l1_ms=t.ms, l1_pos=t.pos, **leads)
    ahead = ibis.window(group_by="unit", order_by="pos", rows=(0, None))
    slots: dict[str, ir.Value] = {}
    for g, size in enumerate(sizes, start=1):
        for j in range(1, size + 1):
            in_group = t.grp == g
            slots[f"T{g}_{j}"] = ibis.ifelse(in_group, t[f"l{j}_ms"], _null("int64")).min().over(ahead)
            slots[f"P{g}_{j}"] = ibis.ifelse(in_group, t[f"l{j}_pos"], _null("int64")).min().over(ahead)
    if plan.exclusions:
        hit = _any([t[f"x{e + 1}"] for e in range(len(plan.exclusions))])
        later = ibis.window(group_by="unit", order_by="pos", rows=(1, None))
        slots["x_pos"] = ibis.ifelse(hit, t.pos, _null("int64")).min().over(later)
        slots["x_ms"] = ibis.ifelse(hit, t.ms, _null("int64")).min().over(later)
    s = t.mutate(**slots)
    s = s.filter(s.grp.notnull())
    end = s.ms + plan.window
    names = [(f"T{g}_{j}", f"P{g}_{j}") for g, size in enumerate(sizes, start=1) for j in range(1, size + 1)]
    ok = {name: s[name].notnull() & (s[name] <= end) for name, _ in names}
    level = sum((ok[name].cast("int64") for name, _ in names), ibis.literal(0, "int64"))
    valid_pos = [ibis.ifelse(ok[name], s[p], _null("int64")) for name, p in names]
    last_pos = ibis.greatest(*valid_pos) if len(valid_pos) > 1 else valid_pos[0]
    s = s.mutate(
        level=level, last_pos=last_pos, **{n: ibis.ifelse(ok[n], s[n], _null("int64")) for n, _ in names}
    )
    if plan.exclusions:
        complete = s.level == plan.steps
        s = s.filter(~(s.x_pos.notnull() & ibis.ifelse(complete, s.x_pos < s.last_pos, s.x_ms <= end)))
    return s.select("unit", "level", "last_pos", *[n for n, _ in names], start_pos=s.pos, start_ms=s.ms)


def any_order_times(best: ir.Table, plan: Plan) -> ir.Table:
    """``c1..cN`` of the best any-order attempts: the k-th completion is the k-th slot time."""
    slots = [c for c in best.columns if c.startswith("T")]
    # Slots not done sort last as a sentinel (no lambdas: DuckDB 2 refuses ibis's arrow syntax).
    done = ibis.array([best[c].fill_null(_NOT_DONE) for c in slots]).sort()
    times = {
        f"c{k}": ibis.ifelse(done[k - 1] < _NOT_DONE, done[k - 1], _null("int64"))
        for k in range(1, plan.steps + 1)
    }
    return best.select("unit", "level", "start_pos", "start_ms", "last_pos", **times)


def best_attempts(attempts: ir.Table) -> ir.Table:
    """Each unit's best attempt: furthest step, then earliest to get there, then latest start."""
    w = ibis.window(group_by="unit", order_by=[ibis.desc("level"), "last_pos", ibis.desc("start_pos")])
    ranked = attempts.mutate(_rank=ibis.row_number().over(w))
    return ranked.filter(ranked._rank == 0).drop("_rank")
