"""``journeylens drivers``: moments of truth — which touchpoints, channels, stages and journey
traits are associated with success or with a score, and how much of it each carries.

The engine builds the journey-level feature matrix (:mod:`.drivers_features`); numpy splits the
R² of a linear model of the target over the features (:mod:`.drivers_stats`): Johnson's relative
weights always, the exact Shapley/LMG shares when there are at most ``MAX_EXACT`` predictors,
the standardised betas for the direction, and bootstrap intervals (journeys resampled). Each
driver comes with its support (journeys with it) and the target's mean with and without it.
With ``--by-segment`` every segment gets its own decomposition over the same features.

Associations, not causes: a touchpoint visited by customers who were already in trouble "drives"
failure as much as one that causes it. Causal claims go through an experiment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pyarrow as pa

from journeylens.decisions import drivers_features as features
from journeylens.decisions import drivers_stats as stats
from journeylens.discovery._result import TableResult
from journeylens.discovery.selection import EmptySelectionError, select_journeys
from journeylens.errors import JourneyLensError
from journeylens.specs.drivers import MAX_EXACT, DriversSpec, DriverTarget

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from journeylens.maps.model import JourneyMap
    from journeylens.store import Store
    from journeylens.workspace import Workspace

_NOTE = (
    "Associated with, not caused by: drivers describe which journeys went well, not why. Causal claims "
    "go through an experiment."
)
ALL = "(all)"
"""The segment label of the decomposition over every analysed journey."""


class DriversError(JourneyLensError, ValueError):
    """Key drivers cannot be computed from this selection: what is missing, and what to try."""

    @classmethod
    def no_answers(cls, metric: str, answers: int, linked: int, selected: int) -> DriversError:
        return cls(
            f"No selected journey has a linked {metric} answer ({answers:,} {metric} answers with a "
            f"score in feedback, {linked:,} of them linked to a journey; {selected:,} journeys selected).",
            hint="Ingest feedback with that metric (`journeylens ingest FILE --table feedback`), choose "
            "another --target, or widen [journeys.feedback] window so answers link to journeys.",
        )

    @classmethod
    def constant_target(cls, target: str, value: float, journeys: int) -> DriversError:
        return cls(
            f"The target {target} is {value:g} in every one of the {journeys:,} analysed journeys: "
            "there is no variance for drivers to explain.",
            hint="Widen the selection (--type, --since) or choose another --target.",
        )

    @classmethod
    def too_few_features(
        cls, kept: list[str], dropped: list[dict[str, Any]], spec: DriversSpec
    ) -> DriversError:
        shown = "; ".join(f"{d['feature']} ({d['reason']})" for d in dropped[:6])
        return cls(
            f"Only {len(kept)} usable predictor(s) ({', '.join(kept) or 'none'}); key drivers need at "
            f"least 2. Families asked: {', '.join(spec.features)}."
            + (f" Left out: {shown}." if shown else ""),
            hint=f"Lower --min-support (now {spec.min_support}), add families with --features, or "
            "select more journeys.",
        )


@dataclass(frozen=True)
class DriversResult(TableResult):
    """One row per driver (and segment): shares of R² with intervals, direction, support."""

    JSON_FIELDS: ClassVar[tuple[str, ...]] = (
        "target, map, journeys, selected, excluded, excluded_reason, answers, r2, r2_lo, r2_hi, "
        "patterns, top, min_support, bootstrap, seed, lmg_reason, features, reason, note",
        "dropped (records: feature, support, reason)",
        "segments (records: segment, journeys, r2, r2_lo, r2_hi, replicates, reason)",
        "rows (records: segment, rank, feature, family, support, target_with, target_without, weight, "
        "weight_lo, weight_hi, share, share_lo, share_hi, lmg, lmg_lo, lmg_hi, lmg_share, beta, direction, "
        "statement, reason)",
    )

    context: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**self.context, "rows": self.records()}

    def plot(self) -> go.Figure:
        """Horizontal bars: each driver's share of the explained variance with its 95% interval."""
        import plotly.graph_objects as go

        fig = go.Figure()
        for segment in [s["segment"] for s in self.context["segments"]]:
            rows = [r for r in self.records() if r["segment"] == segment and r["share"] is not None][::-1]
            lo = [r["share"] - r["share_lo"] if r["share_lo"] is not None else 0 for r in rows]
            hi = [r["share_hi"] - r["share"] if r["share_hi"] is not None else 0 for r in rows]
            fig.add_bar(
                y=[r["feature"] for r in rows], x=[r["share"] for r in rows], orientation="h", name=segment,
                error_x={"type": "data", "array": hi, "arrayminus": lo},
                text=[r["direction"] for r in rows], hovertext=[r["statement"] for r in rows],
            )  # fmt: skip
        fig.update_layout(
            title=f"Key drivers of {self.context['target']}: share of explained variance (relative weights, "
            "95% bootstrap interval); text: direction of the association",
            xaxis_title="% of R²", barmode="group",
        )  # fmt: skip
        return fig


