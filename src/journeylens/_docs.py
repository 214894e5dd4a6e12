"""Reference documents generated from the code (data model, CLI), so docs cannot drift.

``python -m journeylens._docs`` rewrites ``docs/data-model.md``, ``docs/cli.md`` and the generated
workspace methods (``src/journeylens/_workspace_analyses.py``) and map methods
(``src/journeylens/_map_analyses.py``, ``ws.map(NAME).check()``) and the REST API's schema
(``docs/openapi.json``); a test fails when the committed
files differ from what the code generates.
"""

from __future__ import annotations

import sys
from pathlib import Path

from journeylens.journeys.feedback_link import LINK_COLUMNS
from journeylens.journeys.outcomes import JOURNEY_COLUMNS
from journeylens.store.schema import (
    ALERTS_DOC,
    ALERTS_SCHEMA,
    BUILDS_DOC,
    BUILDS_SCHEMA,
    COLLECTOR_SEEN_DOC,
    COLLECTOR_SEEN_SCHEMA,
    INGESTS_DOC,
    INGESTS_SCHEMA,
    PRIVACY_AUDIT_DOC,
    PRIVACY_AUDIT_SCHEMA,
    QUARANTINE_DOC,
    QUARANTINE_SCHEMA,
    RAW_TABLES,
    SUPPRESSIONS_DOC,
    SUPPRESSIONS_SCHEMA,
    SYSTEM_COLUMNS,
    Reason,
)

_DATA_MODEL_INTRO = """\
# Data model

Generated from `src/journeylens/store/schema.py` by `python -m journeylens._docs`; do not edit.

All timestamps are stored as UTC instants. Naive source timestamps are read in the workspace
time zone (`[workspace] timezone` in `journeylens.toml`). Column names are fixed; every source
column that is not part of the model is kept in the table's JSON column (`properties`, `traits`
or `attributes`). E-mail and phone identifiers are normalised (lower-case e-mail; E.164 phone,
using `[privacy] default_country_code` for national numbers) and stored only as salted SHA-256.

Every raw table has an idempotency key. When a source lacks it, the key is derived from the
record's canonical content. In `events` and `feedback`, whose rows are occurrences, identical
records are real records (a customer buying the same thing twice in a day): the key is the MD5 of
the content and the record's occurrence number among the identical records of its file, so every
row of a file loads, re-ingesting it loads nothing new, and the k-th identical copy has the same key
in every file, so an export that repeats stored rows and adds new ones loads only the new ones
(two files holding one copy each hold the same record). In the other tables an identical record
states the same fact again and is counted as a duplicate. A repeated source key (`event_id`) is
always a duplicate. `journeylens ingest --keep-identical` is accepted and changes nothing.

Quarantine is idempotent too: a bad record is kept once per table, file path, line, reason and raw
text, however often its file is ingested. Values that are NaN or infinite (`not_finite`), and
timestamps with a UTC offset beyond +-18:00 or a year outside 1-9999 (`impossible_timestamp`) are
quarantined. A naive local time that falls in a daylight-saving gap of the workspace zone (02:30 on
a night the clocks jump from 02:00 to 03:00) is stored shifted forward by the gap (03:30 local), as
Python's zoneinfo reads it with `fold=0`, and counted in the ingest summary (`dst_shifted`). This
holds for every form read as local time: ISO without an offset, `YYYYMMDD[HHMMSS]`, `31-Jul-18`,
a `--timestamp-format` without `%z`, and naive typed timestamps.

A source column whose name is also a system column (`source`, `ingest_seq`) is kept in the JSON
column under its own name. A channel that is neither canonical nor an alias is stored as `other`
with the original value in `properties.channel_raw`. Process-mining logs (XES, or pm4py's CSV layout
mapped with `--map`) have no channel concept: their events without one get `other`, and the ingest
summary says how to set one (`--channel`, or `--map channel=COLUMN`); any other file without a
channel column is refused with that hint. Quarantined records keep their raw fields,
with e-mail and phone values hashed like stored ones.

Text timestamps are read as ISO 8601 (with or without offset; a year of four digits), a date,
compact `YYYYMMDD[HHMMSS]`, epoch seconds or milliseconds (1990-2100), or a day, an English month
abbreviation and a year (`31-Jul-18`, `31-Jul-2018`: the month name says which number is the
day). Any other layout is quarantined as `bad_timestamp`, never guessed (`01-02-18` could be 1
February or 2 January): `journeylens ingest --timestamp-format '%d/%m/%y %H:%M'` names the strptime
layout of a file, and its text timestamps are then read with that format only. Two-digit years
(`%y`, and `31-Jul-18`) follow the POSIX pivot: 69-99 are 1969-1999, 00-68 are 2000-2068.

Ties between equal timestamps are broken by `ingest_seq`, which keeps file order.
"""

