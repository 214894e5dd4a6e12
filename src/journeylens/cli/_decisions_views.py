"""Terminal views of the decision analyses (``journeylens drivers``, ...): one compact block per
command."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from journeylens.cli._output import OutputFormat, render
from journeylens.cli._views import _dim, _num, _readable

if TYPE_CHECKING:
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
