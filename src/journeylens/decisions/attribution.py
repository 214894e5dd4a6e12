"""``journeylens attribution``: credit for conversions and their value per channel or touchpoint.

Paths come from the workspace's journeys (``attribution_journeys``: one Ibis aggregation; a
conversion is a journey with ``--outcome``, default success, worth its value) or from a path file
in ChannelAttribution's layout (``attribution_paths``). On the distinct paths, numpy and scipy
run the models: first, last, linear, time decay and position-based (``attribution_heuristics``),
Markov removal effects solved exactly for orders 1-3 (``attribution_markov``) and the simplified
and ordered Shapley values (``attribution_shapley``). Every model credits all conversions and all
value: each model's column sums to the totals. Associations, not causes.

Example:
    >>> result = ws.attribution(model="markov", order=2)  # doctest: +SKIP
    >>> result.credit("markov")["web"]  # doctest: +SKIP
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa

from journeylens.decisions.attribution_heuristics import HEURISTICS, Credit, heuristic_credit
from journeylens.decisions.attribution_markov import markov_credit
from journeylens.decisions.attribution_paths import AttributionPaths, read_path_file
from journeylens.decisions.attribution_shapley import ordered_shapley, shapley_credit
from journeylens.discovery._result import TableResult
from journeylens.specs.attribution import AttributionSpec

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from journeylens.store import Store
    from journeylens.workspace import Workspace

REPEATS = (
    "Heuristics count every touch (a channel touched twice gets two shares, as in ChannelAttribution); "
    "Markov collapses repeated consecutive states (ChannelAttribution's chain); Shapley counts a "
    "channel once per path (coalitions are sets), and its ordered form places it at its first touch."
)
ROW_FIELDS = ("model", "step", "conversions", "conversions_share", "value", "value_share")


@dataclass(frozen=True)
class AttributionResult(TableResult):
    """One row per model and step: credited conversions and value, and their shares of the totals.

    ``context`` holds the source and totals, how time decay was computed, the Markov chain
    (order, states, conversion probability, removal effects) and the ordered Shapley values.
    """

    JSON_FIELDS: ClassVar[tuple[str, ...]] = (
        "source, by, outcome, filter, models, paths, journeys, undecided_journeys, total_conversions, "
        "total_value, total_nulls, repeats (source: journeys or the path file; outcome and filter are "
        "null for a path file)",
        "time_decay (basis: time or position, half_life, note)",
        "markov (order, states, conversion_probability, removal_effects: records of step, "
        "removal_effect, value_removal_effect)",
        "shapley_ordered (records: step, position, conversions, value)",
        "rows (records: model, step, conversions, conversions_share, value, value_share)",
    )

    context: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**self.context, "rows": self.records()}

    def credit(self, model: str, measure: str = "conversions") -> dict[str, float]:
        """``{step: credit}`` of one model (``measure``: conversions or value)."""
        return {r["step"]: r[measure] for r in self.records() if r["model"] == model}

    def plot(self) -> go.Figure:
        """Grouped bars: conversions credited to each step by each model."""
        import plotly.graph_objects as go

        fig = go.Figure()
        steps = ranked_steps(self.records())
        for model in self.context.get("models", []):
            credit = self.credit(model)
            fig.add_bar(x=steps, y=[credit.get(s, 0.0) for s in steps], name=model)
        fig.update_layout(
            barmode="group",
            title=f"Conversions credited per {self.context.get('by', 'step')} and model "
            f"({self.context.get('total_conversions', 0):,.0f} conversions)",
            xaxis_title=self.context.get("by", "step"),
            yaxis_title="credited conversions",
        )
        return fig


def ranked_steps(records: list[dict[str, Any]]) -> list[str]:
    """Steps by their largest credit under any model (the chart's and table's order)."""
    best: dict[str, float] = {}
    for r in records:
        best[r["step"]] = max(best.get(r["step"], 0.0), r["conversions"])
    return sorted(best, key=lambda s: (-best[s], s))


def attribution(workspace: Workspace | None, spec: AttributionSpec | None = None) -> AttributionResult:
    """Run the chosen models on the path file (no workspace needed), or on the workspace's
    journeys (module doc)."""
    spec = spec or AttributionSpec()
    if spec.paths is not None:
        paths = read_path_file(spec.paths, sep=spec.sep, path_sep=spec.path_sep)
        journeys = int(paths.total_conversions + paths.total_nulls)
        source = {"source": paths.source, "by": "step", "outcome": None, "filter": None}
        return attribute(paths, spec, source={**source, "journeys": journeys, "undecided_journeys": 0})
    if workspace is None:
        raise ValueError("attribution over journeys needs a workspace; a path file (paths=...) does not")
    workspace.ensure_model(build=not spec.no_build, notice=_say)
    return journey_attribution(workspace.store, spec)


def journey_attribution(store: Store, spec: AttributionSpec) -> AttributionResult:
    """Attribution over the store's journeys (the model must be built)."""
    from journeylens.decisions.attribution_journeys import journey_paths, time_decay_credit

    found = journey_paths(store, spec)
    paths = found.paths
    decay = time_decay_credit(store, spec, paths.names) if "time_decay" in spec.models else None
    source = {
        "source": "journeys",
        "by": spec.by.value,
        "outcome": spec.outcome,
        "journeys": found.journeys,
        "undecided_journeys": found.undecided,
        "filter": spec.filter.describe(),
    }
    return attribute(paths, spec, source=source, time_decay=decay)


