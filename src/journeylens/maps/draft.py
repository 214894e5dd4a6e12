"""Drafting a journey map from data: ``journeylens map draft --type purchase [--segment loyal]``.

Stages come from where touchpoints typically sit in journeys of the type. Three queries, each
returning only aggregated rows:

1. **Touchpoints**: per touchpoint, the journeys that reach it and the normalised position of its
   first occurrence (0 = first event, 1 = last; median and quartiles).
2. **Order**: for every pair of common touchpoints, in how many journeys that have both the one
   comes first. Only journeys holding both are compared, so a journey that ends early (an
   abandoned cart) does not drag a touchpoint's position. A touchpoint's *order score* is the mean,
   over the touchpoints it meets, of the share of those journeys in which it comes first (1 =
   always earlier); its *consistency* is how one-sided those shares are (1 = always the same side).
   Rare (``min_share``) and floating (``min_consistency``) touchpoints become ``unplanned``.
3. **Stages**: planned touchpoints sorted by order score are cut into stages at the largest gaps
   between scores (at most ``max_stages``). Per stage: the journeys that reach it, the observed
   p80 time in stage (first event of the stage to the first event of the journey's next stage;
   the last stage reached: to its last event there) — proposed as its time target — and the
   stage-level process map (which stage follows which), kept when at least ``min_share`` of the
   journeys take the transition.

Expected emotions, goals and owners are left for people; the YAML says so in comments.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from journeylens.discovery._result import TableResult
from journeylens.discovery.selection import journey_log
from journeylens.maps._draft_yaml import draft_yaml
from journeylens.maps.loading import parse_map
from journeylens.maps.model import JourneyMap
from journeylens.specs.maps import MapDraftSpec

if TYPE_CHECKING:
    from journeylens.store import Store

TOUCHPOINT_SCHEMA = pa.schema(
    [
        ("touchpoint", pa.string()),
        ("journeys", pa.int64()),
        ("share", pa.float64()),
        ("position", pa.float64()),
        ("position_q1", pa.float64()),
        ("position_q3", pa.float64()),
        ("order_score", pa.float64()),
        ("consistency", pa.float64()),
        ("stage", pa.string()),
        ("role", pa.string()),
        ("reason", pa.string()),
    ]
)
MIN_PAIR = 5
"""Journeys two touchpoints must share before their order counts."""
TIME_PERCENTILE = 0.8


@dataclass(frozen=True)
class MapDraft(TableResult):
    """A drafted map: ``map`` (validated), ``yaml`` (the commented file), ``table`` one row per
    touchpoint (journeys, share, position, order_score, consistency, stage, role, reason),
    ``stages`` (stage, touchpoints, journeys, share, required, p80_s, median_s), ``transitions``
    (the stage-level process map: source, target, journeys, share; target None = journey ends)."""

    JSON_FIELDS: ClassVar[tuple[str, ...]] = (
        "journey_type",
        "segment",
        "totals (object: journeys, touchpoints, planned, unplanned, stages)",
        "stages (records: stage, touchpoints, journeys, share, required, p80_s, median_s)",
        "touchpoints (records: touchpoint, journeys, share, position, position_q1, position_q3, "
        "order_score, consistency, stage, role, reason)",
        "transitions (records: source, target, journeys, share)",
        "yaml",
        "out",
    )

    map: JourneyMap
    yaml: str
    stages: list[dict[str, Any]]
    transitions: list[dict[str, Any]]
    totals: dict[str, int]
    spec: MapDraftSpec
    out: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "journey_type": self.spec.journey_type,
            "segment": self.spec.segment,
            "totals": dict(self.totals),
            "stages": self.stages,
            "touchpoints": self.records(),
            "transitions": self.transitions,
            "yaml": self.yaml,
            "out": None if self.out is None else str(self.out),
        }

    def _repr_html_(self) -> str:
        from html import escape

        return f"<pre>{escape(self.yaml)}</pre>" + super()._repr_html_()


def draft_map(store: Store, spec: MapDraftSpec, *, source: str = "") -> MapDraft:
    """Draft a map of ``spec``'s journeys (see the module docstring for how).

    Raises:
        EmptySelectionError: no journey of the type (and segment).

    Example:
        >>> draft = draft_map(ws.store, MapDraftSpec(filter={"journey_type": "purchase"}))  # doctest: +SKIP
        >>> [s.name for s in draft.map.stages]  # doctest: +SKIP
        ['home', 'add_to_cart', 'checkout', 'order_confirmation', 'delivery_update']
    """
    log = journey_log(store, spec.filter)
    firsts = first_occurrences(log)
    total = int(store.execute(log.journey_id.nunique()).as_py())
    rows = store.execute(touchpoint_query(firsts)).to_pylist()
    common = sorted(r["touchpoint"] for r in rows if r["journeys"] >= spec.min_share * total)
    pairs = store.execute(order_query(firsts, common)).to_pylist() if len(common) > 1 else []
    touchpoints = _classify(rows, pairs, total, spec)
    stage_of = _stages(touchpoints, spec.max_stages)
    names = _stage_names(touchpoints, stage_of)
    for row in touchpoints:
        index = stage_of.get(row["touchpoint"])
        row["stage"] = None if index is None else names[index]
    timing = _stage_timing(store, log, stage_of, names, total) if stage_of else ([], [])
    stages, transitions = timing
    required = {s["stage"] for s in stages if s["share"] >= 0.5}
    for s in stages:
        s["required"] = s["stage"] in required
    text = draft_yaml(spec, touchpoints, stages, transitions, total, source=source)
    journey_map = parse_map(text, Path(f"{spec.journey_type}.yaml"))  # a draft that fails is a bug
    return MapDraft(
        table=pa.Table.from_pylist(touchpoints, schema=TOUCHPOINT_SCHEMA),
        map=journey_map,
        yaml=text,
        stages=stages,
        transitions=transitions,
        totals={
            "journeys": total,
            "touchpoints": len(touchpoints),
            "planned": sum(r["role"] == "planned" for r in touchpoints),
            "unplanned": sum(r["role"] == "unplanned" for r in touchpoints),
            "stages": len(stages),
        },
        spec=spec,
    )


def first_occurrences(log: ir.Table) -> ir.Table:
    """(journey_id, touchpoint, first_step, first_time, position): each touchpoint's first event in
    each journey; ``position`` is its rank among the journey's events scaled to 0..1 (0.5 when the
    journey has one event). Ranks follow ``step`` (ties in time keep ingestion order)."""
    by_journey = ibis.window(group_by=log.journey_id, order_by=log.step)
    ranked = log.mutate(
        _rank=ibis.row_number().over(by_journey), _n=log.journey_id.count().over(group_by=log.journey_id)
    )
    position = ibis.ifelse(ranked._n > 1, ranked._rank.cast("float64") / (ranked._n - 1), 0.5)
    ranked = ranked.mutate(_position=position)
    return ranked.group_by(["journey_id", "touchpoint"]).agg(
        first_step=ranked.step.min(), first_time=ranked.timestamp.min(), position=ranked._position.min()
    )


def touchpoint_query(firsts: ir.Table) -> ir.Table:
    """Per touchpoint: journeys reaching it and the median and quartiles of its first position."""
    return firsts.group_by("touchpoint").agg(
        journeys=firsts.journey_id.count().cast("int64"),
        position=firsts.position.median().cast("float64"),
        position_q1=firsts.position.quantile(0.25).cast("float64"),
        position_q3=firsts.position.quantile(0.75).cast("float64"),
    )


def order_query(firsts: ir.Table, touchpoints: list[str]) -> ir.Table:
    """Per ordered pair (a, b) of ``touchpoints``: journeys with both (``together``) and those in
    which a's first event comes before b's (``before``)."""
    kept = firsts.filter(firsts.touchpoint.isin(touchpoints)).select("journey_id", "touchpoint", "first_step")
    other = kept.view()
    pairs = kept.join(other, (kept.journey_id == other.journey_id) & (kept.touchpoint != other.touchpoint))
    pairs = pairs.select(a=kept.touchpoint, b=other.touchpoint, earlier=kept.first_step < other.first_step)
    return pairs.group_by(["a", "b"]).agg(
        together=pairs.count().cast("int64"), before=pairs.earlier.cast("int64").sum().cast("int64")
    )


def _classify(
    rows: list[dict[str, Any]], pairs: list[dict[str, Any]], total: int, spec: MapDraftSpec
) -> list[dict[str, Any]]:
    """Order score, consistency, role and reason of each touchpoint (aggregated rows only)."""
    shares: dict[str, list[float]] = {}
    # Rows come in no particular order: sort them, and sum exactly (fsum), so that equal gaps
    # between scores stay equal on every engine and the stage cuts do not depend on row order.
    for p in sorted(pairs, key=lambda p: (p["a"], p["b"])):
        if p["together"] >= MIN_PAIR:
            shares.setdefault(p["a"], []).append(p["before"] / p["together"])
    out = []
    for row in rows:
        share = row["journeys"] / total if total else 0.0
        seen = shares.get(row["touchpoint"], [])
        score = math.fsum(seen) / len(seen) if seen else None
        consistency = math.fsum(abs(2 * s - 1) for s in seen) / len(seen) if seen else None
        role, reason = "planned", None
        if share < spec.min_share:
            role, reason = "unplanned", f"rare: {share:.0%} of journeys"
        elif consistency is not None and consistency < spec.min_consistency:
            role, reason = "unplanned", f"floating: its order is consistent in {consistency:.0%}"
        out.append(
            {**row, "share": share, "order_score": score, "consistency": consistency, "role": role,
             "reason": reason, "stage": None}
        )  # fmt: skip
    # Earliest first; a touchpoint that meets no other sits by its median position.
    out.sort(key=lambda r: (-round(_score(r), 9), round(r["position"], 9), r["touchpoint"]))
    return out


def _score(row: dict[str, Any]) -> float:
    score = row["order_score"]
    return float(1 - row["position"]) if score is None else float(score)


def _stages(touchpoints: list[dict[str, Any]], max_stages: int) -> dict[str, int]:
    """Planned touchpoints (already in order) -> stage index: cut at the largest order-score gaps
    (ties: the earlier gap), at most ``max_stages`` stages; a gap below 0.05 never cuts."""
    planned = [r for r in touchpoints if r["role"] == "planned"]
    if not planned:
        return {}
    gaps = [(round(_score(a) - _score(b), 9), i) for i, (a, b) in enumerate(itertools.pairwise(planned))]
    cuts = sorted(i for gap, i in sorted(gaps, key=lambda g: (-g[0], g[1]))[: max_stages - 1] if gap >= 0.05)
    stage_of, stage = {}, 0
    for i, row in enumerate(planned):
        stage_of[row["touchpoint"]] = stage
        if i in cuts:
            stage += 1
    return stage_of


def _stage_names(touchpoints: list[dict[str, Any]], stage_of: dict[str, int]) -> list[str]:
    """Each stage is named after its most common touchpoint (people rename them)."""
    best: dict[int, dict[str, Any]] = {}
    for row in touchpoints:
        index = stage_of.get(row["touchpoint"])
        if index is not None and (index not in best or row["journeys"] > best[index]["journeys"]):
            best[index] = row
    return [str(best[i]["touchpoint"]) for i in range(len(best))]


def _stage_timing(
    store: Store, log: ir.Table, stage_of: dict[str, int], names: list[str], total: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per stage: journeys, share, p80 and median time in stage; and the stage transitions."""
    lookup = ibis.memtable(
        pa.table({"_tp": list(stage_of), "_stage": pa.array(list(stage_of.values()), pa.int64())})
    )
    events = log.join(lookup, log.touchpoint == lookup._tp)
    visits = events.group_by(["journey_id", "_stage"]).agg(
        first_step=events.step.min(), first_time=events.timestamp.min(), last_time=events.timestamp.max()
    )
    by_journey = ibis.window(group_by=visits.journey_id, order_by=[visits.first_step, visits._stage])
    until = visits.first_time.lead().over(by_journey).coalesce(visits.last_time)
    visits = visits.mutate(
        _next=visits._stage.lead().over(by_journey),
        _seconds=until.delta(visits.first_time, unit="microsecond").cast("float64") / 1e6,
    )
    per_stage = visits.group_by("_stage").agg(
        journeys=visits.count().cast("int64"),
        p80_s=visits._seconds.quantile(TIME_PERCENTILE).cast("float64"),
        median_s=visits._seconds.median().cast("float64"),
    )
    moves = visits.group_by(["_stage", "_next"]).agg(journeys=visits.journey_id.nunique().cast("int64"))
    stages = []
    for row in sorted(store.execute(per_stage).to_pylist(), key=lambda r: r["_stage"]):
        index = int(row["_stage"])
        stages.append(
            {
                "stage": names[index],
                "touchpoints": [tp for tp, i in stage_of.items() if i == index],
                "journeys": row["journeys"],
                "share": row["journeys"] / total,
                "p80_s": _finite(row["p80_s"]),
                "median_s": _finite(row["median_s"]),
            }
        )
    transitions = [
        {
            "source": names[int(r["_stage"])],
            "target": None if r["_next"] is None else names[int(r["_next"])],
            "journeys": r["journeys"],
            "share": r["journeys"] / total,
        }
        for r in store.execute(moves).to_pylist()
    ]
    transitions.sort(key=lambda t: (-t["journeys"], t["source"], t["target"] or ""))
    return stages, transitions


def _finite(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else float(value)
