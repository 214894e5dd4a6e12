"""Terminal views of the decisions analyses (``journeylens causes``, ...), one compact block each."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from journeylens.cli._output import OutputFormat, render
from journeylens.cli._views import _dim, _num, _pct, _readable, _with_ci

if TYPE_CHECKING:
    from journeylens.decisions.causes import CausesResult


# --- causes -----------------------------------------------------------------------------------
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
