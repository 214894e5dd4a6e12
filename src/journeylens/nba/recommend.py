"""``journeylens nba``: the next best actions for customers in open journeys, with their reasons.

An open journey's state is its journey type and last touchpoint (``support|track_order``, the
form ``decisions.state`` uses), with its last channel and the customer's segment. Each action of
the catalogue (``nba.catalogue``) is ranked for a state by its estimated effect on the journey's
success:

- from logged decisions, when the state has them (``source = decisions``): the action's doubly
  robust value and its DR uplift over the baseline action, with 95% intervals
  (``nba.evaluation``), and the T-learner's uplift for the customer's segment (``nba.uplift``);
- otherwise from journey transitions (``source = transitions``): of the closed journeys in this
  state, those that went next to the action's touchpoint, their success rate (Wilson interval)
  and the difference with the others of the state (Newcombe interval). An association: customers
  chose their next step, nobody randomised it.

Actions with less evidence than ``min_evidence`` are ranked last and say so. The per-state
ranking is small and built in Python; open journeys are scored in the engine by joining it, so
scoring a million open journeys is one query.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from journeylens.config import CONFIG_FILE
from journeylens.discovery._result import TableResult
from journeylens.discovery._stats import Proportion, compare_proportions
from journeylens.nba import power, transitions
from journeylens.nba.catalogue import Action, NbaSettings, check_touchpoints, load_actions
from journeylens.nba.offline import Offline, offline
from journeylens.specs.nba import NbaSpec
from journeylens.store import Store

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from journeylens.workspace import Workspace

SEP = "|"
MODEL_COLUMNS = ("model_uplift", "model_uplift_lo", "model_uplift_hi")
RANK_COLUMNS = (
    "journey_type", "touchpoint", "action", "target", "target_channel", "cost", "source", "evidence",
    "successes", "rate", "rate_lo", "rate_hi", "uplift", "uplift_lo", "uplift_hi", "rank", "evidence_reason",
)  # fmt: skip


@dataclass(frozen=True)
class NbaResult(TableResult):
    """One row per open journey and recommended action (best first); ``context`` holds the
    per-state rankings (``states``), the offline evaluation, exclusions and a proposed experiment."""

    JSON_FIELDS: ClassVar[tuple[str, ...]] = (
        "open_journeys, scored, without_evidence, baseline, catalogue (name, touchpoint, channel, cost)",
        "states (records: journey_type, touchpoint, action, target, target_channel, cost, source, evidence, "
        "successes, rate, rate_lo, rate_hi, uplift, uplift_lo, uplift_hi, rank, evidence_reason)",
        "offline (decisions, excluded, reason, policy, policy_source, candidate, exploration, actions)",
        "proposal (experiment design, or null)",
        "rows (records: journey_id, customer_id, state, journey_type, touchpoint, channel, segment, rank, "
        "action, target, target_channel, cost, source, evidence, successes, rate, rate_lo, rate_hi, "
        "uplift, uplift_lo, uplift_hi, model_uplift, model_uplift_lo, model_uplift_hi, reason)",
    )

    context: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**self.context, "rows": self.records()}

    def plot(self) -> go.Figure:
        """Per state, each action's uplift over the alternatives with its 95% interval."""
        import plotly.graph_objects as go

        rows = [r for r in self.context["states"] if r["uplift"] is not None]
        labels = [f"{r['journey_type']}{SEP}{r['touchpoint']}: {r['action']}" for r in rows]
        fig = go.Figure(
            go.Bar(
                x=[r["uplift"] for r in rows], y=labels, orientation="h",
                error_x={"type": "data", "symmetric": False,
                         "array": [r["uplift_hi"] - r["uplift"] for r in rows],
                         "arrayminus": [r["uplift"] - r["uplift_lo"] for r in rows]},
            )
        )  # fmt: skip
        fig.update_layout(title="Next best actions: expected uplift on journey success [95% CI]",
                          xaxis_title="uplift (success rate points)")  # fmt: skip
        return fig