_BUILDS_INTRO = (
    "One row per build of the derived tables (`journeylens build`, or the automatic build an"
    ' analysis starts when the model is stale; see "When the model is rebuilt" in'
    " docs/configuration.md).\n"
)


def _type_name(dtype: object) -> str:
    return "timestamp (UTC)" if str(dtype).startswith("timestamp('UTC'") else str(dtype)


def data_model_markdown() -> str:
    out = [_DATA_MODEL_INTRO]
    for spec in RAW_TABLES.values():
        out.append(f"\n## `{spec.name}`\n\n{spec.doc}\n")
        key_note = f"Key: `{spec.key}`."
        if spec.one_of:
            key_note += " At least one of " + ", ".join(f"`{c}`" for c in spec.one_of) + " is required."
        if spec.links:
            key_note += (
                " " + ", ".join(f"`{c}`" for c in spec.links) + " link a record to a customer or journey;"
                " a record with none of them is loaded all the same, linked to nobody, and the ingest"
                " summary counts it as `unlinked`."
            )
        out.append(key_note + "\n")
        out.append("| column | type | required | meaning |\n|---|---|---|---|")
        for col in spec.columns:
            required = "yes" if col.required else ("one of" if col.name in spec.one_of else "")
            if col.required_unless:
                required = "unless {} {}".format(*col.required_unless)
            if col.required_when:
                required = "when {} {}".format(*col.required_when)
            meaning = col.doc + (f" Allowed: {', '.join(col.choices)}." if col.choices else "")
            out.append(f"| `{col.name}` | {_type_name(col.dtype)} | {required} | {meaning} |")
        for col in SYSTEM_COLUMNS:
            out.append(f"| `{col.name}` | {_type_name(col.dtype)} | system | {col.doc} |")
    for name, schema, docs in (
        ("quarantine", QUARANTINE_SCHEMA, QUARANTINE_DOC),
        ("ingests", INGESTS_SCHEMA, INGESTS_DOC),
        ("builds", BUILDS_SCHEMA, BUILDS_DOC),
        ("alerts", ALERTS_SCHEMA, ALERTS_DOC),
        ("suppressions", SUPPRESSIONS_SCHEMA, SUPPRESSIONS_DOC),
        ("privacy_audit", PRIVACY_AUDIT_SCHEMA, PRIVACY_AUDIT_DOC),
        ("collector_seen", COLLECTOR_SEEN_SCHEMA, COLLECTOR_SEEN_DOC),
    ):
        out.append(f"\n## `{name}` (system)\n")
        if name == "builds":
            out.append(_BUILDS_INTRO)
        out.append("| column | type | meaning |\n|---|---|---|")
        out.extend(f"| `{c}` | {_type_name(t)} | {docs[c]} |" for c, t in schema.items())
    out.append("\n## `customer_map` (derived, written by `journeylens build`)\n")
    out.append(
        "One row per identifier seen anywhere (events, identities, customers). Identifiers are linked"
        " by events that carry both a user id and an anonymous id, and by rows of `identities`;"
        " an identifier that reaches more known customers than `[identity] max_customers_per_identifier`"
        " (directly, or through one other identifier) is *shared*: it links nobody and is its own"
        " customer.\n"
    )
    out.append("| column | type | meaning |\n|---|---|---|")
    out.extend(
        f"| `{c}` | {t} | {d} |"
        for c, t, d in (
            ("identifier_type", "string", "user_id, anonymous_id, email, phone, crm_id, ..."),
            ("identifier_value", "string", "The identifier (e-mail and phone as salted SHA-256)."),
            ("customer_id", "string", "`c_` + 16 hex characters; stable across runs on the same data."),
            ("shared", "boolean", "The identifier was kept out of linking (family tablet, kiosk, ...)."),
        )
    )
    out.append("\n## `journeys` and `journey_events` (derived, written by `journeylens build`)\n")
    out.append(
        "Each event belongs to exactly one journey: an intent episode of one customer across"
        " channels and days, or the case when events carry a `case_id`. The rules are in"
        " `journeylens/journeys/segment.py` and docs/configuration.md (`[journeys]`);"
        " `journey_events(event_id, journey_id, step)` lists the events of each journey in order"
        " (step 1 is the first). `journeys` has one row per journey:\n"
    )
    out.append("| column | meaning |\n|---|---|")
    out.extend(f"| `{c}` | {JOURNEY_COLUMN_DOCS[c]} |" for c in JOURNEY_COLUMNS)
    out.append("\n## `feedback_links` (derived, written by `journeylens build`)\n")
    out.append(
        "One row per `feedback` answer, linked or not (unlinked answers are kept and counted, never"
        " dropped): the journey it is about and the step of that journey. The rule is in"
        " `journeylens/journeys/feedback_link.py` and docs/voc.md: by `case_id`, else the customer's"
        " most recent journey that started at or before the answer and ended at most"
        " `[journeys.feedback] window` before it (a journey still active at the answer qualifies),"
        " else unlinked.\n"
    )
    out.append("| column | meaning |\n|---|---|")
    out.extend(f"| `{c}` | {LINK_COLUMN_DOCS[c]} |" for c in LINK_COLUMNS)
    out.append("\n## Quarantine reasons\n")
    out.append("| reason | when |\n|---|---|")
    out.extend(f"| `{r.value}` | {_REASON_DOC[r]} |" for r in Reason)
    return "\n".join(out) + "\n"


