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
    "when the split is off, the lifts may be biased."
)
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
        result = experiment(store, ExperimentSpec(name=name))
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
        if any(r["estimate"] is not None for r in result.records()):
            figures.append(result.plot())
    return Section(TITLE, intro=INTRO, facts=facts, figures=figures, tables=tables, notes=notes)
