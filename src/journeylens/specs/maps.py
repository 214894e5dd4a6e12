"""What ``journeylens map show`` (and ``ws.map_show``) computes: the spec only, without the engine.

Example:
    >>> spec = MapShowSpec(map="purchase", format="mermaid")
    >>> spec.map, spec.format.value, spec.out
    ('purchase', 'mermaid', None)
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from journeylens.analyses._options import Cli
from journeylens.specs.discovery import FilterField, JourneyFilter


class MapShowFormat(StrEnum):
    """What ``map show`` draws: the HTML page, a Mermaid ``journey``, a Graphviz DOT stage map, or
    the per-stage numbers as JSON."""

    html = "html"
    mermaid = "mermaid"
    dot = "dot"
    json = "json"


STDOUT = "-"


class MapShowSpec(BaseModel):
    """Which map to draw with data, for which journeys, in which format and where.

    The map names its journey type and segment; the journey filter narrows its journeys further
    (a period, an outcome, a channel used). ``--type``/``--segment`` may repeat the map's own.
    """

    model_config = ConfigDict(extra="forbid")

    map: Annotated[str, Cli(argument=True, help="A map name in maps/ (purchase) or a YAML file.")] = Field(
        description="The map to draw."
    )
    format: Annotated[
        MapShowFormat, Cli(short="-f", help="html (a self-contained page), mermaid, dot or json.")
    ] = Field(MapShowFormat.html, description="What to draw.")
    out: Annotated[
        Path | None,
        Cli(
            input=str | None,
            help="File to write; '-' for standard output. Default: HTML to WORKSPACE/maps/MAP.html, "
            "the other formats to standard output.",
        ),
    ] = Field(None, description="Where to write (None: the format's default).")
    filter: FilterField = Field(default_factory=JourneyFilter, description="Which of the map's journeys.")

    @field_validator("out", mode="before")
    @classmethod
    def _blank_is_default(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def to_stdout(self) -> bool:
        """Print instead of writing a file."""
        if self.out is not None:
            return str(self.out) == STDOUT
        return self.format is not MapShowFormat.html