JOURNEY_COLUMN_DOCS = {
    "journey_id": "`j_` + 16 hex characters of the customer and journey key; stable across rebuilds.",
    "customer_id": "The stitched customer (NULL for events that only carry a case id).",
    "journey_type": "A type from `[journeys.types]`, or `other` when no type claims any event.",
    "contact_reason": "The first `properties.contact_reason` an event of the journey states (billing, "
    "delivery, ...); with `[journeys] repeat_by_reason` a later journey stating another reason is "
    "not a repeat.",
    "case_id": "The case (ticket, order, trace) when the journey is a case.",
    "start": "First event (UTC).",
    "end": "Last event (UTC).",
    "outcome": "success, failed, abandoned, open, or unknown when the type has no success or failure "
    "criteria (see docs/configuration.md, Outcomes and their evidence).",
    "outcome_evidence": "The rule that decided the outcome: `success_event`, `failure_event` (observed: "
    "an event met the criteria), `negative_feedback` (observed: an answer overrode an inferred success), "
    "`no_repeat_after_contact`, `no_repeat_self_service` (inferred: no repeat journey within the repeat "
    "window), `open`, `no_outcome_event` (abandoned) or `no_criteria` (unknown).",
    "outcome_touchpoint": "The success or failure event that decided the outcome (NULL for other evidence).",
    "duration_s": "Seconds from the first to the last event.",
    "touchpoints": "Number of events.",
    "channels": "Number of distinct channels.",
    "channel_switches": "Consecutive events on different channels.",
    "first_channel": "Channel of the first event.",
    "last_channel": "Channel of the last event.",
    "first_touchpoint": "Touchpoint of the first event.",
    "last_touchpoint": "Touchpoint of the last event.",
    "digital_events": "Events on `[journeys] digital_channels`.",
    "assisted_contacts": "Agent-handled events on `[journeys] assisted_channels`.",
    "repeat_contacts": "Assisted contacts after the first.",
    "repeat_journey": "Another journey of the same type (and, with `repeat_by_reason`, not of another "
    "stated contact reason) started within the type's repeat window after this one ended.",
    "transfers": "Assisted events by a different agent within `transfer_window` of the previous one.",
    "leakage": "A digital channel was used before the first assisted contact.",
    "leakage_touchpoint": "The last digital touchpoint before the first assisted contact.",
    "first_contact_resolution": "One assisted contact, success, no repeat journey (NULL: no contact, "
    "or the outcome is open or unknown).",
    "time_to_resolution_s": "Seconds from the start to the success event (inferred successes: to the "
    "last contact, or to the last event of a self-service journey).",
    "cost_to_serve": "Sum of `[journeys.costs]` over the journey's contacts and digital events (NULL "
    "until `[journeys.costs]` is set).",
    "value": "Sum of the events' `value`. Both sums are exact to a millionth (added as whole millionths), "
    "so every engine gives the same total in any row order.",
}

