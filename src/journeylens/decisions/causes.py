"""``journeylens causes``: which journey features are associated with an outcome, and which of them
survive the conditional checks.

For one outcome (``causes_outcomes``) over the selected journeys, every journey feature
(``causes_features``) and pair of features is tested as a contrast, Benjamini-Hochberg q over all
of them, then the significant ones are checked conditionally and adjusted jointly
(``causes_search``). Each row says what the feature is *associated with*; causal claims need an
experiment (``journeylens`` experiments).

Example:
    >>> result = ws.causes(outcome="leakage", type="support")  # doctest: +SKIP
    >>> result.causes()[0]["label"]  # doctest: +SKIP
    'touchpoint web:billing_faq'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from journeylens.decisions.causes_features import check_traits, cut_events, families
from journeylens.decisions.causes_outcomes import CUTS, check_outcome, outcome_table
from journeylens.decisions.causes_search import Search, Settings, search
from journeylens.discovery._result import TableResult
from journeylens.discovery.selection import EmptySelectionError, select_journeys
from journeylens.journeys.undefined import outcome_reason
from journeylens.specs.causes import CausesSpec

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from journeylens.workspace import Workspace

ASSOCIATION = "associated with"


@dataclass(frozen=True)
class CausesResult(TableResult):
    """One row per candidate tested, causes first (``cause`` true), then by p."""

    JSON_FIELDS: ClassVar[tuple[str, ...]] = (
        "outcome, definition, journeys, outcome_journeys, outcome_rate, outcome_reason, candidates, "
        "unsupported, "
        "min_support, max_values, max_pair_features, level, notes",
        "rows (records: label, family, parts, cause, verdict, statement, journeys_with, outcome_with, "
        "rate_with, rate_with_lo, rate_with_hi, journeys_without, outcome_without, rate_without, "
        "rate_without_lo, rate_without_hi, difference, difference_lo, difference_hi, risk_ratio, "
        "risk_ratio_lo, risk_ratio_hi, excess_journeys, excess_lo, excess_hi, test, p, q, conditional_p, "
        "interaction, interaction_p, "
        "adjusted_odds_ratio, adjusted_lo, adjusted_hi, adjusted_p, adjusted_reason, examples)",
    )

    context: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**self.context, "rows": self.records()}

    def causes(self) -> list[dict[str, Any]]:
        """The rows that are causes (kept by every check, raising the outcome), strongest first."""
        return [r for r in self.records() if r["cause"]]

    def plot(self) -> go.Figure:
        """Forest plot: each cause's adjusted odds ratio (else risk ratio) with its 95% interval."""
        import plotly.graph_objects as go

        rows = self.causes() or [r for r in self.records() if r["verdict"] == "kept"]
        rows = rows[:25][::-1]
        adjusted = [r["adjusted_odds_ratio"] is not None for r in rows]
        x = [r["adjusted_odds_ratio"] if a else r["risk_ratio"] for r, a in zip(rows, adjusted, strict=True)]
        lo = [r["adjusted_lo"] if a else r["risk_ratio_lo"] for r, a in zip(rows, adjusted, strict=True)]
        hi = [r["adjusted_hi"] if a else r["risk_ratio_hi"] for r, a in zip(rows, adjusted, strict=True)]
        fig = go.Figure()
        fig.add_scatter(
            x=x, y=[r["label"] for r in rows], mode="markers",
            error_x={"type": "data", "symmetric": False, "array": [h - v for h, v in zip(hi, x, strict=True)],
                     "arrayminus": [v - lo_ for v, lo_ in zip(x, lo, strict=True)]},
            text=[f"q={r['q']:.2g}, {r['journeys_with']:,} journeys" for r in rows], name="effect",
        )  # fmt: skip
        fig.add_vline(x=1.0, line_dash="dash", line_color="grey")
        fig.update_layout(
            title=f"Features associated with {self.context.get('outcome')}: adjusted odds ratio (95% CI)",
            xaxis_title="odds ratio (log scale; risk ratio where no joint model)", xaxis_type="log",
        )  # fmt: skip
        return fig


