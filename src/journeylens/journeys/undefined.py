"""What the data does not define, why, and the setting that would define it.

Undefined is never zero. A journey of a type with no success or failure criteria has outcome
``unknown``, a journey not over at the data's end ``open``; every rate over outcomes (success,
abandoned, first-contact resolution) is taken over the journeys with a final outcome (neither),
and is ``None`` when there are none. Cost to serve is
``None`` until the workspace sets ``[journeys.costs]``. Leakage (a digital attempt that ended in an
assisted contact) is ``None`` over a selection without any assisted contact: where no contact can
be seen, "0% leaked" would be a claim the data cannot make.

Every surface shows the same sentence: the CLI prints ``n/d`` in the cell and the reason under
the table; JSON carries ``null`` and, in the same record, ``<metric>_reason`` (``reason`` in
records that name their ``metric``); the report writes the sentence instead of a number or chart.

Example:
    >>> outcome_reason(["other"])[:52]
    'journey type other has no success or failure criter'
"""

from __future__ import annotations

from collections.abc import Iterable

UNKNOWN_OUTCOME = "unknown"
"""The outcome of a journey whose type defines neither success nor failure."""
OPEN_OUTCOME = "open"
"""The outcome of a journey not over yet at the data's end (or whose repeat window has not passed)."""
UNDECIDED = (UNKNOWN_OUTCOME, OPEN_OUTCOME)
"""Outcomes that are not final: outcome rates (success, abandoned, FCR) leave these journeys out."""
OUTCOME_METRICS = ("success", "abandoned", "first_contact_resolution")
"""Rates over outcomes: not defined for journeys whose outcome is unknown."""
NOT_DEFINED = "n/d"
"""What a terminal cell shows for a value the data does not define."""

OUTCOME_FIX = (
    "declare journey types with outcome criteria in journeylens.toml, e.g. [journeys.types.NAME] "
    'with priority = 1, start.touchpoints = ["..."] and success.touchpoints = ["..."] '
    '(or failure.touchpoints = ["..."])'
)
COST_REASON = (
    "no costs are configured; price one contact per channel in journeylens.toml, e.g. "
    "[journeys.costs] call_center = 6.5, chat = 3.2, web = 0.02"
)

NO_CONTACT_REASON = (
    "no assisted contact in the selection (an event on an assisted channel such as call_center or chat "
    "that names its agent_id), so a digital attempt that ended in a contact cannot be observed; ingest "
    "the contact-centre or chat events with their agent (--map agent_id=COLUMN), or name their channel "
    "in journeylens.toml under [journeys] assisted_channels"
)
"""Why leakage is not defined: the selection has no assisted contact at all."""

NO_CUSTOMER_REASON = (
    "no journey has a customer identifier (each case is its own journey), so nobody can be seen "
    "coming back; map a customer column to user_id when ingesting (--map user_id=COLUMN)"
)


def outcome_reason(types: Iterable[str] = ()) -> str:
    """Why an outcome rate is not defined, naming the journey types without criteria."""
    names = sorted(set(types))
    which = (
        f"journey type{'s' if len(names) > 1 else ''} {', '.join(names)}" if names else "their journey types"
    )
    return (
        f"{which} {'has' if len(names) == 1 else 'have'} no success or failure criteria, so no outcome "
        f"is known (other = journeys no declared type claims); {OUTCOME_FIX}"
    )


OPEN_REASON = (
    "every journey here is still open (its last event is within the inactivity gap of the data's "
    "end, or a success read from 'no repeat' whose repeat window has not passed yet); load later "
    "events, or shorten [journeys] repeat_window"
)
"""Why an outcome rate is not defined when no journey of a selection has a final outcome yet."""


def undecided_reason(unknown_types: Iterable[str]) -> str:
    """Why an outcome rate has no denominator: journey types without criteria, else open journeys."""
    names = list(unknown_types)
    return outcome_reason(names) if names else OPEN_REASON


def unknown_note(unknown: int, total: int) -> str:
    """The denominator note when some journeys of a selection have no defined outcome."""
    return (
        f"{unknown:,} of {total:,} journeys have no defined outcome (their type has no success or "
        "failure criteria); outcome rates are over the other journeys"
    )
