"""Terminal view of ``journeylens nba``: per state the ranked actions, the offline evaluation of
logged decisions, the recommendations for open journeys, and a proposed experiment."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from journeylens.cli._output import OutputFormat, render
from journeylens.cli._views import _dim, _num, _pct, _readable, _with_ci

if TYPE_CHECKING:
    from journeylens.nba.recommend import NbaResult


def nba_view(result: NbaResult, spec: Any, *, wide: bool = False) -> None:
    """Ranked actions per state, the offline estimates, recommendations and the proposal."""
    ctx = result.context
    states = [
        {
            "state": f"{r['journey_type']}|{r['touchpoint']}", "rank": r["rank"], "action": r["action"],
            "uplift": _with_ci(r["uplift"], r["uplift_lo"], r["uplift_hi"], _pct, signed=True),
            "evidence": f"{r['evidence']:,}", "source": r["source"],
            "success": _with_ci(r["rate"], r["rate_lo"], r["rate_hi"], _pct), "cost": _num(r["cost"]),
        }
        for r in ctx["states"]
    ]  # fmt: skip
    _table(states, "state actions", "actions per state: success [95% CI] and uplift over the alternatives "
           "[95% CI]", ("source", "success", "cost"), wide)  # fmt: skip
    _offline(ctx["offline"])
    rows = [
        {
            "journey": r["journey_id"], "state": r["state"], "rank": r["rank"],
            "action": r["action"] or "(none)",
            "uplift": _with_ci(r["uplift"], r["uplift_lo"], r["uplift_hi"], _pct, signed=True),
            "customer": r["customer_id"], "segment": r["segment"],
            "model uplift": _with_ci(r["model_uplift"], r["model_uplift_lo"], r["model_uplift_hi"], _pct,
                                     signed=True),
        }
        for r in result.records()
    ]  # fmt: skip
    _table(rows, "recommendations", "next best actions for open journeys (best first)",
           ("customer", "segment", "model uplift"), wide)  # fmt: skip
    _dim(
        f"{ctx['open_journeys']:,} open journeys; {ctx['scored']:,} with a ranked action, "
        f"{ctx['without_evidence']:,} in states where no catalogue action has evidence. "
        "--format json has each recommendation's reason; --format csv one row per journey and action."
    )
    if ctx["proposal"]:
        _dim("Proposed experiment: " + ctx["proposal"]["design"])


def _table(rows: list[dict[str, Any]], what: str, title: str, extra: tuple[str, ...], wide: bool) -> None:
    if rows:
        render(_readable(rows, what, wide), OutputFormat.table, title=title, extra=extra, wide=wide)


def _offline(off: dict[str, Any]) -> None:
    excluded = off.get("excluded") or {}
    if off["reason"]:
        _dim(f"Offline evaluation: {off['reason']}.")
        if off["exploration"].get("share") is not None:
            _dim(f"Exploration: {off['exploration']['reason']}.")
        return
    cand = off["candidate"]
    _dim(
        f"Offline evaluation of {off['decisions']:,} logged decisions ({off['policy_source']} policy "
        f"{', '.join(f'{s}={a}' for s, a in off['policy'].items())}): DR "
        f"{_with_ci(cand['dr'], cand['dr_lo'], cand['dr_hi'], _pct)}, SNIPS "
        f"{_with_ci(cand['snips'], cand['snips_lo'], cand['snips_hi'], _pct)}, IPS "
        f"{_with_ci(cand['ips'], cand['ips_lo'], cand['ips_hi'], _pct)} vs the logged policy "
        f"{_with_ci(cand['logged'], cand['logged_lo'], cand['logged_hi'], _pct)}; effective sample size "
        f"{_num(cand['ess'])} (95% CLT intervals on per-decision terms)."
    )
    if off["policy_source"] == "greedy":
        _dim("The greedy policy is chosen on the same decisions it is evaluated on: its value is optimistic.")
    if any(excluded.values()):
        _dim(
            f"Excluded: {excluded.get('no_propensity', 0):,} decisions without a propensity, "
            f"{excluded.get('no_reward', 0):,} without a reward."
        )
