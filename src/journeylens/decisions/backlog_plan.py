"""``backlog.yaml``: what the team decided about each opportunity (effort, status, decision, notes).

The file is optional and kept by hand next to ``journeylens.toml``::

    items:
      - id: avoidable-contact-web-billing-faq
        effort: 5          # days, or S / M / L (2, 10, 30 days)
        status: planned    # new, planned, doing, done, rejected
        decision: Rewrite the FAQ's top five answers
        notes: Owner agreed on 2026-03-02

An entry is matched to an opportunity by its stable ``id`` (a slug of the kind and the subject, as
``journeylens backlog`` prints it). Errors name the file, the line and the field, with a hint
(the same line-aware reading as maps and the theme taxonomy); an entry whose id names no known
opportunity is a typed :class:`UnknownEntry` warning in the result, never an error and never dropped.

Example:
    >>> plan = parse_plan("items:\\n  - id: a\\n    effort: M\\n", Path("backlog.yaml"))
    >>> plan.entries["a"].effort_days, plan.entries["a"].status
    (10.0, 'new')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from journeylens._yaml_lines import YamlFileError, compose_mapping, field_path, line_of, read_text

__all__ = ["EFFORT_SIZES", "BacklogFileError", "Plan", "PlanEntry", "Status", "UnknownEntry", "parse_plan"]

EFFORT_SIZES = {"S": 2.0, "M": 10.0, "L": 30.0}
"""T-shirt sizes in working days."""
HINT = "See docs/decisions.md, 'Backlog', for the layout of backlog.yaml."


class BacklogFileError(YamlFileError):
    """A backlog.yaml that cannot be used: ``path``, ``line`` (0 when unknown) and ``field``."""


class Status(StrEnum):
    new = "new"
    planned = "planned"
    doing = "doing"
    done = "done"
    rejected = "rejected"


class PlanEntry(BaseModel):
    """One entry of backlog.yaml."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    effort: float | str | None = None
    status: Status = Status.new
    decision: str | None = None
    notes: str | None = None

    @field_validator("effort")
    @classmethod
    def _effort(cls, value: float | str | None) -> float | str | None:
        if value is None:
            return None
        if isinstance(value, str):
            text = value.strip()
            if text.upper() in EFFORT_SIZES:
                return text.upper()
            match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*d(?:ays?)?", text)
            if not match:
                raise ValueError(f"effort {value!r} is neither days nor S/M/L")
            value = float(match.group(1))
        if value <= 0:
            raise ValueError(f"effort must be positive days (got {value})")
        return float(value)

    @property
    def effort_days(self) -> float | None:
        if isinstance(self.effort, str):
            return EFFORT_SIZES[self.effort]
        return self.effort


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[PlanEntry] = Field(default_factory=list)


@dataclass(frozen=True)
class UnknownEntry:
    """A backlog.yaml entry whose id matches no opportunity found in this run (a warning)."""

    id: str
    line: int
    path: str
    hint: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "unknown_entry",
            "id": self.id,
            "line": self.line,
            "path": self.path,
            "hint": self.hint,
        }


@dataclass(frozen=True)
class Plan:
    """The entries of backlog.yaml by id, with the line each starts on."""

    path: Path | None
    entries: dict[str, PlanEntry]
    lines: dict[str, int]

    def unknown(self, known: set[str]) -> list[UnknownEntry]:
        """Entries that name no known opportunity, with the closest known ids as the hint."""
        import difflib

        out = []
        for key in self.entries:
            if key in known:
                continue
            near = difflib.get_close_matches(key, sorted(known), n=2)
            hint = f"Did you mean {', '.join(near)}?" if near else "The finding may be gone (fixed?)."
            out.append(
                UnknownEntry(key, self.lines[key], str(self.path), hint + " Ids: `journeylens backlog`.")
            )
        return out


def parse_plan(text: str, path: Path) -> Plan:
    """backlog.yaml's entries, or a :class:`BacklogFileError` naming the line and the field."""
    expected = "expected a mapping with a list under 'items'"
    root, data = compose_mapping(text, path, BacklogFileError, expected, HINT)
    try:
        parsed = _File.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        problem = str(first["msg"]).removeprefix("Value error, ")
        hint = HINT
        if first["type"] == "extra_forbidden":
            allowed = ", ".join(PlanEntry.model_fields) if len(loc) > 2 else "items"
            problem, hint = f"unknown field {loc[-1]!r}; expected one of {allowed}", HINT
        elif first["type"] == "missing":
            problem, hint = "is required but missing", f"Add `{loc[-1]}:` here. {HINT}"
        elif first["type"] == "enum":
            hint = f"A status is one of {', '.join(s.value for s in Status)}."
        elif loc[-1:] == ("effort",):
            hint = "Effort is working days (5, '5d') or a size S, M, L (2, 10, 30 days)."
        raise BacklogFileError(path, line_of(root, loc), field_path(loc), problem.rstrip("."), hint) from None
    entries: dict[str, PlanEntry] = {}
    lines: dict[str, int] = {}
    for i, entry in enumerate(parsed.items):
        line = line_of(root, ("items", i, "id"))
        if entry.id in entries:
            raise BacklogFileError(
                path, line, field_path(("items", i, "id")),
                f"id {entry.id!r} is listed twice (first on line {lines[entry.id]})",
                "Keep one entry per id.",
            )  # fmt: skip
        entries[entry.id], lines[entry.id] = entry, line
    return Plan(path, entries, lines)


def load_plan(path: Path) -> Plan:
    """backlog.yaml at ``path``; an empty plan when the file does not exist (it is optional)."""
    if not path.exists():
        return Plan(None, {}, {})
    return parse_plan(read_text(path), path)
