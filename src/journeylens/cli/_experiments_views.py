"""Terminal view of ``journeylens experiment``: the lift of every metric against the baseline,
with the SRM warning in front when the split is off (as GrowthBook puts it)."""

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
