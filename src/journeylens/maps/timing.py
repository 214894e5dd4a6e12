"""Time in stage, time between stages and stage KPIs of a map, against their targets.

* **Time in stage** (per journey and stage reached): from the stage's first event to the first
  event of the stage the journey enters next (stages ordered by when the journey entered them);
  for the last stage entered, to its last event there. This is the definition
  :class:`~journeylens.maps.model.TimeTarget` documents.
* **Time between stages** (per journey and pair of consecutive map stages it reached, in that
  order): from entering the first to entering the second.

Each gets the share of journeys within the stage's target (95% Wilson interval) and the median,
p80 and p90 with **distribution-free order-statistic intervals**: the estimate is the order
statistic at rank ``ceil(q n)`` (the inverted-CDF definition) and the interval is
``[x_(l), x_(u)]`` with ``l``, ``u`` from the Binomial(n, q) quantiles, covering at least 95%
(bounds are None when n is too small for that). Only counts and those few order statistics reach
Python: the engine ranks the values, Python picks the ranks, the engine returns those rows.

Stage KPIs (over the journeys that reach the stage): volume; conversion (share that reach a later
stage of the map, or — at the last stage — succeed); resolution (share with outcome success, of
those with a decided outcome); leakage (share that leaked, of those that used a digital channel);
contacts (mean assisted contacts); time_in_stage (median seconds); csat, nps and ces from the
answers about the stage (:mod:`journeylens.maps._stage_feedback`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir

from journeylens.journeys.summary import wilson
from journeylens.journeys.undefined import UNDECIDED
from journeylens.maps._stage_feedback import FEEDBACK_METRICS, feedback_value, stage_feedback
from journeylens.maps.conformance import GROUP
from journeylens.maps.model import JourneyMap, KpiMetric

if TYPE_CHECKING:
    from journeylens.store import Store

__all__ = ["QUANTILES", "kpi_rows", "quantiles", "stage_between", "stage_times", "timing_rows"]

QUANTILES = (0.5, 0.8, 0.9)
FEEDBACK_REASON = (
    "no scored answer about this stage linked to the checked journeys (feedback_links: the stage of "
    "the step it was linked to, unless the survey names another touchpoint)"
)


def stage_times(staged: ir.Table) -> ir.Table:
    """One row per journey and stage reached: journey_id, _group, stage, stage_rank, enter (epoch
    seconds), seconds (time in stage)."""
    on = staged.filter(staged.stage_rank.notnull())
    per = on.group_by("journey_id", GROUP, "stage", "stage_rank").agg(
        enter=on.timestamp.min().epoch_seconds(), leave=on.timestamp.max().epoch_seconds()
    )
    by_entry = ibis.window(group_by=per.journey_id, order_by=[per.enter, per.stage_rank])
    following = per.enter.lead().over(by_entry)
    return per.mutate(seconds=(following.fill_null(per.leave) - per.enter).cast("float64"))


def stage_between(journey_map: JourneyMap, times: ir.Table) -> ir.Table:
    """One row per journey and pair of consecutive map stages it entered in that order:
    journey_id, _group, stage (``a -> b``), seconds."""
    a = times.select("journey_id", GROUP, "stage_rank", a_stage="stage", a_enter="enter")
    b = times.select("journey_id", b_rank="stage_rank", b_stage="stage", b_enter="enter")
    pairs = a.join(b, [a.journey_id == b.journey_id, b.b_rank == a.stage_rank + 1])
    pairs = pairs.filter(pairs.b_enter >= pairs.a_enter)
    return pairs.select(
        "journey_id", GROUP, stage=pairs.a_stage + " -> " + pairs.b_stage,
        seconds=(pairs.b_enter - pairs.a_enter).cast("float64"),
    )  # fmt: skip


def _ranks(n: int, q: float) -> tuple[int, int | None, int | None]:
    """(estimate rank, lower rank, upper rank), 1-based; bounds None when no pair of order
    statistics covers 95%."""
    # scipy.stats' public binomial (its private ufuncs are not there in every supported scipy).
    from scipy.stats import binom

    k = max(1, math.ceil(q * n))
    lo = int(binom.ppf(0.025, n, q))
    hi = int(binom.ppf(0.975, n, q)) + 1
    lo, hi = max(lo, 1), min(hi, n)
    coverage = float(binom.cdf(hi - 1, n, q) - binom.cdf(lo - 1, n, q))
    if coverage < 0.95:
        return k, None, None
    return k, lo, hi


def quantiles(
    store: Store, values: ir.Table, keys: Sequence[str], qs: Sequence[float] = QUANTILES
) -> dict[tuple[Any, ...], dict[float, tuple[float | None, float | None, float | None]]]:
    """Per key: each quantile's (estimate, lower, upper) of ``values.seconds`` (see module doc)."""
    counts = store.execute(values.group_by(*keys).agg(_n=values.count())).to_pylist()
    wanted: list[dict[str, Any]] = []
    plan: dict[tuple[Any, ...], dict[float, tuple[int, int | None, int | None]]] = {}
    for row in counts:
        key = tuple(row[k] for k in keys)
        plan[key] = {q: _ranks(int(row["_n"]), q) for q in qs}
        ranks = {r for trio in plan[key].values() for r in trio if r is not None}
        wanted += [{**{k: row[k] for k in keys}, "_r": r} for r in sorted(ranks)]
    if not wanted:
        return {}
    # Ordered by the value alone: rows with equal seconds may take each other's ranks, but the
    # value at each rank is the same whichever they take (and no string sort of journey ids).
    order = ibis.window(group_by=[values[k] for k in keys], order_by=values.seconds)
    ranked = values.mutate(_r=ibis.row_number().over(order) + 1)
    need = ibis.memtable(wanted, schema={**{k: values[k].type() for k in keys}, "_r": "int64"})
    picked = ranked.join(need, [*keys, "_r"]).select(*keys, "_r", "seconds")
    at = {(*(row[k] for k in keys), row["_r"]): row["seconds"] for row in store.execute(picked).to_pylist()}

    def value(key: tuple[Any, ...], r: int | None) -> float | None:
        return None if r is None else at.get((*key, r))

    return {
        key: {q: (value(key, k), value(key, lo), value(key, hi)) for q, (k, lo, hi) in by_q.items()}
        for key, by_q in plan.items()
    }