def drivers(ws: Workspace, spec: DriversSpec | None = None) -> DriversResult:
    """Key drivers in ``ws`` (with ``spec.map``: the map's stages as features, its journey type).

    Example:
        >>> spec = DriversSpec(filter={"journey_type": "purchase"}, exclude="payment")
        >>> result = drivers(ws, spec)  # doctest: +SKIP
        >>> result.records()[0]["statement"]  # doctest: +SKIP
    """
    from journeylens.maps.loading import open_map

    spec = spec or DriversSpec()
    return key_drivers(ws.store, spec, open_map(ws, spec.map)[0] if spec.map is not None else None)


def key_drivers(store: Store, spec: DriversSpec, journey_map: JourneyMap | None = None) -> DriversResult:
    """Key drivers from the store (module doc); :func:`drivers` finds the map first."""
    patterns = feature_patterns(store, spec, journey_map)
    if patterns.journeys == 0:  # success, but no selected journey has a final outcome
        return _undefined(store, spec, patterns.selected, journey_map)
    usable, dropped = _usable(patterns, spec.min_support)
    if len(usable) < 2:
        raise DriversError.too_few_features([patterns.features[i].name for i in usable], dropped, spec)
    y = patterns.y
    if np.ptp(y) == 0:
        raise DriversError.constant_target(spec.target.value, float(y[0]), patterns.journeys)
    groups = [(ALL, np.ones(len(y), dtype=bool))]
    if patterns.segments is not None:
        labels = np.array(patterns.segments, dtype=object)
        sizes = {s: int(patterns.counts[labels == s].sum()) for s in set(patterns.segments)}
        groups += [(s, labels == s) for s in sorted(sizes, key=lambda s: (-sizes[s], s))]
    rows: list[dict[str, Any]] = []
    segments: list[dict[str, Any]] = []
    for label, mask in groups:
        seg_rows, summary = _segment(label, patterns, usable, mask, spec)
        rows += seg_rows
        segments.append(summary)
    overall = segments[0]
    lmg_reason = None if len(usable) <= MAX_EXACT else (
        f"{len(usable)} predictors: exact LMG needs at most {MAX_EXACT} (2^p subsets); relative weights only"
    )  # fmt: skip
    context = _context(
        spec, journey_map, patterns.selected, patterns.journeys,
        answers=_answers(store, spec) if spec.target is not DriverTarget.success else None,
        r2=overall["r2"], r2_lo=overall["r2_lo"], r2_hi=overall["r2_hi"], patterns=len(y),
        lmg_reason=lmg_reason,
        features=[patterns.features[i].name for i in usable], dropped=dropped, segments=segments, reason=None,
    )  # fmt: skip
    return DriversResult(pa.Table.from_pylist(rows, schema=_SCHEMA), context=context)


def _undefined(
    store: Store, spec: DriversSpec, selected: int, journey_map: JourneyMap | None
) -> DriversResult:
    """No selected journey has a final outcome: nothing to explain, and the result says why."""
    from journeylens.journeys.summary import unknown_types
    from journeylens.journeys.undefined import OPEN_REASON, outcome_reason

    journeys = select_journeys(store, spec.filter)
    types = unknown_types(store, journeys)
    reason = outcome_reason(types) if types else OPEN_REASON
    context = _context(
        spec, journey_map, selected, 0, answers=None, r2=None, r2_lo=None, r2_hi=None, patterns=0,
        lmg_reason="no journey to decompose", features=[], dropped=[], segments=[],
        reason=f"none of the {selected:,} selected journeys has a final outcome: {reason}",
    )  # fmt: skip
    return DriversResult(pa.Table.from_pylist([], schema=_SCHEMA), context=context)


