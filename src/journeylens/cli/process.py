"""Discovery commands (process): ``dfg``, ``variants`` and ``export xes``.

Each command builds the same typed spec as the Python API from the shared filter options; a
threshold pydantic refuses becomes an ``InputError`` naming the flag.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.markup import escape

from journeylens.cli._filters import (
    ChannelOpt,
    KeyOpt,
    OutcomeOpt,
    SegmentOpt,
    SinceOpt,
    TypeOpt,
    UntilOpt,
    WhereOpt,
    activity_key,
    journey_filter,
)
from journeylens.cli._output import OutputFormat, err_console, render, render_machine
from journeylens.cli.app import FormatOpt, WorkspaceOpt, app, export_app
from journeylens.errors import InputError
from journeylens.workspace import Workspace

SpecT = TypeVar("SpecT", bound=BaseModel)

_FLAGS = {
    "min_node_events": "--min-events",
    "min_edge_count": "--min-count",
    "max_nodes": "--max-nodes",
    "max_edges": "--max-edges",
    "coverage": "--coverage",
    "limit": "--limit",
}


def _spec(model: type[SpecT], **fields: Any) -> SpecT:
    """Validate ``fields`` into ``model``; the first problem names its flag and the accepted range."""
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "?"
        flag = _FLAGS.get(name, name)
        raise InputError.bad_flag(
            flag,
            str(fields.get(name)),
            str(first["msg"]).removeprefix("Value error, ") + ".",
            hint=f"See `journeylens {'variants' if 'coverage' in fields else 'dfg'} --help`.",
        ) from None


@app.command()
def dfg(
    journey_type: TypeOpt = None,
    segment: SegmentOpt = None,
    channel: ChannelOpt = None,
    outcome: OutcomeOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    where: WhereOpt = None,
    key: KeyOpt = "touchpoint",
    min_count: Annotated[int, typer.Option("--min-count", help="Hide transitions seen fewer times.")] = 1,
    min_events: Annotated[int, typer.Option("--min-events", help="Hide activities with fewer events.")] = 1,
    max_nodes: Annotated[
        int | None, typer.Option("--max-nodes", help="Show at most this many activities (most frequent).")
    ] = None,
    max_edges: Annotated[
        int | None, typer.Option("--max-edges", help="Show at most this many transitions (most frequent).")
    ] = None,
    workspace: WorkspaceOpt = Path("."),
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Directly-follows process map: activities, transitions with times, start and end activities.

    JSON is one object (nodes, edges, start_activities, end_activities, totals); CSV is the edges.
    """
    from journeylens.discovery.dfg import MapSpec, duration_text, process_map

    spec = _spec(
        MapSpec,
        filter=journey_filter(journey_type, segment, channel, outcome, since, until, where),
        key=activity_key(key),
        min_edge_count=min_count,
        min_node_events=min_events,
        max_nodes=max_nodes,
        max_edges=max_edges,
    )
    result = process_map(Workspace.open(workspace).store, spec)
    if render_machine(result, fmt):
        return
    t = result.totals
    render(result.nodes.to_pylist() or [{"activities": 0}], fmt, title="Activities")
    transitions = [
        {
            **{k: e[k] for k in ("source", "target", "count", "journeys")},
            **{k.removesuffix("_s"): duration_text(e[k]) for k in ("median_s", "mean_s", "p90_s")},
        }
        for e in result.records()
    ]
    render(transitions or [{"transitions": 0}], fmt, title="Transitions (time from source to target)")
    render(result.start_activities.to_pylist(), fmt, title="Start activities")
    render(result.end_activities.to_pylist(), fmt, title="End activities")
    err_console.print(
        f"{t['journeys']:,} journeys, {t['events']:,} events ({spec.filter.describe()}); showing "
        f"{t['shown_activities']:,} of {t['activities']:,} activities and {t['shown_edges']:,} of "
        f"{t['edges']:,} transitions.",
        style="dim",
    )


@app.command()
def variants(
    journey_type: TypeOpt = None,
    segment: SegmentOpt = None,
    channel: ChannelOpt = None,
    outcome: OutcomeOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    where: WhereOpt = None,
    key: KeyOpt = "touchpoint",
    coverage: Annotated[
        float, typer.Option("--coverage", help="List the top variants covering this share of journeys.")
    ] = 0.8,
    limit: Annotated[int | None, typer.Option("--limit", help="List at most this many variants.")] = None,
    workspace: WorkspaceOpt = Path("."),
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Variants: distinct journey sequences with count, share, coverage, duration, success rate.

    JSON is one object (variants as records with ``steps`` and ``count``, totals); CSV the variants.
    """
    from journeylens.discovery.dfg import duration_text
    from journeylens.discovery.variants import ARROW, VariantSpec
    from journeylens.discovery.variants import variants as find_variants

    spec = _spec(
        VariantSpec,
        filter=journey_filter(journey_type, segment, channel, outcome, since, until, where),
        key=activity_key(key),
        coverage=coverage,
        limit=limit,
    )
    result = find_variants(Workspace.open(workspace).store, spec)
    if render_machine(result, fmt):
        return
    shown = [
        {
            "#": r["rank"],
            "journeys": r["count"],
            "share": f"{r['share']:.1%}",
            "cumulative": f"{r['coverage']:.1%}",
            "median time": duration_text(r["median_duration_s"]),
            "success": f"{r['success_rate']:.0%}",
            "steps": ARROW.join(r["steps"]),
        }
        for r in result.records()
    ]
    t = result.totals
    render(shown, fmt, title="Variants")
    err_console.print(
        f"{t['shown']:,} of {t['variants']:,} variants, covering {t['coverage']:.1%} of "
        f"{t['journeys']:,} journeys ({spec.filter.describe()}).",
        style="dim",
    )


@export_app.command("xes")
def export_xes_command(
    out: Annotated[Path, typer.Argument(help="File to write (.xes, or .xes.gz for gzip).")],
    journey_type: TypeOpt = None,
    segment: SegmentOpt = None,
    channel: ChannelOpt = None,
    outcome: OutcomeOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    where: WhereOpt = None,
    workspace: WorkspaceOpt = Path("."),
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Write the selected journeys as an XES event log (one trace per journey), e.g. for pm4py."""
    from journeylens.discovery.xes_export import export_xes

    flt = journey_filter(journey_type, segment, channel, outcome, since, until, where)
    result = export_xes(Workspace.open(workspace).store, flt, out)
    if fmt is OutputFormat.table:
        err_console.print(f"{result.traces:,} traces, {result.events:,} events written to {escape(str(out))}")
        return
    render(result.to_dict(), fmt)
