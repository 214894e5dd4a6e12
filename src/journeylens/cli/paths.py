"""Discovery commands: ``journeylens paths`` (Sankey data) and ``journeylens touchpoints`` (inventory)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

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
from journeylens.cli.app import FormatOpt, WorkspaceOpt, app
from journeylens.errors import InputError
from journeylens.workspace import Workspace

_FLAGS = {"steps": "--steps", "top": "--top", "start": "--start", "end": "--end"}


@app.command("paths")
def paths_command(
    start: Annotated[
        str | None, typer.Option("--start", help="Paths after the first occurrence of this touchpoint.")
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--end", help="Paths before it; with --start, paths between the two."),
    ] = None,
    steps: Annotated[int, typer.Option("--steps", help="Depth of the paths (1-20).")] = 5,
    top: Annotated[
        int, typer.Option("--top", help="Activities kept per depth (1-100); the rest are 'other'.")
    ] = 10,
    journey_type: TypeOpt = None,
    segment: SegmentOpt = None,
    channel: ChannelOpt = None,
    outcome: OutcomeOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    where: WhereOpt = None,
    key: KeyOpt = "touchpoint",
    workspace: WorkspaceOpt = Path("."),
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Paths after, before or between touchpoints as Sankey links; each depth sums to the journeys.

    Without --start and --end, paths run from the start of every selected journey. A journey is
    anchored on the first occurrence of the touchpoint; journeys without it are counted apart.
    """
    from journeylens.discovery.paths import PathsSpec, paths

    flt = journey_filter(journey_type, segment, channel, outcome, since, until, where)
    try:
        spec = PathsSpec(start=start, end=end, steps=steps, top=top, key=activity_key(key), journeys=flt)
    except ValidationError as exc:
        raise _spec_error(exc) from None
    result = paths(Workspace.open(workspace).store, spec)
    if render_machine(result, fmt):
        return
    totals = result.totals()
    render([totals], fmt, title="Journeys")
    shown = [{k: v for k, v in link.items() if k not in ("carried",)} for link in result.records()]
    render(shown or [{"links": 0}], fmt, title=f"Paths ({spec.mode.value}, {spec.steps} steps)")
    err_console.print(
        f"Each step's counts sum to the {result.anchored_journeys:,} anchored journeys "
        "(drop-off and journey-start are carried to the last step).",
        style="dim",
    )


@app.command("touchpoints")
def touchpoints_command(
    journey_type: TypeOpt = None,
    segment: SegmentOpt = None,
    channel: ChannelOpt = None,
    outcome: OutcomeOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    where: WhereOpt = None,
    min_events: Annotated[int, typer.Option("--min-events", min=1, help="Hide rarer touchpoints.")] = 1,
    workspace: WorkspaceOpt = Path("."),
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Touchpoint inventory: every touchpoint x channel with volume, reach, stage, outcome, time,
    cost and feedback, by volume."""
    from journeylens.discovery.touchpoints import InventorySpec, touchpoint_inventory

    flt = journey_filter(journey_type, segment, channel, outcome, since, until, where)
    spec = InventorySpec(journeys=flt, min_events=min_events)
    ws = Workspace.open(workspace)
    inventory = touchpoint_inventory(ws.store, spec, ws.config.journeys)
    if render_machine(inventory, fmt):
        return
    rows = [_terminal_row(r) for r in inventory.records()]
    render(rows or [{"touchpoints": 0}], fmt, title=f"Touchpoints ({inventory.selected_journeys:,} journeys)")
    err_console.print(
        "success: rate of journeys through it (95% Wilson interval); stage: where in the journey "
        "it usually happens; next: median time to the next event; --format json for every column.",
        style="dim",
    )


def _terminal_row(row: dict[str, Any]) -> dict[str, Any]:
    rate = row["success_rate"]
    feedback = [
        f"{metric} {row[f'{metric}_mean']:.1f} (n={row[f'{metric}_responses']})"
        for metric in ("nps", "csat", "ces", "rating")
        if row[f"{metric}_responses"]
    ]
    next_s = row["median_time_to_next_s"]
    return {
        "touchpoint": row["touchpoint"],
        "channel": row["channel"],
        "events": row["events"],
        "journeys": f"{row['journeys']:,} ({row['journey_share']:.1%})",
        "stage": row["stage"],
        "success": f"{rate:.1%} ({row['success_lo']:.1%}-{row['success_hi']:.1%})"
        if rate is not None
        else "",
        "next": _duration(next_s),
        "cost": row["cost"],
        "feedback": "; ".join(feedback),
    }


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


def _spec_error(exc: ValidationError) -> InputError:
    first = exc.errors()[0]
    problem = str(first["msg"]).removeprefix("Value error, ")
    field = str(first["loc"][0]) if first["loc"] else ""
    flag = _FLAGS.get(field)
    if flag is None:
        return InputError(f"Invalid paths request: {problem}.", hint="See `journeylens paths --help`.")
    return InputError(f"Option {flag}: {problem}.", hint="See `journeylens paths --help`.")
