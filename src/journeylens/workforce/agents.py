"""``journeylens agents``: agents and teams, raw and case-mix adjusted, linked to employee experience.

Per agent (or team), from the journeys they handled first (``workforce.contacts``): contacts
handled, first-contact resolution, repeat contact within ``repeat_days``, transfers, mean handle
time when contacts carry it, CSAT top box and NPS of the answers about them (``feedback_links``),
and the success of the customer's next journey — each rate with its denominator and a 95%
Wilson interval. Beside the raw FCR: the case-mix adjusted one, by indirect standardisation
(O/E, ``workforce.casemix``) with its funnel-plot position, and by empirical-Bayes shrinkage
(``workforce.shrinkage``). The engine aggregates; Python sees one row per agent (and per agent
and case-mix cell for the mixed model). Associations, not causes: agents are not assigned at
random to customers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import ibis.expr.types as ir
import pyarrow as pa

from journeylens.discovery._result import TableResult
from journeylens.discovery._stats import Proportion
from journeylens.specs.agents import AgentsBy, AgentsSpec
from journeylens.store import Store
from journeylens.voc.score_stats import NetPromoter
from journeylens.workforce import casemix, employees, shrinkage
from journeylens.workforce.contacts import (
    SCORE_COLUMNS,
    UNKNOWN_AGENT,
    agent_teams,
    first_contacts,
    handled_contacts,
    scores_by_agent,
)

if TYPE_CHECKING:
    import plotly.graph_objects as go

RATES = ("fcr", "repeat", "transferred", "next_success")


@dataclass(frozen=True)
class AgentsResult(TableResult):
    """One row per agent (or team): raw rates with denominators and intervals, adjusted FCR.

    ``context`` holds the totals, the population FCR, the notes on unknown agents, the fitted
    model (``shrinkage``), and the ``engagement`` and ``training`` links (``workforce.employees``).
    """

    JSON_FIELDS: ClassVar[tuple[str, ...]] = (
        "by, repeat_days, min_contacts, case_mix, journeys, population_fcr, unknown_agent_journeys, "
        "unknown_agent_feedback, unknown_agent_employee_feedback",
        "shrinkage (fixed, sd_team, sd_agent, contacts, teams: each team's effect, or reason)",
        "engagement (slope, lo, hi, se, team_months, cells, or reason)",
        "training (effect, lo, hi, se, trained_change, control_change, groups, or reason)",
        "rows (records: unit, team, journeys, handled, fcr, fcr_n, fcr_lo, fcr_hi, repeat, repeat_n, "
        "repeat_lo, repeat_hi, transferred, transferred_n, transferred_lo, transferred_hi, next_success, "
        "next_success_n, next_success_lo, next_success_hi, handle_s, csat, csat_n, nps, nps_n, "
        "observed, expected, oe, oe_lo, oe_hi, adjusted, adjusted_lo, adjusted_hi, limit95_lo, limit95_hi, "
        "limit998_lo, limit998_hi, funnel, eb_effect, eb_sd, eb_rate, eb_reason, reason)",
    )

    context: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**self.context, "rows": self.records()}

    def plot(self) -> go.Figure:
        """Funnel plot: O/E of FCR against expected resolutions, 95% and 99.8% limits."""
        import plotly.graph_objects as go

        rows = [r for r in self.records() if r["oe"] is not None]
        fig = go.Figure()
        fig.add_scatter(
            x=[r["expected"] for r in rows], y=[r["oe"] for r in rows], mode="markers",
            text=[f"{r['unit']} (n={r['fcr_n']})" for r in rows], name=self.context.get("by", "unit"),
        )  # fmt: skip
        xs = sorted(r["expected"] for r in rows)
        rate = self.context.get("population_fcr") or 0.5
        if xs:
            grid = [xs[0] + (xs[-1] - xs[0]) * i / 60 for i in range(61)]
            for z, name, dash in ((casemix.Z95, "95%", "dash"), (casemix.Z998, "99.8%", "dot")):
                curve = casemix.funnel_curve(1.0 - rate, grid, z)
                for side in (0, 1):
                    fig.add_scatter(
                        x=grid, y=[c[side] for c in curve], mode="lines", name=name,
                        line={"dash": dash, "color": "grey"}, showlegend=side == 0,
                    )  # fmt: skip
        fig.update_layout(
            title="First-contact resolution, case-mix adjusted: observed / expected (funnel plot)",
            xaxis_title="expected first-contact resolutions", yaxis_title="observed / expected",
        )  # fmt: skip
        return fig


def agents(store: Store, spec: AgentsSpec | None = None) -> AgentsResult:
    """Agents or teams with raw and case-mix adjusted outcomes (module doc).

    Example:
        >>> result = agents(ws.store, AgentsSpec(by="team"))  # doctest: +SKIP
        >>> result.records()[0]["fcr"], result.records()[0]["adjusted"]  # doctest: +SKIP
    """
    spec = spec or AgentsSpec()
    rows = first_contacts(store, spec).cache()  # read by every aggregate below
    # Known agents' contacts with their expected FCR: the mixed model, engagement and training.
    known = casemix.with_expected(rows.filter(rows.known_agent), "fcr", spec.case_mix)
    answers = employees.employee_answers(store)
    linked = "feedback_links" in store.backend.list_tables()
    unit = "agent_id" if spec.by is AgentsBy.agent else "team"
    raw = _raw(store, rows, unit, linked)
    oe = {
        r[unit]: r
        for r in store.execute(casemix.observed_expected(rows, "fcr", spec.case_mix, [unit])).to_pylist()
    }
    total_n = sum(r["n"] for r in oe.values())
    population = sum(r["observed"] for r in oe.values()) / total_n if total_n else None
    effects, model = _effects(store, known, spec)
    records = []
    for r in raw:
        name = str(r[unit])
        records.append(_record(name, r, oe.get(name), effects.get(name), population, spec))
    context = {
        "by": spec.by.value, "repeat_days": spec.repeat_days, "min_contacts": spec.min_contacts,
        "case_mix": spec.case_mix, "journeys": sum(r["journeys"] for r in raw), "population_fcr": population,
        **_unknown_agents(store, rows, answers, linked), "shrinkage": model,
        "engagement": employees.engagement_link(store, answers, known),
        "training": employees.training_link(store, answers, known),
    }  # fmt: skip
    return AgentsResult(pa.Table.from_pylist(records), context=context)


def _raw(store: Store, rows: ir.Table, unit: str, linked: bool) -> list[dict[str, Any]]:
    aggs: dict[str, ir.Value] = {"journeys": rows.count(), "handle_s": rows.handle_s.mean()}
    if unit == "agent_id":
        aggs["team"] = rows.team.max()
    for rate in RATES:
        aggs[f"{rate}_n"] = rows[rate].count()
        aggs[f"{rate}_k"] = rows[rate].sum()
    t = rows.group_by(unit).agg(**aggs)
    handled = handled_contacts(store)
    scores = scores_by_agent(store, linked)
    if unit == "team":
        keyed = rows.select("agent_id", "team").distinct()
        handled = handled.join(keyed, "agent_id")
        handled = handled.group_by("team").agg(handled=handled.handled.sum())
        scores = scores.join(keyed, "agent_id")
        scores = scores.group_by("team").agg(**{c: scores[c].sum() for c in SCORE_COLUMNS})
    t = t.left_join(handled, unit).drop(f"{unit}_right").left_join(scores, unit).drop(f"{unit}_right")
    return store.execute(t.order_by(unit)).to_pylist()


def _effects(
    store: Store, known: ir.Table, spec: AgentsSpec
) -> tuple[dict[str, tuple[float, float]], dict[str, Any]]:
    """The mixed model's agent (or team) effects from ``known`` (known agents' first contacts with
    their expected FCR), or why there are none."""
    if spec.no_shrinkage:
        return {}, {"reason": "not asked (--no-shrinkage)"}
    table = store.execute(casemix.counts_by_cell(known, "fcr", ["agent_id", "team"]))
    if table.num_rows == 0 or len(set(table.column("agent_id").to_pylist())) < 2:
        return {}, {"reason": "fewer than two known agents with first contacts"}
    cells = shrinkage.CellCounts(
        agent=table.column("agent_id").to_pylist(),
        team=table.column("team").to_pylist(),
        rate=table.column(casemix.CELL).to_numpy(),
        trials=table.column("trials").to_numpy(),
        successes=table.column("successes").to_numpy(),
    )
    fitted = shrinkage.fit_effects(cells)
    model = {
        "fixed": list(fitted.fixed), "sd_team": fitted.sd_team, "sd_agent": fitted.sd_agent,
        "contacts": fitted.contacts, "teams": {t: e for t, (e, _) in fitted.team.items()},
    }  # fmt: skip
    return (fitted.agent if spec.by is AgentsBy.agent else fitted.team), model


def _record(
    name: str,
    r: dict[str, Any],
    oe: dict[str, Any] | None,
    effect: tuple[float, float] | None,
    population: float | None,
    spec: AgentsSpec,
) -> dict[str, Any]:
    out: dict[str, Any] = {"unit": name, "team": r.get("team", name), "journeys": r["journeys"],
                           "handled": r.get("handled"), "handle_s": r["handle_s"]}  # fmt: skip
    for rate in RATES:
        p = Proportion(int(r[f"{rate}_k"] or 0), int(r[f"{rate}_n"] or 0))
        lo, hi = p.interval() if p.trials else (None, None)
        out.update({rate: p.rate, f"{rate}_n": p.trials, f"{rate}_lo": lo, f"{rate}_hi": hi})
    csat = Proportion(int(r.get("csat_top") or 0), int(r.get("csat_n") or 0))
    nps = NetPromoter(
        int(r.get("nps_promoters") or 0), int(r.get("nps_detractors") or 0), int(r.get("nps_n") or 0)
    )
    out.update({"csat": csat.rate, "csat_n": csat.trials,
                "nps": None if nps.value is None else nps.value * 100, "nps_n": nps.answers})  # fmt: skip
    enough = oe is not None and oe["n"] >= spec.min_contacts
    std = casemix.Standardised(oe["n"], oe["observed"], oe["expected"], oe["variance"]) if oe else None
    blank = dict.fromkeys(casemix.Standardised(0, 0, 0, 0).record(None), None)
    out.update(std.record(population) if enough and std else blank)
    if effect is not None and population is not None:
        base = shrinkage.logit(population)
        out.update(
            {"eb_effect": effect[0], "eb_sd": effect[1], "eb_rate": shrinkage.logistic(base + effect[0]),
             "eb_reason": None}
        )  # fmt: skip
    else:
        out.update(
            {
                "eb_effect": None,
                "eb_sd": None,
                "eb_rate": None,
                "eb_reason": _no_effect(name, population, spec),
            }
        )
    out["reason"] = (
        None
        if enough
        else f"{0 if oe is None else oe['n']} first contacts with a decided outcome, fewer than "
        f"min_contacts = {spec.min_contacts}: raw counts only"
    )
    if name == UNKNOWN_AGENT:
        out["reason"] = "agents missing from the agents table: kept and counted, not adjusted"
    return out


def _no_effect(name: str, population: float | None, spec: AgentsSpec) -> str:
    """Why a unit has no empirical-Bayes rate."""
    if name == UNKNOWN_AGENT:
        return "agents missing from the agents table are not in the mixed model"
    if population is None:
        return "no first contact has a decided outcome: there is no rate to shrink towards"
    if spec.no_shrinkage:
        return "--no-shrinkage: the mixed model was not fitted"
    return (
        f"not in the mixed model: fewer than min_contacts = {spec.min_contacts} decided first "
        "contacts, or the model could not be fitted (see the result's note)"
    )


def _unknown_agents(store: Store, rows: ir.Table, answers: ir.Table | None, linked: bool) -> dict[str, int]:
    """Journeys, answers and employee rows whose agent is not in ``agents`` (kept, counted), in
    one query."""
    teams = agent_teams(store)
    counts: dict[str, ir.IntegerScalar] = {"unknown_agent_journeys": rows.filter(~rows.known_agent).count()}
    if linked:
        links = store.backend.table("feedback_links")
        links = links.filter(links.agent_id.notnull())
        counts["unknown_agent_feedback"] = links.anti_join(teams, links.agent_id == teams._aid).count()
    if answers is not None:
        counts["unknown_agent_employee_feedback"] = answers.anti_join(
            teams, answers.agent_id == teams._aid
        ).count()
    tables = [count.name(name).as_table() for name, count in counts.items()]
    joined = tables[0]
    for table in tables[1:]:
        joined = joined.cross_join(table)
    found = {k: int(v) for k, v in store.execute(joined).to_pylist()[0].items()}
    return {"unknown_agent_feedback": 0, "unknown_agent_employee_feedback": 0, **found}