def _context(
    spec: DriversSpec, journey_map: JourneyMap | None, selected: int, journeys: int, **parts: Any
) -> dict[str, Any]:
    """The result's context (``JSON_FIELDS``): what was asked and analysed, then ``parts``."""
    return {
        "target": spec.target.value, "map": journey_map.name if journey_map else None, "journeys": journeys,
        "selected": selected, "excluded": selected - journeys, "excluded_reason": _excluded(spec.target),
        "top": spec.top, "min_support": spec.min_support, "bootstrap": spec.bootstrap, "seed": spec.seed,
        **parts, "note": _NOTE,
    }  # fmt: skip


def feature_patterns(
    store: Store, spec: DriversSpec, journey_map: JourneyMap | None = None
) -> features.Patterns:
    """The aggregated feature matrix (engine passes in :mod:`.drivers_features`); bad input raises."""
    selected = int(store.execute(select_journeys(store, spec.filter).count()).as_py())
    if selected == 0:
        raise EmptySelectionError.for_filter(spec.filter)
    analysed = features.analysed_journeys(store, spec, journey_map).cache()
    journeys = int(store.execute(analysed.count()).as_py())
    if journeys == 0 and spec.target is not DriverTarget.success:
        answers, linked = features.answer_counts(store, spec.target.value)
        raise DriversError.no_answers(spec.target.value, answers, linked, selected)
    steps = features.counted_steps(store, analysed, journey_map, spec.exclude)
    kept, dropped = features.choose(spec, features.supports(store, steps), journeys)
    table, named = features.journey_features(analysed, steps, kept, spec)
    data = store.execute(features.pattern_counts(table))
    counts = data.column("_n").to_numpy().astype(np.float64)
    x = np.column_stack([data.column(c).to_numpy().astype(np.float64) for _, _, c in named]) if named else (
        np.zeros((data.num_rows, 0))
    )  # fmt: skip
    found = [
        features.Feature(name, family, column, int(counts[x[:, i] > 0].sum()))
        for i, (name, family, column) in enumerate(named)
    ]
    segments = data.column("_segment").to_pylist() if spec.by_segment else None
    y = data.column("_y").to_numpy().astype(np.float64)
    # Engines return groups in any order; sorted, the same seed draws the same bootstrap samples.
    keys = [*x.T[::-1], y, *([np.unique(segments, return_inverse=True)[1]] if segments else [])]
    order = np.lexsort(keys) if len(y) else np.arange(0)
    return features.Patterns(
        found, x[order], y[order], counts[order], [segments[i] for i in order] if segments else None,
        journeys, selected, dropped,
    )  # fmt: skip


def _usable(p: features.Patterns, min_support: int) -> tuple[list[int], list[dict[str, Any]]]:
    """Indices of predictors with ``min_support`` journeys with and without them (bands: above
    and in the lowest band) that duplicate no earlier one; the rest with a reason."""
    dropped = list(p.dropped)
    usable: list[int] = []
    for i, f in enumerate(p.features):
        column = p.x[:, i]
        twin = next((j for j in usable if np.array_equal(p.x[:, j], column)), None)
        if f.support < min_support or f.support > p.journeys - min_support:
            few = f.support < min_support
            reason = f"fewer than min_support = {min_support} journeys with it" if few else (
                f"fewer than min_support = {min_support} journeys without it")  # fmt: skip
            dropped.append({"feature": f.name, "support": f.support, "reason": reason})
        elif twin is not None:
            reason = f"identical to {p.features[twin].name} in every journey"
            dropped.append({"feature": f.name, "support": f.support, "reason": reason})
        else:
            usable.append(i)
    return usable, dropped