def nba(ws: Workspace, spec: NbaSpec | None = None) -> NbaResult:
    """Recommendations for open journeys (module doc), with the workspace's ``[nba]`` catalogue.

    Example:
        >>> ws.nba(customer="u000042").records()[0]["action"]  # doctest: +SKIP
    """
    spec = spec or NbaSpec()
    settings = load_actions(Path(spec.actions)) if spec.actions else ws.config.nba
    return recommend(ws.store, settings, spec, Path(spec.actions) if spec.actions else ws.root / CONFIG_FILE)


def recommend(store: Store, settings: NbaSettings, spec: NbaSpec, source: Path | None = None) -> NbaResult:
    """:func:`nba` with an explicit catalogue (``source``: the file it came from, for errors)."""
    known = store.execute(store.table("events").select("touchpoint").distinct())
    check_touchpoints(settings, known.column("touchpoint").to_pylist(), source)
    evaluated = offline(store, settings.baseline, spec.policy)
    catalogue = _catalogue(settings, evaluated)
    counts = store.execute(transitions.transition_counts(store, spec.filter)).to_pylist()
    ranking = rank_states(counts, catalogue, evaluated, settings.baseline, spec.min_evidence)
    states = transitions.open_states(store, spec.filter, spec.segment_trait)
    if spec.journey:
        states = states.filter(states.journey_id == spec.journey)
    if spec.customer:
        states = transitions.customer_journeys(store, states, spec.customer)
    rows = store.execute(score(states, ranking, _model_uplift(store, evaluated, settings.baseline), spec.top))
    open_count = int(store.execute(states.count()).as_py())
    scored = len(set(rows.filter(pc.is_valid(rows.column("action"))).column("journey_id").to_pylist()))
    context = {
        "open_journeys": open_count, "scored": scored, "without_evidence": open_count - scored,
        "baseline": settings.baseline, "catalogue": [a.model_dump() for a in catalogue],
        "states": ranking, "offline": evaluated.to_dict(),
        "proposal": _proposal(spec, ranking, evaluated, settings.baseline, counts, _days(store)),
    }  # fmt: skip
    return NbaResult(rows, context=context)


def nba_for_store(store: Store) -> NbaResult:
    """The report's view: no workspace configuration, so the catalogue is the logged actions."""
    return recommend(store, NbaSettings(), NbaSpec())


def _catalogue(settings: NbaSettings, evaluated: Offline) -> list[Action]:
    """The configured actions; without any, the actions the decisions log (no touchpoints)."""
    if settings.actions:
        return list(settings.actions)
    logged = sorted({r["action"] for r in evaluated.actions})
    return [Action(name=a) for a in logged if a != settings.baseline]


def rank_states(
    counts: list[dict[str, Any]],
    catalogue: list[Action],
    evaluated: Offline,
    baseline: str,
    min_evidence: int,
) -> list[dict[str, Any]]:
    """Per state (journey type, touchpoint), every catalogue action with its evidence, ranked."""
    totals = {
        (r["journey_type"], r["touchpoint"]): r for r in counts if r["next_touchpoint"] == transitions.ANY
    }
    moves = {(r["journey_type"], r["touchpoint"], r["next_touchpoint"]): r for r in counts}
    decided = {
        tuple(s.split(SEP, 1)) for s in (evaluated.cells.states if evaluated.cells else []) if SEP in s
    }
    out: list[dict[str, Any]] = []
    for key in sorted(set(totals) | decided):
        found = (_evidence(key, a, totals, moves, evaluated) for a in catalogue if a.name != baseline)
        rows = [r for r in found if r is not None and r["evidence"] > 0]
        rows.sort(
            key=lambda r: (r["evidence"] < min_evidence, -(r["uplift"] if r["uplift"] is not None else -9))
        )
        for rank, r in enumerate(rows, start=1):
            r["rank"] = rank
            if r["evidence"] < min_evidence:
                r["evidence_reason"] += f"; fewer than min_evidence = {min_evidence}: ranked last"
        out.extend(rows)
    return out


