"""``journeylens ingest``: load files into the workspace, with a progress bar and a readable
account of what was loaded, quarantined and linked (registered on the app in ``cli/app.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from journeylens.cli._commands import FormatOpt, WideOpt, WorkspaceOpt
from journeylens.cli._output import OutputFormat, err_console, first, render
from journeylens.cli._output import bar as _bar
from journeylens.errors import IngestFailedError, InputError, QuarantineLimitError

if TYPE_CHECKING:
    from journeylens.ingest import IngestReport, IngestSpec
    from journeylens.workspace import Workspace


def parse_mapping(pairs: list[str]) -> dict[str, str]:
    """``--map TARGET=SOURCE`` flags (see :func:`journeylens.ingest.spec.parse_mapping`)."""
    from journeylens.ingest.spec import parse_mapping as parse

    return parse(pairs)


def ingest(
    paths: Annotated[list[str], typer.Argument(help="Files, globs or folders.")],
    table: Annotated[
        str, typer.Option(help="events|identities|customers|feedback|agents|assignments")
    ] = "events",
    input_format: Annotated[str, typer.Option("--input-format", help="auto|csv|parquet|jsonl|xes")] = "auto",
    delimiter: Annotated[
        str | None,
        typer.Option(
            help="CSV delimiter (',', ';', tab, '|', or whitespace for runs of spaces/tabs in "
            "aligned text); default ',' (tab for .tsv)."
        ),
    ] = None,
    columns: Annotated[
        str | None,
        typer.Option(help="Column names of a file without a header row, comma-separated: a,b,c."),
    ] = None,
    encoding: Annotated[str, typer.Option(help="Text encoding, e.g. utf-8, latin-1.")] = "utf-8",
    quote: Annotated[str, typer.Option(help="CSV quote character.")] = '"',
    map_: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="TARGET=SOURCE column rename; repeatable. TARGET is a column of --table, with one "
            "SOURCE each.",
        ),
    ] = None,
    channel: Annotated[str | None, typer.Option(help="One channel for every record of these files.")] = None,
    touchpoint: Annotated[
        str | None, typer.Option(help="One touchpoint for every record of files without that column.")
    ] = None,
    metric: Annotated[
        str | None,
        typer.Option(
            help="One feedback metric (nps|csat|ces|rating; text for comments without scores) for files "
            "without that column."
        ),
    ] = None,
    timestamp_format: Annotated[
        str | None,
        typer.Option(
            "--timestamp-format",
            help="strptime format of text timestamps, e.g. '%d/%m/%Y %H:%M'; values that do not "
            "match are quarantined. Without it: ISO 8601, dates, 31-Jul-18, epochs. %y: 69-99 are "
            "19xx, 00-68 are 20xx.",
        ),
    ] = None,
    max_bad: Annotated[
        int, typer.Option("--max-bad", help="Quarantined records tolerated before exit 1.")
    ] = 0,
    keep_identical: Annotated[
        bool,
        typer.Option(
            "--keep-identical",
            help="No effect; kept for old scripts. Identical event or feedback records without an "
            "id are always loaded, each as its own record; re-ingesting a file loads nothing new.",
        ),
    ] = False,
    workspace: WorkspaceOpt = Path("."),
    fmt: FormatOpt = OutputFormat.table,
    wide: WideOpt = False,
) -> None:
    """Load files into a table; invalid records go to quarantine, valid ones are always loaded.

    Each file loads completely or not at all; a file that cannot be read is reported and the
    others are still loaded (the exit status is then 2)."""
    from journeylens.workspace import Workspace

    ws = Workspace.open(workspace)  # its channel aliases: an unknown --channel is one more bad option
    spec = _ingest_spec(
        ws.config.channels.aliases, paths=paths, table=table, format=input_format, delimiter=delimiter,
        columns=columns, encoding=encoding, quote=quote, mapping=map_ or [], channel=channel,
        touchpoint=touchpoint, metric=metric, timestamp_format=timestamp_format, max_bad=max_bad,
        keep_identical=keep_identical,
    )  # fmt: skip
    failure: IngestFailedError | None = None
    try:
        reports = _ingest_with_progress(ws, spec)
    except IngestFailedError as exc:
        failure, reports = exc, exc.reports
    _show_ingest(reports, fmt, ws.config.workspace.timezone, wide=wide)
    if failure is not None and len(reports) == 1:
        raise failure  # one file: its own message and hint say it all
    if failure is not None:
        failed = [r for r in reports if r.failed]
        for r in failed:
            err_console.print(Text.assemble(("Failed: ", "bold red"), r.error or ""), soft_wrap=True)
            if r.hint:
                err_console.print(Text.assemble(("  Hint: ", "bold"), r.hint), soft_wrap=True)
        raise InputError(
            f"{len(failed)} of {len(reports)} file(s) could not be loaded (listed above); "
            f"{len(reports) - len(failed)} file(s) were loaded.",
            hint="Fix the files listed above and ingest them again; loaded files will not load twice.",
        )
    bad = sum(r.quarantined_total for r in reports)
    if bad > spec.max_bad:
        raise QuarantineLimitError(
            f"{bad} record(s) were quarantined (valid records were loaded).",
            hint="See them with `journeylens status`; pass --max-bad N to accept up to N.",
        )


def _ingest_spec(aliases: dict[str, str], mapping: list[str], **fields: object) -> IngestSpec:
    """The spec; the --map flags, the --channel (against the workspace's aliases) and every other
    option are checked together, so that all bad options are reported at once."""
    from journeylens.ingest.spec import build_spec, split_mapping

    pairs, problems = split_mapping(mapping)
    return build_spec(problems, channel_aliases=aliases, mapping=pairs, **fields)


def _show_ingest(reports: list[IngestReport], fmt: OutputFormat, zone: str, *, wide: bool = False) -> None:
    if fmt is not OutputFormat.table:
        render([r.to_dict() for r in reports], fmt)
        return
    done = [r for r in reports if not r.failed]
    hidden = ("notes", "error", "hint", "dst_shifted", "unlinked")
    if done:
        rows = [{k: v for k, v in r.to_dict().items() if k not in hidden} for r in done]
        render(first(rows, INGEST_FIRST), fmt, title="Ingest summary", extra=("ingest_id", "seconds"),
               wide=wide)  # fmt: skip
    for note in dict.fromkeys(n for r in done for n in r.notes):
        err_console.print(Text(note), style="dim", soft_wrap=True)
    shifted = sum(r.dst_shifted for r in done)
    if shifted:
        err_console.print(Text(_dst_note(shifted, zone)), soft_wrap=True)
    unlinked = sum(r.unlinked for r in done)
    if unlinked:
        err_console.print(Text(_unlinked_note(unlinked)), soft_wrap=True)


def _unlinked_note(unlinked: int) -> str:
    return (
        f"{unlinked:,} record(s) name no user_id, anonymous_id or case_id (anonymous feedback): "
        "they are kept and count in feedback totals, but belong to no customer or journey. Map a "
        "respondent column with --map user_id=COLUMN to link them."
    )


def _dst_note(shifted: int, zone: str) -> str:
    return (
        f"{shifted:,} local time(s) fell in a daylight-saving gap of {zone} (a time the clocks "
        "skipped) and were stored shifted forward by the gap, e.g. 02:30 on a 02:00->03:00 night "
        "as 03:30 local (zoneinfo's fold=0 rule)."
    )


_PROGRESS_FILES = 8


def _ingest_with_progress(ws: Workspace, spec: IngestSpec) -> list[IngestReport]:
    with _bar() as bar:
        tasks: dict[str, Any] = {}

        def progress(source: str, rows: int) -> None:
            if source not in tasks:
                # A folder of thousands of small files: show the latest few, not thousands of bars.
                if len(tasks) >= _PROGRESS_FILES:
                    bar.remove_task(tasks.pop(next(iter(tasks))))
                tasks[source] = bar.add_task(Path(source).name, total=None)
            bar.update(tasks[source], completed=rows)

        return ws.ingest(spec, progress=progress)


#: What a person reads first in the ingest summaries (at 80 columns); the rest follows, or --wide.
INGEST_FIRST = ("source", "table", "loaded", "duplicates", "quarantined", "finished_at")
