"""The canonical data model, as data.

One :class:`TableSpec` per raw table drives everything that depends on the model: table creation
and migration in the store, per-record validation on ingest, and ``docs/data-model.md`` (a test
checks the document lists every column). Column names are fixed; extra source columns are kept in
the table's JSON column (``properties``, ``traits`` or ``attributes``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import ibis
import ibis.expr.datatypes as dt

from journeylens.store.names import CHANNELS, EMPLOYEE_METRICS, FEEDBACK_METRICS, TEXT, TRAINING

UTC_TIMESTAMP = dt.Timestamp(timezone="UTC")


class Kind(StrEnum):
    """How a column is parsed and checked on ingest."""

    TEXT = "text"
    TIMESTAMP = "timestamp"
    NUMBER = "number"
    INTEGER = "integer"
    JSON = "json"


class Reason(StrEnum):
    """Typed reason a record was quarantined (``quarantine.reason``)."""

    MISSING_FIELD = "missing_field"
    BAD_TIMESTAMP = "bad_timestamp"
    BAD_NUMBER = "bad_number"
    BAD_VALUE = "bad_value"
    FIELD_TOO_LARGE = "field_too_large"
    RECORD_TOO_LARGE = "record_too_large"
    MALFORMED_ROW = "malformed_row"
    NOT_AN_OBJECT = "not_an_object"
    BAD_JSON = "bad_json"
    NOT_FINITE = "not_finite"
    IMPOSSIBLE_TIMESTAMP = "impossible_timestamp"
    TOO_DEEP = "too_deep"
    ENCODING = "encoding"
    BAD_PROPENSITY = "bad_propensity"


_DTYPES: dict[Kind, dt.DataType] = {
    Kind.TEXT: dt.string,
    Kind.TIMESTAMP: UTC_TIMESTAMP,
    Kind.NUMBER: dt.float64,
    Kind.INTEGER: dt.int64,
    Kind.JSON: dt.json,
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    doc: str
    required: bool = False
    choices: tuple[str, ...] = ()
    """Allowed values (after normalisation); empty means any."""
    pii: bool = False
    """Normalised and stored only as a salted SHA-256 (see ``ingest.pii``)."""
    required_unless: tuple[str, str] | None = None
    """(column, value): required, except in records whose ``column`` is ``value`` (a feedback
    score, except for text-only feedback)."""
    required_when: tuple[str, str] | None = None
    """(column, value): required in records whose ``column`` is ``value`` only (the comment of
    text-only feedback)."""

    @property
    def dtype(self) -> dt.DataType:
        return _DTYPES[self.kind]


@dataclass(frozen=True)
class TableSpec:
    name: str
    doc: str
    columns: tuple[Column, ...]
    key: str
    """Idempotency key; derived from a content hash when the source lacks it."""
    extras: str | None = None
    """JSON column that receives every source column not in the model."""
    one_of: tuple[str, ...] = ()
    """At least one of these columns must be present in each record."""
    links: tuple[str, ...] = ()
    """Optional columns that link a record to a customer or journey; a record with none of them is
    kept and counted as unlinked (anonymous feedback: a review, a kiosk survey)."""
    occurrences: bool = False
    """Rows are occurrences (events, survey answers): identical key-less rows of a file are
    separate records, keyed by content and occurrence number. Otherwise (links, customers,
    agents, assignments) an identical row states the same fact again and is a duplicate."""

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def schema(self) -> ibis.Schema:
        """Stored schema: model columns plus the system columns."""
        cols = {c.name: c.dtype for c in self.columns}
        cols.update({c.name: c.dtype for c in SYSTEM_COLUMNS})
        return ibis.schema(cols)


DIRECTIONS = ("inbound", "outbound")

SYSTEM_COLUMNS: tuple[Column, ...] = (
    Column("source", Kind.TEXT, "File (or stream) the record came from."),
    Column(
        "ingest_seq",
        Kind.INTEGER,
        "Ingestion sequence: ingest id * 2^32 + record number in the source. Breaks timestamp "
        "ties deterministically and keeps file order among equal timestamps.",
    ),
)

_ID_DOC = "one of user_id / anonymous_id / case_id is required"
_LINK_DOC = (
    "optional: an answer without user_id, anonymous_id or case_id (a public review) is kept, "
    "linked to no customer or journey, and counted as unlinked"
)

EVENTS = TableSpec(
    name="events",
    doc="One row per touchpoint interaction.",
    key="event_id",
    extras="properties",
    one_of=("user_id", "anonymous_id", "case_id"),
    occurrences=True,
    columns=(
        Column("event_id", Kind.TEXT, "Idempotency key (Segment messageId); a content hash when absent."),
        Column("timestamp", Kind.TIMESTAMP, "When it happened, stored as a UTC instant.", required=True),
        Column("user_id", Kind.TEXT, f"Known customer id (login, CRM); {_ID_DOC}."),
        Column("anonymous_id", Kind.TEXT, "Device, cookie or other pre-login id."),
        Column("case_id", Kind.TEXT, "Explicit journey key from a source system: ticket, order, XES trace."),
        Column("channel", Kind.TEXT, "Normalised channel (aliases mapped, unknown values become 'other').",
               required=True, choices=CHANNELS),
        Column("touchpoint", Kind.TEXT, "The step: page, screen, IVR menu, contact reason, template, ...",
               required=True),
        Column("direction", Kind.TEXT, "inbound (customer-initiated) or outbound (company-initiated).",
               choices=DIRECTIONS),
        Column("agent_id", Kind.TEXT, "Employee who handled the interaction."),
        Column("value", Kind.NUMBER, "Money attached (revenue, refund)."),
        Column("properties", Kind.JSON, "Every other source attribute, as a JSON object."),
    ),
)  # fmt: skip

IDENTITIES = TableSpec(
    name="identities",
    doc="Links from an identifier (e-mail, phone, CRM id, alias) to a user_id or anonymous_id.",
    key="record_id",
    extras="properties",
    one_of=("user_id", "anonymous_id"),
    columns=(
        Column("record_id", Kind.TEXT, "Content hash of the record (idempotency key)."),
        Column("identifier_type", Kind.TEXT, "email, phone, crm_id, device_id, alias, ...", required=True),
        Column("identifier_value", Kind.TEXT,
               "The identifier; e-mail and phone are normalised and stored as salted SHA-256.",
               required=True, pii=True),
        Column("user_id", Kind.TEXT, "Known customer id the identifier belongs to."),
        Column("anonymous_id", Kind.TEXT, "Anonymous id the identifier was seen with."),
        Column("timestamp", Kind.TIMESTAMP, "When the link was observed (optional)."),
        Column("properties", Kind.JSON, "Other attributes of the link (source system, ...)."),
    ),
)  # fmt: skip

CUSTOMERS = TableSpec(
    name="customers",
    doc="Known customers and their traits (CRM extract).",
    key="record_id",
    extras="traits",
    columns=(
        Column("record_id", Kind.TEXT, "Content hash of the record (idempotency key)."),
        Column("user_id", Kind.TEXT, "Known customer id.", required=True),
        Column("traits", Kind.JSON, "Every other column (segment, country, signup date, ...)."),
    ),
)

FEEDBACK = TableSpec(
    name="feedback",
    doc="Survey answers and reviews: NPS, CSAT, CES or ratings, with free-text comments.",
    key="feedback_id",
    extras="properties",
    links=("user_id", "anonymous_id", "case_id"),
    occurrences=True,
    columns=(
        Column("feedback_id", Kind.TEXT, "Idempotency key; a content hash when absent."),
        Column("timestamp", Kind.TIMESTAMP, "When the answer was given (UTC instant).", required=True),
        Column("user_id", Kind.TEXT, f"Respondent's customer id; {_LINK_DOC}."),
        Column("anonymous_id", Kind.TEXT, "Respondent's anonymous id."),
        Column("case_id", Kind.TEXT, "Case or ticket the answer is about."),
        Column("channel", Kind.TEXT, "Channel the survey was about (normalised).", choices=CHANNELS),
        Column("touchpoint", Kind.TEXT, "Touchpoint the survey was about."),
        Column("metric", Kind.TEXT, "nps (0-10), csat (1-5), ces (1-7), rating (0-10), or text "
               "(text-only feedback: a post, transcript, complaint or call note).",
               required=True, choices=FEEDBACK_METRICS),
        Column("score", Kind.NUMBER, "The answer, within the metric's range; empty for metric text.",
               required_unless=("metric", TEXT)),
        Column("comment", Kind.TEXT, "Free-text comment; required for metric text.",
               required_when=("metric", TEXT)),
        Column("agent_id", Kind.TEXT, "Agent the answer is about."),
        Column("properties", Kind.JSON, "Every other attribute."),
    ),
)  # fmt: skip

AGENTS = TableSpec(
    name="agents",
    doc="Employees who handle interactions.",
    key="record_id",
    extras="attributes",
    columns=(
        Column("record_id", Kind.TEXT, "Content hash of the record (idempotency key)."),
        Column("agent_id", Kind.TEXT, "Employee id as used in events.agent_id.", required=True),
        Column("team", Kind.TEXT, "Team name."),
        Column("site", Kind.TEXT, "Site or location."),
        Column("tenure", Kind.NUMBER, "Tenure in months."),
        Column("attributes", Kind.JSON, "Every other column (skills, languages, ...)."),
    ),
)

ASSIGNMENTS = TableSpec(
    name="assignments",
    doc="Experiment assignments: which variant a user saw, from when.",
    key="record_id",
    extras="properties",
    one_of=("user_id", "anonymous_id"),
    columns=(
        Column("record_id", Kind.TEXT, "Content hash of the record (idempotency key)."),
        Column("user_id", Kind.TEXT, "Assigned customer id; one of user_id / anonymous_id is required."),
        Column("anonymous_id", Kind.TEXT, "Assigned anonymous id."),
        Column("experiment", Kind.TEXT, "Experiment name.", required=True),
        Column("variant", Kind.TEXT, "Variant name (control, treatment, ...).", required=True),
        Column("timestamp", Kind.TIMESTAMP, "When the assignment happened (UTC instant).", required=True),
        Column("properties", Kind.JSON, "Every other attribute."),
    ),
)  # fmt: skip

EMPLOYEE_FEEDBACK = TableSpec(
    name="employee_feedback",
    doc="What employees say and learn: engagement, eNPS and pulse answers, training completions.",
    key="record_id",
    extras="properties",
    occurrences=True,
    columns=(
        Column("record_id", Kind.TEXT, "Content hash of the record (idempotency key)."),
        Column("agent_id", Kind.TEXT, "Employee id as used in events.agent_id and agents.agent_id.",
               required=True),
        Column("timestamp", Kind.TIMESTAMP, "When the answer was given or the training completed (UTC).",
               required=True),
        Column("metric", Kind.TEXT, "enps (0-10), engagement (1-5), pulse (1-5), or training (a "
               "training or coaching course completed; no score).", required=True, choices=EMPLOYEE_METRICS),
        Column("score", Kind.NUMBER, "The answer, within the metric's range; empty for metric training.",
               required_unless=("metric", TRAINING)),
        Column("comment", Kind.TEXT, "Free text; for training, the course."),
        Column("properties", Kind.JSON, "Every other attribute."),
    ),
)  # fmt: skip

DECISIONS = TableSpec(
    name="decisions",
    doc="Logged next-best-action decisions: what the logging policy chose for a unit in a state, "
    "with the probability it had of choosing it (for off-policy evaluation, docs/nba.md).",
    key="decision_id",
    extras="properties",
    one_of=("user_id", "anonymous_id"),
    occurrences=True,
    columns=(
        Column("decision_id", Kind.TEXT, "Idempotency key; a content hash when absent."),
        Column("timestamp", Kind.TIMESTAMP, "When the decision was taken (UTC instant).", required=True),
        Column("user_id", Kind.TEXT, "Customer the decision was for; one of user_id / anonymous_id is "
               "required."),
        Column("anonymous_id", Kind.TEXT, "Anonymous id the decision was for."),
        Column("state", Kind.TEXT, "The unit's state as the policy saw it (e.g. support|track_order).",
               required=True),
        Column("action", Kind.TEXT, "The action taken (an entry of the action catalogue).", required=True),
        Column("propensity", Kind.NUMBER, "Probability the logging policy had of taking this action, in "
               "(0, 1]; empty when not logged (then no offline estimate is honest)."),
        Column("reward", Kind.NUMBER, "Observed outcome of the decision (1 = the journey succeeded)."),
        Column("journey_id", Kind.TEXT, "Journey the decision was taken in, when known."),
        Column("properties", Kind.JSON, "Every other attribute."),
    ),
)  # fmt: skip

RAW_TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (EVENTS, IDENTITIES, CUSTOMERS, FEEDBACK, AGENTS, ASSIGNMENTS, EMPLOYEE_FEEDBACK, DECISIONS)
}

QUARANTINE_SCHEMA = ibis.schema(
    {
        "ingest_id": dt.int64,
        "table": dt.string,
        "source": dt.string,
        "line": dt.int64,
        "raw": dt.string,
        "reason": dt.string,
        "field": dt.string,
        "message": dt.string,
    }
)
QUARANTINE_DOC = {
    "ingest_id": "Ingest run that first met the record (see `ingests`); a record is kept once per "
    "table, source, line, reason and raw text, however often its file is ingested.",
    "table": "Table the record was meant for.",
    "source": "File the record came from.",
    "line": "Physical line of the file (CSV: the header is line 1; JSON Lines: the first record is "
    "line 1), or the record number from 1 (XES event, Parquet row).",
    "raw": "The record as read, as a JSON object of its fields (or the raw line text).",
    "reason": "Typed reason code: " + ", ".join(r.value for r in Reason) + ".",
    "field": "Field at fault, when there is one.",
    "message": "Human-readable explanation.",
}

INGESTS_SCHEMA = ibis.schema(
    {
        "ingest_id": dt.int64,
        "table": dt.string,
        "source": dt.string,
        "started_at": UTC_TIMESTAMP,
        "finished_at": UTC_TIMESTAMP,
        "rows_read": dt.int64,
        "loaded": dt.int64,
        "duplicates": dt.int64,
        "quarantined": dt.int64,
        "suppressed": dt.int64,
    }
)
INGESTS_DOC = {
    "ingest_id": "Sequential id of the ingest run (one per source file).",
    "table": "Target table.",
    "source": "File that was read.",
    "started_at": "When reading started (UTC).",
    "finished_at": "When the batch committed (UTC).",
    "rows_read": "Records read from the file.",
    "loaded": "New records stored.",
    "duplicates": "Records already stored, or repeated inside the file.",
    "quarantined": "Records rejected into `quarantine`.",
    "suppressed": "Records naming a forgotten person (`suppressions`), dropped and counted "
    "(docs/privacy.md); empty for ingests before this column existed.",
}

BUILDS_SCHEMA = ibis.schema(
    {
        "build_id": dt.int64,
        "started_at": UTC_TIMESTAMP,
        "finished_at": UTC_TIMESTAMP,
        "ingest_watermark": dt.int64,
        "config_fingerprint": dt.string,
        "model_version": dt.int64,
        "mode": dt.string,
        "input_rows": dt.string,
    }
)
BUILDS_DOC = {
    "build_id": "Sequential id of the build of the derived tables (customer_map, journeys, journey_events, "
    "feedback_links).",
    "started_at": "When the build started (UTC); the row is written before any derived table.",
    "finished_at": "When every derived table was written (UTC); NULL while building, and for ever "
    "when the build was interrupted or failed (the next analysis then rebuilds).",
    "ingest_watermark": "Highest `ingests.ingest_id` when the build started (0: none): ingests "
    "after it that loaded rows into events, identities or customers make the model stale.",
    "config_fingerprint": "SHA-256 of the `[identity]` and `[journeys]` settings as canonical JSON: "
    "editing them makes the model stale.",
    "model_version": "Version of the derived tables' layout and rules this JourneyLens writes; "
    "tables of another version are rebuilt.",
    "mode": "`full` or `incremental` (only the customers the new data touches were recomputed).",
    "input_rows": "JSON: rows of events, identities, customers and feedback the build saw; fewer "
    "of them at or below the watermark later means rows were deleted, and the next build is full.",
}

ALERTS_SCHEMA = ibis.schema(
    {
        "map": dt.string,
        "stage": dt.string,
        "metric": dt.string,
        "direction": dt.string,
        "size": dt.float64,
        "size_z": dt.float64,
        "first_period": dt.date,
        "alarm_period": dt.date,
        "realarms": dt.int64,
        "last_alarm_period": dt.date,
        "evidence": dt.string,
        "created_at": UTC_TIMESTAMP,
    }
)
ALERTS_DOC = {
    "map": "Map name (`journeylens map monitor MAP`); each run replaces the rows of its map.",
    "stage": "Stage of the map, or `(journey)` for series about whole journeys.",
    "metric": "volume, conversion or resolution, time_within_target, missing_required_stage, "
    "feedback_<metric>.",
    "direction": "up or down.",
    "size": "Mean change over the alarm's run from the baseline centre, in the metric's units "
    "(a rate difference, journeys, a score).",
    "size_z": "The same in sigmas of the series' day-to-day variation.",
    "first_period": "Start of the period in which the change is dated to begin.",
    "alarm_period": "Start of the period whose value raised the first alarm.",
    "realarms": "Further alarms of the same change (the CUSUM restarts after each alarm).",
    "last_alarm_period": "Start of the period of the last of them (= alarm_period when none).",
    "evidence": "JSON: CUSUM value, threshold, reference k, target ARL, baseline centre, sigma_z, "
    "baseline periods and the z-scores of the run.",
    "created_at": "When the monitor ran (UTC).",
}

# Privacy (docs/privacy.md): what `journeylens forget` keeps. No personal data: the suppression
# list holds salted hashes only, the audit log no identifier at all.
SUPPRESSIONS_SCHEMA = ibis.schema(
    {"identifier_hash": dt.string, "request_id": dt.string, "added_at": UTC_TIMESTAMP}
)
SUPPRESSIONS_DOC = {
    "identifier_hash": "Salted SHA-256 of an identifier of a forgotten person as stored (user id, "
    "anonymous id, case id, or the stored hash of an e-mail or phone): records naming it are dropped "
    "on ingest and counted as `suppressed`.",
    "request_id": "The forget request that added it (`privacy_audit.request_id`).",
    "added_at": "When it was added (UTC).",
}
PRIVACY_AUDIT_SCHEMA = ibis.schema(
    {
        "request_id": dt.string,
        "requested_at": UTC_TIMESTAMP,
        "requested_by": dt.string,
        "identifiers": dt.int64,
        "rows_removed": dt.int64,
        "removed_by_table": dt.string,
        "suppressed": dt.int64,
    }
)
PRIVACY_AUDIT_DOC = {
    "request_id": "Random id of the forget request, returned to whoever asked (their receipt).",
    "requested_at": "When the deletion committed (UTC).",
    "requested_by": "Who asked: `cli:<login>` or `key:<key id>` of the admin token.",
    "identifiers": "Identifiers found for the person (user, anonymous, case ids, e-mails, ...).",
    "rows_removed": "Rows deleted in all.",
    "removed_by_table": "JSON: rows deleted per table.",
    "suppressed": "Identifier hashes added to `suppressions` (0 when all were there already).",
}
COLLECTOR_SEEN_SCHEMA = ibis.schema(
    {"source": dt.string, "message_id": dt.string, "ingest_id": dt.int64, "stored_at": UTC_TIMESTAMP}
)
COLLECTOR_SEEN_DOC = {
    "source": "Source of the write key the message came with (`journeylens keys create --source`).",
    "message_id": "Segment `messageId` (a hash of the message when it had none): a message whose "
    "(source, message_id) is here is never stored again, however often it is retried.",
    "ingest_id": "Loader run that stored it (see `ingests`).",
    "stored_at": "When the loader committed it to the store (UTC).",
}

SYSTEM_TABLES: dict[str, ibis.Schema] = {
    "quarantine": QUARANTINE_SCHEMA,
    "ingests": INGESTS_SCHEMA,
    "builds": BUILDS_SCHEMA,
    "alerts": ALERTS_SCHEMA,
    "suppressions": SUPPRESSIONS_SCHEMA,
    "privacy_audit": PRIVACY_AUDIT_SCHEMA,
    "collector_seen": COLLECTOR_SEEN_SCHEMA,
}