def _evidence(
    key: tuple[str, ...], action: Action, totals: dict[Any, Any], moves: dict[Any, Any], evaluated: Offline
) -> dict[str, Any] | None:
    journey_type, touchpoint = key
    base = {"journey_type": journey_type, "touchpoint": touchpoint, "action": action.name,
            "target": action.touchpoint, "target_channel": action.channel, "cost": action.cost}  # fmt: skip
    logged = evaluated.uplift(f"{journey_type}{SEP}{touchpoint}", action.name)
    if logged is not None and logged["dr"] is not None:
        n = int(logged["decisions"])
        return base | {
            "source": "decisions", "evidence": int(logged["matched"]), "successes": None,
            "rate": logged["dr"], "rate_lo": logged["dr_lo"], "rate_hi": logged["dr_hi"],
            "uplift": logged["uplift"], "uplift_lo": logged["uplift_lo"], "uplift_hi": logged["uplift_hi"],
            "evidence_reason": f"{logged['matched']:,} of {n:,} logged decisions in this state took it "
            f"(effective sample size {logged['ess'] or 0:,.0f}); value and uplift over the baseline are "
            "doubly robust estimates",
        }  # fmt: skip
    total = totals.get(key)
    if action.touchpoint is None or total is None:
        return None
    move = moves.get((journey_type, touchpoint, action.touchpoint), {"journeys": 0, "successes": 0})
    took = Proportion(int(move["successes"]), int(move["journeys"]))
    others = Proportion(int(total["successes"]) - took.successes, int(total["journeys"]) - took.trials)
    lo, hi = took.interval()
    test = compare_proportions(took, others)
    rest = f"{others.rate:.0%} of the other {others.trials:,}" if others.trials else "no other journey"
    return base | {
        "source": "transitions", "evidence": took.trials, "successes": took.successes, "rate": took.rate,
        "rate_lo": lo, "rate_hi": hi,
        "uplift": test.diff, "uplift_lo": test.diff_lo, "uplift_hi": test.diff_hi,
        "evidence_reason": (
            f"{took.trials:,} closed journeys in this state went next to {action.touchpoint}; "
            f"{took.rate:.0%} succeeded vs {rest} (an association, not randomised)"
            if took.trials else f"no closed journey in this state went next to {action.touchpoint}"
        ),
    }  # fmt: skip


def _model_uplift(store: Store, evaluated: Offline, baseline: str) -> pa.Table | None:
    """T-learner uplift per (state, segment, action), where decisions exist, with its 95% bootstrap
    interval (``nba.uplift``)."""
    if evaluated.cells is None:
        return None
    from journeylens.nba.uplift import fit_t_learner

    model = fit_t_learner(store, transitions.decision_segments(store))
    if model is None:
        return None
    from journeylens.nba.uplift import percentiles

    rows: dict[str, list[Any]] = {"state": [], "segment": [], "action": [], **{n: [] for n in MODEL_COLUMNS}}
    grid = [(s, g) for s in model.states for g in model.segments]
    states, segments = [s for s, _ in grid], [g for _, g in grid]
    base = model.draws(baseline, states, segments)  # once: every action is compared with it
    for action in model.models:
        uplift = model.uplift(action, baseline, states, segments)
        mine = model.draws(action, states, segments)
        if uplift is None or base is None or mine is None or action == baseline:
            continue
        lo, hi = percentiles(mine - base)
        for i, (state, segment) in enumerate(grid):
            values = (state, segment, action, float(uplift[i]), float(lo[i]), float(hi[i]))
            for column, item in zip(rows, values, strict=True):
                rows[column].append(item)
    schema = [("state", pa.string()), ("segment", pa.string()), ("action", pa.string())]
    return pa.table(rows, schema=pa.schema([*schema, *[(n, pa.float64()) for n in MODEL_COLUMNS]]))


