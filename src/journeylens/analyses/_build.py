"""Flat option values → a validated spec; a refusal becomes one ``Option --flag 'value': problem``.

This is the one translator from pydantic's ``ValidationError`` to a message that names the
command-line option at fault, used by every analysis and by ``journeylens ingest``.

Example:
    >>> from journeylens.specs.discovery import MapSpec
    >>> validate(MapSpec, {"type": "purchase", "min_count": 2}, "dfg").filter.journey_type
    ['purchase']
    >>> try:
    ...     validate(MapSpec, {"min_count": 0}, "dfg")
    ... except InputError as exc:
    ...     print(exc.message)
    Option --min-count '0': Input should be greater than or equal to 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from journeylens.analyses._options import Option, options
from journeylens.analyses._options import nest as nest_values
from journeylens.errors import InputError

if TYPE_CHECKING:
    from journeylens.analyses import Analysis

SpecT = TypeVar("SpecT", bound=BaseModel)


def validate(model: type[SpecT], values: Mapping[str, Any], command: str) -> SpecT:
    """Validate flat option values (keyed by option name) into ``model``."""
    opts = options(model)
    try:
        return model.model_validate(nest_values(dict(values), opts))
    except ValidationError as exc:
        flags = {opt.path: opt for opt in opts}
        raise option_error(exc, lambda loc: _option_at(flags, loc), values, command) from None


def build_spec(analysis: Analysis, values: Mapping[str, Any]) -> BaseModel:
    """The spec of ``analysis`` from flat option values (its ``prepare`` function when it has one)."""
    from journeylens.analyses import load

    if analysis.prepare is not None:
        spec: BaseModel = load(analysis.prepare)(dict(values))
        return spec
    return validate(load(analysis.spec), values, analysis.name)


def option_error(exc: ValidationError, option_at: Any, values: Mapping[str, Any], command: str) -> InputError:
    """The first problem of ``exc`` as ``Option --flag 'value': problem.``, with a hint.

    ``option_at(loc)`` returns ``(flag, name)`` for the error location, or None when the problem
    is not about one option (then the message says which request was invalid).
    """
    first = exc.errors()[0]
    problem = str(first["msg"]).removeprefix("Value error, ").rstrip(".")
    hint = f"See `journeylens {command} --help`."
    found = option_at(tuple(str(p) for p in first["loc"]))
    if found is None:
        return InputError(f"Invalid {command} request: {problem}.", hint=hint)
    flag, name = found
    value = values.get(name)
    shown = ", ".join(str(v) for v in value) if isinstance(value, (list, tuple)) else str(value)
    return InputError.bad_flag(flag, shown, problem + ".", hint=hint)


def _option_at(flags: Mapping[tuple[str, ...], Option], loc: tuple[str, ...]) -> tuple[str, str] | None:
    for length in range(len(loc), 0, -1):
        opt = flags.get(loc[:length])
        if opt is not None:
            return (opt.name.upper() if opt.argument else opt.flag), opt.name
    return None