def causes(ws: Workspace, spec: CausesSpec | None = None) -> CausesResult:
    """Root causes of ``spec.outcome`` over the selected journeys (module doc)."""
    spec = spec or CausesSpec()
    store, rules = ws.store, ws.config.journeys
    journey_map = None
    if spec.map is not None:
        from journeylens.maps.loading import check_against, find_map, load_map

        path = find_map(ws.root, spec.map)
        journey_map = load_map(path)
        check_against(journey_map, path, rules)
    journeys = select_journeys(store, spec.filter)
    if int(store.execute(journeys.count()).as_py()) == 0:
        raise EmptySelectionError.for_filter(spec.filter)
    check_outcome(store, journeys, spec.outcome)
    check_traits(store, spec)
    outcome = outcome_table(store, journeys, spec.outcome, rules).cache()
    events = cut_events(store, outcome, CUTS[spec.outcome], rules).cache()
    tables = families(store, spec, outcome, journeys, events, journey_map)
    # Every pass (counts, pairs, patterns, examples) reads the features: they are computed once,
    # like the hand-written floor's feature table.
    features = (ibis.union(*tables.values()) if tables else _no_features(journeys)).cache()
    settings = Settings(spec.min_support, spec.max_values, spec.max_pair_features, spec.q, spec.examples)
    found = search(features, outcome, store.execute, settings)
    return result(found, spec)


def _no_features(journeys: ir.Table) -> ir.Table:
    """An empty feature table (every family left out): the search then tests nothing."""
    empty = ibis.literal("")
    return journeys.select("journey_id", family=empty, key=empty, value=empty, label=empty).limit(0)


def result(found: Search, spec: CausesSpec) -> CausesResult:
    """The result object of a search (rows with their statement)."""
    outcome = spec.outcome.value
    for r in found.rows:
        r["statement"] = _statement(r, outcome)
    context = {
        "outcome": outcome, "definition": DEFINITIONS[outcome], "journeys": found.journeys,
        "outcome_journeys": found.outcome_journeys,
        "outcome_rate": found.outcome_journeys / found.journeys if found.journeys else None,
        "outcome_reason": None if found.journeys else _undefined(outcome),
        "candidates": len(found.rows), "unsupported": found.unsupported, "min_support": spec.min_support,
        "max_values": spec.max_values, "max_pair_features": spec.max_pair_features, "level": spec.q,
        "notes": found.notes,
    }  # fmt: skip
    return CausesResult(pa.Table.from_pylist(found.rows), context=context)


def _undefined(outcome: str) -> str:
    """Why no selected journey counts for the outcome (its denominator is empty)."""
    if outcome in ("failed", "abandoned"):
        return outcome_reason()
    return f"no selected journey is in the denominator of {outcome} ({DEFINITIONS[outcome]})"


def _statement(r: dict[str, Any], outcome: str) -> str:
    if r["rate_with"] is None or r["rate_without"] is None:
        return ""
    how = "a higher" if (r["difference"] or 0) > 0 else "a lower"
    return (
        f"{r['label']} is {ASSOCIATION} {how} {outcome} rate ({r['rate_with']:.1%} of {r['journeys_with']:,} "
        f"journeys with it vs {r['rate_without']:.1%} without); {r['verdict']}"
    )


DEFINITIONS = {
    "failed": "outcome = failed, over journeys with a final outcome (not open or unknown)",
    "abandoned": "outcome = abandoned, over journeys with a final outcome (not open or unknown)",
    "leakage": "a digital attempt that ended in an assisted contact, over journeys that used a digital "
    "channel",
    "repeat_journey": "the customer's next journey of the same type within the repeat window, over "
    "journeys of known customers",
    "contact_after": "the customer's next journey (any type) starts within the repeat window and has an "
    "assisted contact, over journeys of known customers whose window has passed",
    "low_score": "an answer linked to the journey at or below [journeys.feedback] negative for its metric, "
    "over journeys with a linked answer",
}
