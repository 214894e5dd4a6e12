"""Terminal view of ``journeylens agents``: raw and case-mix adjusted FCR side by side."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from journeylens.cli._output import OutputFormat, render
from journeylens.cli._views import _dim, _num, _pct, _readable, _with_ci

if TYPE_CHECKING:
    from journeylens.workforce.agents import AgentsResult


def agents_view(result: AgentsResult, spec: Any, *, wide: bool = False) -> None:
    """FCR raw [95% CI] beside O/E and the adjusted rates; repeats, transfers and scores."""
    ctx = result.context
    rows = []
    for r in result.records():
        rows.append({
            ctx["by"]: r["unit"], "journeys": f"{r['journeys']:,}",
            "fcr": _with_ci(r["fcr"], r["fcr_lo"], r["fcr_hi"], _pct),
            "o/e": _with_ci(r["oe"], r["oe_lo"], r["oe_hi"], _num),
            "adjusted": _pct(r["adjusted"]), "eb": _pct(r["eb_rate"]), "funnel": r["funnel"] or "",
            "repeat": _pct(r["repeat"]), "transfer": _pct(r["transferred"]),
            "next ok": _pct(r["next_success"]),
            "csat": f"{_pct(r['csat'])} /{r['csat_n']}", "nps": f"{_num(r['nps'])} /{r['nps_n']}",
            "handle": _num(r["handle_s"]),
        })  # fmt: skip
    render(
        _readable(rows, f"{ctx['by']}s", wide), OutputFormat.table,
        title="first-contact resolution: raw [95% CI], observed/expected [95% CI], adjusted and EB rates",
        extra=("next ok", "csat", "nps", "handle"), wide=wide,
    )  # fmt: skip
    _dim(
        f"{ctx['journeys']:,} journeys with a contact, each counted for its first agent; population FCR "
        f"{_pct(ctx['population_fcr'])}. Case mix: {', '.join(ctx['case_mix'])}. adjusted = O/E x the "
        "population FCR; eb = empirical-Bayes rate at the population's case mix; funnel: position against "
        "the 95% / 99.8% control limits (Spiegelhalter 2005). Associations, not causes."
    )
    _dim(
        f"Unknown agents (not in the agents table; kept and counted): {ctx['unknown_agent_journeys']:,} "
        f"journeys, {ctx['unknown_agent_feedback']:,} feedback answers, "
        f"{ctx['unknown_agent_employee_feedback']:,} employee_feedback rows."
    )
    for key, label in (("engagement", "per engagement point (within teams)"), ("training", "after training")):
        link = ctx[key]
        value = link.get("slope" if key == "engagement" else "effect")
        if value is None:
            _dim(f"{key}: not estimated: {link.get('reason')}.")
        else:
            _dim(
                f"{key}: adjusted FCR {_with_ci(value, link['lo'], link['hi'], _pct, signed=True)} "
                f"{label} (95% CI; associated with, not caused by)."
            )
