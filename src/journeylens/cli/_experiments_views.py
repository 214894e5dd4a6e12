"""Terminal view of ``journeylens experiment``: the lift of every metric against the baseline,
with the SRM warning in front when the split is off (as GrowthBook puts it); with ``--funnel`` /
``--maps`` the per-variant funnel and process-map differences, and always the downstream
(contact-centre) metrics in one line."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.text import Text

from journeylens.cli._output import OutputFormat, err_console, render
from journeylens.cli._views import _dim, _num, _pct, _readable, _with_ci
from journeylens.experiments.units import NO_GROUP

if TYPE_CHECKING:
    from journeylens.experiments.experiment import ExperimentResult


def _show(row: dict[str, Any], relative: bool) -> Any:
    return _pct if relative or row["kind"] != "mean" else _num


def _p(value: float | None) -> str:
    if value is None:
        return "-"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def experiment_view(result: ExperimentResult, spec: Any, *, wide: bool = False) -> None:
    """Per metric and variant: baseline and variant values, lift [interval], p (adjusted) or chance to win."""
    ctx = result.context
    if ctx["srm_warning"]:
        err_console.print(Text.assemble(("Warning: ", "bold red"), ctx["srm_warning"]), soft_wrap=True)
    for empty in ctx["empty_variants"]:
        err_console.print(
            Text.assemble(("Warning: ", "bold yellow"), f"variant {empty!r} has no units after exclusions."),
            soft_wrap=True,
        )
    relative = ctx["difference"] == "relative"
    bayes = ctx["engine"] == "bayesian"
    rows = []
    for r in result.records():
        show = _show(r, relative)
        value = _pct if r["kind"] != "mean" else _num
        row = {"group": r["group"], "metric": r["metric"] + (" (guardrail)" if r["guardrail"] else ""),
               "variant": r["variant"], "baseline": value(r["baseline_value"]),
               "value": value(r["variant_value"]),
               "lift": _with_ci(r["estimate"], r["lo"], r["hi"], show, signed=True)}  # fmt: skip
        if bayes:
            row["chance to win"] = _pct(r["chance_to_win"])
        else:
            row["p"], row["p adj."] = _p(r["p_value"]), _p(r["p_adjusted"])
        row["units"] = f"{r['n_baseline']:,} / {r['n_variant']:,}"
        if ctx["by"] is None:
            row.pop("group")
        rows.append(row)
    level = f"{(1 - ctx['alpha']) * 100:.0f}%"
    render(
        _readable(rows, "comparisons", wide), OutputFormat.table,
        title=f"{ctx['name']}: {ctx['difference']} lift against {ctx['baseline']} [{level} interval], "
        f"{ctx['engine']}", extra=("units",), wide=wide,
    )  # fmt: skip
    split = ", ".join(f"{v['variant']} {v['units']:,}" for v in ctx["variants"])
    none = sum(v["no_journey_units"] for v in ctx["variants"])
    _dim(
        f"Units (customers) per variant: {split}; SRM p = {ctx['srm_p']:.3g}. Excluded: "
        f"{ctx['excluded']['multiple_variants']:,} assigned to two variants, {ctx['excluded']['unmapped']:,} "
        f"in no customer. {none:,} units have no journey after exposure (kept, with zeros)."
    )
    _dim(
        f"Only journeys starting at or after exposure count. Corrections: {ctx['correction']} across the "
        f"goal metrics and variants{'' if ctx['by'] is None else ' within each group'} "
        "(guardrails excluded). "
        f"CUPED {'on' if ctx['cuped'] else 'off'} (means and proportions, pre-exposure window "
        f"{ctx['pre_days']} days)."
    )
    for r in result.records():
        if r["reason"]:
            where = "" if r["group"] == NO_GROUP else f" [{r['group']}]"
            _dim(f"{escape(r['metric'])} {escape(r['variant'])}{escape(where)}: not tested: {r['reason']}.")
    _downstream(ctx)
    if ctx.get("funnel"):
        _funnel(ctx, wide)
    if ctx.get("maps"):
        _maps(ctx, wide)


def _downstream(ctx: dict[str, Any]) -> None:
    rows = ctx.get("downstream") or []
    if not rows:
        return
    said = [
        f"{r['metric']} {r['variant']} "
        + _with_ci(r["estimate"], r["lo"], r["hi"], _pct if r["kind"] != "mean" else _num, signed=True)
        + ("" if r["p_value"] is None else f" (p {_p(r['p_value'])})")
        for r in rows
    ]
    _dim(f"Downstream (contact centre), against {ctx['baseline']}: {'; '.join(said)}.")


def _test_cells(r: dict[str, Any]) -> dict[str, str]:
    return {
        "difference": _with_ci(r["difference"], r["difference_lo"], r["difference_hi"], _pct, signed=True),
        "p": _p(r["p_value"]), "q (BH)": _p(r["q_value"]),
    }  # fmt: skip


def _funnel(ctx: dict[str, Any], wide: bool) -> None:
    """One row per step and variant: conversion from step 1 [interval] over its denominator, and
    for the other variants the difference against the baseline with its test."""
    out = []
    for r in ctx["funnel"]["steps"]:
        share = _with_ci(r["conversion"], r["conversion_lo"], r["conversion_hi"], _pct)
        row = {"step": f"{r['step']}. {r['step_name']}", "variant": r["variant"],
               "customers": f"{r['units']:,}", "from step 1": f"{share} of {r['first_units']:,}"}  # fmt: skip
        row |= _test_cells(r) if "p_value" in r else {"difference": "", "p": "", "q (BH)": ""}
        out.append(row)
    render(
        _readable(out, "funnel steps", wide), OutputFormat.table, wide=wide,
        title=f"Funnel per variant (customers, journeys after exposure; window {ctx['funnel']['window']}), "
        f"against {ctx['baseline']}",
    )  # fmt: skip
    for r in ctx["funnel"]["steps"]:
        if r.get("reason"):
            _dim(f"step {r['step']} {escape(r['variant'])}: not tested: {r['reason']}.")


def _maps(ctx: dict[str, Any], wide: bool) -> None:
    """The transitions whose share of journeys differs most from the baseline's."""
    maps = ctx["maps"]
    out = [
        {"variant": r["variant"], "transition": f"{r['source']} → {r['target']}",
         "baseline share": f"{_pct(r['baseline_share'])} ({r['baseline_journeys']:,})",
         "share": f"{_pct(r['share'])} ({r['journeys']:,})"} | _test_cells(r)
        for r in maps["transitions"]
    ]  # fmt: skip
    render(
        _readable(out, "transitions", wide), OutputFormat.table, wide=wide,
        title=f"Process map per variant ({maps['key']}): the transitions whose share of journeys differs "
        f"most from {ctx['baseline']}",
    )  # fmt: skip
    sizes = ", ".join(f"{v} {n:,}" for v, n in maps["journeys"].items())
    _dim(f"Journeys after exposure per variant: {sizes}. Share: journeys with the transition at least once.")
