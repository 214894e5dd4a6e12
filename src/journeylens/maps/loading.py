"""Reading map files: YAML in, a :class:`~journeylens.maps.model.JourneyMap` out, or one error that
names the file, the YAML line and the field, says what was expected and ends with a hint.

PyYAML composes the document into nodes that keep their line; a pydantic error location
(``stages -> 2 -> time_target -> duration``) is walked down those nodes to the line that holds
the value. Checks that need the workspace — the journey type exists in its journey definitions,
the touchpoints occur in its events — run after the model is valid (:func:`check_against`).

Example:
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "purchase.yaml"
    >>> _ = path.write_text("journey_type: purchase\\ngoal: buy\\nstages:\\n  - name: buy\\n"
    ...                     "    touchpoints: [checkout]\\n    expected_emotion: happy\\n")
    >>> try:
    ...     load_map(path)
    ... except MapError as exc:
    ...     print(exc.line, exc.field)
    6 stages[0].expected_emotion
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from journeylens._yaml_lines import YamlFileError, compose_mapping, field_path, line_of, read_text
from journeylens.errors import InputError, close_matches
from journeylens.maps.model import JourneyMap, MapProblem

if TYPE_CHECKING:
    from yaml import Node

    from journeylens.journeys.definitions import JourneyRules

__all__ = ["MAP_SUFFIXES", "MapEntry", "MapError", "check_against", "find_map", "list_maps", "load_map"]

MAP_SUFFIXES = (".yaml", ".yml")
SCHEMA_HINT = "See docs/maps.md, or `journeylens map schema` for every field."
_DURATION_HINT = "Write a number and a unit: 30m, 2h, 3d or 1w."
_FIELD_HINTS = {
    "expected_emotion": "Use a whole number from -2 (very negative) to 2 (very positive), or leave it out "
    "until people decide.",
    "duration": _DURATION_HINT,
    "within": _DURATION_HINT,
    "percentile": "Write p80 for 80% of the journeys (p50 to p99).",
    "false_alarm_budget": "Write how many false alarms a period may bring, e.g. 1/month.",
    "channels": "Channels are the canonical ones: web, app, email, sms, whatsapp, social, chat, "
    "call_center, store, mail, other.",
}


class MapError(YamlFileError):
    """A map file that cannot be used: ``path``, ``line`` (1-based, 0 when unknown) and ``field``
    (``stages[2].time_target.duration``) say where."""


def _line(root: Node | None, loc: tuple[str | int, ...]) -> int:
    return line_of(root, loc)


_RULE_KINDS = ("existence", "absence", "response", "precedence", "chain_response")


def _strip_union_tags(loc: tuple[Any, ...]) -> tuple[str | int, ...]:
    """Pydantic puts the rule kind (``existence``) into the location of a rule's error: drop it."""
    if len(loc) > 2 and loc[0] == "rules" and loc[2] in _RULE_KINDS:
        return (*loc[:2], *loc[3:])
    return tuple(loc)


def _expected(loc: tuple[str | int, ...]) -> list[str]:
    """The field names the model accepts at ``loc``'s parent (for an unknown key)."""
    from journeylens.maps import model

    by_part: dict[str, type[Any]] = {
        "stages": model.Stage,
        "unplanned": model.UnplannedTouchpoint,
        "kpis": model.Kpi,
        "time_target": model.TimeTarget,
        "costs": model.MapCosts,
        "monitor": model.MonitorSettings,
    }
    target: type[Any] = model.JourneyMap
    for part in loc[:-1]:
        if isinstance(part, str) and part in by_part:
            target = by_part[part]
        elif isinstance(part, str) and part == "rules":
            return ["rule", "activity", "first", "then", "within", "min", "note"]
    return list(target.model_fields)


def _translate(exc: ValidationError, path: Path, root: Node | None) -> MapError:
    first = exc.errors()[0]
    loc = _strip_union_tags(tuple(first["loc"]))
    problem = str(first["msg"]).removeprefix("Value error, ")
    hint = _FIELD_HINTS.get(str(loc[-1]) if loc else "", SCHEMA_HINT)
    cause = (first.get("ctx") or {}).get("error")
    if isinstance(cause, MapProblem):
        loc, problem = (*loc, *cause.loc), cause.problem
        hint = cause.hint or hint
    elif first["type"] == "extra_forbidden":
        name = str(loc[-1])
        allowed = _expected(loc)
        near = close_matches(name, allowed)
        problem = f"unknown field {name!r}; expected one of {', '.join(allowed)}"
        hint = f"Did you mean {', '.join(repr(n) for n in near)}? " if near else SCHEMA_HINT
    elif first["type"] == "missing":
        problem = "is required but missing"
        hint = f"Add `{loc[-1]}:` here. {SCHEMA_HINT}"
    elif first["type"] == "union_tag_invalid":
        problem = "unknown rule kind; expected existence, absence, response, precedence or chain_response"
    elif (
        "input" in first
        and not isinstance(first["input"], (dict, list))
        and repr(first["input"]) not in problem
    ):
        problem = f"{problem} (got {first['input']!r})"
    return MapError(path, _line(root, loc), field_path(loc), problem.rstrip("."), hint)


def _scalar(value: Any) -> bool:
    return value is not None and not isinstance(value, (dict, list))


