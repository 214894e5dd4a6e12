"""Forgetting a person: their rows go from every table, their identifiers on the suppression list,
and an audit row records the request (docs/privacy.md).

Everything happens in one transaction (on engines with transactions): the answer to the caller is
given only after the deletion, the suppression list and the audit row have committed together.
Forgetting someone nobody knows still lists their user id, so events naming them later are
dropped: the request is idempotent, and a second one removes nothing and lists nothing new.

Example:
    >>> report = forget(ws, "u42", requested_by="cli:ann")  # doctest: +SKIP
    >>> report.rows_removed, report.removed["events"]  # doctest: +SKIP
    (57, 31)
"""

from __future__ import annotations

import datetime as _dt
import json
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from journeylens.errors import InputError, JourneyLensError
from journeylens.privacy.erase import erase
from journeylens.privacy.subject import IDS, find_subject
from journeylens.privacy.suppression import add_suppressions
from journeylens.store._working import drop_scratch
from journeylens.store.schema import PRIVACY_AUDIT_SCHEMA

if TYPE_CHECKING:
    from journeylens.workspace import Workspace

__all__ = ["AUDIT", "ForgetReport", "forget"]

AUDIT = "privacy_audit"
_ROW_KEYS = ("customer_id", "journey_id", "event_id", "feedback_id")
"""Kinds that name rows, not the person: deleted with them, never listed for suppression."""


@dataclass(frozen=True)
class ForgetReport:
    """What one forget request did. Holds counts only: no identifier of the person."""

    request_id: str
    requested_at: _dt.datetime
    requested_by: str
    identifiers: dict[str, int]
    """Identifiers found, by kind (user_id, anonymous_id, email, case_id, ...)."""
    removed: dict[str, int]
    """Rows deleted, by table (tables where none were are left out)."""
    suppressed: int
    """Identifier hashes newly put on the suppression list."""
    notes: list[str] = field(default_factory=list)

    @property
    def rows_removed(self) -> int:
        return sum(self.removed.values())

    @property
    def found(self) -> bool:
        """Whether any row of the person was stored."""
        return self.rows_removed > 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "requested_at": self.requested_at.isoformat(),
            "requested_by": self.requested_by,
            "found": self.found,
            "identifiers": dict(self.identifiers),
            "rows_removed": self.rows_removed,
            "removed": dict(self.removed),
            "suppressed": self.suppressed,
            "notes": list(self.notes),
        }


def forget(workspace: Workspace, user_id: str, *, requested_by: str) -> ForgetReport:
    """Delete the person known by ``user_id`` from every table and suppress their identifiers.

    The model is brought up to date first (unless only earlier forgets changed it), so
    identifiers linked since the last build are found
    through the identity graph; if it cannot be built, the last customer_map and the raw links
    are used (and a note says so). Customer journeys and other derived rows are deleted at once;
    the model is then stale, so the next analysis rebuilds it, learned text models included.
    """
    user_id = user_id.strip()
    if not user_id:
        raise InputError.bad_flag("USER", user_id, "is empty.", hint="Give the person's user id.")
    notes: list[str] = []
    try:
        _refresh_links(workspace)
    except JourneyLensError as exc:
        notes.append(
            f"The model could not be rebuilt first ({exc.message}); "
            "the last customer map and the raw links were used."
        )
    store, privacy = workspace.store, workspace.config.privacy
    request_id = uuid.uuid4().hex
    try:
        with store.transaction():
            ids = find_subject(store, user_id)
            kinds = store.execute(ids.group_by("kind").agg(n=ids.count())).to_pylist()
            identifiers = {str(r["kind"]): int(r["n"]) for r in sorted(kinds, key=lambda r: r["kind"])}
            removed = erase(store, ids, privacy.salt, privacy.default_country_code)
            listed = ids.filter(~ids.kind.isin(_ROW_KEYS))
            suppressed = add_suppressions(store, listed, privacy.salt, request_id)
            report = ForgetReport(
                request_id, _dt.datetime.now(_dt.UTC), requested_by, identifiers, removed, suppressed, notes
            )
            _audit(workspace, report)
    finally:
        drop_scratch(store.backend, IDS)
    return report


def _refresh_links(workspace: Workspace) -> None:
    """Rebuild the model when data or settings changed since the last build, so links ingested
    since are found. Not when earlier forgets are all that changed: their deletions left the
    derived tables consistent, and a burst of requests must not rebuild once per person."""
    from journeylens.model import Staleness, model_state

    state = model_state(workspace.store, workspace.config)
    if set(state.reasons) - {Staleness.FORGOTTEN}:
        workspace.ensure_model(notice=lambda _line: None)


def _audit(workspace: Workspace, report: ForgetReport) -> None:
    row = {
        "request_id": [report.request_id],
        "requested_at": [report.requested_at],
        "requested_by": [report.requested_by],
        "identifiers": [sum(report.identifiers.values())],
        "rows_removed": [report.rows_removed],
        "removed_by_table": [json.dumps(report.removed, sort_keys=True)],
        "suppressed": [report.suppressed],
    }
    workspace.store.insert(AUDIT, pa.table(row, schema=PRIVACY_AUDIT_SCHEMA.to_pyarrow()))
