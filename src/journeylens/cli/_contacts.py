"""Terminal views of ``journeylens contacts`` (one layout per ``--view``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from journeylens.cli._output import OutputFormat, render
from journeylens.cli._views import _dim, _num, _p, _pct, _readable, _undefined, _with_ci

if TYPE_CHECKING:
    from journeylens.contacts.analysis import ContactsResult


def _money(value: float | None) -> str:
    return _num(value) if value is not None else "n/d"


def _trend(r: dict[str, Any]) -> dict[str, str]:
    ratio = "" if r["last"] is None else _with_ci(r["ratio"], r["ratio_lo"], r["ratio_hi"], _num)
    return {
        "last/prev": "" if r["last"] is None else f"{r['last']:,}/{r['previous']:,}",
        "rate ratio": ratio,
        "q": _p(r["q"]) + (" grew" if r["grew"] else ""),
    }


def _reasons(result: ContactsResult, wide: bool) -> None:
    rows = [
        {
            "reason": r["reason"], "department": r["department"], "contacts": f"{r['contacts']:,}",
            "share": _pct(r["share"]), **_trend(r),
            "self-service": _with_ci(
                r["self_service_rate"], r["self_service_lo"], r["self_service_hi"], _pct
            ),
            "assisted": _with_ci(r["assisted_rate"], r["assisted_lo"], r["assisted_hi"], _pct),
            "journeys": f"{r['decided']:,}", "cost": _money(r["cost"]),
        }
        for r in result.records()
    ]  # fmt: skip
    ctx = result.context
    render(_readable(rows, "reasons", wide), OutputFormat.table, title="Contacts by reason", wide=wide)
    _dim(
        f"Trend: {ctx['last_period'] or 'n/d'} against {ctx['previous_period'] or 'n/d'} (the last two "
        "complete periods), rate ratio with exact 95% interval; q: Benjamini-Hochberg across reasons. "
        "Resolution: share of the reason's journeys with a final outcome (journeys) resolved without "
        "or with an assisted contact, Wilson 95%."
    )


def _avoidable(result: ContactsResult, wide: bool) -> None:
    rows = [
        {
            "#": str(r["rank"]), "touchpoint": r["touchpoint"], "exposures": f"{r['exposures']:,}",
            "contact rate": _with_ci(r["contact_rate"], r["contact_rate_lo"], r["contact_rate_hi"], _pct),
            "peers": _pct(r["peer_rate"]),
            "excess contacts": _with_ci(r["excess_contacts"], r["excess_lo"], r["excess_hi"], _num),
            "avoidable cost": _money(r["avoidable_cost"]),
        }
        for r in result.records()
    ]  # fmt: skip
    render(
        rows, OutputFormat.table, title="Avoidable contacts: digital touchpoints before a contact", wide=wide
    )
    tops = [r for r in result.parts.get("by_reason", []) if r["rank"] == 1]
    if tops:
        _dim("Top by reason: " + "; ".join(f"{r['reason']}: {r['touchpoint']}" for r in tops) + ".")
    _dim(
        f"Contact rate: exposures followed by a journey's first assisted contact within "
        f"{result.context['window']}; excess: beyond the rate of its peers (other variants, else its "
        "channel in the same journey type), ranked by its lower bound - an association, not a cause."
    )


def _repeats(result: ContactsResult, wide: bool) -> None:
    rows = [
        {
            "channels": r["channels"], "repeats": f"{r['repeats']:,}",
            "repeat rate": "" if r["contacts"] is None else _with_ci(
                r["repeat_rate"], r["repeat_lo"], r["repeat_hi"], _pct
            ),
            "switched": f"{r['switched']:,}",
            "reason repeated": _with_ci(
                r["repeated_reason_rate"], r["repeated_reason_lo"], r["repeated_reason_hi"], _pct
            ) + f" ({r['repeated_reason']:,}/{r['stated']:,})",
        }
        for r in result.records()
    ]  # fmt: skip
    render(_readable(rows, "channel pairs", wide), OutputFormat.table, title="Repeat contacts", wide=wide)
    _dim(
        "Reason repeated: share of repeats after a channel or agent switch (both with a stated reason) "
        "where the customer stated the same reason again (context lost); Wilson 95%."
    )


def _signals(result: ContactsResult, wide: bool) -> None:
    rows = [
        {
            "department": r["department"], "reason": r["reason"], **_trend(r), "cost": _money(r["cost"]),
            "example": r["examples"][0] if r["examples"] else "",
        }
        for r in result.records()
    ]  # fmt: skip
    title = f"Signals per department, period starting {result.context['last_period'] or 'n/d'}"
    render(rows, OutputFormat.table, title=title, wide=wide)


_VIEWS: dict[str, Callable[[ContactsResult, bool], None]] = {
    "reasons": _reasons,
    "avoidable": _avoidable,
    "repeats": _repeats,
    "signals": _signals,
}


def contacts(result: ContactsResult, spec: Any, *, wide: bool = False) -> None:
    """The table of the view asked for, with the notes that say how to read it."""
    _VIEWS[result.context["view"]](result, wide)
    if result.context["cost_reason"]:
        _undefined({"cost": result.context["cost_reason"]})
