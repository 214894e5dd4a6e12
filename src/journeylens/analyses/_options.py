"""How a spec field appears as a command-line option (and as a workspace-method keyword).

A spec declares this once, on the field itself, with :class:`Cli` in ``Annotated`` metadata; the CLI
commands, the generated workspace methods and docs/cli.md all read it through :func:`options`.
Fields without a :class:`Cli` marker are not options (they keep their default on every surface).

Example (``MapSpec.min_edge_count`` is declared ``Annotated[int, Cli(name="min_count")]``):
    >>> from journeylens.specs.discovery import MapSpec
    >>> [(o.name, o.flag, o.path) for o in options(MapSpec)][-4:-2]
    [('min_count', '--min-count', ('min_edge_count',)), ('min_events', '--min-events', ('min_node_events',))]
"""

from __future__ import annotations

import enum
import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo


@dataclass(frozen=True)
class Cli:
    """Option metadata for one spec field.

    ``name`` is the keyword (and, with dashes, the flag) when it differs from the field name;
    ``argument`` makes it positional; ``input`` is the type users type in (strings that the spec's
    validators parse) when it differs from the field's type; ``expand`` flattens a nested spec
    (the journey filter) into its own options; ``api_type`` overrides the workspace method's
    annotation when Python callers may pass more than the CLI can (a dict for ``where``), and
    ``body`` the REST API's JSON body type when it takes structured values (``where`` objects).
    """

    name: str | None = None
    short: str | None = None
    help: str | None = None
    argument: bool = False
    input: Any = None
    expand: bool = False
    api_type: str | None = None
    body: Any = None


@dataclass(frozen=True)
class Option:
    """One flat option of an analysis: where its value goes in the spec and how it is shown."""

    name: str
    path: tuple[str, ...]
    help: str
    input: Any
    default: Any
    required: bool
    argument: bool
    short: str | None
    api_type: str | None
    body: Any = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def repeatable(self) -> bool:
        return typing.get_origin(_strip_none(self.input)) is list


def cli_marker(info: FieldInfo) -> Cli | None:
    return next((m for m in info.metadata if isinstance(m, Cli)), None)


def options(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> list[Option]:
    """The flat options of ``model`` in declaration order (nested ``expand`` fields inlined)."""
    found: list[Option] = []
    for field_name, info in model.model_fields.items():
        marker = cli_marker(info)
        if marker is None:
            continue
        if marker.expand:
            nested = _strip_none(info.annotation)
            found.extend(options(nested, (*prefix, field_name)))
            continue
        default = None if info.default_factory is not None else info.default
        # Only arguments are required on the command line; a missing required option is reported by
        # the spec, naming the option, like any other invalid value.
        required = info.is_required() and marker.argument
        found.append(
            Option(
                name=marker.name or field_name,
                path=(*prefix, field_name),
                help=marker.help or info.description or "",
                input=marker.input if marker.input is not None else _cli_type(info.annotation),
                default=None if info.is_required() else default,
                required=required,
                argument=marker.argument,
                short=marker.short,
                api_type=marker.api_type,
                body=marker.body,
            )
        )
    return found


def nest(flat: dict[str, Any], opts: list[Option]) -> dict[str, Any]:
    """Flat option values (by option name) → the nested dict the spec validates; values the user
    did not give (None, empty repeatable) are left out so the spec's defaults apply."""
    nested: dict[str, Any] = {}
    for opt in opts:
        value = flat.get(opt.name)
        if value is None or (isinstance(value, (list, tuple)) and not value and not opt.required):
            continue
        if isinstance(value, enum.Enum):
            value = value.value
        target = nested
        for part in opt.path[:-1]:
            target = target.setdefault(part, {})
        target[opt.path[-1]] = value
    return nested


def _strip_none(annotation: Any) -> Any:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _cli_type(annotation: Any) -> Any:
    """The field's type when the CLI can take it as is (scalars, enums, lists of strings)."""
    inner = _strip_none(annotation)
    if inner in (int, float, str, bool) or (isinstance(inner, type) and issubclass(inner, enum.Enum)):
        return inner
    if typing.get_origin(inner) is list and typing.get_args(inner) == (str,):
        return list[str]
    raise TypeError(f"declare Cli(input=...) for a field of type {annotation!r}")
