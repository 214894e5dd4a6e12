"""The terminal view of ``journeylens map show``: the drawing itself, or a stage table and the file."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.markup import escape

from journeylens._units import short_duration
from journeylens.cli._output import OutputFormat, console, err_console, render

if TYPE_CHECKING:
    from journeylens.maps.show import MapView


def map_show(result: MapView, spec: Any, *, wide: bool = False) -> None:
    """Printed formats go to stdout as they are; a written file gets the stages as a table."""
    if result.out is None:
        console.out(result.text, end="", highlight=False)
        return
    rows = [
        {
            "stage": s["stage"],
            "journeys": s["journeys"],
            "reach": f"{s['reach']:.0%}",
            "median": short_duration(s["median_s"]),
            "p80": short_duration(s["p80_s"]),
            "target": _target(s),
            "success": "" if s["success_rate"] is None else f"{s['success_rate']:.0%}",
            "channels": ", ".join(list(s["channels"])[:3]),
        }
        for s in result.stages
    ]
    render(rows, OutputFormat.table, title=f"Map {result.name}", wide=wide)
    t = result.totals
    err_console.print(
        f"[dim]{t['journeys']:,} journeys, {t['journeys_in_stages']:,} in the stages. "
        f"Map drawn to {escape(str(result.out))} (open it in a browser; it works offline and prints).[/]",
        soft_wrap=True,  # a path cut by a line break cannot be copied
    )


def _target(s: dict[str, Any]) -> str:
    if s["target_s"] is None:
        return ""
    verdict = {True: "met", False: "missed", None: "n/a"}[s["target_met"]]
    return f"{s['target_percentile']} {short_duration(s['target_s'])} {verdict}"