def timing_rows(
    store: Store, journey_map: JourneyMap, times: ir.Table, between: ir.Table
) -> list[dict[str, Any]]:
    """One row per group and stage (``measure`` time_in_stage) and per group and pair of stages
    (``measure`` time_between): n, target, share within target with its interval, quantiles."""
    targets = {s.name: s.time_target for s in journey_map.stages}
    rows: list[dict[str, Any]] = []
    for measure, table in (("time_in_stage", times), ("time_between", between)):
        cols = table.select(GROUP, "stage", "journey_id", "seconds")
        aggs: dict[str, ir.Value] = {"n": cols.count()}
        cases = [(cols.stage == name, t.seconds) for name, t in targets.items() if t is not None]
        limit = ibis.cases(*cases, else_=ibis.null("float64")) if cases else ibis.null("float64")
        aggs["within"] = (cols.seconds <= limit).fill_null(False).cast("int64").sum()
        counts = store.execute(cols.group_by(GROUP, "stage").agg(**aggs)).to_pylist()
        qs = quantiles(store, cols, [GROUP, "stage"])
        for row in counts:
            target = targets.get(row["stage"]) if measure == "time_in_stage" else None
            n, within = int(row["n"]), int(row["within"])
            lo, hi = wilson(within, n) if target is not None else (None, None)
            out: dict[str, Any] = {
                "group": row[GROUP], "measure": measure, "stage": row["stage"], "journeys": n,
                "target": None if target is None else target.duration,
                "target_percentile": None if target is None else target.percentile,
                "within_target": within if target is not None else None,
                "share_within": within / n if target is not None and n else None,
                "share_lo": lo, "share_hi": hi,
                "target_met": None if target is None or not n else within / n >= target.share,
            }  # fmt: skip
            for q, (est, qlo, qhi) in qs[(row[GROUP], row["stage"])].items():
                name = f"p{round(q * 100)}"
                out.update({name: est, f"{name}_lo": qlo, f"{name}_hi": qhi})
            rows.append(out)
    order = {s.name: i for i, s in enumerate(journey_map.stages)}
    rows.sort(
        key=lambda r: (
            str(r["group"]),
            r["measure"] != "time_in_stage",
            order.get(r["stage"].split(" -> ")[0], 99),
        )
    )
    return rows


