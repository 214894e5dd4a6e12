"""YAML read with its line numbers, shared by every "as code" file (journey maps, the theme
taxonomy): errors then name the line that holds the offending value.

PyYAML composes the document into nodes that keep their line; a pydantic error location
(``stages -> 2 -> time_target -> duration``) is walked down those nodes to the line that holds
the value.

Example:
    >>> root, data = compose("themes:\\n  - name: billing\\n    owner: money\\n")
    >>> line_of(root, ("themes", 0, "owner")), field_path(("themes", 0, "owner"))
    (3, 'themes[0].owner')
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from journeylens.errors import ConfigError, InputError

if TYPE_CHECKING:
    from pathlib import Path

    from yaml import Node

__all__ = [
    "YAML_HINT", "YamlFileError", "YamlSyntaxError", "compose", "compose_mapping", "field_path", "line_of",
    "read_text",
]  # fmt: skip

YAML_HINT = "Check indentation (spaces, not tabs); quote values that contain ': ' or start with *, & or #."


class YamlFileError(ConfigError):
    """An "as code" file that cannot be used: ``path``, ``line`` (1-based, 0 when unknown) and
    ``field`` (``stages[2].time_target.duration``) say where."""

    def __init__(self, path: Path, line: int, field: str, problem: str, hint: str) -> None:
        where = f"{path}, line {line}" if line else str(path)
        super().__init__(f"{where}: field '{field}': {problem}" if field else f"{where}: {problem}", hint)
        self.path, self.line, self.field, self.problem = path, line, field, problem


class YamlSyntaxError(ValueError):
    """Text that is not YAML: ``line`` (1-based, 0 when unknown) and what the parser said."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(problem)
        self.line, self.problem = line, problem


def read_text(path: Path) -> str:
    """A YAML file's text, or the input error that says why it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError.file_not_found(str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError.unreadable(str(path), f"cannot be read: {exc}", "Save it as UTF-8 text.") from None


def compose(text: str) -> tuple[Node | None, Any]:
    """The node tree (with lines) and the plain data of a YAML document."""
    import yaml

    try:
        return yaml.compose(text, Loader=yaml.SafeLoader), yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        raise YamlSyntaxError(line, f"not valid YAML: {getattr(exc, 'problem', None) or exc}") from None


def compose_mapping(
    text: str, path: Path, error: type[YamlFileError], expected: str, hint: str
) -> tuple[Node | None, dict[str, Any]]:
    """Like :func:`compose`, for a document that must be a mapping: else ``error`` saying it is
    not YAML, or that it is ``expected`` (with ``hint``)."""
    try:
        root, data = compose(text)
    except YamlSyntaxError as exc:
        raise error(path, exc.line, "", exc.problem, YAML_HINT) from None
    if not isinstance(data, dict):
        raise error(path, 1 if root is not None else 0, "", expected, hint)
    return root, data


def field_path(loc: Iterable[str | int]) -> str:
    """``("stages", 2, "name")`` -> ``"stages[2].name"``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def node_at(root: Node | None, loc: tuple[str | int, ...]) -> Node | None:
    """The deepest YAML node on the way to ``loc`` (a key's node when the value is missing)."""
    import yaml

    node = root
    for depth, part in enumerate(loc, 1):
        if isinstance(node, yaml.MappingNode):
            found = next(((k, v) for k, v in node.value if k.value == part), None)
            if found is None:
                return node
            key, value = found
            # The field itself: its value when that is written on the key's line, else the key's
            # line (a block below it, or an empty value).
            if depth == len(loc) and value.start_mark.line != key.start_mark.line:
                return key
            node = value
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            return node
    return node


def line_of(root: Node | None, loc: tuple[str | int, ...]) -> int:
    """The 1-based line of the value at ``loc`` (0 when the document is empty)."""
    node = node_at(root, loc)
    return node.start_mark.line + 1 if node is not None else 0
