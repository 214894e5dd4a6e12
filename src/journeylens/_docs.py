"""Reference documents generated from the code (data model, CLI), so docs cannot drift.

``python -m journeylens._docs`` rewrites ``docs/data-model.md`` and ``docs/cli.md``; a test fails
when the committed files differ from what the code generates.
"""

from __future__ import annotations

import sys
from pathlib import Path

from journeylens.store.schema import (
    INGESTS_DOC,
    INGESTS_SCHEMA,
    QUARANTINE_DOC,
    QUARANTINE_SCHEMA,
    RAW_TABLES,
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

Every raw table has an idempotency key. When a source lacks it, the key is an MD5 of the record's
canonical content: re-ingesting a file loads nothing new, and a record repeated inside a file (or
across files) is counted as a duplicate, not loaded twice. Process logs legitimately repeat an
identical event at the same second; for them the record's position in the file is part of the key
(always for XES, or with `journeylens ingest --keep-identical`), so such events stay separate while
re-ingesting the same file still loads nothing new.

A source column whose name is also a system column (`source`, `ingest_seq`) is kept in the JSON
column under its own name. A channel that is neither canonical nor an alias is stored as `other`
with the original value in `properties.channel_raw`. Quarantined records keep their raw fields,
with e-mail and phone values hashed like stored ones.

Ties between equal timestamps are broken by `ingest_seq`, which keeps file order.
"""


def _type_name(dtype: object) -> str:
    return "timestamp (UTC)" if str(dtype).startswith("timestamp('UTC'") else str(dtype)


def data_model_markdown() -> str:
    out = [_DATA_MODEL_INTRO]
    for spec in RAW_TABLES.values():
        out.append(f"\n## `{spec.name}`\n\n{spec.doc}\n")
        key_note = f"Key: `{spec.key}`."
        if spec.one_of:
            key_note += " At least one of " + ", ".join(f"`{c}`" for c in spec.one_of) + " is required."
        out.append(key_note + "\n")
        out.append("| column | type | required | meaning |\n|---|---|---|---|")
        for col in spec.columns:
            required = "yes" if col.required else ("one of" if col.name in spec.one_of else "")
            meaning = col.doc + (f" Allowed: {', '.join(col.choices)}." if col.choices else "")
            out.append(f"| `{col.name}` | {_type_name(col.dtype)} | {required} | {meaning} |")
        for col in SYSTEM_COLUMNS:
            out.append(f"| `{col.name}` | {_type_name(col.dtype)} | system | {col.doc} |")
    for name, schema, docs in (
        ("quarantine", QUARANTINE_SCHEMA, QUARANTINE_DOC),
        ("ingests", INGESTS_SCHEMA, INGESTS_DOC),
    ):
        out.append(f"\n## `{name}` (system)\n")
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
    out.append("\n## Quarantine reasons\n")
    out.append("| reason | when |\n|---|---|")
    out.extend(f"| `{r.value}` | {_REASON_DOC[r]} |" for r in Reason)
    return "\n".join(out) + "\n"


_REASON_DOC = {
    Reason.MISSING_FIELD: "a required field, or all of a one-of group, is empty",
    Reason.BAD_TIMESTAMP: "not ISO 8601 (with or without offset), a date, or epoch seconds/milliseconds",
    Reason.BAD_NUMBER: "a numeric field (value, score, tenure) is not a number",
    Reason.BAD_VALUE: "a value outside its allowed set or range (direction, metric, score range)",
    Reason.FIELD_TOO_LARGE: "one field exceeds `[ingest] max_field_bytes`",
    Reason.RECORD_TOO_LARGE: "the whole record exceeds `[ingest] max_record_bytes`",
    Reason.MALFORMED_ROW: "a CSV row with a different number of fields than the header",
    Reason.NOT_AN_OBJECT: "a JSON Lines line that is valid JSON but not an object",
    Reason.BAD_JSON: "a line, or a `properties` value, that is not valid JSON (object)",
}


def write_all(root: Path) -> list[Path]:
    from journeylens.cli._reference import cli_markdown

    docs = root / "docs"
    docs.mkdir(exist_ok=True)
    written = []
    for name, text in (("data-model.md", data_model_markdown()), ("cli.md", cli_markdown())):
        path = docs / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_all(Path(sys.argv[1] if len(sys.argv) > 1 else ".")):
        print(path)