LINK_COLUMN_DOCS = {
    "feedback_id": "The answer (`feedback.feedback_id`).",
    "customer_id": "The respondent's stitched customer (NULL: no user_id or anonymous_id).",
    "journey_id": "The journey the answer is about; NULL when unlinked.",
    "link": "`case` (same case_id), `window` (the customer's journey active at, or ended within the "
    "window before, the answer) or NULL (unlinked).",
    "step": "The journey's last step at or before the answer (`journey_events.step`), outbound "
    "messages no agent handled (the survey invitation) left out; NULL when unlinked, or when a case's "
    "answer precedes its first event.",
    "event_id": "The event of that step.",
    "touchpoint": "That step's touchpoint.",
    "channel": "That step's channel.",
    "agent_id": "The answer's agent_id, else the step's (NULL: neither names one).",
    "agent_from": "`feedback` or `step`: where agent_id came from (NULL: no agent).",
}

_REASON_DOC = {
    Reason.MISSING_FIELD: "a required field, or all of a one-of group, is empty",
    Reason.BAD_TIMESTAMP: "not ISO 8601 (with or without offset), a date, or epoch seconds/milliseconds",
    Reason.BAD_NUMBER: "a numeric field (value, score, tenure) is not a number",
    Reason.BAD_VALUE: "a value outside its allowed set or range (direction, metric, score range)",
    Reason.FIELD_TOO_LARGE: "one field exceeds `[ingest] max_field_bytes`",
    Reason.RECORD_TOO_LARGE: "the whole record exceeds `[ingest] max_record_bytes`",
    Reason.MALFORMED_ROW: "a CSV row with a different number of fields than the header, or a line "
    "where a quote opens and never closes (reading resumes at the next line)",
    Reason.NOT_AN_OBJECT: "a JSON Lines line that is valid JSON but not an object",
    Reason.BAD_JSON: "a line, or a `properties` value, that is not valid JSON (object)",
    Reason.NOT_FINITE: "a numeric field (value, score, tenure) is NaN or infinite (`inf`, `1e309`)",
    Reason.IMPOSSIBLE_TIMESTAMP: "a timestamp with a UTC offset beyond +-18:00 (`+25:00`) or a year "
    "outside 1-9999",
    Reason.TOO_DEEP: "a JSON Lines line nested deeper than 64 objects/arrays, or an XES event whose "
    "(or whose trace's) list/container attributes nest deeper than 64",
    Reason.ENCODING: "a record with bytes that are not valid in the file's `--encoding` (the message "
    "gives the byte offset)",
    Reason.BAD_PROPENSITY: "a decision whose `propensity` is outside (0, 1]: zero would make its "
    "inverse-propensity weight infinite and above one is not a probability (an empty propensity is kept).",
}


WORKSPACE_METHODS = Path("src/journeylens/_workspace_analyses.py")
MAP_METHODS = Path("src/journeylens/_map_analyses.py")
OPENAPI = Path("docs/openapi.json")


def write_all(root: Path) -> list[Path]:
    from journeylens.analyses._generate import map_methods_source, workspace_methods_source
    from journeylens.cli._reference import cli_markdown
    from journeylens.server.api import openapi_text

    (root / "docs").mkdir(exist_ok=True)
    written = []
    for name, text in (
        (Path("docs/data-model.md"), data_model_markdown()),
        (Path("docs/cli.md"), cli_markdown()),
        (WORKSPACE_METHODS, workspace_methods_source()),
        (MAP_METHODS, map_methods_source()),
        (OPENAPI, openapi_text()),
    ):
        path = root / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_all(Path(sys.argv[1] if len(sys.argv) > 1 else ".")):
        print(path)
