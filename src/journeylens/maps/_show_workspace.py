"""``journeylens map show`` in a workspace: find and check the map, draw it, write or print it."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from journeylens.errors import InputError
from journeylens.maps.loading import open_map

if TYPE_CHECKING:
    from journeylens.maps.show import MapView
    from journeylens.specs.maps import MapShowFormat, MapShowSpec
    from journeylens.workspace import Workspace


def drawn(view: MapView, fmt: MapShowFormat) -> str:
    """The text of ``view`` in ``fmt``."""
    if fmt.value == "json":
        from journeylens.cli._output import to_json

        return to_json(view.to_dict()) + "\n"
    text: str = {"html": view.html, "mermaid": view.mermaid, "dot": view.dot}[fmt.value]()
    return text


def default_out(root: Path, view: MapView) -> Path:
    """Where the HTML goes without ``--out``: next to the map, ``maps/NAME.html``."""
    return root / "maps" / f"{view.name}.html"


def map_show(ws: Workspace, spec: MapShowSpec) -> MapView:
    """Draw the map ``spec.map`` of the workspace with its data; write it unless it goes to stdout."""
    from journeylens.maps.deviation_costs import stage_deviations
    from journeylens.maps.show import show_map
    from journeylens.specs.discovery import JourneyFilter
    from journeylens.voc.emotion_curve import stage_emotions

    journey_map, path = open_map(ws, spec.map)
    # The whole map's journeys: the deviations lane shows what `map check` finds for them (a
    # narrowed selection is drawn without it, as map check would select differently).
    whole = spec.filter == JourneyFilter(journey_type=spec.filter.journey_type, segment=spec.filter.segment)
    deviations = stage_deviations(ws.store, journey_map, ws.config.journeys) if whole else None
    emotions = stage_emotions(ws.store, journey_map) if whole else None
    view = show_map(
        ws.store, journey_map, deviations=deviations, flt=spec.filter, file=path, emotions=emotions
    )
    text = drawn(view, spec.format)
    if spec.to_stdout:
        return dataclasses.replace(view, text=text)
    out = spec.out if spec.out is not None else default_out(ws.root, view)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        problem = f"cannot be written: {exc.strerror or exc}"
        raise InputError.unreadable(str(out), problem, "Check the folder and its permissions.") from exc
    return dataclasses.replace(view, out=out, text=text)