def parse_map(text: str, path: Path) -> JourneyMap:
    """A map from YAML ``text`` (``path`` names it in errors and gives the default name)."""
    root, data = compose_mapping(
        text, path, MapError, "a map is a YAML mapping (journey_type:, goal:, stages:, ...)",
        f"Start from `journeylens map draft --type TYPE` or docs/maps.md. {SCHEMA_HINT}",
    )  # fmt: skip
    try:
        journey_map = JourneyMap.model_validate(data)
    except ValidationError as exc:
        raise _translate(exc, path, root) from None
    if journey_map.name is None:
        journey_map = journey_map.model_copy(update={"name": _stem(path)})
    return journey_map


def _stem(path: Path) -> str:
    return path.name.removesuffix(path.suffix) if path.suffix in MAP_SUFFIXES else path.name


def load_map(path: str | Path) -> JourneyMap:
    """Read and validate one map file (no workspace checks; see :func:`check_against`)."""
    path = Path(path)
    return parse_map(read_text(path), path)


def check_against(
    journey_map: JourneyMap,
    path: Path,
    rules: JourneyRules | None = None,
    touchpoints: Iterable[str] | None = None,
) -> None:
    """Check a valid map against the workspace: its journey type is one of ``rules.types`` (or
    ``other``), and, when ``touchpoints`` (those in the events) are given, every touchpoint it
    names occurs. Errors point at the line of the offending value."""
    import yaml

    root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader) if path.is_file() else None
    if rules is not None:
        known = [*rules.types, "other"]
        if journey_map.journey_type not in known:
            near = close_matches(journey_map.journey_type, known)
            raise MapError(
                path, _line(root, ("journey_type",)), "journey_type",
                f"journey type {journey_map.journey_type!r} does not exist; "
                f"expected one of {', '.join(known)}",
                (f"Did you mean {', '.join(repr(n) for n in near)}? " if near else "")
                + "Journey types are declared under [journeys.types] in journeylens.toml.",
            )  # fmt: skip
    present = set(touchpoints) if touchpoints is not None else set()
    if not present:
        return
    for loc, name in _named_touchpoints(journey_map):
        if name not in present:
            near = close_matches(name, present)
            raise MapError(
                path, _line(root, loc), field_path(loc), f"touchpoint {name!r} does not occur in the events",
                (f"Did you mean {', '.join(repr(n) for n in near)}? " if near else "")
                + "Name touchpoints as the events do (`journeylens touchpoints` lists them).",
            )  # fmt: skip


def _named_touchpoints(m: JourneyMap) -> list[tuple[tuple[str | int, ...], str]]:
    found: list[tuple[tuple[str | int, ...], str]] = []
    for part, entries in (("stages", m.stages), ("unplanned", m.unplanned)):
        for i, entry in enumerate(entries):
            found += [((part, i, "touchpoints", k), tp) for k, tp in enumerate(entry.touchpoints)]
    stages = {s.name for s in m.stages}
    for j, rule in enumerate(m.rules):
        found += [(("rules", j, f), n) for f, n in rule.names().items() if n not in stages]
    return found


def find_map(root: Path, name_or_path: str) -> Path:
    """A map by name in ``root/maps`` (``purchase`` -> maps/purchase.yaml) or by path."""
    given = Path(name_or_path)
    if given.suffix in MAP_SUFFIXES or given.is_file():
        if not given.is_file():
            raise InputError.file_not_found(str(given))
        return given
    for suffix in MAP_SUFFIXES:
        candidate = root / "maps" / f"{name_or_path}{suffix}"
        if candidate.is_file():
            return candidate
    raise InputError.unknown_map(name_or_path, root / "maps", [_stem(p) for p in map_files(root)])


def workspace_map(root: Path, name_or_path: str | None, rules: JourneyRules | None) -> JourneyMap | None:
    """The map an analysis option names (None for None), found, loaded and checked against the
    workspace's journey types."""
    if name_or_path is None:
        return None
    path = find_map(root, name_or_path)
    journey_map = load_map(path)
    check_against(journey_map, path, rules)
    return journey_map


def map_files(root: Path) -> list[Path]:
    """The map files of the workspace at ``root``, by name."""
    folder = root / "maps"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in MAP_SUFFIXES and p.is_file())


@dataclass(frozen=True)
class MapEntry:
    """One map file of a workspace; ``error`` says why it is not valid (then ``map`` is None)."""

    file: Path
    map: JourneyMap | None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        m = self.map
        return {
            "name": m.name if m is not None else _stem(self.file),
            "journey_type": m.journey_type if m is not None else None,
            "segment": m.segment if m is not None else None,
            "stages": len(m.stages) if m is not None else None,
            "valid": m is not None,
            "file": str(self.file),
            "error": self.error,
        }


def list_maps(root: Path, rules: JourneyRules | None = None) -> list[MapEntry]:
    """Every map file in ``root/maps`` with its map, or the error that makes it invalid."""
    entries = []
    for path in map_files(root):
        try:
            m = load_map(path)
            check_against(m, path, rules)
        except (MapError, InputError) as exc:
            entries.append(MapEntry(path, None, exc.message))
            continue
        entries.append(MapEntry(path, m))
    return entries
