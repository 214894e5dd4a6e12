"""``journeylens experiment NAME``: journey metrics per variant after exposure, tested as gbstats 0.8 does.

The engine (:mod:`journeylens.experiments.units`) returns per variant (and breakdown group) the
sufficient statistics of each unit-level metric; this module turns them into gbstats statistics
(:mod:`journeylens.experiments.statistics`), tests every variant against the baseline, checks the
sample ratio (SRM, chi-square with k-1 df against an equal split), and adjusts p-values across
goal metrics and variants (Holm or Benjamini-Hochberg; guardrails are left out, as GrowthBook
does). Breakdowns (``--by segment|entry_channel``) are corrected as one more family per group.

Example:
    >>> result = experiment(ws.store, ExperimentSpec(name="checkout_redesign"))  # doctest: +SKIP
    >>> result.records()[0]["estimate"], result.context["srm_p"]  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa

from journeylens.discovery._result import TableResult
from journeylens.errors import InputError
from journeylens.experiments import statistics as st
from journeylens.experiments.units import (
    METRICS,
    NO_GROUP,
    Metric,
    assigned_units,
    assigned_variants,
    exclusions,
    unit_values,
    variant_sums,
)
from journeylens.specs.experiment import DOWNSTREAM_METRICS, Correction, Difference, Engine, ExperimentSpec
from journeylens.store import Store

if TYPE_CHECKING:
    import plotly.graph_objects as go

REASONS = {
    st.BASELINE_ZERO: "the baseline's mean is zero: no relative lift and no test",
    st.ZERO_VARIANCE: "a variant's metric does not vary (zero variance): no test",
    st.NO_UNITS: "a variant has no units",
}


_ROW_FIELDS = (
    "group, metric, kind, guardrail, inverse, variant, n_baseline, n_variant, baseline_value, variant_value, "
    "estimate, lo, hi, p_value, p_adjusted, chance_to_win, risk_baseline, risk_variant, theta, significant, "
    "reason"
)


@dataclass(frozen=True)
class ExperimentResult(TableResult):
    """One row per (group, metric, variant against the baseline); ``context`` holds the variants'
    units, the SRM check, the exclusions and the settings."""

    JSON_FIELDS: ClassVar[tuple[str, ...]] = (
        "name, baseline, empty_variants, engine, difference, cuped, pre_days, correction, alpha, by, srm_p, "
        "srm_warning",
        "variants (records: variant, units, no_journey_units)",
        "excluded (multiple_variants, unmapped)",
        "exposure (first, last)",
        f"rows (records: {_ROW_FIELDS})",
        f"downstream (records: {_ROW_FIELDS})",
        "funnel (null, or object: window, unit, steps (records: step, step_name, variant, units, "
        "first_units, conversion, conversion_lo, conversion_hi, [difference, difference_lo, difference_hi, "
        "test, p_value, q_value, significant, reason]))",
        "maps (null, or object: key, journeys (object: variant -> journeys), transitions (records: variant, "
        "source, target, journeys, share, transitions, baseline_journeys, baseline_share, "
        "baseline_transitions, difference, difference_lo, difference_hi, test, p_value, q_value, "
        "significant, reason))",
    )

    context: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**self.context, "rows": self.records()}

    def plot(self) -> go.Figure:
        """The lift of each metric with its interval (one marker per variant and group)."""
        import plotly.graph_objects as go

        fig = go.Figure()
        rows = [r for r in self.records() if r["estimate"] is not None]
        for key in dict.fromkeys((r["variant"], r["group"]) for r in rows):
            mine = [r for r in rows if (r["variant"], r["group"]) == key]
            name = key[0] if key[1] == NO_GROUP else f"{key[0]} · {key[1]}"
            fig.add_scatter(
                x=[r["estimate"] for r in mine], y=[r["metric"] for r in mine], mode="markers", name=name,
                orientation="h",
                error_x={"type": "data", "symmetric": False,
                         "array": [r["hi"] - r["estimate"] for r in mine],
                         "arrayminus": [r["estimate"] - r["lo"] for r in mine]},
            )  # fmt: skip
        fig.add_vline(x=0, line_dash="dot", line_color="grey")
        kind = self.context.get("difference", "absolute")
        fig.update_layout(
            title=f"{self.context.get('name')}: {kind} lift against {self.context.get('baseline')} "
            f"({(1 - self.context.get('alpha', 0.05)) * 100:.0f}% interval)",
            xaxis_title=f"{kind} lift", yaxis_title="metric",
        )  # fmt: skip
        return fig


def experiment(store: Store, spec: ExperimentSpec) -> ExperimentResult:
    """Journey metrics per variant after exposure, tested against the baseline (module doc)."""
    units = assigned_units(store, spec.name).cache()  # read by the exclusions and the values
    names = [*spec.metric, *spec.guardrail]
    metrics = [METRICS[m] for m in names]
    values = unit_values(
        store, units, metrics, spec.filter, spec.pre_days, spec.by.value if spec.by else None
    )
    sums = store.execute(variant_sums(values, metrics)).to_pylist()
    excluded = store.execute(exclusions(units)).to_pylist()[0]
    variants = assigned_variants(store, spec.name)
    baseline = _baseline(spec, variants)
    overall = [r for r in sums if r["group"] == NO_GROUP] or _overall(sums, metrics)
    counts = {v: next((int(r["n"]) for r in overall if r["variant"] == v), 0) for v in variants}
    empty = [v for v, n in counts.items() if n == 0]
    srm = st.srm_p_value([counts[v] for v in variants], [1.0] * len(variants))
    rows: list[dict[str, Any]] = []
    for group in dict.fromkeys(r["group"] for r in sums):
        by_variant = {r["variant"]: r for r in sums if r["group"] == group}
        family = [
            _compare(m, by_variant, baseline, v, group, spec)
            for m in metrics
            for v in variants
            if v != baseline
        ]
        _correct(family, spec)
        rows.extend(family)
    context = {
        "name": spec.name, "baseline": baseline, "engine": spec.engine.value,
        "difference": spec.difference.value, "cuped": spec.cuped, "pre_days": spec.pre_days,
        "correction": spec.correction.value, "alpha": spec.alpha, "by": spec.by.value if spec.by else None,
        "variants": [{"variant": v, "units": counts[v],
                      "no_journey_units": next((int(r.get("no_journey_units") or 0) for r in overall
                                                if r["variant"] == v), 0)} for v in variants],
        "empty_variants": empty,
        "srm_p": srm, "srm_warning": _srm_warning(srm, counts),
        "excluded": {"multiple_variants": int(excluded["multiple_variants"] or 0),
                     "unmapped": int(excluded["unmapped"] or 0)},
        "exposure": {"first": _iso(excluded["first_exposure"]), "last": _iso(excluded["last_exposure"])},
    }  # fmt: skip
    context |= _journey_view(store, spec, baseline, rows)
    return ExperimentResult(pa.Table.from_pylist(rows), context=context)


def _journey_view(
    store: Store, spec: ExperimentSpec, baseline: str, rows: list[dict[str, Any]]
) -> dict[str, Any]:
    """The downstream (contact-centre) rows, and the per-variant funnel and maps when asked for."""
    from journeylens.experiments.journeys_view import map_differences, variant_funnel

    return {
        "downstream": [r for r in rows if r["metric"] in DOWNSTREAM_METRICS and r["group"] == NO_GROUP],
        "funnel": variant_funnel(store, spec, baseline) if spec.funnel else None,
        "maps": map_differences(store, spec, baseline) if spec.maps else None,
    }


def _baseline(spec: ExperimentSpec, variants: list[str]) -> str:
    if spec.baseline is not None:
        if spec.baseline not in variants:
            raise InputError(
                f"Baseline variant {spec.baseline!r} is not assigned in {spec.name!r} (variants: "
                f"{', '.join(variants)}).",
                hint="Pass --baseline with one of the variants listed.",
            )
        return spec.baseline
    return "control" if "control" in variants else variants[0]


def _overall(sums: list[dict[str, Any]], metrics: list[Metric]) -> list[dict[str, Any]]:
    """Per-variant totals of a breakdown (the groups partition the units)."""
    out: dict[str, dict[str, Any]] = {}
    for r in sums:
        acc = out.setdefault(r["variant"], {"variant": r["variant"], "group": NO_GROUP})
        for k, v in r.items():
            if k not in ("variant", "group"):
                acc[k] = (acc.get(k) or 0) + (v or 0)
    return list(out.values())


def _statistic(m: Metric, r: dict[str, Any] | None, cuped: bool) -> st.Statistic:
    if r is None:
        return st.SampleMean(0, 0.0, 0.0)
    n = int(r["n"])

    def simple(s: float, ss: float) -> st.Simple:
        return st.Proportion(n, s) if m.kind == "proportion" else st.SampleMean(n, s, ss)

    post = simple(r[f"{m.name}__sum"] or 0.0, r[f"{m.name}__ss"] or 0.0)
    if m.kind == "ratio":
        d = st.SampleMean(n, r[f"{m.name}__d_sum"] or 0.0, r[f"{m.name}__d_ss"] or 0.0)
        return st.Ratio(n, post, d, r[f"{m.name}__xd"] or 0.0)
    if cuped:
        pre = simple(r[f"{m.name}__pre_sum"] or 0.0, r[f"{m.name}__pre_ss"] or 0.0)
        return st.RegressionAdjusted(n, post, pre, r[f"{m.name}__xp"] or 0.0)
    return post


def _compare(
    m: Metric,
    by_variant: dict[str, dict[str, Any]],
    baseline: str,
    variant: str,
    group: str,
    spec: ExperimentSpec,
) -> dict[str, Any]:
    a, b = (
        _statistic(m, by_variant.get(baseline), spec.cuped),
        _statistic(m, by_variant.get(variant), spec.cuped),
    )
    relative = spec.difference is Difference.relative
    if a.n < 2 or b.n < 2:
        res = st.TestResult(0, 0, 0, 0, error=st.NO_UNITS)
    elif spec.engine is Engine.bayesian:
        sd = spec.prior_sd
        res = st.bayesian(
            a, b, relative=relative, alpha=spec.alpha, inverse=m.inverse, prior_mean=spec.prior_mean,
            prior_variance=1.0 if sd is None else sd**2, proper=sd is not None,
        )  # fmt: skip
    else:
        res = st.ttest(
            a,
            b,
            relative=relative,
            alpha=spec.alpha,
            sequential=spec.engine is Engine.sequential,
            tuning=spec.tuning,
        )
    ok = res.error is None
    return {
        "group": group, "metric": m.name, "kind": m.kind, "guardrail": m.name in spec.guardrail,
        "inverse": m.inverse, "variant": variant, "n_baseline": a.n, "n_variant": b.n,
        "baseline_value": a.unadjusted_mean if a.n else None,
        "variant_value": b.unadjusted_mean if b.n else None,
        "estimate": res.estimate if ok else None, "lo": res.lo if ok else None, "hi": res.hi if ok else None,
        "p_value": res.p_value if ok else None, "p_adjusted": None,
        "chance_to_win": res.chance_to_win if ok else None,
        "risk_baseline": res.risk[0] if ok and res.risk else None,
        "risk_variant": res.risk[1] if ok and res.risk else None,
        "theta": res.theta, "significant": None,
        "reason": None if ok else REASONS.get(res.error or "", res.error),
    }  # fmt: skip


def _correct(family: list[dict[str, Any]], spec: ExperimentSpec) -> None:
    """Adjust p-values across the goal metrics and variants of one group (guardrails left out)."""
    goals = [r for r in family if not r["guardrail"] and r["p_value"] is not None]
    adjust = {Correction.holm: st.holm, Correction.bh: st.benjamini_hochberg}.get(spec.correction)
    adjusted = adjust([r["p_value"] for r in goals]) if adjust else [r["p_value"] for r in goals]
    for r, q in zip(goals, adjusted, strict=True):
        r["p_adjusted"] = q
    for r in family:
        if spec.engine is Engine.bayesian and r["chance_to_win"] is not None:
            r["significant"] = r["chance_to_win"] > 1 - spec.alpha / 2 or r["chance_to_win"] < spec.alpha / 2
        elif r["p_value"] is not None:
            p = r["p_value"] if r["guardrail"] else r["p_adjusted"]
            r["significant"] = p < spec.alpha


def _srm_warning(p: float, counts: dict[str, int]) -> str | None:
    if p >= st.SRM_THRESHOLD:
        return None
    split = ", ".join(f"{v} {n:,}" for v, n in counts.items())
    return (
        f"Sample ratio mismatch (p = {p:.2g} < {st.SRM_THRESHOLD}): the units per variant ({split}) are "
        "unlikely under the planned equal split. Results may be biased; check the assignment and the "
        "exposure logging before trusting them."
    )


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()
