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
    from journeylens.maps._handle import validated
    from journeylens.maps.loading import find_map, load_map
    from journeylens.workspace import Workspace

    try:
        ws: Workspace | None = Workspace.open(workspace)
    except WorkspaceError:
        if not Path(name_or_path).is_file():
            raise
        ws = None
    path = find_map(ws.root if ws is not None else Path("."), name_or_path)
    if ws is None:
        journey_map, checked = load_map(path), "format only (no workspace)"
    else:
        try:
            journey_map, touchpoints = validated(ws, path)
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


def map_rows(workspace: Path) -> list[dict[str, Any]]:
    """One row per map file of the workspace (invalid ones say why)."""
    from journeylens.maps.loading import list_maps
    from journeylens.workspace import Workspace

    ws = Workspace.open(workspace)
    return [entry.to_dict() for entry in list_maps(ws.root, ws.config.journeys)]
