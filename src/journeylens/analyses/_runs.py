"""Run functions of the analyses whose engine entry point takes more than ``(store, spec)``.

Each adapts one engine function to the registry's calling convention; the engine is imported
on call, so the registry stays free of engine imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from journeylens.errors import InputError

if TYPE_CHECKING:
    from journeylens.discovery._compare import SegmentComparison
    from journeylens.discovery.touchpoints import TouchpointInventory
    from journeylens.discovery.xes_export import XesExport
    from journeylens.identity.profile import CustomerProfile
    from journeylens.journeys.summary import JourneySummary
    from journeylens.maps.draft import MapDraft
    from journeylens.specs.comparison import PeriodComparisonSpec, SegmentComparisonSpec
    from journeylens.specs.customer import CustomerSpec
    from journeylens.specs.discovery import InventorySpec, XesExportSpec
    from journeylens.specs.maps import MapDraftSpec
    from journeylens.specs.summary import JourneySummarySpec
    from journeylens.store import Store
    from journeylens.workspace import Workspace


def journeys_summary(ws: Workspace, spec: JourneySummarySpec) -> JourneySummary:
    """The summary, after checking ``--type`` against the workspace's journey types."""
    from journeylens.journeys.summary import journey_summary

    known = [*ws.config.journeys.types, "other"]
    if spec.journey_type is not None and spec.journey_type not in known:
        raise InputError.unknown_choice("--type", spec.journey_type, known)
    return journey_summary(ws.store, spec)


def customer(store: Store, spec: CustomerSpec) -> CustomerProfile:
    from journeylens.identity.profile import customer_profile

    return customer_profile(store, spec.key, timeline_limit=spec.limit)


def segments(ws: Workspace, spec: SegmentComparisonSpec | PeriodComparisonSpec) -> SegmentComparison:
    """Segments of a cohort, or two periods: whichever spec the options made; default metrics are
    the ones the workspace's journey types and the data define."""
    from journeylens.discovery.periods import period_comparison
    from journeylens.discovery.segments import compare_segments
    from journeylens.specs.comparison import PeriodComparisonSpec

    if isinstance(spec, PeriodComparisonSpec):
        return period_comparison(ws.store, spec, rules=ws.config.journeys)
    return compare_segments(ws.store, spec, rules=ws.config.journeys)


def touchpoints(ws: Workspace, spec: InventorySpec) -> TouchpointInventory:
    """The inventory, with the workspace's journey rules (costs, digital and assisted channels)."""
    from journeylens.discovery.touchpoints import touchpoint_inventory

    return touchpoint_inventory(ws.store, spec, ws.config.journeys)


def export_xes(store: Store, spec: XesExportSpec) -> XesExport:
    from journeylens.discovery.xes_export import export_xes as write_xes

    return write_xes(store, spec.filter, spec.out)


def map_draft(ws: Workspace, spec: MapDraftSpec) -> MapDraft:
    """Draft a map of a journey type of the workspace; with ``--out``, write it (and the schema
    beside it) — never over an existing file unless ``--force``."""
    import dataclasses
    import json

    from journeylens.maps.draft import draft_map
    from journeylens.maps.model import map_schema

    known = [*ws.config.journeys.types, "other"]
    if spec.journey_type not in known:
        raise InputError.unknown_choice("--type", spec.journey_type, known)
    out = spec.write_to
    if out is not None and out.exists() and not spec.force:
        raise InputError.bad_flag(
            "--out", str(out), "exists already.", hint="Pass --force to overwrite it, or name another file."
        )
    draft = draft_map(ws.store, spec)
    if out is None:
        return draft
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(draft.yaml, encoding="utf-8")
        schema = json.dumps(map_schema(), indent=2) + "\n"
        (out.parent / "map.schema.json").write_text(schema, encoding="utf-8")
    except OSError as exc:
        problem = f"cannot be written: {exc.strerror or exc}"
        raise InputError.unreadable(str(out), problem, "Check the folder and its permissions.") from exc
    return dataclasses.replace(draft, out=out)
