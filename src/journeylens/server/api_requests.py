"""What each REST endpoint accepts, generated from the analysis registry: its path, its query
parameters and its JSON body, all from the options the spec declares (``Cli`` markers), so the
CLI, the Python API and HTTP take the same options and build the same spec.

The request models only carry the options to the spec: their types are the CLI's input types
(strings the spec's validators parse), query parameters are read leniently as URL text is
(``limit=5``; ``limit=false`` is refused, never coerced), the JSON body strictly (``{"limit": 5}``,
not ``"5"`` or ``false``), and an unknown option is refused in both. The spec then validates the
values exactly as for the CLI (:func:`journeylens.analyses._build.build_spec`).

Analyses fall in four kinds, each handled here explicitly:

* most run on the store and answer: served as they are;
* one required single-valued argument (the map of ``map check``, the customer key, the experiment
  name) is a path segment: ``/api/v1/map/check/{map}``;
* options that name a file on the server (``attribution --paths``, ``backlog --plan``, ``--out``)
  are refused over HTTP (:data:`LOCAL_FILES`), and ``map show`` always answers instead of writing
  (:data:`FIXED`);
* commands whose whole job is writing a file (:data:`NOT_SERVED`) have no endpoint.

Example:
    >>> from journeylens.analyses import ANALYSES
    >>> endpoint_path(ANALYSES["map check"])
    '/api/v1/map/check/{map}'
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from journeylens.analyses import ANALYSES, Analysis
from journeylens.analyses._options import Option, _strip_none
from journeylens.cli._commands import command_options

__all__ = [
    "API_PREFIX",
    "FIXED",
    "LOCAL_FILES",
    "NOT_SERVED",
    "PAGE_LIMIT",
    "PAGE_OFFSET",
    "body_model",
    "endpoint_path",
    "path_options",
    "query_model",
    "request_options",
    "served",
    "spec_values",
]

API_PREFIX = "/api/v1"
PAGE_OFFSET = "page_offset"
PAGE_LIMIT = "page_limit"

NOT_SERVED: dict[str, str] = {
    "export xes": "it writes an XES file; run `journeylens export xes FILE` where the file should go",
    "feedback export": "it writes a file of every feedback row; run `journeylens feedback export FILE`",
}
"""Analyses without an endpoint, and why: their only output is a file written where they run."""

LOCAL_FILES: dict[str, tuple[str, ...]] = {
    "attribution": ("paths",),
    "backlog": ("plan", "markdown"),
    "nba": ("actions",),
    "map draft": ("out",),
    "map show": ("out",),
}
"""Options naming a file on the server (read or written): refused over HTTP with a problem."""

FIXED: dict[str, dict[str, Any]] = {"map show": {"out": "-"}}
"""Option values the API sets itself: ``map show`` answers with the drawing, never writes one."""


def served() -> list[Analysis]:
    """The analyses with an endpoint, in registry order."""
    return [a for name, a in ANALYSES.items() if name not in NOT_SERVED]


def path_options(analysis: Analysis) -> list[Option]:
    """The options that are path segments: required, single-valued arguments."""
    return [o for o in command_options(analysis) if o.argument and o.required and not o.repeatable]


def endpoint_path(analysis: Analysis) -> str:
    """``/api/v1/`` + the command path with ``/`` for spaces, then one segment per path option."""
    segments = [*analysis.name.split(" "), *("{" + o.name + "}" for o in path_options(analysis))]
    return API_PREFIX + "/" + "/".join(segments)


def request_options(analysis: Analysis) -> list[Option]:
    """The options a request carries besides its path: all but path segments, local files and
    values the API fixes."""
    skip = {o.name for o in path_options(analysis)}
    skip |= set(LOCAL_FILES.get(analysis.name, ())) | set(FIXED.get(analysis.name, {}))
    return [o for o in command_options(analysis) if o.name not in skip]


def _plain_default(opt: Option) -> Any:
    return opt.default.value if isinstance(opt.default, enum.Enum) else opt.default


def _field(opt: Option, *, strict: bool) -> tuple[Any, Any]:
    inner = opt.body if strict and opt.body is not None else _strip_none(opt.input)
    if strict and isinstance(inner, type) and issubclass(inner, enum.Enum):
        # A strict model takes an enum member only; JSON sends its value.
        inner = Literal[tuple(m.value for m in inner)]
    kind = inner if opt.required else inner | None
    if opt.required:
        return kind, Field(description=opt.help)
    # The lenient model keeps enum members (its type); the strict one their values (its Literal).
    return kind, Field(_plain_default(opt) if strict else opt.default, description=opt.help)


def _title(analysis: Analysis, part: str) -> str:
    return "".join(word.capitalize() for word in analysis.method.split("_")) + part


def query_model(analysis: Analysis) -> type[BaseModel]:
    """The query parameters of ``GET``: the options (read from URL text), then pagination."""
    fields: dict[str, Any] = {o.name: _field(o, strict=False) for o in request_options(analysis)}
    assert PAGE_OFFSET not in fields and PAGE_LIMIT not in fields, analysis.name
    fields[PAGE_OFFSET] = (int, Field(0, ge=0, description="Pagination: rows to skip (list answers)."))
    fields[PAGE_LIMIT] = (
        int | None,
        Field(None, ge=1, description="Pagination: at most this many rows (list answers; default all)."),
    )
    config = ConfigDict(extra="forbid")
    model: type[BaseModel] = create_model(_title(analysis, "Query"), __config__=config, **fields)
    return model


def body_model(analysis: Analysis) -> type[BaseModel]:
    """The JSON body of ``POST``: the same options, typed strictly."""
    fields: dict[str, Any] = {o.name: _field(o, strict=True) for o in request_options(analysis)}
    config = ConfigDict(extra="forbid", strict=True)
    model: type[BaseModel] = create_model(_title(analysis, "Request"), __config__=config, **fields)
    return model


def spec_values(analysis: Analysis, given: Mapping[str, Any]) -> dict[str, Any]:
    """The flat option values the CLI would pass for ``given`` (request options and path segments):
    enum inputs as their members, the API's fixed values added, pagination left out."""
    values: dict[str, Any] = {}
    for opt in command_options(analysis):
        if opt.name not in given:
            continue
        value = given[opt.name]
        inner = _strip_none(opt.input)
        if value is not None and isinstance(inner, type) and issubclass(inner, enum.Enum):
            value = inner(value)
        values[opt.name] = value
    values.update(FIXED.get(analysis.name, {}))
    return values
