"""The report section "Experiments": every experiment of ``assignments``, its goal metrics' lifts
against the baseline with intervals, and the sample-ratio check in front."""

from __future__ import annotations

from typing import Any

import pandas as pd

from journeylens.errors import NotFoundError
from journeylens.journeys.definitions import JourneyRules
from journeylens.report.sections import Section
from journeylens.specs.experiment import ExperimentSpec
from journeylens.store import Store

TITLE = "Experiments"
INTRO = (
    "Each experiment of the assignments table: customers assigned to a variant, their journeys from "
    "exposure on, and the lift of each metric against the baseline with its 95% interval, tested as "
    "GrowthBook's gbstats 0.8 tests it (Welch t-test, CUPED on the pre-exposure period, delta method "
    "for ratio metrics, Holm across metrics and variants). A sample ratio mismatch is shown first: "
    "when the split is off, the lifts may be biased. Under each experiment: its downstream effects on "
    "the contact centre (contacts, leakage), and the transitions of its journeys whose share differs "
    "most between the variants' process maps (z or Fisher test, Benjamini-Hochberg q)."
)
MAP_COLUMNS = {
    "variant": "variant", "source": "from", "target": "to", "baseline_share": "baseline share",
    "share": "variant share", "difference": "difference", "difference_lo": "lo", "difference_hi": "hi",
    "q_value": "q (BH)", "baseline_journeys": "journeys baseline", "journeys": "journeys variant",
}  # fmt: skip
COLUMNS = {
    "metric": "metric", "variant": "variant", "baseline_value": "baseline", "variant_value": "variant value",
    "estimate": "lift", "lo": "lo", "hi": "hi", "p_adjusted": "p (Holm)", "n_baseline": "units baseline",
    "n_variant": "units variant",
}  # fmt: skip


def experiments_section(store: Store, rules: JourneyRules | None = None) -> Section | None:
    """One table and one lift chart per experiment; SRM warnings and exclusions as notes."""
    from journeylens.experiments.experiment import experiment
    from journeylens.experiments.units import experiment_names

    try:
        names = experiment_names(store)
    except NotFoundError:
        return None
    if not names:
        return None
    tables: list[tuple[str, pd.DataFrame]] = []
    figures: list[Any] = []
    notes: list[str] = []
    facts: dict[str, str] = {}
    for name in names:
        result = experiment(store, ExperimentSpec(name=name, maps=True))
        ctx = result.context
        if ctx["srm_warning"]:
            notes.insert(0, f"{name}: {ctx['srm_warning']}")
        excluded = ctx["excluded"]
        if excluded["multiple_variants"] or excluded["unmapped"]:
            notes.append(
                f"{name}: excluded {excluded['multiple_variants']:,} units assigned to two variants and "
                f"{excluded['unmapped']:,} identifiers in no customer."
            )
        facts[f"{name}: units"] = ", ".join(f"{v['variant']} {v['units']:,}" for v in ctx["variants"])
        tables.append((name, pd.DataFrame(result.records())[list(COLUMNS)].rename(columns=COLUMNS)))
        notes.extend(_downstream(name, ctx))
        if ctx["maps"]["transitions"]:
            maps = pd.DataFrame(ctx["maps"]["transitions"])[list(MAP_COLUMNS)].rename(columns=MAP_COLUMNS)
            tables.append(
                (f"{name}: process map per variant ({ctx['maps']['key']}), largest differences", maps)
            )
        if any(r["estimate"] is not None for r in result.records()):
            figures.append(result.plot())
    return Section(TITLE, intro=INTRO, facts=facts, figures=figures, tables=tables, notes=notes)


def _downstream(name: str, ctx: dict[str, Any]) -> list[str]:
    """One note per downstream metric: did the change move contacts into the contact centre?"""
    out = []
    for r in ctx["downstream"]:
        if r["estimate"] is None:
            out.append(f"{name}: downstream {r['metric']} ({r['variant']}): not tested: {r['reason']}.")
        else:
            out.append(
                f"{name}: downstream {r['metric']} ({r['variant']} against {ctx['baseline']}): "
                f"{r['estimate']:+.4g} [{r['lo']:.4g}, {r['hi']:.4g}], p = {r['p_value']:.3g}."
            )
    return out