def score(states: ir.Table, ranking: list[dict[str, Any]], model: pa.Table | None, top: int) -> ir.Table:
    """Open journeys joined to their state's ranked actions (the best ``top``), in the engine."""
    ranked = ibis.memtable(pa.Table.from_pylist(ranking, schema=_rank_schema()))
    ranked = ranked.filter(ranked["rank"] <= top)
    t = states.mutate(state=states.journey_type.concat(SEP, states.touchpoint.fill_null("")))
    joined = t.left_join(ranked, [t.journey_type == ranked.journey_type, t.touchpoint == ranked.touchpoint])
    joined = joined.select(*t.columns, *[c for c in RANK_COLUMNS if c not in ("journey_type", "touchpoint")])
    if model is not None and model.num_rows:
        m = ibis.memtable(model)
        joined = joined.left_join(m, ["state", "segment", "action"]).select(*joined.columns, *MODEL_COLUMNS)
    else:
        joined = joined.mutate(**dict.fromkeys(MODEL_COLUMNS, ibis.null("float64")))
    reason = ibis.cases(
        (joined.action.isnull(), "state " + joined.state + ": no catalogue action has evidence here"),
        else_="state " + joined.state + " (segment " + joined.segment + ", last channel "
        + joined.channel.fill_null("?") + "): " + joined.evidence_reason,
    )  # fmt: skip
    out = joined.mutate(reason=reason).drop("evidence_reason", "start", "end")
    return out.order_by(["journey_id", out["rank"]])


def _rank_schema() -> pa.Schema:
    text = ("journey_type", "touchpoint", "action", "target", "target_channel", "source", "evidence_reason")
    ints = ("evidence", "successes", "rank")
    return pa.schema(
        [(c, pa.string() if c in text else pa.int64() if c in ints else pa.float64()) for c in RANK_COLUMNS]
    )


def _proposal(
    spec: NbaSpec,
    ranking: list[dict[str, Any]],
    evaluated: Offline,
    baseline: str,
    counts: list[dict[str, Any]],
    days: float | None,
) -> dict[str, Any] | None:
    if spec.propose is None:
        return None
    from journeylens.errors import InputError

    rows = [r for r in ranking if r["action"] == spec.propose and r["uplift"] is not None]
    if not rows:
        names = sorted({r["action"] for r in ranking})
        raise InputError.unknown_choice("--propose (an action with evidence)", spec.propose, names)
    best = max(rows, key=lambda r: r["uplift"])
    state = f"{best['journey_type']}{SEP}{best['touchpoint']}"
    if best["source"] == "decisions":
        base_row = evaluated.uplift(state, baseline)
        base_rate = base_row["dr"] if base_row else best["rate"] - best["uplift"]
    else:
        base_rate = best["rate"] - best["uplift"]
    base_rate = min(max(float(base_rate), 0.01), 0.99)
    mde, source = (
        (spec.mde, "given")
        if spec.mde
        else (max(float(best["uplift"]), 0.01), "estimated uplift (at least 0.01)")
    )
    total = next((r for r in counts if (r["journey_type"], r["touchpoint"], r["next_touchpoint"])
                  == (best["journey_type"], best["touchpoint"], transitions.ANY)), None)  # fmt: skip
    per_day = None if total is None or not days else total["journeys"] / days
    return power.propose(spec.propose, baseline, [state], base_rate, mde, source, per_day).to_dict()


def _days(store: Store) -> float | None:
    """Days between the first and the last journey start (the period the counts cover)."""
    from journeylens.journeys.build import require_journeys

    j = require_journeys(store)
    span = store.execute(j.aggregate(first=j.start.min(), last=j.start.max())).to_pylist()[0]
    if span["first"] is None:
        return None
    return max((span["last"] - span["first"]).total_seconds() / 86_400, 1.0)