def _segment(
    label: str, p: features.Patterns, usable: list[int], mask: np.ndarray[Any, Any], spec: DriversSpec
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One decomposition (all journeys, or one segment's): its driver rows and its summary."""
    x, y, w = p.x[mask][:, usable], p.y[mask], p.counts[mask]
    n = int(w.sum())
    summary: dict[str, Any] = {"segment": label, "journeys": n, "r2": None, "r2_lo": None, "r2_hi": None,
                               "replicates": 0, "reason": None}  # fmt: skip
    varying = [k for k in range(len(usable)) if np.ptp(x[:, k]) > 0]
    if np.ptp(y) == 0 or len(varying) < 2:
        summary["reason"] = (
            f"the target is the same in all {n:,} journeys" if np.ptp(y) == 0 else
            f"fewer than 2 features vary among its {n:,} journeys"
        )  # fmt: skip
        return [], summary
    rxx, rxy = stats.weighted_correlation(x[:, varying], y, w)
    exact = len(varying) <= MAX_EXACT
    d = stats.decompose(rxx, rxy, exact)
    ci = stats.bootstrap(x[:, varying], y, w, spec.bootstrap, spec.seed, exact)
    summary.update(r2=d.r2, r2_lo=ci.r2[0] if ci else None, r2_hi=ci.r2[1] if ci else None,
                   replicates=ci.replicates if ci else 0)  # fmt: skip
    rows = []
    for k, col in enumerate(usable):
        f = p.features[col]
        row = _blank(label, f, x[:, k], y, w)
        if k in varying:
            row.update(_estimates(varying.index(k), d, rxy, ci, spec.target.value, f.name))
        else:
            row["reason"] = "the same in every journey of this segment"
        rows.append(row)
    rows.sort(key=lambda r: -(r["share"] if r["share"] is not None else -1.0))
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank if row["share"] is not None else None
    return rows, summary


def _blank(label: str, f: features.Feature, column: np.ndarray[Any, Any], y: np.ndarray[Any, Any],
           w: np.ndarray[Any, Any]) -> dict[str, Any]:  # fmt: skip
    on = column > 0
    means = [float(y[m] @ w[m] / w[m].sum()) if w[m].sum() else None for m in (on, ~on)]
    return {
        "segment": label, "rank": None, "feature": f.name, "family": f.family, "support": int(w[on].sum()),
        "target_with": means[0], "target_without": means[1], **dict.fromkeys(_ESTIMATES), "reason": None,
    }  # fmt: skip


_ESTIMATES = ("weight", "weight_lo", "weight_hi", "share", "share_lo", "share_hi", "lmg", "lmg_lo", "lmg_hi",
              "lmg_share", "beta", "direction", "statement")  # fmt: skip


def _estimates(
    k: int,
    d: stats.Decomposition,
    r: np.ndarray[Any, Any],
    ci: stats.Intervals | None,
    target: str,
    name: str,
) -> dict[str, Any]:
    """A driver's numbers; its direction is the sign of its beta, or ``mixed`` when that sign
    differs from its correlation with the target (the adjusted and the plain association
    disagree: it matters only together with correlated features)."""
    share = 100 * d.weights[k] / d.r2
    direction = "higher" if d.beta[k] > 0 else "lower"
    if np.sign(d.beta[k]) != np.sign(r[k]):
        direction = "mixed"
    out: dict[str, Any] = {"weight": float(d.weights[k]), "share": float(share), "beta": float(d.beta[k]),
                           "direction": direction}  # fmt: skip
    if ci is not None:
        out.update(weight_lo=float(ci.weights[0][k]), weight_hi=float(ci.weights[1][k]),
                   share_lo=100 * float(ci.shares[0][k]), share_hi=100 * float(ci.shares[1][k]))  # fmt: skip
    if d.lmg is not None:
        out.update(lmg=float(d.lmg[k]), lmg_share=float(100 * d.lmg[k] / d.r2))
        if ci is not None and ci.lmg is not None:
            out.update(lmg_lo=float(ci.lmg[0][k]), lmg_hi=float(ci.lmg[1][k]))
    said = f"{direction} {target}" if direction != "mixed" else (
        f"{target} only jointly with correlated features (beta and correlation differ in sign)")  # fmt: skip
    out["statement"] = (
        f"{name} is associated with {said} ({share:.1f}% of the explained variance, R² {d.r2:.3f})"
    )
    return out


_SCHEMA = pa.schema(
    [("segment", pa.string()), ("rank", pa.int64()), ("feature", pa.string()), ("family", pa.string()),
     ("support", pa.int64()), ("target_with", pa.float64()), ("target_without", pa.float64()),
     *((name, pa.string() if name in ("direction", "statement") else pa.float64()) for name in _ESTIMATES),
     ("reason", pa.string())]
)  # fmt: skip


def _excluded(target: DriverTarget) -> str:
    if target is DriverTarget.success:
        return "open or unknown outcome (not final): left out, as in the summary's rates"
    return f"no {target.value} answer linked to the journey (feedback_links)"


def _answers(store: Store, spec: DriversSpec) -> dict[str, int]:
    answers, linked = features.answer_counts(store, spec.target.value)
    return {"with_score": answers, "linked": linked}
