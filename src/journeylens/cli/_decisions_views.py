"""Terminal views of the decision analyses (issue 16): ``journeylens attribution``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from journeylens.cli._output import OutputFormat, render
from journeylens.cli._views import _dim, _num, _pct, _readable
from journeylens.decisions.attribution import ranked_steps

if TYPE_CHECKING:
    from journeylens.decisions.attribution import AttributionResult


def attribution_view(result: AttributionResult, spec: Any, *, wide: bool = False) -> None:
    """Conversions credited per step, one column per model, with the totals and conventions."""
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
