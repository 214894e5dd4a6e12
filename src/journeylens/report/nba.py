"""The report section "Next best actions": per state the ranked actions with their evidence and
uplift intervals, and what the logged decisions say offline."""

from __future__ import annotations

import pandas as pd

from journeylens.errors import NotFoundError, StaleModelError
from journeylens.journeys.definitions import JourneyRules
from journeylens.report.sections import Section
from journeylens.store import Store

TITLE = "Next best actions"
INTRO = (
    "For customers in open journeys, the actions of the catalogue ranked by their estimated effect on "
    "journey success. Where decisions are logged with their propensities the estimate is doubly robust "
    "(95% intervals on the per-decision terms); elsewhere it compares closed journeys that went next to "
    "the action's touchpoint with the others in the same state: an association, not an experiment."
)
COLUMNS = {
    "journey_type": "journey type", "touchpoint": "last touchpoint", "rank": "rank", "action": "action",
    "source": "evidence from", "evidence": "n", "rate": "success", "uplift": "uplift",
    "uplift_lo": "lo", "uplift_hi": "hi",
}  # fmt: skip


def nba_section(store: Store, rules: JourneyRules | None = None) -> Section | None:
    """The ranked actions per state, when the workspace has a catalogue or logged decisions."""
    from journeylens.nba.recommend import nba_for_store

    try:
        result = nba_for_store(store)
    except (NotFoundError, StaleModelError):
        return None
    states = result.context["states"]
    if not states:
        return None
    table = pd.DataFrame(states)[list(COLUMNS)].rename(columns=COLUMNS)
    off = result.context["offline"]
    ctx = result.context
    notes = [f"{ctx['open_journeys']:,} open journeys, {ctx['scored']:,} with a ranked action."]
    if off["reason"]:
        notes.append(f"Offline evaluation: {off['reason']}.")
    else:
        cand = off["candidate"]
        notes.append(
            f"Candidate policy ({off['policy_source']}) doubly robust value {cand['dr'] * 100:.1f}% "
            f"(95% CI {cand['dr_lo'] * 100:.1f} to {cand['dr_hi'] * 100:.1f}) vs the logged policy "
            f"{cand['logged'] * 100:.1f}%, effective sample size {cand['ess'] or 0:,.0f}."
        )
    figures = [result.plot()] if any(r["uplift"] is not None for r in states) else []
    return Section(TITLE, intro=INTRO, tables=[("Actions per state", table)], figures=figures, notes=notes)
