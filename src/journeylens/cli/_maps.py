"""The file commands of ``journeylens map`` (validate, list): maps are read without the engine,
except to check touchpoint names against the events when some are loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from journeylens.errors import WorkspaceError


def validate_map(name_or_path: str, workspace: Path) -> dict[str, Any]:
    """Validate one map; inside a workspace also against its journey types and events.

    A map file given by path outside any workspace is checked on its own.
    """
    from journeylens.maps.loading import check_against, find_map, load_map
    from journeylens.workspace import Workspace

    try:
        ws: Workspace | None = Workspace.open(workspace)
    except WorkspaceError:
        if not Path(name_or_path).is_file():
            raise
        ws = None
    path = find_map(ws.root if ws is not None else Path("."), name_or_path)
    journey_map = load_map(path)
    checked = "format only (no workspace)"
    if ws is not None:
        try:
            touchpoints = _touchpoints(ws)
            check_against(journey_map, path, ws.config.journeys, touchpoints)
        finally:
            ws.close()
        checked = "format, journey type" + (", touchpoints against the events" if touchpoints else "")
    return {
        "name": journey_map.name,
        "journey_type": journey_map.journey_type,
        "segment": journey_map.segment,
        "stages": len(journey_map.stages),
        "rules": len(journey_map.rules),
        "valid": True,
        "checked": checked,
        "file": str(path),
    }


def _touchpoints(ws: Any) -> set[str]:
    """The touchpoints in the events (empty when none are loaded)."""
    store = ws.store
    events = store.table("events")
    column = store.execute(events.select("touchpoint").distinct()).column("touchpoint")
    return {str(v) for v in column.to_pylist() if v is not None}


def map_rows(workspace: Path) -> list[dict[str, Any]]:
    """One row per map file of the workspace (invalid ones say why)."""
    from journeylens.maps.loading import list_maps
    from journeylens.workspace import Workspace

    ws = Workspace.open(workspace)
    return [entry.to_dict() for entry in list_maps(ws.root, ws.config.journeys)]
