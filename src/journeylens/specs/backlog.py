"""What ``journeylens backlog`` (and ``ws.backlog``) computes: the spec only.

Example:
    >>> spec = BacklogSpec(rank="value_per_effort", kinds="avoidable contact")
    >>> spec.rank.value, spec.kinds, spec.sources[:2]
    ('value_per_effort', ['avoidable contact'], ['contacts', 'maps'])
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from journeylens.analyses._options import Cli
from journeylens.specs.discovery import split_names

SOURCE_NAMES = ("contacts", "maps", "agents", "themes", "causes")
"""Every finding source, in the order the backlog runs them."""
KIND_NAMES = (
    "friction cause", "map deviation", "missed time target", "avoidable contact", "team performance",
    "negative theme",
)  # fmt: skip


class BacklogRank(StrEnum):
    """How the backlog is ordered."""

    money = "money"
    value_per_effort = "value_per_effort"


class BacklogSpec(BaseModel):
    """Every finding as a candidate opportunity sized in money per year, ranked, with the team's
    backlog.yaml (effort, status, decision) joined by id."""

    model_config = ConfigDict(extra="forbid")

    rank: Annotated[
        BacklogRank, Cli(help="money (per year, default) or value_per_effort (backlog.yaml).")
    ] = Field(BacklogRank.money, description="Order of the backlog.")
    sources: Annotated[
        list[str],
        Cli(
            name="source",
            help="Finding sources to run (repeatable or comma-separated): "
            + ", ".join(SOURCE_NAMES)
            + " (default: all).",
            api_type="str | list[str] | None",
        ),
    ] = Field(default_factory=lambda: list(SOURCE_NAMES), description="Finding sources.")
    kinds: Annotated[
        list[str],
        Cli(
            name="kind",
            help="Only these kinds (repeatable or comma-separated): " + ", ".join(KIND_NAMES) + ".",
            api_type="str | list[str] | None",
        ),
    ] = Field(default_factory=list, description="Kinds of opportunity to keep (default: all).")
    limit: Annotated[int, Cli(help="At most this many opportunities.")] = Field(
        50, ge=1, description="Most opportunities listed."
    )
    plan: Annotated[
        str | None, Cli(help="The team's backlog file (default: backlog.yaml in the workspace).")
    ] = Field(None, description="Path of backlog.yaml.")
    markdown: Annotated[str | None, Cli(help="Also write the roadmap table as Markdown to this file.")] = (
        Field(None, description="Markdown roadmap file to write.")
    )

    @field_validator("sources", mode="before")
    @classmethod
    def _sources(cls, value: Any) -> Any:
        picked = split_names(value, SOURCE_NAMES, "source")
        return [s for s in SOURCE_NAMES if s in picked] or list(SOURCE_NAMES)

    @field_validator("kinds", mode="before")
    @classmethod
    def _kinds(cls, value: Any) -> Any:
        spaced = [name.replace("_", " ") for name in split_names(value)]
        return [k for k in KIND_NAMES if k in split_names(spaced, KIND_NAMES, "kind")]
