"""The report's "Journey maps" section: every designed map of the workspace, drawn with its data.

Each valid map in the workspace's ``maps/`` folder is drawn as ``journeylens map show`` draws it
(the same :class:`~journeylens.maps.show.MapView`, the same template); a map that is invalid or
matches no journey gets one sentence saying why, so the report never fails on a map. The section
is left out when the workspace has no maps (or the report is not written from a workspace).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from journeylens.errors import JourneyLensError, NotFoundError
from journeylens.journeys.build import require_journeys
from journeylens.maps.loading import list_maps
from journeylens.report.sections import Section
from journeylens.store import Store

if TYPE_CHECKING:
    from journeylens.journeys.definitions import JourneyRules

TITLE = "Journey maps"
INTRO = (
    "The designed maps of the workspace (maps/*.yaml), each drawn with what customers really do: "
    "stages as columns; per stage the journeys reaching it, the touchpoints with their volumes and "
    "channel mix, time in stage against the target, success, the expected emotion, pain points, "
    "deviations and owners. `journeylens map show MAP` draws one map on a page of its own."
)


def journey_maps_section(store: Store, rules: JourneyRules | None = None) -> Section | None:
    """One drawn map per valid map file; None when there are no maps or no journeys yet."""
    from journeylens.maps._drawing import map_fragment
    from journeylens.maps.deviation_costs import stage_deviations
    from journeylens.maps.show import show_map
    from journeylens.voc.emotion_curve import stage_emotions

    if store.root is None:
        return None
    entries = list_maps(store.root, rules)
    if not entries:
        return None
    try:
        require_journeys(store)
    except NotFoundError:
        return None
    blocks, notes = [], []
    for i, entry in enumerate(entries):
        if entry.map is None:
            notes.append(f"{entry.file.name} is not drawn: {entry.error}")
            continue
        try:
            deviations = stage_deviations(store, entry.map, rules)
            emotions = stage_emotions(store, entry.map)
            view = show_map(store, entry.map, deviations=deviations, file=entry.file, emotions=emotions)
        except JourneyLensError as exc:
            notes.append(f"{entry.file.name} is not drawn: {exc.message}")
            continue
        blocks.append(map_fragment(view, anchor=f"journey-map-{i}"))
    return Section(
        TITLE,
        intro=INTRO,
        notes=notes,
        blocks=blocks,
        facts={"Maps drawn": f"{len(blocks)} of {len(entries)}"},
    )
