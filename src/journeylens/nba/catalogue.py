"""The action catalogue of next best action: what the company can do or steer a customer to.

Each action has a name, the touchpoint (and channel) it steers the customer to, and a cost per
use. The catalogue lives in ``journeylens.toml``::

    [nba]
    baseline = "none"
    [[nba.actions]]
    name = "offer_chat"
    touchpoint = "delivery_chat"
    channel = "chat"
    cost = 2.5

or in an actions YAML file (``journeylens nba --actions actions.yaml``) with the same fields under
``actions:``. An action naming a touchpoint that no event has is an error (a typo would otherwise
rank as "no evidence"); the baseline action (doing nothing) needs no touchpoint.

Example:
    >>> settings = NbaSettings(actions=[{"name": "offer_chat", "touchpoint": "delivery_chat"}])
    >>> [a.name for a in settings.actions], settings.baseline
    (['offer_chat'], 'none')
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from journeylens._toml_lines import line_of_key
from journeylens._yaml_lines import YamlFileError, compose, compose_mapping, field_path, line_of, read_text


class Action(BaseModel):
    """One entry of the catalogue."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="Action name, as logged in decisions.action.")
    touchpoint: str | None = Field(None, description="Touchpoint the action steers the customer to.")
    channel: str | None = Field(None, description="Channel of that touchpoint (for the reason text).")
    cost: float = Field(0.0, ge=0, description="Cost of one use, in the workspace's currency.")


class NbaSettings(BaseModel):
    """``[nba]`` in journeylens.toml: the action catalogue and the baseline (no action)."""

    model_config = ConfigDict(extra="forbid")

    actions: list[Action] = Field(default_factory=list, description="The action catalogue.")
    baseline: str = Field("none", description="The action that means doing nothing (uplift is against it).")


class CatalogueError(YamlFileError):
    """An actions file or catalogue that cannot be used."""


class UnknownTouchpointError(CatalogueError):
    """A catalogue action steers to a touchpoint no event has."""


def load_actions(path: Path) -> NbaSettings:
    """The catalogue of an actions YAML file (``actions:`` list, optional ``baseline:``)."""
    root, data = compose_mapping(
        read_text(path), path, CatalogueError, "is not a mapping with an 'actions' list",
        "Write 'actions:' followed by entries with name, touchpoint, channel and cost.",
    )  # fmt: skip
    try:
        return NbaSettings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        raise CatalogueError(
            path, line_of(root, loc), field_path(loc), first["msg"],
            "Each action has name (required), touchpoint, channel and cost (>= 0).",
        ) from None  # fmt: skip


def check_touchpoints(settings: NbaSettings, known: Iterable[str], source: Path | None) -> None:
    """Every action's touchpoint must be one the events have; else a clear error with close matches."""
    names = sorted(set(known))
    for index, action in enumerate(settings.actions):
        if action.touchpoint is None or action.touchpoint in names:
            continue
        close = difflib.get_close_matches(action.touchpoint, names, n=3)
        loc = ("actions", index, "touchpoint")
        raise UnknownTouchpointError(
            source or Path("journeylens.toml"), _line(source, loc), _field(source, loc),
            f"action '{action.name}' steers to touchpoint '{action.touchpoint}', which no event has",
            (f"Did you mean {', '.join(close)}? " if close else "")
            + "Name a touchpoint from `journeylens touchpoints`.",
        )  # fmt: skip
    seen: set[str] = set()
    for index, action in enumerate(settings.actions):
        if action.name in seen:
            loc = ("actions", index, "name")
            raise CatalogueError(
                source or Path("journeylens.toml"), _line(source, loc), _field(source, loc),
                f"action '{action.name}' is listed twice", "Give each action one entry.",
            )  # fmt: skip
        seen.add(action.name)


def _line(source: Path | None, loc: tuple[str | int, ...]) -> int:
    """The line of ``loc`` in the catalogue's file: an actions YAML file, or journeylens.toml, where
    the catalogue is the ``[nba]`` table (0 without a file)."""
    if source is None:
        return 0
    if source.suffix == ".toml":
        return line_of_key(read_text(source), ("nba", *loc))
    return line_of(compose(read_text(source))[0], loc)


def _field(source: Path | None, loc: tuple[str | int, ...]) -> str:
    return field_path(("nba", *loc) if source is not None and source.suffix == ".toml" else loc)
