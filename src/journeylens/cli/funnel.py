"""Discovery commands (funnel)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

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
from journeylens.discovery.funnel import FunnelBreakdown, FunnelOrder, FunnelUnit, funnel, funnel_spec
from journeylens.errors import InputError
from journeylens.workspace import Workspace


def _choice(flag: str, value: str | None, enum: type[StrEnum]) -> Any:
    if value is None:
        return None
    try:
        return enum(value)
    except ValueError:
        raise InputError.unknown_choice(flag, value, [m.value for m in enum]) from None


@app.command("funnel")
def funnel_command(
    steps: Annotated[list[str], typer.Argument(help="The steps, in order (see the syntax above).")],
    order: Annotated[str, typer.Option(help="ordered, strict (nothing in between) or any.")] = "ordered",
    window: Annotated[str, typer.Option(help="Conversion window from step 1: 30m, 2h, 14d, 1w.")] = "14d",
    unit: Annotated[str, typer.Option(help="Who converts: customer or journey.")] = "customer",
    by: Annotated[
        str | None, typer.Option(help="Split by segment, channel (entry channel) or variant.")
    ] = None,
    experiment: Annotated[str | None, typer.Option(help="Experiment, with --by variant.")] = None,
    segment_trait: Annotated[str, typer.Option(help="Customer trait for --by segment.")] = "segment",
    exclude: Annotated[
        list[str] | None,
        typer.Option(
            "--exclude", help="STEP or STEP@FROM-TO: voids attempts with it in between (repeatable)."
        ),
    ] = None,
    top: Annotated[int, typer.Option(min=1, help="Next activities listed per drop-off step.")] = 5,
    key: KeyOpt = "touchpoint",
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
    r"""How many customers (or journeys) get through STEP STEP ..., how fast, and where the rest went.

    STEP syntax: 'checkout' (touchpoint, any channel), 'web:checkout', 'chat:*' (a whole channel),
    'pricing|plans' (either), '?coupon' (optional), 'checkout\[plan=pro]' (event property). Quote
    steps that contain | \[ ] ? for your shell.

    Example: journeylens funnel home product_page checkout order_confirmation --window 2h --by segment
    """
    spec = funnel_spec(
        steps=steps,
        order=_choice("--order", order, FunnelOrder),
        window=window,
        unit=_choice("--unit", unit, FunnelUnit),
        by=_choice("--by", by, FunnelBreakdown),
        experiment=experiment,
        segment_trait=segment_trait,
        exclusions=exclude or [],
        top=top,
        key=activity_key(key),
        journeys=journey_filter(journey_type, segment, channel, outcome, since, until, where),
    )
    result = funnel(Workspace.open(workspace).store, spec)
    if render_machine(result, fmt):
        return
    title = f"Funnel ({spec.order.value}, window {window}, per {spec.unit.value})"
    render(result.compact(), fmt, title=title)
    after = result.after_drop_off.to_pylist()
    if after:
        for row in after:
            row["share"] = f"{row['share']:.1%}"
        render(after, fmt, title="Where they went after dropping off (next activity within the window)")
    err_console.print(
        "Rates: 95% Wilson interval, units/denominator; 'from previous' divides by the previous "
        "required step.",
        style="dim",
    )
