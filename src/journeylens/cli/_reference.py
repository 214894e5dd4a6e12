"""``docs/cli.md``, generated from the Typer app and the result types (see ``journeylens._docs``)."""

from __future__ import annotations

from typing import Any

import typer.main

from journeylens.analyses import ANALYSES, load
from journeylens.cli.app import app
from journeylens.ingest import IngestReport
from journeylens.store.names import RAW_TABLE_NAMES
from journeylens.store.schema import INGESTS_SCHEMA

_INTRO = """\
# Command-line reference

Generated from the code by `python -m journeylens._docs`; do not edit.

Every command takes `--workspace/-w DIR` (default: the current folder or the nearest parent with a
`journeylens.toml`). Commands that print results take `--format table|json|csv`: JSON is an array
of records (or an object for a single result) whose field names are listed below and kept stable;
CSV has the same fields as columns. JSON and CSV are complete: they list every row unless an
option asks for fewer (e.g. `variants --coverage/--limit`); the table view may show a readable cut
(the variants covering 80% of the journeys) and says what it left out. Tables fit an 80-column
terminal: the most important columns first, header names wrapped (never cut), long text folded
onto the next line, a rate and its interval in one cell; the columns that do not fit are named on
stderr and `--wide` shows them. NaN and infinite values are written as `null`, dates and times in
ISO 8601. A value the data does not define (a rate over nobody, a rate over journeys whose type has
no outcome criteria, a cost before `[journeys.costs]` is set) is `null`, and the same record
carries `<metric>_reason` (`reason` in records that name their `metric`): why, and the setting that
defines it; the table shows `n/d` and prints that reason under the table.
Errors go to stderr as `Error: ...` followed
by `Hint: ...`;
the exit status is 2 for invalid input or setup, 1 when `ingest` quarantined more records than
`--max-bad` allows (the valid records were loaded), and 0 on success.
"""


_NOTES = {
    "status": "With `--format csv` only the row counts are printed (one table per CSV); use "
    "`--format json` for the quarantine summary and the recent ingests.",
    "ingest": "Each file loads completely or not at all. A file that cannot be read is reported on "
    "stderr (`Failed: FILE: reason`, with a hint) and the other files are still loaded; the exit "
    "status is then 2. Exit status 1 means more records were quarantined than `--max-bad` allows; "
    "the valid records of every file were loaded all the same. A line under the summary counts "
    "local times that fell in a daylight-saving gap and were shifted forward (`dst_shifted`); "
    "another counts feedback that names no user_id, anonymous_id or case_id (`unlinked`): it is "
    "loaded, and belongs to no customer or journey.",
}


def _json_fields() -> dict[str, list[str]]:
    """JSON fields per command: the analyses' from their result types, the others' from here."""
    ingest = list(IngestReport("file.csv", "events", 1).to_dict())
    analyses = {a.name: list(load(a.result).JSON_FIELDS) for a in ANALYSES.values()}
    return analyses | {
        "ingest": ingest,
        "status": [
            "tables (object: table -> rows)",
            "unlinked_feedback (feedback rows with no user_id, anonymous_id or case_id)",
            "quarantine (records: table, reason, field, records, example_source, example_line)",
            "ingests (records: " + ", ".join(INGESTS_SCHEMA.names) + ")",
        ],
        # generate_world writes every raw table (synth.TABLES, in this order)
        "synth": ["out", "ground_truth", *RAW_TABLE_NAMES],
    }


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _param_line(param: Any) -> str:
    if param.param_type_name == "option":
        names = ", ".join(f"`{o}`" for o in param.opts)
    else:
        names = f"`{param.name.upper()}`"
    meaning = (getattr(param, "help", None) or "").strip()
    default = param.default
    if default not in (None, False, (), []) and param.param_type_name == "option":
        meaning += f" Default: `{default}`."
    return f"| {names} | {_cell(meaning)} |"


def _commands(group: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Every command by its full path (``journeys summary``), groups before their subcommands."""
    found: list[tuple[str, Any]] = []
    for name, command in sorted(group.commands.items()):
        found.append((prefix + name, command))
        if hasattr(command, "commands"):
            found.extend(_commands(command, f"{prefix}{name} "))
    return found


def cli_markdown() -> str:
    group = typer.main.get_command(app)
    out = [_INTRO]
    fields = _json_fields()
    for name, command in _commands(group):
        out.append(f"\n## `journeylens {name}`\n\n{(command.help or '').strip()}\n")
        params = [p for p in command.params if p.name != "help"]
        if params:
            out.append("| argument / option | meaning |\n|---|---|")
            out.extend(_param_line(p) for p in params)
        if name in fields:
            out.append(
                "\nJSON fields: " + ", ".join(f"`{f}`" if "(" not in f else f for f in fields[name]) + "."
            )
        if name in _NOTES:
            out.append("\n" + _NOTES[name])
    return "\n".join(out) + "\n"
