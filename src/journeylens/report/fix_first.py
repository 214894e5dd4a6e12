"""The report section "What to fix first": for now the attribution of conversions per channel
(every model side by side, the chart and the table); the improvement backlog joins it later."""

from __future__ import annotations

import pandas as pd

from journeylens.decisions.attribution_journeys import NoConversionsError
from journeylens.errors import NotFoundError
from journeylens.journeys.definitions import JourneyRules
from journeylens.report.sections import Section
from journeylens.specs.attribution import AttributionSpec
from journeylens.store import Store

TITLE = "What to fix first"
INTRO = (
    "Which channels the successful journeys went through, credited by rule-based models (first, "
    "last, linear, time decay, position-based), by the Markov chain's removal effects (solved "
    "exactly) and by the Shapley value. Where the models disagree, the channel's role depends on "
    "its place in the journey. These are associations, not causes."
)


def fix_first_section(store: Store, rules: JourneyRules | None = None) -> Section | None:
    """Attribution of successful journeys per channel: grouped bar chart and table."""
    from journeylens.decisions.attribution import journey_attribution

    try:
        result = journey_attribution(store, AttributionSpec())
    except NotFoundError:
        return None
    except NoConversionsError as exc:
        return Section(TITLE, intro=INTRO, notes=[f"Attribution is not shown: {exc.message}"])
    frame = pd.DataFrame(result.records())
    wide = frame.pivot(index="step", columns="model", values="conversions")[result.context["models"]]
    wide = (
        wide.sort_values("markov", ascending=False).round(1).reset_index().rename(columns={"step": "channel"})
    )
    ctx = result.context
    facts = {
        "converted journeys": f"{ctx['total_conversions']:,.0f}",
        "not converted": f"{ctx['total_nulls']:,.0f}",
        "conversion value": f"{ctx['total_value']:,.2f}",
    }
    notes = [ctx["repeats"]]
    if ctx["undecided_journeys"]:
        notes.append(f"{ctx['undecided_journeys']:,} journeys still open or of unknown outcome are left out.")
    figures = [result.plot()] if len(wide) > 1 else []
    if not figures:
        notes.append("One channel only: every model credits it with every conversion, so there is no chart.")
    return Section(
        TITLE, intro=INTRO, tables=[("Conversions credited per channel", wide)], figures=figures,
        facts=facts, notes=notes,
    )  # fmt: skip
