"""Terminal views of the decision analyses (``journeylens causes``, ``journeylens drivers``,
``journeylens attribution``, ...): one compact block per command."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from journeylens.cli._output import OutputFormat, render
from journeylens.cli._views import _dim, _num, _pct, _readable, _with_ci

if TYPE_CHECKING:
    from journeylens.decisions.attribution import AttributionResult
    from journeylens.decisions.backlog import BacklogResult
    from journeylens.decisions.causes import CausesResult
    from journeylens.decisions.drivers import DriversResult


# --- drivers -------------------------------------------------------------------------------------


def _share(value: float | None, lo: float | None, hi: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}%" if lo is None or hi is None else f"{value:.1f}% [{lo:.1f}–{hi:.1f}]"


def drivers(result: DriversResult, spec: Any, *, wide: bool = False) -> None:
    """Drivers by share of R² with intervals, direction, support and the target with/without."""
    ctx = result.context
    if ctx["reason"]:
        _dim(f"Key drivers of {ctx['target']} are not defined: {ctx['reason']}.")
        return
    rows = [
        {
            **({"segment": r["segment"]} if len(ctx["segments"]) > 1 else {}),
            "driver": r["feature"], "share of R²": _share(r["share"], r["share_lo"], r["share_hi"]),
            "direction": r["direction"] or "-", "journeys": f"{r['support']:,}",
            "with": _num(r["target_with"]), "without": _num(r["target_without"]),
            "lmg": _share(r["lmg_share"], None, None), "beta": _num(r["beta"], signed=True),
        }
        for r in result.records()
    ]  # fmt: skip
    r2 = f"R² {ctx['r2']:.3f}" + (
        f" [{ctx['r2_lo']:.3f}–{ctx['r2_hi']:.3f}]" if ctx["r2_lo"] is not None else ""
    )
    render(
        _readable(rows, "drivers", wide), OutputFormat.table,
        title=f"key drivers of {ctx['target']}: share of explained variance ({r2}), 95% bootstrap interval",
        extra=("lmg", "beta"), wide=wide,
    )  # fmt: skip
    _dim(
        f"{ctx['journeys']:,} journeys of {ctx['selected']:,} selected ({ctx['excluded']:,} left out: "
        f"{ctx['excluded_reason']}); {ctx['patterns']:,} distinct feature patterns; {ctx['bootstrap']} "
        f"bootstrap replicates (seed {ctx['seed']}). Shares: Johnson's relative weights"
        + (f"; {ctx['lmg_reason']}." if ctx["lmg_reason"] else "; lmg: exact Shapley/LMG share.")
    )
    for s in ctx["segments"]:
        if s["reason"]:
            _dim(f"Segment {s['segment']}: not decomposed: {s['reason']}.")
    if ctx["dropped"]:
        _dim(
            f"{len(ctx['dropped'])} candidate features left out (too rare, too common or duplicates); "
            "--format json lists them."
        )
    _dim(ctx["note"])


# --- attribution ---------------------------------------------------------------------------------


def attribution_view(result: AttributionResult, spec: Any, *, wide: bool = False) -> None:
    """Conversions credited per step, one column per model, with the totals and conventions."""
    from journeylens.decisions.attribution import ranked_steps

    ctx = result.context
    models = ctx["models"]
    credits = {m: result.credit(m) for m in models}
    shares = {m: result.credit(m, "conversions_share") for m in models}
    rows = [
        {
            ctx["by"]: step,
            **{m: f"{_num(credits[m][step])} ({_pct(shares[m][step], digits=0)})" for m in models},
        }
        for step in ranked_steps(result.records())
    ]
    render(
        _readable(rows, f"{ctx['by']}s", wide), OutputFormat.table,
        title="conversions credited (share of all conversions) per model",
        extra=tuple(m for m in models if m not in ("first", "last", "markov", "shapley")), wide=wide,
    )  # fmt: skip
    where = ctx["source"] if ctx["source"] != "journeys" else f"journeys ({ctx['filter']})"
    _dim(
        f"{where}: {ctx['paths']:,} distinct paths, {ctx['total_conversions']:,.0f} conversions worth "
        f"{ctx['total_value']:,.2f}, {ctx['total_nulls']:,.0f} without conversion"
        + (f"; outcome {ctx['outcome']!r} is the conversion" if ctx["outcome"] else "")
        + (
            f"; {ctx['undecided_journeys']:,} open or unknown journeys left out."
            if ctx.get("undecided_journeys")
            else "."
        )
    )
    if "markov" in ctx:
        chain = ctx["markov"]
        _dim(
            f"markov: order {chain['order']}, {chain['states']:,} states, P(conversion) "
            f"{_pct(chain['conversion_probability'])}; removal effects solved exactly (sparse LU)."
        )
    if "time_decay" in ctx:
        _dim(f"time_decay: half-life {ctx['time_decay']['half_life']}, {ctx['time_decay']['note']}.")
    _dim(ctx["repeats"] + " Associations, not causes; --format json has the value credits.")


# --- backlog -------------------------------------------------------------------------------------


def _money(value: float | None, lo: float | None, hi: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if lo is None or hi is None else f"{value:,.0f} [{lo:,.0f}–{hi:,.0f}]"


def backlog_view(result: BacklogResult, spec: Any, *, wide: bool = False) -> None:
    """Opportunities ranked by money per year (or per effort day), with owner and confidence."""
    ctx = result.context
    rows = [
        {
            "#": r["rank"], "opportunity": r["subject"], "kind": r["kinds"],
            "money / year [95%]": _money(r["money"], r["money_lo"], r["money_hi"]),
            "count / year": "-" if r["count"] is None else f"{r['count']:,.0f} {r['count_unit']}",
            "journeys / year": "-" if r["journeys"] is None else f"{r['journeys']:,.0f}",
            "value": _num(r["journey_value"]), "owner": r["owner"] or "-", "confidence": r["confidence"],
            "effort": "-" if r["effort_days"] is None else f"{r['effort_days']:g} d", "status": r["status"],
            "id": r["id"],
        }
        for r in result.records()
    ]  # fmt: skip
    if not rows:
        _dim("No opportunity found by the sources that ran.")
    else:
        render(
            _readable(rows, "opportunities", wide), OutputFormat.table,
            title=f"backlog ranked by {ctx['rank_by']}: money per year associated with each finding",
            extra=("count / year", "value", "effort", "id"), wide=wide,
        )  # fmt: skip
    _proposals(result, wide)
    _dim(f"Per year: x 365 / {ctx['days']:g} days of data. Confidence: {ctx['confidence_rule']}.")
    unpriced = {r["money_reason"] for r in result.records() if r["money"] is None and r["money_reason"]}
    if unpriced:
        _dim("No money for some items: " + "; ".join(sorted(unpriced)) + " (ranked by their count).")
    for s in ctx["sources"]:
        if s["note"]:
            _dim(f"source {s['name']}: {s['note']}.")
    for w in ctx["warnings"]:
        _dim(f"warning: {w['path']}, line {w['line']}: id {w['id']!r} names no opportunity. {w['hint']}")
    _dim("Associated with, not caused by; --format json has each item's evidence and commands.")


def _proposals(result: BacklogResult, wide: bool) -> None:
    """Per item, the proposed experiment: metric, baseline over its denominator, MDE, units, days."""
    designs = [d for d in result.proposed_experiments().values() if d["per_variant"] is not None]
    if not designs:
        return
    rows = [
        {"id": d["id"], "metric": d["metric"],
         "baseline": f"{_pct(d['base_rate'])} of {d['denominator']:,} {d['unit']}s",
         "MDE": _pct(d["mde"], signed=True), "per variant": f"{d['per_variant']:,}",
         "days": f"{d['days']:,.0f}"}
        for d in designs
    ]  # fmt: skip
    render(
        _readable(rows, "proposed experiments", wide), OutputFormat.table, wide=wide,
        title="proposed experiments: 50/50, alpha 0.05, power 0.8, MDE = the item's estimated excess",
    )  # fmt: skip


# --- causes -------------------------------------------------------------------------------------


def causes_view(result: CausesResult, spec: Any, *, wide: bool = False) -> None:
    """The causes first (rate with vs without, difference, adjusted odds ratio, q), then the
    significant candidates the conditional step set aside, with the verdict."""
    ctx = result.context
    if ctx["outcome_rate"] is None:
        _dim(f"{ctx['outcome']} is not defined for these journeys: {ctx['outcome_reason']}.")
        return
    significant = [r for r in result.records() if r["q"] is not None and r["q"] <= ctx["level"]]
    shown = [r for r in significant if r["family"] != "pair" or r["verdict"] == "kept"]
    rows = [
        {
            "feature": r["label"], "journeys": f"{r['journeys_with']:,}",
            "rate with": _with_ci(r["rate_with"], r["rate_with_lo"], r["rate_with_hi"], _pct),
            "without": _pct(r["rate_without"]),
            "verdict": _verdict(r),
            "difference": _with_ci(r["difference"], r["difference_lo"], r["difference_hi"], _pct, True),
            "adjusted OR": _with_ci(r["adjusted_odds_ratio"], r["adjusted_lo"], r["adjusted_hi"], _num),
            "excess": _num(r["excess_journeys"]), "q": f"{r['q']:.2g}",
            "examples": ", ".join(r["examples"]),
        }
        for r in shown
    ]  # fmt: skip
    render(
        _readable(rows, "significant features", wide), OutputFormat.table,
        title=f"features associated with {ctx['outcome']} ({ctx['outcome_journeys']:,} of "
        f"{ctx['journeys']:,} journeys, {_pct(ctx['outcome_rate'])})",
        extra=("difference", "adjusted OR", "excess", "q", "examples"), wide=wide,
    )  # fmt: skip
    _dim(
        f"{ctx['outcome']}: {ctx['definition']}. {ctx['candidates']:,} candidates tested (features with at "
        f"least {ctx['min_support']} journeys with and without; {ctx['unsupported']:,} below that), "
        f"Benjamini-Hochberg q <= {ctx['level']:g}; 'proxy of X': no longer associated once stratified on X "
        "(Cochran-Mantel-Haenszel); adjusted OR: joint logistic regression of the kept features. Excess: "
        "journeys with the feature x the difference. Associated with, not caused by: an experiment shows "
        "what a change does."
    )
    pairs = len(significant) - len(shown)
    if pairs:
        _dim(f"{pairs:,} significant pairs are left out: their parts explain them (no positive interaction).")
    for note in ctx["notes"]:
        _dim(f"Not tested: {note}.")


def _verdict(r: dict[str, Any]) -> str:
    if r["cause"]:
        return "cause"
    return "kept (lowers it)" if r["verdict"] == "kept" else r["verdict"]