def kpi_rows(
    store: Store, journey_map: JourneyMap, journeys: ir.Table, times: ir.Table, timing: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One row per group, stage and KPI the map sets: value, interval, target, verdict (``met``,
    ``missed``, or ``uncertain`` when the 95% interval straddles the target)."""
    wanted = [(s, k) for s in journey_map.stages for k in s.kpis]
    if not wanted:
        return []
    last = len(journey_map.stages) - 1
    later = times.group_by("journey_id").agg(_top=times.stage_rank.max())
    j = journeys.select("journey_id", "outcome", "leakage", "digital_events", "assisted_contacts")
    per = times.join(later, "journey_id").join(j, "journey_id")
    decided = ~per.outcome.isin(UNDECIDED)
    success = per.outcome == "success"
    converted = ibis.cases((per.stage_rank == last, success), else_=per._top > per.stage_rank)
    agg = per.group_by(GROUP, "stage").agg(
        volume=per.count(),
        conv_n=(converted & (decided | (per.stage_rank != last))).cast("int64").sum(),
        conv_d=(decided | (per.stage_rank != last)).cast("int64").sum(),
        res_n=(success & decided).cast("int64").sum(),
        res_d=decided.cast("int64").sum(),
        leak_n=(per.leakage.fill_null(False) & (per.digital_events > 0)).cast("int64").sum(),
        leak_d=(per.digital_events > 0).cast("int64").sum(),
        contacts=per.assisted_contacts.cast("float64").mean(),
        contacts_sd=per.assisted_contacts.cast("float64").std(),
    )
    stats = {(r[GROUP], r["stage"]): r for r in store.execute(agg).to_pylist()}
    feedback = stage_feedback(store, journey_map, times)
    medians = {(r["group"], r["stage"]): r for r in timing if r["measure"] == "time_in_stage"}
    groups = sorted({g for g, _ in stats} | {g for g, _ in medians}, key=str)
    rows = []
    for group in groups:
        for stage, kpi in wanted:
            row = stats.get((group, stage.name))
            if kpi.metric.value in FEEDBACK_METRICS:
                key = (group, stage.name, kpi.metric.value)
                value, lo, hi, n, d, reason = feedback_value(feedback, key, FEEDBACK_REASON)
            else:
                value, lo, hi, n, d, reason = _kpi_value(kpi.metric, row, medians.get((group, stage.name)))
            rows.append({
                "group": group, "stage": stage.name, "metric": kpi.metric.value, "value": value,
                "lo": lo, "hi": hi, "n": n, "d": d, "min": kpi.min, "max": kpi.max,
                "verdict": _verdict(value, lo, hi, kpi.min, kpi.max), "reason": reason,
            })  # fmt: skip
    return rows


Value = tuple[float | None, float | None, float | None, int | None, int | None, str | None]


def _rate(n: Any, d: Any, why: str) -> Value:
    n, d = int(n or 0), int(d or 0)
    lo, hi = wilson(n, d)
    return (n / d if d else None), lo, hi, n, d, (None if d else why)


_RATES = {
    KpiMetric.conversion: ("conv_n", "conv_d", "no journey here has a decided outcome"),
    KpiMetric.resolution: ("res_n", "res_d", "no journey here has a decided outcome"),
    KpiMetric.leakage: ("leak_n", "leak_d", "no journey here used a digital channel"),
}
_NOT_REACHED = "no journey reached the stage"


def _kpi_value(metric: KpiMetric, row: dict[str, Any] | None, timing: dict[str, Any] | None) -> Value:
    if metric is KpiMetric.time_in_stage:
        if timing is None:
            return None, None, None, 0, None, _NOT_REACHED
        return timing["p50"], timing["p50_lo"], timing["p50_hi"], timing["journeys"], None, None
    if row is None:
        return None, None, None, 0, None, _NOT_REACHED
    return _row_kpi(metric, row)


def _row_kpi(metric: KpiMetric, row: dict[str, Any]) -> Value:
    if metric in _RATES:
        num, den, why = _RATES[metric]
        return _rate(row[num], row[den], why)
    n = int(row["volume"])
    if metric is KpiMetric.volume:
        return float(n), None, None, n, None, None
    mean, sd = float(row["contacts"]), row["contacts_sd"]
    if n < 2 or sd is None:
        return mean, None, None, n, None, None
    half = 1.959963984540054 * float(sd) / math.sqrt(n)
    return mean, mean - half, mean + half, n, None, None


def _verdict(
    value: float | None, lo: float | None, hi: float | None, low: float | None, high: float | None
) -> str | None:
    if value is None:
        return None
    meets = (low is None or value >= low) and (high is None or value <= high)
    if lo is None or hi is None:
        return "met" if meets else "missed"
    surely = (low is None or lo >= low) and (high is None or hi <= high)
    surely_not = (low is not None and hi < low) or (high is not None and lo > high)
    return "met" if surely else "missed" if surely_not else "uncertain"
