"""One designed map of a workspace, found by name: ``ws.map("purchase")``.

:class:`MapHandle` finds the map file (an unknown name fails as on the command line: the maps
folder, the maps it holds, close matches), reads and validates it; the generated subclass
:class:`journeylens._map_analyses.MapAnalyses` adds one method per analysis that takes a map
(``check``, ``show``, ``monitor``), with the options of its command.

Example:
    >>> purchase = ws.map("purchase")  # doctest: +SKIP
    >>> purchase.check().summary() == ws.map_check("purchase").summary()  # doctest: +SKIP
    True
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from journeylens.maps.model import JourneyMap
    from journeylens.workspace import Workspace

__all__ = ["MapHandle", "event_touchpoints", "validated"]


def event_touchpoints(ws: Workspace) -> set[str]:
    """The touchpoints in the workspace's events (empty when none are loaded)."""
    store = ws.store
    column = store.execute(store.table("events").select("touchpoint").distinct()).column("touchpoint")
    return {str(v) for v in column.to_pylist() if v is not None}


def validated(ws: Workspace, path: Path) -> tuple[JourneyMap, bool]:
    """The map at ``path``, checked against the workspace: its journey type and, when events are
    loaded, its touchpoint names; and whether the touchpoints were checked."""
    from journeylens.maps.loading import check_against, load_map

    journey_map = load_map(path)
    touchpoints = event_touchpoints(ws)
    check_against(journey_map, path, ws.config.journeys, touchpoints)
    return journey_map, bool(touchpoints)


class MapHandle:
    """A map of ``workspace`` by name (``maps/NAME.yaml``) or path; the file is read on use, so an
    edited map is seen at the next call."""

    def __init__(self, workspace: Workspace, name: str) -> None:
        from journeylens.maps.loading import find_map

        self.workspace = workspace
        self.name = name
        self.path: Path = find_map(workspace.root, name)

    @property
    def model(self) -> JourneyMap:
        """The map as designed (its YAML validated; see :meth:`validate` for the workspace checks)."""
        from journeylens.maps.loading import load_map

        return load_map(self.path)

    def validate(self) -> JourneyMap:
        """The map, checked as ``journeylens map validate`` checks it: every field and rule, its
        journey type in the workspace and (when events are loaded) its touchpoint names."""
        return validated(self.workspace, self.path)[0]

    def __repr__(self) -> str:
        return f"<journey map {self.name!r}: {self.path}>"