def attribute(
    paths: AttributionPaths,
    spec: AttributionSpec,
    *,
    source: dict[str, Any],
    time_decay: Credit | None = None,
) -> AttributionResult:
    """Every chosen model on ``paths``; ``time_decay`` is the time-based credit when the paths
    have timestamps (journeys), else the decay is by position."""
    credits: dict[str, Credit] = {}
    context: dict[str, Any] = {
        **source,
        "models": list(spec.models),
        "paths": len(paths.lengths),
        "total_conversions": paths.total_conversions,
        "total_value": paths.total_value,
        "total_nulls": paths.total_nulls,
        "repeats": REPEATS,
    }
    for model in spec.models:
        if model in HEURISTICS and not (model == "time_decay" and time_decay is not None):
            credits[model] = heuristic_credit(paths, model, half_life_steps=spec.half_life_steps)
    if "time_decay" in spec.models:
        context["time_decay"] = _decay_context(spec, time_decay is not None)
        if time_decay is not None:
            credits["time_decay"] = time_decay
    if "markov" in spec.models:
        chain = markov_credit(paths, order=spec.order)
        credits["markov"] = chain.credit
        context["markov"] = {
            "order": spec.order,
            "states": chain.states,
            "conversion_probability": chain.conversion_probability,
            "removal_effects": [
                {"step": name, "removal_effect": float(re), "value_removal_effect": float(ve)}
                for name, re, ve in zip(
                    paths.names, chain.removal_effects, chain.value_removal_effects, strict=True
                )
            ],
        }
    if "shapley" in spec.models:
        credits["shapley"] = shapley_credit(paths)
        context["shapley_ordered"] = ordered_shapley(paths)
    table = _rows(paths, [(m, credits[m]) for m in spec.models])
    return AttributionResult(table, context)


def _decay_context(spec: AttributionSpec, timed: bool) -> dict[str, Any]:
    if timed:
        return {
            "basis": "time",
            "half_life": spec.half_life,
            "note": "decay by time before the journey's last event",
        }
    return {
        "basis": "position",
        "half_life": f"{spec.half_life_steps:g} steps",
        "note": "a path file has no timestamps: decay by position, each step before the last counts "
        f"0.5 ** (1 / {spec.half_life_steps:g}) of the next",
    }


def _rows(paths: AttributionPaths, credits: list[tuple[str, Credit]]) -> pa.Table:
    total_c, total_v = paths.total_conversions, paths.total_value
    columns: dict[str, list[Any]] = {name: [] for name in ROW_FIELDS}
    for model, credit in credits:
        for i, step in enumerate(paths.names):
            conv, val = float(credit.conversions[i]), float(credit.value[i])
            columns["model"].append(model)
            columns["step"].append(step)
            columns["conversions"].append(conv)
            columns["conversions_share"].append(conv / total_c if total_c else None)
            columns["value"].append(val)
            columns["value_share"].append(val / total_v if total_v else None)
    return pa.table(columns)


def _say(line: str) -> None:
    print(line, file=sys.stderr)


__all__ = ["AttributionResult", "attribute", "attribution", "journey_attribution"]
