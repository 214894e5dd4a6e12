"""Annotations on time series: what a CX team marks on its charts ("release 4.2", "billing
outage", "campaign start"), kept in ``WORKSPACE/annotations.toml`` so they are reviewed in git like
saved views and journey maps.

Each ``[[annotation]]`` has a ``date`` (a TOML date, or a datetime read as UTC), a ``label``, and
optionally a ``description`` and a scope: ``journey_type`` (only charts of that journey type) and
``page`` (only that dashboard page). An annotation is named by a short id derived from what it
says, so a file edited by hand needs no ids and two identical annotations cannot exist.

Example:
    >>> note = Annotation(date="2024-03-04", label="release 4.2")
    >>> note.day.isoformat(), note.id
    ('2024-03-04', '3c536f3b1b')
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Annotated, Any

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from journeylens._toml_lines import line_of_key, read_toml
from journeylens.errors import InputError, NotFoundError

__all__ = [
    "ANNOTATIONS_FILE",
    "LABEL_MAX",
    "Annotation",
    "add_annotation",
    "load_annotations",
    "remove_annotation",
]

ANNOTATIONS_FILE = "annotations.toml"
LABEL_MAX = 80
"""A label is drawn on the chart beside its line: longer ones belong in the description."""
_HEADER = (
    "# Annotations on the dashboard's time series (docs/dashboard.md). One [[annotation]] each:\n"
    "# date (YYYY-MM-DD, or a datetime in UTC), label; optional description, journey_type, page.\n\n"
)
_HINT = (
    'An annotation is [[annotation]] with date = 2024-03-04 and label = "release 4.2" '
    "(description, journey_type and page are optional); see docs/dashboard.md."
)

_Text = Annotated[str, StringConstraints(strip_whitespace=True)]


class Annotation(BaseModel):
    """One mark on the time series."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    date: dt.datetime | dt.date = Field(description="When: a date, or a datetime (UTC when no offset).")
    label: Annotated[_Text, StringConstraints(min_length=1, max_length=LABEL_MAX)]
    description: Annotated[_Text, StringConstraints(max_length=1000)] | None = None
    journey_type: Annotated[_Text, StringConstraints(min_length=1, max_length=64)] | None = None
    page: Annotated[_Text, StringConstraints(min_length=1, max_length=64)] | None = None

    @field_validator("date", mode="before")
    @classmethod
    def _one_form(cls, value: Any) -> Any:
        # A form sends text: a bare date stays a date (a whole day), anything longer is a datetime.
        if isinstance(value, str) and len(value.strip()) == 10:
            return dt.date.fromisoformat(value.strip())
        return value

    @field_validator("date")
    @classmethod
    def _in_utc(cls, value: dt.datetime | dt.date) -> dt.datetime | dt.date:
        if isinstance(value, dt.datetime):
            value = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
        return value

    @field_validator("description", "journey_type", "page", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def day(self) -> dt.date:
        return self.date.date() if isinstance(self.date, dt.datetime) else self.date

    @property
    def x(self) -> str:
        """Where it goes on a plotly date axis."""
        if isinstance(self.date, dt.datetime):
            return self.date.strftime("%Y-%m-%d %H:%M:%S")
        return self.date.isoformat()

    @property
    def id(self) -> str:
        said = [self.x, self.label, self.description, self.journey_type, self.page]
        return hashlib.sha256(repr(said).encode()).hexdigest()[:10]

    def applies(self, *, page: str, journey_type: str | None) -> bool:
        """Whether it belongs on a chart of ``page`` filtered to ``journey_type``."""
        if self.page is not None and self.page != page:
            return False
        return self.journey_type is None or journey_type is None or self.journey_type == journey_type

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, **self.model_dump(mode="json")}


def load_annotations(root: Path) -> list[Annotation]:
    """The workspace's annotations in date order (none when there is no file)."""
    path = root / ANNOTATIONS_FILE
    if not path.is_file():
        return []
    text, data = read_toml(path, InputError, _HINT)
    unknown = sorted(set(data) - {"annotation"})
    if unknown or not isinstance(data.get("annotation", []), list):
        field = unknown[0] if unknown else "annotation"
        line = line_of_key(text, (field,))
        where = f"{path}, line {line}" if line else str(path)
        raise InputError(f"{where}: field '{field}': expected only [[annotation]] tables.", hint=_HINT)
    notes: list[Annotation] = []
    for index, raw in enumerate(data.get("annotation", [])):
        try:
            notes.append(Annotation.model_validate(raw))
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ("annotation", index, *first["loc"][:1])
            line = line_of_key(text, loc)
            where = f"{path}, line {line}" if line else str(path)
            field = ".".join(str(p) for p in loc)
            problem = "unknown field" if first["type"] == "extra_forbidden" else first["msg"]
            raise InputError(f"{where}: field '{field}': {problem}.", hint=_HINT) from None
    return sorted(notes, key=lambda n: (n.day, n.x, n.label))


def _write(root: Path, notes: list[Annotation]) -> None:
    entries = [n.model_dump(exclude_none=True) for n in sorted(notes, key=lambda n: (n.day, n.x, n.label))]
    # One [[annotation]] table per entry (tomli_w would write an inline array): a diff shows the
    # annotation that changed, and an error can name its line.
    text = _HEADER + "\n".join("[[annotation]]\n" + tomli_w.dumps(entry) for entry in entries)
    path = root / ANNOTATIONS_FILE
    partial = path.with_suffix(".toml.tmp")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)  # a reader never sees half a file


def add_annotation(root: Path, note: Annotation) -> list[Annotation]:
    """Add ``note`` to the file (an identical one is refused); the annotations after."""
    notes = load_annotations(root)
    if any(n.id == note.id for n in notes):
        raise InputError(
            f"An annotation {note.label!r} on {note.x} already exists.",
            hint="Change its label or date, or remove the existing one first.",
        )
    _write(root, [*notes, note])
    return load_annotations(root)


def remove_annotation(root: Path, note_id: str) -> Annotation:
    """Remove the annotation ``note_id`` names; it is returned."""
    notes = load_annotations(root)
    found = [n for n in notes if n.id == note_id]
    if not found:
        raise NotFoundError(
            f"No annotation with id {note_id!r} in {root / ANNOTATIONS_FILE}.",
            hint="Ids: " + (", ".join(f"{n.id} ({n.label})" for n in notes) or "no annotations yet") + ".",
        )
    _write(root, [n for n in notes if n.id != note_id])
    return found[0]
