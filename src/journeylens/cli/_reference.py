"""``docs/cli.md``, generated from the Typer app and the result types (see ``journeylens._docs``)."""

from __future__ import annotations

from typing import Any

import typer.main

from journeylens.cli.app import app
from journeylens.ingest import IngestReport
from journeylens.store.schema import INGESTS_SCHEMA

_INTRO = """\
# Command-line reference

Generated from the code by `python -m journeylens._docs`; do not edit.

Every command takes `--workspace/-w DIR` (default: the current folder or the nearest parent with a
`journeylens.toml`). Commands that print results take `--format table|json|csv`: JSON is an array
of records (or an object for a single result) whose field names are listed below and kept stable;
CSV has the same fields as columns. Errors go to stderr as `Error: ...` followed by `Hint: ...`;
the exit status is 2 for invalid input or setup, 1 when `ingest` quarantined more records than
`--max-bad` allows (the valid records were loaded), and 0 on success.
"""


_NOTES = {
    "status": "With `--format csv` only the row counts are printed (one table per CSV); use "
    "`--format json` for the quarantine summary and the recent ingests.",
    "ingest": "Exit status 1 means more records were quarantined than `--max-bad` allows; the valid "
    "records of every file were loaded all the same.",
}


def _json_fields() -> dict[str, list[str]]:
    ingest = list(IngestReport("file.csv", "events", 1).to_dict())
    return {
        "ingest": ingest,
        "status": [
            "tables (object: table -> rows)",
            "quarantine (records: table, reason, field, records, example_source, example_line)",
            "ingests (records: " + ", ".join(INGESTS_SCHEMA.names) + ")",
        ],
        "dfg": [
            "key",
            "filter",
            "totals (object: journeys, events, activities, edges, transitions, shown_activities, "
            "shown_edges)",
            "nodes (records: activity, events, journeys, starts, ends, mean_step)",
            "edges (records: source, target, count, journeys, median_s, mean_s, p90_s)",
            "start_activities (records: activity, count)",
            "end_activities (records: activity, count)",
        ],
        "variants": [
            "key",
            "filter",
            "totals (object: journeys, variants, shown, shown_journeys, coverage)",
            "variants (records: rank, steps (list of activities), length, count, share, coverage, "
            "median_duration_s, successes, success_rate, success_ci_low, success_ci_high)",
        ],
        "paths": [
            "spec",
            "totals (object: mode, selected_journeys, anchored_journeys, journeys_without_anchor, ...)",
            "links (records: step_index, source, target, count, source_kind, target_kind, carried)",
            "nodes (records: depth, label, kind, count)",
        ],
        "touchpoints": [
            "spec",
            "selected_journeys",
            "rows (records: touchpoint, channel, events, customers, journeys, journey_share, "
            "median_position, stage, success_rate, success_lo, success_hi, success_n, success_d, "
            "median_time_to_next_s, assisted_contacts, charged_events, unit_cost, cost, "
            "<metric>_responses, <metric>_mean for nps, csat, ces, rating)",
        ],
        "funnel": [
            "spec",
            "steps (records: [breakdown], step, step_name, optional, units, dropped_off, "
            "conversion_from_previous, previous_units, conversion_from_previous_low, "
            "conversion_from_previous_high, conversion_from_first, first_units, "
            "conversion_from_first_low, conversion_from_first_high, median_seconds_from_previous, "
            "mean_seconds_from_previous, median_seconds_from_first, mean_seconds_from_first)",
            "after_drop_off (records: [breakdown], step, step_name, activity, units, share)",
        ],
        "segments": [
            "cohort or periods, baseline, reference_date, filter",
            "dimension",
            "groups (records: segment, members, customers, journeys)",
            "rows (records: segment, baseline, metric, kind, about, value, lo, hi, n, d, sd, "
            "baseline_value, diff, diff_lo, diff_hi, test, statistic, p, q, significant)",
        ],
        "synth": [
            "out",
            "ground_truth",
            "events",
            "identities",
            "customers",
            "feedback",
            "agents",
            "assignments",
        ],
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


def cli_markdown() -> str:
    group = typer.main.get_command(app)
    out = [_INTRO]
    fields = _json_fields()
    for name, command in sorted(group.commands.items()):  # type: ignore[attr-defined]
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
